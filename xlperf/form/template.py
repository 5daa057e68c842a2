"""The locked self-evaluation workbook, written with XlsxWriter.

It looks like the paper form, only its input cells are unlocked, and every
formula is written with the value it computes on our inputs (LibreOffice and
fast readers trust cached values; XlsxWriter's default would be 0). Fields the
reader needs get workbook defined names; a very-hidden `_xlperf` sheet carries
the form's identity.
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from .._version import __version__
from .layout import Layout, compute_layout
from .model import FormData, IndicatorLine
from .scoring import budget_score, grade_for, round2
from .spec import FormSpec
from .values import parse_amount, parse_value

META_SHEET = "_xlperf"
LISTS_SHEET = "_lists"
DV_LIST_LIMIT = 255          # Excel's limit for an inline list validation
INPUT_FILL = "#FFF2CC"       # visible shading of cells a county may edit
LOCKED_FILL = "#F2F2F2"
MONEY_FMT = "#,##0.00##"
RATE_FMT = "0.00%"
SCORE_FMT = "0.##;-0.##;0"


@dataclass
class TemplateOptions:
    password: str = ""                          # sheet password; never logged
    lock: frozenset[str] = frozenset()          # pre-filled groups to lock: "header", "funds", "targets"
    meta: dict[str, str] = field(default_factory=dict)   # extra rows for `_xlperf` (identity, signature)
    generated_at: str = ""                      # ISO timestamp; default now (UTC)
    # What the province pre-filled, when `data` also carries a county's own entries (a
    # correction copy): only these values are locked. None: everything in `data` is pre-fill.
    prefill: FormData | None = None
    marks: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)  # (row, col) → (severity, comment)
    add_sheets: Callable[[object, Layout], None] | None = None   # called with the xlsxwriter workbook


def a1(r: int, c: int, absolute: bool = False) -> str:
    return xl_rowcol_to_cell(r, c, row_abs=absolute, col_abs=absolute)


def col_range(col: int, r0: int, r1: int, absolute: bool = True) -> str:
    return f"{a1(r0, col, absolute)}:{a1(r1, col, absolute)}"


def _num(v: object) -> float | None:
    if v is None or v == "":
        return None
    return parse_amount(v).value


def _shown(v: object) -> object:
    """A number where the value is one, else the text as typed (a correction copy keeps "满分")."""
    x = _num(v)
    return x if x is not None else (v if isinstance(v, str) and v.strip() else None)


class _Sheet:
    """Thin wrapper that turns XlsxWriter's silent -1 return codes into errors."""

    def __init__(self, ws) -> None:
        self.ws = ws

    def __getattr__(self, name):
        fn = getattr(self.ws, name)
        if not callable(fn) or not name.startswith(("write", "merge", "data_validation", "conditional")):
            return fn

        def checked(*args, **kwargs):
            rc = fn(*args, **kwargs)
            if isinstance(rc, int) and rc < 0:
                raise RuntimeError(f"XlsxWriter {name}{args[:2]} failed with code {rc}")
            return rc
        return checked


class _Formats:
    def __init__(self, wb, spec: FormSpec) -> None:
        base = {"font_name": "仿宋", "font_size": 11, "border": 1, "valign": "vcenter", "text_wrap": True}
        self.wb = wb
        self._cache: dict[tuple, object] = {}
        self.base = base
        self.title = wb.add_format({"font_name": "宋体", "font_size": 18, "bold": True, "align": "center", "valign": "vcenter"})
        self.subtitle = wb.add_format({"font_name": "宋体", "font_size": 12, "align": "center", "valign": "vcenter"})
        self.note = wb.add_format({"font_name": "仿宋", "font_size": 10, "text_wrap": True, "valign": "top"})

    def get(self, *, kind: str = "label", locked: bool = True, num: str | None = None, align: str = "center",
            bold: bool = False, shade: bool = True) -> object:
        key = (kind, locked, num, align, bold, shade)
        if key not in self._cache:
            props = dict(self.base, align=align, locked=locked, bold=bold)
            if not locked and shade:
                props["bg_color"] = INPUT_FILL
            elif kind == "computed":
                props["bg_color"] = LOCKED_FILL
            if num:
                props["num_format"] = num
            self._cache[key] = self.wb.add_format(props)
        return self._cache[key]


