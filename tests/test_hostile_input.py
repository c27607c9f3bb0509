"""Hostile and broken input: nothing crashes a run, every row is accounted for, and a file
that cannot be read fails its own asset only.

Property-based tests (Hypothesis) feed the connectors random bytes and random rows; the rest
are the cases of the security review: a binary file named .csv, a 10 MB field, formula-like
cells, unicode and spaces in paths, a file that changes while it is read."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from conftest import (
    BPS_HEADER,
    BUDI,
    DUKCAPIL_HEADER,
    KPU_HEADER,
    SITI,
    delimited,
    dukcapil_row,
    write_text,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.agencies import FORMATS, extract
from connectors.agencies.extract import ExtractError, FileChangedError
from connectors.reference.regions import kabupaten
from connectors.schema import Source, conform

SNAPSHOT = date(2026, 11, 1)
TABALONG = kabupaten("6309")
NAMES = {Source.DUKCAPIL: "dukcapil_6309_20261101.csv", Source.KPU: "kpu_dpt_6309_20261101.csv",
         Source.BPS: "bps_regsosek_6309_20261101.csv"}  # fmt: skip
HEADERS = {Source.DUKCAPIL: (DUKCAPIL_HEADER, "|"), Source.KPU: (KPU_HEADER, ","),
           Source.BPS: (BPS_HEADER, ",")}  # fmt: skip
PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


def _read_and_standardise(source: Source, data: bytes) -> None:
    """Read ``data`` as ``source``'s extract: it is refused as a whole with ExtractError, or
    every row is loaded or quarantined and every loaded row becomes one record."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / NAMES[source]
        path.write_bytes(data)
        try:
            raw = FORMATS[source].read(path, None)
        except ExtractError as err:
            assert NAMES[source] in str(err)
            return
        assert len(raw.readable) + len(raw.quarantined) == raw.rows_read
        assert list(raw.rows["source_row"]) == list(range(1, raw.rows_read + 1))
        records = conform(FORMATS[source].standardise(raw, SNAPSHOT, TABALONG))
        assert len(records) == len(raw.readable)
        assert records["source_row"].tolist() == raw.readable["source_row"].tolist()


@PROPERTY
@given(source=st.sampled_from(list(Source)), data=st.binary(max_size=2000))
def test_random_bytes_never_crash(source, data):
    _read_and_standardise(source, data)


_cell = st.one_of(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"])
        | st.sampled_from(["|", ",", '"', "\n", "\r", "\x00", " ", "0", "1", "-", "/"]),
        max_size=30,
    ),
    st.sampled_from(["6309013112850001", "6.30901E+15", "31-12-1985", "=cmd|'/C calc'!A0"]),
)


@PROPERTY
@given(
    source=st.sampled_from(list(Source)),
    rows=st.lists(st.lists(_cell, min_size=0, max_size=25), max_size=20),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
)
def test_random_rows_under_a_valid_header_are_all_accounted_for(source, rows, encoding):
    header, delimiter = HEADERS[source]
    text = delimited(header, rows, delimiter)
    _read_and_standardise(source, text.encode(encoding, errors="replace"))


def test_binary_file_named_csv_is_refused_with_the_file_named(tmp_path):
    path = tmp_path / NAMES[Source.DUKCAPIL]
    path.write_bytes(bytes(range(256)) * 400)
    with pytest.raises(ExtractError, match=NAMES[Source.DUKCAPIL]):
        FORMATS[Source.DUKCAPIL].read(path, None)


def test_a_10_mb_field_quarantines_its_row_only(tmp_path):
    huge = dukcapil_row(BUDI, NAMA_LGKP="A" * 10_000_000)
    path = write_text(
        tmp_path / NAMES[Source.DUKCAPIL],
        delimited(DUKCAPIL_HEADER, [dukcapil_row(SITI), huge, dukcapil_row(SITI)], "|"),
    )
    raw = FORMATS[Source.DUKCAPIL].read(path, None)
    assert raw.rows_read == 3 and list(raw.quarantined["source_row"]) == [2]
    assert raw.quarantined["quarantine_reason"].iloc[0].startswith("a field longer than")
    assert len(raw.quarantined["raw_line"].iloc[0]) < 20_000  # kept, but not whole


def test_a_file_that_changes_while_read_is_not_loaded(tmp_path, monkeypatch):
    path = write_text(
        tmp_path / NAMES[Source.DUKCAPIL],
        delimited(DUKCAPIL_HEADER, [dukcapil_row(BUDI), dukcapil_row(SITI)], "|"),
    )
    original = extract._physical_lines

    def growing(file, line_break):  # type: ignore[no-untyped-def]
        for number, line in enumerate(original(file, line_break)):
            if number == 1:  # the delivery is still being written
                with file.open("a", encoding="utf-8") as handle:
                    handle.write("|".join(dukcapil_row(SITI)) + "\n")
            yield line

    monkeypatch.setattr(extract, "_physical_lines", growing)
    with pytest.raises(FileChangedError, match="changed while it was read"):
        FORMATS[Source.DUKCAPIL].read(path, None)


def test_hostile_region_in_a_folder_with_spaces_and_unicode(tmp_path, generated):
    """Formula-like names, a 10 MB field and a binary voter list in 'kantör data/ländïng'.

    The binary voter list fails its own asset; the registry and BPS assets still complete."""
    from pipelines.definitions import ALL_ASSETS, ALL_CHECKS, build_resources

    landing = tmp_path / "kantör data" / "ländïng ü"
    generated(landing, region="6309", people=200, seed=3)
    registry = next(landing.glob("dukcapil_*.csv"))
    frame = pd.read_csv(registry, sep="|", dtype=str, keep_default_na=False)
    frame.loc[0, "NAMA_LGKP"] = "=cmd|' /C calc'!A0"
    frame.loc[1, "ALAMAT"] = "@SUM(A1:A9)"
    frame.loc[2, "NAMA_LGKP"] = "X" * 10_000_000
    frame.to_csv(registry, sep="|", index=False)
    voters = next(landing.glob("kpu_dpt_*.csv"))
    voters.write_bytes(bytes(range(256)) * 1000)
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    resources = build_resources(landing=str(landing), warehouse_url=url)
    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS], resources=resources, partition_key="6309",
        raise_on_error=False,
    )  # fmt: skip
    assert not result.success
    done = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"dukcapil_raw", "dukcapil_records", "bps_raw", "bps_records"} <= done
    assert "kpu_raw" not in done and "resident" not in done
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "kpu_raw" and voters.name in failure.step_failure_data.error.message
