"""Find the form's fields in a neutral grid.

Our own templates carry defined names for every field (fast and exact, and
they follow rows a county inserted). Anything else — a copy a county typed
itself, an .xls or .ods re-save that lost the names — is read by its labels
and their synonyms. Both paths produce the same `FormData`, and neither knows
a coordinate: positions come from names or from where the labels are.
"""
from __future__ import annotations

import functools
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from xlsxwriter.utility import xl_rowcol_to_cell

from ..form.labels import Vocabulary, match, vocabulary, norm, norm_label, weight_in_label
from ..form.model import FormData, FundsLine, IndicatorLine
from ..form.spec import FormSpec
from .grid import Grid, Sheet

META_SHEET = "_xlperf"
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年度?")
_REF = re.compile(r"^=?(?:'((?:[^']|'')+)'|([^!]+))!\$?([A-Z]+)\$?(\d+)(?::\$?([A-Z]+)\$?(\d+))?$")
# Cells of our template that must hold formulas (by defined-name prefix/suffix).
FORMULA_NAMES = ("total_weight", "total_score", "grade", "check")
# The blank national form prints 指标1： / 指标2： / …… under every 二级指标; units leave unused ones in place.
_PLACEHOLDER = re.compile(r"^(?:指标\s*\d+\s*[:：.、]?|[.…。·]{2,}|…+)$")
_INDEX_PREFIX = re.compile(r"^指标\s*\d+\s*[:：.、]?\s*(?=\D)")
# 指标性质 / 指标方向 words: a comparator, a direction of good, or qualitative.
_COMPARATOR_WORDS = {"≥": "≥", "≧": "≥", ">=": "≥", "大于等于": "≥", "不低于": "≥", "不少于": "≥", ">": ">", "大于": ">",
                     "≤": "≤", "≦": "≤", "<=": "≤", "小于等于": "≤", "不高于": "≤", "不超过": "≤", "<": "<", "小于": "<",
                     "=": "=", "＝": "=", "﹦": "=", "═": "=", "等于": "="}
_DIRECTION_WORDS = {"正向": "≥", "正向指标": "≥", "反向": "≤", "反向指标": "≤"}
MAX_ROWS, MAX_COLS = 1_048_576, 16_384      # Excel's grid; names and loops never go past it
_DENSE = 4096                                # spans shorter than this are walked cell by cell


_VOCABULARIES: dict[int, tuple[FormSpec, Vocabulary]] = {}


def spec_vocabulary(spec: FormSpec) -> Vocabulary:
    """`labels.vocabulary(spec)`, found by the spec's identity: hashing a whole form definition
    for the lookup costs more than all the rest of finding a return's header."""
    hit = _VOCABULARIES.get(id(spec))
    if hit is None or hit[0] is not spec:
        if len(_VOCABULARIES) >= 64:
            _VOCABULARIES.clear()
        hit = _VOCABULARIES[id(spec)] = (spec, vocabulary(spec))
    return hit[1]


@functools.lru_cache(maxsize=65_536)       # pure, and every return names the same cells
def a1(r: int, c: int) -> str:
    return xl_rowcol_to_cell(r, c)


