"""Fill a generated workbook with openpyxl, as a county clerk would.

Cells are found through the template's defined names, so the helpers keep
working after LibreOffice inserted rows (it moves the names with them).
"""
from __future__ import annotations

from pathlib import Path

import openpyxl
from openpyxl.utils.cell import range_boundaries


def named(wb, name: str) -> tuple[object, int, int, int, int]:
    dn = wb.defined_names[name]
    (sheet, ref), = list(dn.destinations)
    c0, r0, c1, r1 = range_boundaries(ref.replace("$", ""))
    return wb[sheet], r0, c0, r1, c1


def cell(wb, name: str):
    ws, r0, c0, _, _ = named(wb, name)
    return ws.cell(r0, c0)


def indicator_rows(wb) -> list[int]:
    _, r0, _, r1, _ = named(wb, "ind_name")
    return list(range(r0, r1 + 1))


def fill(src: Path, dst: Path, *, header: dict | None = None, funds: dict | None = None,
         rows: list[dict] | None = None, goal_actual: str | None = None, extra: dict | None = None,
         goal_planned: str | None = None) -> Path:
    """`rows[i]` fills the i-th indicator row ({'name','target','actual','weight','score','reason'})."""
    wb = openpyxl.load_workbook(src)
    for k, v in (header or {}).items():
        cell(wb, k).value = v
    for (row, col), v in (funds or {}).items():
        cell(wb, f"funds_{row}_{col}").value = v
    if goal_actual is not None:
        cell(wb, "goal_actual").value = goal_actual
    if goal_planned is not None:
        cell(wb, "goal_planned").value = goal_planned
    if rows:
        ws, r0, _, r1, _ = named(wb, "ind_name")
        cols = {k: named(wb, f"ind_{k}")[2] for k in ("name", "target", "actual", "weight", "score", "reason")}
        for i, values in enumerate(rows):
            if values is None:
                continue
            assert r0 + i <= r1, "more rows than the template has"
            for k, v in values.items():
                ws.cell(r0 + i, cols[k]).value = v
    for addr, v in (extra or {}).items():
        wb.worksheets[0][addr] = v
    wb.save(dst)
    return dst


def package_text(path: Path) -> str:
    """Every part of an .xlsx, inflated and decoded: what a curious county could read in the file."""
    import zipfile
    with zipfile.ZipFile(path) as z:
        return "\n".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
