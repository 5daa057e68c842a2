"""What changed between two versions of one form, field by field.

A reviewer's first question on a resubmission is "what did they change?", and
a county that gets a corrected workbook asks the same. Both versions are read
with the locator, so a field is compared with the same field even when it sits
in another cell (a row inserted, a copy saved by another program); each change
names its cell in the newer version, the form's own label, old and new value.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

from ..form.labels import norm
from ..form.model import FormData, IndicatorLine
from ..form.spec import FormSpec, load_form
from ..read.locate import Located
from .check import default_specs, read


@dataclass(frozen=True)
class Change:
    cell: str          # where the field is in the newer version ("" when it was removed)
    label: str         # the form's own words: 实施单位, “参保率”的全年实际值, …
    old: str
    new: str

    def describe(self) -> str:
        where = f"{self.cell} " if self.cell else ""
        old = f"“{self.old}”" if self.old else "（空）"
        new = f"“{self.new}”" if self.new else "（空）"
        return f"{where}{self.label}：{old} 改为 {new}"


def text(value: object) -> str:
    """A value as the clerk reads it: 12.0 → 12, no float noise, dates as dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.10f}".rstrip("0").rstrip(".")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    return str(value).strip()


def compare_files(old: str | os.PathLike, new: str | os.PathLike) -> list[Change] | None:
    """Changes from `old` to `new`; None when they cannot be compared (either is not a
    readable form, or they are different forms)."""
    try:
        a, b = read(old), read(new)
    except Exception:  # noqa: BLE001 — an unreadable version simply has nothing to compare
        return None
    if a is None or b is None or a.form_id != b.form_id:
        return None
    spec = next((s for s in default_specs() if s.id == b.form_id), None) or load_form(b.form_id)
    return compare_located(a, b, spec)


def compare_located(a: Located, b: Located, spec: FormSpec) -> list[Change]:
    """Cells the form computes (totals, rates, scores of the funds) are left out: their
    cached values come and go with the program that saved the file, and they follow
    from the entered cells that are compared."""
    computed = set(a.formula_cells.values()) | set(b.formula_cells.values())
    return [c for c in compare_data(a.data, b.data, spec) if not c.cell or c.cell not in computed]


def compare_data(a: FormData, b: FormData, spec: FormSpec) -> list[Change]:
    out: list[Change] = []

    def add(cell: str, label: str, old: object, new: object) -> None:
        o, n = text(old), text(new)
        if norm(o) != norm(n):
            out.append(Change(cell, label, o, n))

    for f in spec.header_fields():
        add(b.cells.get(f.key, "") or a.cells.get(f.key, ""), f.label, a.header.get(f.key), b.header.get(f.key))
    for row in spec.funds_rows:
        la, lb = a.funds_line(row.key), b.funds_line(row.key)
        for col in spec.funds_columns:
            cell = (lb.cells.get(col.key, "") if lb else "") or (la.cells.get(col.key, "") if la else "")
            add(cell, f"{row.label.rstrip('：:')}的{col.label}", la.values.get(col.key) if la else None,
                lb.values.get(col.key) if lb else None)
    add(b.cells.get("goal_planned", ""), spec.goal_planned, a.goal_planned, b.goal_planned)
    add(b.cells.get("goal_actual", ""), spec.goal_actual, a.goal_actual, b.goal_actual)
    out.extend(_indicator_changes(a.indicators, b.indicators, spec))
    return out


def _indicator_changes(old: list[IndicatorLine], new: list[IndicatorLine], spec: FormSpec) -> list[Change]:
    """Indicators are matched by their 三级指标 name (in order for repeated names)."""
    out: list[Change] = []
    columns = [c for c in spec.indicator_columns if c.key not in ("level1", "level2", "name")]
    name_label = next((c.label for c in spec.indicator_columns if c.key == "name"), "三级指标")
    remaining: dict[str, list[IndicatorLine]] = {}
    for line in old:
        if line.name:
            remaining.setdefault(norm(line.name), []).append(line)
    for line in new:
        if not line.name:
            continue
        prev = remaining.get(norm(line.name)) or []
        if not prev:
            out.append(Change(line.cells.get("name", ""), f"新增{name_label}", "", text(line.name)))
            continue
        before = prev.pop(0)
        for col in columns:
            o, n = text(getattr(before, col.key, None)), text(getattr(line, col.key, None))
            if norm(o) != norm(n):
                out.append(Change(line.cells.get(col.key, ""), f"“{line.name}”的{col.label}", o, n))
    for lines in remaining.values():
        for line in lines:
            out.append(Change("", f"删除{name_label}", text(line.name), ""))
    return out
