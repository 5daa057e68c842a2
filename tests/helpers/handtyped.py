"""Build a workbook the way a county types the official form itself.

No defined names, no `_xlperf` sheet, no protection: merged label cells,
labels with line breaks, weights inside 一级 labels, dashes for n/a. Tests
describe a form as small tables and this lays it out in the official grid.
"""
from __future__ import annotations

from itertools import groupby
from pathlib import Path

import openpyxl
from openpyxl.styles import Alignment


def official_form(path: Path, *, title: str, subtitle: str = "", header: list[list[tuple[str, object]]] = (),
                  funds_label: str = "项目资金\n（万元）", funds_cols: list[str] = (),
                  funds_rows: list[tuple[str, ...]] = (), goal: tuple[str, str, str, str] | None = None,
                  ind_cols: list[str] = (), indicators: list[tuple] = (), total: tuple | None = None,
                  grade: tuple[str, str] | None = None, sheet: str = "Sheet1", extra_rows: list[list] = ()) -> Path:
    """`indicators` rows follow `ind_cols` (first three: 一级, 二级, 三级); equal
    consecutive 一级/二级 values are merged vertically as on paper."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ncols = max(len(ind_cols) + 1, len(funds_cols) + 2, 4)
    r = 1

    def put(row, col, value):
        ws.cell(row, col, value).alignment = Alignment(wrap_text=True)

    put(r, 1, title)
    ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=ncols)
    r += 1
    if subtitle:
        put(r, 1, subtitle)
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=ncols)
        r += 1
    for pairs in header:
        width = ncols // len(pairs)
        for i, (label, value) in enumerate(pairs):
            c = 1 + i * width
            end = ncols if i == len(pairs) - 1 else c + width - 1
            put(r, c, label)
            put(r, c + 1, value)
            if end > c + 1:
                ws.merge_cells(start_row=r, start_column=c + 1, end_row=r, end_column=end)
        r += 1
    if funds_cols:
        start = r
        put(r, 1, funds_label)
        for i, label in enumerate(funds_cols):
            put(r, 3 + i, label)
        r += 1
        for row in funds_rows:
            for i, v in enumerate(row):
                put(r, 2 + i, v)
            r += 1
        ws.merge_cells(start_row=start, start_column=1, end_row=r - 1, end_column=1)
    if goal:
        block, planned_label, planned, actual = goal[0], goal[1], goal[2], goal[3]
        mid = 1 + (ncols - 1) // 2
        put(r, 1, block)
        put(r, 2, planned_label)
        put(r, mid + 1, "实际完成情况" if len(goal) < 5 else goal[4])
        put(r + 1, 2, planned)
        put(r + 1, mid + 1, actual)
        ws.merge_cells(start_row=r, start_column=1, end_row=r + 1, end_column=1)
        r += 2
    start = r
    put(r, 1, "绩\n效\n指\n标")
    for i, label in enumerate(ind_cols):
        put(r, 2 + i, label)
    r += 1
    first = r
    for row in indicators:
        for i, v in enumerate(row):
            if i < 2:
                continue
            put(r, 2 + i, v)
        r += 1
    for level in (0, 1):
        rr = first
        keys = [(row[0], row[1]) if level else row[0] for row in indicators]
        for key, grp in groupby(keys):
            n = len(list(grp))
            put(rr, 2 + level, key[1] if level else key)
            if n > 1:
                ws.merge_cells(start_row=rr, start_column=2 + level, end_row=rr + n - 1, end_column=2 + level)
            rr += n
    ws.merge_cells(start_row=start, start_column=1, end_row=r - 1, end_column=1)
    if total:
        put(r, 1, total[0])
        for key, v in total[1].items():
            put(r, 2 + ind_cols.index(key), v)
        r += 1
    if grade:
        put(r, 1, grade[0])
        put(r, 3, grade[1])
        r += 1
    for row in extra_rows:
        for i, v in enumerate(row):
            put(r, 1 + i, v)
        r += 1
    wb.save(path)
    return path
