"""The province-wide summary workbook, written with XlsxWriter.

Every sheet renders one table of `aggregate.Summary`, the same tables the
CSV/Parquet exports use. Text copied from returns is always written with
`write_string` (and the workbook never turns strings into formulas, URLs or
numbers), so a county typing `=HYPERLINK(...)` gets text, not a live formula.

The body rows of the big detail sheets (项目明细, 指标明细, 问题清单, 未提交,
疑似雷同说明) are not XlsxWriter cells: XlsxWriter writes those sheets with their
header, formats and settings, and `xlsxstream.splice` streams the rows in after
`close()`, the same cells XlsxWriter would write, made one row at a time from the
table (whose rows may be a lazy sequence: it is iterated once). A table longer
than Excel's 1,048,576 rows continues on further sheets (指标明细（续2）…).
"""
from __future__ import annotations

import gc
import io
import math
import os
import unicodedata
from pathlib import Path

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from .._version import __version__
from .model import CSV_NOTE, LEVEL_ZH, LOW_RATE, TOTAL, Column, Summary, Table
from .xlsxstream import MAX_TEXT, BodyPart, CellPlan, splice

SHEETS = {"notes": "说明", "overview": "总体情况", "regions": "按地区汇总", "projects": "项目明细",
          "indicators": "指标明细", "indicator_analysis": "指标分析", "findings": "问题清单", "missing": "未提交",
          "similar_texts": "疑似雷同说明"}
MONEY_FMT = "#,##0.00"
RATE_FMT = "0.00%"
SCORE_FMT = "0.00"
INT_FMT = "0"
MAX_BODY_ROWS = 1_048_575   # Excel's 1,048,576 rows less the header: more continue on a further sheet
STREAM_BODIES = True        # False: every body cell through XlsxWriter (slow; what the tests compare with)
WIDTH_SAMPLE = 2000         # rows looked at when sizing a column
FONT = "宋体"
CHART_ROWS = 15             # a default 480×288 chart covers about 15 default rows
HEAD_BG = "#DDEBF7"
BAD = {"bg_color": "#FFC7CE", "font_color": "#9C0006"}

_NUM_FORMATS = {"money": MONEY_FMT, "rate": RATE_FMT, "share": RATE_FMT, "score": SCORE_FMT, "int": INT_FMT}


