"""The roster (名单): which units get which project form, and the approved targets.

The province office keeps the roster in Excel (roster_template.py writes
the sheet to fill in); this module reads it back tolerating how real sheets
drift (extra spaces and line breaks in headers, full-width brackets, codes
stored as numbers), and refuses the whole file while any row is wrong. Every
problem is listed at once, with its row number, so the clerk fixes the file in
one pass instead of one error per run.

Sheets: 名单 (one row per unit + project), 绩效指标 (optional: the approved
indicators and 年度指标值 per project), 填写说明 (instructions, ignored on load).
Money is in 万元.
"""
from __future__ import annotations

import datetime as dt
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from . import db, regions
from ..errors import RosterError
from ..form.labels import norm, norm_label
from ..form.values import parse_amount

ROSTER_SHEET = "名单"
TARGETS_SHEET = "绩效指标"
INSTRUCTIONS_SHEET = "填写说明"

ROSTER_COLUMNS = ["单位代码", "单位名称", "行政区划代码", "地区名称", "主管部门", "联系人", "联系电话", "邮箱",
                  "项目名称", "项目代码", "年初预算数", "全年预算数", "年度总体目标"]
# Older rosters lack these; 年初预算数 only matters to forms that have a column for it.
OPTIONAL_ROSTER_COLUMNS = {"地区名称", "联系电话", "年初预算数", "年度总体目标"}
TARGET_COLUMNS = ["单位代码", "项目代码", "一级指标", "二级指标", "三级指标", "分值", "年度指标值"]

ROSTER_FIELDS = {"单位代码": "unit_code", "单位名称": "unit_name", "行政区划代码": "region_code",
                 "地区名称": "region_name", "主管部门": "department", "联系人": "contact", "联系电话": "phone", "邮箱": "email",
                 "项目名称": "project_name", "项目代码": "project_code", "年初预算数": "initial_budget",
                 "全年预算数": "budget", "年度总体目标": "goal"}
TARGET_FIELDS = {"单位代码": "unit_code", "项目代码": "project_code", "一级指标": "level1",
                 "二级指标": "level2", "三级指标": "name", "分值": "weight", "年度指标值": "target"}

# Header spellings seen in the wild, compared after NFKC, whitespace and
# trailing-bracket removal ("年初预算数（万元）" → 年初预算数).
ALIASES: dict[str, tuple[str, ...]] = {
    "单位代码": ("单位编码", "预算单位代码", "预算单位编码"),
    "单位名称": ("预算单位名称", "预算单位", "实施单位"),
    "行政区划代码": ("区划代码", "行政区划编码", "区划编码", "行政区划"),
    "地区名称": ("地区", "区划名称", "行政区划名称", "所属地区"),
    "主管部门": ("主管部门名称",),
    "联系人": ("联系人及电话", "联系人电话", "联系方式", "项目负责人", "项目负责人及电话"),
    "联系电话": ("电话", "手机", "手机号码", "联系人手机", "办公电话"),
    "年度总体目标": ("总体目标", "年度目标", "绩效总体目标", "年初设定目标", "预期目标"),
    "邮箱": ("电子邮箱", "邮箱地址", "电子邮件", "email", "e-mail"),
    "项目名称": (),
    "项目代码": ("项目编码", "项目编号"),
    "年初预算数": ("年初预算", "年初预算金额"),
    "全年预算数": ("全年预算", "调整后预算数", "全年预算金额"),
    "一级指标": (),
    "二级指标": (),
    "三级指标": ("指标名称", "三级指标名称"),
    "分值": ("权重", "指标分值"),
    "年度指标值": ("指标值", "年度目标值", "目标值"),
}

# §5.1 of the domain notes: the 2020 单位自评 taxonomy.
LEVEL2_BY_LEVEL1: dict[str, list[str]] = {
    "产出指标": ["数量指标", "质量指标", "时效指标", "成本指标"],
    "效益指标": ["经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"],
    "满意度指标": ["服务对象满意度指标"],
}
LEVEL1_WEIGHTS: dict[str, float] = {"产出指标": 50.0, "效益指标": 30.0, "满意度指标": 10.0}

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_DIGITS_DOT_ZERO = re.compile(r"(\d+)\.0+")
_WEIGHT_TOLERANCE = 0.005
_HEADER_SCAN_ROWS = 10


