"""Runs suites with Great Expectations 1.x and returns plain results.

One ephemeral context per call: a pandas data source, one dataframe asset per suite with a
whole-dataframe batch definition, a ``ValidationDefinition`` and a ``Checkpoint``; then the
Data Docs are updated in the folder the caller names. The site keeps every validation of every
suite and run: the suites and validation results it is rendered from are kept beside its pages
(``STORES``, inside the same folder), since GX removes from the site the pages of results its
stores no longer hold. Each result names its own page (``SuiteResult.data_docs_page``). The
pages render offline: the styles, scripts and fonts they load from CDNs are copied into the
site and the pages pointed at them (``expectations.data_docs``).

Personal data: results are requested as SUMMARY with ``partial_unexpected_count: 0`` at the
checkpoint (GX ignores ``result_format`` on single expectations), so only counts and
percentages come back; and the frames validated hold no identifiers anyway (see
``expectations.suites``). Great Expectations is imported inside ``run_suites``: the import
alone takes several seconds.

For a Dagster ``@asset_check``: ``result = run_suite(spec, docs_dir=...)``, then
``AssetCheckResult(passed=result.passed, metadata=result.metadata())``, with severity WARN
when ``result.passed`` but ``result.warnings`` is not empty.
"""

from __future__ import annotations

import fcntl
import logging
import math
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from expectations.compiled_templates import keep_compiled
from expectations.data_docs import localise_site
from expectations.rules import Rule, Severity, SuiteSpec

DOCS_SITE = "padu_quality"
#: Subfolder of the Data Docs folder holding the suites and validation results (JSON) the site
#: is built from: counts and percentages only, like the pages.
STORES = "gx_stores"
_DOCS_LOCK = ".build.lock"
#: Validations the Data Docs index lists, newest first (about 30 runs of one region).
INDEX_VALIDATIONS = 200
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
_LONG_DIGITS = re.compile(r"\d{6,}")


@dataclass(frozen=True)
class ExpectationOutcome:
    """The result of one expectation: counts and percentages only."""

    rule: str
    expectation_type: str  # e.g. expect_column_values_to_be_in_set
    column: str | None
    severity: str  # "blocking" or "warning"
    success: bool
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None  # of the non-null values
    description: str
    error: str | None = None  # the exception, if the expectation raised (digits masked)


@dataclass(frozen=True)
class SuiteResult:
    """One suite: ``passed`` when every blocking expectation succeeded."""

    name: str
    passed: bool
    warnings: tuple[str, ...]  # rules of warning severity that failed
    failed_blocking: tuple[str, ...]  # rules of blocking severity that failed
    results: tuple[ExpectationOutcome, ...]
    rows: int
    seconds: float
    data_docs_index: Path | None  # the Data Docs site's index page
    notes: dict[str, Any] = field(default_factory=dict)  # e.g. kecamatan judged for coverage
    data_docs_page: Path | None = None  # this validation's page in the site

    @property
    def status(self) -> str:
        """``passed``, ``warning`` (only warnings failed) or ``failed``."""
        if not self.passed:
            return "failed"
        return "warning" if self.warnings else "passed"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["data_docs_index"] = str(self.data_docs_index) if self.data_docs_index else None
        out["data_docs_page"] = str(self.data_docs_page) if self.data_docs_page else None
        out["status"] = self.status
        return out

    def metadata(self) -> dict[str, Any]:
        """Flat values for Dagster metadata: status, counts, and per rule its unexpected %."""
        meta: dict[str, Any] = {
            "suite": self.name,
            "status": self.status,
            "rows": self.rows,
            "failed_blocking": ", ".join(self.failed_blocking) or "none",
            "warnings": ", ".join(self.warnings) or "none",
            "seconds": round(self.seconds, 2),
            **{f"note:{k}": v for k, v in self.notes.items()},
        }
        for r in self.results:
            value = r.unexpected_percent if r.unexpected_percent is not None else float("nan")
            meta[f"{r.severity}:{r.rule} unexpected %"] = round(value, 4)
        if self.data_docs_page is not None:
            meta["data_docs"] = str(self.data_docs_page)
        if self.data_docs_index is not None:
            meta["data_docs_index"] = str(self.data_docs_index)
        return meta


