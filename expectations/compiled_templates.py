"""Great Expectations' page templates, compiled once per process instead of once per build.

Every Data Docs build makes new Jinja environments (one per view of the site builder), and
Jinja compiles each template again in each of them: about 50 templates per build, some 0.4 s
of a suite's run, paid for every suite of every run. A Jinja bytecode cache shared by those
environments keeps the compiled code in memory for the life of the process; Jinja checks each
template's source checksum before using it, so a changed template is compiled again. The
pages rendered are the same.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2


class _InMemory(jinja2.BytecodeCache):
    """Compiled templates by Jinja's key (template name and source checksum)."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self.code.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


CACHE = _InMemory()


def keep_compiled() -> None:
    """Give every Great Expectations page view made from now on the shared cache (once)."""
    from great_expectations.render.view.view import DefaultJinjaView

    if getattr(DefaultJinjaView.__init__, "_shares_compiled_templates", False):
        return
    original = DefaultJinjaView.__init__

    @functools.wraps(original)
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.env.bytecode_cache = CACHE

    init._shares_compiled_templates = True  # type: ignore[attr-defined]
    DefaultJinjaView.__init__ = init  # type: ignore[method-assign]
