"""Form definitions: templates/*.yaml → checked, frozen dataclasses.

A province adds a form variant by writing YAML only, so this module is the one
gate between hand-written data and the writer, reader and validator: every
problem becomes a `SpecError` naming the file and the key, never a traceback.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecError
from .scoring import DEFAULT_QUAL_BANDS, Grade, QualBand, ScoringRules

# The vocabulary the writer and reader understand. A template orders and labels
# these; it cannot invent new ones (the code would not know what they mean).
HEADER_KEYS = ("project_name", "project_leader", "department", "unit", "project_code")
FUNDS_COLUMN_KEYS = ("initial_budget", "budget", "spent", "weight", "rate", "score")
FUNDS_ROW_KEYS = ("total", "current", "carryover", "other", "central", "local")
# target_op / target_unit: the 2021 layout splits 年度指标值 into 指标性质 | 指标值 | 度量单位.
INDICATOR_KEYS = ("level1", "level2", "name", "target_op", "target", "target_unit", "actual", "weight", "score", "reason")
REQUIRED_FUNDS_COLUMNS = ("budget", "spent", "weight", "rate", "score")
REQUIRED_INDICATOR_COLUMNS = ("level1", "level2", "name", "target", "actual", "weight", "score", "reason")

TEMPLATES_ENV = "XLPERF_TEMPLATES"


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    width: float | None = None


@dataclass(frozen=True)
class Level1:
    name: str
    weight: float
    level2: tuple[str, ...]


@dataclass(frozen=True)
class FormSpec:
    id: str
    version: int
    name: str
    title: str
    subtitle: str
    sheet: str
    money_unit: str
    header: tuple[tuple[Field, ...], ...]
    funds_label: str
    funds_weight: float
    funds_na_mark: str
    funds_columns: tuple[Field, ...]
    funds_rows: tuple[Field, ...]
    goal_label: str
    goal_planned: str
    goal_actual: str
    indicators_label: str
    indicator_columns: tuple[Field, ...]
    level1: tuple[Level1, ...]
    rows_per_level2: int
    spare_rows: int                      # blank, unlocked rows kept under each 二级 after pre-filled ones
    total_label: str
    total_weight: float
    grade_label: str
    grades: tuple[Grade, ...]
    scoring: ScoringRules
    notes: tuple[str, ...]
    source: str = field(default="", compare=False)

    def subtitle_for(self, year: int) -> str:
        return self.subtitle.replace("{year}", str(year))

    def header_fields(self) -> tuple[Field, ...]:
        return tuple(f for row in self.header for f in row)

    def funds_column(self, key: str) -> Field | None:
        return next((c for c in self.funds_columns if c.key == key), None)

    def level1_weights(self) -> dict[str, float]:
        return {l1.name: l1.weight for l1 in self.level1}

    def level2_names(self) -> tuple[str, ...]:
        return tuple(n for l1 in self.level1 for n in l1.level2)

    def level2_by_level1(self) -> dict[str, list[str]]:
        return {l1.name: list(l1.level2) for l1 in self.level1}


def templates_dir() -> Path:
    """The folder of form definitions: $XLPERF_TEMPLATES, else the package's own.

    In a checkout xlperf/form/templates is a link to the repo's templates/ (the
    place a province edits); a built wheel carries the files themselves.
    """
    env = os.environ.get(TEMPLATES_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "templates"


def available_forms(directory: Path | None = None) -> dict[str, Path]:
    d = directory or templates_dir()
    return {p.stem: p for p in sorted(d.glob("*.yaml")) if not p.stem.startswith("_") and p.stem != "labels"}


def load_form(form: str | Path, directory: Path | None = None) -> FormSpec:
    """Load a form by id (e.g. "project-county") or by path to a YAML file."""
    path = Path(form)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        forms = available_forms(directory)
        if str(form) not in forms:
            known = "、".join(forms) or "（无）"
            raise SpecError(f"未找到表式“{form}”，可用的表式：{known}", code="spec-unknown-form")
        path = forms[str(form)]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第{mark.line + 1}行第{mark.column + 1}列" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"YAML 格式错误{where}：{problem}", code="spec-yaml", path=str(path)) from None
    except OSError as exc:
        raise SpecError(f"无法读取表式定义：{exc.strerror}", code="spec-unreadable", path=str(path)) from None
    return parse_form(data, source=str(path))


class _Reader:
    """Walks the YAML tree, remembering the key path for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, msg: str) -> SpecError:
        return SpecError(f"键 {key}：{msg}", path=self.source)

    def get(self, d: Any, key: str, where: str, kind: type | tuple, default: Any = ...) -> Any:
        if not isinstance(d, dict):
            raise self.fail(where or "(顶层)", "应为映射（key: value）")
        full = f"{where}.{key}" if where else key
        if key not in d or d[key] is None:
            if default is ...:
                raise self.fail(full, "缺失")
            return default
        val = d[key]
        if kind is float and isinstance(val, int) and not isinstance(val, bool):
            val = float(val)
        if not isinstance(val, kind) or (isinstance(val, bool) and kind in (int, float)):
            names = {str: "文本", int: "整数", float: "数字", list: "列表", dict: "映射", bool: "true/false"}
            want = names.get(kind, str(kind)) if isinstance(kind, type) else "/".join(names.get(k, str(k)) for k in kind)
            raise self.fail(full, f"应为{want}，实际为 {val!r}")
        return val

    def fields(self, items: Any, where: str, allowed: tuple[str, ...]) -> tuple[Field, ...]:
        if not isinstance(items, list) or not items:
            raise self.fail(where, "应为非空列表")
        out, seen = [], set()
        for i, item in enumerate(items):
            w = f"{where}[{i}]"
            key = self.get(item, "key", w, str)
            if key not in allowed:
                raise self.fail(f"{w}.key", f"未知字段“{key}”，可用：{', '.join(allowed)}")
            if key in seen:
                raise self.fail(f"{w}.key", f"字段“{key}”重复")
            seen.add(key)
            out.append(Field(key, self.get(item, "label", w, str), self.get(item, "width", w, float, None)))
        return tuple(out)


