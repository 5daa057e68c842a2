"""The correction copy a county gets back: a fresh form carrying what it typed.

A marked-up copy of the return would keep what broke it (a formula typed over
in a locked cell, protection removed), so the clerk could not fix it and the
resent file would fail again. Instead we write the unit's form anew, protected
and signed, carry over every value the clerk entered in an input cell, restore
the approved pre-fill, formulas and protection, shade each problem cell and
explain it in a comment. A 问题清单 sheet lists the problems in Chinese, on one
printed page. Returns that are not one of our forms get the marked-up copy.
"""
from __future__ import annotations

import io
import json
import re
import secrets
from collections import defaultdict
from pathlib import Path

from .check import CheckResult, default_specs
from .feedback import ISSUES_SHEET, unique_path, write_feedback
from .findings import ERROR, SEVERITY_ZH, WARNING, Finding
from ..form.labels import norm
from ..form.layout import Layout, compute_layout
from ..form.model import FormData, FundsLine, IndicatorLine
from ..form.spec import FormSpec
from ..form.template import TemplateOptions, a1, lines_needed, row_height, write_template
from ..read import read_grid
from ..read.locate import Located, locate

_A1 = re.compile(r"(?<![A-Za-z0-9])([A-Z]{1,3}[1-9][0-9]*)(?![0-9])")
# What writing the form anew puts right by itself: protection, formulas, the approved pre-fill.
RESTORED = {"protection-removed", "formula-tampered", "target-changed"}
RESTORED_MARK = "已恢复"
COMPUTED_MARK = "自动计算"
_OWN_META = ("form_id", "form_version", "year", "generated_at", "generator")   # the writer adds these itself


def prefill_from_identity(identity: dict | None) -> FormData | None:
    """The approved pre-fill as signed into the return's `_xlperf` sheet (None when absent)."""
    try:
        p = json.loads((identity or {}).get("prefill") or "")
    except ValueError:
        return None
    if not isinstance(p, dict):
        return None
    data = FormData(header=dict(p.get("header") or {}), goal_planned=str(p.get("goal_planned") or ""))
    for key, values in (p.get("funds") or {}).items():
        data.funds.append(FundsLine(key, "", dict(values)))
    for t in p.get("targets") or []:
        if len(t) >= 5:
            data.indicators.append(IndicatorLine(level1=t[0], level2=t[1], name=t[2], weight=t[3], target=t[4]))
    return data


def _typed(value: object, fmt: str = "") -> object:
    """A value as the clerk saw it: 0.962 shown as a percentage comes back as "96.2%"."""
    if isinstance(value, float) and "%" in (fmt or ""):
        return f"{round(value * 100, 6):g}%"
    if isinstance(value, str):
        return value.strip()
    return value


def _num(v: object) -> float | None:
    from ..form.values import parse_amount
    return None if _blank(v) else parse_amount(v).value


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def merge_entries(spec: FormSpec, entered: FormData, prefill: FormData | None) -> tuple[FormData, dict[int, IndicatorLine]]:
    """The correction copy's content: the approved pre-fill, plus what the clerk typed in input cells.

    Returns the content and, for each entered indicator line (by id), the line that carries it now.
    """
    pre = prefill or FormData()
    out = FormData(header={k: v for k, v in pre.header.items() if not _blank(v)})
    for k, v in entered.header.items():
        if k not in out.header and not _blank(v):
            out.header[k] = _typed(v)
    inputs = ("initial_budget", "budget", "spent")
    for frow in spec.funds_rows[1:]:
        mine, given = pre.funds_line(frow.key), entered.funds_line(frow.key)
        values = {k: v for k, v in (mine.values if mine else {}).items() if v is not None}
        for k in inputs:
            if given and k not in values and not _blank(given.values.get(k)):
                values[k] = _typed(given.values[k], given.formats.get(k, ""))
        if values:
            out.funds.append(FundsLine(frow.key, frow.label, values))
    total = entered.funds_line(spec.funds_rows[0].key)
    if total and len(spec.funds_rows) > 1:
        # Only the 年度资金总额 row filled: in our form that row is a sum, so its figures go to the first source.
        first = spec.funds_rows[1]
        line = next((l for l in out.funds if l.key == first.key), None) or FundsLine(first.key, first.label)
        for k in inputs:
            sources = [l for l in out.funds if _num(l.values.get(k)) is not None]   # "—" is not a figure
            if not sources and _num(total.values.get(k)):
                line.values[k] = _typed(total.values[k], total.formats.get(k, ""))
        if line.values and line not in out.funds:
            out.funds.insert(0, line)
    out.goal_planned = pre.goal_planned or entered.goal_planned
    out.goal_actual = entered.goal_actual

    levels = {l.name: l.level2 for l in spec.level1}
    lines = [i for i in entered.indicators
             if any(not _blank(v) for v in (i.name, i.target, i.actual, i.weight, i.score, i.reason))]
    carried: dict[int, IndicatorLine] = {}
    targets = [IndicatorLine(level1=t.level1, level2=t.level2, name=t.name, target=t.target, weight=t.weight)
               for t in pre.indicators]
    free, matched = list(lines), set()
    # A target is the clerk's line with its name, or failing that (a renamed target) with its 年度指标值.
    for key in (lambda i: (i.level1, norm(str(i.name or ""))), lambda i: (i.level1, i.level2, norm(str(i.target or "")))):
        for t in targets:
            if id(t) in matched:
                continue
            hit = next((i for i in free if key(i) == key(t)), None)
            if hit is not None:
                free.remove(hit)
                matched.add(id(t))
                t.actual = _typed(hit.actual, hit.formats.get("actual", ""))
                t.score, t.reason = _typed(hit.score), _typed(hit.reason) or ""
                carried[id(hit)] = t
    out.indicators = targets
    for i in free:   # the clerk's own rows
        l1 = i.level1 if i.level1 in levels else spec.level1[0].name
        new = IndicatorLine(level1=l1, level2=i.level2 or levels[l1][0], name=_typed(i.name) or "",
                            target=_typed(i.target, i.formats.get("target", "")),
                            actual=_typed(i.actual, i.formats.get("actual", "")),
                            weight=_typed(i.weight), score=_typed(i.score), reason=_typed(i.reason) or "")
        out.indicators.append(new)
        carried[id(i)] = new
    return out, carried


