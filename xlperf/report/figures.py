"""How numbers read in a report sentence, and the placeholder for what only a person can write.

Money is 万元 with two decimals (as in the summary workbook), rates are
percentages with two decimals, scores drop trailing zeros ("92.5", "10").
A missing figure reads "—", never "None" or "nan".
"""
from __future__ import annotations

import math

MISSING = "—"
ASK = "【请补充：{}】"


def _finite(x: object) -> float | None:
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x) if math.isfinite(x) else None


def money(x: object) -> str:
    v = _finite(x)
    return MISSING if v is None else f"{v:,.2f}"


def rate(x: object) -> str:
    v = _finite(x)
    return MISSING if v is None else f"{v * 100:.2f}%"


def score(x: object) -> str:
    v = _finite(x)
    if v is None:
        return MISSING
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def count(x: object) -> str:
    return MISSING if x is None else str(x)


def ask(what: str) -> str:
    """A highlighted gap in the draft: 【请补充：…】."""
    return ASK.format(what)


def lines(text: object, missing: str) -> list[str]:
    """A county's free text as paragraphs; the placeholder when there is none."""
    out = [s.strip() for s in str(text or "").replace("\r", "\n").split("\n") if s.strip()]
    return out or [ask(missing)]
