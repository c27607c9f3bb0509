"""How the ``padu`` command shows an error: an expected one by its message, any other on one
line with how to see its traceback; never with a password."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import IO, Any

import click

_ARGUMENTS = "padu.arguments"
#: A URL in an error's message, which may hold a password.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
#: The longest summary of an unexpected error shown (its traceback is for --debug).
_SUMMARY_CHARACTERS = 500


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Errors that say what is wrong with the settings, files or servers padu was given:
    shown as their message alone."""
    from connectors.landing.deployment import DeploymentError
    from connectors.landing.folder import MissingExtractsError
    from connectors.reference.regions import UnknownRegionError
    from connectors.warehouse.connection import UnsupportedWarehouseError, WarehouseConnectionError
    from connectors.warehouse.migrate import MigrationError
    from connectors.warehouse.region_lock import RegionBusyError
    from connectors.warehouse.review import ReviewError
    from connectors.warehouse.roles import RoleError
    from pipelines.rekey import RekeyError
    from pipelines.resources import SettingsError

    return (
        SettingsError, DeploymentError, UnsupportedWarehouseError, WarehouseConnectionError,
        MigrationError, RoleError, RegionBusyError, MissingExtractsError, UnknownRegionError,
        ReviewError, RekeyError,
        OSError,  # a file or folder missing or not allowed, a server not reached, a lock wait
    )  # fmt: skip


def _scrubbed(text: str, arguments: Iterable[str]) -> str:
    """``text`` without the secrets of any URL on the command line, in the environment
    (PADU_WAREHOUSE_URL, a source database's variable) or in ``text`` itself."""
    from connectors.redaction import scrub

    urls = [a.split("=", 1)[-1] if a.startswith("--") else a for a in arguments]
    urls += list(os.environ.values())
    urls += _URL_IN_TEXT.findall(text)
    return scrub(text, *sorted({u for u in urls if "://" in u}, key=len, reverse=True))


class _Unexpected(click.ClickException):
    """An error padu did not expect: a one-line summary, and how to see more."""

    def show(self, file: IO[Any] | None = None) -> None:
        super().show(file)
        click.echo(
            "run again with --debug (padu --debug COMMAND ...) for the traceback",
            file=file,
            err=file is None,
        )


def _reported(err: Exception, arguments: Iterable[str]) -> click.ClickException:
    """How ``err`` is shown: an expected error by its message; any other by its type and its
    message on one line (a database error without its statement and parameters, which may
    quote data)."""
    import sqlalchemy as sa

    if isinstance(err, _expected_errors()):
        return click.ClickException(_scrubbed(str(err), arguments))
    message = str(err.orig) if isinstance(err, sa.exc.StatementError) and err.orig else str(err)
    summary = " ".join(_scrubbed(message, arguments).split())
    if len(summary) > _SUMMARY_CHARACTERS:
        summary = summary[: _SUMMARY_CHARACTERS - 3] + "..."
    return _Unexpected(f"{type(err).__name__}: {summary}" if summary else type(err).__name__)


class _Padu(click.Group):
    """The ``padu`` command. An error padu expects (settings, the deployment file, the
    warehouse URL or its server, a busy region, missing files, ...) prints its message, any
    other a one-line summary; neither shows a password. With ``--debug`` every error shows
    its whole traceback instead, for a bug report."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGUMENTS] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as err:
            if ctx.params.get("debug"):
                raise
            raise _reported(err, ctx.meta.get(_ARGUMENTS, ())) from None
