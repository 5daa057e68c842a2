"""One collection run per workspace at a time.

Two `collect` runs started together (a clerk's and a scheduled one) would both
judge the same files and race on the ledger. The lock is an advisory `flock`
on a file in the workspace: the system releases it when its process ends, so a
killed run never leaves the workspace locked.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..errors import WorkspaceError

LOCK_NAME = ".xlperf-collect.lock"
_HELD: set[int] = set()          # lock descriptors this process holds


def _drop_in_child() -> None:
    """A forked judging child must not keep the lock alive after its parent is killed."""
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_in_child)


@contextmanager
def workspace_lock(root: Path, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the workspace's collection lock; WorkspaceError if another run holds it after `wait` seconds."""
    try:
        import fcntl
    except ImportError:                 # pragma: no cover - Windows: no lock rather than no collect
        yield
        return
    path = Path(root) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise WorkspaceError(f"无法创建工作区锁文件（{exc.strerror or exc}）", code="workspace-lock-failed",
                             path=str(path)) from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WorkspaceError("另一个收集（collect）正在此工作区运行，请等它结束后再运行",
                                         code="collect-in-progress", path=str(root)) from None
                time.sleep(0.2)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass
        _HELD.add(fd)
        yield
    finally:
        _HELD.discard(fd)
        os.close(fd)
