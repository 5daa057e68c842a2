"""Parse what counties write in 年度指标值 / 实际完成值 and in numeric cells.

Real forms write "≧２0次", "不低于4次", "＜60分钟", "≥ 万人", "3359.62万",
"14,531", "95%" or 0.95 with a percent format. Every parser here returns the
parts it understood plus Chinese warnings, keeps the raw text, and never
raises: the validator decides what a missing part means.
"""
from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from dataclasses import dataclass

NA_MARKS = frozenset({"—", "——", "一", "-", "－", "/", "／", "*", "无", "–", "―", "－－", "--", "\\"})

# Word comparators, longest first so 大于等于 wins over 大于.
_PREFIX_WORDS: tuple[tuple[str, str], ...] = (
    ("大于或等于", ">="), ("大于等于", ">="), ("不低于", ">="), ("不少于", ">="), ("不小于", ">="), ("至少", ">="),
    ("达到", ">="), ("小于或等于", "<="), ("小于等于", "<="), ("不高于", "<="), ("不超过", "<="), ("不大于", "<="),
    ("不多于", "<="), ("控制在", "<="), ("最多", "<="), ("超过", ">"), ("高于", ">"), ("大于", ">"), ("多于", ">"),
    ("低于", "<"), ("小于", "<"), ("不满", "<"), ("少于", "<"), ("等于", "="), ("约", "~"),
)
_SUFFIX_WORDS: tuple[tuple[str, str], ...] = (
    ("及以上", ">="), ("以上", ">="), ("及以下", "<="), ("以下", "<="), ("以内", "<="), ("左右", "~"),
)
_SYMBOLS: tuple[tuple[str, str], ...] = (
    (">=", ">="), ("=>", ">="), ("≥", ">="), ("≧", ">="), ("⩾", ">="), ("<=", "<="), ("=<", "<="), ("≤", "<="),
    ("≦", "<="), ("⩽", "<="), (">", ">"), ("<", "<"), ("=", "="), ("═", "="), ("≈", "~"), ("~", "~"), ("约", "~"),
)
_LEADING_NOISE = ("计划", "目标", "预计", "全年", "年度", "实际", "完成")
# A full stop or comma typed after the value ("≥95%。") is not part of it.
_TRAILING_PUNCT = "。.,，;；、"
# "次/年", "人次/月": a count per period keeps its period in the unit.
_PER = ("年", "月", "季度", "周", "日", "天", "人", "户", "次")

# Units, longest first. Value is the normalised unit.
_UNITS: tuple[tuple[str, str], ...] = tuple(sorted({
    "%": "%", "百分比": "%", "百分点": "%", "分钟": "分钟", "小时": "小时", "分": "分", "天": "天", "日": "天",
    "个工作日": "天", "工作日": "天", "月份": "月份", "个月": "月", "月": "月", "年": "年", "次": "次", "人次": "人次",
    "万人次": "万人次", "场": "场", "篇": "篇", "个": "个", "家": "家", "人": "人", "万人": "万人", "例": "例", "种": "种",
    "项": "项", "元": "元", "元/人": "元/人", "元/人·年": "元/人", "万元": "万元", "亿元": "亿元", "户": "户", "所": "所",
    "件": "件", "批": "批", "期": "期", "份": "份", "条": "条", "台": "台", "套": "套", "名": "人", "位": "人",
    "万": "万", "亿": "亿", "分/人": "分/人", "床": "张", "张": "张", "篇次": "篇次", "轮": "轮", "类": "类",
}.items(), key=lambda kv: -len(kv[0])))

# Deadlines: 9月前, 11月底前, 12月31日前, ≤4月份, 2024年7月, 10月中旬. A month alone as a target means its
# last day ("9月前" is met by anything done in September or earlier), as an actual its first.
_DATE = re.compile(r"^(?:\d{4}年)?(\d{1,2})月份?(?:(\d{1,2})[日号]|(底|末|上旬|中旬|下旬))?"
                   r"(底前|之前|以前|前|以内|内)?(?:完成|完工|到位|办结|验收|拨付|发放)?$")
