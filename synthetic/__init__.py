"""Synthetic agency extracts (Disdukcapil, KPU, BPS) with known ground truth.

``generate`` draws a population of families in a real kab/kota, writes the three extracts in
the exact formats of ``docs/input-formats.md`` with realistic disagreement between them, and writes
``truth.csv`` (which person each row is) and ``planted.csv`` (every planted discrepancy).
"""

from synthetic.generator import GenerationSummary, generate
from synthetic.rates import DEFAULT_RATES, Rates

__all__ = ["DEFAULT_RATES", "GenerationSummary", "Rates", "generate"]
