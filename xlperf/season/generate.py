"""One pre-filled, locked, signed workbook per roster row, in the outbox.

Regenerating is idempotent: the first generation time is kept in the
database and reused, so an unchanged roster row gives a byte-identical file
(and an unchanged file is not rewritten).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import re
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from . import db
from ..judge.identity import sign
from ..form.model import FormData, FundsLine, IndicatorLine
from .roster import RosterRow, rows_from_db
from ..form.spec import FormSpec, load_form
from .weblink import link_note, unit_link
from .workspace import Workspace
from ..form.filenames import fit_bytes, fit_name
from ..form.template import TemplateOptions, write_template

EDITABLE_HEADER = ("project_leader",)
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name part Windows accepts: no reserved characters or names, no trailing dots."""
    s = _BAD_CHARS.sub("_", str(text)).strip().rstrip(". ")
    s = fit_bytes(re.sub(r"\s+", " ", s)[:limit], 90).rstrip(". ")     # bytes: a file name is 255 at most
    return s if s and s.upper() not in _RESERVED else f"_{s}"


def file_name(row: RosterRow, year: int) -> str:
    return fit_name(f"{safe_name(row.region_code, 12)}_{safe_name(row.unit_name)}_{safe_name(row.project_name)}_{year}.xlsx")


def form_data_for(row: RosterRow, spec: FormSpec) -> FormData:
    """What the province pre-fills: header, the approved budget and targets."""
    header = {"project_name": row.project_name, "unit": row.unit_name, "department": row.department,
              "project_code": row.project_code, "project_leader": row.leader}
    shown = {f.key for f in spec.header_fields()}
    data = FormData(header={k: v for k, v in header.items() if k in shown and v}, goal_planned=row.goal)
    first_source = spec.funds_rows[1].key
    funds_cols = {c.key for c in spec.funds_columns}
    values = {k: v for k, v in (("initial_budget", row.initial_budget), ("budget", row.budget))
              if v is not None and k in funds_cols}
    data.funds.append(FundsLine(first_source, spec.funds_rows[1].label, values))
    for t in row.targets:
        data.indicators.append(IndicatorLine(level1=t.level1, level2=t.level2, name=t.name, target=t.target, weight=t.weight))
    return data


def locked_part(data: FormData) -> FormData:
    """The pre-fill a county may not change: all of it but 项目负责人及电话, a suggestion from the roster."""
    return FormData(header={k: v for k, v in data.header.items() if k not in EDITABLE_HEADER}, funds=data.funds,
                    goal_planned=data.goal_planned, indicators=data.indicators)


def identity_for(row: RosterRow, roster_id: int, spec: FormSpec, year: int) -> dict:
    return {"form_id": spec.id, "year": str(year), "unit_code": row.unit_code, "unit_name": row.unit_name,
            "project_code": row.project_code, "roster_row": str(roster_id)}


@dataclass
class GenerateReport:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)


def render(ws: Workspace, spec: FormSpec, row: RosterRow, roster_id: int, generated_at: str, link: str = "") -> bytes:
    data = form_data_for(row, spec)
    if link:   # the unit's upload page, as one more line of the 说明
        spec = dataclasses.replace(spec, notes=spec.notes + (link_note(link),))
    meta = sign(ws.secret, identity_for(row, roster_id, spec, ws.year), data)
    buf = io.BytesIO()
    write_template(spec, ws.year, buf, data, TemplateOptions(
        password=ws.password, lock=frozenset({"header", "funds", "targets"}), meta=meta, generated_at=generated_at,
        prefill=locked_part(data)))
    return buf.getvalue()


def correction_inputs(ws: Workspace, conn, roster_id: int) -> dict:
    """What a correction copy of a roster row's return is built on: the form, its approved
    pre-fill and a freshly signed identity (keyword arguments for judge's `write_correction`)."""
    spec = load_form(ws.form)
    row = next((r for r in rows_from_db(conn)
                if r.key == next(((x["unit_code"], x["project_code"]) for x in db.roster_rows(conn)
                                  if x["id"] == roster_id), None)), None)
    if row is None:
        return {}
    data = form_data_for(row, spec)
    meta = sign(ws.secret, identity_for(row, roster_id, spec, ws.year), data)
    return {"spec": spec, "year": ws.year, "prefill": locked_part(data), "options": TemplateOptions(
        password=ws.password, lock=frozenset({"header", "funds", "targets"}), meta=meta)}


