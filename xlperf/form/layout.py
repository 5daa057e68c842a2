"""Where each field of a form goes on the sheet.

The writer and the defined names come from one `Layout`, computed from the
spec and from how many indicator rows each 二级 needs. No other module holds
coordinates of our own templates; the reader of foreign copies finds fields by
label instead (read/locate.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .model import FormData, IndicatorLine
from .spec import FormSpec


@dataclass
class Group:
    """A run of indicator rows sharing one 一级 (and, nested, one 二级)."""

    name: str
    first: int
    last: int
    weight: float | None = None
    children: list["Group"] = field(default_factory=list)


@dataclass
class Layout:
    ncols: int
    title_row: int = 0
    subtitle_row: int = 1
    header: list[tuple[int, list[tuple[str, str, int, int, int]]]] = field(default_factory=list)
    funds_head_row: int = 0
    funds_rows: dict[str, int] = field(default_factory=dict)
    funds_cols: dict[str, tuple[int, int]] = field(default_factory=dict)
    goal_head_row: int = 0
    goal_text_row: int = 0
    goal_planned_cols: tuple[int, int] = (1, 1)
    goal_actual_cols: tuple[int, int] = (2, 2)
    ind_head_row: int = 0
    ind_first: int = 0
    ind_last: int = 0
    ind_cols: dict[str, int] = field(default_factory=dict)
    groups: list[Group] = field(default_factory=list)
    rows: list[IndicatorLine | None] = field(default_factory=list)  # prefill per indicator row
    total_row: int = 0
    grade_row: int = 0
    check_title_row: int = 0
    check_head_row: int = 0
    check_rows: list[tuple[str, float, int]] = field(default_factory=list)  # (label, required, row)
    check_total_row: int = 0
    check_cols: dict[str, tuple[int, int]] = field(default_factory=dict)
    notes_rows: list[int] = field(default_factory=list)

    @property
    def print_last_row(self) -> int:
        """The printed form ends with its 评价等级; the check table and notes are screen-only."""
        return self.grade_row

    @property
    def last_row(self) -> int:
        return self.notes_rows[-1] if self.notes_rows else self.check_total_row


def _split(ncols: int, parts: int) -> list[tuple[int, int]]:
    width = ncols // parts
    spans, start = [], 0
    for i in range(parts):
        end = ncols - 1 if i == parts - 1 else start + width - 1
        spans.append((start, end))
        start = end + 1
    return spans


def _indicator_rows(spec: FormSpec, data: FormData | None) -> list[tuple[str, list[tuple[str, list[IndicatorLine | None]]]]]:
    """Group pre-filled indicators under the template's 一级/二级, padding with blank rows."""
    given = list(data.indicators) if data else []
    out = []
    for l1 in spec.level1:
        mine = [i for i in given if i.level1 == l1.name]
        level2s = list(l1.level2) + [i.level2 for i in mine if i.level2 and i.level2 not in l1.level2]
        seen: list[str] = []
        for n in level2s:
            if n not in seen:
                seen.append(n)
        l2_rows = []
        for n in seen:
            lines: list[IndicatorLine | None] = [i for i in mine if i.level2 == n]
            # Pre-filled targets lock their row, so a county adds its own indicators in the
            # spare rows (or rows inserted under them, which inherit their unlocked cells).
            lines += [None] * max(spec.rows_per_level2 - len(lines), spec.spare_rows if lines else 0)
            l2_rows.append((n, lines))
        out.append((l1.name, l2_rows))
    unknown = [i.level1 for i in given if i.level1 not in spec.level1_weights()]
    if unknown:
        from ..errors import SpecError
        raise SpecError(f"一级指标“{unknown[0]}”不在表式定义中（可用：{'、'.join(spec.level1_weights())}）",
                        code="prefill-unknown-level1")
    return out


def compute_layout(spec: FormSpec, data: FormData | None = None) -> Layout:
    ncols = 1 + len(spec.indicator_columns)
    if len(spec.funds_columns) + 2 > ncols:
        from ..errors import SpecError
        raise SpecError("资金列过多：资金列数加 2 不能超过指标列数加 1", code="spec-layout", path=spec.source)
    lay = Layout(ncols=ncols)
    r = 2
    for row in spec.header:
        spans = _split(ncols, len(row))
        lay.header.append((r, [(f.key, f.label, s, s + 1, e) for f, (s, e) in zip(row, spans)]))
        r += 1
    lay.funds_head_row = r
    for i, c in enumerate(spec.funds_columns):
        col = 2 + i
        end = ncols - 1 if i == len(spec.funds_columns) - 1 else col
        lay.funds_cols[c.key] = (col, end)
    for i, fr in enumerate(spec.funds_rows):
        lay.funds_rows[fr.key] = r + 1 + i
    r += 1 + len(spec.funds_rows)
    lay.goal_head_row, lay.goal_text_row = r, r + 1
    mid = (ncols - 1) // 2
    lay.goal_planned_cols, lay.goal_actual_cols = (1, mid), (mid + 1, ncols - 1)
    r += 2
    lay.ind_head_row = r
    lay.ind_cols = {c.key: 1 + i for i, c in enumerate(spec.indicator_columns)}
    r += 1
    lay.ind_first = r
    weights = spec.level1_weights()
    for l1name, l2s in _indicator_rows(spec, data):
        g1 = Group(l1name, r, r, weights[l1name])
        for l2name, lines in l2s:
            g2 = Group(l2name, r, r + len(lines) - 1)
            g1.children.append(g2)
            lay.rows.extend(lines)
            r += len(lines)
        g1.last = r - 1
        lay.groups.append(g1)
    lay.ind_last = r - 1
    lay.total_row, lay.grade_row = r, r + 1
    r += 2
    lay.check_title_row, lay.check_head_row = r, r + 1
    r += 2
    lay.check_cols = {"label": (0, 2), "required": (3, 3), "weight": (4, 4), "score": (5, 5), "status": (6, ncols - 1)}
    lay.check_rows.append(("预算执行率", spec.funds_weight, r))
    r += 1
    for g in lay.groups:
        lay.check_rows.append((g.name, g.weight or 0.0, r))
        r += 1
    lay.check_total_row = r
    r += 1
    lay.notes_rows = [r + i for i in range(len(spec.notes))]
    return lay
