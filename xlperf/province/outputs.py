"""Write a summary's workbook and its CSV/Parquet exports, side by side when it pays.

The three writers only read the summary. For a big province the exports run
in a forked process on the second core while this one writes the workbook:
the child opens the summary's spill file read-only and writes its files
under temporary names, as the exports always do. If the child fails for any
reason, the exports are simply run again here, so the user sees the same
outcome (or the same located error) as with one process.
"""
from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from .frames import export_csv, export_parquet
from .model import Summary
from .spill import SpilledRows
from .workbook import write_summary

PARALLEL_MIN_ROWS = 20_000       # smaller summaries are written faster than a process starts


def write_outputs(summary: Summary, out: Path, *, csv_dir: Path | None = None,
                  parquet_dir: Path | None = None, parallel: bool | None = None) -> Path:
    """The summary workbook at `out`, plus CSV and/or Parquet folders when given."""
    exports = [(fn, d) for fn, d in ((export_csv, csv_dir), (export_parquet, parquet_dir)) if d is not None]
    child = _start(summary, exports) if exports and _worth_it(summary, parallel) else None
    write_summary(summary, out)
    if child is not None:
        child.join()
        if child.exitcode == 0:
            return Path(out)
    for fn, d in exports:
        fn(summary, d)
    return Path(out)


def _worth_it(summary: Summary, parallel: bool | None) -> bool:
    if parallel is not None:
        return parallel and "fork" in multiprocessing.get_all_start_methods()
    if (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return False
    return sum(len(t.rows) for t in summary.tables.values()) >= PARALLEL_MIN_ROWS


def _start(summary: Summary, exports: list) -> multiprocessing.Process:
    child = multiprocessing.get_context("fork").Process(target=_export, args=(summary, exports), daemon=True)
    child.start()
    return child


def _export(summary: Summary, exports: list) -> None:
    """In the child: a connection of its own to each spill, then the exports; any failure is exit 1."""
    try:
        for spill in {id(t.rows.spill): t.rows.spill for t in summary.tables.values()
                      if isinstance(t.rows, SpilledRows)}.values():
            spill.reopen()
        for fn, d in exports:
            fn(summary, d)
    except BaseException:            # noqa: BLE001 — the parent runs the exports again and reports
        os._exit(1)
    os._exit(0)
