"""The roster (名单) as the province office fills it in, and the region codes it carries."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from xlperf.season import db, regions
from xlperf.errors import RosterError
from xlperf.season.roster import (LEVEL1_WEIGHTS, LEVEL2_BY_LEVEL1, ROSTER_COLUMNS, ROSTER_SHEET, TARGET_COLUMNS,
                                  TARGETS_SHEET, import_roster, load_roster, region_names, rows_from_db, save_roster)
from xlperf.season.roster_sample import sample_roster
from xlperf.season.roster_template import write_roster_template

CHECKS = {"level1_weights": LEVEL1_WEIGHTS, "level2_by_level1": LEVEL2_BY_LEVEL1}
HEADER = ["单位代码", "单位名称", "行政区划代码", "地区名称", "主管部门", "联系人", "邮箱",
          "项目名称", "项目代码", "年初预算数", "全年预算数"]
GOOD = ["430527001", "绥宁县医疗保障局", "430527", "绥宁县", "绥宁县医疗保障局", "李明 0739-7621234",
        "ybj430527@example.gov.cn", "医疗救助补助资金", "43052724T000001", 300, 320]


def _xlsx(path: Path, sheets: dict[str, list[list]], number_formats: dict[tuple[str, str], str] | None = None) -> Path:
    """A workbook as a clerk would type it, one list per row."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    for (sheet, cell), fmt in (number_formats or {}).items():
        wb[sheet][cell].number_format = fmt
    wb.save(path)
    return path


def _row(**changes) -> list:
    row = dict(zip(HEADER, GOOD))
    row.update(changes)
    return [row[h] for h in HEADER]


def _problems(path: Path, **checks) -> list[str]:
    with pytest.raises(RosterError) as err:
        load_roster(path, **checks)
    return err.value.problems


# ---------------------------------------------------------------- template round trip

def test_template__default_example_rows_load_back_unchanged(tmp_path):
    path = write_roster_template(tmp_path / "名单.xlsx")
    assert load_roster(path, **CHECKS) == sample_roster()[:3]


def test_template__a_whole_sample_province_loads_back_unchanged(tmp_path):
    rows = sample_roster(n_cities=5, counties_per_city=4, projects=3, seed=7)
    path = write_roster_template(tmp_path / "名单.xlsx", rows)
    assert load_roster(path, **CHECKS) == rows


def test_template__has_the_three_sheets_frozen_header_and_codes_stored_as_text(tmp_path):
    path = write_roster_template(tmp_path / "名单.xlsx")
    wb = openpyxl.load_workbook(path)

    assert wb.sheetnames == [ROSTER_SHEET, TARGETS_SHEET, "填写说明"]
    ws = wb[ROSTER_SHEET]
    assert [c.value for c in ws[1]][:3] == ROSTER_COLUMNS[:3]
    assert ws.freeze_panes == "A2"
    assert ws["A2"].data_type == "s" and ws["A2"].value == "430527001"
    assert ws["C2"].data_type == "s" and ws["C2"].value == "430527"
    assert ws["A1"].comment is not None and "必填" in ws["A1"].comment.text
    assert len(ws.data_validations.dataValidation) >= 4
    assert [c.value for c in wb[TARGETS_SHEET][1]] == TARGET_COLUMNS
    assert "示例" in "".join(str(c.value or "") for row in wb["填写说明"].iter_rows() for c in row)


@pytest.mark.libreoffice
def test_template__saved_again_by_libreoffice_still_loads(tmp_path, libreoffice):
    from helpers.libreoffice import convert
    rows = sample_roster(n_cities=2, counties_per_city=2)
    src = write_roster_template(tmp_path / "src" / "名单.xlsx", rows)
    resaved = convert(src, "xlsx", tmp_path / "lo")
    assert load_roster(resaved, **CHECKS) == rows


# ---------------------------------------------------------------- real-world roster sheets

def test_load__tolerates_messy_headers_a_title_row_and_codes_typed_as_numbers(tmp_path):
    header = ["单位\n代码", " 单位名称 ", "行政区划代码", "主管部门", "联系人", "邮 箱", "项目名称", "项目编码",
              "年初预算数（万元）", "全年预算数(万元)"]
    path = _xlsx(tmp_path / "名单.xlsx", {"Sheet1": [
        ["2024年度医保项目绩效自评下发名单"],
        header,
        [430527001, "绥宁县医疗保障局", 430527.0, "绥宁县医疗保障局", "李明", " ybj430527＠example.gov.cn ",
         "医疗救助补助资金", "43052724T000001", "1,234.50", "1300万元"],
    ]})

    [row] = load_roster(path)

    assert row.row_no == 3
    assert (row.unit_code, row.region_code, row.region_name) == ("430527001", "430527", "")
    assert row.email == "ybj430527@example.gov.cn"
    assert (row.initial_budget, row.budget) == (1234.5, 1300.0)
    assert row.targets == []