_OP_SIGN = {">=": "≥", "<=": "≤", "=": "=", ">": ">", "<": "<", "~": "≈"}


def _split_target(target: object) -> dict[str, object]:
    """"≥95%" → 指标性质 ≥ | 指标值 95 | 度量单位 %, for layouts that print the three apart."""
    v = parse_value(target)
    if v.kind != "quantitative" or v.number is None:
        return {"target_op": "定性" if v.kind == "qualitative" else None, "target": target, "target_unit": None}
    number = int(v.number) if float(v.number).is_integer() else v.number
    return {"target_op": _OP_SIGN.get(v.comparator or "", "="), "target": number, "target_unit": v.unit}


class FormWorksheet(Worksheet):
    """XlsxWriter scans every formula with some thirty regular expressions (for Excel 365 names);
    a season writes the same few dozen formulas into thousands of workbooks, so the prepared
    text, a pure function of its input, is remembered (a fifth of a workbook's time)."""

    _prepared: dict[tuple, str] = {}
    MEMO = 8192

    def _prepare_formula(self, formula, *args, **kwargs):
        key = (formula, args, tuple(sorted(kwargs.items())), self.use_future_functions)
        done = self._prepared.get(key)
        if done is None:
            if len(self._prepared) >= self.MEMO:
                self._prepared.clear()
            done = self._prepared[key] = super()._prepare_formula(formula, *args, **kwargs)
        return done


def write_template(spec: FormSpec, year: int, target: str | Path | io.BytesIO,
                   data: FormData | None = None, options: TemplateOptions | None = None) -> Layout:
    """Write one workbook; returns the layout used (tests and generation use it)."""
    opts = options or TemplateOptions()
    data = data or FormData()
    lay = compute_layout(spec, data)
    wb = xlsxwriter.Workbook(target, {"in_memory": True, "strings_to_formulas": False,
                                      "strings_to_numbers": False, "strings_to_urls": False})
    try:
        props = {"title": f"{spec.title}（{year}年度）", "author": "xlperf", "comments": f"xlperf {__version__}"}
        if opts.generated_at:  # a fixed timestamp makes regeneration byte-identical
            props["created"] = dt.datetime.fromisoformat(opts.generated_at).replace(tzinfo=None)
        wb.set_properties(props)
        ws = _Sheet(wb.add_worksheet(spec.sheet, worksheet_class=FormWorksheet))
        fmt = _Formats(wb, spec)
        lists = _write_lists(wb, spec)
        _write_body(wb, ws, spec, year, lay, data, opts, fmt, lists)
        _write_marks(wb, ws, opts.marks)
        if opts.add_sheets:
            opts.add_sheets(wb, lay)
        _write_meta(wb, spec, year, opts)
        ws.activate()
    finally:
        wb.close()
    return lay


MARK_FILLS = {"error": ("#FFC7CE", "#9C0006"), "warning": ("#FFEB9C", "#9C5700")}


def _write_marks(wb, ws: _Sheet, marks: dict[tuple[int, int], tuple[str, str]]) -> None:
    """Problem cells: shaded (by a conditional format, so the cell keeps its lock and number
    format) and explained in a comment."""
    fills = {k: wb.add_format({"bg_color": bg, "font_color": fg}) for k, (bg, fg) in MARK_FILLS.items()}
    for (r, c), (severity, text) in sorted(marks.items()):
        if severity in fills:
            ws.conditional_format(r, c, r, c, {"type": "formula", "criteria": "=TRUE", "format": fills[severity]})
        ws.write_comment(r, c, text, {"author": "xlperf", "x_scale": 2.4, "y_scale": 1 + 0.6 * text.count("\n")})


