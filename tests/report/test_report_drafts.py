"""The written reports of a simulated province: every figure in the .docx is the return's and the summary workbook's.

One province is simulated once for the module (roster → generated workbooks →
counties fill them, one late with a low execution rate, one with an
unexplained shortfall, one never returns → collect); each test then drafts
reports the way the office does and reads them back as a reader would.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import docx
import openpyxl
import pytest
from click.testing import CliRunner
from docx.enum.text import WD_COLOR_INDEX
from docx.shared import Pt

from helpers.libreoffice import convert_many
from xlperf.cli import main
from xlperf.demo.simulate import fill_return
from xlperf.judge.check import check
from xlperf.season.collect import collect
from xlperf.season.generate import generate
from xlperf.season.roster import save_roster
from xlperf.season.roster_sample import sample_roster
from xlperf.season.workspace import init_workspace

PAGES = Path("/tmp/xlperf-report-pages")
FONTS_CONF = Path(__file__).resolve().parent.parent / "helpers" / "fonts.conf"


# ---------------------------------------------------------------- how the figures read

def money(x: float) -> str:
    return f"{x:,.2f}"


def pct(x: float) -> str:
    return f"{x * 100:.2f}%"


def pts(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def text_of(path: Path) -> str:
    d = docx.Document(str(path))
    parts = [p.text for p in d.paragraphs]
    for t in d.tables:
        parts.extend(c.text for row in t.rows for c in row.cells)
    return "\n".join(parts)


def table_rows(path: Path, first_header: str) -> list[list[str]]:
    """Rows (cell texts) of the table whose first header cell is `first_header`."""
    d = docx.Document(str(path))
    for t in d.tables:
        rows = [[c.text.strip() for c in r.cells] for r in t.rows]
        if rows and rows[0][0] == first_header:
            return rows
    raise AssertionError(f"no table headed {first_header} in {path.name}")


# ---------------------------------------------------------------- the province

@pytest.fixture(scope="module")
def province(tmp_path_factory):
    root = tmp_path_factory.mktemp("province")
    ws = init_workspace(root / "ws", year=2024, form="project-county", deadline="2025-03-31")
    conn = ws.connect()
    save_roster(conn, sample_roster(n_cities=3, counties_per_city=2, projects=1, seed=5))
    conn.close()
    generate(ws)
    outbox = sorted(ws.outbox.glob("*.xlsx"))
    back = root / "回收"
    back.mkdir()
    returned = {}
    for i, path in enumerate(outbox[:-1]):                 # the last unit never returns
        mistakes = ("score-above-weight", "no-reason") if i == 2 else ()   # open errors, a shortfall unexplained
        returned[path.name] = fill_return(path, back / path.name, seed=i, mistakes=mistakes,
                                          spent_share=0.8 if i == 1 else None)
    collect(ws, str(back))
    return ws, returned


def run(ws, *args) -> object:
    result = CliRunner().invoke(main, ["report", "-w", str(ws.root), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def unit_args(path: Path) -> tuple[str, str]:
    """(unit code, project code) of a generated workbook, from its signed identity sheet."""
    wb = openpyxl.load_workbook(path, read_only=True)
    meta = {r[0]: r[1] for r in wb["_xlperf"].iter_rows(values_only=True)}
    wb.close()
    return meta["unit_code"], meta["project_code"]


# ---------------------------------------------------------------- a unit's 自评报告

def test_a_units_report_states_every_figure_of_its_return(province, tmp_path):
    ws, returned = province
    name, path = sorted(returned.items())[1]              # the one with an 80 % execution rate
    unit, project = unit_args(path)
    out = tmp_path / "自评报告.docx"
    res = run(ws, unit, project, "-o", str(out))
    assert res.exit_code == 0 and "已起草自评报告" in res.output
    expected = check(path)
    f = expected.funds
    text = text_of(out)
    assert (f"全年预算数{money(f['budget'])}万元，全年执行数{money(f['spent'])}万元，"
            f"预算执行率{pct(f['rate'])}") in text
    assert "预算执行率低于90%，【请补充：资金未执行完毕的原因】" in text
    rows = {r[2]: r for r in table_rows(out, "一级指标")[1:]}
    for ind in expected.indicators:
        row = rows[ind.name]
        assert row[:2] == [ind.level1, ind.level2]
        assert row[3:7] == [ind.target, ind.actual, pts(ind.weight), pts(ind.score)], ind.name
    assert f"本项目自评得分{pts(expected.total_score)}分，评价等级为“{expected.grade}”" in text
    assert rows["总分"][-3:] == ["100", pts(expected.total_score), expected.grade]
    # … and the same figures as the province summary workbook's 项目明细 row
    wb_path = ws.reports_dir / "check.xlsx"
    assert CliRunner().invoke(main, ["aggregate", "-w", str(ws.root), "-o", str(wb_path)]).exit_code == 0
    sheet = openpyxl.load_workbook(wb_path)["项目明细"]
    head = [c.value for c in sheet[1]]
    line = next(dict(zip(head, (c.value for c in r))) for r in sheet.iter_rows(min_row=2)
                if r[head.index("单位代码")].value == unit)
    assert money(line["全年预算数（万元）"]) in text and money(line["全年执行数（万元）"]) in text
    assert pct(line["执行率"]) in text and f"评价等级为“{line['等级']}”" in text
    assert f"自评得分{pts(line['总分'])}分" in text


def test_open_findings_close_the_draft_as_items_to_verify_and_gaps_are_highlighted(province, tmp_path):
    ws, returned = province
    name, path = sorted(returned.items())[2]              # 得分 below 分值 without a 偏差原因
    unit, project = unit_args(path)
    out = tmp_path / "有错误.docx"
    assert run(ws, unit, project, "-o", str(out)).exit_code == 0
    expected = check(path)
    assert expected.errors
    text = text_of(out)
    assert "待核实事项" in text and f"错误{expected.errors}个" in text
    rows = table_rows(out, "序号")[1:]
    assert len(rows) == len(expected.findings)
    for f, row in zip(expected.findings, rows):
        assert row[2] == (f.cell or "—") and row[3] in f.message
    assert "偏差原因及改进措施：【请补充：未完成的原因及拟采取的改进措施】" in text
    asks = [r for p in docx.Document(str(out)).paragraphs for r in p.runs if "【请补充" in r.text]
    assert asks and all(r.text.startswith("【请补充") and r.text.endswith("】") for r in asks)
    assert all(r.font.highlight_color == WD_COLOR_INDEX.YELLOW for r in asks)


def test_a_clean_return_says_so_and_any_return_file_can_be_drafted_without_a_workspace(province, tmp_path):
    _, returned = province
    path = sorted(returned.values())[0]
    expected = check(path)
    out = tmp_path / "单独.docx"
    res = CliRunner().invoke(main, ["report", str(path), "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = text_of(out)
    assert f"全年预算数{money(expected.funds['budget'])}万元" in text
    if not expected.findings:
        assert "未发现需要核实的问题" in text


def test_the_draft_is_set_like_an_official_document(province, tmp_path):
    ws, returned = province
    unit, project = unit_args(sorted(returned.values())[0])
    out = tmp_path / "版式.docx"
    run(ws, unit, project, "-o", str(out))
    d = docx.Document(str(out))
    sec = d.sections[0]
    assert (round(sec.page_width.mm), round(sec.page_height.mm)) == (210, 297)
    normal = d.styles["Normal"]
    rfonts = normal.element.rPr.rFonts
    assert rfonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == "仿宋_GB2312"
    assert normal.font.size == Pt(16)
    ind = normal.element.pPr.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}ind")
    assert ind.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}firstLineChars") == "200"
    title = d.styles["Title"].element.rPr.rFonts
    assert title.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == "方正小标宋简体"
    assert d.paragraphs[0].style.name == "Title"
    indicators = d.tables[0]._tbl.xml                     # 一级/二级指标 merged down their groups, as on the form
    assert indicators.count('w:vMerge w:val="restart"') >= 3


def test_a_province_rewords_the_report_in_its_template_without_code(province, tmp_path, monkeypatch):
    ws, returned = province
    templates = tmp_path / "templates"
    shutil.copytree(Path(__file__).resolve().parents[2] / "templates", templates)
    tpl = docx.Document(str(templates / "reports" / "unit.docx"))
    para = next(p for p in tpl.paragraphs if p.text.startswith("（一）预算下达情况"))
    para.runs[0].text = "（一）资金下达"
    tpl.save(str(templates / "reports" / "unit.docx"))
    monkeypatch.setenv("XLPERF_TEMPLATES", str(templates))
    unit, project = unit_args(sorted(returned.values())[0])
    out = tmp_path / "改过.docx"
    assert run(ws, unit, project, "-o", str(out)).exit_code == 0
    text = text_of(out)
    assert "（一）资金下达" in text and "（一）预算下达情况" not in text


def test_unknown_unit_and_missing_arguments_get_one_clear_line(province):
    ws, _ = province
    res = run(ws, "不存在的单位")
    assert res.exit_code == 2 and "名单中没有单位“不存在的单位”" in res.output and "report-unit-unknown" in res.output
    res = run(ws)
    assert res.exit_code == 2 and "report-usage" in res.output


def test_a_unit_that_never_returned_gets_no_draft(province):
    ws, returned = province
    never = sorted(ws.outbox.glob("*.xlsx"))[-1]
    unit, project = unit_args(never)
    res = run(ws, unit, project)
    assert res.exit_code == 2 and "尚未收到回传" in res.output


# ---------------------------------------------------------------- --all and --province

def test_all_drafts_one_report_per_valid_return(province, tmp_path):
    ws, returned = province
    out = tmp_path / "全部"
    res = run(ws, "--all", "-o", str(out))
    assert res.exit_code == 0, res.output
    valid = [p for p in returned.values() if check(p).errors == 0]
    drafted = sorted(out.glob("*.docx"))
    assert len(drafted) == len(valid) and f"已起草自评报告 {len(valid)} 份" in res.output
    assert all("2024年度自评报告" in p.name for p in drafted)


def test_drafts_made_in_worker_processes_read_as_those_made_here(province, tmp_path, monkeypatch):
    """A province drafts thousands of reports with --all: they are made in parallel, the same documents."""
    from xlperf.report import workspace as wsr
    ws, _ = province

    def texts(folder: Path) -> dict[str, list[str]]:
        return {p.name: [para.text for para in docx.Document(p).paragraphs] +
                [c.text for t in docx.Document(p).tables for row in t.rows for c in row.cells]
                for p in sorted(folder.glob("*.docx"))}
    monkeypatch.setattr(wsr, "POOL_MIN", 10**9)
    here = wsr.draft_all(ws, tmp_path / "here")
    monkeypatch.setattr(wsr, "POOL_MIN", 1)
    pooled = wsr.draft_all(ws, tmp_path / "pooled")
    assert [p.name for p in pooled.written] == [p.name for p in here.written] and len(here.written) >= 2
    assert texts(tmp_path / "pooled") == texts(tmp_path / "here")


def test_the_province_report_figures_equal_the_summary_workbooks(province):
    ws, _ = province
    res = run(ws, "--province")
    assert res.exit_code == 0, res.output
    report = ws.reports_dir / "2024年度自评汇总分析报告.docx"
    workbook = ws.reports_dir / "2024年度自评汇总表.xlsx"
    text = text_of(report)
    sheet = openpyxl.load_workbook(workbook)["按地区汇总"]
    head = [c.value for c in sheet[1]]
    lines = [dict(zip(head, (c.value for c in r))) for r in sheet.iter_rows(min_row=2)]
    total = next(r for r in lines if r["层级"] == "合计")
    assert (f"全年预算数合计{money(total['Σ全年预算数（万元）'])}万元，全年执行数合计{money(total['Σ全年执行数（万元）'])}万元，"
            f"总体预算执行率{pct(total['执行率'])}") in text
    assert (f"应报自评单位{total['应报单位']}个、项目{total['应报项目']}个；已报单位{total['已报单位']}个、"
            f"项目{total['已报项目']}个。其中合格（计入汇总）项目{total['合格项目']}个") in text
    grades = ["优秀", "良好", "较差", "差"]
    grade_rows = {r[0]: r for r in table_rows(report, "等级")[1:]}
    for g in grades:
        assert grade_rows[g][1] == str(total[g])
        assert (f"评为“{g}”的项目{total[g]}个" in text) == (total[g] > 0)    # no sentence about an empty grade
    assert sum(total[g] for g in grades) == total["合格项目"]
    cities = {r[0]: r for r in table_rows(report, "市")[1:]}
    for city in (r for r in lines if r["层级"] == "市"):
        row = cities[city["地区名称"]]
        assert row[1:4] == [str(city["应报项目"]), str(city["已报项目"]), str(city["合格项目"])]
        assert row[4:7] == [money(city["Σ全年预算数（万元）"]), money(city["Σ全年执行数（万元）"]), pct(city["执行率"])]
    assert cities["合计"][6] == pct(total["执行率"])
    missing = openpyxl.load_workbook(workbook)["未提交"]
    assert f"名单中没有合格回传的项目{missing.max_row - 1}个" in text
    # the fill-in text every county copies is spotted across units
    assert "疑似雷同" in text and "受政策调整和系统升级影响" in text
    # charts are pictures in the document
    assert len(docx.Document(str(report)).inline_shapes) == 3


# ---------------------------------------------------------------- a real reader: LibreOffice

@pytest.mark.libreoffice
@pytest.mark.slow
def test_reports_open_in_libreoffice_and_render_to_pages(province, libreoffice, tmp_path, monkeypatch):
    """Each report converts to PDF; the unit report with open findings and the province report are kept as
    PNG pages to look at."""
    ws, returned = province
    monkeypatch.setenv("FONTCONFIG_FILE", str(FONTS_CONF))       # closest free faces for the official fonts
    units = tmp_path / "units"
    assert run(ws, "--all", "-o", str(units)).exit_code == 0
    with_errors = units / "有错误的单位.docx"
    assert run(ws, *unit_args(sorted(returned.values())[2]), "-o", str(with_errors)).exit_code == 0
    assert run(ws, "--province").exit_code == 0
    reports = sorted(units.glob("*.docx")) + [ws.reports_dir / "2024年度自评汇总分析报告.docx"]
    pdfs = convert_many(reports, "pdf", tmp_path / "pdf")
    assert all(p.stat().st_size > 10_000 for p in pdfs)
    if not shutil.which("pdftoppm"):
        pytest.skip("poppler-utils not installed; scripts/test.sh installs it")
    for pdf in pdfs:
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
        assert "绩效" in text and "万元" in text
    province_pdf = pdfs[-1]
    budget = next(ln for ln in text_of(reports[-1]).splitlines() if "全年预算数合计" in ln)
    figure = re.search(r"全年预算数合计([\d,.]+)万元", budget).group(1)
    assert figure in subprocess.run(["pdftotext", str(province_pdf), "-"], capture_output=True, text=True).stdout
    PAGES.mkdir(parents=True, exist_ok=True)
    unit_pdf = pdfs[reports.index(with_errors)]
    for pdf, stem in ((unit_pdf, "unit"), (province_pdf, "province")):
        for old in PAGES.glob(f"{stem}-*.png"):
            old.unlink()
        subprocess.run(["pdftoppm", "-r", "80", "-png", str(pdf), str(PAGES / stem)], check=True)
        assert list(PAGES.glob(f"{stem}-*.png"))


def test_whatever_a_county_typed_comes_through_as_plain_text(province, tmp_path):
    """Markup, Jinja braces and control characters in a 偏差原因 never break or steer the document."""
    from xlperf.report.unit import draft_unit_report
    _, returned = province
    result = check(sorted(returned.values())[2])
    short = next(i for i in result.indicators if i.score is not None and i.score < i.weight)
    short.reason = "执行率<90% & 资金>0\x07；{{ 7*7 }}{% if true %}x{% endif %}"
    out = draft_unit_report(result, tmp_path / "原样.docx")
    assert "执行率<90% & 资金>0；{{ 7*7 }}{% if true %}x{% endif %}" in text_of(out)
