"""Decoding what Chinese mail clients write, which no library decodes for us.

Old Foxmail, Outlook and webmail clients send attachment names and subjects
as raw 8-bit GBK (no encoded word at all), label GBK as gb2312, split one
character across two RFC 2047 words, or quote an encoded word inside a
parameter. The standard library turns each of those into U+FFFD or leaves
them encoded; a county's file must still arrive under its Chinese name.
"""
from __future__ import annotations

import base64
import binascii
import email.policy
import email.utils
import quopri
import re
from email.message import Message

# Chinese clients label GBK text as gb2312 (a subset); gb18030 decodes all of them.
_CHINESE_CHARSETS = {"gb2312", "gb_2312", "gb_2312-80", "gbk", "x-gbk", "cp936", "ms936", "euc-cn", "csgb2312"}


class _ReceivePolicy(email.policy.Compat32):
    """compat32 parsing, but header values with raw 8-bit bytes (old clients
    write GBK file names unencoded) come back decoded (UTF-8, else GB18030)
    instead of as U+FFFD."""

    def header_fetch_parse(self, name, value):
        if _has_raw_bytes(value):
            return _decode_bytes(value.encode("ascii", "surrogateescape"), None)
        return super().header_fetch_parse(name, value)


RECEIVE_POLICY = _ReceivePolicy()


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
