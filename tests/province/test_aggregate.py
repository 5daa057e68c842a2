"""A small province returns its forms, and the summary adds up.

The province: 2 cities × 2 counties × 2 projects = 8 roster rows. Seven come
back; one of them has an error (a score above its weight) and one never comes
back. Each return has its own budget, spending and scores, so a wrong sum or a
mean of rates would show.
"""
from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from helpers.libreoffice import convert
from xlperf.judge.batch import check_files
from xlperf.province.aggregate import summarize
from xlperf.province.folder import aggregate_paths
from xlperf.province.model import Entry, Expected
from xlperf.judge.check import check
from xlperf.province.frames import export_csv, export_parquet, frame, frames
from xlperf.form.samples import example_form_data
from xlperf.form.spec import load_form
from xlperf.province.workbook import write_summary
from xlperf.form.template import TemplateOptions, write_template

SPEC = load_form("project-county")
YEAR = 2024
P1, P2 = "城乡居民医疗保险补助资金", "医疗救助补助资金"
INJECTIONS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)"]

COUNTIES = {"430527": ("绥宁县", "430500"), "430528": ("新宁县", "430500"),
            "430102": ("芙蓉区", "430100"), "430121": ("长沙县", "430100")}
# (county, project) → (全年预算数, 全年执行数, share of each indicator's weight scored); None = never returned
RETURNS: dict[tuple[str, str], tuple[float, float, float] | None] = {
    ("430527", P1): (320.0, 300.0, 1.0),
    ("430527", P2): (80.5, 40.25, 0.9),
    ("430528", P1): (150.0, 150.0, 0.7),
    ("430528", P2): (12.34, 11.0, 0.5),
    ("430102", P1): (500.0, 499.0, 1.0),        # returned with an error, see ERROR_RETURN
    ("430102", P2): (60.0, 30.0, 0.85),
    ("430121", P1): (1000.0, 955.55, 0.95),
    ("430121", P2): None,
}
ERROR_RETURN = ("430102", P1)
INJECTED_RETURN = ("430527", P1)


def expected_rows() -> list[Expected]:
    rows = []
    for i, ((county, project), _) in enumerate(RETURNS.items(), 1):
        name, _city = COUNTIES[county]
        rows.append(Expected(
            roster_id=i, unit_code=f"{county}001", unit_name=f"{name}医疗保障局", region_code=county,
            region_name=name, project_name=project, project_code=f"{county}24T{i:06d}",
            contact="@SUM(1)" if (county, project) == ("430121", P2) else f"联系人{i} 0739-1234567",
            email=f"ybj{county}@example.gov.cn", budget=100.0))
    return rows


def return_data(county: str, project: str, budget: float, spent: float, share: float):
    unit = f"{COUNTIES[county][0]}医疗保障局"
    data = example_form_data(SPEC, unit=unit, project=project)
    data.header["department"] = unit
    data.funds[0].values.update(budget=budget, spent=spent)
    data.goal_actual = "全年完成各项工作；部分资金结转下年支付，执行进度偏慢。"
    for line in data.indicators:
        w = float(line.weight)
        line.score = round(min(float(line.score), w * share), 2)
        line.reason = "" if line.score >= w else "部分工作未按计划完成，下一步加快进度"
    if (county, project) == INJECTED_RETURN:
        for line, text in zip(data.indicators, INJECTIONS):
            line.name = text
    if (county, project) == ERROR_RETURN:
        first = data.indicators[0]
        first.score = float(first.weight) + 5       # score-range: 得分超过分值
    return data


def build_province(folder: Path) -> tuple[list[Entry], list[Expected]]:
    folder.mkdir(parents=True, exist_ok=True)
    expected = expected_rows()
    entries = []
    for exp, ((county, project), spec) in zip(expected, RETURNS.items()):
        if spec is None:
            continue
        path = folder / f"{county}_{project}.xlsx"
        write_template(SPEC, YEAR, path, return_data(county, project, *spec), TemplateOptions(password="pw"))
        entries.append(Entry(check(path), exp, path.name, received_at=f"2025-03-0{len(entries) + 1}T09:00:00"))
    return entries, expected


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    folder = tmp_path_factory.mktemp("returns")
    entries, expected = build_province(folder)
    summary = summarize(entries, expected, year=YEAR, form=SPEC.id, produced_from=str(folder))
    out = tmp_path_factory.mktemp("reports") / "汇总.xlsx"
    write_summary(summary, out)
    return {"folder": folder, "entries": entries, "expected": expected, "summary": summary, "xlsx": out}


