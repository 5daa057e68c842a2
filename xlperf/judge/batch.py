"""Check many files in worker processes: a bounded pool, crash isolation, a progress bar.

`check`, `collect` and `aggregate` all judge batches of files; one county's
file that kills its reader must not stop the others, and memory stays bounded
because at most a few chunks are in flight.
"""
from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Iterator

from ..read.detect import SPREADSHEET_SUFFIXES
from .check import CheckResult, check, default_specs
from .findings import ERROR, Finding


def _slim(result: CheckResult) -> CheckResult:
    """What crosses the process boundary: the signed pre-fill JSON is not needed for a summary."""
    if result.identity and ("prefill" in result.identity or "signature" in result.identity):
        result = replace(result, identity={k: v for k, v in result.identity.items() if k not in ("prefill", "signature")})
    return result


def _check_chunk(paths: list[str]) -> list[CheckResult]:
    return [_slim(check(p)) for p in paths]


DEFAULT_TIMEOUT = 30.0


def file_timeout() -> float:
    """Seconds one file may take to be judged: $XLPERF_FILE_TIMEOUT, else 30."""
    try:
        t = float(os.environ.get("XLPERF_FILE_TIMEOUT", "") or DEFAULT_TIMEOUT)
    except ValueError:
        t = DEFAULT_TIMEOUT
    return t if t > 0 else DEFAULT_TIMEOUT


def timeout_result(path: str, seconds: float) -> CheckResult:
    return CheckResult(path=path, readable=False, findings=[Finding(
        "check-timeout", ERROR, f"读取和校验此文件超过 {seconds:g} 秒仍未完成，已停止（文件结构异常或过于庞大），"
        "其他文件照常处理；请让单位用 Excel 或 WPS 重新保存后再提交", path)])


def crashed_result(path: str) -> CheckResult:
    return CheckResult(path=path, readable=False, findings=[Finding(
        "reader-crashed", ERROR, "读取此文件时读取程序异常退出（文件可能已损坏），请让单位用 Excel 或 WPS 重新保存后再提交", path)])


def _serve(conn) -> None:
    """A judging worker: check each (path, kwargs) it is sent until the pipe closes."""
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        path, kwargs = msg
        conn.send(check(path, **kwargs))


class BoundedChecker:
    """Checks files one at a time in a reused worker process, each under a time budget.

    One file that hangs a reader or kills it (a Rust abort, memory running out)
    comes back as a `check-timeout` or `reader-crashed` finding; the worker is
    then replaced and the caller goes on. Arguments cross by pickling, so
    `extra` checks must be picklable objects (see identity.Verifier).
    """

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = file_timeout() if timeout is None else timeout
        self._proc = None
        self._conn = None

    def _start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self._proc.start()
        child.close()

    def check(self, path: Path | str, **kwargs) -> CheckResult:
        p = str(path)
        shown = kwargs.get("display_name") or p
        if "fork" not in multiprocessing.get_all_start_methods():    # pragma: no cover - Windows
            return check(p, **kwargs)
        if self._proc is None or not self._proc.is_alive():
            self.close()
            self._start()
        try:
            self._conn.send((p, kwargs))
            if not self._conn.poll(self.timeout):
                self.close()
                return timeout_result(shown, self.timeout)
            return self._conn.recv()
        except (EOFError, OSError):
            self.close()
            return crashed_result(shown)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
        if self._proc is not None:
            self._proc.join(0.2)
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join()
        self._proc = self._conn = None

    def __enter__(self) -> "BoundedChecker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_bounded(path: Path | str, *, timeout: float | None = None, **kwargs) -> CheckResult:
    """`check(path, **kwargs)` once, in a fresh worker under the time budget (see BoundedChecker)."""
    with BoundedChecker(timeout) as one:
        return one.check(path, **kwargs)


def start_pool(jobs: int | None = None) -> ProcessPoolExecutor:
    """A checking pool whose workers are forked now, with the form definitions loaded.

    Start it before loading a roster or other large data: a worker forked later
    inherits all of it and its memory grows as the inherited pages are touched.
    Pass it to `check_files(pool=…)`; the caller shuts it down.
    """
    jobs = max(1, jobs or os.cpu_count() or 1)
    pool = ProcessPoolExecutor(max_workers=jobs)
    for fut in [pool.submit(default_specs) for _ in range(jobs)]:
        fut.result()
    return pool


