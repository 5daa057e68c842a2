"""A county clerk opens the unit's link, uploads the return and reads the verdict; the bureau logs in.

Everything goes through Starlette's test client against the real app, the
real ledger and the real checker processes.
"""
from __future__ import annotations

import datetime as dt
import io
import re
import shutil

import openpyxl
import pytest
from starlette.testclient import TestClient

from helpers.webseason import BASE, BEFORE_DEADLINE, make_season
from xlperf.season import db, weblink
from xlperf.season.collect import collect
from xlperf.season.status import compute_status
from xlperf.season.workspace import open_workspace
from xlperf.web.guard import Limit, Limits

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def client(app, address: str = "10.1.2.3") -> TestClient:
    return TestClient(app, client=(address, 50000))


def open_page(c: TestClient, token: str):
    page = c.get(f"/u/{token}")
    assert page.status_code == 200, page.text
    return page, CSRF.search(page.text).group(1)


def upload(c: TestClient, token: str, path, *, name: str | None = None, csrf: str | None = "page"):
    if csrf == "page":
        _, csrf = open_page(c, token)
    data = {} if csrf is None else {"csrf": csrf}
    with open(path, "rb") as fh:
        return c.post(f"/u/{token}/upload", data=data, files={"file": (name or path.name, fh.read(), "application/octet-stream")})


def overall(season):
    conn = season.conn()
    try:
        return compute_status(conn).overall
    finally:
        conn.close()


def attempts(season):
    return season.query("SELECT * FROM web_uploads ORDER BY id")


def test_a_unit_opens_its_link_downloads_its_workbook_and_gets_accepted_in_seconds(season, app_for):
    unit = season.units()[0]
    rows = season.rows(unit)
    c = client(app_for(season))
    page, _ = open_page(c, season.token(unit))
    assert rows[0]["unit_name"] in page.text and "2025-03-31" in page.text
    assert all(r["project_name"] in page.text for r in rows) and "上传并校验" in page.text
    got = c.get(f"/u/{season.token(unit)}/form/{rows[0]['id']}")
    assert got.status_code == 200 and got.content == season.workbook(rows[0]["id"]).read_bytes()
    assert "attachment" in got.headers["content-disposition"]

    downloaded = season.tmp / "下载的自评表.xlsx"
    downloaded.write_bytes(got.content)
    from xlperf.demo.simulate import fill_return
    filled = fill_return(downloaded, season.tmp / "填好的自评表.xlsx", seed=3)
    res = upload(c, season.token(unit), filled)
    assert res.status_code == 200 and "/r/" in str(res.url)
    assert "已接收，校验合格" in res.text and rows[0]["project_name"] in res.text and "当前有效的版本" in res.text
    assert overall(season).valid == 1
    (a,) = attempts(season)
    assert (a["outcome"], a["code"], a["address"], a["unit_code"], a["original_name"]) == \
        ("accepted", "valid", "10.1.2.3", unit, "填好的自评表.xlsx")
    assert a["at"] and a["return_id"]
    (receipt,) = season.query("SELECT * FROM receipts")
    assert receipt["source"] == "web" and receipt["original_name"] == "填好的自评表.xlsx"
    assert "填好的自评表.xlsx" in c.get(f"/u/{season.token(unit)}").text     # the unit's own history


def test_the_generated_workbook_and_the_mail_carry_the_units_link(season):
    from xlperf.season.send import send
    unit = season.units()[0]
    link = f"{BASE}/u/{season.token(unit)}"
    wb = openpyxl.load_workbook(season.workbook(season.rows(unit)[0]["id"]))
    texts = [c.value for row in wb.worksheets[0].iter_rows() for c in row if isinstance(c.value, str)]
    assert any(link in t and "网页提交" in t for t in texts)
    send(season.ws, dry_run=True)
    mails = [p.read_bytes() for p in season.ws.sent_dir.glob("*.eml")]
    import email
    from email import policy
    bodies = [email.message_from_bytes(m, policy=policy.default).get_body(("plain",)).get_content() for m in mails]
    assert any(link in b for b in bodies)


def test_a_reminder_carries_the_units_link_too(season):
    """The clerk who lost the first mail can upload from the reminder's link instead of replying."""
    import email
    from email import policy

    from xlperf.season.remind import remind
    remind(season.ws, dry_run=True)
    mails = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in season.ws.sent_dir.glob("*.eml")]
    assert mails
    for m in mails:
        body = m.get_body(("plain",)).get_content()
        unit = next(u for u in season.units() if season.rows(u)[0]["unit_name"] in body)
        assert f"{BASE}/u/{season.token(unit)}" in body and "网页提交" in body


