"""The province office's year: roster → generate → send → counties fill → collect → status → remind.

Real parts: an SMTP server (aiosmtpd) and a Dovecot IMAP server on 127.0.0.1,
LibreOffice re-saves, and a real SQLite ledger that survives a killed run.
"""
from __future__ import annotations

import io
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from email import policy
from email.message import EmailMessage

import openpyxl

from helpers.formfill import package_text
from helpers.libreoffice import convert
from helpers.mailservers import deliver
from helpers.season import make_workspace
from xlperf.season import db
from xlperf.judge.check import check
from xlperf.season.collect import collect
from xlperf.season.generate import generate
from xlperf.season.roster import save_roster
from xlperf.season.roster_sample import sample_roster
from xlperf.season.remind import remind
from xlperf.season.send import send
from xlperf.demo.simulate import fill_return
from xlperf.season.status import compute_status
from xlperf.season.workspace import init_workspace


def counts(ws):
    conn = ws.connect()
    try:
        return compute_status(conn).overall
    finally:
        conn.close()


def test_regenerating_is_idempotent_and_names_are_readable(tmp_path):
    ws = make_workspace(tmp_path)
    files = sorted(ws.outbox.glob("*.xlsx"))
    assert len(files) == 8
    assert files[0].name.startswith("43") and files[0].name.endswith("_2024.xlsx") and "医疗保障局" in files[0].name
    before = {p.name: p.read_bytes() for p in files}
    again = generate(ws)
    assert again.written == [] and len(again.unchanged) == 8
    assert {p.name: p.read_bytes() for p in ws.outbox.glob("*.xlsx")} == before


def test_a_generated_workbook_is_prefilled_locked_and_signed(tmp_path):
    ws = make_workspace(tmp_path)
    path = sorted(ws.outbox.glob("*.xlsx"))[0]
    wb = openpyxl.load_workbook(path)
    meta = {r[0].value: r[1].value for r in wb["_xlperf"].iter_rows()}
    assert meta["unit_code"] and meta["project_code"] and len(meta["signature"]) == 64
    assert ws.config["secret"] not in package_text(path) and ws.password not in package_text(path)
    r = check(path)
    assert r.unit == meta["unit_name"] and r.indicators and all(i.target for i in r.indicators)
    sheet = wb.worksheets[0]
    name_cell = wb.defined_names["project_name"].destinations
    (_, ref), = list(name_cell)
    assert sheet[ref.replace("$", "")].protection.locked is True     # identity is not editable