def check_files(paths: Iterable[Path | str], *, jobs: int | None = None, progress: bool = True,
                chunk: int = 32, pool: ProcessPoolExecutor | None = None) -> Iterator[CheckResult]:
    """Check files in worker processes; yields results in input order, holding few in memory.

    `paths` is read lazily, a chunk at a time (a national run need not list its files twice);
    at most 2 × jobs chunks of `chunk` files are in flight at once. jobs=1 checks in this
    process (no pool), which is what profiling and debugging want. `pool` (from
    `start_pool`) is used instead of a pool forked now, until it breaks.
    """
    jobs = max(1, jobs or os.cpu_count() or 1)
    total = len(paths) if hasattr(paths, "__len__") else None
    queue = _Chunks(paths, chunk)
    bar = _Progress(total) if progress else None
    try:
        if jobs == 1 or queue.fits_one():
            one = BoundedChecker() if jobs > 1 else None      # jobs=1 stays in this process (profiling)
            try:
                for p in queue.files():
                    res = _slim(one.check(p) if one else check(p))
                    if bar:
                        bar.advance(1)
                    yield res
            finally:
                if one:
                    one.close()
            return
        while queue:
            try:
                for done in _pooled(queue, jobs, pool):
                    if bar:
                        bar.advance(len(done))
                    yield from done
            except (BrokenProcessPool, _ChunkTimeout):
                pool = None             # the caller's pool is broken too; later chunks get a new one
                # A worker died (a reader aborted, or memory ran out) or hangs. Re-run the head chunk one
                # file per process under the time budget so the culprit is reported as its own finding,
                # then go on with a new pool.
                with BoundedChecker() as one:
                    for p in queue.take_head():
                        if bar:
                            bar.advance(1)
                        yield _slim(one.check(p))
    finally:
        if bar:
            bar.close()


class _Chunks:
    """Chunks of paths, read from the caller's iterable only as they are needed.

    Chunks handed to the pool stay in `in_flight` until their results are in; after a crash
    they are given out again, in order, the head one to be re-run file by file.
    """

    def __init__(self, paths: Iterable[Path | str], size: int) -> None:
        self.source = iter(paths)
        self.size = size
        self.in_flight: deque[list[str]] = deque()
        self.again: deque[list[str]] = deque()
        self.peeked: list[str] | None = None

    def _read(self) -> list[str] | None:
        if self.peeked is not None:
            got, self.peeked = self.peeked, None
            return got
        got = [str(p) for _, p in zip(range(self.size), self.source)]
        return got or None

    def fits_one(self) -> bool:
        """True when every path fits in one chunk (then no pool is worth starting)."""
        self.peeked = [str(p) for _, p in zip(range(self.size + 1), self.source)]
        return len(self.peeked) <= self.size

    def files(self) -> Iterator[str]:
        if self.peeked:
            yield from self.peeked
            self.peeked = None
        for p in self.source:
            yield str(p)

    def __bool__(self) -> bool:
        if self.in_flight or self.again or self.peeked:
            return True
        self.peeked = self._read()
        return self.peeked is not None

    def next(self) -> list[str] | None:
        c = self.again.popleft() if self.again else self._read()
        if c is not None:
            self.in_flight.append(c)
        return c

    def done(self) -> None:
        self.in_flight.popleft()

    def take_head(self) -> list[str]:
        """After a crash: the chunk that was due first, to re-run; the others are given out again."""
        head = self.in_flight.popleft() if self.in_flight else (self.next() or [])
        if head and self.in_flight and head is self.in_flight[0]:
            self.in_flight.popleft()
        self.again.extendleft(reversed(self.in_flight))
        self.in_flight.clear()
        return head


class _ChunkTimeout(Exception):
    """The head chunk took longer than one file's time budget: some file in it hangs."""


def _pooled(queue: _Chunks, jobs: int, given: ProcessPoolExecutor | None = None) -> Iterator[list[CheckResult]]:
    """Results of the queued chunks in order, each chunk marked done only once its results are in.

    A `given` pool (from `start_pool`) is left open for the caller unless it breaks or hangs.
    """
    pool = given if given is not None else ProcessPoolExecutor(max_workers=jobs)
    try:
        yield from _pooled_in(pool, queue, jobs)
    except FutureTimeout:
        for proc in list((pool._processes or {}).values()):    # a hung worker never returns: end it
            proc.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        raise _ChunkTimeout() from None
    finally:
        if given is None:
            pool.shutdown(wait=True, cancel_futures=True)


