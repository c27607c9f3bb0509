"""The warehouse on both backends: embedded DuckDB and the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pandas as pd
import pytest
from conftest import postgres_database

from connectors.reference.regions import kabupaten, places_of
from connectors.warehouse.bulk import Staged
from connectors.warehouse.engine import Warehouse


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def warehouse(request, tmp_path) -> Iterator[Warehouse]:
    if request.param == "duckdb":
        store = Warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
        yield store
        store.dispose()
    else:
        for url in postgres_database():
            store = Warehouse(url)
            yield store
            store.dispose()


def _resident(region: str, ids: list[str]) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "resident_id": ids,
            "region": region,
            "display_name": pd.array(
                ['BUDI "B", SANTOSO\nJR', None][:n] + ["X"] * (n - 2), dtype="string"
            ),
            "name_titles": pd.array([None] * n, dtype="string"),
            "birth_date": pd.to_datetime(["1985-12-31"] * n),
            "sex": "M",
            "kab_code": "63.09",
            "kec_code": "63.09.01",
            "desa_code": "63.09.01.2001",
            "domicile_desa_code": pd.array([None] * n, dtype="string"),
            "alive": pd.array([True, None][:n] + [False] * (n - 2), dtype="boolean"),
            "nik_pseudonym": "abc",
            "in_dukcapil": True,
            "in_kpu": False,
            "in_bps": True,
            "sources": "dukcapil,bps",
            "source_rows": 2,
            "run_id": "run-1",
        }
    )


def test_staging_round_trip_keeps_values_and_nulls(warehouse):
    frame = pd.DataFrame(
        {
            "text": pd.array(['a,b "c"\nd', None, ""], dtype="string"),
            "number": pd.array([1, None, 3], dtype="Int64"),
            "flag": pd.array([True, None, False], dtype="boolean"),
            "when": pd.to_datetime(["2026-11-01", None, "1950-01-31"]),
        }
    )
    warehouse.replace_table("stg_example", frame)
    back = warehouse.read_table("stg_example")
    assert list(back["text"].astype("string").fillna("<null>")) == ['a,b "c"\nd', "<null>", ""]
    assert list(back["number"].astype("Int64").fillna(-1)) == [1, -1, 3]
    assert list(back["flag"].astype("boolean").fillna(False)) == [True, False, False]
    assert pd.isna(back["when"][1]) and pd.Timestamp(back["when"][2]) == pd.Timestamp("1950-01-31")
    warehouse.replace_table("stg_example", frame.iloc[:1])
    assert len(warehouse.read_table("stg_example")) == 1


def test_publish_replaces_only_its_region(warehouse):
    warehouse.publish("63.09", {"resident": _resident("63.09", ["R1", "R2"])})
    warehouse.publish("19.71", {"resident": _resident("19.71", ["R9"])})
    warehouse.publish("63.09", {"resident": _resident("63.09", ["R3", "R4", "R5"])})
    got = warehouse.query("SELECT region, resident_id FROM resident ORDER BY resident_id")
    assert list(got["resident_id"]) == ["R3", "R4", "R5", "R9"]
    name = warehouse.scalar("SELECT display_name FROM resident WHERE resident_id = 'R3'")
    assert name == 'BUDI "B", SANTOSO\nJR'


def test_failed_publish_leaves_the_previous_state(warehouse):
    warehouse.publish("63.09", {"resident": _resident("63.09", ["R1", "R2"])})
    broken = _resident("63.09", ["R7", "R7"])  # duplicate primary key: the insert fails
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error type
        warehouse.publish("63.09", {"resident": _resident("63.09", ["R6"]), "quarantine": broken})
    with pytest.raises(Exception):  # noqa: B017
        warehouse.publish("63.09", {"resident": broken})
    got = warehouse.query("SELECT resident_id FROM resident ORDER BY resident_id")
    assert list(got["resident_id"]) == ["R1", "R2"]


def test_unsupported_backend_is_refused():
    with pytest.raises(ValueError, match="unsupported warehouse backend"):
        Warehouse("sqlite:///x.db")


def test_statistician_views(warehouse):
    residents = _resident("63.09", ["R1", "R2", "R3"])
    residents["alive"] = pd.array([True, None, False], dtype="boolean")
    residents["in_kpu"] = [True, False, True]
    residents["sources"] = ["dukcapil,kpu", "dukcapil,bps", "dukcapil,kpu"]
    residents["birth_date"] = pd.to_datetime(["1985-12-31", "2020-06-01", "1950-01-01"])
    findings = pd.DataFrame(
        {"kind": ["voter_deceased"], "resident_id": ["R3"], "source_rows": ["a.csv:1"],
         "details": ["x"], "reference_date": pd.to_datetime(["2026-11-01"]),
         "region": ["63.09"], "run_id": ["run-1"]}
    )  # fmt: skip
    places = places_of(kabupaten("6309")).assign(region="63.09")
    warehouse.publish("63.09", {"resident": residents, "discrepancy": findings, "place": places})
    population = warehouse.query(
        "SELECT age_group, residents, in_kpu FROM v_population_by_desa ORDER BY age_group"
    )
    assert population["residents"].sum() == 2  # the dead are not population
    today = date.today()

    def group(born: date) -> str:
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        return f"{age // 5 * 5:02d}-{age // 5 * 5 + 4:02d}"

    assert set(population["age_group"]) == {group(date(1985, 12, 31)), group(date(2020, 6, 1))}
    coverage = warehouse.query("SELECT * FROM v_coverage_by_kecamatan")
    row = coverage.iloc[0]
    assert (row["residents"], row["dukcapil_and_kpu_only"], row["dukcapil_and_bps_only"]) == (
        2,
        1,
        1,
    )
    quality = warehouse.query("SELECT * FROM v_voter_list_quality_by_kecamatan").iloc[0]
    assert (quality["voters"], quality["voter_deceased"]) == (2, 1)
    for view in ("v_population_by_desa", "v_coverage_by_kecamatan",
                 "v_voter_list_quality_by_kecamatan"):  # fmt: skip
        frame = warehouse.query(f"SELECT * FROM {view}")
        codes = ["region", "desa_code", "desa_name", "kec_code", "kec_name", "sex", "age_group"]
        counts = frame.drop(columns=codes, errors="ignore")
        assert all(pd.api.types.is_integer_dtype(t) for t in counts.dtypes), (view, counts.dtypes)
        # Codes come with the names of the region reference.
        kec = places.set_index("code")["name"]
        assert (frame["kec_name"] == frame["kec_code"].map(kec)).all(), view
        assert frame["kec_name"].notna().all(), view
    desa = warehouse.query("SELECT DISTINCT desa_code, desa_name FROM v_population_by_desa")
    assert desa.to_dict("records") == [
        {
            "desa_code": "63.09.01.2001",
            "desa_name": places.set_index("code")["name"]["63.09.01.2001"],
        }
    ]


def _every_column(residents: pd.DataFrame) -> pd.DataFrame:
    """``residents`` with the columns ``_resident`` leaves out (a working table has them all)."""
    n = len(residents)
    missing = ("name_source", "birth_date_source", "sex_source", "registered_source", "tps")
    return residents.assign(**{c: pd.array(["x", None, ""][:n] + ["y"] * (n - 3),
                                            dtype="string") for c in missing})  # fmt: skip


def test_staged_rows_are_published_as_their_frame_would_be(warehouse):
    """Rows of a working table, whatever types pandas gave it (dates as text, integers as
    floats or text), are published with the published columns' types: as the frame was."""
    frame = _every_column(_resident("63.09", ["R1", "R2", "R3"]))
    frame["alive"] = pd.array([True, None, False], dtype="boolean")
    working = frame.drop(columns=["region", "run_id"]).assign(
        resident_id=["S1", "S2", "S3"],
        birth_date=pd.array(["1985-12-31", None, "1950-01-31"], dtype="string"),
        source_rows=[2.0, 1.0, 3.0],
    )
    frame["birth_date"] = pd.to_datetime(working["birth_date"])
    frame["source_rows"] = [2, 1, 3]
    frame["run_id"] = "run-1'); DROP TABLE resident; --"  # a constant is a bound value
    warehouse.replace_table("restricted.stg_resident_test", working)
    constants = {"region": "19.71", "run_id": frame["run_id"].iloc[0]}
    staged = {"resident": Staged("restricted.stg_resident_test", constants)}
    assert warehouse.row_counts(staged) == {"resident": 3}
    warehouse.publish("63.09", {"resident": frame})
    warehouse.publish("19.71", staged)
    published = warehouse.read_table("resident").sort_values("resident_id")
    by_frame = published[published["region"] == "63.09"].drop(columns=["region", "resident_id"])
    by_sql = published[published["region"] == "19.71"].drop(columns=["region", "resident_id"])
    pd.testing.assert_frame_equal(by_frame.reset_index(drop=True), by_sql.reset_index(drop=True))