_PART_OF_MONTH = {"上旬": 10, "中旬": 20, "下旬": 31, "底": 31, "末": 31}
DATE_UNIT = "日期"

_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Value:
    raw: str
    comparator: str | None
    number: float | None
    unit: str | None
    kind: str                       # quantitative | qualitative | empty | na
    warnings: tuple[str, ...] = ()

    @property
    def direction(self) -> str | None:
        return {">=": "positive", ">": "positive", "<=": "negative", "<": "negative",
                "=": "equal", "~": "equal"}.get(self.comparator or "")


@dataclass(frozen=True)
class Amount:
    value: float | None
    na: bool
    raw: str
    warnings: tuple[str, ...] = ()


def normalize_text(s: object) -> str:
    """NFKC and no whitespace at all: for comparing labels and values."""
    if s is None:
        return ""
    return _SPACE.sub("", unicodedata.normalize("NFKC", str(s)))


_NA_NORMALIZED = frozenset(normalize_text(m) for m in NA_MARKS)


def _raw(raw: object) -> str:
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def is_na(raw: object) -> bool:
    return isinstance(raw, str) and normalize_text(raw) in _NA_NORMALIZED


def _to_float(s: str) -> float | None:
    """A finite float or None: 400 typed digits must not become inf."""
    try:
        x = float(s.replace(",", ""))
    except (ValueError, OverflowError):
        return None
    return x if math.isfinite(x) else None


def _cell_float(raw: int | float) -> float | None:
    """A numeric cell as a finite float, or None (nan, inf, an int too large for a float)."""
    try:
        x = float(raw)
    except OverflowError:
        return None
    return x if math.isfinite(x) else None


def _strip_comparator(s: str) -> tuple[str | None, str]:
    for noise in _LEADING_NOISE:
        if s.startswith(noise) and len(s) > len(noise):
            rest = s[len(noise):]
            if rest[:1] in "<>=≥≤≧≦~" or any(rest.startswith(w) for w, _ in _PREFIX_WORDS):
                s = rest
                break
    for sym, norm in _SYMBOLS:
        if s.startswith(sym):
            return norm, s[len(sym):]
    for word, norm in _PREFIX_WORDS:
        if s.startswith(word):
            return norm, s[len(word):]
    return None, s


def _split_unit(rest: str) -> tuple[str | None, str]:
    for word, norm in _UNITS:
        if rest.startswith(word):
            return norm, rest[len(word):]
    return None, rest


def parse_value(raw: object, *, percent_format: bool = False) -> Value:
    """Split a target or actual into comparator, number and unit (see domain §6)."""
    if type(raw) is str:        # a season repeats the same texts; equal text, equal (frozen) Value
        return _parse_text_value(raw, percent_format)
    if type(raw) is float and raw:     # and the same numbers (0.0 and -0.0 are equal but print apart: not kept)
        return _parse_float_value(raw, percent_format)
    return _parse_any_value(raw, percent_format)


@functools.lru_cache(maxsize=65_536)
def _parse_text_value(raw: str, percent_format: bool) -> Value:
    return _parse_any_value(raw, percent_format)


@functools.lru_cache(maxsize=65_536)
def _parse_float_value(raw: float, percent_format: bool) -> Value:
    return _parse_any_value(raw, percent_format)


def _parse_any_value(raw: object, percent_format: bool) -> Value:
    text = _raw(raw)
    try:
        return _parse_value(raw, text, percent_format)
    except Exception:  # pragma: no cover - the contract is "never raises"
        return Value(text, None, None, None, "qualitative", ("无法解析该值",))