def display_width(text: str) -> int:
    """Columns a string takes in a fixed-width view: CJK and full-width characters count 2."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


class _Formats:
    """One XlsxWriter format per (kind, bold, indent) — formats are workbook-wide and must be reused."""

    def __init__(self, wb, low_grades: list[str]) -> None:
        self.wb = wb
        self.low_grades = low_grades
        self.cache: dict[tuple, object] = {}
        self.head = wb.add_format({"bold": True, "bg_color": HEAD_BG, "border": 1, "text_wrap": True,
                                   "align": "center", "valign": "vcenter", "font_name": FONT})
        self.title = wb.add_format({"bold": True, "font_size": 14, "font_name": FONT})
        self.caption = wb.add_format({"bold": True, "font_size": 11, "font_name": FONT})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top", "font_name": FONT, "border": 1})
        self.bad = wb.add_format(BAD)

    def get(self, kind: str, bold: bool = False, indent: int = 0):
        key = (kind, bold, indent)
        if key not in self.cache:
            props: dict = {"font_name": FONT, "border": 1, "valign": "vcenter"}
            if kind in _NUM_FORMATS:
                props["num_format"] = _NUM_FORMATS[kind]
            if bold:
                props["bold"] = True
            if indent:
                props["indent"] = indent
            self.cache[key] = self.wb.add_format(props)
        return self.cache[key]


def _finite(v: object) -> float | None:
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def _shown(value: object, kind: str) -> str:
    if value is None:
        return ""
    if kind == "money" and isinstance(value, (int, float)):
        return f"{value:,.2f}"
    if kind in ("rate", "share") and isinstance(value, (int, float)):
        return f"{value * 100:.2f}%"
    if kind == "score" and isinstance(value, (int, float)):
        return f"{value:.2f}"
    return str(value)


def _widths(ws, col0: int, columns: tuple[Column, ...], sample: list[dict], minimum: int = 6) -> None:
    """Column widths from the first WIDTH_SAMPLE rows (`sample`)."""
    for i, col in enumerate(columns):
        need = display_width(col.title) if len(col.title) <= 8 else display_width(col.title) // 2 + 2
        for row in sample:
            need = max(need, display_width(_shown(row.get(col.key), col.kind)))
        cap = max(col.width or 0, 40)
        ws.set_column(col0 + i, col0 + i, min(max(need + 2, minimum), cap))


def _print_setup(ws, repeat_row: int | None = 0) -> None:
    ws.set_landscape()
    ws.set_paper(9)                      # A4
    ws.fit_to_pages(1, 0)                # fit to width, as many pages down as needed
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer("&C第 &P 页，共 &N 页")
    if repeat_row is not None:
        ws.repeat_rows(repeat_row)


def _header(ws, fm: _Formats, cols: tuple[Column, ...], row0: int, col0: int) -> None:
    ws.set_row(row0, 30)
    for j, col in enumerate(cols):
        ws.write_string(row0, col0 + j, col.title, fm.head)


def _write_table(ws, fm: _Formats, table: Table, row0: int = 0, col0: int = 0, *, bold_rows=None,
                 indent_rows=None, autofilter: bool = True, widths: bool = True) -> tuple[int, int]:
    """Header + rows at (row0, col0); returns (first data row, last data row) — last < first when empty.

    Text goes through write_string only, numbers through write_number (NaN/inf and
    non-numbers become blanks), so nothing a county typed can become a formula.
    """
    cols = table.columns
    _header(ws, fm, cols, row0, col0)
    name_col = next((j for j, c in enumerate(cols) if c.key == "name"), -1)
    write_string, write_number, write_blank = ws.write_string, ws.write_number, ws.write_blank
    n = 0
    for i, row in enumerate(table.rows, row0 + 1):
        n += 1
        bold = bool(bold_rows and bold_rows(row))
        indent = indent_rows(row) if indent_rows else 0
        for j, col in enumerate(cols):
            kind = col.kind if col.kind != "number" else row.get("_kind", "score")
            fmt = fm.get(kind, bold, indent if j == name_col else 0)
            v = row.get(col.key)
            if kind == "text":
                if v is None or v == "":
                    write_blank(i, col0 + j, None, fmt)
                else:
                    text = (v if isinstance(v, str) else str(v))[:MAX_TEXT]
                    write_string(i, col0 + j, text, fm.wrap if "\n" in text else fmt)
            else:
                x = _finite(v)
                if x is None:
                    write_blank(i, col0 + j, None, fmt)
                else:
                    write_number(i, col0 + j, x, fmt)
    last = row0 + n
    if autofilter:
        ws.autofilter(row0, col0, max(last, row0 + 1), col0 + len(cols) - 1)
    if widths:
        _widths(ws, col0, cols, table.rows[:WIDTH_SAMPLE])
    _mark(ws, fm, table, row0, col0, n)
    return row0 + 1, last


def _mark(ws, fm: _Formats, table: Table, row0: int, col0: int, n_rows: int) -> None:
    """Red marks on the n_rows body rows: 执行率 below LOW_RATE, and the low grades (差/较差)."""
    first, last = row0 + 1, max(row0 + n_rows, row0 + 1)
    for j, col in enumerate(table.columns):
        c = col0 + j
        top = xl_rowcol_to_cell(first, c, row_abs=False, col_abs=True)
        if col.kind == "rate":
            ws.conditional_format(first, c, last, c, {"type": "formula", "format": fm.bad,
                                                       "criteria": f"=AND(ISNUMBER({top}),{top}<{LOW_RATE})"})
        elif col.key == "grade" and fm.low_grades and table.name in ("projects", "grades"):
            cond = ",".join(f'{top}="{g}"' for g in fm.low_grades)
            ws.conditional_format(first, c, last, c, {"type": "formula", "format": fm.bad,
                                                       "criteria": f"=OR({cond})"})


def write_summary(summary: Summary, path: str | Path) -> Path:
    """Write the summary workbook atomically (a half-written file never replaces a good one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.part{os.getpid()}.xlsx")
    bodies: list[BodyPart] | None = [] if STREAM_BODIES else None
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
               "nan_inf_to_errors": False}
    try:
        if bodies is None:
            _xlsxwriter_part(str(tmp), options, summary, None)
        else:
            skeleton = io.BytesIO()           # the workbook less its big bodies: small
            _xlsxwriter_part(skeleton, dict(options, in_memory=True), summary, bodies)
            skeleton.seek(0)
            splice(skeleton, tmp, bodies)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    return path


def _xlsxwriter_part(target, options: dict, summary: Summary, bodies: list[BodyPart] | None) -> None:
    # Without streamed bodies a province means a million and more cell objects, none in reference
    # cycles; the cyclic collector would re-scan them over and over (a fifth of the time at 10,000 returns).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        wb = xlsxwriter.Workbook(target, options)
        _workbook(wb, summary, bodies)
        wb.close()
    finally:
        if gc_was_enabled:
            gc.enable()


