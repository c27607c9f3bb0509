"""The pages: each a function of the request's ``Ctx``, returning a response.

Pages read through ``connectors.warehouse.workbench`` (all SQL is there) with the signed-in
person's store; decisions go through ``connectors.warehouse.review``, as ``padu review decide``
records them. Every display of a source row's personal fields is written to ``access_log``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from starlette.responses import Response

from connectors.report.charts import histogram
from connectors.report.page import safe_cell
from connectors.warehouse import quality_sample
from connectors.warehouse import review as decisions
from connectors.warehouse import workbench as wb
from workbench import pairs
from workbench.app import Ctx, Refused
from workbench.auth import Session, SignInRefused
from workbench.masking import masked

T = TypeVar("T")
PAGE_SIZE = 50
#: Where a sign-in may go on to: a path of this site (not ``//host``, another site).
#: A sample item's number as a form sends it (ASCII digits; far below any integer limit).
_ITEM_ID = re.compile(r"[0-9]{1,12}")
_SAFE_NEXT = re.compile(r"^/(?!/)[A-Za-z0-9/_.\-]*$")
#: A refused sign-in answers after this pause, which slows guessing passwords or tokens.
REFUSAL_PAUSE = 1.0


def attempt(read: Callable[[], T]) -> T | wb.Forbidden:
    """``read()``, or the ``Forbidden`` it raised: a section of a page the role may not read
    shows that instead of the whole page failing."""
    try:
        return read()
    except wb.Forbidden as err:
        return err


# -- signing in ----------------------------------------------------------------------------


def sign_in(ctx: Ctx) -> Response:
    target = ctx.query.get("next") or ctx.form.get("next") or "/"
    target = target if _SAFE_NEXT.match(target) else "/"
    if not ctx.app.sessions.needs_sign_in:
        return ctx.redirect(target)
    error = ""
    if ctx.request.method == "POST":
        try:
            ctx.new_session = ctx.app.sessions.sign_in(
                ctx.session, ctx.form.get("name", ""), ctx.form.get("secret", "")
            )
            return ctx.redirect(target)
        except SignInRefused as err:
            ctx.pause = REFUSAL_PAUSE  # waited out of the worker threads, before answering
            error = str(err)
    return ctx.render(
        "signin.html", status=401 if error else 200, error=error, next=target,
        with_role=ctx.app.settings.signs_in_with_role,
    )  # fmt: skip


def sign_out(ctx: Ctx) -> Response:
    ctx.app.sessions.sign_out(ctx.session)
    return ctx.redirect("/signin" if ctx.app.sessions.needs_sign_in else "/")


def may_read_report(session: Session) -> bool:
    """The auditor's report lists findings with their source rows: for those who may read
    the discrepancy list."""
    return session.store is not None and wb.may_read(session.store, "discrepancy")


# -- overview ------------------------------------------------------------------------------


def overview(ctx: Ctx) -> Response:
    store = ctx.store
    verdicts = attempt(lambda: wb.latest_verdicts(store))
    if isinstance(verdicts, pd.DataFrame):
        verdicts = verdicts.assign(docs_link=[docs_link(ctx, p) for p in verdicts["data_docs"]])
    report = ctx.app.settings.report_dir
    return ctx.render(
        "overview.html",
        regions=attempt(lambda: wb.regions(store)),
        runs=attempt(lambda: wb.latest_runs(store)),
        files=attempt(lambda: wb.load_accounting(store)),
        verdicts=verdicts,
        stale=attempt(lambda: wb.stale_sources(store)),
        report=bool(report and (report / "report.html").is_file()),
    )


def docs_link(ctx: Ctx, page: object) -> str:
    """The workbench's address of a Data Docs page, when it lies in the served docs folder."""
    root = ctx.app.settings.docs_dir
    if not isinstance(page, str) or not page or root is None:
        return ""
    try:
        relative = Path(page).resolve().relative_to(root.resolve())
    except ValueError:
        return ""
    return "/data-docs/" + urllib.parse.quote(relative.as_posix())


# -- the review queue ----------------------------------------------------------------------


def review(ctx: Ctx) -> Response:
    """The most useful pair waiting (of ``?region=``, else of every region): undecided pairs
    first, then those a reviewer marked unsure, shown with the reviewer's note."""
    store = ctx.store
    region = ctx.query.get("region") or None
    waiting = wb.next_pairs(store, limit=1, region=region)
    progress = wb.review_progress(store, region)
    if waiting.empty:
        return ctx.render(
            "review.html", pair=None, progress=progress, region=region,
            regions=wb.queue_regions(store),
        )  # fmt: skip
    return _pair_page(ctx, waiting.iloc[0], progress, region)


