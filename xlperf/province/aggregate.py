"""Province-wide summary of checked returns, as plain tables (domain §10).

`summarize` turns checked returns (and the roster of who should return what)
into a `Summary`: named tables of plain dict rows with their column
definitions (model.py). The summary workbook, the CSV and Parquet exports and
the pandas API all render these same tables, so a figure can never differ
between them.

Definitions that matter (also written into the 说明 sheet, see DEFINITIONS):
* a return is *valid* (合格) when it was recognised as a form and has no error;
* money and score figures use valid returns only, each counted once;
* 执行率 of any group is Σ全年执行数 ÷ Σ全年预算数, never a mean of rates;
* region figures are built bottom-up, so each level adds up to the one above.
"""
from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable

from ..form.labels import indicator_key
from ..judge.check import CheckResult
from ..judge.findings import ERROR, INFO, SEVERITY_ZH, WARNING
from ..season import regions
from .spill import BATCH, Spill, SpilledRows
from .model import (ANALYSIS_COLUMNS, BUCKET_COLUMNS, CITY_RATE_COLUMNS, DEFINITIONS, FINDING_COLUMNS,
                    GRADE_COLUMNS, HAS_ERRORS, INDICATOR_COLUMNS, LEVEL_ZH, LOW_RATE, MISSING_COLUMNS, NOT_A_FORM,
                    OVERVIEW_COLUMNS, PROJECT_COLUMNS, REGION_COLUMNS_HEAD, SCORE_BUCKETS, SIMILAR_COLUMNS,
                    SIMILAR_MIN_CHARS, SIMILAR_RATIO, SIMILAR_SHOWN, STATUS_ZH, SUPERSEDED, TOP_COLUMNS, TOP_NOT_MET, TOTAL,
                    UNREADABLE, VALID, Column, Entry, Expected, Summary, Table)

# China has one time zone and no daylight saving: Beijing time is UTC+8 all year.
BEIJING = timezone(timedelta(hours=8), "北京时间")


def beijing_time(iso: str) -> str:
    """A ledger timestamp (ISO, UTC) as the clerk reads it: Beijing time, to the second."""
    try:
        t = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso or ""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")

# ------------------------------------------------------------------ regions


@dataclass
class _Node:
    key: str
    level: str
    code: str
    name: str
    parent: str | None
    children: list[str] = field(default_factory=list)
    expected: int = 0
    returned: int = 0
    valid: int = 0
    with_errors: int = 0
    missing: int = 0
    initial_budget: float | None = None
    budget: float = 0.0
    spent: float = 0.0
    score_sum: float = 0.0
    scored: int = 0
    grades: Counter = field(default_factory=Counter)
    leaf_money: list = field(default_factory=list)


def infer_region(result: CheckResult) -> str:
    """Region code of a return without a roster row: from the unit or project code, else ""."""
    ident = result.identity or {}
    for raw in (ident.get("unit_code"), ident.get("project_code"), result.header.get("project_code")):
        s = regions.normalize_code(raw)
        if len(s) == 18 and regions.parse_code(s[2:8]):      # 统一社会信用代码: region in positions 3–8
            return s[2:8]
        if len(s) >= 6 and regions.parse_code(s[:6]):
            return s[:6]
    return ""


# ------------------------------------------------------------------ summarize


def is_valid(result: CheckResult) -> bool:
    return result.form is not None and result.errors == 0


def _expected_key(e: Expected) -> str:
    if e.roster_id is not None:
        return f"#{e.roster_id}"
    return "\x1f".join((str(e.unit_code or ""), str(e.project_code or ""), str(e.project_name or "")))


def _num(x: object) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _fsum(xs: Iterable[float]) -> float:
    return round(math.fsum(xs), 6)


def _rate(spent: float, budget: float) -> float | None:
    return spent / budget if budget else None


def _grade_order(form: str, forms: Counter, seen_grades: set[str]) -> tuple[str, str, list[str], list[str]]:
    """(form id, form name, grades best first, low grades): from the form definition, else from the returns."""
    from ..errors import XlperfError
    from ..form.spec import load_form
    form_id = form or (forms.most_common(1)[0][0] if forms else "")
    if form_id:
        try:
            spec = load_form(form_id)
            names = [g.name for g in spec.grades]
            low = [n for n in names if "差" in n] or names[-1:]
            return form_id, spec.name, names, low
        except XlperfError:
            pass
    seen = sorted(seen_grades)
    return form_id, form_id, seen, [g for g in seen if "差" in g]


