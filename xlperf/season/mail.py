"""Sending forms to counties by e-mail: settings, messages, SMTP, dry runs.

`build_message` makes a message whose Chinese subject, body and attachment
names survive Outlook, Foxmail and QQ/163 webmail; `Sender` sends a batch
over one SMTP connection at a polite rate; `write_eml` is the dry run.
Collecting replies is inbox.py. Passwords never appear in a repr, a log line
or an exception message.
"""
from __future__ import annotations

import base64
import email
import email.policy
import email.utils
import logging
import mimetypes
import os
import re
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field, fields
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from ..errors import XlperfError

log = logging.getLogger(__name__)

SECURITY_MODES = ("none", "starttls", "ssl")
MARK_MODES = ("seen", "seen+keyword", "none")
COLLECTED_KEYWORD = "$xlperf-collected"
SMTP_PASSWORD_ENV = "XLPERF_SMTP_PASSWORD"
IMAP_PASSWORD_ENV = "XLPERF_IMAP_PASSWORD"

# Headers we fold by hand (attachment names) are sent exactly as written;
# everything else is folded by the standard SMTP policy.
_SEND_POLICY = email.policy.SMTP.clone(refold_source="none")



class MailError(XlperfError):
    """Sending or collecting mail failed; the message never contains a password.

    `server_down` is True when the server itself could not be reached or logged
    into, so no other message of the batch can go out either."""

    code = "mail-send-failed"
    server_down = False


_ADDRESS = re.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[A-Za-z0-9-]{2,}")


def check_sender(sender: str) -> str:
    """The From address, refused before anything is sent when empty or malformed:
    servers drop or bounce such mail, and counties cannot reply to it."""
    text = (sender or "").strip()
    if not text:
        raise MailError("邮件设置中发件人地址 sender 为空，请在 xlperf.yaml 的 mail 部分填写，例如 "
                        "sender: \"绩效办 <jxb@example.gov.cn>\"；未发送任何邮件", code="mail-sender-invalid")
    name, addr = email.utils.parseaddr(text)
    if not _ADDRESS.fullmatch(addr or ""):
        raise MailError(f"邮件设置中发件人地址 sender “{text}” 不是有效的邮箱地址，应形如 jxb@example.gov.cn 或 "
                        f"\"绩效办 <jxb@example.gov.cn>\"；未发送任何邮件", code="mail-sender-invalid")
    return text


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

    def open(self) -> None:
        """Connect and log in now, so an unreachable server or a wrong password is one
        clear error before the batch starts instead of one failure per message."""
        if self._smtp is not None:
            return
        try:
            self._smtp = self._connect()
        except (smtplib.SMTPException, OSError, UnicodeError) as exc:
            self.close()
            s = self.settings
            err = MailError(_scrub(f"无法连接发信服务器 {s.smtp_host}:{s.smtp_port}：{self._why(exc)}",
                                   s.smtp_password, _password("", SMTP_PASSWORD_ENV)), code="mail-server-unreachable")
            err.server_down = True
            raise err from None

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
        connecting = False
        try:
            if self._smtp is not None and not self._alive():
                self.close()   # the server dropped an idle connection while we waited our turn
            if self._smtp is None:
                connecting = True
                self._smtp = self._connect()
                connecting = False
            refused = self._smtp.send_message(msg)
        except (smtplib.SMTPException, OSError, UnicodeError) as exc:
            self.close()
            err = MailError(self._describe(exc, msg), code="mail-send-failed")
            err.server_down = connecting
            raise err from None
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
        text = f"发送邮件“{msg['Subject']}”至 {msg['To']} 失败（{where}）：{self._why(exc)}"
        return _scrub(text, s.smtp_password, _password("", SMTP_PASSWORD_ENV))

    def _why(self, exc: BaseException) -> str:
        s = self.settings
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
        return why


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
    from ..form.filenames import fit_bytes
    return fit_bytes(text[:limit], 180).rstrip(" .")