def _col(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


@functools.lru_cache(maxsize=65_536)       # pure; a season's defined names repeat
def parse_ref(ref: str) -> tuple[str, int, int, int, int] | None:
    """"'表'!$B$3:$B$9" → (sheet, r0, c0, r1, c1), 0-based."""
    m = _REF.match(ref.strip())
    if not m:
        return None
    sheet = (m.group(1) or "").replace("''", "'") or m.group(2)
    r0, c0 = int(m.group(4)) - 1, _col(m.group(3))
    r1, c1 = (int(m.group(6)) - 1, _col(m.group(5))) if m.group(5) else (r0, c0)
    if max(r0, r1) >= MAX_ROWS or max(c0, c1) >= MAX_COLS:
        return None           # outside any spreadsheet's grid: the name points at no cell
    return sheet, r0, c0, r1, c1


@dataclass
class Located:
    """What was found where; the validator reads only this."""

    form_id: str
    sheet: str
    by: str                                     # "names" | "labels"
    data: FormData
    year: int | None = None
    title: str = ""
    funds_label: str = ""
    declared_level1: dict[str, float] = field(default_factory=dict)   # 产出指标(50分) → 50
    indicators_weight: float | None = None      # 年度目标(80分): the whole indicator block's points
    identity: dict[str, str] | None = None      # the `_xlperf` sheet, if any
    identity_state: str = ""
    formula_cells: dict[str, str] = field(default_factory=dict)       # field → A1 that must hold a formula
    uncomputed: set[str] = field(default_factory=set)                 # A1 of formulas saved without a value
    field_cells: dict[str, tuple[int, int]] = field(default_factory=dict)


class _View:
    """Reads a sheet the way a person sees it: a merged range shows its top-left value."""

    def __init__(self, sheet: Sheet) -> None:
        self.sheet = sheet
        # Shared by every view of the same merge layout (a season's returns share their template's): read-only.
        self.owner, self.span = _merge_maps(tuple(sheet.merged))
        self._rows: list[int] | None = None

    def value(self, r: int, c: int):
        return self.sheet.values.get(self.owner.get((r, c), (r, c)))

    def rows_between(self, first: int, last: int):
        """Rows first..last; a long span yields only rows holding a cell (a claimed range costs what is there)."""
        if last - first < _DENSE:
            return range(first, last + 1)
        if self._rows is None:
            self._rows = sorted({r for r, _ in self.sheet.values} | {r for r, _ in self.owner})
        return self._rows[bisect_left(self._rows, first):bisect_right(self._rows, last)]

    def cols_before(self, r: int, stop: int):
        """Columns 0..stop-1 of row r; a wide span yields only columns holding a cell."""
        if stop < _DENSE:
            return range(0, stop)
        return sorted(c for (rr, c) in list(self.sheet.values) + list(self.owner) if rr == r and c < stop)

    def text(self, r: int, c: int) -> str:
        v = self.value(r, c)
        return "" if v is None else str(v).strip()

    def right_of(self, r: int, c: int) -> int:
        """First column right of the (possibly merged) cell at r, c."""
        top = self.owner.get((r, c), (r, c))
        span = self.span.get(top)
        return (span[3] if span else c) + 1

    def fmt(self, r: int, c: int) -> str:
        return self.sheet.formats.get(self.owner.get((r, c), (r, c)), "")

    def is_own(self, r: int, c: int) -> bool:
        """True unless the cell is a non-top-left part of a merged range."""
        return self.owner.get((r, c), (r, c)) == (r, c)


_MERGE_MAPS: dict[tuple, tuple[dict, dict]] = {}     # merge layout -> its maps; a season has a few dozen layouts


def _merge_maps(merged: tuple[tuple[int, int, int, int], ...]):
    """(cell -> top-left of its merged range, top-left -> range) for a sheet's merged ranges.

    Kept for small layouts (a template's), so returns from one template build them once.
    """
    hit = _MERGE_MAPS.get(merged)
    if hit is not None:
        return hit
    owner: dict[tuple[int, int], tuple[int, int]] = {}
    span: dict[tuple[int, int], tuple[int, int, int, int]] = {}
    for r0, c0, r1, c1 in merged:
        if (r1 - r0 + 1) * (c1 - c0 + 1) > 20000:
            continue
        span[(r0, c0)] = (r0, c0, r1, c1)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                owner[(r, c)] = (r0, c0)
    if len(owner) <= 4096:
        if len(_MERGE_MAPS) >= 64:
            _MERGE_MAPS.clear()
        _MERGE_MAPS[merged] = owner, span
    return owner, span


def read_identity(grid: Grid) -> tuple[dict[str, str] | None, str]:
    meta = grid.sheet(META_SHEET)
    if meta is None:
        return None, ""
    out: dict[str, str] = {}
    for (r, c), v in sorted(meta.values.items()):
        if c == 0 and v is not None:
            val = meta.values.get((r, 1))
            out[str(v)] = "" if val is None else (str(int(val)) if isinstance(val, float) and val.is_integer() else str(val))
    return out, meta.state


def find_year(view: _View, upto_row: int) -> int | None:
    for (r, c), v in sorted(item for item in view.sheet.values.items() if item[0][0] <= upto_row):
        if isinstance(v, str):
            m = _YEAR.search(norm(v))
            if m:
                return int(m.group(1))
    return None


def _line_formats(view: _View, r: int, cols: dict[str, int]) -> dict[str, str]:
    return {k: f for k, c in cols.items() if (f := view.fmt(r, c))}


def _indicator_lines(view: _View, vocab: Vocabulary, cols: dict[str, int], first: int, last: int,
                     declared: dict[str, float]) -> list[IndicatorLine]:
    lines: list[IndicatorLine] = []
    l1 = l2 = ""
    value_cols = [(k, c) for k, c in cols.items() if k not in ("level1", "level2")]
    level1_of: dict[str, tuple[str, float | None]] = {}     # a merged 一级 label shows on each of its rows
    for r in view.rows_between(first, last):
        t1 = view.text(r, cols["level1"]) if "level1" in cols else ""
        if t1 and norm(t1) not in vocab.na_marks:
            if t1 not in level1_of:
                level1_of[t1] = vocab.level1.get(norm_label(t1), norm_label(t1)), weight_in_label(t1)
            name1, w = level1_of[t1]
            if w is not None:
                declared[name1] = w
            if name1 != l1:
                l2 = ""
            l1 = name1
        t2 = view.text(r, cols["level2"]) if "level2" in cols else ""
        if t2:
            l2 = norm_label(t2)
            owner = vocab.level1_of_level2.get(l2)
            if not t1 and owner and owner != l1:
                l1 = owner   # the 一级 label was lost (its first row deleted): the 二级 says where we are
        vals = {k: view.value(r, c) for k, c in value_cols}
        # A 分值/得分 merged over several rows belongs to the first of them, once.
        shared = tuple(k for k in ("weight", "score") if k in cols and not view.is_own(r, cols[k])
                       and view.owner[(r, cols[k])][0] < r)
        for k in shared:
            vals[k] = None
        if all(_blank(v) for v in vals.values()):
            continue
        name = "" if vals.get("name") is None else str(vals["name"]).strip()
        others = [v for k, v in vals.items() if k not in ("name", "target_op", "target_dir", "target_unit")]
        if _PLACEHOLDER.match(norm(name) or "…") and all(_blank(v) for v in others):
            continue   # 指标1： left empty from the blank form: not an indicator
        name = _INDEX_PREFIX.sub("", name)
        direction = ""
        if any(k in vals for k in ("target_op", "target_dir", "target_unit")):
            vals["target"], direction = _join_target(vals.pop("target_op", None), vals.pop("target_dir", None),
                                                     vals.get("target"), vals.pop("target_unit", None))
        lines.append(IndicatorLine(
            level1=l1, level2=l2, name=name, direction=direction, shared=shared,
            target=vals.get("target"), actual=vals.get("actual"), weight=vals.get("weight"),
            score=vals.get("score"), reason="" if vals.get("reason") is None else str(vals.get("reason")).strip(),
            row=r + 1, cells={k: a1(r, c) for k, c in cols.items()}, formats=_line_formats(view, r, cols)))
    return lines


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _join_target(op: object, direction: object, value: object, unit: object) -> tuple[object, str]:
    """Split columns 指标性质 | 指标方向 | 指标值 | 度量单位 → one target text and the 正向/反向 word.

    ("≥", "", 90, "%") → "≥90%"; ("正向", "大于等于", 95, "%") → "≥95%"; 正向/反向 alone says
    which way is good, so it stands in for ≥/≤ only when no comparator is written; 定性 keeps the text.
    """
    op_t, dir_t = norm(op), norm(direction)
    sense = next((w for w in (op_t, dir_t) if w in _DIRECTION_WORDS), "")
    comparator = next((_COMPARATOR_WORDS[w] for w in (dir_t, op_t) if w in _COMPARATOR_WORDS), "")
    if _blank(value):
        return None, sense
    if "定性" in (op_t, dir_t):
        return value, sense
    v = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value).strip()
    if not comparator and sense:
        comparator = _DIRECTION_WORDS[sense]
    return f"{comparator}{v}{'' if _blank(unit) else str(unit).strip()}", sense


