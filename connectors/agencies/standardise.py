"""Steps every agency connector shares when turning text rows into canonical records."""

from __future__ import annotations

from datetime import date

import pandas as pd

from connectors.agencies.extract import RawExtract
from connectors.agencies.values import IssueLog, map_codes, parse_dates, parse_int, upper_text
from connectors.schema import Source, conform
from matching.names import normalise_names
from matching.nik import PLACEHOLDER_NIKS, clean_identifier


def base_frame(raw: RawExtract, source: Source, snapshot: date) -> pd.DataFrame:
    """Lineage columns for the readable rows of ``raw``."""
    rows = raw.readable
    return pd.DataFrame(
        {
            "source": pd.Series(source.value, index=rows.index, dtype="string"),
            "source_file": pd.Series(raw.path.name, index=rows.index, dtype="string"),
            "source_row": rows["source_row"].astype("int64"),
            "snapshot_date": pd.Series(pd.Timestamp(snapshot), index=rows.index),
        }
    )


def add_identifiers(out: pd.DataFrame, nik: pd.Series, kk: pd.Series | None) -> None:
    """Clean NIK and KK into 16-digit text or null with a reason (never the value)."""
    cleaned = clean_identifier(nik, placeholders=PLACEHOLDER_NIKS)
    out["nik"] = cleaned["value"]
    out["nik_issue"] = cleaned["issue"]
    if kk is not None:
        cleaned_kk = clean_identifier(kk)
        out["kk"] = cleaned_kk["value"]
        out["kk_issue"] = cleaned_kk["issue"]


def add_name(out: pd.DataFrame, raw_name: pd.Series) -> None:
    names = normalise_names(raw_name)
    out["name_raw"] = raw_name.astype("string")
    out["name_norm"] = names["name_norm"]
    out["name_titles"] = names["name_titles"]


def add_birth_date(out: pd.DataFrame, values: pd.Series, snapshot: date, issues: IssueLog) -> None:
    parsed, bad = parse_dates(values, reference=snapshot)
    future = parsed > pd.Timestamp(snapshot)
    issues.add(bad, "birth_date_unparseable")
    issues.add(future, "birth_date_after_snapshot")
    out["birth_date"] = parsed.mask(future)


def finish(out: pd.DataFrame, issues: IssueLog) -> pd.DataFrame:
    out["issues"] = issues.column()
    return conform(out).reset_index(drop=True)


def add_codes(
    out: pd.DataFrame,
    rows: pd.DataFrame,
    issues: IssueLog,
    columns: dict[str, tuple[str, dict[str, str]]],
) -> None:
    """Translate code-list columns present in ``rows``: {column: (target, codes)}."""
    for column, (target, codes) in columns.items():
        if column in rows:
            out[target], bad = map_codes(rows[column], codes)
            issues.add(bad, f"{target}_unknown_code")


def add_integers(
    out: pd.DataFrame, rows: pd.DataFrame, issues: IssueLog, columns: dict[str, str]
) -> None:
    """Parse integer columns present in ``rows``: {column: target}."""
    for column, target in columns.items():
        if column in rows:
            out[target], bad = parse_int(rows[column])
            issues.add(bad, f"{target}_not_a_number")


def add_texts(out: pd.DataFrame, rows: pd.DataFrame, columns: dict[str, str]) -> None:
    """Upper-case free-text columns present in ``rows``: {column: target}."""
    for column, target in columns.items():
        if column in rows:
            out[target] = upper_text(rows[column])
