"""The summary tables as pandas DataFrames, and their CSV / Parquet exports.

The frames are built from `Summary.tables`, the same rows the summary
workbook shows, so an export can never disagree with the workbook. Column
names are the Chinese titles seen in the workbook (`keys=True` gives the
stable English keys instead, for scripts).

CSV files are UTF-8 with a BOM (Excel on Windows then reads the Chinese
correctly) and every text cell is quoted and written verbatim. Note that
Excel still evaluates a quoted cell starting with "=" when it opens a CSV;
the workbook, not the CSV, is what clerks should open.

The exports stream: each table is read once, CHUNK_ROWS rows at a time (its rows
may be a lazy sequence too big to hold), and appended to its file, so a
province's memory does not grow with its size. The notebook API (`frames`,
`table_frame`, `frame`) builds whole tables.
"""
from __future__ import annotations

import csv
import os
from itertools import islice
from pathlib import Path
from typing import Callable, Iterable, Iterator

import pandas as pd

from ..judge.batch import check_files
from ..judge.check import CheckResult
from .aggregate import summarize
from .model import Entry, Summary, Table

NUMERIC = {"money", "rate", "share", "score", "number"}
PERCENT = {"rate", "share"}
NUMERIC_SUFFIX = "（小数）"     # the companion column of a percentage in CSV, for analysis
CHUNK_ROWS = 5_000              # rows per step of the CSV / Parquet exports


def table_frame(table: Table, *, keys: bool = False) -> pd.DataFrame:
    """One table as a DataFrame with typed columns (nullable integers, floats, strings)."""
    cols = [c.key for c in table.columns]
    df = pd.DataFrame.from_records(table.rows, columns=cols) if table.rows else pd.DataFrame(columns=cols)
    for c in table.columns:
        if c.kind == "int":
            df[c.key] = pd.array([None if v is None else int(v) for v in df[c.key].tolist()], dtype="Int64")
        elif c.kind in NUMERIC:
            df[c.key] = pd.to_numeric(df[c.key], errors="coerce").astype("float64")
        else:
            df[c.key] = df[c.key].astype("string")
    if not keys:
        df.columns = [c.title for c in table.columns]
    return df


def frames(summary: Summary, *, keys: bool = False) -> dict[str, pd.DataFrame]:
    """Every table of the summary: overview, regions, projects, indicators, indicator_analysis,
    findings, missing, plus grades, score_buckets, city_rates and top_not_met."""
    return {name: table_frame(t, keys=keys) for name, t in summary.tables.items()}


def frame(paths_or_results: Iterable[str | os.PathLike | CheckResult], table: str = "projects", *,
          keys: bool = False, jobs: int | None = None) -> pd.DataFrame:
    """项目明细 (or any other summary table) straight from files or `CheckResult`s, for notebooks.

    Files are checked in worker processes (`jobs`, default all CPUs); no roster is used.
    """
    items = list(paths_or_results)
    paths = [p for p in items if not isinstance(p, CheckResult)]
    checked = iter(list(check_files(paths, jobs=jobs, progress=False)))

    def entries():
        for item in items:
            if isinstance(item, CheckResult):
                yield Entry(item, None, item.path)
            else:
                yield Entry(next(checked), None, str(item))

    summary = summarize(entries(), [], year=None, form="", produced_from="pandas")
    if table not in summary.tables:
        raise KeyError(f"unknown table {table!r}; one of {', '.join(summary.tables)}")
    return table_frame(summary.tables[table], keys=keys)


def _percent(v: object) -> str:
    return "" if v is None or pd.isna(v) else f"{float(v) * 100:.2f}%"


def csv_frame(table: Table) -> pd.DataFrame:
    """A table as the CSV shows it: percentages as "96.20%" (as in the workbook), each followed by
    a numeric column “…（小数）” (0.962) for analysis."""
    return _csv_block(table, table.rows, _percent_columns(table))


def _percent_columns(table: Table) -> frozenset[str]:
    """Columns shown as percentages with a numeric companion: decided once for the whole table.

    A "number" column (its row's "_kind" decides) has one when any row is a percentage: that
    takes one look at the rows, only for tables with such a column (the small 总体情况).
    """
    keys = {c.key for c in table.columns if c.kind in PERCENT}
    by_row = [c.key for c in table.columns if c.kind == "number"]
    if by_row and any(r.get("_kind", "") in PERCENT for r in table.rows):
        keys.update(by_row)
    return frozenset(keys)


