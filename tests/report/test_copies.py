"""The same 偏差原因 typed (or pasted) by different units is listed once, with how many units wrote it."""
from xlperf.report.copies import copied_texts

PASTED = "受政策调整和系统升级影响，部分工作进度滞后，下一步加强督导。"


def test_a_text_pasted_by_several_units_is_one_group_naming_them():
    rows = [("甲县医保局", PASTED), ("乙县医保局", PASTED), ("丙县医保局", PASTED + " "),
            ("丁县医保局", "因疫情影响，线下宣传活动减少两场，已调整为线上宣传并将于明年补足。")]
    (group,) = copied_texts(rows)
    assert group.text == PASTED and group.units == ["甲县医保局", "乙县医保局", "丙县医保局"] and group.count == 3


def test_a_lightly_edited_copy_still_counts_as_the_same_text():
    edited = PASTED.replace("下一步", "下一阶段")
    (group,) = copied_texts([("甲县医保局", PASTED), ("乙县医保局", edited)])
    assert len(group.units) == 2 and group.variants == 2


def test_one_unit_repeating_itself_and_short_stock_phrases_are_not_copying():
    rows = [("甲县医保局", PASTED), ("甲县医保局", PASTED), ("甲县医保局", "无"), ("乙县医保局", "无"),
            ("乙县医保局", "已完成"), ("丙县医保局", "已完成")]
    assert copied_texts(rows) == []


def test_different_explanations_are_not_grouped():
    rows = [("甲县医保局", "定点医药机构检查覆盖率未达标，原因是执法人员不足，明年将引入第三方力量。"),
            ("乙县医保局", "信息系统升级推迟两个月，导致结算率下降，已督促供应商按期完成。")]
    assert copied_texts(rows) == []
