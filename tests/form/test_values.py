"""What the value parsers make of real 年度指标值 / 实际完成值 / 金额 cells (domain §6, §7)."""
from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from xlperf.form import values
from xlperf.form.values import classify_qualitative, is_na, parse_amount, parse_rate, parse_value

Q, L, NA = "quantitative", "qualitative", "na"


def parts(v: values.Value) -> tuple:
    return (v.comparator, v.number, v.unit, v.kind)


# --- §7: real triples, target and actual as written ------------------------------------------------
TRIPLES = [
    # id, target, (comparator, number, unit, kind), actual, (comparator, number, unit, kind)
    ("s003-1-number-missing", "≥ 万人", (">=", None, "万人", Q), "101.07%", (None, 101.07, "%", Q)),
    ("s003-2-bare-count", "≥1", (">=", 1.0, None, Q), "5", (None, 5.0, None, Q)),
    ("s003-3-points", "≥90分", (">=", 90.0, "分", Q), "90分", (None, 90.0, "分", Q)),
    ("s003-4-qualitative", "有所提升", (None, None, None, L), "有所提升", (None, None, None, L)),
    ("s003-6-actual-is-a-bound", "≤60分钟", ("<=", 60.0, "分钟", Q), "＜60分钟", ("<", 60.0, "分钟", Q)),
    ("s003-7-actual-is-a-bound", "≤30分钟", ("<=", 30.0, "分钟", Q), "＜30分钟", ("<", 30.0, "分钟", Q)),
    ("s003-12-comparator-in-actual", "≧99%", (">=", 99.0, "%", Q), "≧103.63%", (">=", 103.63, "%", Q)),
    ("s003-13-full-width-digit", "≧２0次", (">=", 20.0, "次", Q), "32次", (None, 32.0, "次", Q)),
    ("s003-14-prose-after-actual", "≧80%", (">=", 80.0, "%", Q), "≧71% (未达80%扣1分)", (">=", None, None, L)),
    ("s003-18-text-target", "≧2023年目标要求", (">=", None, None, L), "≧2023年目标要求", (">=", None, None, L)),
    ("s004-19-actual-in-prose", "≥4次", (">=", 4.0, "次", Q), "5场发布会+1场通气会", (None, None, None, L)),
    ("s004-21-unit-changes", "≥20篇", (">=", 20.0, "篇", Q), "57次", (None, 57.0, "次", Q)),
    ("s004-24-met-exactly", "≥40%", (">=", 40.0, "%", Q), "40%", (None, 40.0, "%", Q)),
    ("s004-25-pieces", "≥8个", (">=", 8.0, "个", Q), "8个", (None, 8.0, "个", Q)),
    ("s004-27-qualitative", "持续提升", (None, None, None, L), "综合评价分值较上年提高5%", (None, None, None, L)),
    ("s004-31-month", "≤4月份", ("<=", 4.31, "日期", Q), "2022年4月", (None, 4.0, "日期", Q)),   # by the end of April
    ("s004-33-overachieved", "≥10%", (">=", 10.0, "%", Q), "49.95%", (None, 49.95, "%", Q)),
    ("p4-35-actual-without-unit", "≥50000人次", (">=", 50000.0, "人次", Q), "110406", (None, 110406.0, None, Q)),
    ("p2-36-no-comparator", "8755", (None, 8755.0, None, Q), "8676", (None, 8676.0, None, Q)),
    ("p2-39-yuan", "75元", (None, 75.0, "元", Q), "75元", (None, 75.0, "元", Q)),
    ("p1-43-unit-as-word", "≥100百分比", (">=", 100.0, "%", Q), "100", (None, 100.0, None, Q)),
    ("p1-44-band-name-actual", "严格执行相关制度规定", (None, None, None, L), "达成预期指标", (None, None, None, L)),
    ("p1-46-reverse-money", "≤90万元", ("<=", 90.0, "万元", Q), "90", (None, 90.0, None, Q)),
    ("p3-49-two-decimals", "100.00%", (None, 100.0, "%", Q), "97.30%", (None, 97.3, "%", Q)),
    ("p3-57-rate-with-counts", "24694人", (None, 24694.0, "人", Q), "22584人", (None, 22584.0, "人", Q)),
    ("p16-58-word-comparator", "大于等于728人", (">=", 728.0, "人", Q), "728 (保障人数728)", (None, None, None, L)),
    ("p5-59-split-with-spaces", "≥ 90 %", (">=", 90.0, "%", Q), "", (None, None, None, "empty")),
    ("p5-60-spaced-yuan", "≤ 101400 元", ("<=", 101400.0, "元", Q), None, (None, None, None, "empty")),
    ("p5-61-scale-as-target", "定性 优良中低差", (None, None, None, L), "—", (None, None, None, NA)),
    ("p15-62-reverse-zero", "≤0%", ("<=", 0.0, "%", Q), "0%", (None, 0.0, "%", Q)),
    ("p15-63-equal", "=100%", ("=", 100.0, "%", Q), "100%", (None, 100.0, "%", Q)),
    ("p6-65-reverse-count", "≤10次", ("<=", 10.0, "次", Q), "一", (None, None, None, NA)),
    ("s004-word-comparator", "计划不低于4次", (">=", 4.0, "次", Q), "计划不高于60分钟", ("<=", 60.0, "分钟", Q)),
    ("p3-suffix-comparator", "不少于12种", (">=", 12.0, "种", Q), "99%以上", (">=", 99.0, "%", Q)),
]


