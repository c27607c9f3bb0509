"""Errors of the padu command: one clear message, no traceback and no password; the whole
traceback with ``padu --debug``."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

import connectors.report.page
from pipelines.cli import main

SECRET = "s3cr3t-Pa55"
DOWN = f"postgresql://padu:{SECRET}@127.0.0.1:1/padu"  # nothing listens on port 1


@pytest.fixture
def broken_report(monkeypatch):
    """``padu report`` with a bug: it raises an error padu does not expect."""

    def build_report(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError(f"no column 'x' in\n {DOWN}")

    monkeypatch.setattr(connectors.report.page, "build_report", build_report)


def test_an_unexpected_error_is_one_line_and_how_to_see_more(broken_report, tmp_path):
    warehouse = f"duckdb:///{tmp_path / 'w.duckdb'}"
    (tmp_path / "w.duckdb").touch()
    result = CliRunner().invoke(main, ["report", "--warehouse", warehouse, "--out", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        "Error: RuntimeError: no column 'x' in postgresql://padu:***@127.0.0.1:1/padu",
        "run again with --debug (padu --debug COMMAND ...) for the traceback",
    ]
    assert "Traceback" not in result.output


def test_debug_lets_the_traceback_through(broken_report, tmp_path):
    (tmp_path / "w.duckdb").touch()
    result = CliRunner().invoke(
        main,
        ["--debug", "report", "--warehouse", f"duckdb:///{tmp_path / 'w.duckdb'}"],
    )
    assert isinstance(result.exception, RuntimeError)  # raised as it is, so Python prints it


def test_a_warehouse_that_cannot_be_reached_is_one_line_without_its_password(monkeypatch):
    monkeypatch.delenv("PADU_WAREHOUSE_URL", raising=False)
    for command in (["review", "list"], ["purge", "--source", "kpu", "--before", "2026-01-01"]):
        result = CliRunner().invoke(main, [*command, "--warehouse", DOWN])
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        assert lines[0].startswith(
            "Error: cannot connect to the warehouse postgresql+psycopg2://padu:***@127.0.0.1:1/"
        )
        assert "Connection refused" in lines[0]
        assert SECRET not in result.output


def test_the_real_command_prints_one_line_or_with_debug_the_traceback(tmp_path):
    padu = [sys.executable, "-m", "pipelines.cli"]
    command = ["report", "--warehouse", f"sqlite:///{tmp_path / 'w.db'}", "--out", str(tmp_path)]
    plain = subprocess.run([*padu, *command], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 1
    assert (
        plain.stderr.strip()
        == "Error: unsupported warehouse backend 'sqlite' (duckdb or postgresql)"
    )
    debug = subprocess.run([*padu, "--debug", *command], capture_output=True, text=True, timeout=60)
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "UnsupportedWarehouseError" in debug.stderr


def test_generate_without_the_synthetic_extra_says_how_to_install_it(tmp_path):
    # A production install has no Faker: the generator is an optional extra. Run in a fresh
    # interpreter where importing faker fails, as it does when it is not installed.
    script = (
        "import sys\n"
        "sys.modules['faker'] = None\n"  # makes `import faker` raise ModuleNotFoundError
        "from pipelines.cli import main\n"
        f"main(['generate', '--region', '63.09', '--people', '10', '--out', {str(tmp_path)!r}])\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 1
    assert "pip install 'padu[synthetic]'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(tmp_path.iterdir())  # nothing written
