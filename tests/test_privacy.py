"""Personal data stays where it belongs: the whole pipeline, then a scan of everything it
wrote outside the restricted schema; and production mode refuses to run without a key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import stored_bytes

from connectors.warehouse.engine import Warehouse
from connectors.warehouse.tables import PUBLISHED, RESTRICTED
from connectors.warehouse.views import VIEW_NAMES

ROOT = Path(__file__).resolve().parents[1]
PADU = [sys.executable, "-m", "pipelines.cli"]
_SIXTEEN = re.compile(rb"(?<!\d)\d{16}(?!\d)")


def _identifiers(landing: Path) -> set[bytes]:
    """Every NIK and KK number of the input files, as the 16 digits they stand for."""
    columns = {"dukcapil": ("NIK", "NO_KK"), "kpu": ("NIK", "NKK"), "bps": ("R403",)}
    found: set[bytes] = set()
    for path in landing.iterdir():
        sep = "|" if path.name.startswith("dukcapil") else ","
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
        for column in columns[path.name.split("_")[0]]:
            digits = frame[column].str.replace(r"\D", "", regex=True)
            found |= {d.encode() for d in digits if len(d) == 16}
    return found


def _padu(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*PADU, *args], cwd=ROOT, env=env, capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("privacy")
    url = f"duckdb:///{base / 'warehouse.duckdb'}"
    env = {**os.environ, "DAGSTER_HOME": str(base / "dagster_home"),
           "PADU_QUALITY_DOCS": str(base / "docs")}  # fmt: skip
    (base / "dagster_home").mkdir()
    (base / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    runs = [_padu("demo", "--people", "1500", "--dir", str(base / "demo"), "--warehouse", url,
                  env=env)]  # fmt: skip
    assert runs[0].returncode == 0, runs[0].stderr[-2000:]
    # A failing run too: error paths must not quote identifiers either.
    broken = base / "broken"
    broken.mkdir()
    for path in (base / "demo" / "landing").iterdir():
        text = path.read_bytes()
        if path.name.startswith("kpu"):
            text = text.replace(b"NIK,", b"NIKX,", 1)
        (broken / path.name.replace("20261101", "20261102")).write_bytes(text)
    runs.append(_padu("run", "--landing", str(broken), "--warehouse", url, env=env))
    assert runs[1].returncode != 0
    runs.append(_padu("report", "--out", str(base / "report"), "--warehouse", url, env=env))
    assert runs[2].returncode == 0, runs[2].stderr[-2000:]
    return {"base": base, "url": url, "runs": runs,
            "identifiers": _identifiers(base / "demo" / "landing")}  # fmt: skip


def _leaks(data: bytes, identifiers: set[bytes]) -> int:
    return len(set(_SIXTEEN.findall(data)) & identifiers)


def test_identifiers_are_many(demo_run):
    assert len(demo_run["identifiers"]) > 1000  # the scan below has something to find


def test_no_identifier_in_output_logs_dagster_storage_docs_or_report(demo_run):
    base: Path = demo_run["base"]  # type: ignore[assignment]
    identifiers = demo_run["identifiers"]
    for run in demo_run["runs"]:  # type: ignore[attr-defined]
        assert _leaks(run.stdout + run.stderr, identifiers) == 0
    scanned = 0
    for folder in ("dagster_home", "docs", "report"):
        for path in (base / folder).rglob("*"):
            if path.is_file():
                scanned += 1
                # Dagster's SQLite storage compresses job snapshots: scan every value in it.
                assert _leaks(stored_bytes(path), identifiers) == 0, path
    assert scanned > 10
    assert list((base / "report").glob("*.csv")) and list((base / "docs").rglob("*.html"))


def test_no_identifier_outside_the_restricted_schema(demo_run):
    identifiers = demo_run["identifiers"]
    store = Warehouse(demo_run["url"])  # type: ignore[arg-type]
    try:
        names = [t.fullname for t in PUBLISHED if t.schema != RESTRICTED]
        names += ["review_decision", "quality_result", *VIEW_NAMES]
        for name in names:
            text = store.read_table(name).astype(str).to_csv(index=False).encode()
            assert _leaks(text, identifiers) == 0, name
        restricted = store.read_table(f"{RESTRICTED}.source_record")
        assert _leaks(restricted.to_csv(index=False).encode(), identifiers) > 0
    finally:
        store.dispose()


def test_production_mode_refuses_to_run_without_a_configured_key_or_with_a_short_one(
    tmp_path, generated
):
    from click.testing import CliRunner

    from pipelines.cli import main

    landing = tmp_path / "landing"
    generated(landing, region="6309", people=50, seed=1)
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    # No key configured (None unsets a variable while the command runs).
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PADU_PSEUDONYM")}
    env["PADU_MODE"] = "production"

    def run(**settings: str):  # type: ignore[no-untyped-def]
        args = ["run", "--landing", str(landing), "--warehouse", url]
        return CliRunner().invoke(main, args, env={**env, **settings})

    refused = run()
    assert refused.exit_code != 0 and "no pseudonym key is configured" in refused.output
    short = run(PADU_PSEUDONYM_KEY="too-short")
    assert short.exit_code != 0 and "shorter than 32 bytes" in short.output
    assert not (tmp_path / "w.duckdb").exists()  # refused before anything was written
    assert not (tmp_path / "pseudonym.key").exists()  # padu's own key is not for production
    key = tmp_path / "key"
    key.write_text(os.urandom(24).hex() + "\n")
    accepted = run(PADU_PSEUDONYM_KEY_FILE=str(key))
    assert accepted.exit_code == 0, accepted.output[-2000:]
    assert not (tmp_path / "pseudonym.key").exists()


def test_dagster_refuses_to_load_production_definitions_without_a_key():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PADU_PSEUDONYM")}
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "pipelines.definitions"],
        cwd=ROOT, env={**env, "PADU_MODE": "production"}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode != 0
    assert "no pseudonym key is configured" in result.stdout + result.stderr