def parse_form(data: Any, source: str = "<memory>") -> FormSpec:
    r = _Reader(source)
    if not isinstance(data, dict):
        raise SpecError("表式定义应为 YAML 映射", path=source)
    header_rows = r.get(data, "header", "", list)
    header = []
    for i, row in enumerate(header_rows):
        header.append(r.fields(row, f"header[{i}]", HEADER_KEYS))
    all_header = [f.key for row in header for f in row]
    if len(set(all_header)) != len(all_header):
        raise r.fail("header", "表头字段重复")
    for must in ("project_name", "unit"):
        if must not in all_header:
            raise r.fail("header", f"缺少字段“{must}”")

    funds = r.get(data, "funds", "", dict)
    funds_columns = r.fields(r.get(funds, "columns", "funds", list), "funds.columns", FUNDS_COLUMN_KEYS)
    for must in REQUIRED_FUNDS_COLUMNS:
        if must not in [c.key for c in funds_columns]:
            raise r.fail("funds.columns", f"缺少列“{must}”")
    funds_rows = r.fields(r.get(funds, "rows", "funds", list), "funds.rows", FUNDS_ROW_KEYS)
    if funds_rows[0].key != "total" or len(funds_rows) < 2:
        raise r.fail("funds.rows", "第一行应为 total（年度资金总额），其后至少一个资金来源行")

    goal = r.get(data, "goal", "", dict)
    ind = r.get(data, "indicators", "", dict)
    ind_columns = r.fields(r.get(ind, "columns", "indicators", list), "indicators.columns", INDICATOR_KEYS)
    for must in REQUIRED_INDICATOR_COLUMNS:
        if must not in [c.key for c in ind_columns]:
            raise r.fail("indicators.columns", f"缺少列“{must}”")
    if [c.key for c in ind_columns][:3] != ["level1", "level2", "name"]:
        raise r.fail("indicators.columns", "前三列应依次为 level1、level2、name（一级、二级、三级指标）")
    level1 = []
    for i, item in enumerate(r.get(ind, "level1", "indicators", list)):
        w = f"indicators.level1[{i}]"
        l2 = r.get(item, "level2", w, list)
        if not l2 or not all(isinstance(x, str) and x for x in l2):
            raise r.fail(f"{w}.level2", "应为非空的文本列表")
        weight = r.get(item, "weight", w, float)
        if weight < 0:
            raise r.fail(f"{w}.weight", "不能为负数")
        level1.append(Level1(r.get(item, "name", w, str), weight, tuple(l2)))
    if not level1:
        raise r.fail("indicators.level1", "应为非空列表")
    rows_per = r.get(ind, "rows_per_level2", "indicators", int, 1)
    if not 1 <= rows_per <= 20:
        raise r.fail("indicators.rows_per_level2", "应在 1 到 20 之间")
    spare = r.get(ind, "spare_rows", "indicators", int, 1)
    if not 0 <= spare <= 20:
        raise r.fail("indicators.spare_rows", "应在 0 到 20 之间")

    total = r.get(data, "total", "", dict)
    total_weight = r.get(total, "weight", "total", float, 100.0)
    funds_weight = r.get(funds, "weight", "funds", float)
    if abs(funds_weight + sum(l.weight for l in level1) - total_weight) > 1e-9:
        raise r.fail("indicators.level1", f"一级指标分值合计加预算执行率分值应为 {total_weight:g}，"
                                          f"实际为 {funds_weight + sum(l.weight for l in level1):g}")

    grades = []
    for i, g in enumerate(r.get(data, "grades", "", list)):
        w = f"grades[{i}]"
        grades.append(Grade(r.get(g, "name", w, str), r.get(g, "min", w, float), r.get(g, "min_inclusive", w, bool, True)))
    if not grades:
        raise r.fail("grades", "应为非空列表")
    for a, b in zip(grades, grades[1:]):
        if b.min > a.min:
            raise r.fail("grades", "评价等级应按分数从高到低排列")

    sc = r.get(data, "scoring", "", dict, {})
    bands = []
    for i, b in enumerate(r.get(sc, "qualitative_bands", "scoring", list, [])):
        w = f"scoring.qualitative_bands[{i}]"
        bands.append(QualBand(r.get(b, "name", w, str), r.get(b, "low", w, float), r.get(b, "high", w, float),
                              r.get(b, "high_inclusive", w, bool, False)))
    budget_mode = r.get(sc, "budget_score", "scoring", str, "proportional")
    if budget_mode not in ("proportional", "proportional_floor_int"):
        raise r.fail("scoring.budget_score", "应为 proportional 或 proportional_floor_int")
    reverse = r.get(sc, "reverse_formula", "scoring", str, "ratio")
    if reverse not in ("g1", "ratio"):
        raise r.fail("scoring.reverse_formula", "应为 g1 或 ratio")
    rules = ScoringRules(
        budget_score=budget_mode,
        reverse_formula=reverse,
        overachieve_ratio=r.get(sc, "overachieve_ratio", "scoring", float, 1.2),
        deviation_tolerance=r.get(sc, "deviation_tolerance", "scoring", float, 0.5),
        low_execution_rate=r.get(sc, "low_execution_rate", "scoring", float, 0.9),
        qualitative_bands=tuple(bands) or DEFAULT_QUAL_BANDS,
    )
    notes = r.get(data, "notes", "", list, [])
    if not all(isinstance(n, str) for n in notes):
        raise r.fail("notes", "应为文本列表")
    sheet = r.get(data, "sheet", "", str)
    if len(sheet) > 31 or any(ch in sheet for ch in "[]:*?/\\"):
        raise r.fail("sheet", "工作表名称不能超过31个字符，也不能含 [ ] : * ? / \\")

    return FormSpec(
        id=r.get(data, "id", "", str),
        version=r.get(data, "version", "", int),
        name=r.get(data, "name", "", str, r.get(data, "title", "", str)),
        title=r.get(data, "title", "", str),
        subtitle=r.get(data, "subtitle", "", str, "（{year}年度）"),
        sheet=sheet,
        money_unit=r.get(data, "money_unit", "", str, "万元"),
        header=tuple(header),
        funds_label=r.get(funds, "label", "funds", str),
        funds_weight=funds_weight,
        funds_na_mark=r.get(funds, "na_mark", "funds", str, "—"),
        funds_columns=funds_columns,
        funds_rows=funds_rows,
        goal_label=r.get(goal, "label", "goal", str),
        goal_planned=r.get(goal, "planned", "goal", str),
        goal_actual=r.get(goal, "actual", "goal", str),
        indicators_label=r.get(ind, "label", "indicators", str),
        indicator_columns=ind_columns,
        level1=tuple(level1),
        rows_per_level2=rows_per,
        spare_rows=spare,
        total_label=r.get(total, "label", "total", str),
        total_weight=total_weight,
        grade_label=r.get(r.get(data, "grade", "", dict), "label", "grade", str),
        grades=tuple(grades),
        scoring=rules,
        notes=tuple(notes),
        source=source,
    )
