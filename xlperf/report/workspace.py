"""Reports in a workspace: a roster row's current return, every valid return, the province.

Figures come from the ledger — the verdict recorded at collection, the same
one the summary counts — and only the free texts the ledger does not keep
(年度总体目标, its 完成情况, the funding sources) are read again from the
stored file.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Callable

from ..errors import XlperfError
from ..form.labels import norm
from ..judge.check import CheckResult, check
from ..judge.serialize import result_from_json
from ..province.model import Summary
from ..province.workbook import write_summary
from ..province.workspace import iter_entries, summarize_workspace
from ..season import db, store
from ..season.workspace import Workspace
from .province import draft_province_report
from .unit import Place, draft_unit_report, report_name

UNIT_DIR = "自评报告"


@dataclass
class Drafts:
    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)      # roster rows without a usable return, as text


def unit_reports_dir(ws: Workspace) -> Path:
    return ws.reports_dir / UNIT_DIR


def province_paths(ws: Workspace) -> tuple[Path, Path]:
    """(report, summary workbook) in reports/."""
    return ws.reports_dir / f"{ws.year}年度自评汇总分析报告.docx", ws.reports_dir / f"{ws.year}年度自评汇总表.xlsx"


def _pick(rows, keys: tuple[str, ...], query: str) -> list:
    q = norm(query)
    exact = [r for r in rows if any(norm(r[k]) == q for k in keys)]
    return exact or [r for r in rows if q and any(q in norm(r[k]) for k in keys)]


def roster_rows_for(conn, unit: str, project: str | None = None) -> list:
    """The roster rows of one unit (by code or name, whole or part), optionally one project of it."""
    rows = _pick(db.roster_rows(conn), ("unit_code", "unit_name"), unit)
    if not rows:
        raise XlperfError(f"名单中没有单位“{unit}”（可写单位代码或名称）", code="report-unit-unknown")
    units = sorted({(r["unit_code"], r["unit_name"]) for r in rows})
    if len(units) > 1:
        shown = "、".join(f"{n}（{c}）" for c, n in units[:8]) + ("等" if len(units) > 8 else "")
        raise XlperfError(f"“{unit}”对应名单中的 {len(units)} 个单位：{shown}，请写单位代码或完整名称",
                          code="report-unit-ambiguous")
    if project:
        mine = rows
        rows = _pick(mine, ("project_code", "project_name"), project)
        if not rows:
            shown = "、".join(r["project_name"] for r in mine)
            raise XlperfError(f"单位“{units[0][1]}”在名单中没有项目“{project}”（有：{shown}）",
                              code="report-project-unknown")
    return rows


def _with_texts(ws: Workspace, result: CheckResult, sha: str) -> CheckResult:
    """Add what the ledger does not keep (goal texts, header, funding sources) from the stored file."""
    try:
        fresh = check(store.path_for(ws.store_dir, sha), form_hint=ws.form)
    except Exception:  # noqa: BLE001 — the figures are complete without it; the texts become placeholders
        return result
    result.goal_planned, result.goal_actual = fresh.goal_planned, fresh.goal_actual
    result.header = fresh.header or result.header
    if fresh.funds.get("sources"):
        result.funds = {**result.funds, "sources": fresh.funds["sources"]}
    return result


def _current(conn) -> dict[int, object]:
    return {r["roster_id"]: r for r in db.latest_returns(conn)}


def _draft(ws: Workspace, conn, ret, outdir: Path, path: Path | None = None) -> Path:
    name = next((x["original_name"] for x in db.receipts_for(conn, ret["sha256"])), ret["sha256"][:12])
    d = json.loads(ret["summary_json"] or "{}")
    d["path"] = name
    result = _with_texts(ws, result_from_json(d, db.findings_for(conn, ret["id"], file=name)), ret["sha256"])
    place = Place(unit=ret["unit_name"], project=ret["project_name"], department=ret["department"] or result.department,
                  unit_code=ret["unit_code"], project_code=ret["project_code"], region=ret["region_name"] or "")
    return draft_unit_report(result, path or outdir / report_name(place, ws.year), place, source_name=name, year=ws.year)


def _why_not(ret) -> str | None:
    if ret is None:
        return "尚未收到回传"
    if ret["status"] == "unreadable":
        return "最新一份回传无法读取或不是自评表"
    return None


def draft_unit(ws: Workspace, unit: str, project: str | None = None, output: Path | None = None) -> Drafts:
    """Draft the 自评报告 of a unit's current return(s), errors and all (they are listed as 待核实事项).

    `output` is a folder, or a .docx file when it names one project.
    """
    single = output is not None and output.suffix.lower() == ".docx"
    outdir = (output.parent if single else output) or unit_reports_dir(ws)
    out = Drafts()
    conn = ws.connect()
    try:
        rows = roster_rows_for(conn, unit, project)
        if single and len(rows) > 1:
            raise XlperfError(f"单位“{rows[0]['unit_name']}”有 {len(rows)} 个项目，请指定项目，或用 -o 指定文件夹",
                              code="report-output-single")
        current = _current(conn)
        for row in rows:
            ret = current.get(row["id"])
            why = _why_not(ret)
            if why:
                out.skipped.append(f"{row['unit_name']}《{row['project_name']}》：{why}")
                continue
            out.written.append(_draft(ws, conn, ret, outdir, output if single else None))
    finally:
        conn.close()
    if not out.written:
        raise XlperfError("无法起草自评报告：" + "；".join(out.skipped), code="report-no-return")
    return out


def draft_all(ws: Workspace, outdir: Path | None = None, *,
              progress: Callable[[list], object] | None = None) -> Drafts:
    """One draft per valid current return into reports/自评报告/; `progress` wraps the iteration (a bar)."""
    outdir = outdir or unit_reports_dir(ws)
    out = Drafts()
    conn = ws.connect()
    try:
        current = _current(conn)
        rows = db.roster_rows(conn)
        todo = [current[r["id"]] for r in rows if r["id"] in current and current[r["id"]]["status"] == "valid"]
        out.skipped = [f"{r['unit_name']}《{r['project_name']}》："
                       + ("尚未收到回传" if r["id"] not in current else "最新一份回传有错误")
                       for r in rows if r["id"] not in current or current[r["id"]]["status"] != "valid"]
        drafting = _Drafting(ws, conn, todo, outdir)
        out.written.extend(progress(drafting) if progress else drafting)
    finally:
        conn.close()
    return out


POOL_MIN = 8          # fewer drafts are done before a pool has started


class _Drafting:
    """The drafts of `todo`, in order: in worker processes when there are enough of them (each
    draft re-reads its file and draws charts, ~0.1 s), else here; sized, for a progress bar."""

    def __init__(self, ws: Workspace, conn, todo: list, outdir: Path) -> None:
        self.ws, self.conn, self.todo, self.outdir = ws, conn, todo, outdir

    def __len__(self) -> int:
        return len(self.todo)

    def __iter__(self):
        jobs = min(os.cpu_count() or 1, 4)
        if jobs < 2 or len(self.todo) < POOL_MIN:
            for ret in self.todo:
                yield _draft(self.ws, self.conn, ret, self.outdir)
            return
        with ProcessPoolExecutor(max_workers=jobs, initializer=_worker_start, initargs=(self.ws,)) as pool:
            yield from pool.map(_worker_draft, [dict(r) for r in self.todo], repeat(self.outdir), chunksize=4)


_WORKER: dict = {}


def _worker_start(ws: Workspace) -> None:
    _WORKER["ws"], _WORKER["conn"] = ws, ws.connect()      # each process its own ledger connection


def _worker_draft(ret: dict, outdir: Path) -> Path:
    return _draft(_WORKER["ws"], _WORKER["conn"], ret, outdir)


def draft_province(ws: Workspace, out: Path | None = None) -> tuple[Path, Path, Summary]:
    """The 汇总分析报告 and, from the very same summary, the summary workbook it quotes."""
    report, workbook = province_paths(ws)
    report = out or report
    summary = summarize_workspace(ws)
    write_summary(summary, workbook)
    conn = ws.connect()
    try:      # a second pass over the ledger for the copied 偏差原因: returns are read, not held
        draft_province_report(summary, report, iter_entries(conn), workbook_name=workbook.name)
    finally:
        conn.close()
    return report, workbook, summary
