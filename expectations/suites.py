"""The data-quality suites: which rules each table must meet, built in code.

A suite here is plain data (``SuiteSpec``): the frame to validate and its rules. The frame
holds only what the rules need: derived boolean columns computed in pandas (``nik_structure_ok``,
``nik_date_matches``, ...) and code-list columns (sex, marital status, ...). Identifiers (NIK,
KK) never enter it, so no identifier can reach a validation result or the Data Docs whatever
the result format; and a narrow frame is what keeps Great Expectations fast on a million rows.
``expectations.runner`` turns a spec into a Great Expectations suite and runs it.

Severity: a *blocking* rule guards data that must not flow on (a broken key, a NIK column that
is not NIKs, links to residents that do not exist); a *warning* rule reports a rate an auditor
should look at (NIK dates that differ from birth dates, coverage between sources).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from connectors.schema import MARITAL_STATUSES, Source
from expectations import nik as nik_rules
from expectations.rules import (
    Rule,
    Severity,
    SuiteSpec,
    between,
    birth_date_plausible,
    boolean,
    codes_known,
    completed_years,
    in_set,
    is_true,
    percent,
)
from expectations.settings import DEFAULT_SETTINGS, QualitySettings
from matching.results import LINK_METHODS

SEXES = ("M", "F")
RELIGIONS = tuple(range(1, 8))  # Disdukcapil AGAMA 1-7
DISABILITIES = tuple(range(0, 7))  # KPU DISABILITAS 0-6
OCCUPATION_RANGE = (1, 89)  # Disdukcapil JENIS_PKRJN
SOURCES = tuple(s.value for s in Source)

_RECORD_COLUMNS = (
    "source", "source_file", "source_row", "snapshot_date", "nik", "sex", "birth_date",
    "age_reported", "marital_status", "religion", "occupation", "alive", "desa_code",
    "disability",
)  # fmt: skip


def records_suite(
    records: pd.DataFrame, source: str | Source, settings: QualitySettings = DEFAULT_SETTINGS
) -> SuiteSpec:
    """Rules for one source's standardised records (the canonical frame filtered by source;
    rows of other sources in ``records`` are left out)."""
    source = Source(source).value
    needed = [c for c in _RECORD_COLUMNS if c in records.columns]
    rows = records.loc[records["source"] == source, needed].reset_index(drop=True)
    data = _record_columns(rows, settings)
    rules = _record_rules(source, settings)
    if source == Source.DUKCAPIL.value:
        rules += _registry_rules(rows, data)
    if source == Source.KPU.value:
        rules += _voter_list_rules(rows, data)
    notes = {"rows": len(rows), "rows_with_nik": int(rows["nik"].notna().sum())}
    return SuiteSpec(f"records_{source}", data, tuple(rules), notes)


def _record_columns(rows: pd.DataFrame, settings: QualitySettings) -> pd.DataFrame:
    """The derived columns every source's records are validated on (no identifiers)."""
    provinces, kecamatan, desa = nik_rules.reference_codes()
    provinces = provinces | frozenset(settings.extra_province_codes)

    decoded = nik_rules.decode(rows["nik"])
    structure = nik_rules.structure_ok(decoded, provinces)
    region = nik_rules.region_known(decoded, kecamatan)
    region[structure.ne(True).fillna(True).to_numpy()] = pd.NA
    matches = nik_rules.date_matches(decoded, rows["birth_date"], rows["sex"], structure)
    return pd.DataFrame(
        {
            "row_key_unique": ~rows.duplicated(["source_file", "source_row"], keep=False),
            "nik_structure_ok": structure,
            "nik_region_known": region,
            "nik_date_matches": matches,
            "desa_code_known": codes_known(rows["desa_code"], desa),
            "birth_date_plausible": birth_date_plausible(
                rows["birth_date"], rows["snapshot_date"], settings
            ),
            "age_plausible": _age_plausible(rows, settings),
            "sex": rows["sex"].astype("string"),
            "marital_status": rows["marital_status"].astype("string"),
        }
    )


