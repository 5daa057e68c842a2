"""Reviewing what came back: `check` agrees with `collect`, files nobody counts are
listed with where they came from, and `xlperf show` tells what a resubmission changed."""
from __future__ import annotations

import json
import zipfile
from email import policy
from email.message import EmailMessage
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from helpers.handtyped import official_form
from helpers.mailservers import deliver
from xlperf.cli import main
from xlperf.demo.simulate import fill_return
from xlperf.judge.check import check
from helpers.season import make_workspace
from xlperf.season.collect import collect
from xlperf.season.roster import rows_from_db


def xlperf(*args):
    return CliRunner().invoke(main, [str(a) for a in args])

def workspace(tmp_path: Path, **mail):
    return make_workspace(tmp_path, n_cities=1, counties=2, projects=2, deadline=None, **mail)

def typed_copy_with_an_easier_target(ws, path: Path) -> Path:
    """A county typed the form itself and wrote an easier 年度指标值 than the approved one."""
    conn = ws.connect()
    row = rows_from_db(conn)[0]
    conn.close()
    ind = [(t.level1, t.level2, t.name, t.weight, t.target, t.target, t.weight, None) for t in row.targets]
    ind[0] = (*ind[0][:4], "≥1%", *ind[0][5:])
    return official_form(
        path, title="项目支出绩效目标自评表", subtitle="（2024年度）",
        header=[[("项目名称", row.project_name), ("项目负责人及电话", "王五")],
                [("主管部门", row.department), ("实施单位", row.unit_name)]],
        funds_label="资金情况(万元)", funds_cols=["全年预算数(A)", "全年执行数(B)", "分值", "执行率(B/A)", "得分"],
        funds_rows=[("年度资金总额：", row.budget, row.budget, 10, "100%", 10),
                    ("其中：本年财政拨款", row.budget, row.budget, "一", "100%", "一")],
        ind_cols=["一级指标", "二级指标", "三级指标", "分值", "年度指标值", "全年实际值", "得分", "未完成的原因及拟采取的改进措施"],
        indicators=ind)


# ---------------------------------------------------------------- item 10

def test_check_inside_a_workspace_gives_the_same_verdict_as_collect(tmp_path, monkeypatch):
    ws = workspace(tmp_path)
    inbox = tmp_path / "in"
    inbox.mkdir()
    copy = typed_copy_with_an_easier_target(ws, inbox / "自己录入.xlsx")

    alone = xlperf("check", "--json", copy)                      # no roster: the change cannot be seen
    assert "target-changed" not in alone.output

    with_ws = xlperf("check", "--json", "-w", ws.root, copy)
    doc = json.loads(with_ws.output)["files"][0]
    assert with_ws.exit_code == 1 and "target-changed" in {f["code"] for f in doc["findings"]}
    assert doc["roster"]["matched_by"] == "labels"

    monkeypatch.chdir(ws.root / "inbox")                         # run inside the workspace's folders
    inside = xlperf("check", copy)
    assert inside.exit_code == 1 and "target-changed" in inside.output and "名单：" in inside.output
    assert "按工作区" in inside.output

    collect(ws, str(inbox))
    conn = ws.connect()
    ret = conn.execute("SELECT id, status, errors, warnings FROM returns").fetchone()
    codes = sorted(r["code"] for r in conn.execute("SELECT code FROM findings WHERE return_id = ?", (ret["id"],)))
    conn.close()
    assert ret["status"] == "errors"
    assert (doc["errors"], doc["warnings"]) == (ret["errors"], ret["warnings"])
    assert sorted(f["code"] for f in doc["findings"]) == codes


# ---------------------------------------------------------------- item 11

