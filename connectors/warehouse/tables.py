"""The published warehouse tables, declared once (SQLAlchemy Core).

Every published table carries ``region`` (the Kemendagri kab/kota code of the run that wrote
it). A run publishes in one transaction: it replaces its region's current-state tables
(``REPLACED``) and adds to the history tables (snapshots loaded, their records, changes,
runs). Tables holding raw identifiers live in the ``restricted`` schema: the standardised
records of every snapshot, the raw lines of quarantined rows, and a run's working tables
(``restricted.stg_*``). Analysts' roles cannot read that schema (connectors/warehouse/roles.py).
"""

from __future__ import annotations

import sqlalchemy as sa

from connectors.schema import FIELDS

metadata = sa.MetaData()
#: The schema of tables holding raw identifiers (NIK, KK, raw lines): engineers only.
RESTRICTED = "restricted"

resident = sa.Table(
    "resident",
    metadata,
    sa.Column("resident_id", sa.String, primary_key=True, comment="padu's ID for the person"),
    sa.Column("region", sa.String, nullable=False, comment="kab/kota of the run, 63.09"),
    sa.Column("display_name", sa.String, comment="name from the most authoritative source"),
    sa.Column("name_source", sa.String, comment="source of display_name"),
    sa.Column("name_titles", sa.String, comment="titles of that name (H., S.PD., ...)"),
    sa.Column("birth_date", sa.Date),
    sa.Column("birth_date_source", sa.String),
    sa.Column("sex", sa.String(1), comment="M or F"),
    sa.Column("sex_source", sa.String),
    sa.Column("kab_code", sa.String, comment="registered kab/kota (Kemendagri)"),
    sa.Column("kec_code", sa.String, comment="registered kecamatan (Kemendagri)"),
    sa.Column("desa_code", sa.String, comment="registered desa/kelurahan (Kemendagri)"),
    sa.Column("registered_source", sa.String, comment="source of the registered address"),
    sa.Column("domicile_desa_code", sa.String, comment="desa where BPS found the person"),
    sa.Column("tps", sa.String, comment="polling station on the voter list (KPU)"),
    sa.Column("alive", sa.Boolean, comment="false when the civil registry records a death"),
    sa.Column("nik_pseudonym", sa.String, comment="keyed pseudonym of the NIK, never the NIK"),
    sa.Column("in_dukcapil", sa.Boolean, nullable=False),
    sa.Column("in_kpu", sa.Boolean, nullable=False),
    sa.Column("in_bps", sa.Boolean, nullable=False),
    sa.Column("sources", sa.String, nullable=False, comment="e.g. dukcapil,kpu"),
    sa.Column("source_rows", sa.Integer, nullable=False, comment="rows linked to the resident"),
    sa.Column("run_id", sa.String, nullable=False),
)

resident_link = sa.Table(
    "resident_link",
    metadata,
    sa.Column("source", sa.String, nullable=False, comment="dukcapil, kpu or bps"),
    sa.Column("source_file", sa.String, primary_key=True),
    sa.Column("source_row", sa.Integer, primary_key=True, comment="1-based data row"),
    sa.Column("resident_id", sa.String, nullable=False, index=True),
    sa.Column("link_method", sa.String, nullable=False, comment="how the row was linked"),
    sa.Column("link_score", sa.Float, comment="match probability of the row's strongest link"),
    sa.Column(
        "record_key", sa.String, comment="keyed pseudonym of the record, stable across snapshots"
    ),  # fmt: skip
    sa.Column("region", sa.String, nullable=False),
    sa.Column("run_id", sa.String, nullable=False),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("source", sa.String, nullable=False),
    sa.Column("source_file", sa.String, primary_key=True),
    sa.Column("source_row", sa.Integer, primary_key=True),
    sa.Column("reason", sa.String, nullable=False),
    sa.Column("region", sa.String, nullable=False),
    sa.Column("run_id", sa.String, nullable=False),
    comment="Rows that could not be read as records, with the reason (the raw line is in "
    "restricted.quarantine_line).",
)

