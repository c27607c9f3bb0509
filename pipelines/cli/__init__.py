"""The ``padu`` command line: ``main`` (the command group), ``run_pipeline`` (what ``padu run``
does, for scripts and tests)."""

from pipelines.cli.main import main
from pipelines.cli.running import run_pipeline

__all__ = ["main", "run_pipeline"]