class _Fold:
    """Returns folded one at a time into the spill, plus the few running counters that stay small."""

    def __init__(self) -> None:
        self.spill = Spill()
        self.chains: dict[str, list[tuple[str, str, str, str]]] = {}    # region code → chain (names later)
        self.region_pairs: dict[str, str] = {}                          # roster (code → name), last wins
        self.forms: Counter = Counter()
        self.years: Counter = Counter()
        self.grades: set[str] = set()
        self.files = 0
        self.unreadable = 0
        self.expected = 0

    def chain(self, region: str) -> list[tuple[str, str, str, str]]:
        c = self.chains.get(region)
        if c is None:
            c = self.chains[region] = regions.chain(region, {})
        return c

    def _keys(self, region: str) -> tuple[str, str | None, str | None, str | None]:
        keys = [k for k, *_ in self.chain(region)]
        return (keys[-1], *(keys + [None, None, None])[:3])

    def add_expected(self, e: Expected) -> None:
        self.expected += 1
        region = regions.normalize_code(e.region_code)
        if e.region_code is not None and e.region_name:
            self.region_pairs.pop(str(e.region_code), None)
            self.region_pairs[str(e.region_code)] = e.region_name
        if self.expected % BATCH == 0:
            self.spill.flush()
        self.spill.add("exp", (self.expected, _expected_key(e), str(e.unit_code or e.unit_name), region,
                               *self._keys(region), e.unit_code, e.unit_name, e.project_name,
                               e.project_code, e.budget, e.contact, e.email))

    def add(self, entry: Entry) -> None:
        self.files += 1
        seq = self.files
        exp, res = entry.expected, entry.result
        region = regions.normalize_code(exp.region_code) if exp else infer_region(res)
        ident = res.identity or {}
        unit_key = str(exp.unit_code if exp and exp.unit_code else ident.get("unit_code") or res.unit or entry.source)
        valid = is_valid(res)
        f = res.funds or {}
        source = entry.source or res.path
        if res.form:
            self.forms[res.form] += 1
        if res.year:
            self.years[res.year] += 1
        if res.grade:
            self.grades.add(res.grade)
        self.unreadable += not res.readable
        unit = (exp.unit_name if exp else "") or res.unit
        self.spill.add("ret", (
            seq, _expected_key(exp) if exp is not None else None, entry.received_at or "", 1, int(valid),
            int(bool(res.readable)), int(res.form is not None), region, *self._keys(region), unit_key,
            (exp.unit_code if exp else ident.get("unit_code", "")) or "", unit,
            (exp.project_name if exp else "") or res.project,
            (exp.project_code if exp else "") or res.header.get("project_code", ""),
            _num(f.get("initial_budget")), _num(f.get("budget")), _num(f.get("spent")), _num(f.get("rate")),
            _num(f.get("score")), _num(res.total_score), res.grade or "", res.errors, res.warnings,
            "是" if exp is not None else "否", beijing_time(entry.received_at), source))
        for ind in res.indicators:
            named = bool((ind.name or "").strip())
            st = ind.status if ind.status in ("met", "partly", "not_met") else "unknown"
            self.spill.add("ind", (seq, ind.level1, ind.level2, ind.name, indicator_key(ind.name) if named else "",
                                   int(named), st, ind.target or "", _percent_shown(ind.actual, ind.actual_unit),
                                   _num(ind.weight), _num(ind.score), _num(ind.suggested_score),
                                   STATUS_ZH.get(ind.status, ""), ind.cell))
            if ind.reason.strip():
                key = _text_key(ind.reason)
                if len(key) >= SIMILAR_MIN_CHARS:
                    where = f"第{ind.row}行" if ind.row else ind.cell
                    self.spill.add("txt", (seq, "偏差原因", key, ind.reason.strip(),
                                           f"{source} · {where}（{ind.name}）"))
        for fd in res.findings:
            self.spill.add("fnd", (seq, fd.sheet, fd.cell, fd.code, fd.severity, fd.message))
        if res.goal_actual.strip():
            key = _text_key(res.goal_actual)
            if len(key) >= SIMILAR_MIN_CHARS:
                self.spill.add("txt", (seq, "年度总体目标完成情况", key, res.goal_actual.strip(),
                                       f"{source} · 完成情况综述"))
        self.spill.added_return()

    def finish(self) -> None:
        """All returns in: of several for one roster row only the latest received is current."""
        self.spill.finish()
        with self.spill.conn as c:
            c.execute("UPDATE ret SET current = 0 WHERE exp_key IS NOT NULL AND seq <> "
                      "(SELECT r2.seq FROM ret r2 WHERE r2.exp_key = ret.exp_key "
                      "ORDER BY r2.received DESC, r2.seq DESC LIMIT 1)")
            c.execute("CREATE INDEX ret_current ON ret (current, valid)")


