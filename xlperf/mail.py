"""Sending templates to counties and collecting their returns by e-mail.

Two halves, both over the standard library only (smtplib, imaplib, email):

* sending: `build_message` makes a message whose Chinese subject, body and
  attachment names survive Outlook, Foxmail and QQ/163 webmail; `Sender` sends
  a batch over one SMTP connection at a polite rate; `write_eml` is the dry run.
* collecting: `fetch_attachments` hands every attachment of every unread
  message to a `store` callback and marks the message read only once all of
  its attachments were stored, so a failure never loses a county's return.

Passwords never appear in a repr, a log line or an exception message.
"""
from __future__ import annotations

import base64
import binascii
import email
import email.policy
import email.utils
import imaplib
import logging
import mimetypes
import os
import quopri
import re
import smtplib
import socket
import ssl
import time
from dataclasses import asdict, dataclass, field, fields
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from .errors import XlperfError

log = logging.getLogger(__name__)

SECURITY_MODES = ("none", "starttls", "ssl")
MARK_MODES = ("seen", "seen+keyword", "none")
COLLECTED_KEYWORD = "$xlperf-collected"
SMTP_PASSWORD_ENV = "XLPERF_SMTP_PASSWORD"
IMAP_PASSWORD_ENV = "XLPERF_IMAP_PASSWORD"

# Headers we fold by hand (attachment names) are sent exactly as written;
# everything else is folded by the standard SMTP policy.
_SEND_POLICY = email.policy.SMTP.clone(refold_source="none")



class _ReceivePolicy(email.policy.Compat32):
    """compat32 parsing, but header values with raw 8-bit bytes (old clients
    write GBK file names unencoded) come back decoded (UTF-8, else GB18030)
    instead of as U+FFFD."""

    def header_fetch_parse(self, name, value):
        if _has_raw_bytes(value):
            return _decode_bytes(value.encode("ascii", "surrogateescape"), None)
        return super().header_fetch_parse(name, value)


_RECEIVE_POLICY = _ReceivePolicy()

# Chinese clients label GBK text as gb2312 (a subset); gb18030 decodes all of them.
_CHINESE_CHARSETS = {"gb2312", "gb_2312", "gb_2312-80", "gbk", "x-gbk", "cp936", "ms936", "euc-cn", "csgb2312"}


class MailError(XlperfError):
    """Sending or collecting mail failed; the message never contains a password."""

    code = "mail-send-failed"


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class MailSettings:
    """Where and how to send and collect mail.

    Passwords are left out of the repr; when empty they are taken from
    XLPERF_SMTP_PASSWORD / XLPERF_IMAP_PASSWORD at connection time.
    `tls_ca_file` adds a PEM bundle to trust (a bureau's own CA or a
    self-signed server certificate). `rate_per_minute` 0 means no limit.
    """

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_security: str = "none"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    sender: str = ""
    imap_host: str = "127.0.0.1"
    imap_port: int = 143
    imap_security: str = "none"
    imap_user: str = ""
    imap_password: str = field(default="", repr=False)
    imap_folder: str = "INBOX"
    rate_per_minute: int = 30
    tls_ca_file: str = ""
    timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in ("smtp_security", "imap_security"):
            if getattr(self, name) not in SECURITY_MODES:
                raise MailError(
                    f"邮件设置 {name} 为“{getattr(self, name)}”，只能是 none、starttls 或 ssl",
                    code="mail-settings-invalid",
                )
        if self.rate_per_minute < 0:
            raise MailError("邮件设置 rate_per_minute 不能为负数（0 表示不限速）", code="mail-settings-invalid")

    @classmethod
    def from_dict(cls, d: dict, *, environ: dict | None = None) -> "MailSettings":
        """Settings from a config mapping; unknown keys are ignored and the
        password environment variables, when set, override the mapping."""
        env = os.environ if environ is None else environ
        kinds = {f.name: f.type for f in fields(cls)}
        values: dict = {}
        for key, value in (d or {}).items():
            if key not in kinds or value is None:
                continue
            try:
                if kinds[key] == "int":
                    value = int(value)
                elif kinds[key] == "float":
                    value = float(value)
                else:
                    value = str(value).strip() if "password" not in key else str(value)
            except (TypeError, ValueError):
                raise MailError(f"邮件设置 {key} 的值“{value}”不是数字", code="mail-settings-invalid") from None
            values[key] = value
        for key, var in (("smtp_password", SMTP_PASSWORD_ENV), ("imap_password", IMAP_PASSWORD_ENV)):
            if env.get(var):
                values[key] = env[var]
        return cls(**values)