quarantine_line = sa.Table(
    "quarantine_line",
    metadata,
    sa.Column("source_file", sa.String, primary_key=True),
    sa.Column("source_row", sa.Integer, primary_key=True),
    sa.Column("raw_line", sa.String, comment="the row as read; may hold identifiers"),
    sa.Column("region", sa.String, nullable=False),
    schema=RESTRICTED,
    comment="Restricted: the raw text of each quarantined row, for engineers fixing a source.",
)

load_audit = sa.Table(
    "load_audit",
    metadata,
    sa.Column("source", sa.String, nullable=False),
    sa.Column("source_file", sa.String, primary_key=True),
    sa.Column("region", sa.String, nullable=False),
    sa.Column("snapshot_date", sa.Date, nullable=False),
    sa.Column("checksum", sa.String, nullable=False, comment="sha256 of the file"),
    sa.Column("encoding", sa.String),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("rows_loaded", sa.Integer, nullable=False),
    sa.Column("rows_quarantined", sa.Integer, nullable=False),
    sa.Column("file_issues", sa.String, comment="problems with the file as a whole"),
    sa.Column("loaded_at", sa.DateTime, nullable=False),
    sa.Column("run_id", sa.String, nullable=False, comment="the run that loaded the file"),
    sa.Column(
        "current",
        sa.Boolean,
        nullable=False,
        comment="the file is its source's current snapshot for the region",
    ),
    sa.Column(
        "purged_at", sa.DateTime, comment="when padu purge removed the file's records (retention)"
    ),
    sa.Column("origin", sa.String, comment="folder (delivered), database or http (pulled)"),
    sa.Column("origin_source", sa.String, comment="pulled from: the URL, without password"),
    sa.Column("origin_fingerprint", sa.String, comment="sha256 of the query run, or of the file"),
    sa.Column("origin_rows", sa.Integer, comment="rows the source returned"),
    sa.Column(
        "origin_snapshot_at", sa.DateTime, comment="the source's time of the snapshot"
    ),  # fmt: skip
    comment="Every file ever loaded, kept across snapshots; a file whose checksum is here is "
    "not loaded again.",
)

_SA_TYPES = {"string": sa.String, "int64": sa.BigInteger, "Int64": sa.BigInteger,
             "boolean": sa.Boolean, "datetime64[ns]": sa.Date}  # fmt: skip

source_record = sa.Table(
    "source_record",
    metadata,
    *(
        sa.Column(f.name, _SA_TYPES[f.dtype], primary_key=f.name in ("source_file", "source_row"),
                  comment=f.doc)
        for f in FIELDS
    ),
    sa.Column("record_key", sa.String, comment="keyed pseudonym of the record"),
    sa.Column("row_hash", sa.BigInteger, nullable=False, comment="hash of the record's content"),
    sa.Column("region", sa.String, nullable=False),
    schema=RESTRICTED,
    comment="Restricted (raw identifiers): the standardised records of every snapshot loaded; "
    "load_audit.current tells the current one.",
)  # fmt: skip

source_change = sa.Table(
    "source_change",
    metadata,
    sa.Column("region", sa.String, nullable=False),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("change", sa.String, nullable=False, comment="added, removed or changed"),
    sa.Column("record_key", sa.String, nullable=False),
    sa.Column("changed_fields", sa.String, comment="fields that differ (names, no values)"),
    sa.Column("source_file", sa.String, comment="the new snapshot (null when removed)"),
    sa.Column("source_row", sa.Integer),
    sa.Column("previous_file", sa.String, comment="the superseded snapshot (null when added)"),
    sa.Column("previous_row", sa.Integer),
    sa.Column("run_id", sa.String, nullable=False),
    comment="Append-only: per source record, what changed from one snapshot to the next.",
)

