"""Pulling a registry extract from a database replica (connectors.pull.database).

Runs against the real servers: MariaDB (PADU_TEST_MARIADB_URL, by default the local server's
``test`` database) and PostgreSQL (PADU_TEST_POSTGRES_URL: a fresh database for the module,
see conftest). Each test loads its own uniquely named tables and drops them. In CI both
servers must be there; elsewhere a missing server skips its tests with the reason.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import postgres_database
from pandas.testing import assert_frame_equal

from connectors.agencies import dukcapil
from connectors.pull import database_extract
from connectors.pull.database import FORMATS, PullError, pull
from connectors.pull.database_extract import as_text

MARIADB_DEFAULT = "mysql+pymysql://root@127.0.0.1:3306/test"
SNAPSHOT = date(2026, 11, 1)
DKB = "dukcapil_6309_20261101.csv"
SECRET = "Sup3rS3cretPw"
DKB_FORMAT = FORMATS["dukcapil"]


# --- servers and tables -------------------------------------------------------------------


def mariadb_url() -> str:
    """The MariaDB test database; fails in CI (or when the URL is given) if unreachable."""
    url = os.environ.get("PADU_TEST_MARIADB_URL", MARIADB_DEFAULT)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError:
        if os.environ.get("CI") or os.environ.get("PADU_TEST_MARIADB_URL"):
            pytest.fail("MariaDB is unreachable; the MariaDB pull tests must run")
        pytest.skip("MariaDB is not reachable at 127.0.0.1:3306 (set PADU_TEST_MARIADB_URL)")
    finally:
        engine.dispose()
    return url


@dataclass
class Database:
    """A test database and the tables a test created in it."""

    url: str
    engine: sa.engine.Engine
    tables: list[str] = field(default_factory=list)

    def quote(self, name: str) -> str:
        return self.engine.dialect.identifier_preparer.quote(name)

    def load(self, rows: pd.DataFrame, types: dict[str, sa.types.TypeEngine] | None = None) -> str:
        """A new table holding ``rows`` (columns TEXT unless ``types`` says otherwise)."""
        name = f"padu_pull_{uuid.uuid4().hex[:10]}"
        self.tables.append(name)
        types = types or {}
        table = sa.Table(
            name, sa.MetaData(), *(sa.Column(c, types.get(c, sa.Text())) for c in rows.columns)
        )
        table.create(self.engine)
        records = rows.astype(object).where(rows.notna(), None).to_dict("records")
        if records:
            with self.engine.begin() as conn:
                conn.execute(table.insert(), records)
        return name

    def run(self, sql: str, **params: object) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params)


@pytest.fixture(scope="module")
def postgres_module_url() -> Iterator[str]:
    """One fresh PostgreSQL database for this module (conftest); each test has its tables."""
    yield from postgres_database()


@pytest.fixture(params=["mariadb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request) -> Iterator[Database]:
    postgres = request.param == "postgresql"
    url = request.getfixturevalue("postgres_module_url") if postgres else mariadb_url()
    found = Database(url, sa.create_engine(url, poolclass=sa.pool.NullPool))
    yield found
    with found.engine.begin() as conn:
        for name in found.tables:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {found.quote(name)}"))
    found.engine.dispose()


@pytest.fixture(scope="module")
def registry_file(tmp_path_factory, generated) -> Path:
    landing = tmp_path_factory.mktemp("generated") / "landing"
    generated(landing, region="6309", people=500, seed=3)
    return landing / DKB


@pytest.fixture(scope="module")
def registry(registry_file) -> pd.DataFrame:
    return pd.read_csv(registry_file, sep="|", dtype=str, keep_default_na=False)


def ordered(db: Database, table: str, columns: list[str], order: str) -> str:
    """A query giving ``columns`` of ``table`` in ``order`` (the file order to compare)."""
    names = ", ".join(db.quote(c) for c in columns)
    return f"SELECT {names} FROM {db.quote(table)} ORDER BY {db.quote(order)}"


def standardised(path: Path) -> pd.DataFrame:
    records = dukcapil.standardise(dukcapil.read(path), SNAPSHOT)
    return records.drop(columns="source_file")


def data_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[1:]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- round trip ---------------------------------------------------------------------------


def planted(registry: pd.DataFrame) -> pd.DataFrame:
    """The registry with odd values that must survive as text (and one NULL)."""
    rows = registry.astype(object).copy()
    rows.loc[0, "NIK"] = "3.50101E+15"
    rows.loc[1, "NIK"] = "0" + str(rows.loc[1, "NIK"])[1:]
    rows.loc[2, "TGL_LHR"] = "1985-12-31"
    rows.loc[3, "NAMA_LGKP"] = 'SITI "IJAH" AMINAH'
    rows.loc[4, "TMPT_LHR"] = None
    rows.loc[5, "NO_RT"] = "003"
    rows.loc[6, "NO_KK"] = "6309010101100001.0"
    return rows


def test_text_columns_round_trip(db, registry, tmp_path):
    rows = planted(registry)
    expected = tmp_path / "expected" / DKB
    expected.parent.mkdir()
    lines = ["|".join(rows.columns)]
    lines += ["|".join("" if v is None else v for v in row) for row in rows.itertuples(False)]
    expected.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = db.load(rows.assign(URUT=range(len(rows))), {"URUT": sa.Integer()})
    out = tmp_path / "landing" / DKB

    result = pull(db.url, query=ordered(db, table, list(rows.columns), "URUT"), out=out,
                  **DKB_FORMAT)  # fmt: skip

    assert result.rows == result.rows_read == len(rows)
    assert out.read_bytes() == expected.read_bytes()
    assert_frame_equal(standardised(out), standardised(expected))
    assert sorted(p.name for p in out.parent.iterdir()) == [DKB]


def test_typed_columns_round_trip(db, registry, registry_file, tmp_path):
    """A DATE birth date, integer, float and decimal codes come out as the registry writes them."""
    rows = registry.astype(object).copy()
    rows["TGL_LHR"] = [datetime.strptime(v, "%d-%m-%Y").date() for v in rows["TGL_LHR"]]
    integers = ["NO_RT", "NO_RW", "NO_PROP", "NO_KAB", "NO_KEC", "NO_KEL"]
    for column in integers:
        rows[column] = rows[column].astype(int)
    rows["AGAMA"] = rows["AGAMA"].astype(float)
    rows["STAT_HIDUP"] = [Decimal(v) for v in rows["STAT_HIDUP"]]
    types: dict[str, sa.types.TypeEngine] = {c: sa.Integer() for c in integers}
    types |= {"TGL_LHR": sa.Date(), "AGAMA": sa.Float(), "STAT_HIDUP": sa.Numeric(2, 0)}
    table = db.load(rows.assign(URUT=range(len(rows))), types | {"URUT": sa.Integer()})
    out = tmp_path / "landing" / DKB

    pull(db.url, query=ordered(db, table, list(registry.columns), "URUT"), out=out, **DKB_FORMAT)

    assert out.read_bytes() == registry_file.read_bytes()
    assert_frame_equal(standardised(out), standardised(registry_file))


def test_table_pull_in_key_order(db, registry, registry_file, tmp_path):
    table = db.load(registry)
    out = tmp_path / "landing" / DKB
    result = pull(db.url, table=table, out=out, key_column="NIK", **DKB_FORMAT)
    assert result.rows == len(registry)
    assert sorted(data_lines(out)) == sorted(data_lines(registry_file))
    niks = [line.split("|")[0] for line in data_lines(out)]
    assert niks == sorted(niks)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("  as is ", "  as is "),
        (2001, "2001"),
        (2001.0, "2001"),
        (1.5, "1.5"),
        (Decimal("2001.00"), "2001"),
        (Decimal("1E+3"), "1000"),
        (Decimal("1.50"), "1.50"),
        (True, "1"),
        (date(1985, 12, 31), "31-12-1985"),
        (date(985, 1, 2), "02-01-0985"),
        (datetime(2026, 10, 1, 8, 5, 9), "01-10-2026 08:05:09"),
        (datetime(2026, 10, 1, 8, 5, 9, 120), "01-10-2026 08:05:09.000120"),
        (b"TEKS", "TEKS"),
    ],
)
def test_values_as_text(value, text):
    assert as_text(value) == text


def test_agency_date_formats():
    assert as_text(date(1985, 12, 31), FORMATS["kpu"]["date_format"]) == "31|12|1985"
    assert as_text(date(1985, 12, 31), FORMATS["bps"]["date_format"]) == "31/12/1985"


# --- incremental --------------------------------------------------------------------------


def test_incremental_pull_merges_changes(db, registry, tmp_path):
    start = datetime(2026, 10, 1)
    rows = registry.assign(TGL_UBAH=[start + timedelta(minutes=i) for i in range(len(registry))])
    table = db.load(rows, {"TGL_UBAH": sa.DateTime()})
    options = dict(table=table, change_column="TGL_UBAH", key_column="NIK", **DKB_FORMAT)
    first = pull(db.url, out=tmp_path / "1" / DKB, **options)
    assert first.high_water_mark == rows["TGL_UBAH"].max()

    unique = registry["NIK"][~registry["NIK"].duplicated(keep=False)]
    changed = list(unique.iloc[[5, 200, 400]])
    later = first.high_water_mark + timedelta(days=1)
    quoted = {c: db.quote(c) for c in ("NIK", "NAMA_LGKP", "TGL_UBAH")}
    for number, nik in enumerate(changed):
        db.run(
            f"UPDATE {db.quote(table)} SET {quoted['NAMA_LGKP']} = :name, "
            f"{quoted['TGL_UBAH']} = :at WHERE {quoted['NIK']} = :nik",
            name=f"NAMA DIUBAH {number}", at=later, nik=nik,
        )  # fmt: skip
    added = rows.iloc[:2].copy()
    added["NIK"] = ["6309019999990001", "6309019999990002"]
    added["TGL_UBAH"] = [later, later + timedelta(hours=1)]
    with db.engine.begin() as conn:
        table_ref = sa.Table(table, sa.MetaData(), autoload_with=conn)
        conn.execute(table_ref.insert(), added.to_dict("records"))

    second = pull(db.url, out=tmp_path / "2" / DKB, since=first.high_water_mark,
                  previous=first.path, **options)  # fmt: skip

    assert second.rows_read == 5
    assert second.rows == first.rows + 2
    assert second.high_water_mark == later + timedelta(hours=1)
    before, after = data_lines(first.path), data_lines(second.path)
    differing = [i for i, (old, new) in enumerate(zip(before, after, strict=False)) if old != new]
    assert [before[i].split("|")[0] for i in differing] == sorted(changed)
    assert all("|NAMA DIUBAH " in after[i] for i in differing)
    assert [line.split("|")[0] for line in after[-2:]] == list(added["NIK"])
    # The merged snapshot holds what a full pull now reads.
    full = pull(db.url, out=tmp_path / "full" / DKB, **options)
    assert sorted(data_lines(full.path)) == sorted(after)

    third = pull(db.url, out=tmp_path / "3" / DKB, since=second.high_water_mark,
                 previous=second.path, **options)  # fmt: skip
    assert third.rows_read == 0
    assert third.high_water_mark == second.high_water_mark
    assert third.path.read_bytes() == second.path.read_bytes()


def test_since_is_bound_not_formatted(db, registry, tmp_path):
    """The SQL text (and so its fingerprint) is the same whatever ``since`` is; a mark kept as
    text (e.g. in a sidecar file) is compared by the database like the value itself."""
    rows = registry.iloc[:20].assign(TGL_UBAH=datetime(2026, 10, 1))
    table = db.load(rows, {"TGL_UBAH": sa.DateTime()})
    options = dict(table=table, change_column="TGL_UBAH", key_column="NIK", **DKB_FORMAT)
    first = pull(db.url, out=tmp_path / "1" / DKB, **options)
    read = []
    fingerprints = set()
    marks = [datetime(2026, 9, 1), datetime(2026, 10, 2), "2026-09-01 00:00:00", "2026-10-01"]
    for number, since in enumerate(marks, start=2):
        result = pull(db.url, out=tmp_path / str(number) / DKB, since=since,
                      previous=first.path, **options)  # fmt: skip
        read.append(result.rows_read)
        fingerprints.add(result.query_fingerprint)
        assert result.path.read_bytes() == first.path.read_bytes()
    assert read == [20, 0, 20, 0]
    assert len(fingerprints) == 1
    assert fingerprints != {first.query_fingerprint}


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["mysql+pymysql", "postgresql+psycopg2"])
def test_unreachable_server(scheme, tmp_path):
    port = closed_port()
    url = f"{scheme}://padu:{SECRET}@127.0.0.1:{port}/registry"
    with pytest.raises(PullError) as caught:
        pull(url, table="biodata_wni", out=tmp_path / "landing" / DKB, **DKB_FORMAT)
    message = str(caught.value)
    assert message.startswith(f"{scheme}://padu:***@127.0.0.1:{port}/registry: cannot connect")
    assert SECRET not in message
    assert not (tmp_path / "landing" / DKB).exists()


def test_wrong_password_is_not_shown(db, registry, tmp_path):
    table = db.load(registry.iloc[:3])
    url = sa.engine.make_url(db.url).set(password=SECRET).render_as_string(False)
    try:
        pull(url, table=f"{table}_missing", out=tmp_path / DKB, **DKB_FORMAT)
    except PullError as err:  # MariaDB refuses the password, PostgreSQL (trust) the table
        assert SECRET not in str(err)
        assert "***@127.0.0.1" in str(err)
    else:
        pytest.fail("the pull should fail")


def test_missing_table(db, tmp_path):
    with pytest.raises(PullError, match=r"table padu_pull_none does not exist"):
        pull(db.url, table="padu_pull_none", out=tmp_path / DKB, **DKB_FORMAT)
    with pytest.raises(PullError, match="a table named in the query does not exist"):
        pull(db.url, query="SELECT * FROM padu_pull_none", out=tmp_path / DKB, **DKB_FORMAT)


def test_missing_columns(db, registry, tmp_path):
    table = db.load(registry.iloc[:3])
    with pytest.raises(PullError, match=r"lacks column\(s\) TGL_UBAH"):
        pull(db.url, table=table, out=tmp_path / DKB, change_column="TGL_UBAH", **DKB_FORMAT)
    query = f"SELECT {db.quote('NIK')} FROM {db.quote(table)}"
    with pytest.raises(PullError, match=r"the result lacks column\(s\) NAMA_LGKP"):
        pull(db.url, query=query, out=tmp_path / DKB, required_columns=["NAMA_LGKP"],
             **DKB_FORMAT)  # fmt: skip
    assert not (tmp_path / DKB).exists()


def test_empty_table(db, registry, tmp_path):
    table = db.load(registry.iloc[:0])
    out = tmp_path / DKB
    with pytest.raises(PullError, match="returned no rows"):
        pull(db.url, table=table, out=out, **DKB_FORMAT)
    assert list(tmp_path.iterdir()) == []
    result = pull(db.url, table=table, out=out, expect_rows=False, **DKB_FORMAT)
    assert result.rows == 0
    assert out.read_text() == "|".join(registry.columns) + "\n"


def test_bad_requests(tmp_path):
    url = MARIADB_DEFAULT
    for kwargs in [
        {"table": "biodata; DROP TABLE biodata"},
        {"query": "DELETE FROM biodata"},
        {"query": "SELECT 1; DELETE FROM biodata"},
        {"table": "a", "query": "SELECT 1"},
        {"table": "a", "since": 1},
        {"table": "a", "previous": tmp_path / "x.csv"},
        {"table": "a", "chunk_rows": 0},
    ]:
        with pytest.raises(PullError):
            pull(url, out=tmp_path / DKB, **DKB_FORMAT, **kwargs)


def test_unquoted_format_refuses_a_delimiter(db, registry, tmp_path):
    rows = registry.iloc[:3].copy()
    rows.loc[1, "ALAMAT"] = "JL. MAWAR | RT 3"
    table = db.load(rows)
    with pytest.raises(PullError, match=r"column ALAMAT in row \d") as caught:
        pull(db.url, table=table, out=tmp_path / DKB, **DKB_FORMAT)
    assert "MAWAR" not in str(caught.value)
    quoted = pull(db.url, table=table, out=tmp_path / "bps.csv", delimiter="|")
    assert '"JL. MAWAR | RT 3"' in quoted.path.read_text()


def test_a_url_naming_no_driver_uses_the_installed_one(db, registry, tmp_path):
    table = db.load(registry.iloc[:3])
    scheme, rest = db.url.split("://", 1)
    plain = f"{scheme.split('+')[0]}://{rest}"  # postgresql:// or mysql://
    assert pull(plain, table=table, out=tmp_path / DKB, **DKB_FORMAT).rows == 3


def test_a_line_break_in_a_value_keeps_one_record_per_line(db, registry, tmp_path):
    rows = registry.iloc[:3].copy()
    rows.loc[1, "ALAMAT"] = "JL. MAWAR\r\nGG. 3\nRT 3"
    table = db.load(rows)
    quoted = pull(db.url, table=table, out=tmp_path / "bps.csv", delimiter="|")
    lines = quoted.path.read_text().splitlines()
    assert len(lines) == 4 and "JL. MAWAR GG. 3 RT 3" in lines[2]


def test_logs_and_errors_hold_no_values(db, registry, tmp_path, caplog):
    table = db.load(registry)
    caplog.set_level(logging.DEBUG, logger="connectors.pull")
    pull(db.url, table=table, out=tmp_path / DKB, **DKB_FORMAT)
    assert caplog.records
    assert not any(nik in caplog.text for nik in registry["NIK"])


# --- atomicity and streaming --------------------------------------------------------------


def test_failed_pull_leaves_no_file(db, registry, tmp_path, monkeypatch):
    table = db.load(registry)
    out = tmp_path / "landing" / DKB
    out.parent.mkdir()
    calls = []
    write = database_extract._write_chunk

    def failing(writer, rows):
        calls.append(len(rows))
        if len(calls) > 1:
            raise OSError("disk full")
        write(writer, rows)

    monkeypatch.setattr(database_extract, "_write_chunk", failing)
    with pytest.raises(OSError, match="disk full"):
        pull(db.url, table=table, out=out, chunk_rows=100, **DKB_FORMAT)
    assert list(out.parent.iterdir()) == []
    out.write_text("earlier snapshot\n")
    calls.clear()
    with pytest.raises(OSError, match="disk full"):
        pull(db.url, table=table, out=out, chunk_rows=100, **DKB_FORMAT)
    assert [p.name for p in out.parent.iterdir()] == [DKB]
    assert out.read_text() == "earlier snapshot\n"


def test_streams_in_chunks(db, registry, tmp_path, monkeypatch):
    """Rows arrive chunk_rows at a time from a server-side cursor; nothing calls fetchall."""
    table = db.load(registry)
    sizes: list[int] = []
    write = database_extract._write_chunk

    def counting(writer, rows):
        sizes.append(len(rows))
        write(writer, rows)

    def refuse(*args, **kwargs):
        raise AssertionError("the whole result was fetched at once")

    monkeypatch.setattr(database_extract, "_write_chunk", counting)
    monkeypatch.setattr(sa.engine.CursorResult, "fetchall", refuse)
    monkeypatch.setattr(sa.engine.CursorResult, "all", refuse)
    result = pull(db.url, table=table, out=tmp_path / DKB, chunk_rows=100, **DKB_FORMAT)
    assert result.rows == len(registry) == 491
    assert sizes == [100, 100, 100, 100, 91]


def test_snapshot_time_and_fingerprint(db, registry, tmp_path):
    table = db.load(registry.iloc[:5])
    first = pull(db.url, table=table, out=tmp_path / "a.csv", **DKB_FORMAT)
    second = pull(db.url, table=table, out=tmp_path / "b.csv", **DKB_FORMAT)
    assert first.snapshot_time.tzinfo is not None
    assert first.snapshot_time <= second.snapshot_time
    assert abs(first.snapshot_time - datetime.now(UTC)) < timedelta(minutes=5)
    assert first.query_fingerprint == second.query_fingerprint
    assert len(first.query_fingerprint) == 64
    other = pull(db.url, table=table, out=tmp_path / "c.csv", key_column="NIK", **DKB_FORMAT)
    assert other.query_fingerprint != first.query_fingerprint
    assert first.source == sa.engine.make_url(db.url).render_as_string(hide_password=True)


def test_query_pull_incremental_and_percent_signs(db, registry, tmp_path):
    rows = registry.assign(TGL_UBAH=datetime(2026, 10, 1))
    table = db.load(rows, {"TGL_UBAH": sa.DateTime()})
    name, alive = db.quote("NAMA_LGKP"), db.quote("STAT_HIDUP")
    query = f"SELECT * FROM {db.quote(table)} WHERE {name} LIKE '%A%' AND {alive} = '1'"
    expected = rows[rows["NAMA_LGKP"].str.contains("A") & (rows["STAT_HIDUP"] == "1")]
    options = dict(query=query, change_column="TGL_UBAH", key_column="NIK", **DKB_FORMAT)
    first = pull(db.url, out=tmp_path / "1" / DKB, **options)
    assert first.rows == len(expected)
    nik = expected["NIK"][~expected["NIK"].duplicated(keep=False)].iloc[0]
    db.run(
        f"UPDATE {db.quote(table)} SET {db.quote('TGL_UBAH')} = :at WHERE {db.quote('NIK')} = :nik",
        at=datetime(2026, 10, 2),
        nik=nik,
    )
    second = pull(db.url, out=tmp_path / "2" / DKB, since=first.high_water_mark,
                  previous=first.path, **options)  # fmt: skip
    assert (second.rows, second.rows_read) == (first.rows, 1)
    assert second.high_water_mark == datetime(2026, 10, 2)


def test_reads_in_a_read_only_repeatable_read_transaction(db, tmp_path):
    if db.engine.dialect.name == "postgresql":
        query = (
            "SELECT current_setting('transaction_isolation') AS iso, "
            "current_setting('transaction_read_only') AS ro"
        )
        expected = "iso|ro\nrepeatable read|on\n"
    else:
        query = (
            "SELECT trx_isolation_level AS iso, trx_is_read_only AS ro "
            "FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = CONNECTION_ID()"
        )
        expected = "iso|ro\nREPEATABLE READ|1\n"
    result = pull(db.url, query=query, out=tmp_path / "settings.csv", **DKB_FORMAT)
    assert result.path.read_text() == expected