def test_load__every_bad_row_is_reported_with_its_row_number_and_nothing_is_imported(tmp_path):
    path = _xlsx(tmp_path / "名单.xlsx", {ROSTER_SHEET: [
        HEADER,
        _row(),
        _row(单位代码=None, 项目代码="P3"),
        _row(邮箱="ybj430528#example.gov.cn", 项目代码="P4"),
        _row(行政区划代码="43052", 项目代码="P5"),
        _row(),
        _row(年初预算数="三百万", 全年预算数=-5, 项目代码="P7"),
        _row(行政区划代码="990527", 项目代码="P8"),
        _row(邮箱=None, 项目代码="P9"),
        _row(邮箱="a@example.gov.cn;b@example.gov.cn", 项目代码="P10"),
    ]})
    conn = db.connect(tmp_path / "xlperf.sqlite")

    with pytest.raises(RosterError) as err:
        import_roster(conn, path)

    assert err.value.problems == [
        "名单 第3行：缺少单位代码",
        "名单 第4行：邮箱“ybj430528#example.gov.cn”格式不正确",
        "名单 第5行：行政区划代码“43052”应为6位数字",
        "名单 第6行：单位代码“430527001”、项目代码“43052724T000001”与第2行重复",
        "名单 第7行：年初预算数“三百万”不是数字",
        "名单 第7行：全年预算数“-5”不能为负数",
        "名单 第8行：行政区划代码“990527”不是有效的行政区划代码（前两位不是省级代码）",
        "名单 第9行：缺少邮箱",
        "名单 第10行：邮箱“a@example.gov.cn;b@example.gov.cn”只能填写一个地址",
    ]
    assert "9 处问题" in err.value.message
    assert rows_from_db(conn, include_inactive=True) == []
    conn.close()


def test_load__a_missing_column_is_reported_once_not_on_every_row(tmp_path):
    header = [h for h in HEADER if h != "邮箱"]
    path = _xlsx(tmp_path / "名单.xlsx", {ROSTER_SHEET: [header] + [
        [v for h, v in zip(HEADER, _row(项目代码=f"P{i}")) if h != "邮箱"] for i in range(5)]})
    assert _problems(path) == ["名单 第1行表头缺少列：邮箱"]


def test_load__a_sheet_without_rows(tmp_path):
    path = _xlsx(tmp_path / "名单.xlsx", {ROSTER_SHEET: [HEADER]})
    assert _problems(path) == ["名单 没有任何数据行"]


def test_load__file_that_is_not_a_workbook(tmp_path):
    bad = tmp_path / "名单.xls"
    bad.write_bytes(b"\xd0\xcf\x11\xe0 old binary excel")
    with pytest.raises(RosterError) as err:
        load_roster(bad)
    assert err.value.code == "roster-unreadable"
    assert "另存为 .xlsx" in err.value.message
    with pytest.raises(RosterError) as err:
        load_roster(tmp_path / "不存在.xlsx")
    assert err.value.code == "roster-missing"


# ---------------------------------------------------------------- 绩效指标 sheet

TARGET_HEADER = ["单位代码", "项目代码", "一级指标", "二级指标", "三级指标", "分值", "年度指标值"]


def _targets(*rows) -> dict[str, list[list]]:
    return {ROSTER_SHEET: [HEADER, _row(), _row(项目代码="P2", 项目名称="医疗服务与保障能力提升补助资金")],
            TARGETS_SHEET: [TARGET_HEADER, *rows]}


def _full(code="43052724T000001", **weights) -> list[list]:
    w = {"数量": 50, "社会": 30, "满意": 10, **weights}
    return [["430527001", code, "产出指标", "数量指标", "城乡居民基本医保参保率", w["数量"], "≥95%"],
            ["430527001", code, "效益指标", "社会效益指标", "住院费用跨省直接结算率", w["社会"], "≥80%"],
            ["430527001", code, "满意度指标", "服务对象满意度指标", "参保人员对医保服务的满意度", w["满意"], "≥85%"]]