@pytest.mark.parametrize("target, t_parts, actual, a_parts", [pytest.param(*t[1:], id=t[0]) for t in TRIPLES])
def test_real_triples__parse_into_comparator_number_unit_kind(target, t_parts, actual, a_parts):
    assert parts(parse_value(target)) == t_parts
    assert parts(parse_value(actual)) == a_parts


# --- §6.5: messy values the reader must survive ----------------------------------------------------
def test_target_without_number__is_quantitative_with_a_warning():
    v = parse_value("≥ 万人")
    assert (v.kind, v.number, v.comparator, v.unit) == (Q, None, ">=", "万人")
    assert v.warnings and v.raw == "≥ 万人"


def test_bound_as_actual__keeps_the_strict_comparator():
    v = parse_value("＜60分钟")
    assert (v.comparator, v.number, v.unit, v.direction) == ("<", 60.0, "分钟", "negative")


@pytest.mark.parametrize("raw, expected", [
    pytest.param("≧２0次", (">=", 20.0, "次", Q), id="full-width-digit"),
    pytest.param("≥100百分比", (">=", 100.0, "%", Q), id="percent-as-word"),
    pytest.param("≤4月份", ("<=", 4.31, "日期", Q), id="month"),
    pytest.param("14,531", (None, 14531.0, None, Q), id="thousands-separator"),
    pytest.param("１４，５３１", (None, 14531.0, None, Q), id="full-width-thousands"),
    pytest.param("＞＝5", (">=", 5.0, None, Q), id="full-width-ge"),
    pytest.param("５０％", (None, 50.0, "%", Q), id="full-width-percent"),
    pytest.param("60分钟以内", ("<=", 60.0, "分钟", Q), id="suffix-within"),
    pytest.param("控制在60分钟以内", ("<=", 60.0, "分钟", Q), id="kongzhizai-yinei"),
    pytest.param("≥99%以上", (">=", 99.0, "%", Q), id="redundant-suffix"),
    pytest.param("≥95%。", (">=", 95.0, "%", Q), id="trailing-full-stop"),
    pytest.param("≥80%，", (">=", 80.0, "%", Q), id="trailing-comma"),
    pytest.param("≥4次/年", (">=", 4.0, "次/年", Q), id="count-per-year"),
    pytest.param("有所提升", (None, None, None, L), id="qualitative"),
])
def test_messy_value(raw, expected):
    v = parse_value(raw)
    assert parts(v) == expected and v.raw == raw


@pytest.mark.parametrize("raw", ["一", "—", "——", "-", "／", " — "], ids=["cjk-one", "em-dash", "double-dash",
                                                                         "hyphen", "slash", "spaced-dash"])
def test_dash_marks__are_not_applicable(raw):
    assert is_na(raw)
    assert parse_value(raw).kind == NA
    assert parse_amount(raw).na and parse_amount(raw).value is None
    assert parse_rate(raw).na


def test_percent_formatted_number__reads_as_percent_points():
    assert parts(parse_value(0.973, percent_format=True)) == (None, 97.3, "%", Q)