def _parse_value(raw: object, text: str, percent_format: bool) -> Value:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Value(text, None, None, None, "empty")
    if isinstance(raw, bool):
        return Value(text, None, None, None, "qualitative", ("逻辑值不是指标值",))
    if isinstance(raw, (int, float)):
        x = _cell_float(raw)
        if x is None or (percent_format and not math.isfinite(x * 100)):
            return Value(text, None, None, None, "qualitative", ("不是有效数字",))
        if percent_format:
            return Value(text, None, round(x * 100, 10), "%", "quantitative")
        return Value(text, None, x, None, "quantitative")
    if isinstance(raw, (dt.date, dt.datetime)):
        return Value(text, None, None, None, "qualitative", ("日期值",))
    if is_na(text):
        return Value(text, None, None, None, "na")
    s = normalize_text(text).replace("％", "%").rstrip(_TRAILING_PUNCT)
    comparator, rest = _strip_comparator(s)
    # A suffix comparator: 99%以上, 60分钟以内, 4次左右; also the redundant one of
    # 控制在60分钟以内 or ≥99%以上, which agrees with the prefix and says nothing new.
    for word, norm in _SUFFIX_WORDS:
        if rest.endswith(word) and comparator in (None, norm):
            comparator, rest = norm, rest[: -len(word)]
            break
    d = _DATE.match(rest)
    if d and 1 <= int(d.group(1)) <= 12:
        return _date_value(text, comparator, d)
    m = _NUMBER.match(rest)
    warnings: list[str] = []
    if not m:
        unit, tail = _split_unit(rest)
        if comparator and unit and not tail:
            return Value(text, comparator, None, unit, "quantitative", ("缺少数值",))
        if comparator and not rest:
            return Value(text, comparator, None, None, "quantitative", ("缺少数值",))
        if comparator:
            return Value(text, comparator, None, None, "qualitative", ("比较符后不是数值",))
        return Value(text, None, None, None, "qualitative")
    number = _to_float(m.group(0))
    if number is None:
        return Value(text, comparator, None, None, "qualitative", ("不是有效数字",))
    tail = rest[m.end():]
    unit, after = _split_unit(tail)
    if unit in ("万", "亿") and after.startswith(("人次", "人", "元")):
        more, after = _split_unit(after)
        unit = {"人次": "万人次", "人": "万人", "元": "万元"}.get(more or "", unit) if unit == "万" else "亿元"
    if unit and "/" not in unit and after.startswith("/"):
        per = next((p for p in _PER if after[1:] == p), None)
        if per:
            unit, after = f"{unit}/{per}", ""
    if after:
        # "2023年目标要求", "5场发布会+1场通气会": the number is part of prose.
        if unit in ("年",) or len(after) > 4 or re.search(r"\d", after):
            return Value(text, comparator, None, None, "qualitative", ("数值后还有其他文字，按定性处理",))
        warnings.append(f"数值后的“{after}”未能识别")
    if unit is None and not tail and isinstance(raw, str) and percent_format:
        unit = "%"
    return Value(text, comparator, number, unit, "quantitative", tuple(warnings))


def _date_value(text: str, comparator: str | None, d: re.Match) -> Value:
    """A month (and day) as month + day/100, so 10月 < 11月底 (11.31) < 12月1日 (12.01)."""
    if d.group(4) and comparator is None:
        comparator = "<="
    day = int(d.group(2)) if d.group(2) else _PART_OF_MONTH.get(d.group(3) or "", 0)
    if not day and comparator in ("<=", "<"):
        day = 31                      # "≤4月份", "9月前": by the end of that month
    if not 0 <= day <= 31:
        return Value(text, comparator, None, None, "qualitative", ("日期无效",))
    return Value(text, comparator, int(d.group(1)) + day / 100, DATE_UNIT, "quantitative")


def parse_amount(raw: object) -> Amount:
    """A money or score cell: 3,359.62 / "3359.62万" / "3359.62万元" / full-width digits."""
    if type(raw) is str:
        return _parse_text_amount(raw)
    if type(raw) is float and raw:     # see parse_value
        return _parse_float_amount(raw)
    return _parse_any_amount(raw)


@functools.lru_cache(maxsize=65_536)
def _parse_text_amount(raw: str) -> Amount:
    return _parse_any_amount(raw)


@functools.lru_cache(maxsize=65_536)
def _parse_float_amount(raw: float) -> Amount:
    return _parse_any_amount(raw)