def cell_map(loc: Located, data: FormData, carried: dict[int, IndicatorLine], lay: Layout) -> dict[str, tuple[int, int]]:
    """Where each cell of the return sits in the correction copy (0-based row, column)."""
    out: dict[str, tuple[int, int]] = {}
    header = {key: (r, vc0) for r, pairs in lay.header for key, _, _, vc0, _ in pairs}
    ic = lay.ind_cols
    places = {"goal_planned": (lay.goal_text_row, lay.goal_planned_cols[0]),
              "goal_actual": (lay.goal_text_row, lay.goal_actual_cols[0]),
              "total_weight": (lay.total_row, ic["weight"]), "total_score": (lay.total_row, ic["score"]),
              "grade": (lay.grade_row, ic["score"]), "check": (lay.check_title_row, 0), **header}
    for frow, r in lay.funds_rows.items():
        for ck, (c0, _) in lay.funds_cols.items():
            places[f"funds_{frow}_{ck}"] = (r, c0)
    for key, addr in list(loc.data.cells.items()) + list(loc.formula_cells.items()):
        if key in places and addr:
            out[addr] = places[key]
    for line in loc.data.funds:
        for ck, addr in line.cells.items():
            if line.key in lay.funds_rows and ck in lay.funds_cols:
                out[addr] = (lay.funds_rows[line.key], lay.funds_cols[ck][0])
    row_of = {id(l): lay.ind_first + n for n, l in enumerate(lay.rows) if l is not None}
    for line in loc.data.indicators:
        new = carried.get(id(line))
        if new is None or id(new) not in row_of:
            continue
        for k, addr in line.cells.items():
            if k in ic:
                out[addr] = (row_of[id(new)], ic[k])
    return out


def computed_cells(lay: Layout) -> set[tuple[int, int]]:
    """Cells the form computes itself: a wrong value found there is put right by writing the form anew."""
    fc, total = lay.funds_cols, lay.funds_rows.get("total")
    out = {(r, fc["rate"][0]) for r in lay.funds_rows.values() if "rate" in fc}
    if total is not None:
        out |= {(total, fc[k][0]) for k in ("initial_budget", "budget", "spent", "score") if k in fc}
    ic = lay.ind_cols
    out |= {(lay.total_row, ic["weight"]), (lay.total_row, ic["score"]), (lay.grade_row, ic["score"]),
            (lay.check_title_row, 0)}
    return out


def _message(f: Finding, moved: dict[str, tuple[int, int]]) -> str:
    """The finding's text with the return's cell addresses replaced by the copy's."""
    return _A1.sub(lambda m: a1(*moved[m.group(1)]) if m.group(1) in moved else m.group(1), f.message)