def _funds_line(view: _View, key: str, label: str, r: int, cols: dict[str, tuple[int, int]] | dict[str, int]) -> FundsLine:
    line = FundsLine(key, label)
    for ck, c in cols.items():
        col = c if isinstance(c, int) else c[1]
        row = r if isinstance(c, int) else c[0]
        line.values[ck] = view.value(row, col)
        line.cells[ck] = a1(row, col)
        if f := view.fmt(row, col):
            line.formats[ck] = f
    return line


# ---------------------------------------------------------------- by names

def locate_by_names(grid: Grid, spec: FormSpec) -> Located | None:
    refs = {k: parse_ref(v) for k, v in grid.defined_names.items()}
    refs = {k: v for k, v in refs.items() if v}
    if "ind_name" not in refs or "funds_total_spent" not in refs:
        return None
    sheet_name = refs["ind_name"][0]
    sheet = grid.sheet(sheet_name)
    if sheet is None:
        return None
    view = _View(sheet)
    vocab = spec_vocabulary(spec)
    data = FormData()
    loc = Located(form_id=spec.id, sheet=sheet_name, by="names", data=data)
    for f in spec.header_fields():
        if f.key in refs:
            _, r, c, _, _ = refs[f.key]
            data.header[f.key] = view.value(r, c)
            data.cells[f.key] = a1(r, c)
    for frow in spec.funds_rows:
        cols = {}
        for col in spec.funds_columns:
            ref = refs.get(f"funds_{frow.key}_{col.key}")
            if ref:
                cols[col.key] = (ref[1], ref[2])
        if cols:
            r = next(iter(cols.values()))[0]
            data.funds.append(_funds_line(view, frow.key, frow.label, r, cols))
            for ck in ("rate",) + (("initial_budget", "budget", "spent", "score") if frow.key == "total" else ()):
                if ck in cols:
                    loc.formula_cells[f"funds_{frow.key}_{ck}"] = a1(*cols[ck])
    for key in ("goal_planned", "goal_actual"):
        if key in refs:
            _, r, c, _, _ = refs[key]
            v = view.value(r, c)
            setattr(data, key, "" if v is None else str(v).strip())
            data.cells[key] = a1(r, c)
    cols = {}
    first = last = None
    for c in spec.indicator_columns:
        ref = refs.get(f"ind_{c.key}")
        if ref:
            cols[c.key] = ref[2]
            first, last = ref[1], ref[3]
    if first is None or "name" not in cols:
        return None
    data.indicators = _indicator_lines(view, vocab, cols, first, last, loc.declared_level1)
    for key in ("total_weight", "total_score", "grade"):
        if key in refs:
            _, r, c, _, _ = refs[key]
            data.printed[key] = view.value(r, c)
            data.cells[key] = a1(r, c)
    for key in FORMULA_NAMES:
        if key in refs:
            loc.formula_cells[key] = a1(refs[key][1], refs[key][2])
    loc.year = find_year(view, 3)
    loc.title = view.text(0, 0)
    return loc


