"""The commands and queries of the documentation run as written, so they cannot drift.

Every fenced ``sh``/``bash``/``shell``/``console`` block and every ``sql`` block of README.md
and docs/**/*.md is found, wherever it is, and checked against one small demo region made
for this module (``padu demo`` with few people, in a folder of its own that stands for the
repository: the documented defaults ``data/demo/landing``, ``data/warehouse.duckdb`` apply):

- a command block runs in ``bash -e`` in that folder, with the virtual environment's
  ``padu`` and ``dagster`` first on PATH; ``URL`` (a whole word) stands for the warehouse's
  URL. In a ``console`` block only the lines after ``$ `` are commands. It must exit 0.
- a ``sql`` block runs statement by statement on the demo's DuckDB warehouse.
- ``<!-- synopsis -->`` just before a block: a usage summary (``[--option]``, ``a | b``);
  not run, but each of its lines must name real ``padu`` commands, and every ``--option`` it
  shows must be one of theirs.
- ``<!-- not run: REASON -->`` just before a block: skipped, and listed with its reason. Only
  for what cannot run here (a server, the whole test suite, files outside the folder).

A block that fails, or a fenced block of another language with one of these marks, fails its
test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from connectors.warehouse.engine import Warehouse

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"sh", "bash", "shell", "console"}
QUERIES = {"sql"}
PEOPLE = 300
REGION = "6309"
WAREHOUSE = "duckdb:///data/warehouse.duckdb"  # the documented default, in the folder
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<language>[\w+-]*)\s*$")
_MARK = re.compile(r"^\s*<!--\s*(?P<mark>synopsis|not run:\s*(?P<reason>.*?))\s*-->\s*$")
#: Environment settings that would take a command elsewhere than the demo's defaults.
_SETTINGS = re.compile(r"^(PADU_|DAGSTER_HOME$)")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    language: str
    text: str
    mark: str | None  # "synopsis", "not run: ...", or None
    reason: str | None

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    docs = ROOT / "docs"
    return [ROOT / "README.md", *(sorted(docs.rglob("*.md")) if docs.is_dir() else [])]


def fenced_blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path`` (also those indented in a list), with its mark."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    number = 0
    while number < len(lines):
        opening = _FENCE.match(lines[number])
        if not opening:
            number += 1
            continue
        indent = len(opening["indent"])
        body: list[str] = []
        end = number + 1
        while end < len(lines) and not re.match(r"^\s*```\s*$", lines[end]):
            body.append(lines[end][indent:] if lines[end][:indent].isspace() else lines[end])
            end += 1
        previous = next((lines[i] for i in range(number - 1, -1, -1) if lines[i].strip()), "")
        mark = _MARK.match(previous)
        blocks.append(
            Block(
                path=path,
                line=number + 1,
                language=opening["language"].lower(),
                text="\n".join(body) + "\n",
                mark=mark["mark"] if mark else None,
                reason=mark["reason"] if mark else None,
            )
        )
        number = end + 1
    return blocks


ALL_BLOCKS = [b for path in documents() for b in fenced_blocks(path)]
CHECKED = [b for b in ALL_BLOCKS if b.language in COMMANDS | QUERIES]


def test_the_documents_have_commands_and_queries():
    assert any(b.language in COMMANDS and b.mark is None for b in CHECKED)
    assert any(b.language in QUERIES for b in CHECKED)


def test_marks_are_only_on_checked_blocks_and_say_why():
    for block in ALL_BLOCKS:
        if block.mark is None:
            continue
        assert block.language in COMMANDS, (
            f"{block.name}: {block.mark!r} on a {block.language!r} block"
        )
        if block.mark != "synopsis":
            assert block.reason, f"{block.name}: 'not run' needs a reason"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A folder standing for the repository after ``make demo``, with a small region: the
    demo is run in this process (``padu demo`` in the folder, without the PADU_* settings
    of the shell), which saves starting one."""
    from click.testing import CliRunner

    from pipelines.cli import main

    base = tmp_path_factory.mktemp("docs")
    with pytest.MonkeyPatch.context() as patch:
        for name in [k for k in os.environ if _SETTINGS.match(k) and k != "PADU_QUALITY_DOCS"]:
            patch.delenv(name)
        patch.chdir(base)
        done = CliRunner().invoke(main, ["demo", "--people", str(PEOPLE), "--region", REGION])
    assert done.exit_code == 0, done.output[-3000:]
    return base


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _SETTINGS.match(k)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _shell(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash") or "/bin/bash"
    return subprocess.run(
        [bash, "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
    )


def _script(block: Block) -> str:
    text = block.text
    if block.language == "console":
        text = "\n".join(line[2:] for line in text.splitlines() if line.startswith("$ "))
    return re.sub(r"\bURL\b", WAREHOUSE, text)


def _statements(sql: str) -> list[str]:
    """The statements of a block, comments dropped (the documents' SQL holds no ';' or '--'
    inside a literal)."""
    text = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [s.strip() for s in text.split(";") if s.strip()]


def _synopsis_problems(text: str) -> list[str]:
    """What in a usage summary no padu command has: each line must name a command, and each
    --option must be an option of one of the commands the line names."""
    from pipelines.cli import main

    problems = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line:
            continue
        if not line.startswith("padu "):
            problems.append(f"{line!r}: not a padu command")
            continue
        named: list[click.Command] = []
        group: click.Group | None = None
        options: list[str] = []
        for word in re.findall(r"[^\s\[\]|]+", line):
            if word == "padu":
                group = main
            elif word.startswith("-"):
                options.append(word.split("=", 1)[0])
            elif group is not None and word in group.commands:
                command = group.commands[word]
                if isinstance(command, click.Group):
                    group = command
                else:
                    named.append(command)
        if not named:
            problems.append(f"{line!r}: names no padu command")
            continue
        known = {"--help", *(o for p in main.params for o in p.opts)}
        known |= {o for command in named for p in command.params for o in p.opts}
        problems += [f"{line!r}: no option {o}" for o in options if o not in known]
    return problems


@pytest.mark.parametrize("block", CHECKED, ids=lambda b: b.name)
def test_documented_block(block: Block, folder: Path):
    if block.mark and block.mark.startswith("not run"):
        pytest.skip(f"{block.name}: {block.reason}")
    if block.mark == "synopsis":
        assert not _synopsis_problems(block.text), _synopsis_problems(block.text)
        return
    if block.language in QUERIES:
        store = Warehouse(f"duckdb:///{folder / 'data' / 'warehouse.duckdb'}")
        try:
            for statement in _statements(block.text):
                store.query(statement)
        finally:
            store.dispose()
        return
    done = _shell(_script(block), folder)
    assert done.returncode == 0, (
        f"{block.name} failed ({done.returncode}); fix it, or mark it "
        f"<!-- not run: REASON --> if it cannot run in a test:\n{_script(block)}\n"
        f"{done.stdout[-3000:]}"
    )
