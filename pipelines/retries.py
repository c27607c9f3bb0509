"""Retries for transient faults only (a warehouse connection dropped, a lock not granted).

Every asset retries with exponential backoff, but only faults another attempt can mend reach
the retry policy: ``transient_only`` turns any other error (bad data, a bug) into a failure
that is not retried, and padu's own failures (``fail``) are never retried. Such a failure
names the error's type and the code that raised it, not the error's message, which may quote
personal data; rerun the step in a debugger on the restricted data to see more.

A connection the database server refused (a role that does not exist, a wrong password, a
database that does not exist: ``connectors.warehouse.connection.refused``) is not transient
either: it fails at once with the server's reason, which names no data.
"""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import sqlalchemy as sa

from connectors.warehouse.connection import WarehouseConnectionError, refused

TRANSIENT = dg.RetryPolicy(
    max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
#: Errors worth another attempt: the database went away, timed out, or deadlocked (unless
#: the server refused the connection for good: ``refused``).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    sa.exc.OperationalError, sa.exc.InterfaceError, ConnectionError, TimeoutError,
    WarehouseConnectionError,
)  # fmt: skip
#: Raised on as they are: padu's own failures, and the faults the retry policy is for.
_PASSED_ON: tuple[type[Exception], ...] = (dg.Failure, *TRANSIENT_ERRORS)

F = TypeVar("F", bound=Callable[..., Any])
#: Folders of padu's own code, named first in a failure's location.
_OWN_PACKAGES = frozenset({"connectors", "pipelines", "matching", "expectations", "assets"})


def fail(message: str) -> dg.Failure:
    """A failure that retrying will not mend."""
    return dg.Failure(message, allow_retries=False)


def _permanent(err: Exception) -> dg.Failure:
    """A failure naming the error's type and where it was raised, but not its message: a
    driver's or library's message can quote the data (an identifier) it choked on."""
    frames = traceback.extract_tb(err.__traceback__)
    ours = [f for f in frames if Path(f.filename).parent.name in _OWN_PACKAGES]
    shown = [*ours[-2:], frames[-1]] if ours and ours[-1] is not frames[-1] else frames[-3:]
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(shown))
    return fail(f"{type(err).__name__} at {where} (not a transient fault; not retried)")


def _refusal(err: Exception) -> dg.Failure:
    """The failure for a connection the server refused for good: its reason, one line."""
    if isinstance(err, WarehouseConnectionError):
        return fail(f"{err} (not a transient fault; not retried)")
    assert isinstance(err, sa.exc.DBAPIError)
    reason = " ".join(str(err.orig).split())
    return fail(f"the database server refused the connection: {reason} (not retried)")


def transient_only(function: F) -> F:
    """Let only ``TRANSIENT_ERRORS`` through to the retry policy."""
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def generator(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from function(*args, **kwargs)
            except _PASSED_ON as err:
                if refused(err):
                    raise _refusal(err) from None
                raise
            except Exception as err:
                raise _permanent(err) from None

        return generator  # type: ignore[return-value]

    @functools.wraps(function)
    def plain(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except _PASSED_ON as err:
            if refused(err):
                raise _refusal(err) from None
            raise
        except Exception as err:
            raise _permanent(err) from None

    return plain  # type: ignore[return-value]