def review_pair(ctx: Ctx) -> Response:
    """One queued pair, by its record keys (``?left=KEY&right=KEY``)."""
    left, right = ctx.query.get("left", ""), ctx.query.get("right", "")
    row = wb.queued_pair(ctx.store, left, right)
    if row is None:
        raise Refused(404, "that pair is not in the review queue (a run may have decided it)")
    return _pair_page(ctx, row, wb.review_progress(ctx.store), None)


def _pair_page(
    ctx: Ctx, queued: pd.Series, progress: dict[str, int], region: str | None
) -> Response:
    store = ctx.store
    refs = [
        (str(queued["left_file"]), int(queued["left_row"])),
        (str(queued["right_file"]), int(queued["right_row"])),
    ]
    view = pair_view(ctx, refs, "review")
    left_key, right_key = str(queued["left_key"]), str(queued["right_key"])
    rivals = {
        side: _rivals(store, key, left_key, right_key)
        for side, key in (("left", left_key), ("right", right_key))
    }
    return ctx.render(
        "review.html",
        pair={k: None if _missing(v) else v for k, v in queued.to_dict().items()},
        view=view,
        waterfall=pairs.waterfall(queued, view["levels"]),
        rivals=rivals,
        progress=progress,
        region=region,
        regions=wb.queue_regions(store),
    )


def _missing(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))  # type: ignore[arg-type]


def pair_view(ctx: Ctx, refs: list[tuple[str, int]], purpose: str) -> dict[str, Any]:
    """Two (or one) source rows side by side, their comparison levels, and their display
    recorded in access_log."""
    rows = wb.source_rows(ctx.store, refs)
    by_ref = {(str(r["source_file"]), int(r["source_row"])): r for _, r in rows.iterrows()}
    found = [by_ref[ref] for ref in refs if ref in by_ref]
    if len(found) != len(refs):
        raise Refused(404, "a row of this pair is no longer in the warehouse")
    wb.log_access(ctx.store, ctx.user, pd.DataFrame(found), purpose)
    if len(found) == 1:
        lone = found[0]
        empty = pd.Series({c: None for c in lone.index})
        return {
            "fields": pairs.side_by_side(lone, empty),
            "levels": {},
            "keys": [lone["record_key"]],
            "against": {},
        }
    left, right = found
    return {
        "fields": pairs.side_by_side(left, right),
        "levels": pairs.field_levels(left, right),
        "keys": [left["record_key"], right["record_key"]],
        "against": pairs.against(left, right),
    }


def _rivals(store: wb.Warehouse, key: str, left_key: str, right_key: str) -> dict[str, Any]:
    queued = wb.rival_pairs(store, key)
    mine = {frozenset((left_key, right_key))}
    queued = queued[
        [
            frozenset(p) not in mine
            for p in zip(queued["left_key"], queued["right_key"], strict=True)
        ]
    ]
    linked = wb.linked_rows_of_record(store, key)
    return {"queued": queued, "linked": linked[linked["record_key"] != key]}


def decide(ctx: Ctx) -> Response:
    """Record a decision on a queued pair (match, no_match, or unsure: stored, not applied,
    the pair stays queued after the undecided ones), with the reviewer's note."""
    left, right = ctx.form.get("left_key", ""), ctx.form.get("right_key", "")
    decision = ctx.form.get("decision", "")
    queued = wb.queued_pair(ctx.store, left, right)
    if queued is None:
        raise Refused(404, "that pair is not in the review queue (a run may have decided it)")
    back = "/review" + (
        "?" + urllib.parse.urlencode({"region": ctx.form["region"]})
        if ctx.form.get("region")
        else ""
    )
    if decision not in decisions.DECISIONS:
        raise Refused(400, "the decision must be match, no_match or unsure")
    try:
        decisions.record_decision(
            ctx.store,
            (str(queued["left_file"]), int(queued["left_row"])),
            (str(queued["right_file"]), int(queued["right_row"])),
            decision,
            ctx.user,
            note=ctx.form.get("note"),
        )
    except decisions.ReviewError as err:
        raise Refused(400, str(err)) from None
    return ctx.redirect(back)


# -- residents -----------------------------------------------------------------------------


def resident(ctx: Ctx) -> Response:
    store = ctx.store
    resident_id = ctx.request.path_params["resident_id"]
    found = wb.resident(store, resident_id)
    if found is None:
        raise Refused(404, "no resident with that ID (a later run may have merged it)")
    links = attempt(lambda: wb.resident_links(store, resident_id))
    personal: pd.DataFrame | wb.Forbidden | None = None
    if isinstance(links, pd.DataFrame) and not links.empty:
        refs = [
            (str(f), int(r)) for f, r in zip(links["source_file"], links["source_row"], strict=True)
        ]
        personal = attempt(lambda: wb.source_rows(store, refs))
        if isinstance(personal, pd.DataFrame):
            wb.log_access(store, ctx.user, personal, "resident")
            personal = _resident_rows(personal)
    return ctx.render(
        "resident.html",
        resident=found.to_dict(),
        links=links,
        personal=personal,
        history=attempt(lambda: wb.resident_history(store, resident_id)),
        findings=attempt(lambda: wb.resident_findings(store, resident_id)),
        cross=attempt(lambda: wb.resident_cross_region(store, resident_id)),
    )