def test_a_return_with_errors_lists_each_cell_and_offers_the_feedback_copy(season, app_for, tmp_path):
    twin = tmp_path / "twin"                      # the same workspace, to collect the same file by folder
    shutil.copytree(season.ws.root, twin)
    unit = season.units()[1]
    row = season.rows(unit)[0]
    bad = season.filled(row["id"], "有错误.xlsx", mistakes=("score-above-weight", "no-reason"))
    c = client(app_for(season))
    res = upload(c, season.token(unit), bad)
    assert "个错误，请改正后重新上传" in res.text
    (ret,) = season.query("SELECT * FROM returns")
    assert ret["status"] == "errors" and ret["roster_id"] == row["id"]
    web = season.query("SELECT code, severity, cell, message FROM findings ORDER BY id")
    assert web and all(f["cell"] in res.text for f in web if f["cell"])
    assert all(f["message"] in res.text for f in web)

    # Same code path as collect: the same findings, word for word.
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(bad, inbox / bad.name)
    twin_ws = open_workspace(twin)
    collect(twin_ws, str(inbox))
    conn = twin_ws.connect()
    mailed = conn.execute("SELECT code, severity, cell, message FROM findings ORDER BY id").fetchall()
    conn.close()
    assert [tuple(r) for r in mailed] == [tuple(r) for r in web]

    upload_id = attempts(season)[0]["id"]
    copy = c.get(f"/u/{season.token(unit)}/r/{upload_id}/feedback")
    assert copy.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(copy.content))
    assert "问题清单" in wb.sheetnames

    fixed = season.filled(row["id"], "改正后.xlsx", seed=1)        # the clerk corrects and re-uploads
    res = upload(c, season.token(unit), fixed)
    assert "已接收，校验合格" in res.text
    olds = season.query("SELECT * FROM returns WHERE roster_id = ? ORDER BY id", row["id"])
    assert [r["superseded_by"] is None for r in olds] == [False, True]


def test_another_units_workbook_is_refused_and_never_filed_under_either_unit(season, app_for):
    mine, theirs = season.units()[0], season.units()[1]
    their_row = season.rows(theirs)[0]
    their_file = season.filled(their_row["id"], "别人的表.xlsx")
    c = client(app_for(season))
    res = upload(c, season.token(mine), their_file)
    assert "未接收" in res.text and "属于其他单位" in res.text
    assert season.query("SELECT * FROM returns") == []
    assert overall(season).returned == 0
    (a,) = attempts(season)
    assert (a["outcome"], a["code"], a["unit_code"]) == ("refused", "other-unit", mine)
    assert len(season.query("SELECT * FROM files")) == 1          # the bytes are kept, as every received file is

    # The rightful unit then uploads the same file: judged and filed under its own row.
    res = upload(c, season.token(theirs), their_file)
    assert "已接收" in res.text
    (ret,) = season.query("SELECT * FROM returns")
    assert ret["roster_id"] == their_row["id"]

    # And once it is theirs, uploading it again from my link shows none of their verdict.
    res = upload(c, season.token(mine), their_file)
    assert "属于其他单位" in res.text and their_row["project_code"] not in res.text
    assert len(season.query("SELECT * FROM returns")) == 1


def test_a_unit_cannot_read_another_units_verdicts_or_workbooks(season, app_for):
    mine, theirs = season.units()[0], season.units()[1]
    their_row = season.rows(theirs)[0]
    c = client(app_for(season))
    upload(c, season.token(theirs), season.filled(their_row["id"], "theirs.xlsx"))
    their_upload = attempts(season)[0]["id"]
    assert c.get(f"/u/{season.token(mine)}/r/{their_upload}").status_code == 404
    assert c.get(f"/u/{season.token(mine)}/r/{their_upload}/feedback").status_code == 404
    assert c.get(f"/u/{season.token(mine)}/form/{their_row['id']}").status_code == 404
    page = c.get(f"/u/{season.token(mine)}").text
    assert "theirs.xlsx" not in page and their_row["project_code"] not in page


def test_a_forged_or_revoked_link_is_refused_and_nothing_is_stored(season, app_for):
    unit = season.units()[0]
    token = season.token(unit)
    c = client(app_for(season))
    good = season.filled(season.rows(unit)[0]["id"], "good.xlsx")
    _, csrf = open_page(c, token)

    head, version, mac = token.split(".")
    forged = [f"{head}.{version}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}",          # MAC changed
              f"{weblink._b64(season.units()[1].encode())}.{version}.{mac}",               # another unit, same MAC
              f"{head}.{int(version) + 1}.{mac}", "nonsense", "a.b.c"]
    for bad in forged:
        assert c.get(f"/u/{bad}").status_code == 404
        assert "链接无效" in c.get(f"/u/{bad}").text
        res = c.post(f"/u/{bad}/upload", data={"csrf": csrf}, files={"file": ("good.xlsx", good.read_bytes())})
        assert res.status_code == 404
    assert season.query("SELECT * FROM files") == []
    assert {a["code"] for a in attempts(season)} == {"bad-token"}

    conn = season.conn()
    weblink.revoke(season.ws, conn, unit)
    conn.close()
    assert c.get(f"/u/{token}").status_code == 404
    new = season.token(unit)
    assert new != token and c.get(f"/u/{new}").status_code == 200