def _password(explicit: str, env_var: str) -> str:
    return explicit or os.environ.get(env_var, "")


def _tls_context(settings: MailSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.tls_ca_file or None)


def _scrub(text: str, *secrets: str) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# ---------------------------------------------------------------- building


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str,
    attachments: list[Path],
    reply_to: str | None = None,
) -> EmailMessage:
    """A UTF-8 message with a Message-ID, ready for `Sender.send` or `write_eml`.

    Each attachment carries its name twice, as Thunderbird does: RFC 2231
    (`filename*=utf-8''…`) for modern clients and an RFC 2047 encoded word in
    Content-Type `name="=?utf-8?B?…?="` for old Outlook and Foxmail.
    """
    msg = EmailMessage(policy=_SEND_POLICY)
    msg["From"] = sender
    msg["To"] = to
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=True)
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "xlperf.invalid"
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)
    msg.set_content(body, charset="utf-8", cte="base64")
    if attachments:
        msg.make_mixed()
        for path in attachments:
            msg.attach(_attachment_part(Path(path)))
    return msg


def _attachment_part(path: Path) -> Message:
    """One base64 attachment with hand-folded headers. The email package would
    re-encode the `name=` encoded word, and refolding a long Content-Type such
    as the xlsx one turns it into `application/=?utf-8?q?vnd…` (seen with
    Python 3.11), which no client can open."""
    data = path.read_bytes()
    mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    name = path.name
    if name.isascii():
        ctype = f'{mime_type};\r\n name="{_quote_param(name)}"'
        disp = f'attachment;\r\n filename="{_quote_param(name)}"'
    else:
        words = "\r\n ".join(_encoded_words(name))
        ctype = f'{mime_type};\r\n name="{words}"'
        disp = "attachment;\r\n " + ";\r\n ".join(_rfc2231_lines("filename", name))
    body = base64.encodebytes(data).replace(b"\n", b"\r\n")
    head = f"Content-Type: {ctype}\r\nContent-Disposition: {disp}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    return BytesParser(policy=_SEND_POLICY).parsebytes(head.encode("ascii") + body)


