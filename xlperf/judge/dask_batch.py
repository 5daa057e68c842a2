"""Check many files on a Dask cluster: one task per small chunk of files, results back in input order.

A ministry aggregating hundreds of thousands of returns runs the same `check`
on a cluster it already has. Dask distributed does the scheduling, the retries
and the recovery from a lost worker; this module only cuts the input into
tasks, bounds how many are in flight and puts the results back in order, so the
summary built from them is the one a local run builds.

Files go to the workers as bytes by default (workers need no shared storage);
with `shared=True` only the paths go, for a cluster that mounts the same folder.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from .batch import _Progress, _slim
from .check import CheckResult, check
from .findings import ERROR, Finding
from ..errors import XlperfError

LOCAL = "local"
CHUNK = 16            # files per task: large enough that Dask's per-task cost (~1 ms) stays small
RETRIES = 2           # a task that raised is run again this many times (a lost worker is Dask's own matter)
TASK_BYTES = 8 << 20  # bytes of files per task when they travel with it (Dask warns about large graphs)
CONNECT_TIMEOUT = "30s"


def _check_blobs(items: list[tuple[str, bytes]]) -> list[CheckResult]:
    """On a worker: each file's bytes into a private temp file, checked under the file's own name."""
    out = []
    with tempfile.TemporaryDirectory(prefix="xlperf-dask-") as tmp:
        for i, (name, blob) in enumerate(items):
            local = Path(tmp) / f"{i}{Path(name).suffix.lower()}"
            local.write_bytes(blob)
            out.append(_slim(check(local, display_name=name)))
            local.unlink()
    return out


def _check_paths(paths: list[str]) -> list[CheckResult]:
    """On a worker that sees the same storage: check the files where they are."""
    return [_slim(check(p)) for p in paths]


def _lost(name: str, exc: BaseException) -> CheckResult:
    return CheckResult(path=name, readable=False, findings=[Finding(
        "reader-crashed", ERROR, "在计算集群上校验此文件时计算节点多次异常退出（文件可能已损坏或过大），"
        "请让单位用 Excel 或 WPS 重新保存后再提交", name)])


def connect(address: str, *, jobs: int | None = None):
    """(client, the local cluster or None): a new local cluster when address is 'local', else the scheduler's."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise XlperfError("未安装 Dask distributed，无法使用 --dask；请先安装：pip install 'xlperf[dask]'",
                          code="dask-missing") from None
    if address == LOCAL:
        cluster = LocalCluster(n_workers=max(1, jobs or os.cpu_count() or 1), threads_per_worker=1,
                               processes=True, dashboard_address=None)
        return Client(cluster), cluster
    try:
        return Client(address, timeout=CONNECT_TIMEOUT), None
    except (OSError, TimeoutError, ValueError) as exc:
        raise XlperfError(f"无法连接 Dask 调度器 {address}（{type(exc).__name__}: {exc}）；请确认地址和端口，"
                          "以及调度器已启动（dask scheduler）", code="dask-unreachable") from None


def _chunks(items: list[str], chunk: int, max_bytes: int | None) -> list[list[str]]:
    """Runs of at most `chunk` files; with max_bytes, also at most that many bytes (one big file alone)."""
    out: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for p in items:
        n = os.path.getsize(p) if max_bytes else 0
        if cur and (len(cur) >= chunk or (max_bytes and size + n > max_bytes)):
            out.append(cur)
            cur, size = [], 0
        cur.append(p)
        size += n
    if cur:
        out.append(cur)
    return out


def check_files_dask(paths: Sequence[Path | str], address: str, *, jobs: int | None = None, progress: bool = True,
                     chunk: int = CHUNK, shared: bool | None = None, in_flight: int | None = None,
                     client=None) -> Iterator[CheckResult]:
    """Like `check_files`, on a Dask cluster: yields one result per file, in input order.

    At most `in_flight` tasks (default 4 per worker thread) are submitted past the
    first result not yet yielded, so neither the cluster nor this process holds
    more than a window of files. `shared` defaults to True for 'local' (same
    disk) and False otherwise (bytes travel with the task). A chunk whose task
    still fails after Dask's retries is checked again file by file; a file whose
    own task kills workers is reported as `reader-crashed`, any other failure
    (a worker without xlperf, a path it cannot see) stops the run with a message.
    """
    from distributed import as_completed

    items = [str(p) for p in paths]
    if shared is None:
        shared = address == LOCAL
    own = client is None
    cluster = None
    if own:
        client, cluster = connect(address, jobs=jobs)
    chunks = _chunks(items, chunk, None if shared else TASK_BYTES)
    bar = _Progress(len(items)) if progress else None

    def submit(c: list[str]):
        if shared:
            return client.submit(_check_paths, c, retries=RETRIES, pure=False)
        return client.submit(_check_blobs, [(p, Path(p).read_bytes()) for p in c], retries=RETRIES, pure=False)

    try:
        if in_flight is None:
            threads = sum(client.nthreads().values()) or 1
            in_flight = 4 * threads
        done: dict[int, list[CheckResult]] = {}
        index = {}                   # future key → chunk number
        ahead = as_completed()
        submitted = 0
        following = 0                # the next chunk to yield

        def top_up() -> None:
            nonlocal submitted
            while submitted < len(chunks) and submitted < following + in_flight:
                fut = submit(chunks[submitted])
                index[fut.key] = submitted
                ahead.add(fut)
                submitted += 1

        top_up()
        while following < len(chunks):
            if following not in done:
                fut = next(ahead)
                k = index.pop(fut.key)
                try:
                    done[k] = fut.result()
                except Exception:
                    done[k] = [_alone(client, p, shared) for p in chunks[k]]
                fut.release()
                continue
            results = done.pop(following)
            following += 1
            top_up()
            if bar:
                bar.advance(len(results))
            yield from results
    finally:
        if bar:
            bar.close()
        if own:
            client.close()
            if cluster is not None:
                cluster.close()


def _alone(client, path: str, shared: bool) -> CheckResult:
    """One file as its own task. Workers that die on it are the file's fault; any other failure is the cluster's."""
    from distributed import KilledWorker
    try:
        if shared:
            return client.submit(_check_paths, [path], retries=RETRIES, pure=False).result()[0]
        return client.submit(_check_blobs, [(path, Path(path).read_bytes())], retries=RETRIES, pure=False).result()[0]
    except KilledWorker as exc:
        return _lost(path, exc)
    except Exception as exc:
        raise XlperfError(f"计算集群无法校验文件（{type(exc).__name__}: {exc}）；请确认各计算节点已安装同一版本的 xlperf"
                          + ("，并能读到同一路径下的文件" if shared else ""), code="dask-task-failed", path=path) from None
