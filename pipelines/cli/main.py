"""The ``padu`` command."""

from __future__ import annotations

import click

from pipelines.cli import commands
from pipelines.cli.errors import _Padu
from pipelines.cli.quality import quality
from pipelines.cli.review import review
from pipelines.cli.serve import serve
from pipelines.cli.warehouse import warehouse


@click.group(cls=_Padu, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--debug", is_flag=True,
    help="On an error, show its full traceback (for a bug report) instead of a summary.",
)  # fmt: skip
def main(debug: bool) -> None:
    """padu: reconcile Disdukcapil, KPU and BPS resident lists into one resident table."""


for command in (commands.generate, commands.run, commands.demo, commands.report, review,
                commands.evaluate, commands.purge, commands.rekey, warehouse):  # fmt: skip
    main.add_command(command)
# The reviewers' and auditors' workbench (workbench/).
main.add_command(serve)
# Linkage quality from a labelled sample of candidate pairs (padu quality).
main.add_command(quality)