def test_an_oversized_upload_is_refused_before_anything_is_parsed(tmp_path, app_for):
    season = make_season(tmp_path, web={"max_upload_mb": 1})
    unit = season.units()[0]
    huge = tmp_path / "huge.xlsx"
    huge.write_bytes(b"PK\x03\x04" + b"\0" * (2 * 1024 * 1024))
    c = client(app_for(season))
    res = upload(c, season.token(unit), huge)
    assert res.status_code == 413 and "文件过大" in res.text
    assert season.query("SELECT * FROM files") == []
    (a,) = attempts(season)
    assert (a["outcome"], a["code"]) == ("refused", "upload-too-large")


def test_a_file_that_is_no_spreadsheet_is_refused_by_its_bytes_not_its_name(season, app_for):
    unit = season.units()[0]
    pdf = season.tmp / "自评表.xlsx"
    pdf.write_bytes(b"%PDF-1.4\n" + b"x" * 5000)
    c = client(app_for(season))
    res = upload(c, season.token(unit), pdf)
    assert "未接收" in res.text and "不是电子表格文件" in res.text
    assert season.query("SELECT * FROM files") == []
    assert attempts(season)[0]["code"] == "not-a-spreadsheet"


def test_a_post_without_the_forms_csrf_token_is_refused(season, app_for):
    unit = season.units()[0]
    good = season.filled(season.rows(unit)[0]["id"], "good.xlsx")
    c = client(app_for(season))
    assert upload(c, season.token(unit), good, csrf=None).status_code == 403
    assert upload(c, season.token(unit), good, csrf="0" * 64).status_code == 403
    _, other_units_csrf = open_page(c, season.token(season.units()[1]))
    assert upload(c, season.token(unit), good, csrf=other_units_csrf).status_code == 403
    fresh = client(app_for(season))            # a page's token without its cookie (a cross-site post)
    _, csrf = open_page(c, season.token(unit))
    assert upload(fresh, season.token(unit), good, csrf=csrf).status_code == 403
    assert season.query("SELECT * FROM files") == []
    assert {a["code"] for a in attempts(season)} == {"csrf"}


