"""What a database pull asks for, checked before anything is read.

``_plan`` validates the request (a plain table name or a single SELECT, the columns an
incremental pull needs) into a ``_Plan``; ``_statement`` turns it into the SQL to run, with
``since`` bound as a parameter; ``fingerprint`` identifies that SQL. ``PullError`` is the one
error a pull raises.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from connectors.redaction import url_for_display

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class PullError(Exception):
    """A pull that could not produce a complete extract. The message names the source (its URL
    without the password) and the problem, never a row value."""


@dataclass(frozen=True)
class _Plan:
    """The validated request: what to run and how to write it."""

    source: str
    query: str | None
    table: str | None
    needed: tuple[str, ...]  # columns the result must have
    change_column: str | None
    key_column: str | None
    since: object | None
    previous: Path | None

    @property
    def incremental(self) -> bool:
        return self.since is not None


def _source(url: str) -> str:
    """The URL as errors, logs and the origin record show it: without its password, whether
    given as ``user:password@`` or as a query value (``?password=``)."""
    try:
        sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise PullError("the database URL cannot be parsed") from None
    return url_for_display(url)


def _identifier(name: str, what: str, source: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise PullError(f"{source}: {what} {name!r} is not a plain identifier")
    return name


def _plan(
    source: str,
    table: str | None,
    query: str | None,
    change_column: str | None,
    since: object | None,
    previous: Path | None,
    key_column: str | None,
    required_columns: Sequence[str],
) -> _Plan:
    if (table is None) == (query is None):
        raise PullError(f"{source}: give exactly one of table and query")
    if table is not None:
        _identifier(table, "table", source)
    else:
        query = _select(query or "", source)
    if change_column is not None:
        _identifier(change_column, "change column", source)
    if since is not None:
        if change_column is None or key_column is None or previous is None:
            raise PullError(
                f"{source}: an incremental pull (since) needs change_column, key_column "
                "and previous"
            )
        if not previous.is_file():
            raise PullError(f"{source}: the previous snapshot {previous} does not exist")
    elif previous is not None:
        raise PullError(f"{source}: previous is only used by an incremental pull (give since)")
    named = [c for c in (key_column, change_column) if c]
    needed = tuple(dict.fromkeys([*required_columns, *named]))
    return _Plan(source, query, table, needed, change_column, key_column, since, previous)


def _select(query: str, source: str) -> str:
    text = query.strip().rstrip(";").strip()
    if not re.match(r"(select|with)\b", text, re.IGNORECASE):
        raise PullError(f"{source}: the query must be a SELECT")
    if ";" in text:
        raise PullError(f"{source}: the query must be a single statement (no ';')")
    return text


def _statement(plan: _Plan, dialect: sa.engine.Dialect) -> tuple[sa.TextClause, dict]:
    """The SQL to run and its parameters (``since`` is bound, never formatted into SQL)."""
    quote = dialect.identifier_preparer.quote
    if plan.table is not None:
        sql = f"SELECT * FROM {quote(plan.table)}"
        change = quote(plan.change_column) if plan.change_column else ""
    else:
        sql = f"SELECT * FROM ({plan.query}) AS padu_source"
        change = f"padu_source.{quote(plan.change_column)}" if plan.change_column else ""
    params: dict[str, object] = {}
    if plan.incremental:
        sql += f" WHERE {change} > :since"
        params["since"] = plan.since
    elif plan.table is not None and plan.key_column:
        sql += f" ORDER BY {quote(plan.key_column)}"
    return sa.text(sql), params


def fingerprint(sql: str) -> str:
    """sha256 of ``sql`` with its white space normalised."""
    return hashlib.sha256(" ".join(sql.split()).encode("utf-8")).hexdigest()


def _check_columns(columns: Sequence[str], plan: _Plan, what: str) -> None:
    missing = [c for c in plan.needed if c not in columns]
    if missing:
        raise PullError(
            f"{plan.source}: {what} lacks column(s) {', '.join(missing)} "
            f"(it has {', '.join(columns)})"
        )