def _parse_any_amount(raw: object) -> Amount:
    text = _raw(raw)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Amount(None, False, text)
    if isinstance(raw, bool):
        return Amount(None, False, text, ("不是数字",))
    if isinstance(raw, (int, float)):
        x = _cell_float(raw)
        if x is None:
            return Amount(None, False, text, ("不是数字",))
        return Amount(x, False, text)
    if not isinstance(raw, str):
        return Amount(None, False, text, ("不是数字",))
    if is_na(raw):
        return Amount(None, True, text)
    s = normalize_text(raw).replace("％", "%")
    for suffix in ("万元", "万", "元", "分"):
        if s.endswith(suffix):
            s = s[: -len(suffix)]
            break
    if s.startswith(("¥", "￥")):
        s = s[1:]
    x = _to_float(s) if _NUMBER.fullmatch(s) else None
    if x is not None:
        return Amount(x, False, text)
    return Amount(None, False, text, ("不是数字",))


def parse_rate(raw: object, *, percent_format: bool = False) -> Amount:
    """An 执行率 cell as a fraction: "81.80%" → 0.818; 0.818 → 0.818.

    A bare number above 1.5 without a percent format is taken as percent points
    (a county typing 81.8 means 81.8 %); a real rate above 150 % is rare and is
    flagged by the validator anyway.
    """
    text = _raw(raw)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Amount(None, False, text)
    if isinstance(raw, str) and is_na(raw):
        return Amount(None, True, text)
    x: float | None = None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        x = _cell_float(raw)
        if x is not None and percent_format:
            return Amount(x, False, text)
    elif isinstance(raw, str):
        s = normalize_text(raw).replace("％", "%")
        if s.endswith("%"):
            x = _to_float(s[:-1]) if _NUMBER.fullmatch(s[:-1]) else None
            return Amount(None if x is None else x / 100, False, text, () if x is not None else ("不是数字",))
        x = _to_float(s) if _NUMBER.fullmatch(s) else None
    if x is None:
        return Amount(None, False, text, ("不是数字",))
    if x <= 1.5:
        return Amount(x, False, text)
    return Amount(x / 100, False, text, ("执行率按百分数理解",))


_MET = ("达成", "完成", "实现", "符合", "提升", "提高", "明显", "全覆盖", "及时", "到位", "有效", "规范", "健全", "落实", "满意")
_PARTIAL = ("部分", "基本", "不完全", "有待")
_NOT = ("未", "没有", "没能", "无法", "不能", "滞后", "较差", "偏低", "不到位", "不符合", "不达标", "无效")
# A met word negated in place: 不满意, 不及时, 效果不明显, 不够规范 (but 不断提升 stays met).
_NEGATED_MET = re.compile("(?:不够|不太|不)(?:" + "|".join(_MET) + ")")


# "未发生重大安全事故", "无投诉", "零差错": the absence of something bad is the target met,
# although it is written with 未/无/没有.
_ABSENCE = re.compile(
    "(?:未发生|未出现|未收到|未接到|未造成|未引发|未发现|没有发生|没有出现|无(?!法)|零(?!星))"
    "[^,.;:!?。，；：！？]{0,8}?"
    "(?:事故|投诉|违规|违纪|违法|差错|纠纷|事件|信访|上访|举报|案件|舆情|损失|挪用|截留|滞留|安全隐患|不良反应)")


def classify_qualitative(target: str, actual: str) -> int | None:
    """Band of a qualitative actual: 0 达成, 1 部分达成, 2 未达成, None unknown (§3.3)."""
    t, a = normalize_text(target), normalize_text(actual)
    if a and _ABSENCE.search(a):
        rest = _ABSENCE.sub("", a)
        band = classify_qualitative(t, rest) if rest else None
        return 0 if band is None else band
    if not a:
        return None
    if a.startswith("未达成") or a.startswith("未达到"):
        return 2
    if a.startswith("部分达成"):
        return 1
    if a.startswith(("达成年度指标", "达成预期指标")):
        return 0
    if t and a == t:
        return 0
    if any(w in a for w in _PARTIAL):
        return 1
    if any(w in a.replace("未来", "") for w in _NOT) or _NEGATED_MET.search(a):
        return 2
    if any(w in a for w in _MET):
        return 0
    return None