def _age_plausible(rows: pd.DataFrame, settings: QualitySettings) -> pd.Series:
    """Living persons at most ``max_age`` on the snapshot day (the reported age where there is
    no birth date); null for the dead and where no age is known."""
    age = completed_years(rows["birth_date"], rows["snapshot_date"]).fillna(rows["age_reported"])
    living = rows["alive"].ne(False).fillna(True).to_numpy(dtype=bool)
    return boolean(
        age.between(0, settings.max_age).fillna(False).to_numpy(dtype=bool),
        age.notna().to_numpy() & living,
    )


def _record_rules(source: str, settings: QualitySettings) -> list[Rule]:
    """The rules every source's records meet: the lineage key, NIKs, codes and dates."""
    B, W = Severity.BLOCKING, Severity.WARNING
    mismatch = settings.nik_date_mismatch_for(source)
    return [
        is_true("row_key_unique", "row_key_unique", B,
                "Each (source_file, source_row) appears once: the lineage key is unique."),
        is_true("nik_structure", "nik_structure_ok", B,
                "Usable NIKs follow the structure rules: 16 digits, known province, kab and kec "
                "not 00, a calendar day (+40 for women), month 01-12, serial not 0000 "
                f"(at least {percent(settings.nik_structure_min_share)}).",
                settings.nik_structure_min_share),
        is_true("nik_region_known", "nik_region_known", W,
                "The kecamatan a NIK was issued in exists in today's reference table (old NIKs "
                "keep pre-split codes; at most "
                f"{percent(settings.nik_region_unknown_max_share)} unknown).",
                1 - settings.nik_region_unknown_max_share),
        is_true("nik_date_matches", "nik_date_matches", W,
                "The birth date and sex encoded in the NIK agree with the record's (a NIK is "
                f"not reissued when a birth date is corrected; at most {percent(mismatch)} "
                "differ).",
                1 - mismatch),
        is_true("desa_code_known", "desa_code_known", B,
                "Kemendagri desa codes exist in the reference table (at least "
                f"{percent(settings.desa_code_known_min_share)}).",
                settings.desa_code_known_min_share),
        is_true("birth_date_plausible", "birth_date_plausible", B,
                f"Birth dates lie between {settings.earliest_birth_date.isoformat()} and the "
                f"snapshot day (at least {percent(settings.birth_date_plausible_min_share)}).",
                settings.birth_date_plausible_min_share),
        is_true("age_plausible", "age_plausible", W,
                f"Living persons are at most {settings.max_age} years old on the snapshot day "
                f"(at most {percent(settings.implausible_age_max_share)} older: unreported "
                "deaths).",
                1 - settings.implausible_age_max_share),
        in_set("sex_code", "sex", SEXES, B, "Sex is M or F."),
        in_set("marital_status_code", "marital_status", MARITAL_STATUSES, B,
               "Marital status is one of " + ", ".join(MARITAL_STATUSES) + "."),
    ]  # fmt: skip


def _registry_rules(rows: pd.DataFrame, data: pd.DataFrame) -> list[Rule]:
    """Disdukcapil's records only: religion and occupation codes, and every row alive or
    deceased; the columns they validate are added to ``data``."""
    B = Severity.BLOCKING
    data["religion"] = rows["religion"].astype("float64")
    data["occupation"] = rows["occupation"].astype("float64")
    data["alive_known"] = rows["alive"].notna().to_numpy()
    return [
        in_set("religion_code", "religion", RELIGIONS, B, "Religion (AGAMA) is 1-7."),
        between("occupation_code", "occupation", *OCCUPATION_RANGE, B,
                "Occupation (JENIS_PKRJN) is a code 1-89."),
        is_true("alive_known", "alive_known", B, "Every registry row says alive or deceased."),
    ]  # fmt: skip


def _voter_list_rules(rows: pd.DataFrame, data: pd.DataFrame) -> list[Rule]:
    """KPU's records only: the disability code; its column is added to ``data``."""
    data["disability"] = rows["disability"].astype("float64")
    return [
        in_set(
            "disability_code", "disability", DISABILITIES, Severity.BLOCKING, "Disability is 0-6."
        )
    ]


