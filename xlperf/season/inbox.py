"""Collecting returns from an IMAP mailbox (imap-tools does the protocol).

`fetch_attachments` hands every attachment of every unread message to a
`store` callback and marks the message read only once all of its attachments
were stored, so a failure never loses a county's return. imap-tools does the
search, fetch, flags and the modified UTF-7 of Chinese folder names; what it
does not do, decoding what Chinese mail clients write, is mailnames.py.
"""
from __future__ import annotations

import email
import imaplib
import logging
import mimetypes
import socket
import ssl
from dataclasses import asdict, dataclass, field
from email.message import Message
from typing import Callable

from imap_tools import AND, MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessageFlags
from imap_tools.errors import ImapToolsError, MailboxLoginError
from imap_tools.message import MailMessage

from .mail import (COLLECTED_KEYWORD, IMAP_PASSWORD_ENV, MARK_MODES, MailError, MailSettings, _password, _scrub,
                   _tls_context)
from .mailnames import RECEIVE_POLICY, attachment_filename, decode_header_text

log = logging.getLogger(__name__)


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


class _RawMessage(MailMessage):
    """A fetched message parsed with the receive policy that decodes raw GBK
    headers (imap-tools' own parse would turn them into U+FFFD)."""

    def __init__(self, fetch_data: list) -> None:
        raw, self._raw_uid_data, self._raw_flag_data = self._get_message_data_parts(fetch_data)
        self.obj: Message = email.message_from_bytes(raw, policy=RECEIVE_POLICY)


def _mailbox(s: MailSettings):
    if s.imap_security == "ssl":
        box = MailBox(s.imap_host, s.imap_port, timeout=s.timeout, ssl_context=_tls_context(s))
    elif s.imap_security == "starttls":
        box = MailBoxStartTls(s.imap_host, s.imap_port, timeout=s.timeout, ssl_context=_tls_context(s))
    else:
        box = MailBoxUnencrypted(s.imap_host, s.imap_port, timeout=s.timeout)
    box.email_message_class = _RawMessage
    return box


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
        box = _mailbox(s)
        box.login(s.imap_user, password, initial_folder=None)
    except (ImapToolsError, imaplib.IMAP4.error, OSError, UnicodeError) as exc:
        raise MailError(_scrub(f"无法登录收件服务器 {where}：{_reason(exc)}", password), code="mail-fetch-failed") from None
    try:
        try:
            box.folder.set(s.imap_folder)
        except (ImapToolsError, imaplib.IMAP4.error) as exc:
            raise MailError(_scrub(f"读取收件箱 {where} 失败：文件夹“{s.imap_folder}”不存在或无法打开（{_reason(exc)}）",
                                   password), code="mail-fetch-failed") from None
        try:
            keywords = mark == "seen+keyword" and _keywords_allowed(box)
            uids = box.uids(AND(seen=False) if only_unseen else "ALL")
        except (ImapToolsError, imaplib.IMAP4.error, OSError) as exc:
            raise MailError(_scrub(f"读取收件箱 {where} 失败：{_reason(exc)}", password), code="mail-fetch-failed") from None
        flags = [MailMessageFlags.SEEN, COLLECTED_KEYWORD] if keywords else [MailMessageFlags.SEEN]

        for uid in uids:
            summary = MessageSummary(uid, "", "", "", "")
            try:
                fetched = next(box.fetch(uid_list=[uid], mark_seen=False, bulk=False), None)
                if fetched is None:
                    raise ImapToolsError(f"邮件 {uid} 已不存在")
                summary = _summary(uid, fetched.obj)
                parts = list(_attachment_parts(fetched.obj))
            except (imaplib.IMAP4.abort, OSError) as exc:  # the connection is gone: stop here
                failures.append(_failure(summary, f"连接中断：{_reason(exc)}", "mail-fetch-failed", password))
                break
            except (ImapToolsError, imaplib.IMAP4.error, ValueError) as exc:
                failures.append(_failure(summary, f"读取邮件失败：{_reason(exc)}", "mail-fetch-failed", password))
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
                box.flag([uid], flags, True)
            except (ImapToolsError, imaplib.IMAP4.error, OSError) as exc:
                failures.append(_failure(summary, f"附件已保存，但标记已读失败：{_reason(exc)}", "mail-mark-failed", password))
                if isinstance(exc, (imaplib.IMAP4.abort, OSError)):
                    break
    finally:
        _close(box)
    log.info("收取邮件 %d 封，保存附件 %d 个，失败 %d 封", seen, stored, len(failures))
    return FetchReport(seen, stored, tuple(quiet), tuple(failures))


def _close(box) -> None:
    # LOGOUT without CLOSE: CLOSE would expunge what other clients flagged \Deleted.
    try:
        box.logout()
    except (ImapToolsError, imaplib.IMAP4.error, OSError):
        try:
            box.client.shutdown()
        except OSError:
            pass


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "连接被拒绝，请检查 IMAP 服务器地址和端口"
    if isinstance(exc, ssl.SSLError):
        return f"加密连接失败，请检查 imap_security 设置与服务器证书（{exc.reason or exc}）"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "连接超时"
    if isinstance(exc, UnicodeError):
        return "用户名或密码含有服务器不接受的非英文字符"
    text = str(exc)
    if isinstance(exc, MailboxLoginError) or "AUTHENTICATIONFAILED" in text.upper():
        return "用户名或密码错误"
    arg = exc.args[0] if exc.args else ""
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    return text or type(exc).__name__


def _failure(summary: MessageSummary, text: str, code: str, password: str) -> FetchFailure:
    return FetchFailure(summary.uid, summary.message_id, summary.sender, summary.subject, _scrub(text, password), code)


def _keywords_allowed(box) -> bool:
    """Whether the server lets us set our own keyword (PERMANENTFLAGS contains \\*)."""
    _, data = box.client.response("PERMANENTFLAGS")
    return any(d and b"\\*" in d for d in data)


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