def rows(summary, table):
    return summary.tables[table].rows


def counted(summary):
    return [r for r in rows(summary, "projects") if r["counted"] == "是"]


def test_the_fixture_province_has_one_error_return_and_one_missing(province):
    by_key = {(e.expected.region_code, e.expected.project_name): e.result for e in province["entries"]}
    assert by_key[ERROR_RETURN].errors >= 1
    assert [f.code for f in by_key[ERROR_RETURN].findings if f.severity == "error"] == ["score-range"]
    assert all(r.errors == 0 for k, r in by_key.items() if k != ERROR_RETURN)
    c = province["summary"].counts
    assert (c["projects_expected"], c["projects_returned"], c["projects_valid"], c["projects_missing"]) == (8, 7, 6, 1)
    assert (c["units_expected"], c["units_returned"], c["units_valid"]) == (4, 4, 2)


def test_region_subtotals_add_up_exactly_to_the_level_above(province):
    regions = rows(province["summary"], "regions")
    by_key = {r["_key"]: r for r in regions}
    parents = {r["_parent"] for r in regions if r["_parent"]}
    assert [r["level"] for r in regions] == ["合计", "省", "市", "县（区）", "县（区）", "市", "县（区）", "县（区）"]
    for parent in parents | {"total"}:
        kids = [r for r in regions if r["_parent"] == parent] if parent != "total" else \
            [r for r in regions if r["level"] == "省"]
        for col in ("expected", "returned", "valid", "with_errors", "missing", "scored", "grade:优秀", "grade:良好"):
            assert by_key[parent][col] == sum(k[col] for k in kids), (parent, col)
        for col in ("budget", "spent"):
            assert by_key[parent][col] == round(math.fsum(k[col] for k in kids), 6), (parent, col)
        assert by_key[parent]["initial_budget"] is None      # this form has no 年初预算数 column


def test_the_province_total_is_the_sum_of_the_counted_project_rows(province):
    s = province["summary"]
    total = rows(s, "regions")[0]
    mine = counted(s)
    assert len(mine) == 6 and total["valid"] == 6
    assert total["budget"] == pytest.approx(sum(r["budget"] for r in mine), abs=1e-9)
    assert total["spent"] == pytest.approx(sum(r["spent"] for r in mine), abs=1e-9)
    known = [v for k, v in RETURNS.items() if v and k != ERROR_RETURN]
    assert total["budget"] == pytest.approx(sum(v[0] for v in known))
    assert total["spent"] == pytest.approx(sum(v[1] for v in known))
    assert total["mean_score"] == pytest.approx(sum(r["total_score"] for r in mine) / 6)


def test_the_overall_rate_is_total_spent_over_total_budget_not_a_mean_of_rates(province):
    s = province["summary"]
    mine = counted(s)
    spent, budget = sum(r["spent"] for r in mine), sum(r["budget"] for r in mine)
    assert s.totals["rate"] == pytest.approx(spent / budget)
    assert rows(s, "regions")[0]["rate"] == pytest.approx(spent / budget)
    mean_of_rates = sum(r["rate"] for r in mine) / len(mine)
    assert abs(s.totals["rate"] - mean_of_rates) > 0.01


def test_grades_count_every_counted_project_once_with_its_money(province):
    s = province["summary"]
    grades = rows(s, "grades")
    assert [g["grade"] for g in grades] == ["优秀", "良好", "较差", "差"]
    assert sum(g["projects"] for g in grades) == 6
    assert sum(g["budget"] for g in grades) == pytest.approx(s.totals["budget"])
    assert sum(g["share"] for g in grades) == pytest.approx(1)
    assert sum(g["budget_share"] for g in grades) == pytest.approx(1)
    assert sum(b["projects"] for b in rows(s, "score_buckets")) == 6