# ---------------------------------------------------------------- by labels

@dataclass
class _Anchors:
    sheet: Sheet
    hits: dict[str, list[tuple[int, int]]]
    score: int


def _scan(sheet: Sheet, vocab: Vocabulary) -> _Anchors:
    hits: dict[str, list[tuple[int, int]]] = {}
    score = 0
    for (r, c), v in sheet.values.items():
        if not isinstance(v, str) or len(v) > 60:
            continue
        n = norm_label(v)
        if not n:
            continue
        for group, words in (("ind", vocab.indicators), ("fcol", vocab.funds_columns), ("hdr", vocab.header),
                             ("frow", vocab.funds_rows), ("narr", vocab.narratives)):
            key = match(words, _NUMBERING.sub("", n) if group == "narr" else v)
            if key:
                hits.setdefault(f"{group}:{key}", []).append((r, c))
                score += 1
        if n in vocab.total:
            hits.setdefault("total", []).append((r, c))
        if n in vocab.grade:
            hits.setdefault("grade", []).append((r, c))
        if n in vocab.goal_planned:
            hits.setdefault("goal_planned", []).append((r, c))
        if n in vocab.goal_actual:
            hits.setdefault("goal_actual", []).append((r, c))
        if n in vocab.funds_block or any(n.startswith(b) for b in vocab.funds_block):
            hits.setdefault("funds_block", []).append((r, c))
    return _Anchors(sheet, hits, score)


