"""Shared by the tests: builders for small hand-made agency extracts, warehouses on both
backends, and the local servers some tests need (found on their usual ports when no
``PADU_TEST_*`` variable names them)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import shutil
import socket
import sqlite3
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
import sqlalchemy as sa

if TYPE_CHECKING:
    from synthetic import GenerationSummary

#: The servers the tests use, and where they usually answer on a developer's machine.
LOCAL_SERVICES = {
    "PADU_TEST_POSTGRES_URL": ("postgresql+psycopg2://postgres@127.0.0.1:5432/postgres", 5432),
    "PADU_TEST_MARIADB_URL": ("mysql+pymysql://root@127.0.0.1:3306/test", 3306),
    "PADU_TEST_CELERY_BROKER_URL": ("pyamqp://guest:guest@127.0.0.1:5672//", 5672),
}
_found: dict[str, str] = {}


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def pytest_configure(config: pytest.Config) -> None:
    """Use a local server that answers on its usual port when no variable names one (set in
    the environment, so the processes the tests start see it too)."""
    for name, (url, port) in LOCAL_SERVICES.items():
        if os.environ.get(name):
            _found[name] = "given"
        elif _answers(port):
            os.environ[name] = url
            _found[name] = f"found on 127.0.0.1:{port}"
        else:
            _found[name] = f"not running on 127.0.0.1:{port}: its tests are skipped"


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    terminalreporter.write_sep("-", "test servers")
    for name, state in _found.items():
        terminalreporter.write_line(f"{name}: {state}")


DUKCAPIL_HEADER = [
    "NIK", "NO_KK", "NAMA_LGKP", "JENIS_KLMIN", "TMPT_LHR", "TGL_LHR", "AGAMA", "STAT_KWN",
    "STAT_HBKEL", "PDDK_AKH", "JENIS_PKRJN", "NAMA_LGKP_IBU", "ALAMAT", "NO_RT", "NO_RW",
    "NO_PROP", "NO_KAB", "NO_KEC", "NO_KEL", "STAT_HIDUP",
]  # fmt: skip
KPU_HEADER = [
    "NO", "NKK", "NIK", "NAMA", "TEMPAT_LAHIR", "TANGGAL_LAHIR", "STATUS_PERKAWINAN",
    "JENIS_KELAMIN", "ALAMAT", "RT", "RW", "DISABILITAS", "KTP_EL", "KETERANGAN", "KECAMATAN",
    "KELURAHAN", "TPS",
]  # fmt: skip
BPS_HEADER = [
    "R101", "R102", "R103", "R104", "R105", "R109", "R110", "R401", "R402", "R403", "R404",
    "R405", "R406", "R407", "R408",
]  # fmt: skip

# Two people of Kab. Tabalong, desa Hapalah (63.09.01.2001; BPS 6309010001).
BUDI = {"nik": "6309013112850001", "kk": "6309010101100001", "name": "H. BUDI SANTOSO",
        "sex": "1", "dob": "31-12-1985"}  # fmt: skip
SITI = {"nik": "6309014405900002", "kk": "6309010101100001", "name": "SITI AMINAH",
        "sex": "2", "dob": "04-05-1990"}  # fmt: skip


def dukcapil_row(person: dict[str, str], **override: str) -> list[str]:
    row = {
        "NIK": person["nik"], "NO_KK": person["kk"], "NAMA_LGKP": person["name"],
        "JENIS_KLMIN": person["sex"], "TMPT_LHR": "TANJUNG", "TGL_LHR": person["dob"],
        "AGAMA": "1", "STAT_KWN": "2", "STAT_HBKEL": "1" if person["sex"] == "1" else "3",
        "PDDK_AKH": "5", "JENIS_PKRJN": "15", "NAMA_LGKP_IBU": "SARINAH", "ALAMAT": "JL. MAWAR",
        "NO_RT": "3", "NO_RW": "1", "NO_PROP": "63", "NO_KAB": "9", "NO_KEC": "1",
        "NO_KEL": "2001", "STAT_HIDUP": "1",
    }  # fmt: skip
    row.update(override)
    return [row[c] for c in DUKCAPIL_HEADER]


def kpu_row(person: dict[str, str], **override: str) -> list[str]:
    day, month, year = person["dob"].split("-")
    row = {
        "NO": "1", "NKK": person["kk"], "NIK": person["nik"], "NAMA": person["name"],
        "TEMPAT_LAHIR": "TANJUNG", "TANGGAL_LAHIR": f"{day}|{month}|{year}",
        "STATUS_PERKAWINAN": "S", "JENIS_KELAMIN": "L" if person["sex"] == "1" else "P",
        "ALAMAT": "JL. MAWAR", "RT": "003", "RW": "001", "DISABILITAS": "0", "KTP_EL": "S",
        "KETERANGAN": "", "KECAMATAN": "BANUA LAWAS", "KELURAHAN": "HAPALAH", "TPS": "001",
    }  # fmt: skip
    row.update(override)
    return [row[c] for c in KPU_HEADER]


def bps_row(person: dict[str, str], **override: str) -> list[str]:
    row = {
        "R101": "63", "R102": "09", "R103": "010", "R104": "001", "R105": "0001", "R109": "1",
        "R110": "1", "R401": "1", "R402": person["name"], "R403": person["nik"],
        "R404": "1", "R405": person["sex"], "R406": person["dob"].replace("-", "/"),
        "R407": "40", "R408": "2",
    }  # fmt: skip
    row.update(override)
    return [row[c] for c in BPS_HEADER]


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def delimited(header: list[str], rows: list[list[str]], delimiter: str) -> str:
    return "\n".join(delimiter.join(r) for r in [header, *rows]) + "\n"


def rows_of(url: str, sql: str) -> pd.DataFrame:
    """The rows ``sql`` selects from the warehouse at ``url`` (opened for this query only)."""
    from connectors.warehouse.engine import Warehouse

    store = Warehouse(url)
    try:
        return store.query(sql)
    finally:
        store.dispose()


def permitted(engine: sa.Engine, sql: str) -> bool:
    """True if ``sql`` runs on ``engine`` (a role's connection); False if the database says
    permission denied (any other error fails the test)."""
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(sql))
        return True
    except sa.exc.ProgrammingError as err:
        assert "permission denied" in str(err)
        return False


def stored_bytes(path: Path) -> bytes:
    """The bytes of ``path``; for an SQLite file (Dagster's storage) also every value in it,
    decompressed where Dagster compressed it (job snapshots are zlib-compressed)."""
    data = path.read_bytes()
    if not data.startswith(b"SQLite format 3"):
        return data
    values = [data]
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (table,) in tables.fetchall():
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        with contextlib.suppress(zlib.error):
                            value = zlib.decompress(value)
                        values.append(value)
                    elif isinstance(value, str):
                        values.append(value.encode())
    finally:
        connection.close()
    return b"\n".join(values)


@pytest.fixture(autouse=True)
def _warehouse_url_restored() -> Iterator[None]:
    """A run given a warehouse URL with a password puts it into PADU_WAREHOUSE_URL of its own
    process (where Dagster's EnvVar reads it); it must not leak into the next test of the
    same worker."""
    saved = os.environ.get("PADU_WAREHOUSE_URL")
    yield
    if saved is None:
        os.environ.pop("PADU_WAREHOUSE_URL", None)
    else:
        os.environ["PADU_WAREHOUSE_URL"] = saved


@pytest.fixture(autouse=True, scope="session")
def _temporary_dagster_instance(tmp_path_factory):
    """Runs in tests use a temporary Dagster instance and Data Docs folder, whatever the
    developer's shell says."""
    saved = os.environ.pop("DAGSTER_HOME", None)
    saved_docs = os.environ.get("PADU_QUALITY_DOCS")
    os.environ["PADU_QUALITY_DOCS"] = str(tmp_path_factory.mktemp("quality") / "docs")
    yield
    if saved is not None:
        os.environ["DAGSTER_HOME"] = saved
    if saved_docs is None:
        os.environ.pop("PADU_QUALITY_DOCS", None)
    else:
        os.environ["PADU_QUALITY_DOCS"] = saved_docs


#: The pseudonym key of the tests' PostgreSQL warehouses (made afresh for each test session).
POSTGRES_TEST_KEY = secrets.token_hex(32)


def postgres_database() -> Iterator[str]:
    """A new database on the real PostgreSQL server (PADU_TEST_POSTGRES_URL), dropped after;
    while it exists, ``PADU_PSEUDONYM_KEY`` is set unless a key is configured already.

    In CI the server must be there: a missing URL fails instead of skipping."""
    with _new_database() as url, postgres_test_key():
        yield url


def _admin_url() -> str:
    admin_url = os.environ.get("PADU_TEST_POSTGRES_URL")
    if not admin_url:
        if os.environ.get("CI"):
            pytest.fail("PADU_TEST_POSTGRES_URL is not set in CI; PostgreSQL tests must run")
        pytest.skip("PADU_TEST_POSTGRES_URL not set (set it to run the PostgreSQL tests)")
    return admin_url


@contextlib.contextmanager
def _new_database(template: str | None = None) -> Iterator[str]:
    """A new database (a copy of ``template`` when given), dropped after."""
    admin_url = _admin_url()
    name = f"padu_test_{uuid.uuid4().hex[:12]}"
    copy = f" TEMPLATE {template}" if template else ""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}{copy}"))
    try:
        yield str(sa.engine.make_url(admin_url).set(database=name).render_as_string(False))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@contextlib.contextmanager
def postgres_test_key() -> Iterator[None]:
    """``PADU_PSEUDONYM_KEY`` set to the session's PostgreSQL test key, unless a key is
    configured already (a PostgreSQL warehouse runs only with a configured key)."""
    configured = any(os.environ.get(v) for v in ("PADU_PSEUDONYM_KEY_FILE", "PADU_PSEUDONYM_KEY"))
    if not configured:
        os.environ["PADU_PSEUDONYM_KEY"] = POSTGRES_TEST_KEY
    try:
        yield
    finally:
        if not configured:
            os.environ.pop("PADU_PSEUDONYM_KEY", None)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres_database()


@pytest.fixture
def celery_broker_url() -> str:
    """The Celery broker (RabbitMQ) named by PADU_TEST_CELERY_BROKER_URL, for the tests whose
    steps run on real Celery workers. In CI the broker must be there: a missing URL fails."""
    url = os.environ.get("PADU_TEST_CELERY_BROKER_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("PADU_TEST_CELERY_BROKER_URL is not set in CI; the Celery test must run")
        pytest.skip("PADU_TEST_CELERY_BROKER_URL not set (set it to run the Celery test)")
    return url


#: The warehouse backends the tests run on, as fixture parameters.
BACKENDS = ["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def warehouse_url(request, tmp_path) -> Iterator[str]:
    """A fresh warehouse URL on each backend: an embedded DuckDB file, the real PostgreSQL."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    else:
        yield from postgres_database()


@pytest.fixture(params=BACKENDS)
def two_warehouses(request, tmp_path) -> Iterator[tuple[str, str]]:
    """Two fresh, empty warehouses on one backend (say, the runs' and a reference)."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'one.duckdb'}", f"duckdb:///{tmp_path / 'two.duckdb'}"
        return
    for first in postgres_database():
        for second in postgres_database():
            yield first, second


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """A landing folder with one consistent extract per agency for Kab. Tabalong."""
    folder = tmp_path / "landing"
    write_text(
        folder / "dukcapil_6309_20261101.csv",
        delimited(DUKCAPIL_HEADER, [dukcapil_row(BUDI), dukcapil_row(SITI)], "|"),
    )
    write_text(
        folder / "kpu_dpt_6309_20261101.csv",
        delimited(KPU_HEADER, [kpu_row(BUDI), kpu_row(SITI, NO="2")], ","),
    )
    write_text(
        folder / "bps_regsosek_6309_20261101.csv",
        delimited(BPS_HEADER, [bps_row(BUDI), bps_row(SITI, R401="2", R404="2")], ","),
    )
    return folder


@pytest.fixture(scope="session")
def generated(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Generated regions, each made once per test session and copied where a test wants it.

    ``generated(dest, region="6309", people=300, seed=1, **options)`` writes the same files
    ``synthetic.generate(region=..., people=..., seed=..., out=dest, **options)`` would (the
    landing files into ``dest``, ``truth.csv`` and ``planted.csv`` beside it) and returns
    what ``generate`` returns, its paths in ``dest``."""
    from synthetic import generate

    made: dict[tuple, tuple[Path, GenerationSummary]] = {}

    def copy(dest: Path, region: str = "6309", people: int = 300, seed: int = 1, **options):  # type: ignore[no-untyped-def]
        key = (region, people, seed, tuple(sorted(options.items())))
        if key not in made:
            root = tmp_path_factory.mktemp("region")
            made[key] = root, generate(region=region, people=people, seed=seed,
                                       out=root / "landing", **options)  # fmt: skip
        root, summary = made[key]
        shutil.copytree(root / "landing", dest, dirs_exist_ok=True)
        for beside in root.iterdir():  # truth.csv, planted.csv
            if beside.is_file():
                shutil.copyfile(beside, dest.parent / beside.name)
        return _moved(summary, root / "landing", dest)

    return copy


def _moved(summary: GenerationSummary, landing: Path, dest: Path) -> GenerationSummary:
    """``summary`` of files generated into ``landing``, for their copies in ``dest``."""

    def there(path: Path) -> Path:
        return (dest if path.parent == landing else dest.parent) / path.name

    return dataclasses.replace(
        summary,
        paths={source: there(path) for source, path in summary.paths.items()},
        rows_per_file={there(path): rows for path, rows in summary.rows_per_file.items()},
        truth_path=there(summary.truth_path),
        planted_path=there(summary.planted_path),
    )


@dataclasses.dataclass(frozen=True)
class Published:
    """A test's own warehouse into which padu has published a generated region once, and the
    test's own copy of that region's landing folder (``summary``: what was generated)."""

    url: str
    landing: Path
    summary: GenerationSummary


@pytest.fixture(scope="session")
def published_region(tmp_path_factory, generated):  # type: ignore[no-untyped-def]
    """Warehouses with a generated region published, each made once per test session (on
    each backend) and copied for every test that asks: a DuckDB file with its key file, or a
    PostgreSQL database made from the first as a template (the copy exists while the
    context is open, with the test key set).

    ``with published_region(backend, dest, region="6309", people=300, seed=1, **options)``
    gives a ``Published`` whose landing folder is ``dest``."""
    from pipelines.cli import run_pipeline

    masters: dict[tuple, str] = {}
    with contextlib.ExitStack() as session:

        def master(backend: str, options: dict) -> str:
            key = (backend, tuple(sorted(options.items())))
            if key not in masters:
                root = tmp_path_factory.mktemp("published")
                generated(root / "landing", **options)
                if backend == "duckdb":
                    url = f"duckdb:///{root / 'warehouse.duckdb'}"
                else:
                    url = session.enter_context(_new_database())
                lines: list[str] = []
                with postgres_test_key() if backend != "duckdb" else contextlib.nullcontext():
                    assert run_pipeline(root / "landing", url, None, echo=lines.append), lines
                masters[key] = url
            return masters[key]

        @contextlib.contextmanager
        def copy(backend: str, dest: Path, **options) -> Iterator[Published]:  # type: ignore[no-untyped-def]
            url = master(backend, options)
            summary = generated(dest, **options)
            if backend != "duckdb":
                with (
                    _new_database(template=sa.engine.make_url(url).database) as own,
                    postgres_test_key(),
                ):
                    yield Published(own, dest, summary)
                return
            yield Published(copied_duckdb(url, dest.parent), dest, summary)

        yield copy


def copied_duckdb(url: str, folder: Path) -> str:
    """A copy of the embedded DuckDB warehouse at ``url`` in a new folder inside ``folder``,
    with padu's own key file beside it (as the warehouse was)."""
    from pipelines.resources import OWN_KEY_FILE

    source = Path(sa.engine.make_url(url).database or "")
    copy = folder / f"warehouse-{uuid.uuid4().hex[:8]}"
    copy.mkdir()
    for name in (source.name, OWN_KEY_FILE):
        shutil.copy2(source.parent / name, copy / name)
    return f"duckdb:///{copy / source.name}"


@pytest.fixture(params=BACKENDS)
def published(request, tmp_path, published_region) -> Iterator[Published]:  # type: ignore[no-untyped-def]
    """The small generated region (6309, 300 people, seed 31) published once, in a warehouse
    of the test's own on each backend."""
    with published_region(request.param, tmp_path / "landing", people=300, seed=31) as made:
        yield made