def _is_prefilled(opts: TemplateOptions) -> Callable[[str, object], bool]:
    """Whether a value at a place ("header:unit", "funds:current:budget", "goal", "ind:…") was pre-filled."""
    pre = opts.prefill
    if pre is None:
        return lambda place, value: value not in (None, "")
    places = {f"header:{k}" for k, v in pre.header.items() if v not in (None, "")}
    places |= {f"funds:{l.key}:{k}" for l in pre.funds for k, v in l.values.items() if v not in (None, "")}
    if pre.goal_planned:
        places.add("goal")
    places |= {f"ind:{i.level1}:{i.level2}:{i.name}" for i in pre.indicators if i.name}
    return lambda place, value: value not in (None, "") and place in places


def _write_lists(wb, spec: FormSpec) -> dict[str, str]:
    """Dropdown sources: inline when short, else on a hidden sheet behind a defined name."""
    wanted = {"list_level1": [l.name for l in spec.level1],
              "list_level2": list(dict.fromkeys(spec.level2_names()))}
    out: dict[str, str] = {}
    long = {k: v for k, v in wanted.items() if len(",".join(v)) > DV_LIST_LIMIT}
    for k, v in wanted.items():
        if k not in long:
            out[k] = v  # type: ignore[assignment]
    if long:
        ls = wb.add_worksheet(LISTS_SHEET)
        for col, (name, items) in enumerate(long.items()):
            for row, item in enumerate(items):
                ls.write_string(row, col, item)
            wb.define_name(name, f"='{LISTS_SHEET}'!${xl_col_to_name(col)}$1:${xl_col_to_name(col)}${len(items)}")
            out[name] = f"={name}"  # type: ignore[assignment]
        ls.hide()
        ls.protect()
    return out