run_audit = sa.Table(
    "run_audit",
    metadata,
    sa.Column("run_id", sa.String, nullable=False, index=True),
    sa.Column("region", sa.String),
    sa.Column("started_by", sa.String, comment="schedule, sensor, padu run, or a user"),
    sa.Column("started_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime, nullable=False),
    sa.Column("duration_seconds", sa.Float),
    sa.Column("status", sa.String, nullable=False, comment="success or failed"),
    sa.Column("inputs", sa.String, comment="file: sha256 of every input"),
    sa.Column(
        "input_fingerprint",
        sa.String,
        comment="sha256 of everything the results depend on (files, decisions, settings, code)",
    ),  # fmt: skip
    sa.Column("outputs", sa.String, comment="row counts published, as JSON"),
    sa.Column("message", sa.String, comment="why the run failed"),
    comment="Append-only: one row per finished run.",
)

refused_file = sa.Table(
    "refused_file",
    metadata,
    sa.Column("source", sa.String, nullable=False),
    sa.Column("source_file", sa.String, nullable=False, comment="the file refused"),
    sa.Column("region", sa.String, nullable=False),
    sa.Column("snapshot_date", sa.Date, comment="the refused file's snapshot date"),
    sa.Column("checksum", sa.String, nullable=False, comment="sha256 of the refused file"),
    sa.Column("reason", sa.String, nullable=False, comment="why it was not loaded"),
    sa.Column("current_file", sa.String, nullable=False, comment="the snapshot used instead"),
    sa.Column("stale_since", sa.Date, nullable=False, comment="that snapshot's date"),
    sa.Column("run_id", sa.String, nullable=False, index=True),
    sa.Column("refused_at", sa.DateTime, nullable=False),
    comment="Append-only: each newest file a run refused (unreadable, or far fewer rows than "
    "the current snapshot), while the run published with the source's current snapshot.",
)

place = sa.Table(
    "place",
    metadata,
    sa.Column("region", sa.String, nullable=False, primary_key=True),
    sa.Column("code", sa.String, nullable=False, primary_key=True,
              comment="Kemendagri code of the kecamatan (63.09.01) or desa (63.09.01.2001)"),
    sa.Column("level", sa.String, nullable=False, comment="kecamatan or desa"),
    sa.Column("name", sa.String, nullable=False, comment="the name in the region reference"),
    sa.Column("kec_code", sa.String, nullable=False, comment="the kecamatan it is in (itself)"),
    comment="Replaced per region: the names of the region's kecamatan and desa, from padu's "
    "region reference, for the statisticians' views.",
)  # fmt: skip

review_queue = sa.Table(
    "review_queue",
    metadata,
    sa.Column("left_source", sa.String, nullable=False),
    sa.Column("left_file", sa.String, nullable=False),
    sa.Column("left_row", sa.Integer, nullable=False),
    sa.Column("right_source", sa.String, nullable=False),
    sa.Column("right_file", sa.String, nullable=False),
    sa.Column("right_row", sa.Integer, nullable=False),
    sa.Column("left_key", sa.String, nullable=False, comment="record_key of the left row"),
    sa.Column("right_key", sa.String, nullable=False),
    sa.Column("match_probability", sa.Float, nullable=False),
    sa.Column("match_weight", sa.Float, nullable=False),
    sa.Column("explanation", sa.String, comment="each field's weight, strongest first"),
    sa.Column("region", sa.String, nullable=False),
    sa.Column("run_id", sa.String, nullable=False),
)

review_decision = sa.Table(
    "review_decision",
    metadata,
    sa.Column("left_key", sa.String, primary_key=True),
    sa.Column("right_key", sa.String, primary_key=True),
    sa.Column("decision", sa.String, nullable=False,
              comment="match or no_match (applied by every run), or unsure (not applied)"),
    sa.Column("left_file", sa.String, comment="where the reviewer saw the pair"),
    sa.Column("left_row", sa.Integer),
    sa.Column("right_file", sa.String),
    sa.Column("right_row", sa.Integer),
    sa.Column("decided_by", sa.String, nullable=False),
    sa.Column("decided_at", sa.DateTime, nullable=False),
    sa.Column("note", sa.String, comment="the reviewer's note, free text"),
    comment="Clerical decisions; kept across runs and applied by every later run.",
)  # fmt: skip

resident_history = sa.Table(
    "resident_history",
    metadata,
    sa.Column("region", sa.String, nullable=False),
    sa.Column("run_id", sa.String, nullable=False),
    sa.Column("resident_id", sa.String, nullable=False, index=True),
    sa.Column("event", sa.String, nullable=False, comment="new, merged, split, retired or changed"),
    sa.Column("related_id", sa.String, comment="merged into / split from this resident"),
    sa.Column("details", sa.String, comment="changed: the attributes that changed"),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
    comment="Append-only: how residents changed from run to run.",
)

discrepancy = sa.Table(
    "discrepancy",
    metadata,
    sa.Column("kind", sa.String, nullable=False, comment="voter_deceased, nik_conflict, ..."),
    sa.Column("resident_id", sa.String, nullable=False, index=True),
    sa.Column("source_rows", sa.String, comment="file:row;file:row of the rows involved"),
    sa.Column("details", sa.String, comment="what was found, without raw identifiers"),
    sa.Column("reference_date", sa.Date, nullable=False),
    sa.Column("region", sa.String, nullable=False),
    sa.Column("run_id", sa.String, nullable=False),
    comment="The auditor's list: one row per finding.",
)

cross_region_link = sa.Table(
    "cross_region_link",
    metadata,
    sa.Column("resident_id", sa.String, primary_key=True,
              comment="a resident seen in `region` without a civil-registry record there"),
    sa.Column("region", sa.String, nullable=False, comment="kab/kota where the resident was seen"),
    sa.Column("registry_resident_id", sa.String, nullable=False, index=True,
              comment="the resident holding the civil-registry record"),
    sa.Column("registry_region", sa.String, nullable=False,
              comment="kab/kota of the civil-registry record"),
    sa.Column("method", sa.String, nullable=False, comment="nik, nik_near or name_birth_date"),
    sa.Column("run_id", sa.String, nullable=False, comment="the cross-region pass that found it"),
    comment="Residents seen in one kab/kota (voter list, BPS) and registered in another; "
    "replaced by every cross-region pass.",
)  # fmt: skip

quality_result = sa.Table(
    "quality_result",
    metadata,
    sa.Column("run_id", sa.String, nullable=False),
    sa.Column("region", sa.String, nullable=False),
    sa.Column("suite", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False, comment="passed, warning or failed"),
    sa.Column("rows", sa.Integer),
    sa.Column("failed_blocking", sa.String),
    sa.Column("warnings", sa.String),
    sa.Column("data_docs", sa.String, comment="Data Docs index the results are in"),
    sa.Column("checked_at", sa.DateTime, nullable=False),
    comment="Append-only: each data-quality suite's verdict per run.",
)

access_log = sa.Table(
    "access_log",
    metadata,
    sa.Column("accessed_at", sa.DateTime, nullable=False),
    sa.Column("accessed_by", sa.String, nullable=False,
              comment="the database role or signed-in user shown the fields"),
    sa.Column("record_key", sa.String, nullable=False, index=True,
              comment="keyed pseudonym of the record shown, never its NIK"),
    sa.Column("region", sa.String, comment="kab/kota of the record"),
    sa.Column("purpose", sa.String, nullable=False,
              comment="where the fields were shown: review, resident, quality"),
    comment="Append-only: every display of a record's personal fields (who, which record, "
    "when), as the personal-data law expects of high-risk processing.",
)  # fmt: skip

quality_sample = sa.Table(
    "quality_sample",
    metadata,
    sa.Column("sample_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("region", sa.String, nullable=False, index=True),
    sa.Column("drawn_at", sa.DateTime, nullable=False),
    sa.Column("drawn_by", sa.String, comment="who drew it (padu quality sample --by)"),
    sa.Column("seed", sa.Integer, nullable=False, comment="the random draw, to repeat it"),
    sa.Column("size", sa.Integer, nullable=False, comment="items asked for"),
    sa.Column("match_probability", sa.Float, nullable=False,
              comment="the engine's link threshold, a band edge"),
    sa.Column("run_id", sa.String, comment="the region's published run the pairs are of"),
    comment="Clerical quality samples: a stratified random sample of a region's candidate "
    "pairs, labelled by reviewers to estimate precision and recall (padu quality). The "
    "region's newest sample is the one estimated.",
)  # fmt: skip

quality_stratum = sa.Table(
    "quality_stratum",
    metadata,
    sa.Column("sample_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("stratum", sa.String, primary_key=True,
              comment="source pair | linked or not | probability band"),
    sa.Column("source_pair", sa.String, nullable=False, comment="dukcapil-kpu, kpu-kpu, ..."),
    sa.Column("linked", sa.Boolean, nullable=False, comment="its pairs are in one resident"),
    sa.Column("band", sa.String, nullable=False,
              comment="match probability band, not compared, or unlinked record"),
    sa.Column("population", sa.Integer, nullable=False, comment="pairs (or records) in it, N_h"),
    sa.Column("sampled", sa.Integer, nullable=False, comment="items drawn from it, n_h"),
    sa.Column("inclusion", sa.Float, nullable=False, comment="n_h / N_h"),
    comment="The strata of each quality sample, with their sizes: what its labels stand for.",
)  # fmt: skip

quality_item = sa.Table(
    "quality_item",
    metadata,
    sa.Column("item_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sample_id", sa.Integer, nullable=False, index=True),
    sa.Column("region", sa.String, nullable=False),
    sa.Column("stratum", sa.String, nullable=False),
    sa.Column("source_pair", sa.String, nullable=False),
    sa.Column("linked", sa.Boolean, nullable=False, comment="padu put both rows in one resident"),
    sa.Column("probability", sa.Float, comment="the engine's match probability; null if unscored"),
    sa.Column("left_source", sa.String, nullable=False),
    sa.Column("left_key", sa.String, nullable=False, comment="record_key of the left row"),
    sa.Column("left_file", sa.String, comment="where the row was when the sample was drawn"),
    sa.Column("left_row", sa.Integer),
    sa.Column("right_source", sa.String),
    sa.Column("right_key", sa.String, comment="null: the left record had no candidate at all"),
    sa.Column("right_file", sa.String),
    sa.Column("right_row", sa.Integer),
    sa.Column("inclusion", sa.Float, nullable=False, comment="probability it was drawn"),
    sa.Column("label", sa.String, comment="match, no_match or unsure; null until labelled"),
    sa.Column("note", sa.String, comment="the reviewer's note"),
    sa.Column("decided_by", sa.String),
    sa.Column("decided_at", sa.DateTime),
    comment="The items of each quality sample (pairs of record keys, never a NIK) and their "
    "labels: a review queue of its own, apart from review_queue.",
)  # fmt: skip

linkage_blocking = sa.Table(
    "linkage_blocking",
    metadata,
    sa.Column("region", sa.String, primary_key=True),
    sa.Column("rule", sa.String, primary_key=True,
              comment="the blocking rule (matching.blocking), or second_pass"),
    sa.Column("rule_order", sa.Integer, nullable=False, comment="the order the rules ran in"),
    sa.Column("blocks", sa.Integer, nullable=False, comment="blocks of two or more records"),
    sa.Column("candidate_pairs", sa.Integer, nullable=False, comment="distinct pairs it found"),
    sa.Column("new_pairs", sa.Integer, nullable=False,
              comment="of those, pairs no earlier rule found: the rows add up to the pairs scored"),
    sa.Column("capped_blocks", sa.Integer, nullable=False,
              comment="blocks too large to pair, skipped"),
    sa.Column("capped_records", sa.Integer, nullable=False, comment="records in those blocks"),
    sa.Column("match_pairs", sa.Integer, nullable=False,
              comment="of its pairs, those at or above the match probability"),
    sa.Column("review_pairs", sa.Integer, nullable=False,
              comment="of its pairs, those in the review band (below the match probability)"),
    sa.Column("match_probability", sa.Float, nullable=False, comment="the engine's link level"),
    sa.Column("review_probability", sa.Float, nullable=False,
              comment="the lower edge of the review band"),
    sa.Column("run_id", sa.String, nullable=False),
    comment="Replaced per region: the candidate pairs each blocking rule produced in the "
    "region's latest run, and how many of them the model scored as matches or for review. "
    "Counts only, no personal data.",
)  # fmt: skip

PUBLISHED = (
    resident, resident_link, quarantine, quarantine_line, load_audit, review_queue,
    resident_history, discrepancy, source_record, source_change, run_audit, refused_file, place,
    linkage_blocking,
)  # fmt: skip
#: Published tables a run replaces its region's rows of; the others keep history and are
#: added to (rows of a file are written once, when the file is first loaded).
REPLACED = frozenset(
    {"resident", "resident_link", "review_queue", "discrepancy", "place", "linkage_blocking"}
)
#: Tables holding the rows of one loaded file (written when the file is first loaded).
PER_FILE = ("load_audit", "restricted.source_record", "quarantine", "restricted.quarantine_line")
