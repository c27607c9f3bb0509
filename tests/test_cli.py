"""The padu command: help on every sub-command, clear errors."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pipelines.cli import main


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["generate"],
        ["run"],
        ["demo"],
        ["evaluate"],
        ["report"],
        ["review"],
        ["review", "list"],
        ["review", "decide"],
    ],
)
def test_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
    assert len(result.output.splitlines()) > 3


def test_every_subcommand_is_listed():
    result = CliRunner().invoke(main, ["--help"])
    for name in main.commands:
        assert name in result.output


def test_unknown_region_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(
        main, ["generate", "--region", "0000", "--people", "10", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "unknown Kemendagri kab/kota code '0000'" in result.output


def test_run_on_missing_landing_folder_is_refused(tmp_path):
    result = CliRunner().invoke(main, ["run", "--landing", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "does not exist" in result.output