def _issues_sheet(rows: list[tuple[str, str, str]]):
    """Adds the 问题清单: Chinese only, one printed page (A4 landscape, fitted)."""

    def add(wb, lay: Layout) -> None:
        ws = wb.add_worksheet(ISSUES_SHEET)
        head = wb.add_format({"bold": True, "border": 1, "bg_color": "#F2F2F2", "font_name": "仿宋", "font_size": 11,
                              "align": "center", "valign": "vcenter"})
        body = wb.add_format({"border": 1, "text_wrap": True, "valign": "top", "font_name": "仿宋", "font_size": 11})
        sev = {s: wb.add_format({"border": 1, "valign": "top", "align": "center", "font_name": "仿宋",
                                 "font_size": 11, "bg_color": bg}) for s, bg in ((ERROR, "#FFC7CE"), (WARNING, "#FFEB9C"), ("", "#E2EFDA"))}
        ws.merge_range(0, 0, 0, 3, "问题清单（请按下列说明在本表中修改后重新提交）",
                       wb.add_format({"bold": True, "font_size": 14, "font_name": "宋体", "align": "center"}))
        for c, (h, w) in enumerate((("序号", 6), ("严重程度", 10), ("单元格", 10), ("问题说明", 100))):
            ws.write_string(1, c, h, head)
            ws.set_column(c, c, w)
        for n, (severity, where, text) in enumerate(rows, 1):
            ws.write_number(n + 1, 0, n, body)
            ws.set_row(n + 1, row_height(lines_needed(text, 100), 18))
            ws.write_string(n + 1, 1, SEVERITY_ZH.get(severity, severity), sev.get(severity, sev[""]))
            ws.write_string(n + 1, 2, where, body)
            ws.write_string(n + 1, 3, text, body)
        if not rows:
            ws.merge_range(2, 0, 2, 3, "未发现问题", body)
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 1)
        ws.print_area(0, 0, max(2, len(rows) + 1), 3)
        ws.repeat_rows(1)
    return add


def write_correction(src: str | Path, result: CheckResult, outdir: str | Path, name: str | None = None, *,
                     spec: FormSpec | None = None, year: int | None = None, prefill: FormData | None = None,
                     options: TemplateOptions | None = None) -> Path:
    """Write the correction copy of `src` (checked as `result`) into `outdir`; returns its path.

    `prefill` and `options` (password, signed identity) come from the workspace when there
    is one; without them the approved pre-fill and identity signed into the return are reused.
    """
    src, outdir = Path(src), Path(outdir)
    specs = default_specs()
    spec = spec or next((s for s in specs if s.id == result.form), None)
    loc = locate(read_grid(src), [spec], spec.id) if spec is not None and result.readable else None
    if loc is None:
        return write_feedback(src, result, outdir, name)
    if prefill is None:
        prefill = prefill_from_identity(loc.identity)
    data, carried = merge_entries(spec, loc.data, prefill)
    lay = compute_layout(spec, data)
    moved = cell_map(loc, data, carried, lay)
    marks: dict[tuple[int, int], list[Finding]] = defaultdict(list)
    rows: list[tuple[str, str, str]] = []
    computed = computed_cells(lay)
    for f in result.findings:
        if f.severity not in (ERROR, WARNING):
            continue        # how the file was read (提示) is nothing for the clerk to fix
        where = moved.get(f.cell) if f.sheet in ("", loc.sheet) else None
        text = _message(f, moved)
        if f.code in RESTORED or (f.cell and f.cell in loc.formula_cells.values()):
            rows.append((RESTORED_MARK, a1(*where) if where else "", text + "（本更正表已恢复，无需处理）"))
            continue
        if where in computed:
            rows.append((COMPUTED_MARK, a1(*where), text + "（本更正表已按公式自动计算，无需处理）"))
            continue
        if where is not None:
            marks[where].append(f)
        rows.append((f.severity, a1(*where) if where else "", text))
    order = {ERROR: 0, WARNING: 1, RESTORED_MARK: 3, COMPUTED_MARK: 3}
    rows.sort(key=lambda row: order.get(row[0], 2))   # what the clerk must do first, what we put right last
    opts = options or TemplateOptions(
        password=secrets.token_urlsafe(9),
        meta={k: v for k, v in (loc.identity or {}).items() if k not in _OWN_META})
    opts.lock = opts.lock or frozenset({"header", "funds", "targets"})
    opts.prefill = prefill or FormData()
    opts.marks = {rc: (ERROR if any(f.severity == ERROR for f in fs) else WARNING,
                       "\n".join(f"【{SEVERITY_ZH.get(f.severity, f.severity)}】{_message(f, moved)}" for f in fs))
                  for rc, fs in marks.items()}
    opts.add_sheets = _issues_sheet(rows)
    outdir.mkdir(parents=True, exist_ok=True)
    target = unique_path(outdir, name or f"{src.stem}_更正.xlsx")
    tmp = target.with_name(target.name + ".part")
    buf = io.BytesIO()
    write_template(spec, year or loc.year or result.year or 0, buf, data, opts)
    tmp.write_bytes(buf.getvalue())
    tmp.replace(target)
    return target