def _resident_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The personal fields of a resident's source rows as shown: NIK and KK masked whole."""
    return pd.DataFrame(
        {
            "source": rows["source"],
            "row": rows["source_file"].astype(str) + ":" + rows["source_row"].astype(str),
            "name": rows["name_raw"],
            "sex": rows["sex"],
            "birth_date": rows["birth_date"],
            "NIK": rows["nik"].map(masked),
            "KK": rows["kk"].map(masked),
            "desa": (rows["desa_code"].fillna("") + " " + rows["desa_name"].fillna("")).str.strip(),
            "address": rows["address"],
            "tps": rows["tps"],
            "alive": rows["alive"],
            "snapshot": rows["file_snapshot"],
        }
    ).sort_values(["source", "row"])


# -- discrepancies -------------------------------------------------------------------------


def _filter(ctx: Ctx) -> wb.FindingFilter:
    return wb.FindingFilter(**{k: ctx.query.get(k) or None for k in wb.FINDING_FILTERS})


def discrepancies(ctx: Ctx) -> Response:
    where = _filter(ctx)
    total = wb.finding_count(ctx.store, where)
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    try:
        page = int(ctx.query.get("page", "1"))
    except ValueError:
        page = 1
    page = min(max(page, 1), pages)  # a page past the last shows the last
    shown = wb.findings(ctx.store, where, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    params = {k: v for k, v in vars(where).items() if v}
    return ctx.render(
        "discrepancies.html",
        findings=shown,
        total=total,
        page=page,
        pages=pages,
        where=vars(where),
        kinds=sorted(wb.finding_kinds(ctx.store)),
        query=urllib.parse.urlencode(params),
    )


def discrepancies_csv(ctx: Ctx) -> Response:
    """The filtered findings as CSV, cells that a spreadsheet would run as formulas escaped
    (as the report's exports are)."""
    frame = wb.findings(ctx.store, _filter(ctx), limit=None)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(frame.columns)
    for row in frame.itertuples(index=False):
        writer.writerow([safe_cell("" if pd.isna(v) else str(v)) for v in row])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="discrepancies.csv"'},
    )


# -- quality -------------------------------------------------------------------------------


def quality(ctx: Ctx) -> Response:
    store = ctx.store
    history = wb.quality_history(store)
    history = history.assign(docs_link=[docs_link(ctx, p) for p in history["data_docs"]])
    weights = attempt(lambda: wb.queue_weights(store))
    scores = attempt(lambda: wb.link_scores(store))
    outputs = attempt(lambda: wb.run_outputs(store))
    estimates = attempt(lambda: _estimates(store))
    blocking = attempt(lambda: wb.blocking_figures(store))
    return ctx.render(
        "quality.html",
        history=history,
        counts=history.groupby(["suite", "status"]).size().rename("runs").reset_index(),
        methods=attempt(lambda: wb.link_methods(store)),
        outputs=_outputs(outputs),
        weight_chart=_weight_chart(weights),
        score_chart=_score_chart(scores),
        queued=len(weights) if isinstance(weights, pd.DataFrame) else weights,
        estimates=estimates,
        blocking=_blocking(blocking),
    )


def _blocking(figures: pd.DataFrame | wb.Forbidden) -> pd.DataFrame | wb.Forbidden:
    """The blocking counts as shown: per region and rule, then each region's total (its
    new pairs add up to the pairs scored)."""
    if not isinstance(figures, pd.DataFrame) or figures.empty:
        return figures
    counts = ["blocks", "candidate_pairs", "new_pairs", "capped_blocks", "capped_records",
              "match_pairs", "review_pairs"]  # fmt: skip
    parts = []
    for region, rules in figures.groupby("region", sort=True):
        total = {"region": region, "rule": "all (pairs scored)", "run_id": rules["run_id"].iloc[0],
                 "new_pairs": int(rules["new_pairs"].sum())}  # fmt: skip
        parts += [rules, pd.DataFrame([total])]
    shown = pd.concat(parts, ignore_index=True)
    return shown[["region", "rule", *counts, "run_id"]]


def _estimates(store: wb.Warehouse) -> pd.DataFrame:
    """Each region's precision and recall estimates from its current quality sample."""
    frames = [quality_sample.estimates(store, str(r)) for r in wb.regions(store)["region"]]
    found = [f for f in frames if not f.empty]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame()