def summarize(entries: Iterable[Entry], expected: Iterable[Expected], *, year: int | None, form: str,
              produced_from: str, produced_at: str | None = None) -> Summary:
    """Aggregate checked returns against the roster (empty roster: just the returns).

    Both are consumed once, the roster first; each return is folded into a temporary SQLite
    file as it arrives, so memory stays flat however many returns a province has.
    """
    fold = _Fold()
    for e in expected:
        fold.add_expected(e)
    for entry in entries:
        fold.add(entry)
    fold.finish()
    s = _Sums(fold, regions.names_table(fold.region_pairs.items()))
    form_id, form_name, grades, low_grades = _grade_order(form, fold.forms, fold.grades)
    if year is None:
        year = fold.years.most_common(1)[0][0] if fold.years else None
    top, region_rows = _region_table(s, grades)
    analysis_rows, top_rows = _indicator_analysis(s, form_id)
    counts, totals = _counts(s, top), _totals(s, top)
    tables = {
        "overview": Table("overview", "总体情况", OVERVIEW_COLUMNS, _overview_rows(counts, totals)),
        "grades": Table("grades", "等级分布", GRADE_COLUMNS, _grade_rows(s, grades)),
        "score_buckets": Table("score_buckets", "总分分布", BUCKET_COLUMNS, _bucket_rows(s)),
        "city_rates": Table("city_rates", "各市执行率", CITY_RATE_COLUMNS,
                            [{"name": r["name"], "budget": r["budget"], "spent": r["spent"], "rate": r["rate"]}
                             for r in region_rows if r["level"] == LEVEL_ZH[regions.CITY] and r["returned"]]),
        "regions": Table("regions", "按地区汇总",
                         REGION_COLUMNS_HEAD + tuple(Column(f"grade:{g}", g, "int") for g in grades), region_rows),
        "projects": Table("projects", "项目明细", PROJECT_COLUMNS, _project_rows(s)),
        "indicators": Table("indicators", "指标明细", INDICATOR_COLUMNS, _indicator_rows(s)),
        "indicator_analysis": Table("indicator_analysis", "指标分析", ANALYSIS_COLUMNS, analysis_rows),
        "top_not_met": Table("top_not_met", "未完全完成最多的指标", TOP_COLUMNS, top_rows),
        "findings": Table("findings", "问题清单", FINDING_COLUMNS, _finding_rows(s)),
        "missing": Table("missing", "未提交", MISSING_COLUMNS, _missing_rows(s)),
        "similar_texts": Table("similar_texts", "疑似雷同说明", SIMILAR_COLUMNS, _similar_rows(s)),
    }
    return Summary(
        year=year, form=form_id, form_name=form_name,
        produced_at=produced_at or datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
        produced_from=produced_from, grades=grades, low_grades=low_grades, counts=counts, totals=totals,
        tables=tables, definitions=list(DEFINITIONS))