def _pooled_in(pool: ProcessPoolExecutor, queue: _Chunks, jobs: int) -> Iterator[list[CheckResult]]:
    budget = file_timeout()
    pending: deque[Future] = deque()
    while len(pending) < 2 * jobs:
        c = queue.next()
        if c is None:
            break
        pending.append(pool.submit(_check_chunk, c))
    while pending:
        done = pending[0].result(timeout=budget)   # BrokenProcessPool if a worker died
        pending.popleft()
        queue.done()
        yield done                                 # before the next submit, which may find the pool broken
        nxt = queue.next()
        if nxt is not None:
            pending.append(pool.submit(_check_chunk, nxt))


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



# ---------------------------------------------------------------- one file at a time, bounded

CHECK_TIMEOUT = 120.0          # seconds a single check may take
CHECK_MEMORY = 3 << 30         # bytes of address space for a checking process (RLIMIT_AS)


def _limit_memory(memory: int) -> None:
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError):   # not on this platform, or a lower hard limit already
        pass


def _signed_check(path: str, secret: bytes | None, form_hint: str | None, display_name: str | None) -> CheckResult:
    from .identity import verifier
    extra = [verifier(secret)] if secret is not None else []
    return check(path, form_hint=form_hint, extra=extra, display_name=display_name)


def _context():
    import multiprocessing
    try:
        ctx = multiprocessing.get_context("forkserver")   # never fork a threaded server process
        ctx.set_forkserver_preload(["xlperf.judge.check", "xlperf.judge.identity"])
    except ValueError:
        ctx = multiprocessing.get_context("spawn")
    return ctx


class PooledChecker:
    """`check` one file at a time for a server: worker processes, a time limit, a memory cap.

    A file that makes a reader crash, spin or swell costs a worker process,
    never the server. Workers are kept between files (their form definitions
    stay loaded); when the pool breaks, each file that was in flight is checked
    again alone, so only the culprit is reported as crashed.
    """

    def __init__(self, workers: int | None = None, *, timeout: float = CHECK_TIMEOUT, memory: int = CHECK_MEMORY):
        import threading
        self.workers = max(1, workers or min(4, os.cpu_count() or 1))
        self.timeout, self.memory = timeout, memory
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self.target = _signed_check     # what a worker runs; a module-level function (tests swap in a bad one)

    def _get_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self.workers, mp_context=_context(), initializer=_limit_memory,
                                                 initargs=(self.memory,))
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor, kill: bool = False) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        if kill:
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def warm(self) -> None:
        """Start the worker processes now, so the first county does not wait for them."""
        pool = self._get_pool()
        for _ in range(self.workers):
            pool.submit(default_specs)

    def check(self, path: Path | str, *, secret: bytes | None = None, form_hint: str | None = None,
              display_name: str | None = None) -> CheckResult:
        """Same result as `check(path, form_hint=…, extra=[verifier(secret)], display_name=…)`."""
        import time
        from concurrent.futures import TimeoutError as FutureTimeout
        shown = display_name or str(path)
        pool = self._get_pool()
        try:
            fut = pool.submit(self.target, str(path), secret, form_hint, display_name)
            while not fut.running() and not fut.done():     # waiting in the queue is not the file's fault
                time.sleep(0.005)
            return fut.result(timeout=self.timeout)
        except FutureTimeout:
            self._discard(pool, kill=True)
            return timeout_result(shown, self.timeout)
        except (BrokenProcessPool, RuntimeError):
            self._discard(pool)
            return self._alone(str(path), secret, form_hint, display_name, shown)

    def _alone(self, path: str, secret, form_hint, display_name, shown: str) -> CheckResult:
        from concurrent.futures import TimeoutError as FutureTimeout
        one = ProcessPoolExecutor(1, mp_context=_context(), initializer=_limit_memory, initargs=(self.memory,))
        try:
            return one.submit(self.target, path, secret, form_hint, display_name).result(timeout=self.timeout)
        except FutureTimeout:
            self._discard(one, kill=True)
            return timeout_result(shown, self.timeout)
        except BrokenProcessPool:
            return crashed_result(shown)
        finally:
            one.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
