"""Each unit's personal upload link, and the bureau's login password.

A link is `{base_url}/u/{token}`; the token names the unit (its roster rows
are the rows with that unit code), the link's version, and an HMAC over both
keyed by a key derived from the workspace secret. Nothing is stored per link:
the token is checked by recomputing the MAC (in constant time) and comparing
its version with the ledger's, so revoking a unit's link is one version bump
and every older link stops working at once.

The bureau password is kept in the ledger as a salted scrypt hash, never in
plain text.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from . import db
from .workspace import Workspace

_PURPOSE = b"xlperf upload link v1"
_MAC_BYTES = 16
PASSWORD_KEY = "web_password"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def link_key(secret: bytes) -> bytes:
    """A key used only for links, so a link MAC can never be replayed as a workbook signature."""
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def _mac(secret: bytes, unit_code: str, version: int) -> bytes:
    body = unit_code.encode("utf-8") + b"\0" + str(version).encode("ascii")
    return hmac.new(link_key(secret), body, hashlib.sha256).digest()[:_MAC_BYTES]


def make_token(secret: bytes, unit_code: str, version: int) -> str:
    return f"{_b64(unit_code.encode('utf-8'))}.{version}.{_b64(_mac(secret, unit_code, version))}"


@dataclass(frozen=True)
class LinkClaim:
    unit_code: str
    version: int


def parse_token(secret: bytes, token: str) -> LinkClaim | None:
    """The unit a token was signed for, or None when it is malformed or forged (not yet checked for revocation)."""
    if not isinstance(token, str) or len(token) > 400:
        return None
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 9:
        return None
    try:
        unit_code = _unb64(parts[0]).decode("utf-8")
        mac = _unb64(parts[2])
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    version = int(parts[1])
    if not hmac.compare_digest(mac, _mac(secret, unit_code, version)):
        return None
    return LinkClaim(unit_code, version)


def check_token(ws: Workspace, conn, token: str) -> LinkClaim | None:
    """A valid, current (not revoked) token of a unit that is on the active roster; else None."""
    claim = parse_token(ws.secret, token)
    if claim is None or claim.version != db.link_version(conn, claim.unit_code):
        return None
    if not any(r["unit_code"] == claim.unit_code for r in db.roster_rows(conn)):
        return None
    return claim


def base_url(ws: Workspace) -> str:
    return str(ws.web.get("base_url") or "").strip().rstrip("/")


def unit_link(ws: Workspace, conn, unit_code: str, base: str | None = None) -> str:
    """The unit's current link; "" when no base_url is configured and none is given."""
    base = (base if base is not None else base_url(ws)).rstrip("/")
    if not base:
        return ""
    return f"{base}/u/{make_token(ws.secret, unit_code, db.link_version(conn, unit_code))}"


def revoke(ws: Workspace, conn, unit_code: str) -> int:
    """Invalidate the unit's link(s); returns the new version (regenerate and resend to hand out the new link)."""
    return db.bump_link_version(conn, unit_code)


def link_note(link: str) -> str:
    """The line for a workbook's 说明 and the invitation mail."""
    return f"网页提交：也可打开本单位专用链接 {link} 上传填好的本表，几秒钟内即可看到校验结果（链接请勿转给其他单位）。"


# ---------------------------------------------------------------- bureau password

_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${_b64(salt)}${_b64(digest)}"


def verify_password(stored: str | None, password: str) -> bool:
    if not stored or not password:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = _unb64(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=_unb64(salt), dklen=len(expected),
                             n=int(n), r=int(r), p=int(p))
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(got, expected)


def set_password(conn, password: str) -> None:
    db.set_setting(conn, PASSWORD_KEY, hash_password(password))


def password_hash(conn) -> str | None:
    return db.get_setting(conn, PASSWORD_KEY)