def test_targets__attach_to_their_project_and_a_project_without_targets_is_fine(tmp_path):
    path = _xlsx(tmp_path / "名单.xlsx", _targets(*_full()))
    first, second = load_roster(path, **CHECKS)
    assert [(t.row_no, t.level1, t.name, t.weight, t.target) for t in first.targets] == [
        (2, "产出指标", "城乡居民基本医保参保率", 50.0, "≥95%"),
        (3, "效益指标", "住院费用跨省直接结算率", 30.0, "≥80%"),
        (4, "满意度指标", "参保人员对医保服务的满意度", 10.0, "≥85%")]
    assert second.targets == []


def test_targets__every_problem_is_reported(tmp_path):
    path = _xlsx(tmp_path / "名单.xlsx", _targets(
        *_full(数量=45),                                                        # rows 2–4: 产出 adds up to 45
        ["430527001", "P2", "产出指标", "数量指标", "定点医药机构监督检查覆盖率", "十分", "≥90%"],   # row 5
        ["430527001", "P2", "产出指标", "效益指标", "医保信息系统正常运行率", 10, "≥90%"],          # row 6
        ["430527001", "P2", "决策指标", "", "立项依据充分性", 10, "充分"],                          # row 7
        ["430527999", "P9", "产出指标", "数量指标", "享受医疗救助人次", 10, "≥1000人次"],           # row 8
        ["430527001", "P2", "产出指标", "质量指标", "医保信息系统正常运行率", -1, "≥90%"],          # row 9
        ["430527001", "P2", "", "", "", None, ""],                                                  # row 10
    ))

    assert _problems(path, **CHECKS) == [
        "绩效指标 第5行：分值“十分”不是数字",
        "绩效指标 第6行：二级指标“效益指标”不属于一级指标“产出指标”（应为：数量指标、质量指标、时效指标、成本指标）",
        "绩效指标 第7行：一级指标“决策指标”不在表样的一级指标（产出指标、效益指标、满意度指标）中",
        "绩效指标 第8行：单位代码“430527999”、项目代码“P9”在名单中不存在",
        "绩效指标 第9行：分值“-1”不能为负数",
        "绩效指标 第9行：三级指标“医保信息系统正常运行率”与第6行重复（同一项目）",
        "绩效指标 第10行：缺少一级指标",
        "绩效指标 第10行：缺少三级指标",
        "绩效指标 第10行：缺少分值",
        "绩效指标 第2–4行：单位代码“430527001”、项目代码“43052724T000001”的产出指标分值合计 45，应为 50",
    ]


def test_targets__without_a_form_any_taxonomy_and_weights_are_accepted(tmp_path):
    path = _xlsx(tmp_path / "名单.xlsx", _targets(
        ["430527001", "43052724T000001", "决策", "项目立项", "立项依据充分性", 3, "充分"]))
    [first, _] = load_roster(path)
    assert first.targets[0].level1 == "决策"


def test_targets__short_and_spaced_names_are_read_as_the_form_spells_them(tmp_path):
    rows = _full()
    rows[0][2:4] = ["产出 指标", "数量"]
    path = _xlsx(tmp_path / "名单.xlsx", _targets(*rows))
    [first, _] = load_roster(path, **CHECKS)
    assert (first.targets[0].level1, first.targets[0].level2) == ("产出指标", "数量指标")


def test_targets__a_percent_typed_into_a_percent_cell_keeps_its_percent_sign(tmp_path):
    rows = _full()
    rows[0][6] = 0.95
    path = _xlsx(tmp_path / "名单.xlsx", _targets(*rows), {(TARGETS_SHEET, "G2"): "0%"})
    [first, _] = load_roster(path, **CHECKS)
    assert first.targets[0].target == "95%"


# ---------------------------------------------------------------- database

def test_save_roster__is_idempotent_and_reads_back_the_same_rows(tmp_path):
    conn = db.connect(tmp_path / "xlperf.sqlite")
    rows = sample_roster()

    assert save_roster(conn, rows) == len(rows)
    ids = [r["id"] for r in db.roster_rows(conn)]
    assert save_roster(conn, rows) == len(rows)

    assert [r["id"] for r in db.roster_rows(conn)] == ids
    assert conn.execute("SELECT count(*) FROM targets").fetchone()[0] == sum(len(r.targets) for r in rows)
    assert rows_from_db(conn) == rows
    conn.close()


