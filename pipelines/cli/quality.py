"""``padu quality``: linkage quality without a truth file. A stratified sample of a region's
candidate pairs is labelled by reviewers, and precision and recall are estimated from the
labels with 95% intervals (``connectors.warehouse.quality_sample``, ``matching.quality``)."""

from __future__ import annotations

import os

import click

from pipelines.cli.options import REGION, WAREHOUSE_HELP, existing_warehouse, person


@click.group()
def quality() -> None:
    """Estimate precision and recall from a labelled sample of candidate pairs."""


@quality.command("sample")
@click.option("--region", type=REGION, required=True, help="kab/kota code, e.g. 6309 or 63.09")
@click.option("--size", type=click.IntRange(min=1), default=400, show_default=True,
              help="Items to draw, over all strata.")  # fmt: skip
@click.option("--seed", type=int, help="The random draw, to repeat it (default: new each time).")
@click.option("--by", "drawn_by", help="Who draws the sample (default: $USER).")
@click.option("--warehouse", help=WAREHOUSE_HELP)
def quality_sample(
    region: str, size: int, seed: int | None, drawn_by: str | None, warehouse: str | None
) -> None:
    """Draw a new sample of the region's candidate pairs for labelling.

    The region's current records are scored again as the last run scored them, and the
    pairs are split into strata by source pair, linked or not, and match-probability band,
    with a stratum per source pair of records that have no counterpart in the other source
    (each with its best loose candidate). The new sample replaces the region's current one
    for labelling and estimates; earlier samples and their labels are kept.
    """
    from connectors.warehouse.engine import Warehouse
    from connectors.warehouse.quality_sample import QualityError, draw_sample

    store = Warehouse(existing_warehouse(warehouse))
    try:
        drawn = draw_sample(store, region, size, seed, drawn_by or os.environ.get("USER"))
    except QualityError as err:
        raise click.ClickException(str(err)) from None
    finally:
        store.dispose()
    click.echo(f"sample {drawn.sample_id} of {region}: {drawn.items} items in "
               f"{int((drawn.strata['sampled'] > 0).sum())} strata")  # fmt: skip
    for row in drawn.strata.itertuples(index=False):
        click.echo(f"  {row.stratum}: {row.sampled} of {row.population:,}")


@quality.command("list")
@click.option("--region", type=REGION, help="kab/kota code (default: every sampled region)")
@click.option("--all", "everything", is_flag=True, help="Labelled items too.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--warehouse", help=WAREHOUSE_HELP)
def quality_list(region: str | None, everything: bool, limit: int, warehouse: str | None) -> None:
    """Show the items of the current sample (of the region, or of each sampled region)
    waiting for a label, in queue order: item id, stratum, and the two rows (FILE:ROW; the
    workbench shows them side by side)."""
    from connectors.warehouse.engine import Warehouse
    from connectors.warehouse.quality_sample import sample_items, sampled_regions

    store = Warehouse(existing_warehouse(warehouse))
    try:
        regions = [region] if region else sampled_regions(store)
        found = [(r, sample_items(store, r, unlabelled_only=not everything)) for r in regions]
    finally:
        store.dispose()
    found = [(r, items) for r, items in found if len(items)]
    if not found:
        click.echo("no sample: padu quality sample" if everything else "nothing to label")
        return
    for name, items in found:
        click.echo(f"{name}: {len(items)} item(s)" + ("" if everything else " waiting for a label"))
        for row in items.head(limit).itertuples(index=False):
            right = (
                f"{row.right_file}:{row.right_row}" if isinstance(row.right_key, str)
                else "(no candidate)"
            )  # fmt: skip
            p = "" if row.probability != row.probability else f"  p={row.probability:.3f}"
            label = f"  [{row.label}]" if isinstance(row.label, str) else ""
            click.echo(f"{row.item_id}  {row.stratum}  {row.left_file}:{row.left_row}  {right}"
                       f"{p}{label}")  # fmt: skip


@quality.command("label")
@click.argument("item", type=int)
@click.argument("label", type=click.Choice(["match", "no_match", "unsure"]))
@click.option("--note", help="Why, for the next reviewer.")
@click.option("--by", "decided_by", help="Who labels (default: $USER; required without it).")
@click.option("--warehouse", help=WAREHOUSE_HELP)
def quality_label(
    item: int, label: str, note: str | None, decided_by: str | None, warehouse: str | None
) -> None:
    """Label sample item ITEM: the two rows are one person (match), are not (no_match), or
    you cannot tell (unsure: left out of the estimates, and counted). A label replaces the
    item's earlier one."""
    from connectors.warehouse.engine import Warehouse
    from connectors.warehouse.quality_sample import QualityError, label_item

    by = person(decided_by, "you are")
    store = Warehouse(existing_warehouse(warehouse))
    try:
        label_item(store, item, label, by, note)
    except QualityError as err:
        raise click.ClickException(str(err)) from None
    finally:
        store.dispose()
    click.echo(f"item {item}: {label} by {by}")


def _share(value: float, low: float, high: float) -> str:
    if value != value:  # nan
        return "-"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


@quality.command("estimate")
@click.option("--region", type=REGION, required=True, help="kab/kota code, e.g. 6309 or 63.09")
@click.option("--warehouse", help=WAREHOUSE_HELP)
def quality_estimate(region: str, warehouse: str | None) -> None:
    """Precision and recall per source pair with 95% intervals, from the labels of the
    region's current sample (design-weighted; see docs/data-quality.md)."""
    from connectors.warehouse.engine import Warehouse
    from connectors.warehouse.quality_sample import estimates

    store = Warehouse(existing_warehouse(warehouse))
    try:
        found = estimates(store, region)
    finally:
        store.dispose()
    if found.empty:
        raise click.ClickException(f"no quality sample for {region}: padu quality sample first")
    click.echo(f"sample {int(found['sample_id'].iloc[0])} of {region}")
    click.echo(
        "source pair        precision [95% CI]       recall [95% CI]          labelled unsure"
    )
    for row in found.itertuples(index=False):
        missing = (f"  ({row.strata_unlabelled} stratum/strata without a label left out)"
                   if row.strata_unlabelled else "")  # fmt: skip
        click.echo(
            f"{row.source_pair:<18} "
            f"{_share(row.precision, row.precision_low, row.precision_high):<24} "
            f"{_share(row.recall, row.recall_low, row.recall_high):<24} "
            f"{row.labelled:>8} {row.unsure:>6}{missing}"
        )