@dataclass
class TargetRow:
    row_no: int
    level1: str
    level2: str
    name: str
    weight: float
    target: str


@dataclass
class RosterRow:
    row_no: int
    unit_code: str
    unit_name: str
    region_code: str
    region_name: str
    department: str
    contact: str
    email: str
    project_name: str
    project_code: str
    initial_budget: float | None
    budget: float | None
    targets: list[TargetRow] = field(default_factory=list)
    phone: str = ""
    goal: str = ""                         # the approved 年度总体目标

    @property
    def leader(self) -> str:
        """项目负责人及电话 as the form shows it: the contact, with the phone unless already there."""
        phone = self.phone.strip()
        return self.contact if not phone or phone in self.contact else f"{self.contact} {phone}".strip()

    @property
    def key(self) -> tuple[str, str]:
        return (self.unit_code, self.project_code)


# ---------------------------------------------------------------- cell text

def _text(value: object) -> str:
    """A cell as the clerk sees it: 12.0 → "12", dates as YYYY-MM-DD, stripped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _code(value: object) -> str:
    """A code cell as text: 430527.0 and " ４３０５２７ " both give "430527"."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    s = "".join(unicodedata.normalize("NFKC", _text(value)).split())
    m = _DIGITS_DOT_ZERO.fullmatch(s)
    return m.group(1) if m else s