def _workbook(wb, summary: Summary, bodies: list[BodyPart] | None = None) -> None:
    title = f"{summary.year or ''}年度{summary.form_name or '项目支出绩效自评'}汇总"
    wb.set_properties({"title": title, "author": "xlperf", "comments": f"xlperf {__version__}"})
    fm = _Formats(wb, list(summary.low_grades))
    _notes(wb, fm, summary, title)
    _overview(wb, fm, summary)
    _regions(wb, fm, summary)
    _plain(wb, fm, summary.tables["projects"], 4, bodies)
    _plain(wb, fm, summary.tables["indicators"], 3, bodies)
    _analysis(wb, fm, summary)
    _plain(wb, fm, summary.tables["findings"], 3, bodies)
    _plain(wb, fm, summary.tables["missing"], 3, bodies)
    _plain(wb, fm, summary.tables["similar_texts"], 2, bodies)
    wb.worksheets()[1].activate()


def _notes(wb, fm: _Formats, s: Summary, title: str) -> None:
    ws = wb.add_worksheet(SHEETS["notes"])
    ws.write_string(0, 0, title, fm.title)
    c = s.counts
    facts = [
        ("年度", str(s.year or "")), ("表式", f"{s.form_name}（{s.form}）" if s.form else s.form_name),
        ("生成时间（北京时间）", s.produced_at), ("数据来源", s.produced_from), ("生成工具", f"xlperf {__version__}"),
        ("收到文件", f"{c['files']} 个（其中 {c['superseded']} 个已被新版本替代"
                 + (f"，{c['unreadable']} 个无法读取" if c.get("unreadable") else "") + "）"),
        ("项目", f"应报 {_n(c['projects_expected'])}，已报 {c['projects_returned']}，合格 {c['projects_valid']}，"
               f"有错误或无法识别 {c['projects_with_errors']}，未提交 {_n(c['projects_missing'])}"),
        ("单位", f"应报 {_n(c['units_expected'])}，已报 {c['units_returned']}，全部合格 {c['units_valid']}"),
        ("金额单位", "万元"),
        ("CSV 导出", CSV_NOTE),
    ]
    r = 2
    for k, v in facts:
        ws.write_string(r, 0, k, fm.get("text", True))
        ws.write_string(r, 1, v, fm.wrap)
        r += 1
    r += 1
    ws.write_string(r, 0, "口径说明", fm.caption)
    r += 1
    ws.write_string(r, 0, "名称", fm.head)
    ws.write_string(r, 1, "定义", fm.head)
    header_row = r
    for name, text in s.definitions:
        r += 1
        ws.write_string(r, 0, name, fm.get("text", True))
        ws.write_string(r, 1, text, fm.wrap)
    r += 2
    ws.write_string(r, 0, "工作表", fm.head)
    ws.write_string(r, 1, "内容", fm.head)
    for name, text in _sheet_notes(s):
        r += 1
        ws.write_string(r, 0, name, fm.get("text", True))
        ws.write_string(r, 1, text, fm.wrap)
    ws.set_column(0, 0, 18)
    ws.set_column(1, 1, 100)
    ws.freeze_panes(header_row + 1, 0)
    _print_setup(ws, None)
    ws.set_portrait()


def _sheet_notes(s: Summary) -> list[tuple[str, str]]:
    """What each sheet holds in this workbook: counts, and no promise of what is not there."""
    t = s.tables
    n = lambda key: len(t[key].rows)  # noqa: E731
    graded = any(r["projects"] for r in t["grades"].rows)
    overview = "应报、已报、合格的单位和项目数；资金合计与执行率；总分统计" + (
        "；等级分布（项目数和资金）、总分分布与图表" if graded else "（还没有计入汇总的回传，等级分布与图表为空）")
    roster = s.counts.get("projects_expected") is not None
    regions = sum(1 for r in t["regions"].rows if r["level"] != LEVEL_ZH[TOTAL])
    notes = [
        ("总体情况", overview),
        ("按地区汇总", f"{regions} 个地区，省、市、县（区）逐级汇总，各级合计等于下级之和"),
        ("项目明细", f"{n('projects')} 份回传，每份一行，含错误数、警告数和来源文件"),
        ("指标明细", f"{n('indicators')} 个三级指标，每个一行"),
        ("指标分析", "按一级、二级指标统计完成情况" + (f"；未完全完成次数最多的 {n('top_not_met')} 个指标"
                                          if n("top_not_met") else "；没有未完全完成的指标")),
        ("问题清单", f"{n('findings')} 个校验问题，每个一行" if n("findings") else "没有校验问题"),
        ("未提交", (f"名单中 {n('missing')} 个项目没有合格回传，含联系人和邮箱" if n("missing")
                  else "名单中的项目都已合格回传") if roster else "未使用名单（直接汇总文件），本表为空"),
        ("疑似雷同说明", f"{n('similar_texts')} 组不同单位间相同或几乎相同的说明，供审核参考" if n("similar_texts")
                     else "没有发现不同单位间相同或几乎相同的说明"),
    ]
    sheet_of = {SHEETS[k]: k for k in ("projects", "indicators", "findings", "missing", "similar_texts")}
    return [(name, text + _continuation_note(name, n(sheet_of[name])) if name in sheet_of else text)
            for name, text in notes]