def test_save_roster__reimport_updates_rows_and_retires_dropped_ones(tmp_path):
    conn = db.connect(tmp_path / "xlperf.sqlite")
    rows = sample_roster()
    save_roster(conn, rows)
    kept_id = db.roster_id_for(conn, rows[0].unit_code, rows[0].project_code)

    changed = rows[:-1]
    changed[0].email = "new@example.gov.cn"
    changed[0].targets = changed[0].targets[:2]
    save_roster(conn, changed)

    assert rows_from_db(conn) == changed
    assert len(rows_from_db(conn, include_inactive=True)) == len(rows)
    assert db.roster_id_for(conn, rows[0].unit_code, rows[0].project_code) == kept_id
    assert len(db.targets_of(conn, kept_id)) == 2
    conn.close()


# ---------------------------------------------------------------- sample roster

def test_sample_roster__is_deterministic_per_seed():
    assert sample_roster(seed=3) == sample_roster(seed=3)
    assert sample_roster(seed=3) != sample_roster(seed=4)


def test_sample_roster__starts_with_the_seed_county_and_looks_real():
    first = sample_roster()[0]
    assert (first.region_code, first.region_name, first.unit_name) == ("430527", "绥宁县", "绥宁县医疗保障局")
    assert first.email == "ybj430527@example.gov.cn"
    assert first.project_name == "城乡居民基本医疗保险补助资金"


def test_sample_roster__a_large_province_has_unique_valid_rows_and_weights_that_add_up():
    rows = sample_roster(n_cities=14, counties_per_city=10, projects=3)

    assert len(rows) == 14 * 10 * 3
    assert len({r.key for r in rows}) == len(rows)
    assert len({r.region_code for r in rows}) == 140
    for r in rows:
        assert regions.parse_code(r.region_code).level == regions.COUNTY
        assert regions.province_of(r.region_code) == "430000"
        for level1, weight in LEVEL1_WEIGHTS.items():
            assert sum(t.weight for t in r.targets if t.level1 == level1) == pytest.approx(weight)
        assert {t.level2 for t in r.targets} <= {n for names in LEVEL2_BY_LEVEL1.values() for n in names}
    assert [r.row_no for r in rows] == list(range(2, len(rows) + 2))


def test_region_names__come_from_the_roster():
    names = region_names(sample_roster())
    assert regions.name_of("430527", names) == "绥宁县"


# ---------------------------------------------------------------- regions

@pytest.mark.parametrize("code, level", [
    ("430000", regions.PROVINCE), ("430500", regions.CITY), ("430527", regions.COUNTY),
    (430527, regions.COUNTY), (430527.0, regions.COUNTY), ("430527.0", regions.COUNTY),
    (" ４３０５２７ ", regions.COUNTY), ("110105", regions.COUNTY),
])
def test_parse_code__accepts_what_excel_hands_us(code, level):
    r = regions.parse_code(code)
    assert r is not None and r.level == level and r.code == r.code.strip() and len(r.code) == 6


@pytest.mark.parametrize("code", [None, "", "43052", "4305270", "abcdef", "990000", 430527.5, True])
def test_parse_code__rejects_non_codes(code):
    assert regions.parse_code(code) is None


def test_counties_roll_up_to_their_city_and_province():
    assert regions.city_of("430527") == "430500"
    assert regions.province_of("430527") == "430000"
    assert regions.province_of("433101") == "430000"
    assert regions.city_of("433101") == "433100"


@pytest.mark.parametrize("districts, name", [
    (["110101", "110105", "110228"], "北京市"),
    (["120101", "120116"], "天津市"),
    (["310101", "310115", "310151"], "上海市"),
    (["500101", "500112", "500229", "500243"], "重庆市"),   # 重庆's 县 (5002xx) as well as its 区
])
def test_municipality__all_its_districts_and_counties_form_one_city_group_named_after_it(districts, name):
    groups = {regions.city_of(d) for d in districts}
    assert len(groups) == 1
    [group] = groups
    assert regions.province_of(group) == districts[0][:2] + "0000"
    assert regions.name_of(group) == name


def test_name_of__roster_names_first_then_provinces_then_the_code():
    assert regions.name_of("430527", {"430527": "绥宁县"}) == "绥宁县"
    assert regions.name_of(430000) == "湖南省"
    assert regions.name_of("540000") == "西藏自治区"
    assert regions.name_of("654321") == "654321"
