"""The warehouse side of rotating the pseudonym key (``pipelines.rekey``): reading the keyed
values it holds, and replacing old keys by new ones everywhere in one transaction."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from connectors.schema import COLUMNS
from connectors.warehouse import state
from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import RESTRICTED, review_decision, source_record

_KEY_MAP = f"{RESTRICTED}.rekey_record_key"
_NIK_MAP = f"{RESTRICTED}.rekey_nik_pseudonym"
#: Tables and columns holding record keys.
_RECORD_KEY_COLUMNS = (
    ("resident_link", "record_key"), ("review_queue", "left_key"), ("review_queue", "right_key"),
    ("source_change", "record_key"), (source_record.fullname, "record_key"),
    ("quality_item", "left_key"), ("quality_item", "right_key"), ("access_log", "record_key"),
)  # fmt: skip


def stored_files(store: Warehouse) -> pd.DataFrame:
    """``source_file``, ``region`` of every file whose records are kept."""
    store.create_tables()
    return store.query(f"SELECT DISTINCT source_file, region FROM {source_record.fullname}")


def keyed_records(store: Warehouse, source_file: str, region: str) -> pd.DataFrame:
    """A kept file's records with the record key stored for each, in row order."""
    return state.stored_records(store, region, source_file, [*COLUMNS, "record_key"])


def stored_niks(store: Warehouse) -> pd.Series:
    """Every distinct NIK of the kept records."""
    return store.query(f"SELECT DISTINCT nik FROM {source_record.fullname} WHERE nik IS NOT NULL")[
        "nik"
    ]


def replace_keys(
    store: Warehouse, keys: pd.DataFrame, niks: pd.DataFrame, decisions: pd.DataFrame
) -> None:
    """In one transaction: every record key ``keys.old_key`` becomes ``keys.new_key``, every
    NIK pseudonym ``niks.old_value`` becomes ``niks.new_value``, and the review decisions are
    replaced by ``decisions``."""
    with store.transaction() as conn:
        store.replace_table(_KEY_MAP, keys.astype("string"), conn)
        store.replace_table(_NIK_MAP, niks.astype("string"), conn)
        for table, column in _RECORD_KEY_COLUMNS:
            conn.execute(sa.text(
                f"UPDATE {table} SET {column} = m.new_key FROM {_KEY_MAP} m "
                f"WHERE {table}.{column} = m.old_key"
            ))  # fmt: skip
        conn.execute(sa.text(
            f"UPDATE resident SET nik_pseudonym = m.new_value FROM {_NIK_MAP} m "
            "WHERE resident.nik_pseudonym = m.old_value"
        ))  # fmt: skip
        conn.execute(sa.delete(review_decision))
        if len(decisions):
            rows = decisions.astype(object).where(decisions.notna(), None)
            conn.execute(sa.insert(review_decision), rows.to_dict("records"))
        conn.execute(sa.text(f"DROP TABLE {_KEY_MAP}"))
        conn.execute(sa.text(f"DROP TABLE {_NIK_MAP}"))
