"""The official rules, applied to a located form. Returns findings; never raises.

Each check is a small function over `Located` (never an openpyxl object) that
adds located findings with a stable code and a Chinese message; they live in
`rules/` by part of the form (funds, indicators, texts, integrity) and run
here in order. Totals are recomputed instead of trusting the sheet.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable, Iterator

from ..read.locate import Located
from ..form.spec import FormSpec
from .findings import Finding
from .rules.base import Ctx, IndicatorResult, Outcome
from .rules.funds import check_funds
from .rules.indicators import (check_double_count, check_indicators, check_taxonomy, check_totals, check_value_columns,
                               check_weights)
from .rules.integrity import check_filled, check_integrity
from .rules.texts import check_texts

__all__ = ["CHECKS", "IndicatorResult", "Outcome", "validate"]

Check = Callable[[Ctx, Outcome], None]
CHECKS: tuple[Check, ...] = (check_funds, check_indicators, check_taxonomy, check_double_count, check_weights, check_totals,
                             check_texts, check_value_columns, check_filled)


def validate(loc: Located, spec: FormSpec, path: str = "", *, sheet_protected: bool | None = None,
             formulas: dict | None = None, extra: Iterable[Callable[[Located], Iterator[Finding]]] = ()) -> Outcome:
    ctx = Ctx(loc, spec, path)
    outcome = Outcome()
    for check in CHECKS:
        check(ctx, outcome)
    check_integrity(ctx, outcome, sheet_protected, formulas)
    for fn in extra:
        for f in fn(loc):
            where = f"{f.cell}：" if f.cell and not f.message.startswith(f.cell) else ""
            ctx.out.append(replace(f, file=f.file or path, sheet=f.sheet or loc.sheet, message=where + f.message))
    outcome.findings = ctx.out
    return outcome