def run_suite(
    spec: SuiteSpec, *, docs_dir: Path | str | None = None, run_name: str | None = None
) -> SuiteResult:
    """Validate one suite; see ``run_suites``."""
    return run_suites([spec], docs_dir=docs_dir, run_name=run_name)[0]


def run_suites(
    specs: Iterable[SuiteSpec],
    *,
    docs_dir: Path | str | None = None,
    run_name: str | None = None,
) -> list[SuiteResult]:
    """Validate each suite's frame against its rules, in one ephemeral GX context.

    ``docs_dir``: folder for the Data Docs site (created; its ``index.html`` and the page of
    the suite's validation are returned in each result). Without it no Data Docs are written.
    The site accumulates the validations of earlier calls in the same folder, each under its
    ``run_name`` (e.g. the Dagster run ID) and time; processes updating one folder at the same
    time take turns for the update.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    keep_compiled()
    specs = list(specs)
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"suite names repeat: {sorted(names)}")
    docs = Path(docs_dir).resolve() if docs_dir is not None else None
    sites: dict[str, Any] = {}
    stores = InMemoryStoreBackendDefaults()
    if docs is not None:
        docs.mkdir(parents=True, exist_ok=True)
        # The site is rendered from these stores; kept in memory, every call would remove
        # the pages of the suites and runs before it.
        for name, folder in (
            (stores.expectations_store_name, "expectations"),
            (stores.validation_results_store_name, "validations"),
        ):
            stores.stores[name]["store_backend"] = {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs / STORES / folder),
            }
        sites[DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs),
            },
            # The index reads every validation result it lists: without a bound, each
            # rebuild grows with all the runs before it. Older validations keep their pages
            # (each quality_result row links its own); the index lists the newest.
            "site_index_builder": {
                "class_name": "DefaultSiteIndexBuilder",
                "validation_results_limit": INDEX_VALIDATIONS,
            },
        }
    config = DataContextConfig(
        store_backend_defaults=stores,
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    source = context.data_sources.add_pandas("padu")

    results = []
    for spec in specs:
        started = time.perf_counter()
        # Concurrent runs (regions side by side) share the suite store: a suite of the same
        # name replaced by another process between adding it here and validating with it is
        # refused by GX as stale. Each suite is added, run and rendered in one turn.
        with _docs_turn(docs):
            result_id, validation_result, page = _validate(context, source, spec, run_name, docs)
        outcomes = _outcomes(spec.rules, validation_result.results)
        results.append(_suite_result(spec, outcomes, time.perf_counter() - started, docs, page))
    return results


def _validate(context: Any, source: Any, spec: SuiteSpec, run_name: str | None, docs: Path | None):  # type: ignore[no-untyped-def]
    """Add ``spec``'s suite to ``context``, validate its frame, and render its Data Docs
    pages; returns the validation's identifier and result, and its page (or None)."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    # A suite of this name from an earlier call is replaced: its definition may differ.
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=spec.name))
    for rule in spec.rules:
        suite.add_expectation(_expectation(gx, rule))
    batch = source.add_dataframe_asset(spec.name).add_batch_definition_whole_dataframe("whole")
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=spec.name, data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name=spec.name, validation_definitions=[validation], result_format=RESULT_FORMAT
        )
    )
    with _quiet():
        run = checkpoint.run(
            batch_parameters={"dataframe": spec.data},
            run_id=RunIdentifier(run_name=run_name) if run_name else None,
        )
    ((result_id, validation_result),) = run.run_results.items()
    if docs is None:
        return result_id, validation_result, None
    # The validation's page and its suite's, as GX's UpdateDataDocsAction builds them.
    rebuilt: list[Any] = [result_id, ExpectationSuiteIdentifier(name=spec.name)]
    with _quiet():
        context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=rebuilt)
        (site,) = context.get_docs_sites_urls(resource_identifier=result_id, site_names=[DOCS_SITE])
    page = _path_of(site["site_url"])
    # Offline, the pages load their styles and scripts from files in the site.
    suite_page = docs.joinpath("expectations", *spec.name.split(".")).with_suffix(".html")
    localise_site(docs, [page, suite_page])
    return result_id, validation_result, page


