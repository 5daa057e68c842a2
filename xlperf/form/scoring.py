"""The official scoring rules (domain §3) as plain functions.

The engine *suggests* a score per row; counties may judge differently (real
forms round down or score by band), so a typed score that differs is a
finding for a person to look at, never a rejection.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal
from typing import Sequence

from .values import DATE_UNIT, Value, classify_qualitative


@dataclass(frozen=True)
class QualBand:
    name: str
    low: float            # fraction of the weight, inclusive
    high: float           # fraction of the weight
    high_inclusive: bool = False


DEFAULT_QUAL_BANDS: tuple[QualBand, ...] = (
    QualBand("达成年度指标", 0.8, 1.0, True),
    QualBand("部分达成年度指标并具有一定效果", 0.6, 0.8, False),
    QualBand("未达成年度指标且效果较差", 0.0, 0.6, False),
)


@dataclass(frozen=True)
class Grade:
    name: str
    min: float
    min_inclusive: bool = True


@dataclass(frozen=True)
class ScoringRules:
    budget_score: str = "proportional"        # or "proportional_floor_int"
    reverse_formula: str = "ratio"            # ratio: 指标值 ÷ 实际值 × 分值 (printed on provincial forms); or "g1"
    overachieve_ratio: float = 1.2
    deviation_tolerance: float = 0.5
    low_execution_rate: float = 0.9
    qualitative_bands: tuple[QualBand, ...] = DEFAULT_QUAL_BANDS


# Enough digits for any finite float written out in full (the default 28 raises above 1e26).
_WIDE = Context(prec=400)


def round2(x: float) -> float:
    """Round half up to 2 decimals, as Excel's ROUND does (not banker's rounding).

    nan and ±inf come back unchanged; they are never a score the user typed.
    """
    if not math.isfinite(x):
        return x
    return float(Decimal(repr(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP, context=_WIDE))


def _points(x: float, w: float) -> float:
    """A suggested score: 2 decimals, never below 0 and never above the weight."""
    return min(round2(max(x, 0.0)), max(w, 0.0))


def budget_score(weight: float, rate: float | None, rules: ScoringRules) -> float | None:
    """分值 × min(执行率, 100 %), with decimal arithmetic and half-up rounding (四舍五入).

    The rate is first rounded to the 0.01 % a reader sees (67.2475 % shows as
    67.25 %), then multiplied: 10 × 67.25 % = 6.73, as the template's own
    formula computes it. None without a usable rate.
    """
    if rate is None or not math.isfinite(rate) or not math.isfinite(weight) or weight < 0:
        return None
    shown = Decimal(repr(min(max(rate, 0.0), 1.0))).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP, context=_WIDE)
    raw = Decimal(repr(float(weight))) * shown
    if rules.budget_score == "proportional_floor_int":
        return float(raw.quantize(Decimal("1"), rounding=ROUND_DOWN, context=_WIDE))
    return float(raw.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP, context=_WIDE))


@dataclass(frozen=True)
class Suggestion:
    score: float | None
    low: float | None = None
    high: float | None = None
    high_inclusive: bool = True
    kind: str = "unknown"       # positive | negative | equal | qualitative | unknown
    band: int | None = None
    overachieved: bool = False
    note: str = ""


# A unit written with 万/亿 is its base unit times a factor: "11万人次" against "≥50000人次" is 110000.
# A bare "万" is the cell's own 万-unit ("3359.62万" under 万元), so it scales like 万元 and 万人.
_SCALED: dict[str | None, tuple[str | None, float]] = {
    "万": (None, 1e4), "亿": (None, 1e8), "万人": ("人", 1e4), "万人次": ("人次", 1e4),
    "万元": ("元", 1e4), "亿元": ("元", 1e8), "月份": ("月", 1.0),
}
_COMPATIBLE = {frozenset({"人", "人次"})}
_PERIODS = ("/年", "/月", "/季度", "/周", "/日", "/天")


def _base(unit: str | None) -> tuple[str | None, float]:
    """The unit without 万/亿 and without a per-period ("次/年" is counted in 次)."""
    base, factor = _SCALED.get(unit, (unit, 1.0))
    if base and base.endswith(_PERIODS):
        base = base[: base.index("/")]
    return base, factor


def _units_comparable(t: str | None, a: str | None, t_raw: str | None, a_raw: str | None) -> bool:
    """Compare base units; "%" against no unit is fine (a county types 100 for 100 %),
    万人 or 万 against % is not."""
    if "%" in (t_raw, a_raw) and {t_raw, a_raw} - {"%", None}:
        return False
    return t == a or t is None or a is None or frozenset({t, a}) in _COMPATIBLE


def _bound_undecided(direction: str, t: float, actual: Value, a: float) -> bool:
    """An actual written as a bound that opens away from the target ("＞50分钟" for "≤60分钟")
    says nothing about whether the target was met; one that lies inside the target does."""
    lower_is_better = direction == "negative" or (direction == "equal" and t == 0)
    if actual.comparator in (">=", ">"):      # the real value may be higher than a
        return lower_is_better and a <= t
    if actual.comparator in ("<=", "<"):      # the real value may be lower than a
        return not lower_is_better and a >= t
    return False


def _fmt(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


_SUGGESTED: dict[tuple, Suggestion] = {}


def suggest_score(weight: float, target: Value, actual: Value, rules: ScoringRules) -> Suggestion:
    """Suggested points for one indicator row (§3.2, §3.3); None where a person must judge.

    Pure, and a season repeats the same rows, so results are kept by their inputs
    (the weight's type and repr too, so 10 and 10.0, 0.0 and -0.0 stay apart).
    """
    try:
        key = (type(weight), repr(weight), target, actual, rules)
        hit = _SUGGESTED.get(key)
    except TypeError:           # an unhashable input: just compute
        return _suggest_score(weight, target, actual, rules)
    if hit is None:
        if len(_SUGGESTED) >= 65_536:
            _SUGGESTED.clear()
        hit = _SUGGESTED[key] = _suggest_score(weight, target, actual, rules)
    return hit


def _suggest_score(weight: float, target: Value, actual: Value, rules: ScoringRules) -> Suggestion:
    w = float(weight or 0.0)
    if not math.isfinite(w) or w < 0:
        return Suggestion(None, kind="unknown", note="分值不是有效数字")
    quant = (target.kind == "quantitative" and target.number is not None
             and actual.kind == "quantitative" and actual.number is not None)
    (t_base, t_factor), (a_base, a_factor) = _base(target.unit), _base(actual.unit)
    if target.unit is None or actual.unit is None:
        t_factor = a_factor = 1.0     # a bare number is in the other side's unit: "≤90万元" → "90"
    if quant and not _units_comparable(t_base, a_base, target.unit, actual.unit):
        return Suggestion(None, kind="unknown", note="单位不一致，无法计算")
    if not quant:
        if target.kind in ("empty", "na") or actual.kind in ("empty", "na"):
            return Suggestion(None, kind="unknown", note="缺少年度指标值或实际完成值")
        if target.kind == "quantitative" and target.number is not None and actual.kind == "qualitative":
            pass  # fall through to the qualitative reading of the actual
        band = classify_qualitative(target.raw, actual.raw)
        if band is None or band >= len(rules.qualitative_bands):
            return Suggestion(None, kind="unknown", note="无法判断完成档次")
        b = rules.qualitative_bands[band]
        return Suggestion(None, low=_points(w * b.low, w), high=_points(w * b.high, w), high_inclusive=b.high_inclusive,
                          kind="qualitative", band=band, note=f"定性指标：{b.name}，分值的{b.low:.0%}–{b.high:.0%}")
    t = float(target.number) * t_factor  # type: ignore[arg-type]
    a = max(float(actual.number) * a_factor, 0.0)  # type: ignore[arg-type]
    if not (math.isfinite(t) and math.isfinite(a)):
        return Suggestion(None, kind="unknown", note="数值过大，无法计算")
    direction = target.direction or "positive"
    if target.unit == DATE_UNIT and actual.unit == DATE_UNIT:
        return _deadline(w, target, actual, t, a)
    prefix = ""
    if (target.unit == "%" and actual.unit is None and direction in ("positive", "equal")
            and 0 < a <= 1 and t >= 10):
        # "0.95" typed as text against "≥90%": a fraction, not 0.95 %.
        a, prefix = a * 100, f"实际值 {_fmt(a)} 按小数理解为 {_fmt(a * 100)}%；"
    if _bound_undecided(direction, t, actual, a):
        return Suggestion(None, kind="unknown", note="实际完成值写成范围，无法判断是否达到目标")
    # An actual written as a bound inside the target ("＜60分钟" for "≤60分钟") counts as its bound value.
    if direction == "positive":
        score = w if (a >= t or t == 0) else w * a / t
        over = t > 0 and a >= rules.overachieve_ratio * t
        note = f"正向指标：实际 {_fmt(a)} ÷ 目标 {_fmt(t)} × 分值 {_fmt(w)}" if a < t else "正向指标：已完成目标"
        return Suggestion(_points(score, w), kind="positive", overachieved=over, note=prefix + note)
    if direction == "negative":
        if a <= t:
            return Suggestion(_points(w, w), kind="negative", note="反向指标：未超过目标值")
        if rules.reverse_formula == "ratio":
            score = w * t / a if a else w
            note = f"反向指标：目标 {_fmt(t)} ÷ 实际 {_fmt(a)} × 分值 {_fmt(w)}"
        else:
            score = 0.0 if (t <= 0 or a >= 2 * t) else w * (1 - (a - t) / t)
            note = f"反向指标：超出目标 {_fmt(a - t)}，按超出比例扣分"
        return Suggestion(_points(score, w), kind="negative", note=note)
    # equal
    if t == 0:
        return Suggestion(_points(w if a <= 0 else 0.0, w), kind="equal", note="等于指标：目标为0")
    score = w if a >= t else w * a / t
    return Suggestion(_points(score, w), kind="equal", overachieved=t > 0 and a >= rules.overachieve_ratio * t,
                      note=f"{prefix}等于指标：实际 {_fmt(a)}，目标 {_fmt(t)}")


def _deadline(w: float, target: Value, actual: Value, t: float, a: float) -> Suggestion:
    """A 时效 target written as a date ("9月前", "12月31日前"): done by then is full marks;
    late is for a person to judge (how late, and why), so no number is suggested."""
    if target.comparator in ("<=", "<", None, "=", "~") and (a <= t or (target.comparator == "<" and a < t)):
        return Suggestion(_points(w, w), kind="deadline", note=f"时效指标：{actual.raw}完成，未超过{target.raw}")
    if target.comparator in (">=", ">"):
        return Suggestion(None, kind="unknown", note="时间指标方向不明，请人工判断")
    return Suggestion(None, kind="deadline", note=f"时效指标：{actual.raw}完成，晚于{target.raw}，请按延误情况评分")


def grade_for(total: float | None, grades: Sequence[Grade]) -> str | None:
    """The first band (highest first) whose lower bound the total meets; None below all of them.

    Callers pass the total rounded as displayed (validate.py uses round2), so 89.996
    shown as 90.00 grades 优, never a grade that contradicts the number on screen.
    """
    if total is None or total != total or not grades:
        return None
    for g in grades:
        if total > g.min or (g.min_inclusive and total == g.min):
            return g.name
    return None
