"""What every rule shares: the context findings are added to, the outcome it fills, how numbers are shown."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...form.spec import FormSpec
from ...read.locate import Located
from ..findings import Finding


def fmt(x: float | None) -> str:
    if x is None:
        return "空"
    s = f"{x:.4f}".rstrip("0").rstrip(".")
    return s if s not in ("-0", "") else "0"


def pct(x: float | None) -> str:
    return "空" if x is None else f"{x * 100:.2f}%"


@dataclass
class IndicatorResult:
    level1: str
    level2: str
    name: str
    weight: float | None
    target: str
    actual: str
    score: float | None
    suggested_score: float | None
    cell: str
    row: int | None = None
    reason: str = ""
    kind: str = ""                  # positive | negative | equal | qualitative | unknown
    status: str = ""                # met | partly | not_met | "" (unknown)
    suggested_low: float | None = None
    suggested_high: float | None = None
    target_unit: str | None = None
    actual_unit: str | None = None
    weight_cell: str = ""
    target_cell: str = ""


@dataclass
class Outcome:
    """Everything validation worked out, besides the findings."""

    funds: dict = field(default_factory=dict)
    indicators: list[IndicatorResult] = field(default_factory=list)
    total_score: float | None = None
    total_weight: float | None = None
    grade: str | None = None
    findings: list[Finding] = field(default_factory=list)


class Ctx:
    def __init__(self, loc: Located, spec: FormSpec, path: str) -> None:
        self.loc, self.spec, self.path = loc, spec, path
        self.out: list[Finding] = []

    def add(self, code: str, severity: str, message: str, cell: str = "", fld: str = "") -> None:
        where = f"{cell}：" if cell else ""
        self.out.append(Finding(code, severity, where + message, self.path, self.loc.sheet, cell, fld))




# Template instructions a unit must replace: "（100字以内）", "请填写…", "简要说明…".
INSTRUCTION = re.compile(r"[（(]\s*\d+\s*字(?:以内|以下|左右)\s*[）)]|\d+字以内|^请(?:填写|简要|说明|描述)|^填写说明")


def blank_text(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())
