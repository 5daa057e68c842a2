"""Aggregate a workspace: the current return of every roster row, province-wide.

The ledger already holds each return's verdict (with the signature checks
made at collection), so nothing is read again here.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..judge.serialize import result_from_json
from ..season import db
from ..season.workspace import Workspace
from .aggregate import summarize
from .frames import export_csv, export_parquet
from .model import Entry, Expected, Summary
from .workbook import write_summary


def expected_rows(conn) -> list[Expected]:
    return [Expected(roster_id=r["id"], unit_code=r["unit_code"], unit_name=r["unit_name"], region_code=r["region_code"],
                     region_name=r["region_name"] or "", project_name=r["project_name"], project_code=r["project_code"],
                     contact=r["contact"] or "", email=r["email"] or "", budget=r["budget"])
            for r in db.roster_rows(conn)]


def workspace_entries(conn, expected: list[Expected]) -> list[Entry]:
    by_id = {e.roster_id: e for e in expected}
    entries = []
    for r in db.all_returns(conn):     # superseded and unmatched ones too: the summary lists and counts them
        name = next((x["original_name"] for x in db.receipts_for(conn, r["sha256"])), r["sha256"][:12])
        d = json.loads(r["summary_json"] or "{}")
        d["path"] = name
        result = result_from_json(d, db.findings_for(conn, r["id"], file=name))
        entries.append(Entry(result=result, expected=by_id.get(r["roster_id"]), source=name, received_at=r["received_at"]))
    return entries


def summarize_workspace(ws: Workspace) -> tuple[Summary, list[Entry]]:
    """The province summary of a workspace, with the entries it was built from (the written report needs both)."""
    conn = ws.connect()
    try:
        expected = expected_rows(conn)
        entries = workspace_entries(conn, expected)
    finally:
        conn.close()
    return summarize(entries, expected, year=ws.year, form=ws.form, produced_from=f"工作区 {ws.root.resolve()}"), entries


def aggregate_workspace(ws: Workspace, out: Path, *, csv_dir: Path | None = None, parquet_dir: Path | None = None):
    summary, _ = summarize_workspace(ws)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_summary(summary, out)
    if csv_dir:
        export_csv(summary, csv_dir)
    if parquet_dir:
        export_parquet(summary, parquet_dir)
    return summary