def test_a_burst_beyond_the_rate_limit_is_told_to_wait(season, app_for):
    unit = season.units()[0]
    good = season.filled(season.rows(unit)[0]["id"], "good.xlsx")
    c = client(app_for(season, limits=Limits(uploads_per_token=Limit(3, 60))))
    codes = [upload(c, season.token(unit), good).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert [a["outcome"] for a in attempts(season)] == ["accepted", "duplicate", "duplicate", "refused", "refused"]
    assert len(season.query("SELECT * FROM returns")) == 1

    per_address = client(app_for(season, limits=Limits(posts_per_address=Limit(2, 60))), "10.9.9.9")
    codes = [upload(per_address, season.token(u), good).status_code for u in season.units()[:3]]
    assert codes[-1] == 429


def test_after_the_deadline_and_its_grace_the_page_says_so_instead_of_accepting(tmp_path, app_for):
    season = make_season(tmp_path, web={"grace_days": 3})
    unit = season.units()[0]
    good = season.filled(season.rows(unit)[0]["id"], "good.xlsx")
    in_grace = client(app_for(season, clock=lambda: dt.datetime(2025, 4, 2, 9, 0)))
    assert "宽限期内仍可提交" in in_grace.get(f"/u/{season.token(unit)}").text
    assert "已接收" in upload(in_grace, season.token(unit), good).text

    closed = client(app_for(season, clock=lambda: dt.datetime(2025, 4, 4, 0, 0, 1)))
    page = closed.get(f"/u/{season.token(unit)}").text
    assert "网页提交已于 2025-04-03 23:59 关闭" in page and "上传并校验" not in page
    late = season.filled(season.rows(unit)[1]["id"], "late.xlsx")
    _, csrf = open_page(in_grace, season.token(unit))     # a page left open since before the closing
    closed.cookies = in_grace.cookies
    res = closed.post(f"/u/{season.token(unit)}/upload", data={"csrf": csrf},
                      files={"file": ("late.xlsx", late.read_bytes())})
    assert "未接收" in res.text and "已过截止日期" in res.text
    assert attempts(season)[-1]["code"] == "past-deadline"
    assert len(season.query("SELECT * FROM returns")) == 1


def test_every_response_carries_the_security_headers(season, app_for):
    c = client(app_for(season))
    for url in ("/", f"/u/{season.token(season.units()[0])}", "/u/forged", "/admin/login", "/static/site.css"):
        h = c.get(url).headers
        assert "frame-ancestors 'none'" in h["content-security-policy"] and "script-src" not in h["content-security-policy"]
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"


def login(c: TestClient, password: str):
    page = c.get("/admin/login")
    return c.post("/admin/login", data={"csrf": CSRF.search(page.text).group(1), "password": password})


def test_the_bureau_logs_in_and_sees_counts_versions_and_exports(season, app_for):
    app = app_for(season)
    c = client(app)
    assert c.get("/admin").url.path == "/admin/login"
    assert "尚未设置登录密码" in c.get("/admin/login").text
    assert login(c, "anything").status_code == 401

    conn = season.conn()
    weblink.set_password(conn, "县里交表2025")
    stored = db.get_setting(conn, weblink.PASSWORD_KEY)
    conn.close()
    assert stored.startswith("scrypt$") and "县里交表2025" not in stored
    assert "县里交表2025".encode() not in (season.ws.root / "xlperf.sqlite").read_bytes()
    assert login(c, "wrong-password").status_code == 401

    unit = season.units()[0]
    row = season.rows(unit)[0]
    county = client(app, "10.7.7.7")
    upload(county, season.token(unit), season.filled(row["id"], "v1.xlsx", mistakes=("no-reason",)))
    upload(county, season.token(unit), season.filled(row["id"], "v2.xlsx"))

    res = login(c, "县里交表2025")
    assert res.status_code == 200 and res.url.path == "/admin"
    overall_row = re.search(r'<tr id="overall">(.*?)</tr>', res.text, re.S).group(1)
    numbers = [int(x) for x in re.findall(r'<td class="n[^"]*">(\d+)</td>', overall_row)]
    st = overall(season)
    assert numbers == [st.expected, st.returned, st.valid, st.errors, st.missing] == [8, 1, 1, 0, 7]
    assert "10.7.7.7" in res.text and "v2.xlsx" in res.text

    detail = c.get(f"/admin/unit/{unit}")
    assert "第 2 版" in detail.text and "第 1 版" in detail.text and "已改正" in detail.text
    assert f"/u/{season.token(unit)}" in detail.text
    status = c.get("/admin/status.xlsx")
    assert status.status_code == 200 and "回收情况" in openpyxl.load_workbook(io.BytesIO(status.content)).sheetnames
    summary = c.get("/admin/summary.xlsx")
    assert summary.status_code == 200 and len(openpyxl.load_workbook(io.BytesIO(summary.content)).sheetnames) > 3

    page = c.get(f"/admin/unit/{unit}")
    assert c.post(f"/admin/unit/{unit}/revoke", data={}).status_code == 403       # CSRF here too
    res = c.post(f"/admin/unit/{unit}/revoke", data={"csrf": CSRF.search(page.text).group(1)})
    assert res.status_code == 200 and client(app).get(f"/u/{season.token(unit)}").status_code == 200
    assert season.token(unit).split(".")[1] == "2"

    other = client(app)
    assert other.get("/admin/status.xlsx").url.path == "/admin/login"           # no session, no export
    res = c.post("/admin/logout", data={"csrf": CSRF.search(c.get("/admin").text).group(1)})
    assert c.get("/admin").url.path == "/admin/login"


def test_login_attempts_are_rate_limited(season, app_for):
    c = client(app_for(season, limits=Limits(logins_per_address=Limit(3, 300))))
    codes = [login(c, "guess").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


@pytest.mark.parametrize("when,expected", [(BEFORE_DEADLINE, "open"), (dt.datetime(2025, 3, 31, 23, 59), "open"),
                                           (dt.datetime(2025, 4, 1, 0, 0), "closed")])
def test_the_deadline_day_counts_until_midnight(season, when, expected):
    from xlperf.web.upload import deadline_state
    assert deadline_state(season.ws, when).state == expected


def test_a_file_name_from_the_browser_is_kept_as_text_and_never_becomes_a_path(season, app_for):
    unit = season.units()[0]
    good = season.filled(season.rows(unit)[0]["id"], "good.xlsx")
    c = client(app_for(season))
    before = {p for p in season.tmp.rglob("*")}
    res = upload(c, season.token(unit), good, name="..\\..\\..\\C:\\Windows\\../../outside.xlsx")
    assert "已接收" in res.text
    (receipt,) = season.query("SELECT * FROM receipts")
    assert receipt["original_name"] == "outside.xlsx"
    created = {p for p in season.tmp.rglob("*")} - before
    assert not any("outside" in p.name for p in created)
    assert all(p.is_relative_to(season.ws.root) for p in created)
