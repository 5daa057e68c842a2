"""The mail layer against real servers: aiosmtpd for sending, Dovecot for collecting."""
from __future__ import annotations

import base64
import email
import email.policy
import io
from pathlib import Path

import openpyxl
import pytest

from helpers.mailservers import SMTP_PASSWORD, SMTP_USER, create_folder, deliver, free_port, mailbox_flags
from xlperf.season.inbox import Attachment, fetch_attachments
from xlperf.season.mail import MailError, MailSettings, Sender, build_message, write_eml

TEMPLATE_NAME = "2024年度项目支出绩效自评表（某某县）.xlsx"
BUREAU = "绩效办 <jxb@example.gov.cn>"


def xlsx_bytes(title: str) -> bytes:
    wb = openpyxl.Workbook()
    wb.active["A1"] = title
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.fixture
def template(tmp_path) -> Path:
    path = tmp_path / TEMPLATE_NAME
    path.write_bytes(xlsx_bytes("项目支出绩效自评表"))
    return path


def notice(template: Path, to: str = "某某县财政局 <cz@county.gov.cn>"):
    return build_message(
        sender=BUREAU,
        to=to,
        subject="请于5月31日前报送2024年度绩效自评表",
        body="各县（区）财政局：\n请填写附件中的自评表并回复本邮件。\n",
        attachments=[template],
        reply_to="jxb@example.gov.cn",
    )


def smtp_settings(server, **kw) -> MailSettings:
    return MailSettings(smtp_host=server.host, smtp_port=server.port, sender=BUREAU, **kw)


def imap_settings(account, **kw) -> MailSettings:
    kw.setdefault("imap_port", account.port)
    return MailSettings(imap_host=account.host, imap_user=account.user, imap_password=account.password, **kw)


# ------------------------------------------------------------------ composing


def test_notice__raw_headers_carry_the_attachment_name_for_new_and_old_clients(template):
    raw = notice(template).as_bytes()
    assert raw.isascii(), "8-bit bytes in a message that old relays would mangle"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert b"filename*0*=utf-8''" in raw or b"filename*=utf-8''" in raw  # RFC 2231
    assert b'name="=?utf-8?B?' in raw  # RFC 2047 for old Outlook and Foxmail
    assert b"Message-ID: <" in raw

    part = next(email.message_from_bytes(raw, policy=email.policy.default).iter_attachments())
    assert part.get_filename() == TEMPLATE_NAME
    assert part.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    old_style = email.message_from_bytes(raw, policy=email.policy.compat32).get_payload()[1]
    name = str(email.header.make_header(email.header.decode_header(old_style.get_param("name"))))
    assert name == TEMPLATE_NAME


def test_write_eml__never_overwrites_an_earlier_dry_run(tmp_path, template):
    msg = notice(template)
    first = write_eml(msg, tmp_path / "out")
    first_bytes = first.read_bytes()
    second = write_eml(msg, tmp_path / "out")
    assert first != second
    assert first.read_bytes() == first_bytes
    assert first.name == "请于5月31日前报送2024年度绩效自评表.eml"
    assert second.name == "请于5月31日前报送2024年度绩效自评表 (2).eml"
    assert email.message_from_bytes(second.read_bytes(), policy=email.policy.default)["Subject"] == msg["Subject"]


# ------------------------------------------------------------------ settings


def test_settings__passwords_stay_out_of_repr():
    s = MailSettings(smtp_user="jxb", smtp_password="Smtp-Secret-7391", imap_password="Imap-Secret-1")
    assert "Secret" not in repr(s)
    assert "jxb" in repr(s)


def test_settings_from_config__unknown_keys_ignored_and_env_password_wins():
    s = MailSettings.from_dict(
        {"smtp_host": "smtp.example.gov.cn", "smtp_port": "465", "smtp_security": "ssl",
         "smtp_password": "from-file", "colour": "blue"},
        environ={"XLPERF_SMTP_PASSWORD": "from-env", "XLPERF_IMAP_PASSWORD": "imap-env"},
    )
    assert (s.smtp_host, s.smtp_port, s.smtp_security) == ("smtp.example.gov.cn", 465, "ssl")
    assert (s.smtp_password, s.imap_password) == ("from-env", "imap-env")


def test_settings__unknown_security_mode_is_refused_in_chinese():
    with pytest.raises(MailError, match="只能是 none、starttls 或 ssl") as err:
        MailSettings(smtp_security="tls")
    assert err.value.code == "mail-settings-invalid"


# ------------------------------------------------------------------ sending