def spec_fit(grid: Grid, spec: FormSpec) -> tuple[int, Sheet | None]:
    """How well a grid's visible sheets show this form's own labels (exact labels count most)."""
    # Split target columns are presentation any layout may use; the 一级/二级 taxonomy is what tells
    # the 2020 framework (成本 under 产出) from the 2021 one (成本指标 a 一级 of its own).
    own = {norm(x) for x in ([spec.title, spec.funds_label, spec.goal_planned, spec.goal_actual]
                            + [f.label for f in spec.header_fields()] + [c.label for c in spec.funds_columns]
                            + [c.label for c in spec.indicator_columns if c.key not in _SPLIT_KEYS]
                            + [r.label for r in spec.funds_rows])}
    level2 = {norm_label(n) for n in spec.level2_names()}
    level1 = {norm_label(l.name) for l in spec.level1}
    best, best_sheet = 0, None
    for sheet in grid.visible_sheets():
        if sheet.name.startswith("_"):
            continue
        texts = {norm(v) for v in sheet.values.values() if isinstance(v, str) and len(v) <= 60}
        labels = {norm_label(t) for t in texts}
        s = len(own & texts) * 2 + len(level2 & labels) * 2 + len(level1 & labels)
        if any(norm(spec.title) == t or (norm(spec.title) in t and "年" in t) for t in texts):
            s += 3
        if s > best:
            best, best_sheet = s, sheet
    return best, best_sheet


_SPLIT_KEYS = ("target_op", "target_dir", "target_unit")
_NUMBERING = re.compile(r"^(?:\d+\s*[.、．]|[一二三四五六七八九十]+\s*[、.．]|[（(][一二三四五六七八九十\d]+[)）])\s*")
# A row starting with one of these closes the indicator block (notes, signatures, narratives under the grid).
_BLOCK_END = re.compile(r"^(?:注|说明|备注|填报说明|填表说明|其他需要说明|其他说明|填报人|填表人|联系人|联系电话|单位负责人|"
                        r"项目负责人|财务负责人|审核人|制表|评价结论|存在问题|改进措施|总分|合计|总计)")


def _block_end(view: _View, vocab, first: int, last: int) -> int:
    """The last row of the indicator block: before the first row that opens with a note or a closing label."""
    for r in range(first, last + 1):
        for c in range(0, 3):
            if not view.is_own(r, c):
                continue
            t = norm(view.text(r, c))
            if t:
                if _BLOCK_END.match(t) or match(vocab.narratives, t):
                    return r - 1
                break
    return last


def _indicator_columns(view: _View, hits: dict, ind_r: int) -> tuple[dict[str, int], int]:
    """Columns of the indicator block, and the last row of its (one- or two-row) header.

    Under a merged 年度指标值 the second header row splits the target into 指标性质 |
    指标方向 | 指标值 | 度量单位; then the target is the 指标值 sub-column, not the merged cell.
    """
    cols: dict[str, int] = {}
    rows: dict[str, int] = {}
    for key in ("level1", "level2", "name", "target", "actual", "weight", "score", "reason") + _SPLIT_KEYS:
        for r, c in sorted(hits.get(f"ind:{key}", [])):
            if abs(r - ind_r) <= 1 and view.is_own(r, c):
                cols[key], rows[key] = c, r
                break
    split = [rows[k] for k in _SPLIT_KEYS if k in rows]
    if split:
        sub = max(split)
        value = next(((r, c) for r, c in sorted(hits.get("ind:target", [])) if r == sub and view.is_own(r, c)), None)
        if value is not None:
            cols["target"], rows["target"] = value[1], value[0]
    return cols, max(rows.values(), default=ind_r)


