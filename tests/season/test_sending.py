"""Sending a season's mail as the province clerk does it, against a real SMTP server.

Dry runs only preview; a workbook regenerated after a roster change goes out
again as a 更正版 that says what changed; `send --resend` mails a unit again;
a reminder to a unit that has not returned carries its workbook again; mail
settings are checked before anything is sent.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml
from click.testing import CliRunner

from helpers.mailservers import SMTP_PASSWORD, SMTP_USER, free_port
from xlperf.cli import main
from xlperf.season.generate import generate
from xlperf.season.roster import rows_from_db, save_roster
from xlperf.season.roster_sample import sample_roster
from xlperf.season.workspace import init_workspace, open_workspace, render_config

REPO = Path(__file__).resolve().parents[2]


def xlperf(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def season(tmp_path: Path, **mail) -> Path:
    """A workspace with 4 units × 2 projects, generated, and the clerk's mail settings in xlperf.yaml."""
    ws = init_workspace(tmp_path / "ws", year=2024, deadline="2025-03-31")
    conn = ws.connect()
    save_roster(conn, sample_roster(n_cities=2, counties_per_city=2, projects=2, seed=1))
    conn.close()
    edit_mail(ws.root, rate_per_minute=0, **mail)
    generate(open_workspace(ws.root))
    return ws.root


def edit_mail(root: Path, **mail) -> None:
    ws = open_workspace(root)
    config = dict(ws.config)
    config["mail"] = {**ws.mail, **mail}
    (root / "xlperf.yaml").write_text(render_config(config), encoding="utf-8")


def at(server, **kw) -> dict:
    return {"smtp_host": server.host, "smtp_port": server.port, "sender": "绩效办 <jxb@example.gov.cn>", **kw}


def body(msg) -> str:
    return msg.get_body(("plain",)).get_content()


def test_a_dry_run_only_previews_and_the_real_run_then_reaches_everyone(tmp_path, smtp_server):
    root = season(tmp_path, **at(smtp_server))
    res = xlperf("send", "-w", root, "--dry-run")
    assert res.exit_code == 0 and "写出 4 封" in res.output
    assert len(list((root / "sent").glob("*.eml"))) == 4 and smtp_server.messages == []
    res = xlperf("remind", "-w", root, "--dry-run")
    assert res.exit_code == 0 and "写出催报邮件 4 封" in res.output
    res = xlperf("send", "-w", root)
    assert res.exit_code == 0, res.output
    assert "发送 4 封" in res.output and "跳过已发送且未变化的 0 个" in res.output
    assert len(smtp_server.messages) == 4
    res = xlperf("remind", "-w", root)                        # the dry run did not count as today's reminder
    assert "发送催报邮件 4 封" in res.output and len(smtp_server.messages) == 8


def test_a_workbook_regenerated_after_a_roster_change_goes_out_again_as_a_correction(tmp_path, smtp_server):
    root = season(tmp_path, **at(smtp_server))
    assert "发送 4 封" in xlperf("send", "-w", root).output
    ws = open_workspace(root)
    conn = ws.connect()
    rows = rows_from_db(conn)
    first = rows[0]
    old_target = first.targets[0].target
    targets = [dataclasses.replace(first.targets[0], target="≥99%")] + first.targets[1:]
    rows[0] = dataclasses.replace(first, budget=(first.budget or 0) + 50, targets=targets)
    save_roster(conn, rows)                                   # the province re-imports a corrected roster
    conn.close()
    assert "生成 1 个" in xlperf("generate", "-w", root).output

    res = xlperf("send", "-w", root)
    assert res.exit_code == 0 and "发送 1 封（其中更正版或重发 1 封）" in res.output, res.output
    msg = smtp_server.messages[-1]
    assert len(smtp_server.messages) == 5 and msg["To"] == first.email
    assert "更正版" in msg["Subject"]
    text = body(msg)
    assert f"“{first.targets[0].name}”的年度指标值：“{old_target}” 改为 “≥99%”" in text
    assert "全年预算数" in text
    (att,) = msg.iter_attachments()                           # only the changed workbook
    assert first.project_name in att.get_filename()
    assert "发送 0 封" in xlperf("send", "-w", root).output    # and only once


def test_resend_mails_a_unit_again_on_request(tmp_path, smtp_server):
    root = season(tmp_path, **at(smtp_server))
    xlperf("send", "-w", root)
    ws = open_workspace(root)
    conn = ws.connect()
    unit = rows_from_db(conn)[0]
    conn.close()
    res = xlperf("send", "-w", root, "--resend", unit.unit_code)
    assert res.exit_code == 0 and "发送 1 封" in res.output, res.output
    msg = smtp_server.messages[-1]
    assert msg["To"] == unit.email and "重发" in msg["Subject"]
    assert len(list(msg.iter_attachments())) == 2             # both of its projects
    assert "应你单位要求重新发送" in body(msg)
    res = xlperf("send", "-w", root, "--resend", "不存在的单位")
    assert res.exit_code == 2 and "不存在的单位" in res.output and "Traceback" not in res.output


