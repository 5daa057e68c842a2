"""Suggested scores, budget points and grades against the worked examples of domain §3.8."""
from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from xlperf.form.scoring import Grade, ScoringRules, budget_score, grade_for, round2, suggest_score
from xlperf.form.values import Value, parse_value

G1, RATIO = ScoringRules(reverse_formula="g1"), ScoringRules(reverse_formula="ratio")
FLOOR = ScoringRules(budget_score="proportional_floor_int")
NATIONAL = (Grade("优", 90), Grade("良", 80), Grade("中", 60), Grade("差", 0))
COUNTY = (Grade("优秀", 90, min_inclusive=False), Grade("良好", 80), Grade("较差", 60), Grade("差", 0))


def suggest(weight: float, target: str, actual: str, rules: ScoringRules = G1):
    return suggest_score(weight, parse_value(target), parse_value(actual), rules)


# --- §3.8 worked examples --------------------------------------------------------------------------
@pytest.mark.parametrize("weight, target, actual, g1, ratio", [
    pytest.param(2, "100%", "97.30%", 1.95, 1.95, id="positive-not-met-vaccination"),
    pytest.param(7, "≥40%", "40%", 7, 7, id="positive-met-exactly"),
    pytest.param(3, "≥10%", "49.95%", 3, 3, id="positive-overachieved"),
    pytest.param(5, "≤60分钟", "30分钟", 5, 5, id="reverse-met"),
    pytest.param(5, "≤60分钟", "90分钟", 2.5, 3.33, id="reverse-1.5x-target"),
    pytest.param(5, "≤60分钟", "120分钟", 0, 2.5, id="reverse-2x-target"),
    pytest.param(5, "≤60分钟", "＜60分钟", 5, 5, id="reverse-bound-as-actual"),
    pytest.param(4, "=0", "0", 4, 4, id="equal-zero-met"),
    pytest.param(4, "=0", "1", 0, 0, id="equal-zero-missed"),
])
@pytest.mark.parametrize("formula", ["g1", "ratio"])
def test_worked_example(weight, target, actual, g1, ratio, formula):
    rules = G1 if formula == "g1" else RATIO
    assert suggest(weight, target, actual, rules).score == (g1 if formula == "g1" else ratio)


def test_overachieved__flagged_from_1_2_times_the_target():
    assert suggest(3, "≥10%", "49.95%").overachieved
    assert suggest(3, "≥10%", "12%").overachieved
    assert not suggest(3, "≥10%", "11.99%").overachieved


def test_equal_with_negative_target__is_never_overachieved():
    assert not suggest(4, "=-5", "3").overachieved


def test_qualitative_band_2__suggests_a_range_not_a_score():
    s = suggest(10, "有所提升", "部分达成年度指标并具有一定效果")
    assert (s.score, s.kind, s.band, s.low, s.high, s.high_inclusive) == (None, "qualitative", 1, 6, 8, False)


def test_qualitative_met__range_up_to_the_full_weight():
    s = suggest(10, "有所提升", "有所提升")
    assert (s.band, s.low, s.high, s.high_inclusive) == (0, 8, 10, True)


@pytest.mark.parametrize("target, actual, note", [
    pytest.param("≥20篇", "57次", "单位不一致", id="unit-changes"),
    pytest.param("≥90%", "—", "缺少", id="actual-na"),
    pytest.param("≥ 万人", "101.07%", "无法判断", id="target-without-number"),
])
def test_no_suggestion_when_the_row_cannot_be_computed(target, actual, note):
    s = suggest(5, target, actual)
    assert s.score is None and s.low is None and note in s.note


# --- §3.5 budget execution -------------------------------------------------------------------------
@pytest.mark.parametrize("rate, rules, score", [
    pytest.param(0.6725, G1, 6.73, id="yunnan-67.25pct-half-up"),
    pytest.param(65.07 / 65.66, G1, 9.91, id="jishan-99.1pct"),
    pytest.param(65.07 / 65.66, FLOOR, 9, id="jishan-floor-int"),
    pytest.param(1.0, G1, 10, id="full"),
    pytest.param(1.2, G1, 10, id="over-100pct-capped"),
    pytest.param(-0.1, G1, 0, id="negative-rate"),
    pytest.param(0.7, FLOOR, 7, id="floor-int-exact"),
])
def test_budget_score(rate, rules, score):
    assert budget_score(10, rate, rules) == score


