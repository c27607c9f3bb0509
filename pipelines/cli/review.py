"""``padu review``: the pairs waiting for a decision, and recording one."""

from __future__ import annotations

import click

from pipelines.cli.options import WAREHOUSE_HELP, existing_warehouse, person


@click.group()
def review() -> None:
    """Clerical review: pairs the model was unsure about, and your decisions on them."""


@review.command("list")
@click.option("--warehouse", help=WAREHOUSE_HELP)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
def review_list(warehouse: str | None, limit: int) -> None:
    """Show the pairs waiting for review, most likely matches first; then those marked
    unsure, each with who marked it, when, and the note."""
    import pandas as pd

    from connectors.warehouse import summaries
    from connectors.warehouse.engine import Warehouse

    store = Warehouse(existing_warehouse(warehouse))
    store.create_tables()
    pairs = summaries.waiting_pairs(store, limit)
    if pairs.empty:
        click.echo("nothing to review")
    for row in pairs.itertuples():
        click.echo(
            f"{row.left_file}:{row.left_row}  {row.right_file}:{row.right_row}  "
            f"p={row.match_probability:.3f}  {row.explanation}"
        )
        if row.decision == "unsure":
            when = pd.Timestamp(row.decided_at).isoformat(sep=" ")
            note = f": {row.note}" if isinstance(row.note, str) and row.note else ""
            click.echo(f"    unsure ({row.decided_by}, {when}){note}")


def _row_ref(value: str) -> tuple[str, int]:
    file, sep, row = value.rpartition(":")
    if not sep or not row.isdigit():
        raise click.BadParameter(f"{value!r}: expected FILE:ROW, e.g. kpu_dpt_6309_20261101.csv:17")
    return file, int(row)


@review.command("decide")
@click.argument("left")
@click.argument("right")
@click.argument("decision", type=click.Choice(["match", "no_match", "unsure"]))
@click.option("--by", "decided_by", help="Who decided (default: $USER; required without it).")
@click.option(
    "--yes", "-y", is_flag=True,
    help="Record without asking, even when the rows speak against the decision (scripts).",
)  # fmt: skip
@click.option("--note", help="A note kept with the decision, shown to the next reviewer.")
@click.option("--warehouse", help=WAREHOUSE_HELP)
def review_decide(
    left: str, right: str, decision: str, decided_by: str | None, yes: bool,
    note: str | None, warehouse: str | None,
) -> None:  # fmt: skip
    """Record that source rows LEFT and RIGHT (FILE:ROW) are or are not one person, or that
    you are unsure.

    Both rows are shown first (name, sex, birth date, desa, and whether their NIKs agree;
    never the NIK or KK number). When they speak strongly against the decision (for a match:
    different sex, birth dates years apart or different NIKs; for no_match: the same NIK),
    you are asked to confirm; --yes skips the question.

    The decision is kept in the review_decision table and applied by every later run,
    also to later snapshots of the same records. An unsure decision is kept with its note
    but not applied: the run leaves the pair to the model, and it stays in the review queue
    after the undecided pairs until someone decides match or no_match.
    """
    from connectors.warehouse.engine import Warehouse
    from connectors.warehouse.review import ReviewError, pair_evidence, record_decision

    by = person(decided_by, "decided")
    left_ref, right_ref = _row_ref(left), _row_ref(right)
    store = Warehouse(existing_warehouse(warehouse))
    try:
        evidence = pair_evidence(store, left_ref, right_ref)
        click.echo(f"left:  {evidence.left.describe()}")
        click.echo(f"right: {evidence.right.describe()}")
        click.echo(f"NIKs:  {evidence.nik_text()}")
        against = evidence.against(decision)
        if against:
            click.echo(f"These rows speak against {decision}: " + "; ".join(against) + ".")
            if not yes and not click.confirm(f"Record {decision} anyway?", default=False):
                click.echo("nothing recorded")
                raise click.Abort
        record_decision(store, left_ref, right_ref, decision, by, note)
    except ReviewError as err:
        raise click.ClickException(str(err)) from None
    finally:
        store.dispose()
    effect = "applied from the next run"
    if decision == "unsure":
        effect = "not applied: the pair stays in the review queue"
    click.echo(f"recorded: {left} and {right}: {decision} by {by} ({effect})")
