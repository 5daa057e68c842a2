"""Who has returned what: per region and overall, and who must be reminded.

A roster row counts by its *current* return (the newest; older versions stay
in the history): valid, with errors, or none at all (missing).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import db, regions


@dataclass
class RegionStatus:
    level: str            # overall | province | city | county
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
class Status:
    overall: RegionStatus
    regions: list[RegionStatus] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    unmatched: int = 0


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
                by_region[key] = RegionStatus(level, c, name)
            bump(by_region[key], ret)
        if ret is None or ret["status"] != "valid":
            pending.append(Pending(
                r["id"], r["unit_code"], r["unit_name"], r["region_code"], r["region_name"] or regions.name_of(code, names),
                r["project_name"], r["project_code"], r["contact"] or "", r["email"] or "",
                "未提交" if ret is None else "有错误", 0 if ret is None else int(ret["errors"]),
                "" if ret is None else ret["sha256"], None if ret is None else ret["id"]))
    # Depth-first: each province, then each city followed by its counties.
    order = {"province": 0, "city": 1, "county": 2}
    regions_sorted = [by_region[k] for k in sorted(by_region, key=lambda k: (
        by_region[k].code[:2], "" if by_region[k].level == "province" else by_region[k].code[:4],
        order[by_region[k].level], k))]
    return Status(overall, regions_sorted, pending, len(db.unmatched_returns(conn)))


LEVEL_ZH = {"overall": "全部", "province": "省", "city": "市", "county": "县（区）"}


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
    wb.close()
    return path
