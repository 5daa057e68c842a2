"""Aggregate a workspace: the current return of every roster row, province-wide.

The ledger already holds each return's verdict (with the signature checks
made at collection), so nothing is read again here.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from ..judge.serialize import result_from_json
from ..season import db
from ..season.workspace import Workspace
from .aggregate import summarize
from .model import Entry, Expected, Summary
from .outputs import write_outputs


def _expected(r) -> Expected:
    return Expected(roster_id=r["id"], unit_code=r["unit_code"], unit_name=r["unit_name"], region_code=r["region_code"],
                    region_name=r["region_name"] or "", project_name=r["project_name"], project_code=r["project_code"],
                    contact=r["contact"] or "", email=r["email"] or "", budget=r["budget"])


def expected_rows(conn) -> list[Expected]:
    return [_expected(r) for r in db.roster_rows(conn)]


def iter_expected(conn) -> Iterator[Expected]:
    """The active roster, row by row (a national roster is not held in memory)."""
    for r in conn.execute("SELECT * FROM roster WHERE active = 1 ORDER BY row_no, id"):
        yield _expected(r)


def iter_entries(conn) -> Iterator[Entry]:
    """Every return received, current or superseded, matched or not, oldest first, one at a time."""
    for r in conn.execute("SELECT r.* FROM returns r LEFT JOIN roster ro ON ro.id = r.roster_id "
                          "WHERE r.roster_id IS NULL OR ro.active = 1 ORDER BY r.received_at, r.id"):
        name = next((x["original_name"] for x in db.receipts_for(conn, r["sha256"])), r["sha256"][:12])
        d = json.loads(r["summary_json"] or "{}")
        d["path"] = name
        result = result_from_json(d, db.findings_for(conn, r["id"], file=name))
        exp = None
        if r["roster_id"] is not None:
            row = db.roster_row(conn, r["roster_id"])
            exp = _expected(row) if row is not None else None
        yield Entry(result=result, expected=exp, source=name, received_at=r["received_at"])


def summarize_workspace(ws: Workspace) -> Summary:
    """The province summary of a workspace, reading roster and returns one row at a time."""
    conn = ws.connect()
    try:
        return summarize(iter_entries(conn), iter_expected(conn), year=ws.year, form=ws.form,
                         produced_from=f"工作区 {ws.root.resolve()}")
    finally:
        conn.close()


def aggregate_workspace(ws: Workspace, out: Path, *, csv_dir: Path | None = None, parquet_dir: Path | None = None):
    summary = summarize_workspace(ws)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_outputs(summary, out, csv_dir=csv_dir or None, parquet_dir=parquet_dir or None)
    return summary
