"""A unit's return history: every version, when and from where, what it was
found to contain, and what changed from one version to the next.

A reviewer's first question on a resubmission is "what did they change?";
the answer is read from the stored files, so it is exact whatever program
saved them.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..errors import XlperfError
from ..form.labels import norm
from ..judge.compare import Change, compare_files
from ..judge.findings import Finding
from . import db, store
from .workspace import Workspace

STATUS_ZH = {"valid": "合格", "errors": "有错误", "unreadable": "无法读取", "unmatched": "未匹配"}


@dataclass
class Arrival:
    name: str
    source: str
    sender: str
    received_at: str
    ref: str


@dataclass
class Version:
    number: int
    sha256: str
    received_at: str
    status: str
    errors: int
    warnings: int
    total_score: float | None
    grade: str | None
    arrivals: list[Arrival] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)      # from the previous version


@dataclass
class History:
    unit_code: str
    unit_name: str
    project_code: str
    project_name: str
    versions: list[Version] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)    # of the current (newest) version

    def as_dict(self) -> dict:
        return asdict(self)


def _matches(value: str, *candidates: str) -> bool:
    v = norm(value)
    return any(v and v == norm(c) for c in candidates)


def find_rows(conn, unit: str, project: str | None = None) -> list:
    """Roster rows for a unit (code or name) and optionally one project (code or name)."""
    rows = [r for r in db.roster_rows(conn, include_inactive=True) if _matches(unit, r["unit_code"], r["unit_name"])]
    if not rows:
        raise XlperfError(f"名单中没有单位“{unit}”（请用单位代码或单位名称）", code="unit-unknown")
    if project:
        rows = [r for r in rows if _matches(project, r["project_code"], r["project_name"])]
        if not rows:
            raise XlperfError(f"单位“{unit}”没有项目“{project}”（请用项目代码或项目名称）", code="project-unknown")
    return rows


def history(ws: Workspace, unit: str, project: str | None = None) -> list[History]:
    conn = ws.connect()
    try:
        out = []
        for r in find_rows(conn, unit, project):
            h = History(r["unit_code"], r["unit_name"], r["project_code"], r["project_name"])
            previous = None
            for n, ret in enumerate(db.returns_for(conn, r["id"]), 1):
                arrivals = [Arrival(a["original_name"], a["source"], a["sender"], a["received_at"], a["source_ref"])
                            for a in db.receipts_for(conn, ret["sha256"])]
                v = Version(n, ret["sha256"], ret["received_at"], ret["status"], ret["errors"], ret["warnings"],
                            ret["total_score"], ret["grade"], arrivals)
                path = store.path_for(ws.store_dir, ret["sha256"])
                if previous is not None:
                    v.changes = compare_files(store.path_for(ws.store_dir, previous), path) or []
                previous = ret["sha256"]
                h.versions.append(v)
                if ret["superseded_by"] is None:
                    h.findings = db.findings_for(conn, ret["id"])
            out.append(h)
        return out
    finally:
        conn.close()
