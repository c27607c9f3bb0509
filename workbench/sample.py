"""The seam to the clerical quality sample (``connectors.warehouse.quality_sample``): its
sampled pairs are a second review queue (``/quality/review``) and its estimates of precision
and recall are shown on ``/quality``. While that module is not installed, both say so."""

from __future__ import annotations

import importlib
from types import ModuleType

LABELS = ("match", "no_match", "unsure")


def module() -> ModuleType | None:
    """``connectors.warehouse.quality_sample``, or ``None`` where this padu has none."""
    try:
        return importlib.import_module("connectors.warehouse.quality_sample")
    except ImportError:
        return None