BATCH = 64            # rows per rendering task and per ledger transaction
POOL_MIN_ROWS = 2 * BATCH   # fewer rows than this render in this process (a pool costs more than it saves)


@dataclass(frozen=True)
class _Job:
    row: RosterRow
    roster_id: int
    generated_at: str
    link: str


_SPECS: dict[str, FormSpec] = {}


def _render_batch(ws: Workspace, form: str, jobs: list[_Job]) -> list[tuple[bytes, str]]:
    """In a worker: each job's workbook and its SHA-256 (XlsxWriter is pure Python, so this is the CPU part)."""
    spec = _SPECS.get(form) or _SPECS.setdefault(form, load_form(form))
    out = []
    for j in jobs:
        content = render(ws, spec, j.row, j.roster_id, j.generated_at, j.link)
        out.append((content, hashlib.sha256(content).hexdigest()))
    return out


def _context():
    """fork when this process has one thread (cheap, and no __main__ guard needed); never fork a threaded one."""
    import multiprocessing
    import threading
    methods = multiprocessing.get_all_start_methods()
    if threading.active_count() == 1 and "fork" in methods:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["xlperf.season.generate"])
        return ctx
    return multiprocessing.get_context("spawn")


def _rendered(ws: Workspace, batches: list[list[_Job]]) -> Iterator[list[tuple[bytes, str]]]:
    """Rendered batches in order: in worker processes when there are enough rows, else here."""
    rows = sum(len(b) for b in batches)
    workers = min(os.cpu_count() or 1, len(batches))
    if rows < POOL_MIN_ROWS or workers < 2:
        for b in batches:
            yield _render_batch(ws, ws.form, b)
        return
    with ProcessPoolExecutor(workers, mp_context=_context()) as pool:
        pending: deque = deque()
        queued = iter(batches)
        for b in queued:                     # at most 2 batches per worker in flight: bounded memory
            pending.append(pool.submit(_render_batch, ws, ws.form, b))
            if len(pending) >= 2 * workers:
                break
        while pending:
            done = pending.popleft().result()
            nxt = next(queued, None)
            if nxt is not None:
                pending.append(pool.submit(_render_batch, ws, ws.form, nxt))
            yield done


def generate(ws: Workspace, *, progress: bool = False) -> GenerateReport:
    """Render every roster row's workbook (in worker processes for a large roster) and record it in the ledger.

    Rows are rendered in batches; each batch is written to the outbox and
    recorded in one ledger transaction, in roster order, so the result is the
    same as rendering one row at a time.
    """
    load_form(ws.form)        # a bad form id fails here, before any worker starts
    report = GenerateReport()
    ws.outbox.mkdir(parents=True, exist_ok=True)
    conn = ws.connect()
    bar = None
    try:
        rows = rows_from_db(conn)
        ids = {(r["unit_code"], r["project_code"]): r["id"] for r in db.roster_rows(conn)}
        now = db.utc_iso()
        links: dict[str, str] = {}
        jobs = []
        for row in rows:
            roster_id = ids[row.key]
            if row.unit_code not in links:
                links[row.unit_code] = unit_link(ws, conn, row.unit_code)
            previous = db.generated_for(conn, roster_id)
            jobs.append(_Job(row, roster_id, previous["generated_at"] if previous else now, links[row.unit_code]))
        batches = [jobs[i:i + BATCH] for i in range(0, len(jobs), BATCH)]
        if progress:
            from rich.progress import Progress
            bar = Progress(transient=True)
            task = bar.add_task("生成工作簿", total=len(jobs))
            bar.start()
        for batch, rendered in zip(batches, _rendered(ws, batches)):
            records = []
            for job, (content, sha) in zip(batch, rendered):
                path = ws.outbox / file_name(job.row, ws.year)
                if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == sha:
                    report.unchanged.append(path)
                else:
                    tmp = path.with_name(path.name + ".part")
                    tmp.write_bytes(content)
                    tmp.replace(path)
                    report.written.append(path)
                records.append((job.roster_id, str(path), sha, job.generated_at))
            with db.transaction(conn):
                for rec in records:
                    db.record_generated(conn, *rec)
            if bar:
                bar.advance(task, len(batch))
    finally:
        if bar:
            bar.stop()
        conn.close()
    return report