def test_budget_score_floor_int__agrees_with_spreadsheet_rounddown():
    # 100 × 0.57 is 56.99999999999999 in binary; Excel and LibreOffice ROUNDDOWN give 57.
    assert budget_score(100, 0.57, FLOOR) == 57


@pytest.mark.parametrize("rate", [None, math.nan, math.inf])
def test_budget_score__none_without_a_usable_rate(rate):
    assert budget_score(10, rate, G1) is None


# --- §3.6 grades -----------------------------------------------------------------------------------
@pytest.mark.parametrize("grades, total, grade", [
    pytest.param(COUNTY, 90, "良好", id="county-90-is-not-above-90"),
    pytest.param(COUNTY, 90.01, "优秀", id="county-90.01"),
    pytest.param(COUNTY, 80, "良好", id="county-80"),
    pytest.param(COUNTY, 59.99, "差", id="county-59.99"),
    pytest.param(NATIONAL, 90, "优", id="national-90"),
    pytest.param(NATIONAL, 89.996, "良", id="national-89.996-unrounded"),
    pytest.param(NATIONAL, round2(89.996), "优", id="national-89.996-as-displayed"),
    pytest.param(NATIONAL, 96.75, "优", id="yunnan-96.75"),
    pytest.param(NATIONAL, 60, "中", id="national-60"),
    pytest.param(NATIONAL, -1, None, id="national-below-all"),
    pytest.param(NATIONAL[:2], 50, None, id="no-floor-grade-is-not-the-last-one"),
])
def test_grade_for(grades, total, grade):
    assert grade_for(total, grades) == grade


@pytest.mark.parametrize("total", [None, math.nan])
def test_grade_for__no_grade_without_a_total(total):
    assert grade_for(total, NATIONAL) is None


@pytest.mark.parametrize("x, rounded", [(1.005, 1.01), (2.675, 2.68), (6.725, 6.73), (-1.005, -1.01), (1e30, 1e30)])
def test_round2__half_up_like_excel(x, rounded):
    assert round2(x) == rounded


# --- properties ----------------------------------------------------------------------------------
finite = st.floats(-1e9, 1e9, allow_nan=False)
quantities = st.builds(
    lambda c, n, u: Value(f"{c or ''}{n}{u or ''}", c, n, u, "quantitative"),
    st.sampled_from([None, ">=", ">", "<=", "<", "=", "~"]), st.one_of(st.none(), finite),
    st.sampled_from([None, "%", "人", "万人", "次"]))
texts = st.sampled_from(["有所提升", "达成预期指标", "部分达成年度指标并具有一定效果", "未达成年度指标且效果较差",
                         "基本完成", "详见附件", "—", ""]).map(parse_value)
weights = st.floats(0, 1000, allow_nan=False)
RULES = st.sampled_from([G1, RATIO])


@settings(max_examples=200, deadline=None)
@given(weights, st.one_of(quantities, texts), st.one_of(quantities, texts), RULES)
@example(0.005, parse_value("≥1"), parse_value("1"), G1)
@example(3.335, parse_value("有所提升"), parse_value("有所提升"), G1)
def test_suggestion_stays_within_the_weight(weight, target, actual, rules):
    s = suggest_score(weight, target, actual, rules)
    if s.score is not None:
        assert 0 <= s.score <= weight
    if s.low is not None:
        assert 0 <= s.low <= s.high <= weight


def _rank(grades, total):
    names = [g.name for g in grades] + [None]      # below every bound ranks last
    return names.index(grade_for(total, grades))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([NATIONAL, COUNTY]), st.floats(-10, 110), st.floats(-10, 110))