def test_files_that_count_for_nobody_are_listed_with_name_sender_date_and_reason(tmp_path, imap_server):
    ws = workspace(tmp_path, imap_host=imap_server.host, imap_port=imap_server.port, imap_user=imap_server.user,
                   imap_password=imap_server.password)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "说明.txt").write_text("随附说明", encoding="utf-8")
    with zipfile.ZipFile(inbox / "情况报告.docx", "w") as z:           # what Word writes, in short
        z.writestr("[Content_Types].xml", '<Types><Override ContentType="application/vnd.openxmlformats-'
                   'officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr("word/document.xml", "<w:document/>")
    (inbox / "坏了.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 40)        # cut off in transit
    other = tmp_path / "blank.xlsx"
    assert xlperf("template", "--year", 2024, "-o", other).exit_code == 0
    stranger = fill_return(other, inbox / "别省的表.xlsx", seed=3)          # a form nobody on the roster sent

    good = sorted(ws.outbox.glob("*.xlsx"))[0]
    ret = fill_return(good, tmp_path / good.name, seed=1)
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = "县医保局 <ybj@county.gov.cn>", "jxb@example.gov.cn", "回复：自评表"
    msg.set_content("已填好，请查收。")
    msg.add_attachment(ret.read_bytes(), maintype="application", subtype="octet-stream", filename=ret.name)
    msg.add_attachment(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, maintype="image", subtype="png", filename="签名.png")
    deliver(imap_server, msg.as_bytes())
    msg = EmailMessage(policy=policy.SMTP)                              # the same logo comes with every mail
    msg["From"], msg["To"], msg["Subject"] = "县医保局 <ybj@county.gov.cn>", "jxb@example.gov.cn", "补充说明"
    msg.set_content("附件稍后补发。")
    msg.add_attachment(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, maintype="image", subtype="png", filename="签名.png")
    deliver(imap_server, msg.as_bytes())

    rep = collect(ws, str(inbox))
    assert sorted(rep.skipped) == ["情况报告.docx", "说明.txt"]
    rep = collect(ws, "imap")
    assert rep.new == [ret.name] and rep.skipped == ["签名.png", "签名.png"]

    conn = ws.connect()
    judged = {r["original_name"] for r in conn.execute("SELECT c.original_name FROM returns JOIN receipts c USING (sha256)")}
    conn.close()
    assert judged == {ret.name, "坏了.xlsx", stranger.name}               # pictures and notes are not returns

    res = xlperf("status", "-w", ws.root, "--export", tmp_path / "回收情况.xlsx")
    assert res.exit_code == 0
    for name in ("说明.txt", "情况报告.docx", "坏了.xlsx", "别省的表.xlsx", "签名.png", "ybj@county.gov.cn"):
        assert name in res.output
    sheet = openpyxl.load_workbook(tmp_path / "回收情况.xlsx")["未处理文件"]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == {"说明.txt", "情况报告.docx", "坏了.xlsx", "别省的表.xlsx", "签名.png"}
    assert "不是表格文件" in rows["情况报告.docx"][4] and "损坏" not in rows["情况报告.docx"][4]
    assert "损坏" in rows["坏了.xlsx"][4]
    assert "未能与名单匹配" in rows["别省的表.xlsx"][4]
    assert "ybj@county.gov.cn" in rows["签名.png"][1] and rows["签名.png"][3] == "邮箱"
    assert "共收到 2 次" in rows["签名.png"][4]                              # listed once, not once per mail
    assert all(r[2] for r in rows.values())                                # every one has its date

    js = json.loads(xlperf("status", "-w", ws.root, "--json").output)
    assert {p["name"] for p in js["problem_files"]} == set(rows)


# ---------------------------------------------------------------- item 12

def test_show_tells_a_reviewer_what_a_resubmission_changed(tmp_path, imap_server):
    ws = workspace(tmp_path, imap_host=imap_server.host, imap_port=imap_server.port, imap_user=imap_server.user,
                   imap_password=imap_server.password)
    src = sorted(ws.outbox.glob("*.xlsx"))[0]
    first = tmp_path / "v1"
    first.mkdir()
    fill_return(src, first / src.name, seed=1, mistakes=("score-above-weight",))
    collect(ws, str(first))
    fixed = fill_return(src, tmp_path / src.name, seed=1)
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = "ybj@county.gov.cn", "jxb@example.gov.cn", "更正后的自评表"
    msg.set_content("已按反馈修改。")
    msg.add_attachment(fixed.read_bytes(), maintype="application", subtype="octet-stream", filename=src.name)
    deliver(imap_server, msg.as_bytes())
    collect(ws, "imap")

    ident = check(src).identity
    conn = ws.connect()
    unit = next(r for r in rows_from_db(conn) if (r.unit_code, r.project_code) == (ident["unit_code"], ident["project_code"]))
    conn.close()
    res = xlperf("show", "-w", ws.root, unit.unit_name, unit.project_code)
    assert res.exit_code == 0, res.output
    for text in ("第1版", "第2版", "文件夹", "邮箱", "ybj@county.gov.cn", "第2版相对第1版的改动", "有错误", "合格"):
        assert text in res.output

    doc = json.loads(xlperf("show", "-w", ws.root, unit.unit_code, unit.project_name, "--json").output)
    (project,) = doc["projects"]
    v1, v2 = project["versions"]
    assert (v1["status"], v2["status"]) == ("errors", "valid") and v2["arrivals"][0]["source"] == "imap"
    (change,) = [c for c in v2["changes"] if "得分" in c["label"]]
    assert change["cell"] and float(change["old"]) > float(change["new"])
    assert change["cell"] in res.output
    assert not [f for f in project["findings"] if f["severity"] == "error"]

    res = xlperf("show", "-w", ws.root, "没有这个单位")
    assert res.exit_code == 2 and "没有这个单位" in res.output and "Traceback" not in res.output
