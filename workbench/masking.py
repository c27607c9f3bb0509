"""Identifiers shown masked: a NIK or KK number beside another is shown as dots except the
digits where the two differ, which is what a reviewer needs to judge a typing error."""

from __future__ import annotations

MASK = "•"


def _text(value: object) -> str | None:
    if value is None or not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def masked_pair(left: object, right: object) -> tuple[str, str]:
    """Both numbers masked except the positions where they differ; a missing number shows as
    "none", and a number beside a missing one is masked whole."""
    a, b = _text(left), _text(right)
    if a is None or b is None:
        return (
            "none" if a is None else MASK * len(a),
            "none" if b is None else MASK * len(b),
        )
    width = max(len(a), len(b))
    a_out, b_out = [], []
    for i in range(width):
        x = a[i] if i < len(a) else ""
        y = b[i] if i < len(b) else ""
        same = x == y
        a_out.append(MASK if same and x else x)
        b_out.append(MASK if same and y else y)
    return "".join(a_out), "".join(b_out)


def masked(value: object) -> str:
    """One number on its own, masked whole (its length shows whether it is complete)."""
    text = _text(value)
    return "none" if text is None else MASK * len(text)
