"""The summary tables as pandas DataFrames, and their CSV / Parquet exports.

The frames are built from `Summary.tables`, the same rows the summary
workbook shows, so an export can never disagree with the workbook. Column
names are the Chinese titles seen in the workbook (`keys=True` gives the
stable English keys instead, for scripts).

CSV files are UTF-8 with a BOM (Excel on Windows then reads the Chinese
correctly) and every text cell is quoted and written verbatim. Note that
Excel still evaluates a quoted cell starting with "=" when it opens a CSV;
the workbook, not the CSV, is what clerks should open.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Iterable

import pandas as pd

from ..judge.batch import check_files
from ..judge.check import CheckResult
from .aggregate import summarize
from .model import Entry, Summary, Table

NUMERIC = {"money", "rate", "share", "score", "number"}
PERCENT = {"rate", "share"}
NUMERIC_SUFFIX = "（小数）"     # the companion column of a percentage in CSV, for analysis


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
    df = table_frame(table, keys=True)
    out: dict[str, object] = {}
    for c in table.columns:
        kinds = [r.get("_kind", "") for r in table.rows] if c.kind == "number" else []
        if c.kind in PERCENT or any(k in PERCENT for k in kinds):
            shown = [(_percent(v) if (c.kind in PERCENT or k in PERCENT) else ("" if pd.isna(v) else f"{v:g}"))
                     for v, k in zip(df[c.key].tolist(), kinds or [c.kind] * len(df))]
            out[c.title] = pd.array(shown, dtype="string")
            out[c.title + NUMERIC_SUFFIX] = df[c.key]
        else:
            out[c.title] = df[c.key]
    return pd.DataFrame(out, index=df.index)


def _export(summary: Summary, directory: str | os.PathLike, suffix: str, write, *, shown: bool = False) -> list[Path]:
    """One `<table><suffix>` per table, each written to a temp name and renamed into place."""
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    tables = ({name: csv_frame(t) for name, t in summary.tables.items()} if shown else frames(summary))
    for name, df in tables.items():
        path = out_dir / f"{name}{suffix}"
        tmp = path.with_name(f".{path.name}.part")
        write(df, tmp)
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
        out[c] = out[c].map(neutralise)
    return out


def export_csv(summary: Summary, directory: str | os.PathLike) -> list[Path]:
    """One `<table>.csv` per table (ASCII file names survive zips and mail on Chinese Windows).

    Formula-like text is neutralised (see `neutralise`); the 说明 sheet says so.
    """
    return _export(summary, directory, ".csv", lambda df, tmp: _csv_safe(df).to_csv(
        tmp, index=False, encoding="utf-8-sig", quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n"), shown=True)


def export_parquet(summary: Summary, directory: str | os.PathLike) -> list[Path]:
    """One `<table>.parquet` per table, with the same columns and types as the frames."""
    return _export(summary, directory, ".parquet", lambda df, tmp: df.to_parquet(tmp, index=False))
