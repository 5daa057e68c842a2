"""The feedback copy a county gets back: its own return, problems marked.

Each problem cell is filled (red for errors, yellow for warnings) and carries
a comment explaining it; a 问题清单 sheet lists every finding. The original
file is never touched: we read it and write a new file beside the others.
"""
from __future__ import annotations

import io
import math
from collections import defaultdict
from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from .check import CheckResult
from ..form.filenames import fit_name
from .findings import ERROR, SEVERITY_ZH, WARNING
from ..read import read_grid

FILLS = {ERROR: PatternFill("solid", fgColor="FFC7CE"), WARNING: PatternFill("solid", fgColor="FFEB9C")}
ISSUES_SHEET = "问题清单"


def set_text(cell, value: object) -> None:
    """Write user text as text: a leading = + - @ must never become a formula; NaN/∞ are shown as text."""
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)
    cell.value = value
    if isinstance(value, str) and value[:1] in "=+-@":
        cell.data_type = "s"


def unique_path(directory: Path, name: str) -> Path:
    p = directory / name
    stem, suffix = p.stem, p.suffix
    i = 1
    while p.exists():
        p = directory / f"{stem}({i}){suffix}"
        i += 1
    return p


def _workbook_for(src: Path, result: CheckResult):
    """openpyxl workbook of the return: the file itself for xlsx, else rebuilt from its grid."""
    if result.format == "xlsx":
        with open(src, "rb") as fh:   # store objects have no extension, which openpyxl insists on for paths
            raw = fh.read()
        try:
            wb = openpyxl.load_workbook(io.BytesIO(raw), rich_text=False)   # keep_vba off: a VBA project never travels
        except Exception:  # noqa: BLE001 — openpyxl refuses what our reader accepts (a NaN cell): rebuild from values
            wb = None
        if wb is not None:
            _defuse(wb, raw)
            return wb
    grid = read_grid(src)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet in grid.sheets:
        ws = wb.create_sheet(sheet.name[:31])
        if sheet.state != "visible":
            ws.sheet_state = "hidden" if sheet.state == "hidden" else "veryHidden"
        for (r, c), v in sheet.values.items():
            set_text(ws.cell(r + 1, c + 1), v)
            if (fmt := sheet.formats.get((r, c))):
                ws.cell(r + 1, c + 1).number_format = fmt
        for r0, c0, r1, c1 in sheet.merged:
            ws.merge_cells(start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
    return wb


def _defuse(wb, raw: bytes) -> None:
    """Leave out what could run on the county's computer: DDE and external-link formulas become their
    saved values, dangerous hyperlinks and links to other workbooks are dropped (see read/hazards.py)."""
    from ..read.hazards import BAD_SCHEMES, formula_hazard
    values = None
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                v = cell.value
                text = getattr(v, "text", v)
                if isinstance(text, str) and text.startswith("=") and formula_hazard(text[1:]):
                    if values is None:
                        values = openpyxl.load_workbook(io.BytesIO(raw), data_only=True, rich_text=False)
                    cached = values[ws.title][cell.coordinate].value
                    cell.value = cached
                    if isinstance(cached, str):
                        set_text(cell, cached)
                link = cell.hyperlink
                if link is not None and str(link.target or "").strip().lower().startswith(BAD_SCHEMES):
                    cell.hyperlink = None
    wb._external_links = []
    for name in [n for n, d in wb.defined_names.items() if "[" in str(d.attr_text) or "\\\\" in str(d.attr_text)]:
        del wb.defined_names[name]


def write_feedback(src: str | Path, result: CheckResult, outdir: str | Path, name: str | None = None) -> Path:
    src, outdir = Path(src), Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    wb = _workbook_for(src, result)
    by_cell: dict[tuple[str, str], list] = defaultdict(list)
    for f in result.findings:
        if f.cell and f.sheet in wb.sheetnames:
            by_cell[(f.sheet, f.cell)].append(f)
    for (sheet, addr), items in by_cell.items():
        ws = wb[sheet]
        cell = ws[addr]
        if type(cell).__name__ == "MergedCell":
            continue
        worst = ERROR if any(f.severity == ERROR for f in items) else WARNING
        if worst in FILLS:
            cell.fill = FILLS[worst]
        text = "\n".join(f"【{SEVERITY_ZH[f.severity]}】{f.message}" for f in items)
        cell.comment = Comment(text, "xlperf", width=320, height=60 + 40 * len(items))
    if ISSUES_SHEET in wb.sheetnames:
        del wb[ISSUES_SHEET]
    ws = wb.create_sheet(ISSUES_SHEET, 0 if result.form is None else len(wb.sheetnames))
    headers = ("序号", "严重程度", "问题代码", "工作表", "单元格", "问题说明")
    for c, h in enumerate(headers, 1):
        ws.cell(1, c, h).font = Font(bold=True)
    for i, f in enumerate(result.findings, 1):
        row = (i, SEVERITY_ZH[f.severity], f.code, f.sheet, f.cell, f.message)
        for c, v in enumerate(row, 1):
            set_text(ws.cell(i + 1, c), v)
            ws.cell(i + 1, c).alignment = Alignment(wrap_text=True, vertical="top")
        if f.severity in FILLS:
            ws.cell(i + 1, 2).fill = FILLS[f.severity]
    if not result.findings:
        ws.cell(2, 1, "未发现问题")
    for c, w in enumerate((6, 10, 24, 22, 10, 80), 1):
        ws.column_dimensions[get_column_letter(c)].width = w
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:F{max(2, len(result.findings) + 1)}"
    target = unique_path(outdir, fit_name(name or f"{src.stem}_反馈.xlsx"))
    tmp = target.with_name(target.name + ".part")
    try:
        wb.save(tmp)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)      # a full disk leaves no half-written copy behind
        raise
    return target
