"""Content-addressed store of every file a county sends back.

Why: the same workbook arrives twice (mail and a USB stick), a county re-sends
after fixing one cell, an importer crashes halfway. Keying each file by its
SHA-256 makes ingestion idempotent and gives audits the exact bytes that were
judged. Files are written once, never overwritten, and made read-only.

Layout: ``store/ab/abcdef…`` (first two hex digits as a fan-out folder).
A write goes to a temporary file in the destination folder, is fsynced, then
hard-linked into place; linking fails if the name exists, so two processes
storing the same bytes at once cannot clobber each other and exactly one of
them reports the file as new.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from ..errors import WorkspaceError

_SHA = re.compile(r"[0-9a-f]{64}")


def path_for(store_dir: Path, sha: str) -> Path:
    """Where the file with this SHA-256 lives (whether or not it exists)."""
    if not isinstance(sha, str) or not _SHA.fullmatch(sha):
        raise ValueError(f"not a lowercase sha256 hex digest: {sha!r}")
    return Path(store_dir) / sha[:2] / sha


def put(store_dir: Path, data: bytes) -> tuple[str, Path, bool]:
    """Store `data`; return (sha256 hex, path, is_new). Safe to call concurrently.

    A store that cannot be written (read-only, disk full) raises WorkspaceError
    naming the folder and the cause; no partial file is left behind.
    """
    try:
        return _put(store_dir, data)
    except OSError as exc:
        raise WorkspaceError(f"文件库无法写入：{_cause(exc)}，收集已停止；空出空间或改好权限后重新运行即可继续",
                             code="store-unwritable", path=str(exc.filename or store_dir)) from None


def _cause(exc: OSError) -> str:
    import errno
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return "磁盘已满"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "没有写权限（文件夹或磁盘是只读的）"
    return exc.strerror or str(exc)


def clean_stale(store_dir: Path) -> int:
    """Remove `.tmp-*` files a killed run left behind (call only while holding the workspace lock)."""
    n = 0
    root = Path(store_dir)
    if not root.is_dir():
        return 0
    for tmp in root.glob("*/.tmp-*"):
        try:
            tmp.unlink()
            n += 1
        except OSError:
            pass
    return n


def discard(store_dir: Path, sha: str) -> None:
    """Take back a file just stored whose arrival could not be recorded."""
    try:
        path_for(store_dir, sha).unlink()
    except OSError:
        pass


def _put(store_dir: Path, data: bytes) -> tuple[str, Path, bool]:
    sha = hashlib.sha256(data).hexdigest()
    dest = path_for(store_dir, sha)
    if dest.exists():
        return sha, dest, False
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        is_new = _link_if_absent(tmp, dest)
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
    if is_new:
        os.chmod(dest, 0o444)
        _fsync_dir(dest.parent)
    return sha, dest, is_new


def _link_if_absent(tmp: Path, dest: Path) -> bool:
    """Give `tmp` the name `dest` unless it exists. True when we created it."""
    try:
        os.link(tmp, dest)
        return True
    except FileExistsError:
        return False
    except OSError:
        # File systems without hard links (some network shares): fall back to
        # rename. Two racers may both rename, but the bytes are identical.
        if dest.exists():
            return False
        os.replace(tmp, dest)
        return True


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def get(store_dir: Path, sha: str) -> bytes:
    """The stored bytes; WorkspaceError when missing or when they no longer match the hash."""
    path = path_for(store_dir, sha)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise WorkspaceError(f"文件库中缺少文件 {sha[:12]}…，工作区可能被手工改动过",
                             code="store-missing", path=str(path)) from None
    if hashlib.sha256(data).hexdigest() != sha:
        raise WorkspaceError(f"文件库中的文件 {sha[:12]}… 已损坏（内容与校验值不符）",
                             code="store-corrupt", path=str(path))
    return data


def has(store_dir: Path, sha: str) -> bool:
    return path_for(store_dir, sha).exists()
