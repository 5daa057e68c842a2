"""Read → locate → validate one returned file, as plain data.

`check()` never raises for a bad file: an unreadable file, an empty workbook
or a workbook without a self-evaluation form all come back as a `CheckResult`
with one clear finding, so one bad file never stops the others.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Iterator

from ..errors import UnreadableFile
from .findings import ERROR, INFO, WARNING, Finding
from ..read import read_grid
from ..read.grid import Grid
from ..read.locate import Located, locate
from ..form.spec import FormSpec, available_forms, load_form
from .validate import IndicatorResult, validate


@dataclass
class CheckResult:
    path: str
    readable: bool = True
    format: str = ""
    application: str = ""
    form: str | None = None
    year: int | None = None
    sheet: str = ""
    located_by: str = ""
    project: str = ""
    unit: str = ""
    department: str = ""
    header: dict = field(default_factory=dict)
    identity: dict | None = None
    funds: dict = field(default_factory=dict)
    indicators: list[IndicatorResult] = field(default_factory=list)
    total_score: float | None = None
    total_weight: float | None = None
    grade: str | None = None
    printed_total: object = None
    printed_grade: object = None
    goal_planned: str = ""
    goal_actual: str = ""
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["errors"], d["warnings"] = self.errors, self.warnings
        return d


_SPECS: dict[str, list[FormSpec]] = {}


def default_specs() -> list[FormSpec]:
    """All shipped form definitions, loaded once per process."""
    key = os.environ.get("XLPERF_TEMPLATES", "")
    if key not in _SPECS:
        _SPECS[key] = [load_form(p) for p in available_forms().values()]
    return _SPECS[key]


def _failure(path: str, code: str, message: str, **kw) -> CheckResult:
    return CheckResult(path=path, findings=[Finding(code, ERROR, message, path)], **kw)


Extra = Callable[[Located], Iterator[Finding]]


def check_grid(grid: Grid, specs: list[FormSpec] | None = None, *, form_hint: str | None = None,
               extra: Iterable[Extra] = ()) -> CheckResult:
    specs = specs or default_specs()
    path = grid.path
    if not any(s.values for s in grid.sheets):
        return _failure(path, "workbook-empty", "工作簿是空的，没有任何内容", format=grid.format)
    loc = locate(grid, specs, form_hint)
    if loc is None:
        return _failure(path, "not-a-form", "未找到“三级指标”“全年执行数”等栏目，不是项目支出绩效自评表",
                        format=grid.format, application=grid.application)
    spec = next(s for s in specs if s.id == loc.form_id)
    sheet = grid.sheet(loc.sheet)
    formulas = sheet.formulas if (grid.format == "xlsx" or (sheet and sheet.formulas)) else None
    outcome = validate(loc, spec, path, sheet_protected=sheet.protected if sheet else None,
                       formulas=formulas, extra=extra)
    if loc.by == "labels" and loc.identity is None:
        # A copy the unit typed itself: say which definition's rules it was judged by.
        outcome.findings.insert(0, Finding("form-variant", INFO, f"本表不是下发的模板，已按栏目名称读取，并按“{spec.name}”的规则校验",
                                           path, loc.sheet))
    h = loc.data.header
    return CheckResult(
        path=path, format=grid.format, application=grid.application, form=spec.id, year=loc.year,
        sheet=loc.sheet, located_by=loc.by, project=_s(h.get("project_name")), unit=_s(h.get("unit")),
        department=_s(h.get("department")), header={k: _s(v) for k, v in h.items()}, identity=loc.identity,
        funds=outcome.funds, indicators=outcome.indicators, total_score=outcome.total_score,
        total_weight=outcome.total_weight, grade=outcome.grade, printed_total=loc.data.printed.get("total_score"),
        printed_grade=loc.data.printed.get("grade"), goal_planned=loc.data.goal_planned,
        goal_actual=loc.data.goal_actual, findings=outcome.findings + hazard_findings(grid))


def hazard_findings(grid: Grid) -> list[Finding]:
    """A warning for each thing in the file that could run code on the next computer (see read/hazards.py)."""
    from ..read.hazards import formula_hazard
    from ..read.locate import a1
    out = [Finding("dangerous-content", WARNING, f"{cell + '：' if cell else ''}文件{what}，已忽略，反馈副本中不保留；"
                   "请确认文件来源，并删除后重新提交", grid.path, sheet, cell)
           for sheet, cell, what in grid.hazards]
    for sheet in grid.sheets:
        for (r, c), text in sheet.formulas.items():
            what = formula_hazard(text)
            if what:
                cell = a1(r, c)
                out.append(Finding("dangerous-content", WARNING, f"{cell}：{what}（={text[:60]}），已忽略，反馈副本中只保留其数值；"
                                   "请确认文件来源，删除该公式后重新提交", grid.path, sheet.name, cell))
                if len(out) >= 50:
                    return out
    return out


def _s(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def check(path: str | os.PathLike, specs: list[FormSpec] | None = None, *, form_hint: str | None = None,
          extra: Iterable[Extra] = (), display_name: str | None = None) -> CheckResult:
    """Check one returned file. Never raises for what a county sent."""
    p = str(path)
    try:
        grid = read_grid(p)
    except UnreadableFile as exc:
        res = _failure(display_name or p, exc.code, exc.message)
        res.readable = False
        return res
    if display_name:
        grid.path = display_name
    try:
        return check_grid(grid, specs, form_hint=form_hint, extra=extra)
    except Exception as exc:  # a reader/locator bug must not stop a batch; report it as data
        return _failure(display_name or p, "check-failed", f"校验时发生内部错误（{type(exc).__name__}: {exc}），请将此文件反馈给系统管理员")


def read(path: str | os.PathLike, specs: list[FormSpec] | None = None) -> Located | None:
    """Extract a form's content without validating it (None when it is not a form)."""
    return locate(read_grid(str(path)), specs or default_specs())
