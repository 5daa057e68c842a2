"""The copy a county corrects: a fresh, protected, signed form with what it typed and its problems marked."""
from __future__ import annotations

import re
import shutil

import openpyxl
import pytest

from helpers.formfill import cell, named
from helpers.libreoffice import convert, run_uno_script
from xlperf.demo.simulate import fill_return
from xlperf.judge.check import check
from xlperf.judge.identity import verifier
from xlperf.season.collect import collect
from xlperf.season.remind import remind

from test_loop import make_workspace

CODE = re.compile(r"\b[a-z]+(?:-[a-z]+)+\b")       # an English finding code such as score-range

_PROTECTION = r'''
import json
doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(args[0]), "_blank", 0, (pv("Hidden", True),))
sheet = doc.Sheets.getByIndex(0)
names = doc.NamedRanges
def at(name):
    return sheet.getCellRangeByName(names.getByName(name).getContent().split("!")[-1].replace("$", ""))
print(json.dumps({"protected": sheet.isProtected(),
                  "total_locked": at("total_score").CellProtection.IsLocked,
                  "spent_locked": at("funds_current_spent").CellProtection.IsLocked,
                  "formula": at("total_score").getFormula()}))
doc.close(True)
'''


def _broken_return(src, dst, tmp_path):
    """What a hurried clerk sends: protection removed, formulas typed over, a score above its 分值,
    an approved target changed, plus a contact and an indicator of its own in a spare row."""
    filled = fill_return(src, tmp_path / "filled.xlsx", seed=3,
                         mistakes=("score-above-weight", "typed-rate", "wrong-target"))
    wb = openpyxl.load_workbook(filled)
    ws, r0, _, r1, _ = named(wb, "ind_name")
    ws.protection.sheet = False
    cell(wb, "total_score").value = 88
    cell(wb, "project_leader").value = "王芳 0739-7654321"
    cols = {k: named(wb, f"ind_{k}")[2] for k in ("name", "weight", "target", "actual", "score", "reason")}
    spare = next(r for r in range(r0, r1 + 1) if not ws.cell(r, cols["name"]).value)
    for k, v in {"name": "医保政策宣传场次", "weight": 0, "target": "≥10场", "actual": "12场", "score": 0}.items():
        ws.cell(spare, cols[k]).value = v
    wb.save(dst)
    return dst


@pytest.mark.libreoffice
def test_a_county_gets_a_correction_copy_it_can_fix_and_resend(tmp_path, libreoffice):
    ws = make_workspace(tmp_path, n_cities=1, counties=1, projects=1)
    src = sorted(ws.outbox.glob("*.xlsx"))[0]
    inbox = tmp_path / "回收"
    inbox.mkdir()
    sent = _broken_return(src, inbox / src.name, tmp_path)
    collect(ws, str(inbox))
    first = check(sent, extra=[verifier(ws.secret)])
    assert {"protection-removed", "formula-tampered", "score-range", "target-changed"} <= {f.code for f in first.findings}

    remind(ws, dry_run=True)
    copy, = ws.feedback_dir.rglob("*_更正.xlsx")
    wb = openpyxl.load_workbook(copy)
    form = wb[wb.sheetnames[0]]
    original = openpyxl.load_workbook(src)
    typed = openpyxl.load_workbook(sent)

    # Protection and formulas are back; the approved target is the approved one again.
    assert form.protection.sheet and form.protection.password
    assert str(cell(wb, "total_score").value).startswith("=") and str(cell(wb, "funds_total_rate").value).startswith("=")
    assert cell(wb, "total_score").protection.locked and cell(wb, "funds_total_rate").protection.locked
    o_ws, o0, oc, o1, _ = named(original, "ind_target")
    c_ws, c0, cc, c1, _ = named(wb, "ind_target")
    approved = [o_ws.cell(r, oc).value for r in range(o0, o1 + 1) if o_ws.cell(r, oc).value]
    now = [c_ws.cell(r, cc).value for r in range(c0, c1 + 1) if c_ws.cell(r, cc).value]
    assert sorted(now) == sorted(approved + ["≥10场"])              # approved ones, plus the clerk's own row

    # Everything the clerk typed in an input cell is carried over.
    assert cell(wb, "project_leader").value == "王芳 0739-7654321"
    assert cell(wb, "funds_current_spent").value == cell(typed, "funds_current_spent").value
    assert cell(wb, "goal_actual").value == cell(typed, "goal_actual").value
    t_ws, t0, tc, t1, _ = named(typed, "ind_actual")
    c_ws, c0, ac, c1, _ = named(wb, "ind_actual")
    assert sorted(str(c_ws.cell(r, ac).value) for r in range(c0, c1 + 1) if c_ws.cell(r, ac).value) == \
        sorted(str(t_ws.cell(r, tc).value) for r in range(t0, t1 + 1) if t_ws.cell(r, tc).value)
    n_ws, n0, nc, n1, _ = named(wb, "ind_name")
    added = next(r for r in range(n0, n1 + 1) if n_ws.cell(r, nc).value == "医保政策宣传场次")
    assert n_ws.cell(added, nc).protection.locked is False          # the clerk's own row stays editable

    # The problem cells are marked and explained; the 问题清单 is Chinese only, on one page.
    s_ws, s0, sc, s1, _ = named(wb, "ind_score")
    marked = [s_ws.cell(r, sc) for r in range(s0, s1 + 1) if s_ws.cell(r, sc).comment]
    assert marked and "超过分值" in marked[0].comment.text and marked[0].protection.locked is False
    issues = wb["问题清单"]
    texts = [str(v) for row in issues.iter_rows(values_only=True) for v in row if v is not None]
    assert any("超过分值" in t for t in texts) and not [t for t in texts if CODE.search(t)]
    assert issues.sheet_properties.pageSetUpPr.fitToPage and issues.page_setup.orientation == "landscape"

    # Signed for this unit: our own check finds no forged or changed identity, only what the clerk must fix.
    again = check(copy, extra=[verifier(ws.secret)])
    codes = {f.code for f in again.findings}
    assert not codes & {"signature-invalid", "identity-altered", "identity-missing", "target-changed",
                        "protection-removed", "formula-tampered"}, again.findings
    assert "score-range" in codes

    # In LibreOffice the formulas compute, the sheet is protected, and each sheet prints on one page.
    info = __import__("json").loads(run_uno_script(_PROTECTION, str(copy)).strip().splitlines()[-1])
    assert info["protected"] and info["total_locked"] and not info["spent_locked"] and info["formula"].startswith("=")
    calc = openpyxl.load_workbook(convert(copy, "xlsx", tmp_path / "lo"), data_only=True)
    scores = [v for v in (s_ws.cell(r, sc).value for r in range(s0, s1 + 1)) if isinstance(v, (int, float))]
    assert cell(calc, "total_score").value == pytest.approx(cell(calc, "funds_total_score").value + sum(scores))
    pdf = convert(copy, "pdf", tmp_path / "pdf").read_bytes()
    assert len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf)) == 2       # the form, the 问题清单

    # The clerk fixes the score in the copy and sends it back: accepted.
    w_col = named(wb, "ind_weight")[2]
    for c in marked:
        c.value = s_ws.cell(c.row, w_col).value
    fixed = tmp_path / "再次提交" / "fixed.xlsx"
    fixed.parent.mkdir()
    wb.save(fixed)
    final = check(fixed, extra=[verifier(ws.secret)])
    assert final.errors == 0, [f for f in final.findings if f.severity == "error"]
    shutil.rmtree(tmp_path / "lo", ignore_errors=True)