def test_a_return_with_errors_is_listed_but_not_counted_and_the_missing_one_is_named(province):
    s = province["summary"]
    bad = [r for r in rows(s, "projects") if r["status"] == "有错误"]
    assert len(bad) == 1 and bad[0]["errors"] == 1 and bad[0]["counted"] == "否" and bad[0]["county"] == "芙蓉区"
    assert any(f["code"] == "score-range" and f["severity"] == "错误" and f["county"] == "芙蓉区"
               for f in rows(s, "findings"))
    missing = {(m["county"], m["project"]): m for m in rows(s, "missing")}
    assert set(missing) == {("芙蓉区", P1), ("长沙县", P2)}
    assert missing[("长沙县", P2)]["reason"] == "未提交" and missing[("长沙县", P2)]["contact"] == "@SUM(1)"
    assert missing[("芙蓉区", P1)]["reason"] == "有错误" and missing[("芙蓉区", P1)]["errors"] == 1


def test_indicator_analysis_shares_come_from_counted_returns(province):
    s = province["summary"]
    total = rows(s, "indicator_analysis")[0]
    n_counted = sum(1 for r in rows(s, "indicators") if r["counted"] == "是")
    assert total["count"] == n_counted
    assert total["met"] + total["partly"] + total["not_met"] + total["unknown"] == n_counted
    level1 = [r for r in rows(s, "indicator_analysis") if r["level"] == "一级"]
    assert [r["level1"] for r in level1] == ["产出指标", "效益指标", "满意度指标"]
    assert sum(r["count"] for r in level1) == n_counted
    top = rows(s, "top_not_met")
    assert top and top[0]["not_fully_met"] >= top[-1]["not_fully_met"]