def _write_body(wb, ws: _Sheet, spec: FormSpec, year: int, lay: Layout, data: FormData,
                opts: TemplateOptions, fmt: _Formats, lists: dict) -> None:
    sheet_ref = "'" + spec.sheet.replace("'", "''") + "'"
    last_col = lay.ncols - 1

    def name(n: str, r0: int, c0: int, r1: int | None = None, c1: int | None = None) -> None:
        ref = a1(r0, c0, True) if r1 is None else f"{a1(r0, c0, True)}:{a1(r1, c1 if c1 is not None else c0, True)}"
        wb.define_name(n, f"={sheet_ref}!{ref}")

    def put(r: int, c0: int, c1: int, value, f, r1: int | None = None) -> None:
        """Write a value (text always as text) into a cell or merged range."""
        r1 = r if r1 is None else r1
        if (r, c0) != (r1, c1):
            ws.merge_range(r, c0, r1, c1, "", f)
        if value is None or value == "":
            ws.write_blank(r, c0, None, f)
        elif isinstance(value, str):
            ws.write_string(r, c0, value, f)
        else:
            ws.write_number(r, c0, float(value), f)

    # Title rows and page set-up.
    ws.merge_range(lay.title_row, 0, lay.title_row, last_col, spec.title, fmt.title)
    ws.merge_range(lay.subtitle_row, 0, lay.subtitle_row, last_col, spec.subtitle_for(year), fmt.subtitle)
    ws.set_row(lay.title_row, 34)
    ws.set_row(lay.subtitle_row, 22)
    ws.set_column(0, 0, column_widths(spec, lay)[0])
    for c in spec.indicator_columns:
        ws.set_column(lay.ind_cols[c.key], lay.ind_cols[c.key], c.width or 12)
    ws.set_landscape()
    ws.set_paper(9)
    # One A4 landscape page per form: the form itself; the check table and 说明 below it
    # are for the screen only.
    ws.fit_to_pages(1, 1)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.center_horizontally()
    ws.print_area(0, 0, lay.print_last_row, last_col)

    # Header: label / value pairs.
    prefilled = _is_prefilled(opts)
    lock_header = "header" in opts.lock
    widths = column_widths(spec, lay)
    for r, pairs in lay.header:
        ws.set_row(r, row_height(max(lines_needed(label, widths[lc]) for _, label, lc, _, _ in pairs), 24))
        for key, label, lc, vc0, vc1 in pairs:
            put(r, lc, lc, label, fmt.get(bold=True))
            value = data.header.get(key)
            locked = lock_header and prefilled(f"header:{key}", value)
            put(r, vc0, vc1, value, fmt.get(locked=locked, align="left"))
            name(key, r, vc0)

    # Funds block.
    fr, fc = lay.funds_rows, lay.funds_cols
    src_rows = [r for k, r in fr.items() if k != "total"]
    total_r = fr["total"]
    put(lay.funds_head_row, 0, 0, spec.funds_label, fmt.get(bold=True), r1=total_r + len(src_rows))
    put(lay.funds_head_row, 1, 1, "", fmt.get())
    for c in spec.funds_columns:
        put(lay.funds_head_row, fc[c.key][0], fc[c.key][1], c.label, fmt.get(bold=True))
    ws.set_row(lay.funds_head_row, row_height(max(lines_needed(c.label, _span_width(widths, *fc[c.key]))
                                                  for c in spec.funds_columns), 30))
    lock_funds = "funds" in opts.lock
    money_inputs: list[tuple[int, int]] = []
    cached: dict[str, dict[str, float | str | None]] = {}
    for frow in spec.funds_rows:
        r = fr[frow.key]
        ws.set_row(r, row_height(lines_needed(frow.label, widths[1]), 22))   # long labels wrap
        put(r, 1, 1, frow.label, fmt.get(align="left"))
        line = data.funds_line(frow.key)
        vals: dict[str, float | str | None] = {}
        for c in spec.funds_columns:
            c0, c1 = fc[c.key]
            if c.key in ("initial_budget", "budget", "spent"):
                if frow.key == "total":
                    name(f"funds_total_{c.key}", r, c0)
                    continue  # summed below, once the sources are known
                v = _num(line.values.get(c.key)) if line else None
                vals[c.key] = v
                locked = lock_funds and prefilled(f"funds:{frow.key}:{c.key}", v)
                put(r, c0, c1, _shown(line.values.get(c.key)) if line else None,
                    fmt.get(locked=locked, num=MONEY_FMT, align="right"))
                if not locked:
                    money_inputs.append((r, c0))
            name(f"funds_{frow.key}_{c.key}", r, c0)
        cached[frow.key] = vals
    total_vals: dict[str, float | str | None] = {}
    for key in ("initial_budget", "budget", "spent"):
        if key not in fc:
            continue
        c0, c1 = fc[key]
        given = [v for k, vs in cached.items() if k != "total" for v in [vs.get(key)] if v is not None]
        s = round(sum(given), 6) if given else ""
        total_vals[key] = s
        if c1 != c0:
            ws.merge_range(total_r, c0, total_r, c1, "", fmt.get(kind="computed", num=MONEY_FMT, align="right"))
        src = col_range(c0, src_rows[0], src_rows[-1], False)
        ws.write_formula(total_r, c0, f"=IF(COUNT({src})=0,\"\",SUM({src}))",
                         fmt.get(kind="computed", num=MONEY_FMT, align="right"), s)
    cached["total"] = total_vals
    bcol, scol = fc["budget"][0], fc["spent"][0]
    for frow in spec.funds_rows:
        r = fr[frow.key]
        vals = cached[frow.key]
        b, s = vals.get("budget") or 0.0, vals.get("spent")
        rate = (s / b) if b and s not in (None, "") else ""
        c0, c1 = fc["rate"]
        if c1 != c0:
            ws.merge_range(r, c0, r, c1, "", fmt.get(kind="computed", num=RATE_FMT))
        ws.write_formula(r, c0, f"=IF(OR(N({a1(r, bcol)})=0,{a1(r, scol)}=\"\"),\"\",N({a1(r, scol)})/N({a1(r, bcol)}))",
                         fmt.get(kind="computed", num=RATE_FMT), rate)
        if frow.key == "total":
            wc0, wc1 = fc["weight"]
            put(r, wc0, wc1, spec.funds_weight, fmt.get(kind="computed", num=SCORE_FMT))
            sc0, sc1 = fc["score"]
            score = budget_score(spec.funds_weight, rate if rate != "" else None, spec.scoring)
            rate_cell, w_cell = a1(r, fc["rate"][0]), a1(r, wc0)
            if spec.scoring.budget_score == "proportional_floor_int":
                formula = f"=IF({rate_cell}=\"\",\"\",ROUNDDOWN({w_cell}*MIN(ROUND({rate_cell},4),1),0))"
            else:
                formula = f"=IF({rate_cell}=\"\",\"\",ROUND({w_cell}*MIN(ROUND({rate_cell},4),1),2))"
            if sc1 != sc0:
                ws.merge_range(r, sc0, r, sc1, "", fmt.get(kind="computed", num=SCORE_FMT))
            ws.write_formula(r, sc0, formula, fmt.get(kind="computed", num=SCORE_FMT), "" if score is None else score)
            cached["total"]["score"] = score
        else:
            for key in ("weight", "score"):
                c0, c1 = fc[key]
                put(r, c0, c1, spec.funds_na_mark, fmt.get(kind="computed"))
    for r, c in money_inputs:
        ws.data_validation(r, c, r, c, {"validate": "decimal", "criteria": ">=", "value": 0,
                                        "input_title": "金额（万元）", "input_message": "请填写不小于0的数字，单位万元",
                                        "error_title": "金额有误", "error_message": "金额须为不小于0的数字（万元）"})

    # Goal block.
    put(lay.goal_head_row, 0, 0, spec.goal_label, fmt.get(bold=True), r1=lay.goal_text_row)
    put(lay.goal_head_row, *lay.goal_planned_cols, spec.goal_planned, fmt.get(bold=True))
    put(lay.goal_head_row, *lay.goal_actual_cols, spec.goal_actual, fmt.get(bold=True))
    lock_goal = "targets" in opts.lock and prefilled("goal", data.goal_planned)
    put(lay.goal_text_row, *lay.goal_planned_cols, data.goal_planned, fmt.get(locked=lock_goal, align="left"))
    put(lay.goal_text_row, *lay.goal_actual_cols, data.goal_actual, fmt.get(locked=False, align="left"))
    ws.set_row(lay.goal_head_row, 20)
    ws.set_row(lay.goal_text_row, 80)
    name("goal_planned", lay.goal_text_row, lay.goal_planned_cols[0])
    name("goal_actual", lay.goal_text_row, lay.goal_actual_cols[0])

    # Indicator block.
    ic = lay.ind_cols
    # Excel and LibreOffice delete a row of a protected sheet only when every cell in it is
    # unlocked, and the 说明 lets counties delete unused rows: so the block's label and the
    # rows themselves (beyond the form, too) are unlocked; the label is not an input.
    put(lay.ind_head_row, 0, 0, spec.indicators_label, fmt.get(bold=True, locked=False, shade=False), r1=lay.ind_last)
    for c in spec.indicator_columns:
        put(lay.ind_head_row, ic[c.key], ic[c.key], c.label, fmt.get(bold=True))
    ws.set_row(lay.ind_head_row, row_height(max(lines_needed(c.label, widths[ic[c.key]])
                                                for c in spec.indicator_columns), 30))
    lock_targets = "targets" in opts.lock
    row_unlocked = wb.add_format({"locked": False})
    for g1 in lay.groups:
        lab = f"{g1.name}"
        put(g1.first, ic["level1"], ic["level1"], lab, fmt.get(locked=lock_targets), r1=g1.last)
        for g2 in g1.children:
            put(g2.first, ic["level2"], ic["level2"], g2.name, fmt.get(locked=lock_targets), r1=g2.last)
    for i, line in enumerate(lay.rows):
        r = lay.ind_first + i
        line = line or IndicatorLine()
        texts = ((line.name, ic["name"]), (line.reason, ic["reason"]), (line.target, ic["target"]), (line.actual, ic["actual"]))
        ws.set_row(r, row_height(max(lines_needed(str(t or ""), widths[c], bold=False) for t, c in texts), 26),
                   row_unlocked)
        pre = lock_targets and bool(line.name) and prefilled(f"ind:{line.level1}:{line.level2}:{line.name}", line.name)
        cells = {"name": line.name, "target": line.target, "actual": line.actual,
                 "weight": _shown(line.weight), "score": _shown(line.score), "reason": line.reason}
        if "target_op" in ic or "target_unit" in ic:
            cells.update(_split_target(line.target))
        for key, value in cells.items():
            if key not in ic:
                continue
            locked = pre and key in ("name", "target", "target_op", "target_unit", "weight")
            num = SCORE_FMT if key in ("weight", "score") else None
            align = "center" if key in ("target", "actual", "weight", "score") else "left"
            put(r, ic[key], ic[key], value, fmt.get(locked=locked, num=num, align=align))
    first, last = lay.ind_first, lay.ind_last
    for key in ic:
        name(f"ind_{key}", first, ic[key], last, ic[key])
    for key, lst in (("level1", lists["list_level1"]), ("level2", lists["list_level2"])):
        ws.data_validation(first, ic[key], last, ic[key], {"validate": "list", "source": lst,
                           "error_type": "warning", "error_title": "指标名称", "error_message": "请从下拉列表中选择"})
    wcol, scol_i = ic["weight"], ic["score"]
    ws.data_validation(first, wcol, last, wcol, {"validate": "decimal", "criteria": "between", "minimum": 0,
                       "maximum": spec.total_weight, "error_title": "分值有误",
                       "error_message": f"分值须为0到{spec.total_weight:g}之间的数字"})
    ws.data_validation(first, scol_i, last, scol_i, {
        "validate": "custom", "value": f"=AND(ISNUMBER({a1(first, scol_i)}),{a1(first, scol_i)}>=0,"
                                       f"{a1(first, scol_i)}<=N({a1(first, wcol)}))",
        "ignore_blank": True, "input_title": "得分", "input_message": "得分应在0与本行分值之间",
        "error_title": "得分有误", "error_message": "得分须为数字，且在0与本行分值之间"})

    # Totals and grade: computed values mirror the formulas.
    ind_w = [_num(l.weight) if l else None for l in lay.rows]
    ind_s = [_num(l.score) if l else None for l in lay.rows]
    any_weight = any(w is not None for w in ind_w)
    total_weight = round2(spec.funds_weight + sum(w or 0.0 for w in ind_w))
    funds_score = cached["total"].get("score")
    n_scores = sum(1 for s in ind_s if s is not None) + (1 if isinstance(funds_score, float) else 0)
    total_score = round2((funds_score if isinstance(funds_score, float) else 0.0) + sum(s or 0.0 for s in ind_s))
    tr = lay.total_row
    ws.set_row(tr, 22)
    ws.set_row(lay.grade_row, 22)
    wr, sr = col_range(wcol, first, last, False), col_range(scol_i, first, last, False)
    fw_cell, fs_cell = a1(total_r, fc["weight"][0]), a1(total_r, fc["score"][0])
    lo = min(wcol, scol_i)
    put(tr, 0, lo - 1, spec.total_label, fmt.get(bold=True))
    computed = fmt.get(kind="computed", num=SCORE_FMT, bold=True)
    # Results show only once the inputs they depend on are there: a blank form shows no 0 or 差.
    ws.write_formula(tr, wcol, f"=IF(COUNT({wr})=0,\"\",{fw_cell}+SUM({wr}))", computed,
                     total_weight if any_weight else "")
    ws.write_formula(tr, scol_i, f"=IF(COUNT({sr},{fs_cell})=0,\"\",N({fs_cell})+SUM({sr}))", computed,
                     total_score if n_scores else "")
    for c in range(lo, lay.ncols):
        if c not in (wcol, scol_i):
            ws.write_blank(tr, c, None, fmt.get())
    name("total_weight", tr, wcol)
    name("total_score", tr, scol_i)
    gr = lay.grade_row
    put(gr, 0, scol_i - 1, spec.grade_label, fmt.get(bold=True))
    ts = a1(tr, scol_i)
    grade_expr = '"' + spec.grades[-1].name + '"'
    for g in reversed(spec.grades[:-1]):
        op = ">=" if g.min_inclusive else ">"
        grade_expr = f'IF({ts}{op}{g.min:g},"{g.name}",{grade_expr})'
    grade = grade_for(total_score, spec.grades) if n_scores else ""
    if scol_i < last_col:
        ws.merge_range(gr, scol_i, gr, last_col, "", fmt.get(kind="computed", bold=True))
    ws.write_formula(gr, scol_i, f"=IF(COUNT({sr},{fs_cell})=0,\"\",{grade_expr})",
                     fmt.get(kind="computed", bold=True), grade)
    name("grade", gr, scol_i)

    # Check block: subtotals per 一级 and the 100-point total, visible and red when wrong.
    cc = lay.check_cols
    all_ok = True
    ok_text = "正确"
    head = fmt.get(kind="computed", bold=True)
    for key, label in (("label", "校验项目"), ("required", "规定分值"), ("weight", "分值小计"),
                       ("score", "得分小计"), ("status", "校验结果")):
        put(lay.check_head_row, *cc[key], label, head)
    rows_spec = [("预算执行率", spec.funds_weight, lay.check_rows[0][2], fw_cell, fs_cell,
                  spec.funds_weight, funds_score if isinstance(funds_score, float) else 0.0)]
    for g, (_, req, r) in zip(lay.groups, lay.check_rows[1:]):
        wsum = round2(sum(w or 0.0 for w in ind_w[g.first - first:g.last - first + 1]))
        ssum = round2(sum(s or 0.0 for s in ind_s[g.first - first:g.last - first + 1]))
        rows_spec.append((g.name, req, r, f"SUM({col_range(wcol, g.first, g.last, False)})",
                          f"SUM({col_range(scol_i, g.first, g.last, False)})", wsum, ssum))
    rows_spec.append(("分值合计", spec.total_weight, lay.check_total_row, a1(tr, wcol), a1(tr, scol_i),
                      total_weight, total_score))
    status_cells = []
    for label, req, r, wexpr, sexpr, wval, sval in rows_spec:
        put(r, *cc["label"], label, fmt.get(kind="computed", align="left"))
        put(r, *cc["required"], req, fmt.get(kind="computed", num=SCORE_FMT))
        req_cell = a1(r, cc["required"][0])
        ws.write_formula(r, cc["weight"][0], f"={wexpr}", fmt.get(kind="computed", num=SCORE_FMT), wval)
        ws.write_formula(r, cc["score"][0], f"={sexpr}", fmt.get(kind="computed", num=SCORE_FMT), sval)
        ok = abs(wval - req) < 0.005
        all_ok &= ok
        st0, st1 = cc["status"]
        status = (ok_text if ok else f"分值小计应为{req:g}分") if any_weight else ""
        ws.merge_range(r, st0, r, st1, "", fmt.get(kind="computed"))
        w_cell = a1(r, cc["weight"][0])
        ws.write_formula(r, st0, f'=IF(COUNT({wr})=0,"",IF(ROUND(N({w_cell})-{req_cell},2)=0,"{ok_text}",'
                                 f'"分值小计应为"&{req_cell}&"分"))', fmt.get(kind="computed"), status)
        status_cells.append(a1(r, st0))
    overall = ("校验通过" if all_ok else "分值有误，请按下表核对") if any_weight else ""
    checks = ",".join(f'{c}="{ok_text}"' for c in status_cells)
    ws.merge_range(lay.check_title_row, 0, lay.check_title_row, last_col, "", fmt.get(kind="computed", bold=True))
    ws.write_formula(lay.check_title_row, 0, f'=IF(COUNT({wr})=0,"",IF(AND({checks}),"校验通过","分值有误，请按下表核对"))',
                     fmt.get(kind="computed", bold=True), overall)
    name("check", lay.check_title_row, 0)
    red = wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
    green = wb.add_format({"font_color": "#006100"})
    for cell in status_cells:
        ws.conditional_format(cell, {"type": "formula", "criteria": f'=AND({cell}<>"",{cell}<>"{ok_text}")', "format": red})
    title_cell = a1(lay.check_title_row, 0)
    ws.conditional_format(title_cell, {"type": "formula", "criteria": f'=AND({title_cell}<>"",{title_cell}<>"校验通过")',
                                       "format": red})
    ws.conditional_format(title_cell, {"type": "cell", "criteria": "==", "value": '"校验通过"', "format": green})

    for text, r in zip(spec.notes, lay.notes_rows):
        ws.merge_range(r, 0, r, last_col, text, fmt.note)
        ws.set_row(r, 16 * (1 + len(text) // 70))

    ws.protect(opts.password, {
        "insert_rows": True, "delete_rows": True, "format_columns": True, "format_rows": True,
        "select_locked_cells": True, "select_unlocked_cells": True,
    })


def column_widths(spec: FormSpec, lay: Layout) -> dict[int, float]:
    """Column widths in Excel character units, as the writer sets them."""
    # The first column carries the block labels (资金情况(万元), 年度总体目标 …): wide enough for one line.
    first = [spec.funds_label, spec.goal_label, spec.indicators_label, spec.total_label]
    first += [label for _, pairs in lay.header for _, label, lc, _, _ in pairs if lc == 0]
    widths = {0: float(max(10, max(text_units(t) for t in first) + 2))}
    for c in spec.indicator_columns:
        widths[lay.ind_cols[c.key]] = float(c.width or 12)
    return widths


def _span_width(widths: dict[int, float], c0: int, c1: int) -> float:
    return sum(widths.get(c, 8.43) for c in range(c0, c1 + 1))


def text_units(text: str) -> int:
    """Width of a label in character units: a Chinese character takes two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def lines_needed(text: str, width: float, bold: bool = True) -> int:
    """Lines a wrapped text takes in a column `width` units wide (11 pt, with padding; bold is wider)."""
    usable = max(1.0, width - 1.5) / (1.1 if bold else 1.0)
    return max(1, -(-text_units(text) // int(usable)))


def row_height(lines: int, minimum: float) -> float:
    """Row height in points that shows `lines` lines of 11 pt text unclipped."""
    return max(minimum, 16.0 * lines + 6)


def _write_meta(wb, spec: FormSpec, year: int, opts: TemplateOptions) -> None:
    meta = wb.add_worksheet(META_SHEET)
    rows = [("form_id", spec.id), ("form_version", str(spec.version)), ("year", str(year)),
            ("generated_at", opts.generated_at or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()),
            ("generator", f"xlperf {__version__}")]
    rows += [(k, str(v)) for k, v in opts.meta.items()]
    for r, (k, v) in enumerate(rows):
        meta.write_string(r, 0, k)
        meta.write_string(r, 1, v)
        if k.isidentifier():
            wb.define_name(f"xlperf_{k}", f"='{META_SHEET}'!$B${r + 1}")
    meta.very_hidden()
    meta.protect(opts.password)