def _percent_text(value: object, number_format: str) -> str:
    """年度指标值 typed as 95% in a percent-formatted cell arrives as 0.95."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and "%" in (number_format or ""):
        return f"{round(value * 100, 6):g}%"
    return _text(value)


def _header_key(value: object) -> str:
    return norm_label(value).lower()


def _header_lookup(labels: list[str]) -> dict[str, str]:
    lookup: dict[str, str] = {}
    for label in labels:
        for spelling in (label, *ALIASES.get(label, ())):
            lookup.setdefault(_header_key(spelling), label)
    return lookup


# ---------------------------------------------------------------- loading

def _open_workbook(path: Path):
    import openpyxl

    path = Path(path)
    if not path.exists():
        raise RosterError(f"找不到名单文件 {path}", code="roster-missing", path=str(path))
    try:
        return openpyxl.load_workbook(path, data_only=True)
    except Exception as exc:  # BadZipFile, KeyError, XML errors: not a usable .xlsx
        hint = "（.xls 或 .et 文件请先在 Excel/WPS 中另存为 .xlsx）" if path.suffix.lower() != ".xlsx" else ""
        raise RosterError(f"名单文件无法打开：{type(exc).__name__}{hint}", code="roster-unreadable",
                          path=str(path)) from None


def _find_header(ws, lookup: dict[str, str], anchor: str) -> tuple[int, dict[str, int]] | None:
    """(header row number, label → column index) for the first row naming `anchor`."""
    for r, row in enumerate(ws.iter_rows(min_row=1, max_row=_HEADER_SCAN_ROWS, values_only=True), start=1):
        columns: dict[str, int] = {}
        for c, value in enumerate(row):
            label = lookup.get(_header_key(value))
            if label and label not in columns:
                columns[label] = c
        if anchor in columns and len(columns) >= 3:
            return r, columns
    return None


def _sheet(wb, name: str, lookup: dict[str, str], anchor: str, exclude: tuple = ()):
    """The sheet called `name` (ignoring spaces), else the first other sheet with such a header."""
    for ws in wb.worksheets:
        if norm(ws.title) == norm(name):
            return ws
    for ws in wb.worksheets:
        if ws.title in exclude or norm(ws.title) == norm(INSTRUCTIONS_SHEET):
            continue
        if _find_header(ws, lookup, anchor) is not None:
            return ws
    return None


def _data_rows(ws, header_row: int):
    """(row number, cells) for each non-blank row under the header."""
    for r, cells in enumerate(ws.iter_rows(min_row=header_row + 1), start=header_row + 1):
        if any(_text(c.value) for c in cells):
            yield r, cells


def _cell(cells, columns: dict[str, int], label: str):
    c = columns.get(label)
    if c is None or c >= len(cells):
        return None
    return cells[c]


def _money(raw: object, label: str, where: str, problems: list[str]) -> float | None:
    amount = parse_amount(raw)
    if amount.value is None:
        if amount.warnings:
            problems.append(f"{where}：{label}“{_text(raw)}”不是数字")
        return None
    if amount.value < 0:
        problems.append(f"{where}：{label}“{_text(raw)}”不能为负数")
        return None
    return amount.value


def _load_units(ws, problems: list[str]) -> list[RosterRow]:
    title = ws.title
    found = _find_header(ws, _header_lookup(ROSTER_COLUMNS), "单位代码")
    if found is None:
        problems.append(f"{title} 前{_HEADER_SCAN_ROWS}行中找不到表头（应含 {'、'.join(ROSTER_COLUMNS)}）")
        return []
    header_row, columns = found
    missing = [c for c in ROSTER_COLUMNS if c not in columns and c not in OPTIONAL_ROSTER_COLUMNS]
    if missing:
        problems.append(f"{title} 第{header_row}行表头缺少列：{'、'.join(missing)}")

    rows: list[RosterRow] = []
    first_row_of: dict[tuple[str, str], int] = {}
    for r, cells in _data_rows(ws, header_row):
        where = f"{title} 第{r}行"

        def value(label: str) -> object:
            cell = _cell(cells, columns, label)
            return None if cell is None else cell.value

        unit_code, project_code = _code(value("单位代码")), _code(value("项目代码"))
        unit_name, project_name = _text(value("单位名称")), _text(value("项目名称"))
        for label, text in (("单位代码", unit_code), ("单位名称", unit_name),
                            ("项目名称", project_name), ("项目代码", project_code)):
            if label in columns and not text:
                problems.append(f"{where}：缺少{label}")

        email = "".join(unicodedata.normalize("NFKC", _text(value("邮箱"))).split())
        if email.lower().startswith("mailto:"):
            email = email[7:]
        if "邮箱" in columns:
            if not email:
                problems.append(f"{where}：缺少邮箱")
            elif re.search(r"[;,，；、]", email):
                problems.append(f"{where}：邮箱“{_text(value('邮箱'))}”只能填写一个地址")
            elif not _EMAIL.fullmatch(email):
                problems.append(f"{where}：邮箱“{_text(value('邮箱'))}”格式不正确")

        raw_region = value("行政区划代码")
        region_code = _code(raw_region)
        if "行政区划代码" in columns:
            if not region_code:
                problems.append(f"{where}：缺少行政区划代码")
            elif not re.fullmatch(r"\d{6}", region_code):
                problems.append(f"{where}：行政区划代码“{_text(raw_region)}”应为6位数字")
            elif regions.parse_code(region_code) is None:
                problems.append(f"{where}：行政区划代码“{region_code}”不是有效的行政区划代码（前两位不是省级代码）")

        initial_budget = _money(value("年初预算数"), "年初预算数", where, problems)
        budget = _money(value("全年预算数"), "全年预算数", where, problems)

        if unit_code and project_code:
            first = first_row_of.setdefault((unit_code, project_code), r)
            if first != r:
                problems.append(f"{where}：单位代码“{unit_code}”、项目代码“{project_code}”与第{first}行重复")

        rows.append(RosterRow(
            row_no=r, unit_code=unit_code, unit_name=unit_name, region_code=region_code,
            region_name=_text(value("地区名称")), department=_text(value("主管部门")),
            contact=_text(value("联系人")), email=email, project_name=project_name,
            project_code=project_code, initial_budget=initial_budget, budget=budget,
            phone=_text(value("联系电话")), goal=_text(value("年度总体目标"))))
    if not rows and not missing:
        problems.append(f"{title} 没有任何数据行")
    return rows


def _canonical(value: str, names: list[str]) -> str | None:
    """`value` matched against `names`, tolerating spaces and a missing "指标" suffix."""
    v = norm(value)
    for name in names:
        n = norm(name)
        if v == n or v + "指标" == n or v == n + "指标":
            return name
    return None


def _load_targets(ws, by_key: dict[tuple[str, str], RosterRow], problems: list[str],
                  level1_weights: dict[str, float] | None,
                  level2_by_level1: dict[str, list[str]] | None) -> None:
    title = ws.title
    found = _find_header(ws, _header_lookup(TARGET_COLUMNS), "三级指标")
    if found is None:
        problems.append(f"{title} 前{_HEADER_SCAN_ROWS}行中找不到表头（应含 {'、'.join(TARGET_COLUMNS)}）")
        return
    header_row, columns = found
    missing = [c for c in TARGET_COLUMNS if c not in columns]
    if missing:
        problems.append(f"{title} 第{header_row}行表头缺少列：{'、'.join(missing)}")
        return

    known_level1: list[str] | None = None
    if level2_by_level1 is not None or level1_weights is not None:
        known_level1 = list(dict.fromkeys([*(level2_by_level1 or {}), *(level1_weights or {})]))
    seen_names: dict[tuple[str, str, str], int] = {}
    rows_of: dict[tuple[str, str], list[int]] = {}
    unsure: set[tuple[str, str]] = set()  # projects with a bad weight or 一级: a sum would only repeat that
    for r, cells in _data_rows(ws, header_row):
        where = f"{title} 第{r}行"

        def value(label: str) -> object:
            cell = _cell(cells, columns, label)
            return None if cell is None else cell.value

        unit_code, project_code = _code(value("单位代码")), _code(value("项目代码"))
        level1, level2, name = _text(value("一级指标")), _text(value("二级指标")), _text(value("三级指标"))
        target_cell = _cell(cells, columns, "年度指标值")
        target = "" if target_cell is None else _percent_text(target_cell.value, target_cell.number_format)
        raw_weight = value("分值")

        for label, text in (("单位代码", unit_code), ("项目代码", project_code),
                            ("一级指标", level1), ("三级指标", name)):
            if not text:
                problems.append(f"{where}：缺少{label}")
        owner = by_key.get((unit_code, project_code))
        if unit_code and project_code and owner is None:
            problems.append(f"{where}：单位代码“{unit_code}”、项目代码“{project_code}”在名单中不存在")

        if level1 and known_level1 is not None:
            canon1 = _canonical(level1, known_level1)
            if canon1 is None:
                unsure.add((unit_code, project_code))
                problems.append(f"{where}：一级指标“{level1}”不在表样的一级指标（{'、'.join(known_level1)}）中")
            else:
                level1 = canon1
                allowed = (level2_by_level1 or {}).get(canon1)
                if level2 and allowed is not None:
                    canon2 = _canonical(level2, allowed)
                    if canon2 is None:
                        problems.append(f"{where}：二级指标“{level2}”不属于一级指标“{canon1}”"
                                        f"（应为：{'、'.join(allowed)}）")
                    else:
                        level2 = canon2

        weight_amount = parse_amount(raw_weight)
        weight = weight_amount.value
        if weight is None or weight < 0:
            unsure.add((unit_code, project_code))
        if weight is None:
            problems.append(f"{where}：分值“{_text(raw_weight)}”不是数字" if _text(raw_weight)
                            else f"{where}：缺少分值")
        elif weight < 0:
            problems.append(f"{where}：分值“{_text(raw_weight)}”不能为负数")
            weight = None

        if name and unit_code and project_code:
            first = seen_names.setdefault((unit_code, project_code, norm(name)), r)
            if first != r:
                problems.append(f"{where}：三级指标“{name}”与第{first}行重复（同一项目）")

        if owner is not None:
            owner.targets.append(TargetRow(row_no=r, level1=level1, level2=level2, name=name,
                                           weight=weight if weight is not None else 0.0, target=target))
            rows_of.setdefault(owner.key, []).append(r)

    if level1_weights:
        for key, row_nos in rows_of.items():
            if key in unsure:
                continue
            owner = by_key[key]
            for level1, expected in level1_weights.items():
                total = sum(t.weight for t in owner.targets if t.level1 == level1)
                if abs(total - float(expected)) > _WEIGHT_TOLERANCE:
                    problems.append(
                        f"{title} 第{_ranges(row_nos)}行：单位代码“{owner.unit_code}”、项目代码“{owner.project_code}”"
                        f"的{level1}分值合计 {total:g}，应为 {float(expected):g}")


def _ranges(numbers: list[int]) -> str:
    """[3, 4, 5, 9] → "3–5、9"."""
    out: list[str] = []
    start = prev = numbers[0]
    for n in numbers[1:] + [None]:  # type: ignore[list-item]
        if n is not None and n == prev + 1:
            prev = n
            continue
        out.append(str(start) if start == prev else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return "、".join(out)


def load_roster(path: Path, *, level1_weights: dict[str, float] | None = None,
                level2_by_level1: dict[str, list[str]] | None = None) -> list[RosterRow]:
    """Read and check a roster workbook; raise RosterError listing every problem.

    `level1_weights` (一级 → points, only the indicator 一级s, not 预算执行率)
    turns on the per-project weight-sum check; `level2_by_level1` turns on the
    taxonomy check. Both normally come from the form definition. A project
    without any targets is accepted.
    """
    wb = _open_workbook(path)
    problems: list[str] = []
    try:
        units_ws = _sheet(wb, ROSTER_SHEET, _header_lookup(ROSTER_COLUMNS), "单位代码")
        if units_ws is None:
            raise RosterError(f"找不到“{ROSTER_SHEET}”工作表（表头应含 单位代码、项目代码 等）",
                              code="roster-invalid", path=str(path),
                              problems=[f"找不到“{ROSTER_SHEET}”工作表"])
        rows = _load_units(units_ws, problems)
        targets_ws = _sheet(wb, TARGETS_SHEET, _header_lookup(TARGET_COLUMNS), "三级指标",
                            exclude=(units_ws.title,))
        if targets_ws is not None and targets_ws is not units_ws:
            by_key = {}
            for row in rows:
                by_key.setdefault(row.key, row)
            _load_targets(targets_ws, by_key, problems, level1_weights, level2_by_level1)
    finally:
        wb.close()
    if problems:
        raise RosterError(f"名单有 {len(problems)} 处问题，未导入任何内容，请修改后重新导入",
                          problems=problems, path=str(path))
    return rows


def import_roster(conn: sqlite3.Connection, path: Path, **checks) -> list[RosterRow]:
    """Load, check and store a roster in one step; nothing is stored unless the whole file is clean."""
    rows = load_roster(path, **checks)
    save_roster(conn, rows)
    return rows


def region_names(rows: list[RosterRow]) -> dict[str, str]:
    """code → 地区名称 from the roster, for `regions.name_of`."""
    return {r.region_code: r.region_name for r in rows if r.region_code and r.region_name}


# ---------------------------------------------------------------- database

def save_roster(conn: sqlite3.Connection, rows: list[RosterRow], *, deactivate_missing: bool = True) -> int:
    """Store the roster idempotently, keyed by (单位代码, 项目代码); targets are replaced.

    `rows` is the whole roster: rows stored earlier but absent now are marked
    inactive (not deleted: their sent mail and returns stay in the ledger).
    """
    with db.transaction(conn):
        ids = []
        for row in rows:
            rid = db.upsert_roster_row(conn, {name: getattr(row, name) for name in db.ROSTER_FIELDS})
            db.replace_targets(conn, rid, [
                {"seq": i, "level1": t.level1, "level2": t.level2, "name": t.name, "weight": t.weight,
                 "target": t.target, "row_no": t.row_no} for i, t in enumerate(row.targets, start=1)])
            ids.append(rid)
        if deactivate_missing:
            db.deactivate_roster_except(conn, ids)
    return len(rows)


def rows_from_db(conn: sqlite3.Connection, *, include_inactive: bool = False) -> list[RosterRow]:
    out = []
    for r in db.roster_rows(conn, include_inactive=include_inactive):
        targets = [TargetRow(row_no=t["row_no"], level1=t["level1"], level2=t["level2"], name=t["name"],
                             weight=t["weight"], target=t["target"]) for t in db.targets_of(conn, r["id"])]
        out.append(RosterRow(
            row_no=r["row_no"], unit_code=r["unit_code"], unit_name=r["unit_name"], region_code=r["region_code"],
            region_name=r["region_name"], department=r["department"], contact=r["contact"], email=r["email"],
            project_name=r["project_name"], project_code=r["project_code"],
            initial_budget=r["initial_budget"], budget=r["budget"], targets=targets,
            phone=r["phone"], goal=r["goal"]))
    return out