def test_formula_like_text_from_returns_stays_text_in_the_workbook(province):
    wb = openpyxl.load_workbook(province["xlsx"])
    found = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value in INJECTIONS + ["@SUM(1)"]:
                    found.setdefault(c.value, set()).add((ws.title, c.data_type))
    assert set(found) == set(INJECTIONS)
    assert all(dt == "s" for hits in found.values() for _, dt in hits)
    assert {t for t, _ in found["@SUM(1)"]} == {"指标明细", "未提交"}
    with zipfile.ZipFile(province["xlsx"]) as z:
        assert not any("<f>" in z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_formula_like_text_is_neutralised_in_csv_and_the_notes_say_so(province, tmp_path):
    export_csv(province["summary"], tmp_path)
    raw = (tmp_path / "indicators.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    df = pd.read_csv(tmp_path / "indicators.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    names = set(df["三级指标"])
    assert {"'" + x for x in INJECTIONS} <= names and not set(INJECTIONS) & names
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for col in df.columns for v in df[col] if v)
    miss = pd.read_csv(tmp_path / "missing.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert "'@SUM(1)" in set(miss["联系人"])
    notes = [r for r in openpyxl.load_workbook(province["xlsx"])["说明"].iter_rows(values_only=True)]
    assert any(r[0] == "CSV 导出" and "单引号" in r[1] for r in notes)
    parquet = {p.stem: p for p in export_parquet(province["summary"], tmp_path / "pq")}
    assert set(INJECTIONS) <= set(pd.read_parquet(parquet["indicators"])["三级指标"])      # Parquet keeps the text


def test_csv_and_parquet_round_trip_with_the_same_rows_and_totals(province, tmp_path):
    s = province["summary"]
    csvs = {p.stem: p for p in export_csv(s, tmp_path / "csv")}
    parqs = {p.stem: p for p in export_parquet(s, tmp_path / "parquet")}
    want = frames(s)
    assert {"overview", "regions", "projects", "indicators", "indicator_analysis", "findings", "missing"} <= set(csvs)
    assert set(csvs) == set(parqs) == set(want)
    for name, df in want.items():
        c = pd.read_csv(csvs[name], encoding="utf-8-sig")
        p = pd.read_parquet(parqs[name])
        assert len(c) == len(p) == len(df) == len(s.tables[name].rows), name
        assert list(p.columns) == s.tables[name].titles(), name
        # CSV: a percentage as shown in the workbook, followed by its number for analysis.
        assert [t for t in c.columns if not t.endswith("（小数）")] == s.tables[name].titles(), name
    for got in (pd.read_csv(csvs["projects"], encoding="utf-8-sig"), pd.read_parquet(parqs["projects"])):
        ok = got[got["计入汇总"] == "是"]
        assert ok["全年预算数（万元）"].sum() == pytest.approx(s.totals["budget"])
        assert ok["全年执行数（万元）"].sum() == pytest.approx(s.totals["spent"])
    regions = pd.read_parquet(parqs["regions"])
    assert regions.iloc[0]["Σ全年预算数（万元）"] == pytest.approx(s.totals["budget"])
    assert str(regions["应报项目"].dtype) == "Int64"


def test_the_workbook_has_every_sheet_frozen_filtered_and_its_charts(province):
    wb = openpyxl.load_workbook(province["xlsx"])
    assert wb.sheetnames == ["说明", "总体情况", "按地区汇总", "项目明细", "指标明细", "指标分析", "问题清单", "未提交",
                             "疑似雷同说明"]
    for name in ("按地区汇总", "项目明细", "指标明细", "问题清单", "未提交"):
        ws = wb[name]
        assert re.fullmatch(r"[A-Z]+2", ws.freeze_panes or ""), name      # header row frozen
        assert ws.auto_filter.ref, name
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9, name
        assert ws.print_title_rows, name
    proj = wb["项目明细"]
    header = [c.value for c in proj[1]]
    rate_col = header.index("执行率") + 1
    assert proj.cell(2, rate_col).number_format == "0.00%"
    assert proj.cell(2, header.index("全年预算数（万元）") + 1).number_format == "#,##0.00"
    assert proj.conditional_formatting, "执行率 < 90 % and 差/较差 must be marked"
    with zipfile.ZipFile(province["xlsx"]) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart") and n.endswith(".xml")]
    assert len(charts) == 3


def test_the_summary_workbook_converts_to_pdf_in_libreoffice(province, libreoffice, tmp_path):
    pdf = convert(province["xlsx"], "pdf", tmp_path)
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000


def test_a_folder_without_roster_is_aggregated_in_parallel(province, tmp_path):
    out = tmp_path / "folder.xlsx"
    s = aggregate_paths([province["folder"]], out=out, jobs=2, progress=False,
                        csv_dir=tmp_path / "csv", parquet_dir=tmp_path / "pq")
    assert out.exists() and (tmp_path / "csv" / "projects.csv").exists() and (tmp_path / "pq" / "projects.parquet").exists()
    assert s.counts["projects_expected"] is None and s.tables["missing"].rows == []
    assert s.counts["projects_returned"] == 7 and s.counts["projects_valid"] == 6
    assert s.totals["budget"] == pytest.approx(province["summary"].totals["budget"])
    # without a roster the region comes from nowhere in these files: one 未识别地区 row
    assert [r["name"] for r in s.tables["regions"].rows] == ["合计", "未识别地区"]


def test_check_files_gives_the_same_results_in_process_and_in_a_pool(province):
    paths = sorted(province["folder"].glob("*.xlsx")) * 6      # > one chunk, several chunks in flight
    one = [(r.path, r.total_score, r.errors) for r in check_files(paths, jobs=1, progress=False)]
    two = [(r.path, r.total_score, r.errors) for r in check_files(paths, jobs=2, progress=False, chunk=4)]
    assert one == two and [p for p, _, _ in one] == [str(p) for p in paths]


def test_frame_gives_a_projects_table_from_files_or_results(province):
    paths = sorted(province["folder"].glob("*.xlsx"))
    df = frame(paths, jobs=1)
    assert len(df) == 7 and df["错误数"].sum() == 1
    ind = frame([e.result for e in province["entries"]], "indicators", keys=True)
    assert set(INJECTIONS) <= set(ind["name"])


# ---------------------------------------------------------------- roll-up rules, on plain results


def result(path: str, budget: float, spent: float, score: float, grade: str, errors: int = 0):
    from xlperf.judge.check import CheckResult
    from xlperf.judge.findings import Finding
    return CheckResult(path=path, form=SPEC.id, year=YEAR, funds={"budget": budget, "spent": spent,
                                                                  "rate": spent / budget, "score": 10.0},
                       total_score=score, grade=grade,
                       findings=[Finding("score-range", "error", "得分超过分值", path)] * errors)


def exp(i: int, region: str, name: str) -> Expected:
    return Expected(i, f"U{i}", f"单位{i}", region, name, f"项目{i}", f"P{i}", "", "", None)


def test_a_resubmission_replaces_the_earlier_return_and_only_the_latest_counts():
    e = exp(1, "430527", "绥宁县")
    entries = [Entry(result("v1.xlsx", 100, 50, 70, "较差", errors=1), e, "v1.xlsx", "2025-03-01T09:00:00"),
               Entry(result("v2.xlsx", 100, 95, 95, "优秀"), e, "v2.xlsx", "2025-03-05T09:00:00")]
    s = summarize(entries, [e], year=YEAR, form=SPEC.id, produced_from="test")
    assert [(r["source"], r["status"], r["counted"]) for r in rows(s, "projects")] == [
        ("v1.xlsx", "已被新版本替代", "否"), ("v2.xlsx", "合格", "是")]
    assert s.counts["projects_returned"] == 1 and s.counts["superseded"] == 1
    assert s.totals["spent"] == 95 and rows(s, "findings") == [] and rows(s, "missing") == []


def test_units_of_a_city_itself_sit_in_its_own_row_so_counties_still_add_up():
    roster = [exp(1, "430500", "邵阳市"), exp(2, "430527", "绥宁县"), exp(3, "430000", "湖南省")]
    entries = [Entry(result(f"{i}.xlsx", 100 * i, 90 * i, 90, "良好"), roster[i - 1], f"{i}.xlsx") for i in (1, 2, 3)]
    s = summarize(entries, roster, year=YEAR, form=SPEC.id, produced_from="test")
    got = [(r["level"], r["code"], r["name"], r["budget"]) for r in rows(s, "regions")]
    assert got == [("合计", "", "合计", 600), ("省", "430000", "湖南省", 600), ("市", "430500", "邵阳市", 300),
                   ("县（区）", "430527", "绥宁县", 200), ("县（区）", "430500", "邵阳市本级", 100),
                   ("省本级", "430000", "湖南省本级", 300)]
    own = next(r for r in rows(s, "regions") if r["level"] == "省本级")
    assert own["parent"] == "430000"                        # under its province, at province level


def test_districts_of_a_municipality_roll_straight_up_to_it():
    roster = [exp(1, "110105", "朝阳区"), exp(2, "500101", "万州区")]
    entries = [Entry(result("1.xlsx", 10, 9, 90, "良好"), roster[0], "1.xlsx")]
    s = summarize(entries, roster, year=YEAR, form=SPEC.id, produced_from="test")
    got = [(r["level"], r["name"], r["expected"], r["returned"], r["_parent"]) for r in rows(s, "regions")]
    assert got == [("合计", "合计", 2, 1, ""), ("省", "北京市", 1, 1, "total"), ("县（区）", "朝阳区", 1, 1, "110000"),
                   ("省", "重庆市", 1, 0, "total"), ("县（区）", "万州区", 1, 0, "500000")]
    assert [m["project"] for m in rows(s, "missing")] == ["项目2"]


def test_a_file_that_kills_its_reader_process_does_not_stop_the_run(tmp_path, monkeypatch):
    """A reader that aborts (as a native library can on a damaged file) takes down one worker, not the province."""
    import os

    from xlperf.judge import batch
    from xlperf.judge.check import check as real_check
    from xlperf.form.spec import load_form
    from xlperf.form.template import write_template

    spec = load_form("project-county")
    files = []
    for i in range(40):
        p = tmp_path / f"{i:02d}.xlsx"
        write_template(spec, 2024, p)
        files.append(p)
    crash = files[17]

    def check_or_die(path, *a, **kw):      # workers are forked, so they inherit this patch
        if str(path) == str(crash):
            os._exit(134)
        return real_check(path, *a, **kw)

    monkeypatch.setattr(batch, "check", check_or_die)
    results = list(batch.check_files(files, jobs=2, progress=False, chunk=4))
    assert [r.path for r in results] == [str(p) for p in files]          # all of them, in order
    crashed = [r for r in results if r.findings and r.findings[0].code == "reader-crashed"]
    assert [r.path for r in crashed] == [str(crash)]
    assert all(r.form == "project-county" for r in results if r is not crashed[0])