def _continuation_note(name: str, n_rows: int) -> str:
    """Where a table too long for one sheet goes on (Excel holds 1,048,576 rows a sheet)."""
    sheets = _sheet_count(n_rows)
    if sheets == 1:
        return ""
    more = "、".join(f"“{continued(name, k)}”" for k in range(2, sheets + 1))
    return (f"；超过 Excel 一个工作表 {MAX_BODY_ROWS + 1:,} 行的上限，每表 {MAX_BODY_ROWS:,} 行，"
            f"依次续在 {more} 工作表（表头、筛选相同）")


def _n(v: object) -> str:
    return "—" if v is None else str(v)


def _overview(wb, fm: _Formats, s: Summary) -> None:
    ws = wb.add_worksheet(SHEETS["overview"])
    sheet = SHEETS["overview"]
    ov = s.tables["overview"]
    _write_table(ws, fm, ov, 0, 0, autofilter=False)
    col = len(ov.columns) + 1
    r = 0
    blocks = {}
    for key in ("grades", "score_buckets", "city_rates"):
        t = s.tables[key]
        ws.write_string(r, col, t.title, fm.caption)
        first, last = _write_table(ws, fm, t, r + 1, col, autofilter=False, widths=False)
        blocks[key] = (first, last)
        r = last + 3
    widths = {}
    for key in ("grades", "score_buckets", "city_rates"):
        t = s.tables[key]
        for j, c in enumerate(t.columns):
            need = max([display_width(c.title) // 2 + 2] + [display_width(_shown(row.get(c.key), c.kind))
                                                               for row in t.rows[:WIDTH_SAMPLE]])
            widths[col + j] = max(widths.get(col + j, 8), min(need + 2, 40))
    for c, w in widths.items():
        ws.set_column(c, c, w)
    ws.freeze_panes(1, 0)
    chart_col = col + max(len(s.tables[k].columns) for k in blocks) + 1
    anchor = xl_rowcol_to_cell(0, chart_col)
    # 等级分布：项目数
    first, last = blocks["grades"]
    if last >= first:
        ch = _count_chart(wb, sheet, first, last, col, "等级分布（项目数）", "#5B9BD5")
        ch.set_y_axis({"name": "项目数", "major_gridlines": {"visible": True}})
        ws.insert_chart(anchor, ch, {"x_scale": 1.1, "y_scale": 1.0})
    chart_row = CHART_ROWS + 1
    # 各市执行率
    first, last = blocks["city_rates"]
    if last >= first:
        ch = wb.add_chart({"type": "bar"})
        ch.add_series({"name": "执行率", "categories": [sheet, first, col, last, col],
                       "values": [sheet, first, col + 3, last, col + 3], "data_labels": {"value": True, "num_format": "0.0%"},
                       "fill": {"color": "#70AD47"}})
        ch.set_title({"name": "各市执行率"})
        ch.set_legend({"none": True})
        ch.set_x_axis({"num_format": "0%", "min": 0})
        ch.set_y_axis({"reverse": True})
        scale = min(max(1.0, 0.12 * (last - first + 1)), 4.0)      # about one bar per 20 px
        ws.insert_chart(xl_rowcol_to_cell(chart_row, chart_col), ch, {"x_scale": 1.1, "y_scale": scale})
        chart_row += math.ceil(CHART_ROWS * scale) + 1
    # 总分分布
    first, last = blocks["score_buckets"]
    ch = _count_chart(wb, sheet, first, last, col, "总分分布", "#ED7D31")
    ws.insert_chart(xl_rowcol_to_cell(chart_row, chart_col), ch, {"x_scale": 1.1})
    _print_setup(ws, None)


def _count_chart(wb, sheet: str, first: int, last: int, col: int, title: str, color: str):
    """A column chart of 项目数 (the block's second column) by its first column."""
    ch = wb.add_chart({"type": "column"})
    ch.add_series({"name": "项目数", "categories": [sheet, first, col, last, col],
                   "values": [sheet, first, col + 1, last, col + 1], "data_labels": {"value": True},
                   "fill": {"color": color}})
    ch.set_title({"name": title})
    ch.set_legend({"none": True})
    return ch