def _csv_block(table: Table, rows: list[dict], percent: frozenset[str]) -> pd.DataFrame:
    df = table_frame(Table(table.name, table.title, table.columns, rows), keys=True)
    out: dict[str, object] = {}
    for c in table.columns:
        if c.key in percent:
            kinds = [r.get("_kind", "") for r in rows] if c.kind == "number" else [c.kind] * len(df)
            shown = [(_percent(v) if (c.kind in PERCENT or k in PERCENT) else ("" if pd.isna(v) else f"{v:g}"))
                     for v, k in zip(df[c.key].tolist(), kinds)]
            out[c.title] = pd.array(shown, dtype="string")
            out[c.title + NUMERIC_SUFFIX] = df[c.key]
        else:
            out[c.title] = df[c.key]
    return pd.DataFrame(out, index=df.index)


def _blocks(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    """The rows in lists of `size`, from one pass; at least one list (empty for an empty table).

    Only one list is alive at a time when the caller drops each before asking for the next."""
    it = iter(rows)
    first = True
    while True:
        block = list(islice(it, size))
        if not block and not first:
            return
        first, full = False, len(block) == size
        yield block
        del block
        if not full:
            return


def _export(summary: Summary, directory: str | os.PathLike, suffix: str,
            write: Callable[[Table, Path], None]) -> list[Path]:
    """One `<table><suffix>` per table, each written to a temp name and renamed into place."""
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in summary.tables.items():
        path = out_dir / f"{name}{suffix}"
        tmp = path.with_name(f".{path.name}.part")
        try:
            write(table, tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        written.append(path)
    return written


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Text Excel would open as a formula gets a leading ' (OWASP's advice for CSV injection)."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    text = [c for c in df.columns if df[c].dtype == object or str(df[c].dtype) == "string"]
    if not text:
        return df
    out = df.copy()
    for c in text:
        col = out[c]
        if col.dtype == object:
            out[c] = col.map(neutralise)
            continue
        risky = col.str.startswith(FORMULA_STARTS).fillna(False).astype(bool)      # vectorised `neutralise`
        if risky.any():
            out[c] = col.mask(risky, "'" + col)
    return out


def export_csv(summary: Summary, directory: str | os.PathLike) -> list[Path]:
    """One `<table>.csv` per table (ASCII file names survive zips and mail on Chinese Windows).

    Formula-like text is neutralised (see `neutralise`); the 说明 sheet says so.
    """
    return _export(summary, directory, ".csv", _write_csv)


def _write_csv(table: Table, tmp: Path) -> None:
    """The table in CHUNK_ROWS steps: the same bytes as one `to_csv` of the whole frame (one BOM,
    one header; every column's type is fixed by its kind, so each chunk is formatted alike)."""
    percent = _percent_columns(table)
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        header = True
        for block in _blocks(table.rows, CHUNK_ROWS):      # (enumerate would keep the last block alive)
            _csv_safe(_csv_block(table, block, percent)).to_csv(
                fh, index=False, header=header, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
            header = False
            del block


def export_parquet(summary: Summary, directory: str | os.PathLike) -> list[Path]:
    """One `<table>.parquet` per table, with the same columns and types as the frames."""
    return _export(summary, directory, ".parquet", _write_parquet)


def _write_parquet(table: Table, tmp: Path) -> None:
    """One row group per CHUNK_ROWS rows, all of the schema `table_frame` gives (an empty table too)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    writer = None
    try:
        for block in _blocks(table.rows, CHUNK_ROWS):
            df = table_frame(Table(table.name, table.title, table.columns, block))
            if writer is None:
                arrow = pa.Table.from_pandas(df, preserve_index=False)
                writer = pq.ParquetWriter(tmp, arrow.schema)
            else:
                arrow = pa.Table.from_pandas(df, schema=writer.schema, preserve_index=False)
            del block, df
            writer.write_table(arrow)
    finally:
        if writer is not None:
            writer.close()
