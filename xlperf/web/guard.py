"""What keeps the upload page safe: headers, body cap, rate limits, CSRF, sessions.

All in memory and in this process: `xlperf serve` is one process on the
bureau's desktop, so there is nothing to share between servers.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                                 b"frame-ancestors 'none'; base-uri 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),          # the unit's link is a secret: never leak it in Referer
    (b"cache-control", b"no-store"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """ASGI middleware: the same protective headers on every response, errors included."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(k, v) for k, v in SECURITY_HEADERS if k not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    pass


async def read_capped(request, cap: int) -> bytes:
    """The request body, refusing (BodyTooLarge) as soon as it passes `cap` bytes, whatever Content-Length says."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > cap:
                raise BodyTooLarge
        except ValueError:
            raise BodyTooLarge from None
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > cap:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: float


class RateLimiter:
    """At most `limit.count` events per key within any `limit.seconds` window."""

    def __init__(self, limit: Limit, clock=time.monotonic) -> None:
        self.limit, self.clock = limit, clock
        self._events: dict[str, deque] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            if len(self._events) > 20_000:     # forget idle keys so memory stays bounded
                for k in [k for k, q in self._events.items() if not q or now - q[-1] > self.limit.seconds]:
                    del self._events[k]
            q = self._events.setdefault(key, deque())
            while q and now - q[0] > self.limit.seconds:
                q.popleft()
            if len(q) >= self.limit.count:
                return False
            q.append(now)
            return True


@dataclass(frozen=True)
class Limits:
    """Defaults suit one county clerk trying a few times, and an office behind one address."""
    uploads_per_token: Limit = Limit(10, 60)
    posts_per_address: Limit = Limit(30, 60)
    logins_per_address: Limit = Limit(10, 300)
    pages_per_address: Limit = Limit(300, 60)


CSRF_COOKIE = "xlperf_csrf"
CSRF_FIELD = "csrf"


class Csrf:
    """Double-submit tokens: a random cookie, and a form field that is its HMAC for one page scope."""

    def __init__(self, secret: bytes) -> None:
        self.key = hmac.new(secret, b"xlperf csrf v1", hashlib.sha256).digest()

    @staticmethod
    def new_cookie() -> str:
        return secrets.token_urlsafe(24)

    def field_for(self, cookie: str, scope: str) -> str:
        return hmac.new(self.key, f"{cookie}|{scope}".encode("utf-8"), hashlib.sha256).hexdigest()

    def valid(self, cookie: str | None, field: object, scope: str) -> bool:
        if not cookie or not isinstance(field, str) or not field:
            return False
        return hmac.compare_digest(field.encode("utf-8"), self.field_for(cookie, scope).encode("utf-8"))


SESSION_COOKIE = "xlperf_admin"


class Sessions:
    """Bureau logins: random ids kept in memory (a restart logs everyone out)."""

    def __init__(self, hours: float = 8.0, clock=time.monotonic) -> None:
        self.ttl, self.clock = hours * 3600, clock
        self._ids: dict[str, float] = {}
        self._lock = threading.Lock()

    def start(self) -> str:
        sid = secrets.token_urlsafe(32)
        with self._lock:
            now = self.clock()
            for k in [k for k, exp in self._ids.items() if exp < now]:
                del self._ids[k]
            self._ids[sid] = now + self.ttl
        return sid

    def valid(self, sid: str | None) -> bool:
        if not sid:
            return False
        with self._lock:
            exp = self._ids.get(sid)
            return exp is not None and exp >= self.clock()

    def end(self, sid: str | None) -> None:
        with self._lock:
            self._ids.pop(sid or "", None)