class _Sums:
    """The folded returns, queried: which are current and counted, and where each sits."""

    COUNTED = "r.current = 1 AND r.valid = 1"

    def __init__(self, fold: _Fold, names: dict[str, str]) -> None:
        self.fold, self.spill, self.names = fold, fold.spill, names
        self.has_roster = fold.expected > 0
        self.places: dict[str, dict[str, str]] = {}

    def all(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.spill.all(sql, params)

    def value(self, sql: str, params: tuple = ()):
        return self.spill.one(sql, params)[0]

    def chain(self, region: str) -> list[tuple[str, str, str, str]]:
        return regions.chain(region, self.names)

    def place(self, region: str) -> dict[str, str]:
        p = self.places.get(region)
        if p is None:
            p = self.places[region] = _place(self.chain(region))
        return p


# ---- 按地区汇总: a tree filled at its leaves, summed upwards


def _region_table(s: _Sums, grades: list[str]) -> tuple[_Node, list[dict]]:
    nodes: dict[str, _Node] = {}
    top = _Node(TOTAL, TOTAL, "", "合计", None)

    def leaf_for(region: str) -> _Node:
        parent, node = top, top
        for key, level, code, name in s.chain(region):
            node = nodes.get(key)
            if node is None:
                node = nodes[key] = _Node(key, level, code, name, parent.key)
                parent.children.append(key)
            parent = node
        return node

    leaves: dict[str, _Node] = {}
    for region, n_exp, n_missing in s.all(
            "SELECT e.region, COUNT(*), SUM(NOT EXISTS (SELECT 1 FROM ret r WHERE r.exp_key = e.key AND r.current = 1)) "
            "FROM exp e GROUP BY e.region"):
        leaf = leaves[region] = leaf_for(region)
        leaf.expected += n_exp
        leaf.missing += n_missing
    for region, returned, valid, initial, budget, spent, score_sum, scored in s.all(
            "SELECT r.region, COUNT(*), SUM(r.valid), fsum(CASE WHEN r.valid THEN r.initial END), "
            "fsum(CASE WHEN r.valid THEN COALESCE(r.budget, 0) END), fsum(CASE WHEN r.valid THEN COALESCE(r.spent, 0) END), "
            "fsum(CASE WHEN r.valid THEN r.score END), SUM(r.valid AND r.score IS NOT NULL) "
            "FROM ret r WHERE r.current = 1 GROUP BY r.region"):
        leaf = leaves.get(region) or leaves.setdefault(region, leaf_for(region))
        leaf.returned += returned
        leaf.valid += valid
        leaf.with_errors += returned - valid
        leaf.leaf_money.append((initial, budget or 0.0, spent or 0.0))
        leaf.score_sum += score_sum or 0.0
        leaf.scored += scored
    for region, grade, n in s.all(f"SELECT r.region, r.grade, COUNT(*) FROM ret r WHERE {s.COUNTED} AND r.grade <> '' "
                                  "GROUP BY r.region, r.grade"):
        leaves[region].grades[grade] += n
    units_expected = _distinct_by_node(s, "exp", "unit_id", "1")
    units_returned = _distinct_by_node(s, "ret", "unit_key", "current = 1")

    def order(key: str) -> tuple:
        n = nodes[key]
        return (n.code == "", "本级" in n.key, n.code)     # real codes first, 本级 after its siblings

    def roll(node: _Node) -> None:
        node.children.sort(key=order)
        if not node.children:
            initial = [m[0] for m in node.leaf_money if m[0] is not None]
            node.initial_budget = _fsum(initial) if initial else None   # forms without 年初预算数 leave it empty
            node.budget = _fsum(m[1] for m in node.leaf_money)
            node.spent = _fsum(m[2] for m in node.leaf_money)
            node.score_sum = round(node.score_sum, 6)
            return
        kids = [nodes[k] for k in node.children]
        for k in kids:
            roll(k)
        for attr in ("expected", "returned", "valid", "with_errors", "missing", "scored"):
            setattr(node, attr, getattr(node, attr) + sum(getattr(k, attr) for k in kids))
        node.budget = _fsum(k.budget for k in kids)
        node.spent = _fsum(k.spent for k in kids)
        initial = [k.initial_budget for k in kids if k.initial_budget is not None]
        node.initial_budget = _fsum(initial) if initial else None
        node.score_sum = _fsum(k.score_sum for k in kids)
        for k in kids:
            node.grades.update(k.grades)

    roll(top)
    roster = s.has_roster

    def level(n: _Node) -> str:
        """省本级 is the province's own units: province level, not a 市."""
        if regions.is_province_own(n.key, n.level, n.code):
            return regions.PROVINCE_OWN
        return LEVEL_ZH[n.level]

    def row(n: _Node) -> dict:
        out = {"level": level(n), "code": n.code,
               "parent": nodes[n.parent].code if n.parent in nodes else "", "name": n.name,
               "expected": n.expected if roster else None, "returned": n.returned, "valid": n.valid,
               "with_errors": n.with_errors, "missing": n.missing if roster else None,
               "units_expected": units_expected.get(n.key, 0) if roster else None,
               "units_returned": units_returned.get(n.key, 0),
               "initial_budget": n.initial_budget, "budget": n.budget, "spent": n.spent,
               "rate": _rate(n.spent, n.budget), "scored": n.scored,
               "mean_score": round(n.score_sum / n.scored, 6) if n.scored else None,
               "_key": n.key, "_parent": n.parent or ""}     # tree links, not shown: 本级 rows share a code
        out.update({f"grade:{g}": n.grades.get(g, 0) for g in grades})
        return out

    rows: list[dict] = []

    def walk(n: _Node) -> None:
        rows.append(row(n))
        for k in n.children:
            walk(nodes[k])

    walk(top)
    return top, rows


def _distinct_by_node(s: _Sums, table: str, column: str, where: str) -> dict[str, int]:
    """Distinct units under every region node (a unit counts once however many projects it has)."""
    out = {TOTAL: s.value(f"SELECT COUNT(DISTINCT {column}) FROM {table} WHERE {where}")}
    for depth in ("c0", "c1", "c2"):
        out.update(s.all(f"SELECT {depth}, COUNT(DISTINCT {column}) FROM {table} "
                         f"WHERE {where} AND {depth} IS NOT NULL GROUP BY {depth}"))
    return out


# ---- 项目明细, 指标明细, 指标分析, 问题清单, 未提交


def _place(chain: list[tuple[str, str, str, str]]) -> dict[str, str]:
    out = {"province": "", "city": "", "county": ""}
    field_of = {regions.PROVINCE: "province", regions.CITY: "city", regions.COUNTY: "county"}
    for key, level, code, name in chain:
        out[field_of[level]] = regions.PROVINCE_OWN if regions.is_province_own(key, level, code) else name
    return out


def _status(current: int, readable: int, is_form: int, errors: int) -> str:
    if not current:
        return SUPERSEDED
    if not readable:
        return UNREADABLE
    if not is_form:
        return NOT_A_FORM
    return HAS_ERRORS if errors else VALID


_PROJECT_SQL = ("SELECT seq, region, unit_code, unit, project, project_code, initial, budget, spent, rate, funds_score, "
                "score, grade, current, readable, is_form, valid, errors, warnings, in_roster, received_shown, source "
                "FROM ret r ORDER BY seq")


def _project_rows(s: _Sums) -> SpilledRows:
    def make(t: tuple) -> dict:
        (seq, region, unit_code, unit, project, project_code, initial, budget, spent, rate, funds_score, score, grade,
         current, readable, is_form, valid, errors, warnings, in_roster, received, source) = t
        return {"no": seq, **s.place(region), "region_code": region, "unit_code": unit_code, "unit": unit,
                "project": project, "project_code": project_code, "initial_budget": initial, "budget": budget,
                "spent": spent, "rate": rate, "funds_score": funds_score, "total_score": score, "grade": grade,
                "status": _status(current, readable, is_form, errors),
                "counted": "是" if (current and valid) else "否", "errors": errors, "warnings": warnings,
                "in_roster": in_roster, "received_at": received, "source": source}
    return SpilledRows(s.spill, _PROJECT_SQL, s.fold.files, make)


def _indicator_rows(s: _Sums) -> SpilledRows:
    """指标明细: every indicator of every return, with the return it came from."""
    sql = ("SELECT r.region, r.unit, r.project, i.level1, i.level2, i.name, i.target, i.actual, i.weight, i.score, "
           "i.suggested, i.status, i.cell, r.current AND r.valid, r.source FROM ind i JOIN ret r ON r.seq = i.ret "
           "ORDER BY i.rowid")

    def make(t: tuple) -> dict:
        region, unit, project, l1, l2, name, target, actual, weight, score, suggested, status, cell, counted, source = t
        return {"county": s.place(region)["county"], "unit": unit, "project": project, "level1": l1, "level2": l2,
                "name": name, "target": target, "actual": actual, "weight": weight, "score": score,
                "suggested_score": suggested, "status": status, "cell": cell, "counted": "是" if counted else "否",
                "source": source}
    return SpilledRows(s.spill, sql, s.value("SELECT COUNT(*) FROM ind"), make)


def _indicator_analysis(s: _Sums, form_id: str) -> tuple[list[dict], list[dict]]:
    """指标分析 and the indicators most often not fully met, from counted returns' named indicators only."""
    counted = f"FROM ind i JOIN ret r ON r.seq = i.ret WHERE {s.COUNTED} AND i.named = 1"
    by_l1: dict[str, Counter] = defaultdict(Counter)
    by_l2: dict[tuple[str, str], Counter] = {}
    overall: Counter = Counter()
    for l1, l2, st, n, _first in s.all(f"SELECT i.level1, i.level2, i.st, COUNT(*), MIN(i.rowid) {counted} "
                                       "GROUP BY i.level1, i.level2, i.st ORDER BY MIN(i.rowid)"):
        for c in (by_l1[l1], by_l2.setdefault((l1, l2), Counter()), overall):
            c[st] += n
            c["count"] += n

    def share_row(level: str, l1: str, l2: str, c: Counter) -> dict:
        n = c["count"]
        return {"level": level, "level1": l1, "level2": l2, "count": n, "met": c["met"], "partly": c["partly"],
                "not_met": c["not_met"], "unknown": c["unknown"],
                "met_share": c["met"] / n if n else None, "partly_share": c["partly"] / n if n else None,
                "not_met_share": c["not_met"] / n if n else None}

    # by_l2 in order of each pair's first appearance: rebuild it from the smallest rowid per pair
    firsts = dict(((l1, l2), m) for l1, l2, m in s.all(f"SELECT i.level1, i.level2, MIN(i.rowid) {counted} "
                                                        "GROUP BY i.level1, i.level2"))
    analysis = [share_row("合计", "", "", overall)]
    for l1 in sorted(by_l1, key=_level_sort(form_id)):
        pairs = sorted((p for p in by_l2 if p[0] == l1), key=firsts.__getitem__)
        analysis.append(share_row("一级", l1, "", by_l1[l1]))
        analysis.extend(share_row("二级", l1, p[1], by_l2[p]) for p in pairs)
    bad = s.all(f"SELECT i.name_key, COUNT(*), SUM(i.st = 'partly'), SUM(i.st = 'not_met'), "
                f"COUNT(DISTINCT CASE WHEN i.st IN ('partly', 'not_met') THEN r.unit_key END) AS units {counted} "
                "GROUP BY i.name_key HAVING SUM(i.st IN ('partly', 'not_met')) > 0 "
                "ORDER BY SUM(i.st IN ('partly', 'not_met')) DESC, units DESC, i.name_key LIMIT ?", (TOP_NOT_MET,))
    top = []
    for rank, (key, count, partly, not_met, units) in enumerate(bad, 1):
        most = [s.value(f"SELECT i.{col} {counted} AND i.name_key = ? GROUP BY i.{col} "
                        "ORDER BY COUNT(*) DESC, MIN(i.rowid) LIMIT 1", (key,)) for col in ("level1", "level2")]
        top.append({"rank": rank, "name": key, "count": count, "not_fully_met": partly + not_met, "partly": partly,
                    "not_met": not_met, "share": (partly + not_met) / count, "units": units,
                    "level1": most[0], "level2": most[1]})
    return analysis, top


def _percent_shown(raw: str | None, unit: str | None) -> str:
    """实际完成值 typed as 96.2% into a percent-formatted cell arrives as 0.962: show it as the clerk saw it."""
    text = (raw or "").strip()
    if unit == "%" and re.fullmatch(r"-?\d+(\.\d+)?", text):
        return f"{round(float(text) * 100, 6):g}%"
    return text


_NOT_TEXT = re.compile(r"[\W_]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _text_key(text: str) -> str:
    """What two explanations share when one was copied from the other: no spaces, punctuation or figures."""
    return _NOT_TEXT.sub("", _NUMBER.sub("#", unicodedata.normalize("NFKC", text)))


def _similar_rows(s: _Sums) -> list[dict]:
    """疑似雷同说明: the same 偏差原因 or 完成情况综述, word for word or nearly, in different units' returns.

    Keys are compared with their sorted neighbours only (near-identical texts sort close
    together), so this stays linear; only the keys that merged are remembered, and each
    group is described by SQL over the spill, so a text shared by thousands costs no memory.
    """
    conn = s.spill.conn
    conn.execute("CREATE TEMP TABLE merged (kind TEXT, key TEXT, root TEXT, PRIMARY KEY (kind, key))")
    current = "FROM txt t JOIN ret r ON r.seq = t.ret WHERE r.current = 1 AND t.kind = ?"
    for (kind,) in s.all("SELECT DISTINCT kind FROM txt"):
        parent: dict[str, str] = {}

        def root(k: str) -> str:
            while k in parent:
                k = parent[k]
            return k
        window: list[str] = []
        for (key,) in s.spill.stream(f"SELECT DISTINCT t.key {current} ORDER BY t.key", (kind,)):
            for prev in window:
                m = difflib.SequenceMatcher(None, prev, key, autojunk=False)
                if m.real_quick_ratio() >= SIMILAR_RATIO and m.ratio() >= SIMILAR_RATIO:
                    a, b = root(key), root(prev)
                    if a != b:
                        parent[a] = b
            window = (window + [key])[-5:]
        conn.executemany("INSERT INTO merged VALUES (?, ?, ?)", [(kind, k, root(k)) for k in parent])
    conn.execute("CREATE TEMP TABLE grouped AS SELECT t.rowid AS tid, t.kind AS kind, COALESCE(m.root, t.key) AS g, "
                 "t.text AS text, t.place AS place, r.unit_key AS unit_key, r.unit AS unit "
                 "FROM txt t JOIN ret r ON r.seq = t.ret LEFT JOIN merged m ON m.kind = t.kind AND m.key = t.key "
                 "WHERE r.current = 1")
    conn.execute("CREATE INDEX grouped_g ON grouped (kind, g, tid)")
    rows: list[dict] = []
    for kind, g, units, texts in s.all("SELECT kind, g, COUNT(DISTINCT unit_key), COUNT(DISTINCT text) FROM grouped "
                                       "GROUP BY kind, g HAVING COUNT(DISTINCT unit_key) >= 2"):
        where = "FROM grouped WHERE kind = ? AND g = ?"
        text = s.value(f"SELECT text {where} GROUP BY text ORDER BY COUNT(*) DESC, MIN(tid) LIMIT 1", (kind, g))
        names = [n for (n,) in s.all(f"SELECT unit {where} GROUP BY unit ORDER BY MIN(tid) LIMIT ?",
                                     (kind, g, SIMILAR_SHOWN + 1))]
        places = s.all(f"SELECT place {where} ORDER BY tid LIMIT ?", (kind, g, SIMILAR_SHOWN + 1))
        n_places = s.value(f"SELECT COUNT(*) {where}", (kind, g)) if len(places) > SIMILAR_SHOWN else len(places)
        n_names = (s.value(f"SELECT COUNT(DISTINCT unit) {where}", (kind, g)) if len(names) > SIMILAR_SHOWN
                   else len(names))
        rows.append({"kind": kind, "match": "完全相同" if texts == 1 else "几乎相同", "units": units, "text": text,
                     "unit_names": "、".join(names[:SIMILAR_SHOWN]) + (f"等 {n_names} 个单位" if n_names > SIMILAR_SHOWN else ""),
                     "places": "\n".join(p for (p,) in places[:SIMILAR_SHOWN])
                     + (f"\n……等 {n_places} 处" if n_places > SIMILAR_SHOWN else "")})
    conn.execute("DROP TABLE grouped")
    conn.execute("DROP TABLE merged")
    conn.commit()
    rows.sort(key=lambda r: (-r["units"], r["kind"], r["text"]))
    for i, row in enumerate(rows, 1):
        row["no"] = i
    return rows


def _finding_rows(s: _Sums) -> SpilledRows:
    """Problems of current returns (a superseded version's problems are no longer anyone's to fix)."""
    sql = ("SELECT r.region, r.unit, r.project, r.source, f.sheet, f.cell, f.code, f.severity, f.message "
           "FROM fnd f JOIN ret r ON r.seq = f.ret WHERE r.current = 1 ORDER BY f.rowid")

    def make(t: tuple) -> dict:
        region, unit, project, source, sheet, cell, code, severity, message = t
        return {"county": s.place(region)["county"], "unit": unit, "project": project, "file": source,
                "sheet": sheet, "cell": cell, "code": code, "severity": SEVERITY_ZH.get(severity, severity),
                "message": message}
    n = s.value("SELECT COUNT(*) FROM fnd f JOIN ret r ON r.seq = f.ret WHERE r.current = 1")
    return SpilledRows(s.spill, sql, n, make)


def _missing_rows(s: _Sums) -> SpilledRows:
    """Roster rows without a valid current return, by region, unit and project code."""
    where = ("FROM exp e LEFT JOIN ret r ON r.exp_key = e.key AND r.current = 1 "
             "WHERE r.seq IS NULL OR r.valid = 0")
    sql = (f"SELECT e.region, e.unit_code, e.unit, e.project, e.project_code, e.budget, e.contact, e.email, "
           f"r.seq, r.errors, r.source {where} ORDER BY e.region, e.unit_code, e.project_code, e.seq")

    def make(t: tuple) -> dict:
        region, unit_code, unit, project, project_code, budget, contact, email, seq, errors, source = t
        return {**s.place(region), "region_code": region, "unit_code": unit_code, "unit": unit, "project": project,
                "project_code": project_code, "budget": budget, "contact": contact, "email": email,
                "reason": "未提交" if seq is None else "有错误", "errors": 0 if seq is None else errors,
                "source": "" if seq is None else source}
    return SpilledRows(s.spill, sql, s.value(f"SELECT COUNT(*) {where}"), make)


# ---- 总体情况


def _counts(s: _Sums, top: _Node) -> dict[str, int | None]:
    roster = s.has_roster
    if roster:
        units_valid = s.value(
            "SELECT COUNT(*) FROM (SELECT e.unit_id, MIN(COALESCE(r.valid, 0)) AS ok FROM exp e "
            "LEFT JOIN ret r ON r.exp_key = e.key AND r.current = 1 GROUP BY e.unit_id) WHERE ok = 1")
    else:
        units_valid = s.value("SELECT COUNT(*) FROM (SELECT MIN(valid) AS ok FROM ret WHERE current = 1 "
                              "GROUP BY unit_key) WHERE ok = 1")
    severities = dict(s.all("SELECT f.severity, COUNT(*) FROM fnd f JOIN ret r ON r.seq = f.ret "
                            "WHERE r.current = 1 GROUP BY f.severity"))
    current = s.value("SELECT COUNT(*) FROM ret WHERE current = 1")
    counted = s.value("SELECT COUNT(*) FROM ret r WHERE " + s.COUNTED)
    return {
        "files": s.fold.files, "superseded": s.fold.files - current, "unreadable": s.fold.unreadable,
        "units_expected": s.value("SELECT COUNT(DISTINCT unit_id) FROM exp") if roster else None,
        "units_returned": s.value("SELECT COUNT(DISTINCT unit_key) FROM ret WHERE current = 1"),
        "units_valid": units_valid,
        "projects_expected": s.value("SELECT COUNT(DISTINCT key) FROM exp") if roster else None,
        "projects_returned": current, "projects_valid": counted,
        "projects_with_errors": current - counted,
        "projects_missing": top.missing if roster else None,
        "unmatched": s.value("SELECT COUNT(*) FROM ret WHERE current = 1 AND exp_key IS NULL") if roster else None,
        "low_rate": s.value(f"SELECT COUNT(*) FROM ret r WHERE {s.COUNTED} AND r.rate < ?", (LOW_RATE,)),
        "findings_error": severities.get(ERROR, 0), "findings_warning": severities.get(WARNING, 0),
        "findings_info": severities.get(INFO, 0),
    }


def _totals(s: _Sums, top: _Node) -> dict[str, float | None]:
    n, total, lo, hi = s.spill.one(f"SELECT COUNT(r.score), fsum(r.score), MIN(r.score), MAX(r.score) FROM ret r "
                                   f"WHERE {s.COUNTED}")
    median = None
    if n:
        mid = s.all(f"SELECT r.score FROM ret r WHERE {s.COUNTED} AND r.score IS NOT NULL ORDER BY r.score "
                    "LIMIT ? OFFSET ?", (2 - n % 2, (n - 1) // 2))
        median = mid[0][0] if n % 2 else (mid[0][0] + mid[1][0]) / 2
    return {"initial_budget": top.initial_budget, "budget": top.budget, "spent": top.spent,
            "rate": _rate(top.spent, top.budget),
            "mean_score": total / n if n else None, "median_score": median,
            "min_score": lo if n else None, "max_score": hi if n else None}


def _overview_rows(c: dict, t: dict) -> list[dict]:
    def row(item: str, value: object, unit: str, kind: str) -> dict:
        return {"item": item, "value": value, "unit": unit, "_kind": kind}   # _kind: number format in the workbook

    return [
        row("应报单位数", c["units_expected"], "个", "int"),
        row("已报单位数", c["units_returned"], "个", "int"),
        row("全部合格单位数", c["units_valid"], "个", "int"),
        row("应报项目数", c["projects_expected"], "个", "int"),
        row("已报项目数", c["projects_returned"], "个", "int"),
        row("合格项目数（计入汇总）", c["projects_valid"], "个", "int"),
        row("有错误或无法识别的项目数", c["projects_with_errors"], "个", "int"),
        row("未提交项目数", c["projects_missing"], "个", "int"),
        row("未匹配名单的回传数", c["unmatched"], "个", "int"),
        row("收到文件总数（含被替代的旧版本）", c["files"], "个", "int"),
        row("Σ年初预算数", t["initial_budget"], "万元", "money"),
        row("Σ全年预算数", t["budget"], "万元", "money"),
        row("Σ全年执行数", t["spent"], "万元", "money"),
        row("执行率（Σ执行 ÷ Σ预算）", t["rate"], "", "rate"),
        row(f"执行率低于{LOW_RATE:.0%}的项目数", c["low_rate"], "个", "int"),
        row("平均总分", t["mean_score"], "分", "score"),
        row("总分中位数", t["median_score"], "分", "score"),
        row("最低总分", t["min_score"], "分", "score"),
        row("最高总分", t["max_score"], "分", "score"),
        row("问题数：错误", c["findings_error"], "条", "int"),
        row("问题数：警告", c["findings_warning"], "条", "int"),
        row("问题数：提示", c["findings_info"], "条", "int"),
    ]


def _grade_rows(s: _Sums, grades: list[str]) -> list[dict]:
    """Projects and money per grade, with shares (the 广西 disclosure style, domain §10)."""
    got = {g: (n, budget, spent) for g, n, budget, spent in s.all(
        f"SELECT r.grade, COUNT(*), fsum(COALESCE(r.budget, 0)), fsum(COALESCE(r.spent, 0)) FROM ret r "
        f"WHERE {s.COUNTED} AND r.grade <> '' GROUP BY r.grade")}
    graded = sum(n for n, _, _ in got.values())
    all_budget = _fsum([s.value(f"SELECT fsum(COALESCE(r.budget, 0)) FROM ret r WHERE {s.COUNTED} AND r.grade <> ''")
                        or 0.0])
    rows = []
    for g in grades + sorted(set(got) - set(grades)):
        n, budget, spent = got.get(g, (0, 0.0, 0.0))
        budget = _fsum([budget or 0.0])
        rows.append({"grade": g, "projects": n, "share": n / graded if graded else None,
                     "budget": budget, "budget_share": budget / all_budget if all_budget else None,
                     "spent": _fsum([spent or 0.0])})
    return rows


def _bucket_rows(s: _Sums) -> list[dict]:
    counts = [0] * len(SCORE_BUCKETS)
    total = 0
    for (score,) in s.spill.stream(f"SELECT r.score FROM ret r WHERE {s.COUNTED} AND r.score IS NOT NULL"):
        total += 1
        for i, (_, lo, hi) in enumerate(SCORE_BUCKETS):
            if lo <= score < hi:
                counts[i] += 1
    return [{"bucket": label, "projects": n, "share": n / total if total else None}
            for (label, _, _), n in zip(SCORE_BUCKETS, counts)]


def _level_sort(form: str):
    """一级 in the form's order when known, else alphabetical."""
    order: dict[str, int] = {}
    try:
        from ..form.spec import load_form
        if form:
            order = {l.name: i for i, l in enumerate(load_form(form).level1)}
    except Exception:  # noqa: BLE001 — an unknown form only loses the nice order
        order = {}
    return lambda name: (order.get(name, len(order)), name)
