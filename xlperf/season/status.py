"""Who has returned what: per region and overall, and who must be reminded.

A roster row counts by its *current* return (the newest; older versions stay
in the history): valid, with errors, or none at all (missing).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import db, regions


@dataclass
class RegionStatus:
    level: str            # overall | province | province_own (省本级) | city | county
    code: str
    name: str
    expected: int = 0
    returned: int = 0
    valid: int = 0
    errors: int = 0

    @property
    def missing(self) -> int:
        return self.expected - self.returned


@dataclass
class Pending:
    roster_id: int
    unit_code: str
    unit_name: str
    region_code: str
    region_name: str
    project_name: str
    project_code: str
    contact: str
    email: str
    reason: str           # 未提交 | 有错误
    errors: int = 0
    sha256: str = ""
    return_id: int | None = None


@dataclass
class ProblemFile:
    """A received file that counts for nobody: unreadable, unmatched, or not a spreadsheet."""

    name: str             # the original file name, as the county sent it
    sender: str           # e-mail sender ('' for a folder or zip)
    received_at: str      # UTC ISO text of its first arrival
    source: str           # folder | zip | imap
    reason: str
    sha256: str


@dataclass
class Status:
    overall: RegionStatus
    regions: list[RegionStatus] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    unmatched: int = 0
    problems: list[ProblemFile] = field(default_factory=list)

    def as_dict(self) -> dict:
        regions = [{**asdict(r), "missing": r.missing} for r in [self.overall] + self.regions]
        return {"regions": regions, "pending": [asdict(p) for p in self.pending],
                "problem_files": [asdict(p) for p in self.problems]}


def _unmatched_reason(ret, conn) -> str:
    if ret["status"] == "unreadable":
        found = db.findings_for(conn, ret["id"])
        return found[0].message if found else "无法读取"
    summary = json.loads(ret["summary_json"] or "{}")
    unit, project = summary.get("unit") or "（未填）", summary.get("project") or "（未填）"
    return f"未能与名单匹配（表中实施单位“{unit}”，项目名称“{project}”）"


def problem_files(conn) -> list[ProblemFile]:
    """Every received file that is not counted as a return, with where it came from and why."""
    out: list[ProblemFile] = []
    for ret in db.unmatched_returns(conn):
        first = next(iter(db.receipts_for(conn, ret["sha256"])), None)
        out.append(ProblemFile(first["original_name"] if first else ret["sha256"][:12], first["sender"] if first else "",
                               ret["received_at"], first["source"] if first else "", _unmatched_reason(ret, conn),
                               ret["sha256"]))
    aside: dict[str, list] = {}
    for r in db.set_aside_receipts(conn):      # the same logo arrives with every mail: list it once
        aside.setdefault(r["sha256"], []).append(r)
    for sha, (r, *more) in aside.items():
        times = f"（同一文件共收到 {len(more) + 1} 次）" if more else ""
        out.append(ProblemFile(r["original_name"], r["sender"], r["received_at"], r["source"], r["set_aside"] + times, sha))
    out.sort(key=lambda p: (p.received_at, p.name))
    return out


def compute_status(conn) -> Status:
    rows = db.roster_rows(conn)
    latest = {r["roster_id"]: r for r in db.latest_returns(conn)}
    names = regions.names_table((r["region_code"], r["region_name"]) for r in rows)
    overall = RegionStatus("overall", "", "合计")
    by_region: dict[str, RegionStatus] = {}
    pending: list[Pending] = []

    def bump(rs: RegionStatus, ret) -> None:
        rs.expected += 1
        if ret is not None:
            rs.returned += 1
            rs.valid += ret["status"] == "valid"
            rs.errors += ret["status"] != "valid"

    for r in rows:
        ret = latest.get(r["id"])
        bump(overall, ret)
        code = regions.normalize_code(r["region_code"])
        for key, level, c, name in regions.chain(code, names):
            if key not in by_region:
                own = regions.is_province_own(key, level, c)      # as the summary workbook shows it
                by_region[key] = RegionStatus("province_own" if own else level, c, name)
            bump(by_region[key], ret)
        if ret is None or ret["status"] != "valid":
            pending.append(Pending(
                r["id"], r["unit_code"], r["unit_name"], r["region_code"], r["region_name"] or regions.name_of(code, names),
                r["project_name"], r["project_code"], r["contact"] or "", r["email"] or "",
                "未提交" if ret is None else "有错误", 0 if ret is None else int(ret["errors"]),
                "" if ret is None else ret["sha256"], None if ret is None else ret["id"]))
    # Depth-first: each province, then each city followed by its counties.
    order = {"province": 0, "province_own": 1, "city": 1, "county": 2}
    regions_sorted = [by_region[k] for k in sorted(by_region, key=lambda k: (
        by_region[k].code[:2], "" if by_region[k].level == "province" else by_region[k].code[:4],
        order[by_region[k].level], k))]
    return Status(overall, regions_sorted, pending, len(db.unmatched_returns(conn)), problem_files(conn))


LEVEL_ZH = {"overall": "全部", "province": "省", "province_own": regions.PROVINCE_OWN, "city": "市", "county": "县（区）"}
SOURCE_ZH = {"folder": "文件夹", "zip": "压缩包", "imap": "邮箱", "web": "网页"}
PROBLEM_SHEET = "未处理文件"


def local_time(iso: str) -> str:
    """Ledger UTC text as the clerk's local time, to the minute."""
    from datetime import datetime
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def write_status_workbook(status: Status, path: Path) -> Path:
    import xlsxwriter
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    ws = wb.add_worksheet("回收情况")
    cols = ("层级", "区划代码", "地区", "应报", "已报", "合格", "有错误", "未报")
    for c, h in enumerate(cols):
        ws.write_string(0, c, h, head)
    for i, rs in enumerate([status.overall] + status.regions, 1):
        ws.write_string(i, 0, LEVEL_ZH[rs.level])
        ws.write_string(i, 1, rs.code)
        ws.write_string(i, 2, rs.name)
        for c, v in enumerate((rs.expected, rs.returned, rs.valid, rs.errors, rs.missing), 3):
            ws.write_number(i, c, v)
    ws.set_column(0, 0, 9)
    ws.set_column(1, 1, 10)
    ws.set_column(2, 2, 16)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, len(status.regions) + 1, len(cols) - 1)
    ps = wb.add_worksheet("待催报")
    cols2 = ("单位代码", "单位名称", "地区", "项目名称", "项目代码", "联系人", "邮箱", "情况", "错误数")
    for c, h in enumerate(cols2):
        ps.write_string(0, c, h, head)
    for i, p in enumerate(status.pending, 1):
        for c, v in enumerate((p.unit_code, p.unit_name, p.region_name, p.project_name, p.project_code, p.contact,
                               p.email, p.reason)):
            ps.write_string(i, c, str(v or ""))
        ps.write_number(i, 8, p.errors)
    for c, w in enumerate((14, 24, 12, 30, 20, 18, 28, 8, 8)):
        ps.set_column(c, c, w)
    ps.freeze_panes(1, 0)
    ps.autofilter(0, 0, max(1, len(status.pending)), len(cols2) - 1)
    us = wb.add_worksheet(PROBLEM_SHEET)
    cols3 = ("原文件名", "发件人", "收到时间", "来源", "原因")
    for c, h in enumerate(cols3):
        us.write_string(0, c, h, head)
    for i, p in enumerate(status.problems, 1):
        for c, v in enumerate((p.name, p.sender, local_time(p.received_at), SOURCE_ZH.get(p.source, p.source), p.reason)):
            us.write_string(i, c, v)
    for c, w in enumerate((36, 30, 18, 8, 60)):
        us.set_column(c, c, w)
    us.freeze_panes(1, 0)
    wb.close()
    return path
