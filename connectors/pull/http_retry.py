"""Retrying a download: which failures are asked again, after which pause, and which are final.

``_retrying`` runs one attempt after another: a ``_Retry`` (connection error, timeout, a body
cut short, HTTP 408/429/500/502/503/504) waits for the backoff or ``Retry-After``; a
``_Restart`` discards the partial body and asks for the whole file; every other error ends the
download as a ``FetchError``. ``_request_failure`` and ``_status_failure`` sort requests'
exceptions and HTTP answers into these.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests

from connectors.pull.guard import Refused, TooLarge, origin
from connectors.pull.http_request import FetchError, _Target, redact

#: All of fetch's modules log as ``connectors.pull.http``: one logger name covers a download.
log = logging.getLogger("connectors.pull.http")

Sleep = Callable[[float], object]
T = TypeVar("T")

#: Answers worth asking again for; every other error status fails at once.
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: A server asking to come back later than this is waited for this long only.
MAX_RETRY_AFTER = 300.0
#: Downloads started again from zero (range refused, file changed) before giving up.
MAX_RESTARTS = 3
_PERMANENT_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
    requests.exceptions.SSLError,
)


class _Retry(Exception):
    """A transient failure: ask again after a pause (``delay``, or the backoff)."""

    def __init__(self, reason: str, *, delay: float | None = None, status: int | None = None):
        super().__init__(reason)
        self.delay = delay
        self.status = status


class _Restart(Exception):
    """The partial body cannot be continued: discard it and ask for the whole file now."""


def _backoff(base: float, failures: int) -> float:
    delay = base * 2**failures
    return delay + random.uniform(0, 0.1 * delay)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _retrying(
    step: Callable[[], T],
    target: _Target,
    *,
    retries: int,
    backoff: float,
    sleep: Sleep,
    on_restart: Callable[[], None] | None = None,
) -> tuple[T, int]:
    """Run ``step`` until it succeeds; its result and the number of attempts made."""
    attempts = failures = restarts = 0
    while True:
        attempts += 1
        log.info("GET %s (attempt %d)", target.shown, attempts)
        try:
            return step(), attempts
        except FetchError as err:
            err.attempts = attempts
            raise
        except (Refused, TooLarge) as why:
            hop = getattr(why, "url", None)
            hop = f" (redirected to {redact(hop)})" if hop and hop != target.url else ""
            message = target.scrub(f"{target.shown}{hop}: {why}")
            raise FetchError(message, attempts=attempts) from None
        except _Restart as why:
            restarts += 1
            if restarts > MAX_RESTARTS or on_restart is None:
                raise FetchError(f"{target.shown}: {why}", attempts=attempts) from None
            log.warning("%s: %s; starting again from zero", target.shown, why)
            on_restart()
        except _Retry as why:
            failures += 1
            if failures > retries:
                raise FetchError(
                    f"{target.shown}: {why} (gave up after {attempts} attempts)",
                    status=why.status,
                    attempts=attempts,
                ) from None
            delay = why.delay if why.delay is not None else _backoff(backoff, failures - 1)
            log.warning("%s: %s; retrying in %.1f s", target.shown, why, delay)
            sleep(delay)


def _request_failure(err: requests.RequestException, target: _Target) -> Exception:
    """A requests exception as a retry or a permanent error, its text scrubbed."""
    reason = f"{type(err).__name__}: {target.scrub(str(err))}"
    if isinstance(err, _PERMANENT_ERRORS):
        return FetchError(f"{target.shown}: {reason}")
    return _Retry(reason)


_STATUS_HINTS = {
    401: "the server wants credentials (none given, or those given were refused)",
    403: "access denied with the credentials given",
    404: "nothing at this URL",
    410: "the file was removed from this URL",
}


def _status_failure(response: Any, target: _Target, detail: str = "") -> Exception | None:
    """The error an HTTP answer stands for, or None for a success."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    reason = target.scrub(f"HTTP {status} {response.reason or ''}".strip())
    hint = detail or _STATUS_HINTS.get(status, "")
    answered = origin(response.url or target.url)
    if status == 401 and target.has_credentials and answered != target.home:
        hint = "the server wants credentials; those given are sent to {}://{}:{} only".format(
            *target.home
        )
    reason = f"{reason}: {hint}" if hint else reason
    if status in RETRY_STATUS:
        return _Retry(
            reason, delay=_retry_after(response.headers.get("Retry-After")), status=status
        )
    return FetchError(f"{target.shown}: {reason}", status=status)
