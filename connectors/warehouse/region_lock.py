"""One run of a region at a time, whichever process starts it.

A region's run stages its work in tables of its own (``restricted.stg_*_<region>``) between
steps, so two runs of one region at once would read each other's files and publish a mix of
both. ``region_run`` holds the region for the whole run and refuses a second one at once with a
clear message (``RegionBusyError``):

- on PostgreSQL, a session-level advisory lock on a connection kept open for the run;
- on an embedded DuckDB file, an exclusive ``flock`` on a file beside the database
  (``<database>.<region>.run.lock``).

Both are released by the operating system or the server when the process ends, however it
ends, so a killed run never leaves its region locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from connectors.warehouse.connection import connect
from connectors.warehouse.engine import Warehouse


class RegionBusyError(RuntimeError):
    """Another run of the region is in progress."""


def _busy(region: str) -> RegionBusyError:
    return RegionBusyError(
        f"another padu run of region {region} is in progress on this warehouse; this run "
        "did not start (run it again when that one has finished)"
    )


@contextlib.contextmanager
def region_run(store: Warehouse, region: str) -> Iterator[None]:
    """Hold ``region`` of ``store``'s warehouse for the block, or raise ``RegionBusyError``."""
    if store.backend == "postgresql":
        with _advisory(store, region):
            yield
    elif store.file is not None:
        with _file_lock(store, region):
            yield
    else:  # an in-memory database belongs to its process
        yield


@contextlib.contextmanager
def _advisory(store: Warehouse, region: str) -> Iterator[None]:
    engine = sa.create_engine(store.engine.url, poolclass=NullPool)
    try:
        with connect(engine, store.url) as conn:
            key = {"key": f"padu:run:{region}"}
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(hashtext(:key))"), key)
            conn.commit()
            if not got.scalar():
                raise _busy(region)
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:key))"), key)
                conn.commit()
    finally:
        engine.dispose()


@contextlib.contextmanager
def _file_lock(store: Warehouse, region: str) -> Iterator[None]:
    assert store.file is not None
    path = store.file.with_name(f"{store.file.name}.{region}.run.lock")
    descriptor = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(region) from None
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)