def test_notice_sent_over_smtp__arrives_with_chinese_subject_body_and_attachment(smtp_server, template):
    settings = smtp_settings(smtp_server, smtp_user=SMTP_USER, smtp_password=SMTP_PASSWORD)
    with Sender(settings) as sender:
        message_id = sender.send(notice(template))

    assert smtp_server.logins == [SMTP_USER]
    (got,) = smtp_server.messages
    assert got["Message-ID"] == message_id
    assert got["Subject"] == "请于5月31日前报送2024年度绩效自评表"
    assert got["From"].addresses[0].display_name == "绩效办"
    assert "请填写附件中的自评表" in got.get_body(("plain",)).get_content()
    (att,) = got.iter_attachments()
    assert att.get_filename() == TEMPLATE_NAME
    assert att.get_content() == template.read_bytes()
    assert smtp_server.envelopes[0].rcpt_tos == ["cz@county.gov.cn"]


def test_closed_port__mail_error_in_chinese_without_password(template):
    settings = MailSettings(smtp_port=free_port(), smtp_user=SMTP_USER, smtp_password="Never-Show-Me", timeout=5)
    with pytest.raises(MailError) as err, Sender(settings) as sender:
        sender.send(notice(template))
    assert err.value.code == "mail-send-failed"
    assert "连接被拒绝" in str(err.value)
    assert "Never-Show-Me" not in str(err.value)


def test_wrong_smtp_password__mail_error_names_the_user_not_the_password(smtp_server, template):
    settings = smtp_settings(smtp_server, smtp_user=SMTP_USER, smtp_password="Wrong-Secret-55")
    with pytest.raises(MailError) as err, Sender(settings) as sender:
        sender.send(notice(template))
    assert "登录被拒绝" in err.value.message and SMTP_USER in err.value.message
    assert "Wrong-Secret-55" not in str(err.value)
    assert not smtp_server.envelopes


def test_starttls_server__notice_is_sent_encrypted(smtp_starttls_server, tls_files, template):
    settings = smtp_settings(smtp_starttls_server, smtp_security="starttls", tls_ca_file=str(tls_files.cert),
                             smtp_user=SMTP_USER, smtp_password=SMTP_PASSWORD)
    with Sender(settings) as sender:
        sender.send(notice(template))
    assert [m["Subject"] for m in smtp_starttls_server.messages] == ["请于5月31日前报送2024年度绩效自评表"]


def test_starttls_server__plain_connection_is_refused_with_mail_error(smtp_starttls_server, template):
    with pytest.raises(MailError, match="mail-send-failed"), Sender(smtp_settings(smtp_starttls_server)) as sender:
        sender.send(notice(template))
    assert not smtp_starttls_server.envelopes


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_rate_limit__five_messages_at_30_per_minute_sleep_8_seconds(smtp_server, template):
    fake = FakeTime()
    with Sender(smtp_settings(smtp_server, rate_per_minute=30), sleep=fake.sleep, clock=fake.clock) as sender:
        for i in range(5):
            sender.send(notice(template, to=f"county{i}@example.gov.cn"))
    assert fake.sleeps == pytest.approx([2.0] * 4)
    assert len(smtp_server.envelopes) == 5


def test_rate_limit__time_already_spent_counts_toward_the_gap(smtp_server, template):
    fake = FakeTime()
    with Sender(smtp_settings(smtp_server, rate_per_minute=20), sleep=fake.sleep, clock=fake.clock) as sender:
        sender.send(notice(template))
        fake.now += 1.0  # e.g. building the next workbook
        sender.send(notice(template))
        fake.now += 5.0  # slower than the limit: no wait at all
        sender.send(notice(template))
    assert fake.sleeps == pytest.approx([2.0])


# ------------------------------------------------------------------ collecting


def county_reply(*, sender: bytes, subject: bytes, attachments: list[tuple[bytes, bytes]] = (), body: bytes = b"",
                 boundary: bytes = b"----=_NextPart_000") -> bytes:
    """A reply as Chinese mail clients write it: `attachments` are (header
    block naming the file, file bytes); headers are given raw, as on the wire."""
    out = [
        b"From: " + sender,
        b"To: jxb@example.gov.cn",
        b"Subject: " + subject,
        b"Date: Tue, 28 May 2024 09:30:00 +0800",
        b"Message-ID: <" + base64.b16encode(subject[:12]) + b"@county.gov.cn>",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="' + boundary + b'"',
        b"",
        b"--" + boundary,
        b'Content-Type: text/plain; charset="GBK"',
        b"Content-Transfer-Encoding: base64",
        b"",
        base64.b64encode(body or "附件为我县自评表，请查收。".encode("gbk")),
    ]
    for headers, data in attachments:
        out += [b"--" + boundary, headers, b"Content-Transfer-Encoding: base64", b"", base64.encodebytes(data).strip()]
    out += [b"--" + boundary + b"--", b""]
    return b"\r\n".join(out)


def gbk_word(text: str) -> bytes:
    return b"=?GBK?B?" + base64.b64encode(text.encode("gbk")) + b"?="