def _regions(wb, fm: _Formats, s: Summary) -> None:
    t = s.tables["regions"]
    ws = wb.add_worksheet(SHEETS["regions"])
    county, city, prov = LEVEL_ZH["county"], LEVEL_ZH["city"], LEVEL_ZH["province"]
    _write_table(ws, fm, t, bold_rows=lambda row: row["level"] in (LEVEL_ZH[TOTAL], prov, city),
                 indent_rows=lambda row: {county: 2, city: 1, "省本级": 1}.get(row["level"], 0))
    ws.freeze_panes(1, 4)
    _print_setup(ws)


def continued(name: str, k: int) -> str:
    """The k-th sheet (k ≥ 2) of a table longer than one sheet can hold."""
    return f"{name}（续{k}）"


def _sheet_count(n_rows: int) -> int:
    return max(1, -(-n_rows // MAX_BODY_ROWS))


def _plain(wb, fm: _Formats, t: Table, freeze_cols: int, bodies: list[BodyPart] | None) -> None:
    """A detail table: header, filter, frozen panes, widths and marks on each of its sheets; body
    rows streamed in after close (`bodies`), or written cell by cell when `bodies` is None."""
    name = SHEETS.get(t.name, t.title)
    if bodies is None:
        ws = wb.add_worksheet(name)
        _write_table(ws, fm, t)
        ws.freeze_panes(1, freeze_cols)
        _print_setup(ws)
        return
    n = len(t.rows)
    sample = t.rows[:WIDTH_SAMPLE]
    cells = _cell_plans(fm, t.columns)
    for k in range(_sheet_count(n)):
        start = k * MAX_BODY_ROWS
        count = min(MAX_BODY_ROWS, n - start)
        ws = wb.add_worksheet(name if k == 0 else continued(name, k + 1))
        _header(ws, fm, t.columns, 0, 0)
        ws.autofilter(0, 0, max(count, 1), len(t.columns) - 1)
        _widths(ws, 0, t.columns, sample)
        _mark(ws, fm, t, 0, 0, count)
        ws.freeze_panes(1, freeze_cols)
        _print_setup(ws)
        bodies.append(BodyPart(ws.name, t.rows, start, count, cells))


def _cell_plans(fm: _Formats, cols: tuple[Column, ...]) -> tuple[CellPlan, ...]:
    """Each column's cells as `_write_table` writes them, with the formats' style indices.

    XlsxWriter numbers a format (its xf index in styles.xml) when a cell first uses it, and
    writes only numbered formats; these cells are written outside it, so they number theirs here.
    """
    def xf(fmt) -> int:
        return fmt._get_xf_index()

    plain, wrap = xf(fm.get("text")), xf(fm.wrap)
    plans = []
    for c in cols:
        if c.kind == "text":
            plans.append(CellPlan(c.key, "text", plain, wrap))
        elif c.kind == "number":        # the row's "_kind" decides; an unknown kind has no number format
            by_row = {k: ("text" if k == "text" else "number", xf(fm.get(k))) for k in ("text", *_NUM_FORMATS)}
            plans.append(CellPlan(c.key, "number", plain, wrap, by_row))
        else:
            plans.append(CellPlan(c.key, "number", xf(fm.get(c.kind))))
    return tuple(plans)


def _analysis(wb, fm: _Formats, s: Summary) -> None:
    ws = wb.add_worksheet(SHEETS["indicator_analysis"])
    t = s.tables["indicator_analysis"]
    _, last = _write_table(ws, fm, t, bold_rows=lambda row: row["level"] in ("合计", "一级"),
                           indent_rows=lambda row: 0)
    top = s.tables["top_not_met"]
    r = max(last, 1) + 3
    ws.write_string(r - 1, 0, f"{top.title}（前{len(top.rows)}个，按未完全完成次数排序）", fm.caption)
    _write_table(ws, fm, top, r, 0, autofilter=False, widths=False)
    # one width per column for both tables
    for j in range(max(len(t.columns), len(top.columns))):
        need = 6
        for tab in (t, top):
            if j < len(tab.columns):
                c = tab.columns[j]
                need = max(need, display_width(c.title) // 2 + 2,
                           *[display_width(_shown(row.get(c.key), c.kind)) for row in tab.rows[:WIDTH_SAMPLE]] or [0])
        ws.set_column(j, j, min(need + 2, 40))
    ws.freeze_panes(1, 3)
    _print_setup(ws)
