"""Identifiers shown masked: a NIK or KK number beside another is shown as dots except the
digits where the two differ, when they differ as a typing error does (one or two digits, or
two swapped); numbers that differ more are masked whole, with how many digits differ. That
is what a reviewer needs to judge a typing error, without showing two people's numbers."""

from __future__ import annotations

MASK = "•"
#: The most differing positions shown: a mistyped digit, or two swapped.
MOST_SHOWN = 2


def _text(value: object) -> str | None:
    if value is None or not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def masked_pair(left: object, right: object) -> tuple[str, str]:
    """Both numbers masked except the positions where they differ, if they are as long as
    each other and differ in at most ``MOST_SHOWN`` positions; else both masked whole, the
    second followed by how many positions differ. A missing number shows as "none", and a
    number beside a missing one is masked whole."""
    a, b = _text(left), _text(right)
    if a is None or b is None:
        return (
            "none" if a is None else MASK * len(a),
            "none" if b is None else MASK * len(b),
        )
    differ = [i for i in range(max(len(a), len(b))) if a[i : i + 1] != b[i : i + 1]]
    if len(a) != len(b) or len(differ) > MOST_SHOWN:
        apart = f"{len(differ)} digits differ" if len(a) == len(b) else "lengths differ"
        return MASK * len(a), f"{MASK * len(b)} ({apart})"
    shown = set(differ)
    return (
        "".join(c if i in shown else MASK for i, c in enumerate(a)),
        "".join(c if i in shown else MASK for i, c in enumerate(b)),
    )


def masked(value: object) -> str:
    """One number on its own, masked whole (its length shows whether it is complete)."""
    text = _text(value)
    return "none" if text is None else MASK * len(text)