def test_the_whole_loop_with_real_mail_servers(tmp_path, smtp_server, imap_server, libreoffice):
    ws = make_workspace(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_server.port, sender="绩效办 <jxb@example.gov.cn>",
                        imap_host=imap_server.host, imap_port=imap_server.port, imap_user=imap_server.user,
                        imap_password=imap_server.password, rate_per_minute=6000)
    rep = send(ws)
    assert len(rep.sent) == 4                          # one message per unit, both projects attached
    arrived = smtp_server.messages
    assert len(arrived) == 4
    first = arrived[0]
    assert "自评表" in first["Subject"]
    names = [p.get_filename() for p in first.iter_attachments()]
    assert len(names) == 2 and all(n.endswith("_2024.xlsx") and "医疗保障局" in n for n in names)
    assert "2025-03-31" in first.get_body(("plain",)).get_content()
    assert send(ws).sent == []                          # a re-run does not send twice

    outbox = sorted(ws.outbox.glob("*.xlsx"))
    returns = tmp_path / "returns"
    returns.mkdir()
    # Six units return: two through LibreOffice (xlsx and xls), two by mail, one with mistakes; two never return.
    filled = [fill_return(p, returns / p.name, seed=i, mistakes=("score-above-weight",) if i == 2 else ())
              for i, p in enumerate(outbox[:6])]
    lo_xlsx = convert(filled[0], "xlsx", tmp_path / "lo")
    lo_xls = convert(filled[1], "xls", tmp_path / "lo")
    filled[0].unlink()
    filled[1].unlink()
    lo_xlsx.replace(returns / lo_xlsx.name)
    lo_xls.replace(returns / lo_xls.name)
    for p in filled[4:6]:
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"], msg["To"], msg["Subject"] = "ybj@example.gov.cn", "jxb@example.gov.cn", "回复：自评表"
        msg.set_content("已填好，请查收。")
        msg.add_attachment(p.read_bytes(), maintype="application", subtype="octet-stream", filename=p.name)
        deliver(imap_server, msg.as_bytes())
        p.unlink()

    rep = collect(ws, str(returns))
    assert len(rep.new) == 4 and not rep.unmatched
    rep = collect(ws, "imap")
    assert len(rep.new) == 2
    assert collect(ws, "imap").new == []               # messages were marked read only after storing

    o = counts(ws)
    assert (o.expected, o.returned, o.valid, o.errors, o.missing) == (8, 6, 5, 1, 2)
    conn = ws.connect()
    by_source = {}
    for r in conn.execute("SELECT r.id, c.source FROM returns r JOIN receipts c USING (sha256)"):
        by_source.setdefault(r["source"], set()).update(f.code for f in db.findings_for(conn, r["id"]))
    conn.close()
    # Mailed back from an address that is not the unit's own: flagged (a warning), not dropped.
    assert "identity-other-unit" in by_source["imap"] and "identity-other-unit" not in by_source["folder"]

    rep = remind(ws)
    reminders = smtp_server.messages[4:]
    assert len(rep.sent) == len(reminders) >= 1
    with_feedback = [m for m in reminders if any(a.get_filename().endswith("_更正.xlsx") for a in m.iter_attachments())]
    assert len(with_feedback) == 1
    fb = next(a for a in with_feedback[0].iter_attachments())
    wb = openpyxl.load_workbook(io.BytesIO(fb.get_content()))
    assert any("超过分值" in r[3] for r in wb["问题清单"].iter_rows(min_row=3, values_only=True))


def test_tampering_and_forged_identity_are_flagged(tmp_path):
    ws = make_workspace(tmp_path)
    src, other = sorted(ws.outbox.glob("*.xlsx"))[:2]
    changed = fill_return(src, tmp_path / "changed.xlsx", seed=1, mistakes=("wrong-target",))
    forged = fill_return(other, tmp_path / "forged.xlsx", seed=1)
    wb = openpyxl.load_workbook(forged)
    meta = wb["_xlperf"]
    for row in meta.iter_rows():
        if row[0].value == "unit_code":
            row[1].value = "999999999"
    wb.save(forged)
    inbox = tmp_path / "in"
    inbox.mkdir()
    for p in (changed, forged):
        p.replace(inbox / p.name)
    collect(ws, str(inbox))
    conn = ws.connect()
    codes = {r["original_name"]: {f.code for f in db.findings_for(conn, r["id"])}
             for r in conn.execute("SELECT r.id, f.original_name FROM returns r JOIN files f USING (sha256)")}
    conn.close()
    assert "target-changed" in codes["changed.xlsx"]
    assert "signature-invalid" in codes["forged.xlsx"]
    # The reminder's feedback copy lists the same findings as the ledger, signature checks included.
    remind(ws, dry_run=True)
    copies = list(ws.feedback_dir.rglob("changed_更正.xlsx"))
    assert len(copies) == 1
    listed = [r[3] for r in openpyxl.load_workbook(copies[0])["问题清单"].iter_rows(min_row=3, values_only=True)]
    conn = ws.connect()
    ledger = [f.message for r in conn.execute("SELECT r.id FROM returns r JOIN files f USING (sha256) "
                                              "WHERE f.original_name = 'changed.xlsx'") for f in db.findings_for(conn, r["id"])]
    conn.close()
    assert len(listed) == len(ledger) and any("已被改动" in t for t in listed)


