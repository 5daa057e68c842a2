"""What the roster carries into each unit's form: 年度总体目标, 项目负责人及电话, 年初预算数."""
from __future__ import annotations

import os

import openpyxl
from click.testing import CliRunner

from helpers.formfill import cell
from xlperf.cli import main
from xlperf.judge.check import check
from xlperf.judge.identity import verifier
from xlperf.season.workspace import open_workspace

GOAL = "全年城乡居民医保参保率稳定在95%以上，跨省异地就医直接结算率达到80%。"


def _season(tmp_path, form: str):
    """init → roster-template → the clerk types the roster → roster → generate, through the CLI."""
    runner = CliRunner()
    root = tmp_path / "2024自评"
    assert runner.invoke(main, ["init", str(root), "--year", "2024", "--form", form,
                                "--deadline", "2025-03-31"]).exit_code == 0
    cwd = os.getcwd()
    os.chdir(root)
    try:
        res = runner.invoke(main, ["roster-template", "-o", "名单.xlsx"])
        assert res.exit_code == 0, res.output
        wb = openpyxl.load_workbook(root / "名单.xlsx")
        ws = wb["名单"]
        header = [c.value for c in ws[1]]
        col = {str(h).replace("（万元）", ""): i + 1 for i, h in enumerate(header)}
        for r in range(3, ws.max_row + 1):      # keep one sample row
            for c in range(1, ws.max_column + 1):
                ws.cell(r, c).value = None
        ws.cell(2, col["联系人"]).value = "李明"
        ws.cell(2, col["联系电话"]).value = "0739-7621234"
        ws.cell(2, col["年度总体目标"]).value = GOAL
        key = (ws.cell(2, col["单位代码"]).value, ws.cell(2, col["项目代码"]).value)
        t = wb["绩效指标"]
        for r in range(2, t.max_row + 1):
            if (t.cell(r, 1).value, t.cell(r, 2).value) != key:
                for c in range(1, t.max_column + 1):
                    t.cell(r, c).value = None
        wb.save(root / "名单.xlsx")
        res = runner.invoke(main, ["roster", "名单.xlsx"])
        assert res.exit_code == 0, res.output
        assert runner.invoke(main, ["generate"]).exit_code == 0
    finally:
        os.chdir(cwd)
    ws_ = open_workspace(root)
    return ws_, header, next(ws_.outbox.glob("*.xlsx"))


def test_the_roster_fills_the_goal_locked_and_the_leader_with_phone_editable(tmp_path):
    ws, header, form = _season(tmp_path, "project-county")
    wb = openpyxl.load_workbook(form)
    goal = cell(wb, "goal_planned")
    assert goal.value == GOAL and goal.protection.locked is True          # approved: locked like the targets
    leader = cell(wb, "project_leader")
    assert leader.value == "李明 0739-7621234" and leader.protection.locked is False   # the unit may correct it
    # The county form has no 年初预算数 column, so the roster does not ask for it.
    assert not any("年初预算数" in str(h) for h in header)
    # A county that edits the approved goal is told so, at its cell.
    wb[wb.sheetnames[0]].protection.sheet = False
    goal.value = "随便写的目标"
    changed = tmp_path / "changed.xlsx"
    wb.save(changed)
    res = check(changed, extra=[verifier(ws.secret)])
    assert any(f.code == "target-changed" and f.cell == goal.coordinate for f in res.findings), res.findings


def test_the_national_form_asks_for_and_carries_the_initial_budget(tmp_path):
    ws, header, form = _season(tmp_path, "project")
    assert any("年初预算数" in str(h) for h in header)
    wb = openpyxl.load_workbook(form)
    assert isinstance(cell(wb, "funds_current_initial_budget").value, (int, float))
    assert cell(wb, "funds_current_initial_budget").protection.locked is True