@pytest.mark.parametrize("raw, value", [
    pytest.param("3359.62万", 3359.62, id="wan-inside-cell"),
    pytest.param("3359.62万元", 3359.62, id="wanyuan-inside-cell"),
    pytest.param("14,531", 14531.0, id="thousands-separator"),
    pytest.param("１２３", 123.0, id="full-width"),
    pytest.param(" 12.5 ", 12.5, id="spaces"),
    pytest.param(3641.09, 3641.09, id="number-cell"),
])
def test_parse_amount(raw, value):
    a = parse_amount(raw)
    assert (a.value, a.na, a.warnings) == (value, False, ())


@pytest.mark.parametrize("raw", ["95%", "一百", "1,23", True, dt.date(2024, 1, 1), float("nan"), 10 ** 400, "9" * 400],
                         ids=["percent", "chinese-numeral", "bad-grouping", "bool", "date", "nan", "huge-int", "400-digits"])
def test_parse_amount__rejects_what_is_not_a_number(raw):
    a = parse_amount(raw)
    assert a.value is None and a.warnings


@pytest.mark.parametrize("raw, percent_format, value", [
    pytest.param("81.80%", False, 0.818, id="text-percent"),
    pytest.param(0.818, True, 0.818, id="percent-formatted-number"),
    pytest.param(0.818, False, 0.818, id="fraction"),
    pytest.param("99%", False, 0.99, id="text-99"),
    pytest.param("１００％", False, 1.0, id="full-width"),
    pytest.param(81.8, False, 0.818, id="percent-points-typed"),
])
def test_parse_rate(raw, percent_format, value):
    assert parse_rate(raw, percent_format=percent_format).value == pytest.approx(value)


@pytest.mark.parametrize("raw", ["81.8", "１００", "1,234"], ids=["plain", "full-width", "thousands"])
def test_parse_rate__keeps_the_raw_text_of_a_typed_number(raw):
    assert parse_rate(raw).raw == raw


@pytest.mark.parametrize("raw", [float("nan"), float("inf"), -math.inf, 10 ** 400, "abc", True],
                         ids=["nan", "inf", "-inf", "huge-int", "text", "bool"])
def test_parse_rate__no_rate_from_non_numbers(raw):
    r = parse_rate(raw)
    assert r.value is None and r.warnings


@pytest.mark.parametrize("target, actual, band", [
    pytest.param("有所提升", "有所提升", 0, id="same-as-target"),
    pytest.param("效果明显", "达成预期指标", 0, id="band-1-name"),
    pytest.param("有所提升", "部分达成年度指标并具有一定效果", 1, id="band-2-name"),
    pytest.param("有所提升", "未达成年度指标且效果较差", 2, id="band-3-name"),
    pytest.param("及时", "基本及时", 1, id="partly"),
    pytest.param("满意", "群众不满意", 2, id="negated-met-word"),
    pytest.param("及时", "发放不及时", 2, id="negated-timely"),
    pytest.param("有所提升", "不断提升", 0, id="budu-is-not-a-negation"),
    pytest.param("完成", "不完全达成", 1, id="not-fully-is-partly"),
    pytest.param("定性有效", "措施无效", 2, id="ineffective"),
    pytest.param("有所提升", "为未来持续提升奠定基础", 0, id="weilai-is-not-a-negation"),
    pytest.param("有所提升", "详见附件", None, id="unknown"),
    pytest.param("无重大安全事故", "未发生重大安全事故", 0, id="absence-of-accidents-is-met"),
    pytest.param("零投诉", "未收到投诉", 0, id="no-complaints-is-met"),
    pytest.param("资金安全", "未发生挪用资金现象", 0, id="no-misuse-is-met"),
    pytest.param("无", "未发生事故，但进度滞后", 2, id="absence-does-not-hide-a-delay"),
    pytest.param("无", "未发生事故，部分完成", 1, id="absence-does-not-hide-partial"),
    pytest.param("及时处理", "无法及时处理投诉", 2, id="wufa-is-a-negation"),
    pytest.param("按时完成", "无法按时完成", 2, id="wufa-wancheng"),
    pytest.param("及时", "不能及时发放", 2, id="buneng-is-a-negation"),
    pytest.param("按时完成", "没能完成", 2, id="meineng-is-a-negation"),
    pytest.param("≥90%", "完成率偏低", 2, id="piandi-is-not-met"),
    pytest.param("有所提升", "有待提升", 1, id="youdai-is-partly"),
])
def test_classify_qualitative(target, actual, band):
    assert classify_qualitative(target, actual) == band


# --- properties ----------------------------------------------------------------------------------
ANY_CELL = st.one_of(st.none(), st.text(), st.floats(), st.integers(), st.booleans(), st.dates(), st.datetimes())