class GbkName(zipfile.ZipInfo):
    """A member name as Windows zip tools write it: GBK bytes, no UTF-8 flag."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def test_zip_with_gbk_names_and_duplicates(tmp_path):
    ws = make_workspace(tmp_path)
    src = sorted(ws.outbox.glob("*.xlsx"))[:2]
    bundle = tmp_path / "returns.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        for i, p in enumerate(src):
            data = fill_return(p, tmp_path / f"f{i}.xlsx", seed=i).read_bytes()
            zf.writestr(GbkName("回收/" + p.name), data)
    rep = collect(ws, str(bundle))
    assert sorted(rep.new) == sorted(p.name for p in src)
    rep = collect(ws, str(bundle))
    assert rep.new == [] and len(rep.duplicates) == 2
    conn = ws.connect()
    assert conn.execute("SELECT COUNT(*) FROM returns").fetchone()[0] == 2
    conn.close()


def test_a_newer_return_supersedes_and_history_is_kept(tmp_path):
    ws = make_workspace(tmp_path)
    src = sorted(ws.outbox.glob("*.xlsx"))[0]
    d1, d2 = tmp_path / "a", tmp_path / "b"
    d1.mkdir()
    d2.mkdir()
    fill_return(src, d1 / src.name, seed=1, mistakes=("score-above-weight",))
    collect(ws, str(d1))
    assert (counts(ws).errors, counts(ws).valid) == (1, 0)
    time.sleep(1.1)   # received_at has one-second resolution
    fill_return(src, d2 / src.name, seed=1)
    collect(ws, str(d2))
    assert (counts(ws).errors, counts(ws).valid) == (0, 1)
    conn = ws.connect()
    history = conn.execute("SELECT status, superseded_by FROM returns ORDER BY received_at").fetchall()
    conn.close()
    assert [h["status"] for h in history] == ["errors", "valid"] and history[0]["superseded_by"] is not None


def test_unmatched_files_are_kept_and_listed(tmp_path):
    ws = make_workspace(tmp_path)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "说明.txt").write_text("随附说明", encoding="utf-8")
    rep = collect(ws, str(inbox))
    assert rep.unmatched == [] and rep.skipped == ["说明.txt"]
    conn = ws.connect()
    assert conn.execute("SELECT COUNT(*) FROM returns").fetchone()[0] == 0     # not a return
    assert [p.name for p in compute_status(conn).problems] == ["说明.txt"]      # but listed
    conn.close()
    assert any(ws.store_dir.rglob("*"))                 # the file itself is in the store


def test_a_killed_collect_run_loses_nothing_and_counts_nothing_twice(tmp_path):
    ws = make_workspace(tmp_path, n_cities=3, counties=3, projects=2)
    inbox = tmp_path / "in"
    inbox.mkdir()
    files = sorted(ws.outbox.glob("*.xlsx"))
    for i, p in enumerate(files):
        fill_return(p, inbox / p.name, seed=i)
    cmd = [sys.executable, "-c", "from xlperf.cli import main; main()", "collect", "-w", str(ws.root), "--from", str(inbox)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    judged = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            c = sqlite3.connect(ws.db_path, timeout=1)
            judged = c.execute("SELECT COUNT(*) FROM returns").fetchone()[0]
            c.close()
        except sqlite3.Error:
            pass
        if judged >= 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=30)
    assert 0 < judged < len(files), "the run should be killed part-way"
    rep = collect(ws, str(inbox))
    conn = ws.connect()
    n_returns = conn.execute("SELECT COUNT(*) FROM returns").fetchone()[0]
    n_receipts = conn.execute("SELECT COUNT(*) FROM receipts").fetchone()[0]
    conn.close()
    assert n_returns == len(files) and n_receipts == len(files)
    o = counts(ws)
    assert (o.expected, o.returned, o.valid) == (len(files), len(files), len(files))
    assert len(list(p for p in ws.store_dir.rglob("*") if p.is_file() and len(p.name) == 64)) == len(files)


def test_the_command_line_runs_the_year_in_folder_mode(tmp_path):
    """init → roster → generate → send --dry-run → collect → status --export → aggregate, as a clerk types it."""
    from click.testing import CliRunner

    from xlperf.cli import main
    run = lambda *args: CliRunner().invoke(main, [str(a) for a in args])  # noqa: E731
    ws = tmp_path / "ws"
    assert run("init", ws, "--year", 2024, "--deadline", "2025-03-31").exit_code == 0
    roster = tmp_path / "名单.xlsx"
    assert run("roster-template", "-o", roster).exit_code == 0
    assert run("roster", roster, "-w", ws).exit_code == 0
    assert "生成 3 个" in run("generate", "-w", ws).output
    assert "写出 2 封" in run("send", "-w", ws, "--dry-run").output
    returns = tmp_path / "returns"
    returns.mkdir()
    for i, p in enumerate(sorted((ws / "outbox").glob("*.xlsx"))[:2]):
        fill_return(p, returns / p.name, seed=i)
    assert "新收到 2 个" in run("collect", "-w", ws, "--from", returns).output
    res = run("status", "-w", ws, "--export", tmp_path / "status.xlsx")
    assert res.exit_code == 0 and "待催报" in res.output
    assert openpyxl.load_workbook(tmp_path / "status.xlsx").sheetnames == ["回收情况", "待催报", "未处理文件"]
    res = run("aggregate", "-w", ws, "--csv", tmp_path / "csv")
    assert res.exit_code == 0 and "应报 3，已报 2，合格 2" in res.output
    summary = next((ws / "reports").glob("*.xlsx"))
    assert {"总体情况", "按地区汇总", "项目明细", "未提交"} <= set(openpyxl.load_workbook(summary).sheetnames)
    bad = tmp_path / "bad.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["单位代码", "单位名称", "行政区划代码", "主管部门", "联系人", "邮箱", "项目名称", "项目代码"])
    wb.active.append(["", "某县医保局", "4305", "", "", "not-an-email", "项目", "P1"])
    wb.save(bad)
    res = run("roster", bad, "-w", ws)
    assert res.exit_code == 2 and "第2行" in res.output and "Traceback" not in res.output


def test_a_copy_the_county_typed_itself_is_matched_by_labels_and_held_to_the_approved_targets(tmp_path):
    from helpers.handtyped import official_form
    from xlperf.season.roster import rows_from_db
    ws = make_workspace(tmp_path)
    conn = ws.connect()
    row = rows_from_db(conn)[0]
    conn.close()
    ind = [(t.level1, t.level2, t.name, t.weight, t.target, t.target, t.weight, None) for t in row.targets]
    first = ind[0]
    ind[0] = (first[0], first[1], first[2], first[3], "≥1%", first[5], first[6], None)   # a target made easier
    inbox = tmp_path / "in"
    inbox.mkdir()
    official_form(
        inbox / "自己录入.xlsx", title="项目支出绩效目标自评表", subtitle="（2024年度）",
        header=[[("项目名称", row.project_name), ("项目负责人及电话", "王五")], [("主管部门", row.department), ("实施单位", row.unit_name)]],
        funds_label="资金情况(万元)", funds_cols=["全年预算数(A)", "全年执行数(B)", "分值", "执行率(B/A)", "得分"],
        funds_rows=[("年度资金总额：", row.budget, row.budget, 10, "100%", 10), ("其中：本年财政拨款", row.budget, row.budget, "一", "100%", "一")],
        ind_cols=["一级指标", "二级指标", "三级指标", "分值", "年度指标值", "全年实际值", "得分", "未完成的原因及拟采取的改进措施"],
        indicators=ind)
    rep = collect(ws, str(inbox))
    assert rep.new == ["自己录入.xlsx"] and not rep.unmatched
    conn = ws.connect()
    ret = conn.execute("SELECT id, matched_by, status FROM returns").fetchone()
    changed = [f for f in db.findings_for(conn, ret["id"]) if f.code == "target-changed"]
    conn.close()
    assert ret["matched_by"] == "labels" and ret["status"] == "errors"
    assert len(changed) == 1 and "≥1%" in changed[0].message
    assert changed[0].cell and changed[0].message.startswith(changed[0].cell + "：")   # located at the target cell


def test_a_send_that_fails_half_way_resumes_without_sending_twice(tmp_path, smtp_server):
    from xlperf.season.mail import MailError, Sender
    ws = make_workspace(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_server.port, sender="jxb@example.gov.cn",
                        rate_per_minute=0)

    class FlakySender(Sender):
        sent = 0

        def send(self, msg):
            if FlakySender.sent == 2:
                raise MailError("连接中断", code="mail-send-failed")
            FlakySender.sent += 1
            return super().send(msg)

    first = send(ws, sender_factory=FlakySender)
    assert len(first.sent) == 2 and len(first.failed) == 2
    second = send(ws)
    assert len(second.sent) == 2 and not second.failed
    recipients = [m["To"] for m in smtp_server.messages]
    assert len(recipients) == 4 and len(set(recipients)) == 4      # every unit once, nobody twice


def test_status_and_the_summary_count_regions_the_same_way(tmp_path):
    from xlperf.province.workspace import aggregate_workspace
    ws = init_workspace(tmp_path / "ws", year=2024)
    rows = sample_roster(n_cities=2, counties_per_city=2, projects=1, seed=3)
    city_unit = rows[0].__class__(**{**rows[0].__dict__, "unit_code": "430100001", "unit_name": "长沙市医疗保障局",
                                     "region_code": "430100", "region_name": "长沙市", "project_code": "CITY01"})
    own_unit = rows[0].__class__(**{**rows[0].__dict__, "unit_code": "430000001", "unit_name": "湖南省医疗保障局",
                                    "region_code": "430000", "region_name": "湖南省本级", "project_code": "PROV01"})
    conn = ws.connect()
    save_roster(conn, rows + [city_unit, own_unit])
    st = compute_status(conn)
    conn.close()
    by_level = {}
    for r in st.regions:
        by_level.setdefault(r.level, []).append(r)
    assert all(not r.name.isdigit() for r in st.regions)                   # names, not codes
    for city in by_level["city"]:
        leaves = [c for c in by_level["county"] if c.code[:4] == city.code[:4]]
        assert sum(c.expected for c in leaves) == city.expected              # 本级 keeps the sum exact
    assert any(r.name == "长沙市本级" for r in st.regions)
    summary = aggregate_workspace(ws, tmp_path / "s.xlsx")
    summary_rows = {r["name"]: r["expected"] for r in summary.tables["regions"].rows}
    status_rows = {r.name: r.expected for r in [st.overall] + st.regions}
    assert summary_rows == status_rows                                     # same regions, same counts
    from xlperf.season.status import LEVEL_ZH
    summary_levels = {r["name"]: r["level"] for r in summary.tables["regions"].rows}
    assert {r.name: LEVEL_ZH[r.level] for r in [st.overall] + st.regions} == {
        **summary_levels, "合计": "全部"}                                   # 省本级 at province level in both
    assert summary_levels["湖南省本级"] == "省本级"


def test_a_changed_unit_name_is_reported_with_the_forms_own_label(tmp_path):
    ws = make_workspace(tmp_path)
    src = sorted(ws.outbox.glob("*.xlsx"))[0]
    path = fill_return(src, tmp_path / "renamed.xlsx", seed=1)
    wb = openpyxl.load_workbook(path)
    (sheet, ref), = list(wb.defined_names["unit"].destinations)
    wb[sheet][ref.replace("$", "")] = "别的单位"
    wb.save(path)
    inbox = tmp_path / "in"
    inbox.mkdir()
    path.replace(inbox / path.name)
    collect(ws, str(inbox))
    conn = ws.connect()
    found = [f for f in db.findings_for(conn, 1) if f.code == "target-changed"]
    conn.close()
    assert len(found) == 1 and found[0].message.startswith(ref.replace("$", "") + "：实施单位已被改动")