def test_staged_rows_filtered_renamed_and_from_several_tables(warehouse):
    for n, name in enumerate(("restricted.stg_a_raw", "restricted.stg_b_raw")):
        raw = pd.DataFrame(
            {
                "source_row": pd.array([1, 2, 3], dtype="int64") + n,
                "quarantine_reason": pd.array([None, "empty row", "wrong width"], dtype="string"),
                "raw_line": pd.array(["ok", "", "a|b"], dtype="string"),
            }
        )
        warehouse.replace_table(name, raw)
    rows = [
        Staged(f"restricted.stg_{s}_raw", {"source": s, "source_file": f"{s}.csv",
               "region": "63.09", "run_id": "run-1"}, renamed={"reason": "quarantine_reason"},
               not_null="quarantine_reason")
        for s in ("a", "b")
    ]  # fmt: skip
    assert warehouse.row_counts({"quarantine": rows}) == {"quarantine": 4}
    warehouse.publish("63.09", {"quarantine": rows})
    got = warehouse.query("SELECT source_file, source_row, reason FROM quarantine ORDER BY 1, 2")
    assert got.values.tolist() == [
        ["a.csv", 2, "empty row"], ["a.csv", 3, "wrong width"],
        ["b.csv", 3, "empty row"], ["b.csv", 4, "wrong width"],
    ]  # fmt: skip