def resident_suite(
    residents: pd.DataFrame,
    linked_resident_ids: Iterable[str] | pd.Series | None = None,
    settings: QualitySettings = DEFAULT_SETTINGS,
    *,
    snapshot: pd.Timestamp | None = None,
) -> SuiteSpec:
    """Rules for the published ``resident`` table. ``linked_resident_ids`` (the
    ``resident_link.resident_id`` column), when given, adds "every resident has a link"."""
    rows = residents.reset_index(drop=True)
    _, _, desa = nik_rules.reference_codes()
    latest = pd.Series(snapshot or pd.Timestamp.today().normalize(), index=rows.index)
    in_any = rows["in_dukcapil"].fillna(False) | rows["in_kpu"].fillna(False)
    in_any = in_any | rows["in_bps"].fillna(False)
    data = pd.DataFrame(
        {
            "resident_id": rows["resident_id"].astype("string"),
            "sex": rows["sex"].astype("string"),
            "birth_date_plausible": birth_date_plausible(rows["birth_date"], latest, settings),
            "desa_code_known": codes_known(rows["desa_code"], desa),
            "domicile_desa_code_known": codes_known(rows["domicile_desa_code"], desa),
            "in_some_source": in_any.astype(bool).to_numpy(),
            "source_rows": rows["source_rows"].astype("float64"),
        }
    )
    B = Severity.BLOCKING
    rules = [
        Rule("resident_id_not_null", "ExpectColumnValuesToNotBeNull", {"column": "resident_id"},
             B, "Every resident has an ID."),
        Rule("resident_id_unique", "ExpectColumnValuesToBeUnique", {"column": "resident_id"},
             B, "Resident IDs are unique: one row per resident."),
        in_set("sex_code", "sex", SEXES, B, "Sex is M or F."),
        is_true("birth_date_plausible", "birth_date_plausible", B,
                f"Birth dates lie between {settings.earliest_birth_date.isoformat()} and the "
                f"snapshot day (at least {percent(settings.birth_date_plausible_min_share)}).",
                settings.birth_date_plausible_min_share),
        is_true("desa_code_known", "desa_code_known", B,
                "Registered desa codes exist in the reference table (at least "
                f"{percent(settings.desa_code_known_min_share)}).",
                settings.desa_code_known_min_share),
        is_true("domicile_desa_code_known", "domicile_desa_code_known", B,
                "Domicile desa codes exist in the reference table (at least "
                f"{percent(settings.desa_code_known_min_share)}).",
                settings.desa_code_known_min_share),
        is_true("in_some_source", "in_some_source", B, "Every resident is held by a source."),
        between("source_rows", "source_rows", 1, None, B,
                "Every resident stands on at least one source row."),
    ]  # fmt: skip
    if linked_resident_ids is not None:
        linked = pd.Index(pd.Series(linked_resident_ids).dropna().unique())
        data["has_links"] = rows["resident_id"].isin(linked).to_numpy()
        rules.append(
            is_true("has_links", "has_links", B,
                    "Every resident appears in resident_link (traceable to source rows).")
        )  # fmt: skip
    return SuiteSpec("resident", data, tuple(rules), {"rows": len(rows)})


def resident_link_suite(
    links: pd.DataFrame,
    resident_ids: Iterable[str] | pd.Series,
    settings: QualitySettings = DEFAULT_SETTINGS,
    *,
    link_methods: Iterable[str] | None = None,
) -> SuiteSpec:
    """Rules for the published ``resident_link`` table; ``resident_ids`` are the IDs of the
    ``resident`` table it must point into. ``link_methods``: the methods the linker may write
    (default ``matching.results.LINK_METHODS``)."""
    methods = tuple(LINK_METHODS if link_methods is None else link_methods)
    rows = links.reset_index(drop=True)
    known = pd.Index(pd.Series(resident_ids).dropna().unique())
    ids = rows["resident_id"].astype("string")
    data = pd.DataFrame(
        {
            "resident_id_present": ids.notna().to_numpy(),
            "resident_known": boolean(ids.isin(known).fillna(False), ids.notna()),
            "row_key_unique": ~rows.duplicated(["source_file", "source_row"], keep=False),
            "source": rows["source"].astype("string"),
            "link_method": rows["link_method"].astype("string"),
            "link_score": rows["link_score"].astype("float64"),
        }
    )
    B = Severity.BLOCKING
    rules = (
        is_true("resident_id_not_null", "resident_id_present", B,
                "Every loaded source row belongs to a resident."),
        is_true("resident_known", "resident_known", B,
                "Every link points to a resident of the resident table (set membership)."),
        is_true("row_key_unique", "row_key_unique", B,
                "Each (source_file, source_row) is linked once."),
        in_set("source", "source", SOURCES, B, "Source is dukcapil, kpu or bps."),
        in_set("link_method", "link_method", methods, B,
               "Link method is one of " + ", ".join(methods) + "."),
        between("link_score", "link_score", 0, 100, B, "Link scores lie between 0 and 100."),
    )  # fmt: skip
    return SuiteSpec("resident_link", data, rules, {"rows": len(rows), "residents": len(known)})