def _outputs(outputs: pd.DataFrame | wb.Forbidden) -> pd.DataFrame | wb.Forbidden:
    if not isinstance(outputs, pd.DataFrame):
        return outputs
    rows = []
    for row in outputs.itertuples(index=False):
        counts = json.loads(row.outputs) if isinstance(row.outputs, str) else {}
        rows.append({"region": row.region, "run_id": row.run_id, "finished_at": row.finished_at,
                     **{k: counts.get(k) for k in ("resident", "resident_link", "review_queue",
                                                   "discrepancy", "quarantine")}})  # fmt: skip
    return pd.DataFrame(rows)


def _weight_chart(weights: pd.DataFrame | wb.Forbidden) -> str:
    if not isinstance(weights, pd.DataFrame) or weights.empty:
        return ""
    values = weights["match_weight"].astype(float).to_numpy()
    low, high = float(np.floor(values.min())), float(np.ceil(values.max()))
    edges = np.linspace(low, max(high, low + 1), 11)
    counts, _ = np.histogram(values, bins=edges)
    return histogram(
        "Match weight of the pairs waiting for review", [float(e) for e in edges],
        [int(c) for c in counts], log=False,
    )  # fmt: skip


def _score_chart(scores: pd.DataFrame | wb.Forbidden) -> str:
    if not isinstance(scores, pd.DataFrame) or scores.empty:
        return ""
    values = scores["link_score"].astype(float).to_numpy()
    edges = np.linspace(0.5, 1.0, 11)
    counts, _ = np.histogram(values[values >= 0.5], bins=edges)
    return histogram(
        "Link score (match probability) of the linked source rows", [float(e) for e in edges],
        [int(c) for c in counts], below=int((values < 0.5).sum()),
    )  # fmt: skip


# -- the quality sample's review queue -----------------------------------------------------


def sample_review(ctx: Ctx) -> Response:
    """The next unlabelled item of a region's current quality sample (``?region=``, else the
    first region), in the review queue's side-by-side view."""
    store = ctx.store
    regions = [str(r) for r in wb.regions(store)["region"]]
    region = ctx.query.get("region") or (regions[0] if regions else "")
    items = (
        quality_sample.sample_items(store, region, unlabelled_only=True)
        if region in regions
        else pd.DataFrame()
    )
    skipped = ctx.session.skipped
    todo = [r for _, r in items.iterrows() if ("sample", str(r["item_id"])) not in skipped]
    if not todo and not items.empty:
        todo = [items.iloc[0]]
    if not todo:
        return ctx.render(
            "sample.html", item=None, view=None, region=region, regions=regions, left=0
        )
    item = todo[0]
    refs = _item_rows(store, item)
    try:
        view = pair_view(ctx, refs, "quality") if refs else None
    except Refused:  # a row as sampled was purged since: its record's current row
        refs = _item_rows(store, item, as_sampled=False)
        view = pair_view(ctx, refs, "quality") if refs else None
    return ctx.render(
        "sample.html", item=item.to_dict(), view=view, region=region, regions=regions,
        left=len(items),
    )  # fmt: skip


def _item_rows(
    store: wb.Warehouse, item: pd.Series, as_sampled: bool = True
) -> list[tuple[str, int]]:
    """The source rows of a sample item: as sampled (unless not ``as_sampled``), else the
    current rows of its records."""
    refs = []
    for side in ("left", "right"):
        file, row, key = item.get(f"{side}_file"), item.get(f"{side}_row"), item.get(f"{side}_key")
        if as_sampled and isinstance(file, str) and row is not None and not pd.isna(row):
            refs.append((file, int(row)))
        elif isinstance(key, str):
            current = wb.current_rows_of_keys(store, [key])
            if not current.empty:
                refs.append(
                    (str(current.iloc[0]["source_file"]), int(current.iloc[0]["source_row"]))
                )
    return refs


def sample_label(ctx: Ctx) -> Response:
    """Record a label on a sample item (``quality_sample.label_item``), with the note."""
    label = ctx.form.get("decision", "")
    if label not in quality_sample.LABELS:
        raise Refused(400, "the label must be match, no_match or unsure")
    item_id = ctx.form.get("item_id", "")
    if not _ITEM_ID.fullmatch(item_id):
        raise Refused(400, "no such sample item")
    note = ctx.form.get("note", "").strip() or None
    try:
        quality_sample.label_item(ctx.store, int(item_id), label, ctx.user, note)
    except quality_sample.QualityError as err:
        raise Refused(400, str(err)) from None
    if label == "unsure":
        ctx.session.skipped.add(("sample", item_id))
    region = ctx.form.get("region", "")
    return ctx.redirect("/quality/review?" + urllib.parse.urlencode({"region": region}))