def locate_by_labels(grid: Grid, spec: FormSpec, sheet: Sheet) -> Located | None:
    vocab = spec_vocabulary(spec)
    anchors = _scan(sheet, vocab)
    hits = anchors.hits
    view = _View(sheet)
    if "ind:name" not in hits:
        return None
    ind_r, _ = min(hits["ind:name"])
    cols, header_bottom = _indicator_columns(view, hits, ind_r)
    data = FormData()
    loc = Located(form_id=spec.id, sheet=sheet.name, by="labels", data=data)
    for c in range(0, min(cols.values(), default=0)):
        w = weight_in_label(view.text(ind_r, c))
        if w is not None:
            loc.indicators_weight = w      # 年度绩效目标(80分) / 绩效指标(90分) beside the header
            break

    # The indicator block runs from below its header to the 总分/合计 row.
    end = max(r for (r, _) in sheet.values) if sheet.values else ind_r
    total_row = None
    value_col = min(cols.get("weight", 99), cols.get("score", 99))
    for r, c in sorted(hits.get("total", [])):
        if r > header_bottom and (c < cols.get("name", 99) or c < value_col):
            total_row = r
            break
    last = (total_row - 1) if total_row is not None else end
    last = min(last, _block_end(view, vocab, header_bottom + 1, last))
    for r, c in sorted(hits.get("grade", [])):
        if r > ind_r:
            last = min(last, r - 1)
            break
    data.indicators = _indicator_lines(view, vocab, cols, header_bottom + 1, last, loc.declared_level1)
    if total_row is not None:
        for key, col in (("total_weight", "weight"), ("total_score", "score")):
            if col in cols:
                data.printed[key] = view.value(total_row, cols[col])
                data.cells[key] = a1(total_row, cols[col])
    for r, c in sorted(hits.get("grade", [])):
        if r > ind_r:
            vc = view.right_of(r, c)
            for cc in range(vc, vc + 10):
                if view.text(r, cc):
                    data.printed["grade"] = view.value(r, cc)
                    data.cells["grade"] = a1(r, cc)
                    break
            break

    # Header fields: the value right of each label.
    label_cells = {p for k, v in hits.items() if k.startswith("hdr:") for p in v}
    for f in spec.header_fields():
        for r, c in sorted(hits.get(f"hdr:{f.key}", [])):
            if r >= ind_r:
                continue
            vc = view.right_of(r, c)
            data.cells[f.key] = a1(r, vc)
            value = None
            for cc in range(vc, vc + 12):
                if (r, cc) in label_cells or (r, view.owner.get((r, cc), (r, cc))[1]) in label_cells:
                    break
                if view.text(r, cc):
                    value, data.cells[f.key] = view.value(r, cc), a1(r, cc)
                    break
            data.header[f.key] = value
            break

    # Funds block: the header row holding 全年执行数, rows labelled below it.
    spent_hits = [p for p in sorted(hits.get("fcol:spent", [])) if p[0] < ind_r]
    if spent_hits:
        fr, _ = spent_hits[0]
        fcols: dict[str, int] = {}
        for key in ("initial_budget", "budget", "spent", "weight", "rate", "score", "reason"):
            for r, c in sorted(hits.get(f"fcol:{key}", [])):
                if r == fr and view.is_own(r, c):
                    fcols[key] = c
                    break
        first_col = min(fcols.values())
        funds_end = ind_r
        for br, bc in hits.get("funds_block", []):
            span = view.span.get((br, bc))
            if br <= fr <= (span[2] if span else br) and bc < first_col and span and span[2] > fr:
                funds_end = min(funds_end, span[2] + 1)   # rows under a merged 资金 label belong to it, no further
        for r in view.rows_between(fr + 1, funds_end - 1):
            label_key, label = None, ""
            for c in view.cols_before(r, first_col):
                t = view.text(r, c)
                if not t or not view.is_own(r, c):
                    continue
                k = match(vocab.funds_rows, t)
                if k:
                    label_key, label = k, t
                    break
                if norm_label(t) not in vocab.funds_block and not any(norm_label(t).startswith(b) for b in vocab.funds_block):
                    label = t
            if norm_label(label) in vocab.goal_planned | vocab.goal_actual or any(
                    p[0] == r for p in hits.get("goal_planned", []) + hits.get("goal_actual", [])):
                break
            has_numbers = any(view.value(r, c) is not None for c in fcols.values())
            if label_key is None and not (label and has_numbers):
                if label and not has_numbers:
                    continue
                if not label:
                    continue
            key = label_key or f"row{r + 1}"
            if data.funds_line(key):
                key = f"{key}{r + 1}"
            data.funds.append(_funds_line(view, key, label, r, fcols))
        if data.funds and data.funds[0].key != "total":
            total = data.funds_line("total")
            if total:
                data.funds.remove(total)
                data.funds.insert(0, total)
        fb = [p for p in hits.get("funds_block", []) if p[0] <= fr + len(data.funds)]
        loc.funds_label = view.text(*fb[0]) if fb else ""

    # Goal texts: below their labels (official layout) or else to the right.
    for key, hk in (("goal_planned", "goal_planned"), ("goal_actual", "goal_actual")):
        for r, c in sorted(hits.get(hk, [])):
            if r >= ind_r:
                continue
            labels = vocab.goal_actual | vocab.goal_planned
            below_is_text_cell = view.owner.get((r + 1, c), (r + 1, c)) == (r + 1, c)
            if below_is_text_cell and r + 1 < ind_r:      # official layout: the text sits under its label
                below = view.text(r + 1, c)
                setattr(data, key, "" if norm_label(below) in labels else below)
                data.cells[key] = a1(r + 1, c)
            else:                                        # otherwise to the right of the label
                vc = view.right_of(r, c)
                right = view.text(r, vc)
                setattr(data, key, "" if norm_label(right) in labels else right)
                data.cells[key] = a1(r, vc)
            break
    _narratives(view, hits, data)
    loc.year = find_year(view, ind_r)
    loc.title = next((view.text(r, c) for (r, c) in sorted(sheet.values) if view.text(r, c)), "")
    return loc


