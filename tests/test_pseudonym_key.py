"""The pseudonym key: never one written in the code. Without a configured key an embedded
DuckDB warehouse gets a random key of its own, made once, private, beside the warehouse file;
a PostgreSQL warehouse, or production mode, is refused without a configured key."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import rows_of

from matching.nik import pseudonymise
from pipelines.cli import main, run_pipeline
from pipelines.definitions import build_resources
from pipelines.resources import (
    KeySettingsError,
    PseudonymKey,
    SettingsError,
    own_key,
    own_key_path,
)


@pytest.fixture(autouse=True)
def _no_configured_key(monkeypatch):
    for name in ("PADU_PSEUDONYM_KEY_FILE", "PADU_PSEUDONYM_KEY", "PADU_MODE"):
        monkeypatch.delenv(name, raising=False)


ROOT = Path(__file__).resolve().parents[1]


def _links(url: str) -> pd.DataFrame:
    return rows_of(url, "SELECT source_file, source_row, resident_id, record_key "
                       "FROM resident_link ORDER BY source_file, source_row")  # fmt: skip


def test_an_embedded_warehouse_gets_a_random_private_key_once(tmp_path, landing):
    url = f"duckdb:///{tmp_path / 'w' / 'warehouse.duckdb'}"
    key_file = tmp_path / "w" / "pseudonym.key"
    assert own_key_path(url) == key_file
    assert run_pipeline(landing, url, None, echo=lambda _: None)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_bytes().strip()
    assert len(key) >= 64 and int(key, 16)  # 32 random bytes, as hex
    niks = rows_of(url, "SELECT DISTINCT nik FROM restricted.source_record WHERE nik IS NOT NULL")
    published = set(rows_of(url, "SELECT nik_pseudonym FROM resident")["nik_pseudonym"].dropna())
    assert published and published <= set(pseudonymise(niks["nik"], key, purpose="nik"))
    before = _links(url)

    assert run_pipeline(landing, url, None, echo=lambda _: None, reload=True)
    assert key_file.read_bytes().strip() == key  # made once, used from then on
    pd.testing.assert_frame_equal(_links(url), before)

    # Another warehouse elsewhere gets a key of its own.
    elsewhere = f"duckdb:///{tmp_path / 'x' / 'warehouse.duckdb'}"
    assert run_pipeline(landing, elsewhere, None, echo=lambda _: None)
    assert (tmp_path / "x" / "pseudonym.key").read_bytes().strip() != key


def test_a_warehouse_whose_key_is_lost_is_not_given_a_new_one(tmp_path, landing):
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    lines: list[str] = []
    assert run_pipeline(landing, url, None, echo=lines.append)
    (tmp_path / "pseudonym.key").unlink()
    assert not run_pipeline(landing, url, None, echo=lines.append, reload=True)
    assert any("holds pseudonyms made with a key" in line for line in lines), lines
    assert not (tmp_path / "pseudonym.key").exists()


#: Waits for the start file, then makes (or reads) the key; prints what it got.
MAKE_KEY = """
import sys, time
from pathlib import Path
from pipelines.resources import own_key
while not Path(sys.argv[2]).exists():
    time.sleep(0.005)
print(own_key(Path(sys.argv[1])).decode())
"""


def test_processes_making_the_key_at_once_end_with_one_key(tmp_path):
    path = tmp_path / "keys" / "pseudonym.key"
    path.parent.mkdir()
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MAKE_KEY, str(path), str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    time.sleep(3)  # every process is waiting for the start
    go.touch()
    keys = set()
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        keys.add(out.strip())
    assert len(keys) == 1 and keys.pop().encode() == path.read_bytes().strip()
    assert [p.name for p in path.parent.iterdir()] == ["pseudonym.key"]  # no partial files left


def test_padus_own_key_file_must_be_private(tmp_path):
    path = tmp_path / "pseudonym.key"
    own_key(path)
    path.chmod(0o644)
    with pytest.raises(KeySettingsError, match="chmod 600"):
        PseudonymKey(own_key_file=str(path)).read()
    path.write_text("short\n")
    path.chmod(0o600)
    with pytest.raises(KeySettingsError, match="damaged"):
        PseudonymKey(own_key_file=str(path)).read()


def test_a_configured_key_file_open_to_others_is_used_with_a_warning(tmp_path):
    path = tmp_path / "key"
    path.write_text(os.urandom(24).hex() + "\n")
    path.chmod(0o640)
    key = PseudonymKey(key_file=str(path))
    assert key.read() == path.read_bytes().strip()
    assert any("can be read by other users" in n for n in key.notices())
    path.chmod(0o400)
    assert key.notices() == []


def test_a_postgresql_warehouse_without_a_configured_key_is_refused(landing):
    url = "postgresql+psycopg2://padu@127.0.0.1:1/nowhere"  # refused before connecting
    with pytest.raises(SettingsError, match="PADU_PSEUDONYM_KEY_FILE"):
        build_resources(landing=str(landing), warehouse_url=url)
    result = CliRunner().invoke(main, ["run", "--landing", str(landing), "--warehouse", url])
    assert result.exit_code != 0
    assert "no pseudonym key is configured" in result.output
    assert "PADU_PSEUDONYM_KEY_FILE" in result.output and "PADU_PSEUDONYM_KEY" in result.output


def test_production_mode_does_not_use_padus_own_key(tmp_path, landing, monkeypatch):
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    own_key(tmp_path / "pseudonym.key")
    monkeypatch.setenv("PADU_MODE", "production")
    with pytest.raises(SettingsError, match="no pseudonym key is configured"):
        build_resources(landing=str(landing), warehouse_url=url)


def test_rekey_gives_padus_own_key_file_the_new_key(tmp_path, landing):
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    runner = CliRunner()
    new = tmp_path / "new.key"
    new.write_text(os.urandom(32).hex() + "\n")
    refused = runner.invoke(main, ["rekey", "--new-key-file", str(new), "--warehouse", url])
    assert refused.exit_code != 0 and "no key in use" in refused.output  # none made yet
    assert run_pipeline(landing, url, None, echo=lambda _: None)
    before = _links(url)
    done = runner.invoke(main, ["rekey", "--new-key-file", str(new), "--warehouse", url])
    assert done.exit_code == 0, done.output
    key_file = tmp_path / "pseudonym.key"
    assert key_file.read_bytes().strip() == new.read_bytes().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert run_pipeline(landing, url, None, echo=lambda _: None, reload=True)
    after = _links(url)
    assert (after["resident_id"] == before["resident_id"]).all()  # IDs kept
    assert not (after["record_key"] == before["record_key"]).any()  # every key rekeyed
