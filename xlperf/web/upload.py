"""One upload from a unit's page: gates first, then exactly what `collect` does.

The gates (deadline, content sniffing) refuse before anything is parsed;
what passes goes through `season.collect.receive` — store, record the
arrival, judge, match to the roster, supersede — with the check run in a
bounded worker process. The one difference from mail: a file that belongs
to another unit's roster row is kept in the store but never recorded as a
return, so no unit can file (or overwrite) another unit's return. Every
attempt, accepted or refused, gets a `web_uploads` row with address and time.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import UnreadableFile
from ..judge.batch import BoundedChecker
from ..read.detect import sniff
from ..season import db
from ..season.collect import Incoming, receive
from ..season.workspace import Workspace

MSG_OTHER_UNIT = "这份表格属于其他单位（或无法确认是本单位的表格），未予接收。请上传下发给本单位的表格。"


@dataclass(frozen=True)
class Attempt:
    upload_id: int
    outcome: str              # accepted | duplicate | refused
    code: str = ""
    message: str = ""
    return_id: int | None = None


@dataclass(frozen=True)
class Deadline:
    state: str                # open | grace | closed | none
    deadline: str = ""        # YYYY-MM-DD as configured
    closes: str = ""          # last moment uploads are accepted, local time text


def deadline_state(ws: Workspace, now: dt.datetime) -> Deadline:
    """Uploads are open until the end of the deadline day, then for `web.grace_days` more days."""
    if not ws.deadline:
        return Deadline("none")
    end = dt.datetime.combine(dt.date.fromisoformat(ws.deadline) + dt.timedelta(days=1), dt.time())
    grace = max(0, int(ws.web.get("grace_days") or 0))
    closes = end + dt.timedelta(days=grace)
    shown = (closes - dt.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M")
    if now < end:
        return Deadline("open", ws.deadline, shown)
    return Deadline("grace" if now < closes else "closed", ws.deadline, shown)


_PATHY = re.compile(r"[\x00-\x1f]")


def client_file_name(raw: object) -> str:
    """The name the browser sent, as text only (old IE sends C:\\…\\name.xlsx): never used as a path."""
    name = str(raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _PATHY.sub("", name).strip()[:200]
    return name or "上传的文件"


def refuse(ws: Workspace, *, address: str, unit_code: str, code: str, message: str, name: str = "",
           data: bytes | None = None) -> Attempt:
    """Record a refused attempt (nothing stored) and say why."""
    conn = ws.connect()
    try:
        uid = db.record_upload(conn, address=address, unit_code=unit_code, original_name=name,
                               size=None if data is None else len(data),
                               sha=None if data is None else hashlib.sha256(data).hexdigest(),
                               outcome="refused", code=code, message=message)
    finally:
        conn.close()
    return Attempt(uid, "refused", code, message)


def sniff_bytes(data: bytes) -> UnreadableFile | None:
    """The format gate: what `check` would say about bytes that are no spreadsheet, before any parsing."""
    fd, tmp = tempfile.mkstemp(prefix="xlperf-upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        sniff(tmp)
    except UnreadableFile as exc:
        return exc
    finally:
        os.unlink(tmp)
    return None


_sha_locks: dict[str, threading.Lock] = {}
_sha_locks_guard = threading.Lock()


def _lock_for(sha: str) -> threading.Lock:
    """Two uploads of the same bytes at once: the second waits and sees the first's verdict."""
    with _sha_locks_guard:
        if len(_sha_locks) > 10_000:
            for k in [k for k, v in _sha_locks.items() if not v.locked()]:
                del _sha_locks[k]
        return _sha_locks.setdefault(sha, threading.Lock())


def accept_upload(ws: Workspace, checker: BoundedChecker, *, unit_code: str, address: str, name: str,
                  data: bytes, now: dt.datetime) -> Attempt:
    """Judge and record one uploaded file for `unit_code` (token, CSRF and size already checked)."""
    if not data:
        return refuse(ws, address=address, unit_code=unit_code, code="file-empty", name=name, data=data,
                      message="没有选择文件，或文件是空的（0字节）")
    if deadline_state(ws, now).state == "closed":
        return refuse(ws, address=address, unit_code=unit_code, code="past-deadline", name=name, data=data,
                      message=f"已过截止日期（{ws.deadline}），网页提交已关闭，请与主管部门联系")
    bad = sniff_bytes(data)
    if bad is not None:
        return refuse(ws, address=address, unit_code=unit_code, code=bad.code, message=bad.message, name=name, data=data)

    def run_check(path: Path, display: str, sender: str):
        return checker.check(path, secret=ws.secret, form_hint=ws.form, display_name=display)

    sha = hashlib.sha256(data).hexdigest()
    conn = ws.connect()
    try:
        def ours(roster_id: int | None) -> bool:
            if roster_id is None:
                return True           # kept as collect keeps it: unmatched / unreadable, under no unit
            row = db.roster_row(conn, roster_id)
            return row is not None and row["unit_code"] == unit_code

        ref = f"{unit_code}/{address}/{secrets.token_hex(8)}"
        with _lock_for(sha):
            got = receive(ws, conn, Incoming(name, data, "web", ref), run_check=run_check, accept=ours)
        if got.duplicate:
            prev = got.previous
            if not ours(prev["roster_id"]):
                outcome, code, message, return_id = "refused", "other-unit", MSG_OTHER_UNIT, None
            else:
                outcome, code, message, return_id = "duplicate", "", "这份文件以前已提交过，结果如下", int(prev["id"])
        elif got.status == "withheld":
            outcome, code, message, return_id = "refused", "other-unit", MSG_OTHER_UNIT, None
        else:
            ret = db.return_by_sha(conn, sha)
            outcome, code, message, return_id = "accepted", got.status, "", int(ret["id"])
        uid = db.record_upload(conn, address=address, unit_code=unit_code, original_name=name, size=len(data),
                               sha=sha, outcome=outcome, code=code, message=message, return_id=return_id)
    finally:
        conn.close()
    return Attempt(uid, outcome, code, message, return_id)