@example(COUNTY, 90.0, 90.01)
@example(NATIONAL, 89.99, 90.0)
def test_grade_is_monotone_in_the_total(grades, a, b):
    low, high = sorted((a, b))
    assert _rank(grades, low) >= _rank(grades, high)   # index 0 is the best grade


two_decimal_weights = st.integers(0, 10_000).map(lambda c: c / 100)


@settings(max_examples=200, deadline=None)
@given(two_decimal_weights, st.floats(-5, 5), st.sampled_from([G1, FLOOR]))
def test_budget_score_within_the_weight(weight, rate, rules):
    assert 0 <= budget_score(weight, rate, rules) <= weight


@settings(max_examples=200, deadline=None)
@given(two_decimal_weights, st.integers(0, 100), st.floats(1, 1e6))
def test_budget_score_is_the_full_weight_from_100pct(weight, whole, rate):
    assert budget_score(weight, rate, G1) == weight
    assert budget_score(float(whole), rate, FLOOR) == whole


# --- review additions: units, bounds, fractions, weights -------------------------------------------
@pytest.mark.parametrize("target, actual, score", [
    pytest.param("≥50000人次", "11万人次", 5, id="wan-renci-against-renci"),
    pytest.param("≥1万人", "5000人", 2.5, id="renci-against-wan-ren"),
    pytest.param("≤90万元", "90", 5, id="bare-number-is-in-the-targets-unit"),
    pytest.param("≤4月份", "3月", 5, id="month-against-yuefen"),
    pytest.param("≥4次/年", "5次", 5, id="per-year-count"),
    pytest.param("≥90%", "0.95", 5, id="fraction-typed-as-text"),
    pytest.param("≥90%", "0.45", 2.5, id="fraction-not-met"),
])
def test_units_that_mean_the_same_quantity__are_scored(target, actual, score):
    assert suggest(5, target, actual).score == score


def test_fraction_reading__is_explained_in_the_note():
    assert "按小数理解为 95%" in suggest(5, "≥90%", "0.95").note


@pytest.mark.parametrize("target, actual", [
    pytest.param("≥90%", "90万", id="percent-against-wan"),
    pytest.param("≥ 万人", "101.07%", id="s003-1-count-against-rate"),
    pytest.param("≥20篇", "57次", id="s004-21-pieces-against-times"),
])
def test_units_that_cannot_be_compared__give_no_score(target, actual):
    s = suggest(5, target, actual)
    assert (s.score, s.kind) == (None, "unknown")


@pytest.mark.parametrize("target, actual", [
    pytest.param("≤60分钟", "＞50分钟", id="reverse-target-actual-at-least"),
    pytest.param("≥90%", "≤95%", id="positive-target-actual-at-most"),
    pytest.param("=0", "≥0", id="equal-zero-actual-at-least"),
])
def test_actual_bound_opening_away_from_the_target__gives_no_score(target, actual):
    s = suggest(5, target, actual)
    assert (s.score, s.kind) == (None, "unknown") and "范围" in s.note


@pytest.mark.parametrize("target, actual, score", [
    pytest.param("≥90%", "＜80%", 4.44, id="positive-target-actual-below-80"),
    pytest.param("≧99%", "≧103.63%", 5, id="s003-12-bound-inside-target"),
    pytest.param("≤60分钟", "＞120分钟", 0, id="reverse-target-actual-beyond-2x"),
])
def test_actual_bound__counts_as_its_value_when_that_decides(target, actual, score):
    assert suggest(5, target, actual).score == score


@pytest.mark.parametrize("weight", [math.nan, math.inf, -5])
def test_unusable_weight__gives_no_suggestion(weight):
    assert suggest(weight, "≥1", "1").score is None
    assert budget_score(weight, 0.5, G1) is None


def test_absence_of_accidents__is_the_target_met():
    s = suggest(5, "无重大安全事故", "未发生重大安全事故")
    assert (s.kind, s.band, s.low, s.high) == ("qualitative", 0, 4, 5)
