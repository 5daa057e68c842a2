"""Check many files in worker processes: a bounded pool, crash isolation, a progress bar.

`check`, `collect` and `aggregate` all judge batches of files; one county's
file that kills its reader must not stop the others, and memory stays bounded
because at most a few chunks are in flight.
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ..read.detect import SPREADSHEET_SUFFIXES
from .check import CheckResult, check
from .findings import ERROR, Finding


def _slim(result: CheckResult) -> CheckResult:
    """What crosses the process boundary: the signed pre-fill JSON is not needed for a summary."""
    if result.identity and ("prefill" in result.identity or "signature" in result.identity):
        result = replace(result, identity={k: v for k, v in result.identity.items() if k not in ("prefill", "signature")})
    return result


def _check_chunk(paths: list[str]) -> list[CheckResult]:
    return [_slim(check(p)) for p in paths]


def check_files(paths: Sequence[Path | str], *, jobs: int | None = None, progress: bool = True,
                chunk: int = 32) -> Iterator[CheckResult]:
    """Check files in worker processes; yields results in input order, holding few in memory.

    At most 2 × jobs chunks of `chunk` files are in flight at once. jobs=1 checks
    in this process (no pool), which is what profiling and debugging want.
    """
    items = [str(p) for p in paths]
    jobs = max(1, jobs or os.cpu_count() or 1)
    bar = _Progress(len(items)) if progress else None
    try:
        if jobs == 1 or len(items) <= chunk:
            for p in items:
                res = _slim(check(p))
                if bar:
                    bar.advance(1)
                yield res
            return
        remaining: deque[list[str]] = deque(items[i:i + chunk] for i in range(0, len(items), chunk))
        while remaining:
            try:
                for done in _pooled(remaining, jobs):
                    if bar:
                        bar.advance(len(done))
                    yield from done
            except BrokenProcessPool:
                # A worker died (a reader aborted, or memory ran out). Re-run the head chunk one file
                # per process so the culprit is reported as its own finding, then go on with a new pool.
                for p in remaining.popleft():
                    if bar:
                        bar.advance(1)
                    yield _isolated(p)
    finally:
        if bar:
            bar.close()


def _pooled(remaining: deque, jobs: int) -> Iterator[list[CheckResult]]:
    """Results of `remaining` chunks in order, popping each chunk only once it is done."""
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        pending: deque[Future] = deque()
        queued = iter(list(remaining))
        for c in queued:
            pending.append(pool.submit(_check_chunk, c))
            if len(pending) >= 2 * jobs:
                break
        while pending:
            done = pending[0].result()      # raises BrokenProcessPool if any worker died
            pending.popleft()
            remaining.popleft()
            nxt = next(queued, None)
            if nxt is not None:
                pending.append(pool.submit(_check_chunk, nxt))
            yield done


def _isolated(path: str) -> CheckResult:
    with ProcessPoolExecutor(max_workers=1) as one:
        try:
            return one.submit(_check_chunk, [path]).result()[0]
        except BrokenProcessPool:
            return CheckResult(path=path, readable=False, findings=[Finding(
                "reader-crashed", ERROR, "读取此文件时读取程序异常退出（文件可能已损坏），请让单位用 Excel 或 WPS 重新保存后再提交", path)])


class _Progress:
    """A rich progress bar on stderr (quiet when stderr is not a terminal)."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        self.p = Progress(TextColumn("校验"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                          console=Console(stderr=True), transient=True)
        self.task = self.p.add_task("check", total=total)
        self.p.start()

    def advance(self, n: int) -> None:
        self.p.advance(self.task, n)

    def close(self) -> None:
        self.p.stop()


def spreadsheet_files(paths: Iterable[Path | str], *, exclude: Iterable[Path] = ()) -> list[Path]:
    """Files given directly, plus every spreadsheet under folders given (sorted; no ~$ lock files)."""
    skip = {Path(p).resolve() for p in exclude}
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in SPREADSHEET_SUFFIXES
                           and not q.name.startswith((".", "~$")))
            out.extend(q for q in found if q.resolve() not in skip)
        else:
            out.append(p)
    return out