def _narratives(view: _View, hits: dict, data: FormData) -> None:
    """评价结论, 存在问题, …: the text right of the label (merged across the row), else the cell below."""
    labels = {p for k, v in hits.items() if k.startswith("narr:") for p in v}
    for key in sorted(k for k in hits if k.startswith("narr:")):
        r, c = sorted(hits[key])[0]
        vc = view.right_of(r, c)
        where = (r, vc)
        width = max((cc for (_, cc) in view.sheet.values), default=0)
        if vc > width and (r + 1, c) not in labels:   # the label fills its row: the text is underneath
            where = view.owner.get((r + 1, c), (r + 1, c))
        data.narratives[key[5:]] = view.text(*where)
        data.cells[f"narrative_{key[5:]}"] = a1(*where)


def locate(grid: Grid, specs: list[FormSpec], form_hint: str | None = None) -> Located | None:
    """Recognise the form variant and extract its content; None if no form is found."""
    loc = _locate(grid, specs, form_hint)
    if loc is not None:
        sheet = grid.sheet(loc.sheet)
        if sheet is not None:
            # Files written by scripts (openpyxl) keep formulas but no computed values.
            loc.uncomputed = {a1(r, c) for (r, c) in sheet.formulas if sheet.values.get((r, c)) is None}
    return loc


def _locate(grid: Grid, specs: list[FormSpec], form_hint: str | None = None) -> Located | None:
    identity, state = read_identity(grid)
    order = list(specs)
    hint = (identity or {}).get("form_id") or form_hint
    if hint:
        order.sort(key=lambda s: s.id != hint)
    def ranked():
        # On a tie the national form wins: a layout that fits several definitions equally is judged by the general one.
        return sorted(((spec_fit(grid, s), i, s) for i, s in enumerate(order)),
                      key=lambda t: (-t[0][0], t[1] if hint else (t[2].id != "project", t[1])))

    if "ind_name" in grid.defined_names:   # our own template: its names are exact, even if `_xlperf` is gone
        by_id = [s for s in order if identity and s.id == identity.get("form_id")]
        for spec in by_id or [s for _, _, s in ranked()]:
            loc = locate_by_names(grid, spec)
            if loc:
                loc.identity, loc.identity_state = identity, state
                if (identity or {}).get("year", "").isdigit():
                    loc.year = loc.year or int(identity["year"])
                return loc
    for (fit, sheet), _, spec in ranked():
        if sheet is None or fit < 6:
            continue
        loc = locate_by_labels(grid, spec, sheet)
        if loc and (loc.data.indicators or loc.data.funds):
            loc.identity, loc.identity_state = identity, state
            return loc
    return None