def test_a_reminder_to_a_unit_that_has_not_returned_attaches_its_workbook_again(tmp_path, smtp_server):
    root = season(tmp_path, **at(smtp_server))
    xlperf("send", "-w", root)
    res = xlperf("remind", "-w", root)
    assert res.exit_code == 0
    reminders = smtp_server.messages[4:]
    assert len(reminders) == 4
    first = smtp_server.messages[0]
    again = next(m for m in reminders if m["To"] == first["To"])
    assert "再次附上" in body(again)
    sent = {a.get_filename(): a.get_content() for a in first.iter_attachments()}
    attached = {a.get_filename(): a.get_content() for a in again.iter_attachments()}
    assert attached == sent and len(attached) == 2            # the same pre-filled workbooks


def test_the_smtp_password_can_be_written_in_the_config_and_both_places_are_documented(tmp_path, smtp_server):
    root = season(tmp_path, **at(smtp_server, smtp_user=SMTP_USER, smtp_password=SMTP_PASSWORD))
    text = (root / "xlperf.yaml").read_text(encoding="utf-8")
    assert "smtp_password" in text and "XLPERF_SMTP_PASSWORD" in text and "XLPERF_IMAP_PASSWORD" in text
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "smtp_password" in readme and "XLPERF_SMTP_PASSWORD" in readme
    res = xlperf("send", "-w", root)
    assert res.exit_code == 0 and "发送 4 封" in res.output, res.output
    assert smtp_server.logins and SMTP_PASSWORD not in repr(open_workspace(root))


def test_an_empty_or_malformed_sender_is_refused_before_anything_is_sent(tmp_path, smtp_server):
    root = season(tmp_path, **at(smtp_server, sender=""))
    res = xlperf("send", "-w", root)
    assert res.exit_code == 2 and "sender" in res.output and "未发送任何邮件" in res.output
    edit_mail(root, sender="绩效办")
    res = xlperf("send", "-w", root)
    assert res.exit_code == 2 and "不是有效的邮箱地址" in res.output
    assert smtp_server.messages == []
    edit_mail(root, sender="jxb@example.gov.cn")
    assert "发送 4 封" in xlperf("send", "-w", root).output  # nothing was recorded as sent meanwhile


def test_the_contact_line_comes_from_the_config(tmp_path, smtp_server):
    root = season(tmp_path, **at(smtp_server, contact_name="张敏", contact_phone="0731-84512345"))
    xlperf("send", "-w", root)
    xlperf("remind", "-w", root)
    assert all("如有疑问请联系：张敏，电话 0731-84512345" in body(m) for m in smtp_server.messages)
    assert len(smtp_server.messages) == 8


def test_an_unreachable_server_gives_one_clear_message(tmp_path):
    root = season(tmp_path, smtp_host="127.0.0.1", smtp_port=free_port(), sender="jxb@example.gov.cn")
    res = xlperf("send", "-w", root)
    assert res.exit_code == 2
    assert "无法连接发信服务器" in res.output and "连接被拒绝" in res.output
    assert res.output.count("无法连接") == 1 and "失败" not in res.output   # not one line per unit
    conn = open_workspace(root).connect()
    assert conn.execute("SELECT COUNT(*) FROM sent").fetchone()[0] == 0
    conn.close()


def test_a_workbook_regenerated_with_the_same_content_is_not_mailed_again(tmp_path, smtp_server):
    import openpyxl
    root = season(tmp_path, **at(smtp_server))
    xlperf("send", "-w", root)
    book = sorted((root / "outbox").glob("*.xlsx"))[0]
    wb = openpyxl.load_workbook(book)                        # new bytes, same pre-filled content
    wb.active.sheet_properties.tabColor = "FF0000"
    wb.save(book)
    res = xlperf("send", "-w", root)
    assert res.exit_code == 0 and "发送 0 封" in res.output
    assert "只是格式变化、预填内容未变，未重发" in res.output and "--resend" in res.output
    assert len(smtp_server.messages) == 4


def test_the_smtp_password_can_come_from_the_environment_instead(tmp_path, smtp_server, monkeypatch):
    root = season(tmp_path, **at(smtp_server, smtp_user=SMTP_USER))      # no password in xlperf.yaml
    monkeypatch.setenv("XLPERF_SMTP_PASSWORD", SMTP_PASSWORD)
    res = xlperf("send", "-w", root)
    assert res.exit_code == 0 and "发送 4 封" in res.output, res.output
    assert smtp_server.logins and SMTP_PASSWORD not in (root / "xlperf.yaml").read_text(encoding="utf-8")


def test_a_corrected_address_in_the_roster_gets_the_workbooks(tmp_path, smtp_server):
    root = season(tmp_path, **at(smtp_server))
    xlperf("send", "-w", root)
    ws = open_workspace(root)
    conn = ws.connect()
    rows = rows_from_db(conn)
    wrong = rows[0].email
    rows = [dataclasses.replace(r, email="ybj-new@county.gov.cn") if r.email == wrong else r for r in rows]
    save_roster(conn, rows)
    conn.close()
    assert "生成 0 个" in xlperf("generate", "-w", root).output     # the workbooks themselves are unchanged
    res = xlperf("send", "-w", root)
    assert "发送 1 封" in res.output, res.output
    msg = smtp_server.messages[-1]
    assert msg["To"] == "ybj-new@county.gov.cn" and len(list(msg.iter_attachments())) == 2
    assert wrong in body(msg) and "重发" in msg["Subject"]
    assert "发送 0 封" in xlperf("send", "-w", root).output
