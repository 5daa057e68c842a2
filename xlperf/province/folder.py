"""Aggregate files or folders given directly (no workspace, no roster)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..judge.batch import check_files, spreadsheet_files
from .aggregate import summarize
from .model import Entry, Summary
from .outputs import write_outputs


def aggregate_paths(paths: Iterable[Path | str], *, out: Path, jobs: int | None = None, progress: bool = True,
                    year: int | None = None, form: str = "", csv_dir: Path | None = None,
                    parquet_dir: Path | None = None, dask: str | None = None) -> Summary:
    """Check the files (folders are searched) and write the summary workbook, plus CSV/Parquet if asked.

    `dask` is a Dask scheduler address (or 'local'): the files are then checked
    on that cluster instead of a local process pool; the summary is the same.
    """
    out = Path(out)
    paths = list(paths)
    files = spreadsheet_files(paths, exclude=[out])
    # results first in zip(): its end, not the list's, stops the loop, so the pool shuts down at once
    if dask:
        from ..judge.dask_batch import check_files_dask
        results = check_files_dask(files, dask, jobs=jobs, progress=progress)
    else:
        results = check_files(files, jobs=jobs, progress=progress)
    entries = (Entry(res, None, str(p)) for res, p in zip(results, files))
    produced_from = f"{len(files)} 个文件：" + "、".join(str(p) for p in paths[:5]) + ("……" if len(paths) > 5 else "")
    summary = summarize(entries, [], year=year, form=form, produced_from=produced_from)
    write_outputs(summary, out, csv_dir=csv_dir, parquet_dir=parquet_dir)
    return summary