@contextmanager
def _docs_turn(docs: Path | None) -> Iterator[None]:
    """Hold the Data Docs folder while a suite is stored, validated and its pages and index
    are built, so that no process validates with or reads a suite another one is rewriting
    (suites of one name are shared by all regions)."""
    if docs is None:
        yield
        return
    with (docs / _DOCS_LOCK).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _path_of(url: str | None) -> Path | None:
    """The file a ``file://`` URL of GX names."""
    if not url:
        return None
    parsed = urllib.parse.urlparse(url)
    return Path(urllib.request.url2pathname(parsed.path)) if parsed.scheme == "file" else None


def _expectation(gx: Any, rule: Rule) -> Any:
    from great_expectations.expectations.metadata_types import FailureSeverity

    cls = getattr(gx.expectations, rule.expectation)
    severity = (
        FailureSeverity.CRITICAL if rule.severity == Severity.BLOCKING else FailureSeverity.WARNING
    )
    return cls(
        **dict(rule.kwargs),
        description=f"[{rule.severity.value}] {rule.description}",
        severity=severity,
        meta={"padu_rule": rule.name, "padu_severity": rule.severity.value},
    )


def _outcomes(rules: tuple[Rule, ...], gx_results: Iterable[Any]) -> list[ExpectationOutcome]:
    by_rule = {}
    for result in gx_results:
        config = result.expectation_config
        by_rule[(config.meta or {}).get("padu_rule")] = (config.type, result)
    outcomes = []
    for rule in rules:
        expectation_type, result = by_rule[rule.name]
        summary = result.result or {}
        error = _error(result.exception_info)
        outcomes.append(
            ExpectationOutcome(
                rule=rule.name,
                expectation_type=str(expectation_type),
                column=rule.column,
                severity=rule.severity.value,
                success=bool(result.success),
                element_count=_int(summary.get("element_count")),
                unexpected_count=_int(summary.get("unexpected_count")),
                unexpected_percent=_float(summary.get("unexpected_percent")),
                description=rule.description,
                error=error,
            )
        )
    return outcomes


def _error(info: Any) -> str | None:
    """The message of an exception raised while validating, long digit runs masked. GX gives
    either one ``{raised_exception, exception_message, ...}`` or one per metric."""
    if not isinstance(info, dict):
        return None
    found = (
        [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    )
    messages = [str(i.get("exception_message")) for i in found if i.get("raised_exception")]
    if not messages:
        return None
    return _LONG_DIGITS.sub("#", "; ".join(dict.fromkeys(messages)))[:300]


def _suite_result(
    spec: SuiteSpec,
    outcomes: list[ExpectationOutcome],
    seconds: float,
    docs: Path | None,
    page: Path | None = None,
) -> SuiteResult:
    failed = [o for o in outcomes if not o.success]
    blocking = tuple(o.rule for o in failed if o.severity == Severity.BLOCKING.value)
    warnings = tuple(o.rule for o in failed if o.severity == Severity.WARNING.value)
    return SuiteResult(
        name=spec.name,
        passed=not blocking,
        warnings=warnings,
        failed_blocking=blocking,
        results=tuple(outcomes),
        rows=len(spec.data),
        seconds=seconds,
        data_docs_index=docs / "index.html" if docs is not None else None,
        notes=dict(spec.notes),
        data_docs_page=page,
    )


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def _float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


class _quiet:
    """Silence GX's info logging during a run (it can name files and batches at length)."""

    def __enter__(self) -> None:
        self._logger = logging.getLogger("great_expectations")
        self._level = self._logger.level
        self._logger.setLevel(max(self._level, logging.WARNING))

    def __exit__(self, *exc: object) -> None:
        self._logger.setLevel(self._level)
