"""The command line as a clerk meets it: Chinese throughout, JSON for every listing,
whole lines when piped to a file, honest file formats, feedback only where needed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from helpers.season import make_workspace
from xlperf.cli import main
from xlperf.demo.simulate import fill_return
from xlperf.form.spec import available_forms
from xlperf.judge.check import check

REPO = Path(__file__).resolve().parents[1]


def xlperf(*args):
    return CliRunner().invoke(main, [str(a) for a in args])

def outbox(tmp_path: Path) -> list[Path]:
    return sorted(make_workspace(tmp_path, n_cities=1, counties=2, projects=2, deadline=None).outbox.glob("*.xlsx"))

def test_clicks_own_words_are_chinese_in_help_and_errors():
    res = xlperf("--help")
    assert res.exit_code == 0
    assert "用法：" in res.output and "选项：" in res.output and "命令：" in res.output and "显示本帮助并退出" in res.output
    for english in ("Usage:", "Options", "Commands", "Show this message and exit"):
        assert english not in res.output
    res = xlperf("template", "-o", "x.xlsx")
    assert res.exit_code == 2 and "错误：缺少选项 '--year'" in res.output and "查看帮助" in res.output
    assert "Missing option" not in res.output and "Error" not in res.output
    res = xlperf("check")
    assert res.exit_code == 2 and "缺少参数" in res.output
    res = xlperf("chek")
    assert res.exit_code == 2 and "没有命令 'chek'" in res.output and "'check'" in res.output
    res = xlperf("template", "--year", "明年", "-o", "x.xlsx")
    assert res.exit_code == 2 and "不是有效的整数" in res.output


def test_every_listing_command_has_json(tmp_path):
    forms = json.loads(xlperf("forms", "--json").output)
    assert {f["id"] for f in forms["forms"]} == set(available_forms())
    outbox(tmp_path)
    status = json.loads(xlperf("status", "-w", tmp_path / "ws", "--json").output)
    assert status["regions"][0]["expected"] == 4 and len(status["pending"]) == 4 and status["problem_files"] == []
    shown = json.loads(xlperf("show", "-w", tmp_path / "ws", status["pending"][0]["unit_code"], "--json").output)
    assert len(shown["projects"]) == 2 and shown["projects"][0]["versions"] == []
    for command in ("forms", "status", "show", "check"):
        assert "--json" in xlperf(command, "--help").output


def test_output_piped_to_a_file_keeps_whole_lines(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    listing = tmp_path / "forms.txt"
    with open(listing, "w", encoding="utf-8") as fh:
        subprocess.run([sys.executable, "-m", "xlperf.cli", "forms"], stdout=fh, env=env, cwd=tmp_path, check=True)
    text = listing.read_text(encoding="utf-8")
    assert str(available_forms()["project-county"]) in text                 # the long path, not cut at 80
    src = outbox(tmp_path)[0]
    bad = fill_return(src, tmp_path / "有错误的表格_文件名也比较长_2024年度项目支出绩效自评.xlsx", seed=2,
                      mistakes=("score-above-weight", "no-reason"))
    report = tmp_path / "check.txt"
    with open(report, "w", encoding="utf-8") as fh:
        subprocess.run([sys.executable, "-m", "xlperf.cli", "check", str(bad)], stdout=fh, env=env, cwd=tmp_path)
    lines = report.read_text(encoding="utf-8").splitlines()
    messages = [f.message for f in check(bad).findings]
    assert messages and all(any(m in line for line in lines) for m in messages)
    assert any(len(line) > 80 for line in lines)
    res = CliRunner().invoke(main, ["--help"], env={"COLUMNS": ""})         # help too: every summary in full
    assert "及 CSV/Parquet。" in res.output and "..." not in res.output.split("命令：")[1]


def test_template_refuses_an_xls_name_rather_than_writing_xlsx_bytes_under_it(tmp_path):
    for name in ("自评表.xls", "自评表.ods"):
        res = xlperf("template", "--year", 2024, "-o", tmp_path / name)
        assert res.exit_code == 2 and ".xlsx" in res.output and "Traceback" not in res.output
        assert not (tmp_path / name).exists()
    assert xlperf("template", "--year", 2024, "-o", tmp_path / "自评表.xlsx").exit_code == 0


def test_check_feedback_writes_copies_only_for_files_with_findings(tmp_path):
    returns = tmp_path / "returns"
    returns.mkdir()
    files = [fill_return(p, returns / p.name, seed=i, mistakes=("score-above-weight",) if i == 0 else ())
             for i, p in enumerate(outbox(tmp_path))]
    with_findings = {f.stem for f in files if check(f).findings}
    assert 0 < len(with_findings) < len(files)
    res = xlperf("check", returns, "--feedback", tmp_path / "反馈")
    assert res.exit_code == 1
    copies = sorted((tmp_path / "反馈").glob("*.xlsx"))
    assert len(copies) == len(with_findings)
    assert all(any(c.name.startswith(stem) for stem in with_findings) for c in copies)
