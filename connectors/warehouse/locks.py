"""Taking turns on an embedded DuckDB warehouse.

DuckDB lets one process at a time open a database file for writing; a second process that
opens it meanwhile is refused at once ("Could not set lock on file"). padu's processes (the
regions of ``padu run --workers``, runs the Dagster daemon launches side by side, the steps
of the multiprocess executor) therefore take turns: every connection to the file is opened
under an exclusive lock on a file beside it (``<database>.lock``) and the lock is released
once the connection is closed. The heavy work of a run (reading, standardising, linking)
happens between connections, so regions overlap there and queue only for the warehouse.

The lock is reentrant within a thread, taken by one thread of a process at a time, and never
inherited by a forked child. A lock not granted within the timeout raises
``WarehouseBusyError``, a ``TimeoutError``: a transient fault that a step retries.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: How long a connection waits for its turn by default. One turn lasts one transaction (the
#: longest: publishing a large region, tens of seconds), so this covers a queue of them.
DEFAULT_TIMEOUT = 600.0
_POLL_SECONDS = (0.005, 0.2)  # first and longest pause between attempts


class WarehouseBusyError(TimeoutError):
    """Another process kept the warehouse longer than the timeout."""


@dataclass
class _Holder:
    """The lock of one file in this process: the thread holding it and how often."""

    guard: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    descriptor: int | None = None


_holders: dict[Path, _Holder] = {}
_registry = threading.Lock()


def _forget_after_fork() -> None:
    """A forked child holds none of its parent's locks (nor its threads' guards)."""
    global _registry
    _holders.clear()
    _registry = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def lock_path(database: Path) -> Path:
    """The lock file of an embedded database file."""
    return database.with_name(database.name + ".lock")


@contextmanager
def exclusive(database: Path, timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold the turn on ``database`` (an embedded DuckDB file) for the block."""
    key = Path(os.path.abspath(database))
    with _registry:
        holder = _holders.setdefault(key, _Holder())
    deadline = time.monotonic() + timeout
    if not holder.guard.acquire(timeout=max(timeout, 0.0)):
        raise _busy(key, timeout)
    try:
        if holder.depth == 0:
            holder.descriptor = _lock_file(key, deadline, timeout)
        holder.depth += 1
        try:
            yield
        finally:
            holder.depth -= 1
            if holder.depth == 0 and holder.descriptor is not None:
                descriptor, holder.descriptor = holder.descriptor, None
                fcntl.flock(descriptor, fcntl.LOCK_UN)
                os.close(descriptor)
    finally:
        holder.guard.release()


def _lock_file(database: Path, deadline: float, timeout: float) -> int:
    """Open the lock file of ``database`` and lock it exclusively, waiting until ``deadline``.
    The file is opened anew for every turn, so a forked child never shares its parent's lock;
    read-only, so that every user who may read the lock file can take a turn."""
    descriptor = os.open(lock_path(database), os.O_RDONLY | os.O_CREAT, 0o644)
    locked = False
    pause = _POLL_SECONDS[0]
    try:
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
                return descriptor
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _busy(database, timeout) from None
                time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
                pause = min(pause * 2, _POLL_SECONDS[1])
    finally:
        if not locked:
            os.close(descriptor)


def _busy(database: Path, timeout: float) -> WarehouseBusyError:
    return WarehouseBusyError(
        f"the warehouse {database} was in use by other padu work for more than {timeout:g} s"
    )