def utf8_word(text: str) -> bytes:
    return b"=?utf-8?B?" + base64.b64encode(text.encode("utf-8")) + b"?="


XLSX = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOOK_A, BOOK_B, BOOK_C = xlsx_bytes("甲"), xlsx_bytes("乙"), xlsx_bytes("丙")


def two_workbooks_reply() -> bytes:  # Outlook style: RFC 2231 and RFC 2047
    return county_reply(
        sender=utf8_word("东山县财政局") + b" <czj@dongshan.gov.cn>",
        subject=utf8_word("回复：2024年度绩效自评表"),
        attachments=[
            (b"Content-Type: " + XLSX + b'; name="' + utf8_word("东山县-项目一.xlsx") + b'"\r\n'
             b"Content-Disposition: attachment; filename*=utf-8''%E4%B8%9C%E5%B1%B1%E5%8E%BF-%E9%A1%B9%E7%9B%AE%E4%B8%80.xlsx",
             BOOK_A),
            (b"Content-Type: " + XLSX + b'; name="' + utf8_word("东山县-项目二.xlsx") + b'"\r\n'
             b'Content-Disposition: attachment; filename="' + utf8_word("东山县-项目二.xlsx") + b'"',
             BOOK_B),
        ],
    )


def gbk_name_reply() -> bytes:  # Foxmail style: GBK encoded words only
    return county_reply(
        sender=gbk_word("西河县财政局") + b" <czj@xihe.gov.cn>",
        subject=gbk_word("西河县自评表"),
        attachments=[
            (b"Content-Type: application/vnd.ms-excel;\r\n\tname=\"" + gbk_word("西河县绩效自评表（终稿）.xls") + b'"\r\n'
             b"Content-Disposition: attachment;\r\n\tfilename=\"" + gbk_word("西河县绩效自评表（终稿）.xls") + b'"',
             BOOK_C),
        ],
    )


def no_attachment_reply() -> bytes:
    return county_reply(
        sender=b"=?GBK?B?" + base64.b64encode("北岭县".encode("gbk")) + b"?= <czj@beiling.gov.cn>",
        subject=gbk_word("自评表明天报送"),
        body="我县自评表明天报送。".encode("gbk"),
    )


def collect(settings: MailSettings, **kw):
    got: list[Attachment] = []
    report = fetch_attachments(settings, store=got.append, **kw)
    return report, got


def test_fetch__three_replies_give_decoded_attachments_and_list_the_empty_one(imap_server):
    for raw in (two_workbooks_reply(), gbk_name_reply(), no_attachment_reply()):
        deliver(imap_server, raw)

    report, got = collect(imap_settings(imap_server))

    assert [(a.filename, a.data) for a in got] == [
        ("东山县-项目一.xlsx", BOOK_A),
        ("东山县-项目二.xlsx", BOOK_B),
        ("西河县绩效自评表（终稿）.xls", BOOK_C),
    ]
    assert got[0].sender == "东山县财政局 <czj@dongshan.gov.cn>"
    assert got[2].subject == "西河县自评表"
    assert got[2].received == "Tue, 28 May 2024 09:30:00 +0800"
    assert got[2].message_id.endswith("@county.gov.cn>")
    assert (report.messages_seen, report.attachments_stored, report.failures) == (3, 3, ())
    assert [(m.sender, m.subject) for m in report.without_attachments] == [("北岭县 <czj@beiling.gov.cn>", "自评表明天报送")]
    assert all("\\Seen" in flags for flags in mailbox_flags(imap_server).values())


def test_fetch_again__nothing_new_after_everything_was_collected(imap_server):
    deliver(imap_server, two_workbooks_reply())
    collect(imap_settings(imap_server))

    report, got = collect(imap_settings(imap_server))

    assert got == [] and report.messages_seen == 0


def test_store_fails_for_one_reply__it_stays_unseen_and_comes_back_next_time(imap_server):
    deliver(imap_server, two_workbooks_reply())
    deliver(imap_server, gbk_name_reply())
    stored: list[str] = []

    def disk_full_for_xihe(att: Attachment) -> None:
        if att.filename.startswith("西河县"):
            raise OSError("磁盘已满")
        stored.append(att.filename)

    report = fetch_attachments(imap_settings(imap_server), store=disk_full_for_xihe)

    assert stored == ["东山县-项目一.xlsx", "东山县-项目二.xlsx"]
    (failure,) = report.failures
    assert failure.subject == "西河县自评表" and "磁盘已满" in failure.message
    assert mailbox_flags(imap_server) == {1: {"\\Seen"}, 2: set()}

    report, got = collect(imap_settings(imap_server))
    assert [a.filename for a in got] == ["西河县绩效自评表（终稿）.xls"]
    assert report.failures == ()
    assert mailbox_flags(imap_server) == {1: {"\\Seen"}, 2: {"\\Seen"}}