def coverage_frame(
    records: pd.DataFrame, settings: QualitySettings = DEFAULT_SETTINGS
) -> pd.DataFrame:
    """Per kecamatan (Kemendagri ``kec_code``): living registry persons and adults, KPU voters,
    BPS persons, and the two coverage ratios (null where the kecamatan is too small to judge).

    Registry and KPU rows count where the person is registered, BPS rows where the person was
    found, as each source records them.
    """
    source = records["source"]
    kec = records["kec_code"].astype("string")
    registry = (source == "dukcapil") & records["alive"].ne(False).fillna(True)
    age = completed_years(records["birth_date"], records["snapshot_date"])
    adult = registry & (age >= settings.voting_age).fillna(False)
    counts = pd.DataFrame(
        {
            "registry_persons": kec[registry].value_counts(),
            "registry_adults": kec[adult].value_counts(),
            "kpu_voters": kec[source == "kpu"].value_counts(),
            "bps_persons": kec[source == "bps"].value_counts(),
        }
    )
    counts = counts.fillna(0).astype("int64").sort_index()
    counts.index.name = "kec_code"
    judged = counts["registry_persons"] >= settings.coverage_min_registry_persons
    adults = counts["registry_adults"].where(counts["registry_adults"] > 0)
    counts["kpu_per_dukcapil_adult"] = (counts["kpu_voters"] / adults).where(judged)
    persons = counts["registry_persons"].where(counts["registry_persons"] > 0)
    counts["bps_per_dukcapil"] = (counts["bps_persons"] / persons).where(judged)
    return counts.reset_index()


def coverage_suite(
    records: pd.DataFrame, settings: QualitySettings = DEFAULT_SETTINGS
) -> SuiteSpec:
    """Coverage ratios between the sources per kecamatan, within configurable bounds."""
    frame = coverage_frame(records, settings)
    data = frame[["kpu_per_dukcapil_adult", "bps_per_dukcapil"]].astype("float64")
    kpu, bps = settings.kpu_per_dukcapil_adult, settings.bps_per_dukcapil
    share = settings.coverage_min_kec_share
    judged = (
        f"kecamatan with at least {settings.coverage_min_registry_persons} living registry persons"
    )
    W = Severity.WARNING
    rules = (
        between("kpu_per_dukcapil_adult", "kpu_per_dukcapil_adult", kpu.min, kpu.max, W,
                f"KPU voters per living Disdukcapil adult ({settings.voting_age}+) lie between "
                f"{kpu.min:g} and {kpu.max:g} in {percent(share)} of {judged}.", share),
        between("bps_per_dukcapil", "bps_per_dukcapil", bps.min, bps.max, W,
                f"BPS persons per living Disdukcapil person lie between {bps.min:g} and "
                f"{bps.max:g} in {percent(share)} of {judged}.", share),
    )  # fmt: skip
    notes = {
        "kecamatan": len(frame),
        "kecamatan_judged": int(frame["bps_per_dukcapil"].notna().sum()),
    }
    return SuiteSpec("coverage", data, rules, notes)


def all_suites(
    records: pd.DataFrame,
    residents: pd.DataFrame,
    links: pd.DataFrame,
    settings: QualitySettings = DEFAULT_SETTINGS,
) -> list[SuiteSpec]:
    """Every suite of a run: one per source present, resident, resident_link, coverage."""
    present = [s for s in SOURCES if (records["source"] == s).any()]
    snapshot = pd.to_datetime(records["snapshot_date"]).max() if len(records) else None
    return [
        *(records_suite(records, s, settings) for s in present),
        resident_suite(residents, links["resident_id"], settings, snapshot=snapshot),
        resident_link_suite(links, residents["resident_id"], settings),
        coverage_suite(records, settings),
    ]