def test_staged_names_are_checked_and_a_failed_copy_publishes_nothing(warehouse):
    for bad in ({"table": "stg; DROP TABLE resident"}, {"table": "t", "not_null": 'a" OR "1'},
                {"table": "t", "renamed": {"reason": "x y"}}):  # fmt: skip
        with pytest.raises(ValueError, match="not a valid"):
            Staged(**bad)  # type: ignore[arg-type]
    warehouse.replace_table("stg_x", pd.DataFrame({"resident_id": ["R1"]}))
    with pytest.raises(ValueError, match="not columns of resident"):
        warehouse.publish("63.09", {"resident": Staged("stg_x", {"no_such_column": 1})})

    warehouse.publish("63.09", {"resident": _resident("63.09", ["R1", "R2"])})
    broken = _every_column(_resident("63.09", ["R7", "R7"])).drop(columns=["region", "run_id"])
    warehouse.replace_table("stg_broken", broken)  # a duplicate primary key
    of_run = {"region": "63.09", "run_id": "run-2"}
    with pytest.raises(Exception, match="(?i)duplicate key"):
        warehouse.publish("63.09", {"resident": Staged("stg_broken", of_run)})
    with pytest.raises(Exception, match="source_file"):  # stg_x has no such column
        warehouse.publish("63.09", {"resident": _resident("63.09", ["R6"]),
                                    "resident_link": Staged("stg_x", of_run)})  # fmt: skip
    if warehouse.backend == "postgresql":
        # A value too long for its column is refused, as from a frame, not cut short.
        warehouse.replace_table("stg_long", broken.iloc[:1].assign(sex="MM"))
        with pytest.raises(Exception, match="too long"):
            warehouse.publish("63.09", {"resident": Staged("stg_long", of_run)})
    got = warehouse.query("SELECT resident_id FROM resident ORDER BY resident_id")
    assert list(got["resident_id"]) == ["R1", "R2"]