@settings(max_examples=200, deadline=None)
@given(ANY_CELL, st.booleans())
@example(10 ** 400, False)
@example(1.7e308, True)
@example("9" * 400, False)
def test_parsers_never_raise_and_keep_raw(raw, percent_format):
    for result in (parse_value(raw, percent_format=percent_format), parse_amount(raw),
                   parse_rate(raw, percent_format=percent_format)):
        assert isinstance(result.raw, str)
        if isinstance(raw, str):
            assert result.raw == raw
        elif raw is None:
            assert result.raw == ""
    v = parse_value(raw, percent_format=percent_format)
    assert v.number is None or math.isfinite(v.number)
    assert parse_amount(raw).value is None or math.isfinite(parse_amount(raw).value)
    assert parse_rate(raw).value is None or math.isfinite(parse_rate(raw).value)


COMPARATORS = {"": None, "≥": ">=", "≧": ">=", ">=": ">=", "＞＝": ">=", "≤": "<=", "≦": "<=", "<": "<", "＜": "<",
               ">": ">", "＞": ">", "=": "=", "不低于": ">=", "不少于": ">=", "不高于": "<=", "不超过": "<="}
# 月 and 月份 after a month number are dates (deadlines), tested on their own below.
UNITS = [(w, n) for w, n in values._UNITS if values.normalize_text(w) == w and w not in ("月", "月份")] + [("", None)]
FULL_WIDTH = str.maketrans("0123456789,", "０１２３４５６７８９，")


@st.composite
def written_numbers(draw) -> tuple[str, float]:
    whole = draw(st.integers(0, 10 ** 9))
    text = f"{whole:,}" if draw(st.booleans()) else str(whole)
    if draw(st.booleans()):
        text += "." + draw(st.text("0123456789", min_size=1, max_size=3))
    number = float(text.replace(",", ""))
    if draw(st.booleans()):
        text = text.translate(FULL_WIDTH)
    return text, number


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(COMPARATORS)), written_numbers(), st.sampled_from(UNITS), st.sampled_from(["", " "]))
def test_comparator_number_unit__parse_back_to_their_parts(comparator, number, unit, space):
    (text, expected), (unit_word, unit_norm) = number, unit
    raw = f"{comparator}{space}{text}{space}{unit_word}"
    v = parse_value(raw)
    assert (v.comparator, v.number, v.unit, v.kind, v.warnings) == (COMPARATORS[comparator], expected, unit_norm, Q, ())


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e12, 1e12), st.sampled_from(["", "万", "万元"]))
def test_parse_amount__reads_back_formatted_floats(x, suffix):
    assert parse_amount(f"{x:,.2f}{suffix}").value == float(f"{x:.2f}")


# --- deadlines as targets (issue: 9月前, 11月底前, ≤4月份, 12月31日前) -------------------------------
@pytest.mark.parametrize("target, actual", [
    ("9月前", "7月"), ("11月底前", "10月"), ("≤4月份", "4月20日"), ("12月31日前", "12月20日"), ("10月中旬前", "10月上旬"),
])
def test_a_deadline_target__is_met_by_an_earlier_month(target, actual):
    from xlperf.form.scoring import ScoringRules, suggest_score
    s = suggest_score(4, parse_value(target), parse_value(actual), ScoringRules())
    assert s.score == 4 and s.kind == "deadline"


def test_a_deadline_missed__is_left_for_a_person_to_score():
    from xlperf.form.scoring import ScoringRules, suggest_score
    s = suggest_score(4, parse_value("9月前"), parse_value("10月"), ScoringRules())
    assert s.score is None and "晚于" in s.note


def test_a_duration_in_months__is_not_a_deadline():
    assert parse_value("≥12个月").unit != parse_value("12月前").unit


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 12), st.integers(0, 31), st.integers(1, 12), st.integers(1, 28),
       st.sampled_from(["{m}月前", "{m}月底前", "≤{m}月份", "{m}月{d}日前", "{m}月{d}日之前"]))
def test_deadline_parser__orders_dates_like_a_calendar(tm, td, am, ad, shape):
    target = parse_value(shape.format(m=tm, d=max(td, 1)))
    actual = parse_value(f"{am}月{ad}日")
    assert target.comparator == "<=" and target.unit == actual.unit
    by_day = max(td, 1) if "日" in shape else 31
    assert (actual.number <= target.number) == ((am, ad) <= (tm, by_day))