def _quote_param(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _encoded_words(text: str, limit: int = 56) -> list[str]:
    """RFC 2047 B-words of at most ~75 characters, never splitting a character."""
    words, chunk = [], ""
    for ch in text:
        if len(base64.b64encode((chunk + ch).encode("utf-8"))) > limit:
            words.append(chunk)
            chunk = ""
        chunk += ch
    words.append(chunk)
    return [f"=?utf-8?B?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words]


def _rfc2231_lines(param: str, text: str, limit: int = 54) -> list[str]:
    """`param*0*=utf-8''…`, `param*1*=…` continuations, each short enough for one line."""
    pieces, chunk = [], ""
    for ch in text:
        if len(quote((chunk + ch).encode("utf-8"), safe="")) > limit:
            pieces.append(chunk)
            chunk = ""
        chunk += ch
    pieces.append(chunk)
    encoded = [quote(p.encode("utf-8"), safe="") for p in pieces]
    if len(encoded) == 1:
        return [f"{param}*=utf-8''{encoded[0]}"]
    return [f"{param}*{i}*={'utf-8' + chr(39) * 2 if i == 0 else ''}{e}" for i, e in enumerate(encoded)]


# ---------------------------------------------------------------- sending


class Sender:
    """One SMTP connection for a batch, spacing messages `60/rate_per_minute`
    seconds apart. Use as a context manager; the connection is opened on the
    first send and reopened after a failure."""

    def __init__(
        self,
        settings: MailSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        self._smtp: smtplib.SMTP | None = None
        self._last_start: float | None = None

    def __enter__(self) -> "Sender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def send(self, msg: EmailMessage) -> str:
        """Send `msg` (adding From/Message-ID when missing); return its Message-ID."""
        s = self.settings
        if msg["From"] is None and s.sender:
            msg["From"] = s.sender
        if msg["Message-ID"] is None:
            domain = email.utils.parseaddr(str(msg["From"] or ""))[1].rpartition("@")[2] or "xlperf.invalid"
            msg["Message-ID"] = email.utils.make_msgid(domain=domain)
        message_id = str(msg["Message-ID"]).strip()
        self._wait_for_turn()
        try:
            if self._smtp is not None and not self._alive():
                self.close()   # the server dropped an idle connection while we waited our turn
            if self._smtp is None:
                self._smtp = self._connect()
            refused = self._smtp.send_message(msg)
        except (smtplib.SMTPException, OSError, UnicodeError) as exc:
            self.close()
            raise MailError(self._describe(exc, msg), code="mail-send-failed") from None
        if refused:
            bad = "、".join(sorted(refused))
            raise MailError(f"邮件已发送，但以下收件人被服务器拒收：{bad}", code="mail-send-failed")
        log.info("已发送邮件 %s 至 %s", message_id, msg["To"])
        return message_id

    def _alive(self) -> bool:
        try:
            return self._smtp is not None and self._smtp.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False

    def _wait_for_turn(self) -> None:
        rate = self.settings.rate_per_minute
        if rate and self._last_start is not None:
            wait = self._last_start + 60.0 / rate - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last_start = self._clock()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.timeout, context=_tls_context(s))
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout)
        try:
            if s.smtp_security == "starttls":
                smtp.starttls(context=_tls_context(s))
            if s.smtp_user:
                smtp.login(s.smtp_user, _password(s.smtp_password, SMTP_PASSWORD_ENV))
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _describe(self, exc: BaseException, msg: EmailMessage) -> str:
        s = self.settings
        where = f"{s.smtp_host}:{s.smtp_port}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            why = f"登录被拒绝，请检查用户名 {s.smtp_user} 和密码（服务器回复 {exc.smtp_code}）"
        elif isinstance(exc, smtplib.SMTPRecipientsRefused):
            why = "收件人被服务器拒收：" + "、".join(sorted(exc.recipients))
        elif isinstance(exc, smtplib.SMTPSenderRefused):
            why = f"发件人 {exc.sender} 被服务器拒绝（{exc.smtp_code}）"
        elif isinstance(exc, smtplib.SMTPNotSupportedError):
            why = "服务器不支持所选的加密方式（STARTTLS）或登录方式"
        elif isinstance(exc, ssl.SSLError):
            why = f"加密连接失败，请检查 smtp_security 设置与服务器证书（{exc.reason or exc}）"
        elif isinstance(exc, ConnectionRefusedError):
            why = "连接被拒绝，请检查 SMTP 服务器地址和端口"
        elif isinstance(exc, (socket.timeout, TimeoutError)):
            why = "连接超时，请检查网络或服务器地址"
        elif isinstance(exc, socket.gaierror):
            why = "找不到该服务器，请检查 SMTP 服务器地址"
        elif isinstance(exc, UnicodeError):
            why = "用户名、密码或收件人地址含有服务器不接受的非英文字符"
        elif isinstance(exc, smtplib.SMTPServerDisconnected):
            why = "服务器断开了连接"
        else:
            why = f"{type(exc).__name__}: {exc}"
        text = f"发送邮件“{msg['Subject']}”至 {msg['To']} 失败（{where}）：{why}"
        return _scrub(text, s.smtp_password, _password("", SMTP_PASSWORD_ENV))


def write_eml(msg: EmailMessage, directory: Path) -> Path:
    """Dry run: save `msg` as `<subject>.eml` in `directory`, never overwriting
    (a second file gets ` (2)`, ` (3)`, …)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = _safe_name(str(msg["Subject"] or "")) or "message"
    data = msg.as_bytes()
    n = 1
    while True:
        path = directory / (f"{stem}.eml" if n == 1 else f"{stem} ({n}).eml")
        try:
            with open(path, "xb") as fh:
                fh.write(data)
            return path
        except FileExistsError:
            n += 1


def _safe_name(text: str, limit: int = 80) -> str:
    """A file name that Windows, macOS and Linux all accept."""
    text = re.sub(r'[\x00-\x1f\x7f<>:"/\\|?*]+', "_", text).strip(" .")
    return text[:limit].rstrip(" .")


# ---------------------------------------------------------------- collecting


@dataclass(frozen=True)
class Attachment:
    """One attachment of a collected message; names are decoded, `data` is
    left out of the repr."""

    filename: str
    data: bytes = field(repr=False)
    message_uid: str
    message_id: str
    sender: str
    subject: str
    received: str


@dataclass(frozen=True)
class MessageSummary:
    uid: str
    message_id: str
    sender: str
    subject: str
    received: str


@dataclass(frozen=True)
class FetchFailure:
    uid: str
    message_id: str
    sender: str
    subject: str
    message: str
    code: str = "mail-store-failed"


@dataclass(frozen=True)
class FetchReport:
    """What one collection run did. Messages in `failures` stay unread and are
    fetched again next time; `without_attachments` were marked read."""

    messages_seen: int = 0
    attachments_stored: int = 0
    without_attachments: tuple[MessageSummary, ...] = ()
    failures: tuple[FetchFailure, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict:
        return asdict(self)


def fetch_attachments(
    settings: MailSettings,
    *,
    store: Callable[[Attachment], None],
    only_unseen: bool = True,
    mark: str = "seen",
) -> FetchReport:
    """Call `store` for every attachment of every (unread) message in
    `settings.imap_folder`, including those nested in forwarded messages.

    A message is marked `\\Seen` (with `mark="seen+keyword"` also
    `$xlperf-collected`; with `mark="none"` not at all) only after all its
    attachments were stored. If `store` raises, the message stays unread and
    its attachments come again next run, so `store` should be idempotent.
    Connection and login problems raise MailError; per-message problems are
    reported in the returned FetchReport.
    """
    if mark not in MARK_MODES:
        raise ValueError(f"mark must be one of {MARK_MODES}, not {mark!r}")
    s = settings
    password = _password(s.imap_password, IMAP_PASSWORD_ENV)
    where = f"{s.imap_host}:{s.imap_port}"
    seen = stored = 0
    quiet: list[MessageSummary] = []
    failures: list[FetchFailure] = []
    try:
        conn = _imap_connect(s, password)
    except (imaplib.IMAP4.error, OSError, UnicodeError) as exc:
        raise MailError(_scrub(f"无法登录收件服务器 {where}：{_imap_reason(exc)}", password), code="mail-fetch-failed") from None
    try:
        try:
            typ, _ = conn.select(_imap_mailbox(s.imap_folder))
            if typ != "OK":
                raise imaplib.IMAP4.error(f"文件夹“{s.imap_folder}”不存在或无法打开")
            typ, data = conn.uid("SEARCH", None, "UNSEEN" if only_unseen else "ALL")
            if typ != "OK":
                raise imaplib.IMAP4.error("搜索邮件失败")
            uids = [u.decode("ascii") for u in (data[0] or b"").split()]
            flags = r"(\Seen)"
            if mark == "seen+keyword" and _keywords_allowed(conn):
                flags = rf"(\Seen {COLLECTED_KEYWORD})"
        except (imaplib.IMAP4.error, OSError) as exc:
            raise MailError(_scrub(f"读取收件箱 {where} 失败：{_imap_reason(exc)}", password), code="mail-fetch-failed") from None

        for uid in uids:
            summary = MessageSummary(uid, "", "", "", "")
            try:
                raw = _fetch_raw(conn, uid)
                msg = email.message_from_bytes(raw, policy=_RECEIVE_POLICY)
                summary = _summary(uid, msg)
                parts = list(_attachment_parts(msg))
            except (imaplib.IMAP4.abort, OSError) as exc:  # the connection is gone: stop here
                failures.append(_failure(summary, f"连接中断：{_imap_reason(exc)}", "mail-fetch-failed", password))
                break
            except (imaplib.IMAP4.error, ValueError) as exc:
                failures.append(_failure(summary, f"读取邮件失败：{_imap_reason(exc)}", "mail-fetch-failed", password))
                continue
            seen += 1
            try:
                for filename, data in parts:
                    store(Attachment(filename, data, uid, summary.message_id, summary.sender, summary.subject, summary.received))
                    stored += 1
            except Exception as exc:  # the store callback may fail in any way; the mail stays unread
                failures.append(_failure(summary, f"保存附件“{filename}”失败：{exc}", "mail-store-failed", password))
                log.warning("邮件 %s（%s）的附件保存失败，保留为未读", uid, summary.subject)
                continue
            if not parts:
                quiet.append(summary)
            if mark == "none":
                continue
            try:
                typ, _ = conn.uid("STORE", uid, "+FLAGS.SILENT", flags)
                if typ != "OK":
                    raise imaplib.IMAP4.error("服务器拒绝标记为已读")
            except (imaplib.IMAP4.error, OSError) as exc:
                failures.append(_failure(summary, f"附件已保存，但标记已读失败：{_imap_reason(exc)}", "mail-mark-failed", password))
                if isinstance(exc, (imaplib.IMAP4.abort, OSError)):
                    break
    finally:
        _imap_close(conn)
    log.info("收取邮件 %d 封，保存附件 %d 个，失败 %d 封", seen, stored, len(failures))
    return FetchReport(seen, stored, tuple(quiet), tuple(failures))


def _imap_connect(s: MailSettings, password: str) -> imaplib.IMAP4:
    if s.imap_security == "ssl":
        conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(s.imap_host, s.imap_port, ssl_context=_tls_context(s), timeout=s.timeout)
    else:
        conn = imaplib.IMAP4(s.imap_host, s.imap_port, timeout=s.timeout)
    try:
        if s.imap_security == "starttls":
            conn.starttls(ssl_context=_tls_context(s))
        conn.login(s.imap_user, password)
    except BaseException:
        _imap_close(conn)
        raise
    return conn


def _imap_close(conn: imaplib.IMAP4) -> None:
    # LOGOUT without CLOSE: CLOSE would expunge what other clients flagged \Deleted.
    try:
        conn.logout()
    except (imaplib.IMAP4.error, OSError):
        try:
            conn.shutdown()
        except OSError:
            pass


def _imap_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "连接被拒绝，请检查 IMAP 服务器地址和端口"
    if isinstance(exc, ssl.SSLError):
        return f"加密连接失败，请检查 imap_security 设置与服务器证书（{exc.reason or exc}）"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "连接超时"
    if isinstance(exc, UnicodeError):
        return "用户名或密码含有服务器不接受的非英文字符"
    arg = exc.args[0] if exc.args else ""
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    if isinstance(exc, imaplib.IMAP4.error) and "AUTHENTICATIONFAILED" in text.upper():
        return "用户名或密码错误"
    return text or type(exc).__name__


def _failure(summary: MessageSummary, text: str, code: str, password: str) -> FetchFailure:
    return FetchFailure(summary.uid, summary.message_id, summary.sender, summary.subject, _scrub(text, password), code)


def _keywords_allowed(conn: imaplib.IMAP4) -> bool:
    _, data = conn.response("PERMANENTFLAGS")
    return any(d and b"\\*" in d for d in data)


def _fetch_raw(conn: imaplib.IMAP4, uid: str) -> bytes:
    typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"服务器拒绝读取邮件 {uid}")
    for item in data:
        if isinstance(item, tuple) and b"BODY[]" in item[0].upper():
            return item[1]
    raise imaplib.IMAP4.error(f"邮件 {uid} 已不存在")


def _imap_mailbox(name: str) -> str:
    """A folder name as an IMAP quoted string in modified UTF-7 (RFC 3501 §5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            b64 = base64.b64encode("".join(pending).encode("utf-16-be")).decode("ascii")
            out.append("&" + b64.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if " " <= ch <= "~":
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    encoded = "".join(out)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _summary(uid: str, msg: Message) -> MessageSummary:
    return MessageSummary(
        uid=uid,
        message_id=decode_header_text(msg["Message-ID"]).strip(),
        sender=decode_header_text(msg["From"]),
        subject=decode_header_text(msg["Subject"]),
        received=decode_header_text(msg["Date"]),
    )


def _attachment_parts(msg: Message):
    """(filename, bytes) for every attachment, walking nested multiparts and
    forwarded messages; body text and images embedded in HTML are skipped."""
    n = 0
    for part in msg.walk():
        if part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        name = attachment_filename(part)
        if name is None:
            if disposition != "attachment":
                continue
        elif disposition != "attachment" and part["Content-ID"] and part.get_content_maintype() == "image":
            continue
        n += 1
        if not name:
            name = f"附件{n}{mimetypes.guess_extension(part.get_content_type()) or '.bin'}"
        yield name, part.get_payload(decode=True) or b""


# ---------------------------------------------------------------- decoding names


def attachment_filename(part: Message) -> str | None:
    """The decoded file name of a MIME part (parsed with a compat32 policy), or
    None. Accepts RFC 2231, RFC 2047 words in quotes (=?GBK?B?…?=) and raw
    8-bit GBK or UTF-8; path components are dropped."""
    for header, key in (("content-disposition", "filename"), ("content-type", "name")):
        values = [v for k, v in part.get_params(header=header, failobj=[]) if k.lower() == key]
        values.sort(key=lambda v: not isinstance(v, tuple))  # RFC 2231 form wins
        for value in values:
            name = _clean_filename(_decode_param(value))
            if name:
                return name
    return None


def _decode_param(value) -> str:
    if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded latin-1 text)
        charset, _, text = value
        text = _decode_bytes(text.encode("latin-1", "surrogateescape"), charset)
    else:
        text = email.utils.unquote(str(value))
    return decode_header_text(text)


def _clean_filename(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return re.sub(r"[\x00-\x1f\x7f]", "", name).strip()


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def decode_header_text(value) -> str:
    """Header text as str: RFC 2047 words in any charset (adjacent words joined
    before decoding, so a character split between words survives) and raw
    8-bit bytes (UTF-8, else GB18030)."""
    if value is None:
        return ""
    text = str(value)
    if _has_raw_bytes(text):
        text = _decode_bytes(text.encode("ascii", "surrogateescape"), None)
    text = re.sub(r"\r?\n[ \t]", " ", text)
    if "=?" not in text:
        return text
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset = ""
    pos = 0

    def flush() -> None:
        if pending:
            out.append(_decode_bytes(b"".join(pending), pending_charset))
            pending.clear()

    for m in _ENCODED_WORD.finditer(text):
        gap = text[pos : m.start()]
        charset = m.group(1).split("*", 1)[0].lower()  # RFC 2231 allows "utf-8*zh"
        if not (pos and not gap.strip()):  # whitespace only between two words is dropped
            flush()
            out.append(gap)
        elif charset != pending_charset:
            flush()
        pending.append(_decode_word(m.group(2), m.group(3)))
        pending_charset = charset
        pos = m.end()
    flush()
    out.append(text[pos:])
    return "".join(out)


def _has_raw_bytes(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _decode_word(kind: str, payload: str) -> bytes:
    try:
        if kind in "bB":
            return base64.b64decode(payload + "=" * (-len(payload) % 4))
        return quopri.decodestring(payload.encode("ascii"), header=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return payload.encode("ascii", "replace")


def _decode_bytes(data: bytes, charset: str | None) -> str:
    tries = []
    if charset:
        cs = charset.lower().strip()
        tries.append("gb18030" if cs in _CHINESE_CHARSETS else cs)
    tries += ["utf-8", "gb18030"]
    for cs in tries:
        try:
            return data.decode(cs)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("gb18030", errors="replace")