def test_fetch__forwarded_reply_and_raw_gbk_header_names_are_found(imap_server):
    # A clerk forwards the county's mail as an attachment (message/rfc822);
    # inside, an old client wrote the file name as raw GBK bytes.
    inner = county_reply(
        sender=b"czj@nanhu.gov.cn",
        subject="南湖县自评表".encode("gbk"),
        attachments=[(b"Content-Type: application/octet-stream;\r\n name=\"" + "南湖县自评表.xlsx".encode("gbk") + b'"', BOOK_A)],
    )
    outer = county_reply(sender=b"clerk@example.gov.cn", subject=b"Fwd: nanhu", boundary=b"outer").replace(
        b"--outer--",
        b"--outer\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"fwd.eml\"\r\n\r\n"
        + inner + b"\r\n--outer\r\n"
        b"Content-Type: application/vnd.ms-excel\r\n"
        b"Content-Disposition: attachment; filename*=gbk''%C4%CF%BA%FE%CF%D8.xls\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(BOOK_B) + b"\r\n--outer--",
    )
    deliver(imap_server, outer)

    report, got = collect(imap_settings(imap_server))

    assert [(a.filename, a.data) for a in got] == [("南湖县自评表.xlsx", BOOK_A), ("南湖县.xls", BOOK_B)]
    assert report.without_attachments == ()


def test_fetch__seen_plus_keyword_marks_collected_mail(imap_server):
    deliver(imap_server, gbk_name_reply())
    collect(imap_settings(imap_server), mark="seen+keyword")
    assert mailbox_flags(imap_server) == {1: {"\\Seen", "$xlperf-collected"}}


def test_fetch__mark_none_leaves_mail_unread_for_a_preview(imap_server):
    deliver(imap_server, gbk_name_reply())
    _, got = collect(imap_settings(imap_server), mark="none")
    assert len(got) == 1
    assert mailbox_flags(imap_server) == {1: set()}


def test_fetch__from_a_chinese_named_folder(imap_server):
    folder_utf7 = "&fullSA-/&Vt5lNg-"  # 绩效/回收, modified UTF-7 as Outlook creates it
    create_folder(imap_server, folder_utf7)
    deliver(imap_server, gbk_name_reply(), folder=folder_utf7)

    _, got = collect(imap_settings(imap_server, imap_folder="绩效/回收"))

    assert [a.filename for a in got] == ["西河县绩效自评表（终稿）.xls"]


def test_fetch_over_imaps__with_the_bureau_ca(imap_server, tls_files):
    if imap_server.ssl_port is None:
        pytest.skip("Dovecot runs without TLS")
    deliver(imap_server, gbk_name_reply())
    settings = imap_settings(imap_server, imap_security="ssl", imap_port=imap_server.ssl_port, tls_ca_file=str(tls_files.cert))
    _, got = collect(settings)
    assert len(got) == 1


def test_fetch_with_starttls(imap_server, tls_files):
    if imap_server.ssl_port is None:
        pytest.skip("Dovecot runs without TLS")
    deliver(imap_server, gbk_name_reply())
    _, got = collect(imap_settings(imap_server, imap_security="starttls", tls_ca_file=str(tls_files.cert)))
    assert len(got) == 1


def test_fetch_with_wrong_password__mail_error_without_the_password(imap_server):
    settings = MailSettings(imap_port=imap_server.port, imap_user=imap_server.user, imap_password="Wrong-Imap-77")
    with pytest.raises(MailError) as err:
        fetch_attachments(settings, store=lambda att: None)
    assert err.value.code == "mail-fetch-failed"
    assert "用户名或密码错误" in err.value.message
    assert "Wrong-Imap-77" not in str(err.value)


# ------------------------------------------------------------------ round trip


def test_round_trip__notice_sent_by_us_is_collected_with_its_name(smtp_server, imap_server, template):
    with Sender(smtp_settings(smtp_server)) as sender:
        sender.send(notice(template))
    deliver(imap_server, smtp_server.envelopes[0].content)

    _, got = collect(imap_settings(imap_server))

    assert [(a.filename, a.data) for a in got] == [(TEMPLATE_NAME, template.read_bytes())]


def test_a_connection_dropped_between_messages_is_reopened(smtp_server):
    """Servers close idle connections; the next message must still go out."""
    with Sender(smtp_settings(smtp_server, rate_per_minute=0)) as sender:
        sender.send(build_message(sender=BUREAU, to="a@example.gov.cn", subject="一", body="正文", attachments=[]))
        import socket
        sender._smtp.sock.shutdown(socket.SHUT_RDWR)   # the connection dies while we wait our turn
        sender.send(build_message(sender=BUREAU, to="b@example.gov.cn", subject="二", body="正文", attachments=[]))
    assert [m["Subject"] for m in smtp_server.messages] == ["一", "二"]
