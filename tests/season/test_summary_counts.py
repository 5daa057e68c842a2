"""The summary of a workspace counts every file received: resubmitted ones and unmatched ones too."""
from __future__ import annotations

import openpyxl

from xlperf.demo.simulate import fill_return
from xlperf.form.samples import example_form_data
from xlperf.form.spec import load_form
from xlperf.form.template import write_template
from xlperf.province.workspace import aggregate_workspace
from xlperf.season.collect import collect

from test_loop import make_workspace


def test_received_files_count_every_version_and_the_notes_describe_what_is_there(tmp_path):
    ws = make_workspace(tmp_path, n_cities=1, counties=1, projects=2)
    first, second = sorted(ws.outbox.glob("*.xlsx"))
    batch1 = tmp_path / "第一批"
    batch1.mkdir()
    fill_return(first, batch1 / "v1.xlsx", seed=1, mistakes=("score-above-weight",))
    stranger = batch1 / "外单位.xlsx"          # a form from a unit not on the roster
    write_template(load_form(ws.form), ws.year, stranger, example_form_data(load_form(ws.form), unit="某某县财政局",
                                                                              project="某某专项资金"))
    collect(ws, str(batch1))
    batch2 = tmp_path / "第二批"
    batch2.mkdir()
    fill_return(first, batch2 / "v2.xlsx", seed=1)                 # the corrected resubmission
    collect(ws, str(batch2))

    s = aggregate_workspace(ws, ws.reports_dir / "汇总.xlsx")
    assert (s.counts["files"], s.counts["superseded"], s.counts["unmatched"]) == (3, 1, 1)
    statuses = sorted(r["status"] for r in s.tables["projects"].rows)
    assert statuses.count("已被新版本替代") == 1

    wb = openpyxl.load_workbook(ws.reports_dir / "汇总.xlsx")
    notes = {r[0]: r[1] for r in wb["说明"].iter_rows(min_row=3, max_col=2, values_only=True) if r[0]}
    assert notes["收到文件"] == "3 个（其中 1 个已被新版本替代）"
    assert notes["项目明细"].startswith("3 份回传")
    assert notes["未提交"].startswith("名单中 1 个项目没有合格回传")      # the second project never came back
    assert set(wb.sheetnames) - {"说明"} <= set(notes)                    # every sheet described, none invented
    assert second.exists()
