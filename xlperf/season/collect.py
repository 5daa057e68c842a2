"""Ingest returns from a folder, a zip or an IMAP mailbox into the workspace.

Order matters for never losing a file: each file is first stored by its
SHA-256 (atomic, never overwritten), then its arrival is recorded, and only
then is it read, validated and matched to the roster. A run killed at any
point is completed by the next run: what decides whether a file still needs
judging is the absence of its `returns` row, not of its receipt.
"""
from __future__ import annotations

import json
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from . import db, store, unzip
from ..errors import UnreadableFile
from ..judge.batch import BoundedChecker, check_bounded
from ..judge.check import CheckResult
from ..read.detect import SPREADSHEET_SUFFIXES, sniff
from ..judge.identity import IDENTITY_MISMATCH, EmailBook, verifier
from ..form.labels import norm
from ..judge.serialize import result_json
from .lock import workspace_lock
from .workspace import Workspace
from ..errors import WorkspaceError

MAX_MEMBER = unzip.MAX_MEMBER     # bytes; a zip member inflating past this is refused (decompression bomb)
MAX_MEMBERS = unzip.MAX_MEMBERS
MAX_FILE = 50_000_000              # bytes; a loose file larger than this is refused before it is read


@dataclass
class Incoming:
    name: str                 # original file name as the county sent it
    data: bytes
    source: str               # folder | zip | imap
    ref: str                  # where exactly it came from
    sender: str = ""          # e-mail sender, for imap


@dataclass
class CollectReport:
    new: list[str] = field(default_factory=list)           # judged for the first time
    duplicates: list[str] = field(default_factory=list)    # bytes we already had
    unmatched: list[str] = field(default_factory=list)     # kept, but no roster row found
    skipped: list[str] = field(default_factory=list)       # not spreadsheets: kept in the store, set aside
    problems: list[str] = field(default_factory=list)      # e.g. a corrupt zip


def zip_member_name(info: zipfile.ZipInfo) -> str:
    """Member names: the UTF-8 flag, else CP437 Latin, UTF-8 or GBK as common unzip tools decide."""
    return unzip.member_name(info)


def from_zip(path: Path, ref_prefix: str = "", report: CollectReport | None = None) -> Iterator[Incoming]:
    """Every file in the zip (nested zips opened); each member left out gets its own message."""
    problems = report.problems if report is not None else []
    for m in unzip.members(Path(path), ref_prefix or str(path), problems):
        yield Incoming(m.name, m.data, "zip", m.ref)


def _too_big(path: Path, size: int) -> str:
    return (f"{path}：文件有 {size / 1e6:,.0f} MB，超过上限 {MAX_FILE / 1e6:,.0f} MB，未收集"
            "（自评表通常不到 5 MB，请确认是否发错了文件）")


def from_folder(folder: Path, report: CollectReport | None = None) -> Iterator[Incoming]:
    problems = report.problems if report is not None else []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.startswith(("~$", ".")):
            continue
        if path.suffix.lower() == ".zip":
            yield from from_zip(path, str(path), report)
            continue
        item = _from_file(path, problems)
        if item is not None:
            yield item


def _from_file(path: Path, problems: list[str]) -> Incoming | None:
    """One loose file, refused by its size before a byte is read."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE:
            problems.append(_too_big(path, size))
            return None
        return Incoming(path.name, path.read_bytes(), "folder", str(path.resolve()))
    except OSError as exc:
        problems.append(f"{path}：无法读取（{exc.strerror or exc}），未收集")
        return None


def from_imap(ws: Workspace, report: CollectReport, handle: Callable[[Incoming], None]) -> None:
    """Attachments of unread messages; a message is marked read only after its files were stored."""
    from .inbox import fetch_attachments
    from .mail import MailSettings
    settings = MailSettings.from_dict(ws.mail)

    def store_attachment(att) -> None:
        if len(att.data) > MAX_FILE:
            report.problems.append(f"{att.sender}：附件 {att.filename} 有 {len(att.data) / 1e6:,.0f} MB，"
                                   f"超过上限 {MAX_FILE / 1e6:,.0f} MB，未收集")
            return
        ref = f"{settings.imap_folder}/{att.message_uid}/{att.filename}"
        if att.filename.lower().endswith(".zip") and att.data[:4] == b"PK\x03\x04":
            with tempfile.TemporaryDirectory() as tmp:      # a county zipped its returns before mailing them
                bundle = Path(tmp) / "attachment.zip"
                bundle.write_bytes(att.data)
                for item in from_zip(bundle, ref, report):
                    handle(Incoming(item.name, item.data, "imap", item.ref, att.sender))
            return
        handle(Incoming(att.filename, att.data, "imap", ref, att.sender))

    fetched = fetch_attachments(settings, store=store_attachment)
    report.problems.extend(f"{f.sender}《{f.subject}》：{f.message}（邮件保持未读，下次再收）" for f in fetched.failures)
    report.problems.extend(f"邮件无附件：{m.sender}《{m.subject}》" for m in fetched.without_attachments)


def match_roster(conn, result: CheckResult) -> tuple[int | None, str | None]:
    """By the signed identity first, else by the 实施单位 / 项目名称 labels.

    An identity sheet copied from another unit's form (`identity-mismatch`) never
    decides whose return this is: it would supersede that unit's valid return
    and send this unit's data to it.
    """
    ident = result.identity or {}
    copied = any(f.code == IDENTITY_MISMATCH for f in result.findings)
    if ident.get("unit_code") and ident.get("project_code") and not copied:
        rid = db.roster_id_for(conn, ident["unit_code"], ident["project_code"])
        if rid is not None:
            return rid, "signature"
    unit, project = norm(result.unit), norm(result.project)
    if not unit or not project:
        return None, None
    hits = [r["id"] for r in db.roster_rows(conn)
            if norm(r["unit_name"]) == unit and (norm(r["project_name"]) == project
                                                 or norm(r["project_name"]) in project
                                                 or (norm(r["project_code"]) and norm(r["project_code"]) in project))]
    return (hits[0], "labels") if len(hits) == 1 else (None, None)


def roster_target_findings(conn, roster_id: int, result: CheckResult) -> list:
    """A copy typed by the county must still carry the approved 三级指标, 分值 and 年度指标值."""
    from ..judge.findings import ERROR, Finding
    from ..form.values import parse_amount
    shown = {norm(i.name): i for i in result.indicators if i.name}
    out = []
    for t in db.targets_of(conn, roster_id):
        ind = shown.get(norm(t["name"]))
        where = result.path
        if ind is None:
            out.append(Finding("target-changed", ERROR, f"批复的三级指标“{t['name']}”在表中找不到（被删除或改名）",
                               where, result.sheet, "", "name"))
            continue
        w = parse_amount(ind.weight).value if ind.weight is not None else None
        if t["weight"] is not None and (w is None or abs(w - float(t["weight"])) > 0.005):
            out.append(Finding("target-changed", ERROR, f"{ind.weight_cell}：“{t['name']}”的分值 {ind.weight} 与批复的 {t['weight']:g} 不一致",
                               where, result.sheet, ind.weight_cell, "weight"))
        if t["target"] and norm(t["target"]) != norm(ind.target):
            out.append(Finding("target-changed", ERROR, f"{ind.target_cell}：“{t['name']}”的年度指标值“{ind.target}”与批复的“{t['target']}”不一致",
                               where, result.sheet, ind.target_cell, "target"))
    return out


def workspace_findings(ws: Workspace, conn, result: CheckResult) -> tuple[int | None, str | None]:
    """What only the workspace knows: the roster row, its approved targets, the season's year."""
    roster_id, matched_by = match_roster(conn, result)
    if matched_by == "labels":   # no signature to rely on: compare with the approved targets directly
        result.findings.extend(roster_target_findings(conn, roster_id, result))
    if result.year and result.year != ws.year:
        from ..judge.findings import ERROR, Finding
        result.findings.append(Finding("year-mismatch", ERROR, f"表中年度为 {result.year}，本次自评年度为 {ws.year}",
                                       result.path))
    return roster_id, matched_by


def status_of(result: CheckResult, roster_id: int | None) -> str:
    if not result.readable or result.form is None:
        return "unreadable"
    if roster_id is None:
        return "unmatched"
    return "errors" if result.errors else "valid"


# How a stored file is checked: (path, original name, mail sender) → result. `xlperf serve`
# passes one that runs the same `check` in a bounded worker process.
CheckRunner = Callable[[Path, str, str], CheckResult]


def assess(ws: Workspace, conn, path: Path, name: str, sender: str = "", *,
           run_check: CheckRunner | None = None,
           checker: BoundedChecker | None = None) -> tuple[CheckResult, int | None, str | None, str]:
    """Read, validate and match one file against the workspace's roster and key, recording
    nothing: `collect` records this verdict, `check` in a workspace prints the same one.

    The file is judged in a child process under the per-file time budget, so a file that
    hangs or kills its reader comes back as `check-timeout` / `reader-crashed`.
    """
    if run_check is None:
        emails = EmailBook({(r["unit_code"], r["project_code"]): r["email"]     # plain data: it goes to the worker
                            for r in db.roster_rows(conn, include_inactive=True)})
        extra = [verifier(ws.secret, sender_emails=emails, received_from=sender)]
        kwargs = dict(form_hint=ws.form, extra=extra, display_name=name)
        result = checker.check(path, **kwargs) if checker is not None else check_bounded(path, **kwargs)
    else:
        result = run_check(path, name, sender)
    roster_id, matched_by = workspace_findings(ws, conn, result)
    return result, roster_id, matched_by, status_of(result, roster_id)


def judge(ws: Workspace, conn, sha: str, path: Path, name: str, received_at: str,
          sender: str = "", *, run_check: CheckRunner | None = None,
          accept: Callable[[int | None], bool] | None = None,
          checker: BoundedChecker | None = None) -> tuple[CheckResult, str]:
    """Assess one stored file and record the verdict; a file judged once is never judged again.

    `accept(roster_id)` may withhold the verdict (status "withheld", nothing
    recorded): the upload page uses it so that a unit can never file a return
    under another unit's roster row.
    """
    result, roster_id, matched_by, status = assess(ws, conn, path, name, sender, run_check=run_check, checker=checker)
    if accept is not None and not accept(roster_id):
        return result, "withheld"
    summary = json.dumps(result_json(result), ensure_ascii=False, default=str)
    db.upsert_return(conn, sha, roster_id, matched_by, status, result.errors, result.warnings, result.total_score,
                     result.grade, result.funds.get("budget"), result.funds.get("spent"), received_at, summary,
                     result.findings)
    return result, status


KIND_ZH = {".png": "图片", ".jpg": "图片", ".jpeg": "图片", ".gif": "图片", ".bmp": "图片", ".tif": "图片",
           ".tiff": "图片", ".heic": "图片", ".webp": "图片", ".txt": "文本文件", ".pdf": "PDF 文件",
           ".doc": "Word 文档", ".docx": "Word 文档", ".wps": "WPS 文字文档", ".rtf": "文档", ".ppt": "演示文稿",
           ".pptx": "演示文稿", ".p7s": "数字签名", ".asc": "签名", ".sig": "签名", ".eml": "邮件", ".ics": "日程",
           ".vcf": "名片", ".htm": "网页", ".html": "网页"}


def set_aside_reason(name: str, path: Path) -> str:
    """Why a received file is kept but not judged ('' when it should be judged as a return):
    a file neither named nor built like a spreadsheet (a picture, a text, a Word file, a
    signature), also when its bytes are damaged."""
    if name.lower().endswith(SPREADSHEET_SUFFIXES):
        return ""
    suffix = Path(name).suffix.lower()
    try:
        sniff(path)
        return ""                      # a workbook under any name is judged
    except UnreadableFile as exc:
        if exc.code != "not-a-spreadsheet" and suffix not in KIND_ZH:
            return ""                  # a damaged or encrypted workbook is still a return: judged and reported
    kind = KIND_ZH.get(suffix) or (f"{suffix} 文件" if suffix else "无扩展名的文件")
    return f"不是表格文件（{kind}），已存档，未作为自评表处理"


@dataclass
class Received:
    """What happened to one incoming file."""
    sha: str
    duplicate: bool                       # these bytes were judged before: `previous` is that verdict
    previous: object = None               # the existing `returns` row of a duplicate
    result: CheckResult | None = None     # the fresh check result (not for duplicates)
    status: str = ""                      # valid | errors | unreadable | unmatched | withheld | set-aside
    set_aside: str = ""                   # why it was kept but not judged (not a spreadsheet)


def receive(ws: Workspace, conn, item: Incoming, *, run_check: CheckRunner | None = None,
            accept: Callable[[int | None], bool] | None = None, checker: BoundedChecker | None = None) -> Received:
    """Store → record the arrival → judge once per content → record the verdict.

    The one path every returned file takes, from a folder, a zip, IMAP or the
    upload page, so that all of them get the same findings and supersession.
    """
    sha, path, is_new = store.put(ws.store_dir, item.data)    # 1. never lose it
    received_at = db.utc_iso()
    aside = set_aside_reason(item.name, path)
    try:
        with db.transaction(conn):                            # 2. record the arrival
            db.record_file(conn, sha, len(item.data), item.name, received_at)
            db.record_receipt(conn, sha, item.name, item.source, item.ref, received_at,
                              sender=item.sender, set_aside=aside)
    except sqlite3.Error:
        if is_new:      # nothing half-written: no stored file the ledger does not know
            store.discard(ws.store_dir, sha)
        raise
    if aside:                                                 # a photo, a .txt, a signature: kept, listed
        return Received(sha, False, status="set-aside", set_aside=aside)
    previous = db.return_by_sha(conn, sha)
    if previous is not None:                                  # 3. judge once per content
        return Received(sha, True, previous)
    first = db.receipts_for(conn, sha)
    arrived = min((r["received_at"] for r in first), default=received_at)
    result, status = judge(ws, conn, sha, path, item.name, arrived, item.sender, run_check=run_check, accept=accept,
                           checker=checker)
    return Received(sha, False, None, result, status)


def ingest(ws: Workspace, items: Iterable[Incoming] | None = None, *, imap: bool = False,
           progress: Callable[[str], None] | None = None) -> CollectReport:
    """Store, record and judge each item; one bad item is reported and the run goes on.

    Runs under the workspace lock (a second run says so and stops). A store or
    ledger that cannot be written (read-only, disk full) stops the run with one
    message naming the path, leaving no stored file the ledger does not know.
    """
    report = CollectReport()
    with workspace_lock(ws.root), BoundedChecker() as checker:
        store.clean_stale(ws.store_dir)
        conn = _connect(ws)
        try:
            def handle(item: Incoming) -> None:
                try:
                    got = receive(ws, conn, item, checker=checker)
                    if got.set_aside:
                        report.skipped.append(item.name)
                    elif got.duplicate:
                        report.duplicates.append(item.name)
                    else:
                        (report.unmatched if got.status == "unmatched" else report.new).append(item.name)
                except (OSError, sqlite3.Error, WorkspaceError):
                    raise
                except Exception as exc:  # noqa: BLE001 — one file must not abandon the others
                    report.problems.append(f"{item.ref}：处理时发生内部错误（{type(exc).__name__}），已跳过，"
                                           "请将此文件反馈给系统管理员")
                if progress:
                    progress(item.name)

            try:
                if imap:
                    from_imap(ws, report, handle)
                for item in items or ():
                    handle(item)
            except sqlite3.Error as exc:
                raise _ledger_error(ws, exc) from None
        finally:
            conn.close()
    return report


def _connect(ws: Workspace):
    try:
        return ws.connect()
    except sqlite3.Error as exc:
        raise _ledger_error(ws, exc) from None


def _ledger_error(ws: Workspace, exc: sqlite3.Error) -> WorkspaceError:
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        why = "台账数据库是只读的（请检查文件和文件夹的写权限）"
    elif "full" in text:
        why = "磁盘已满"
    else:
        why = f"台账数据库无法写入（{exc}）"
    return WorkspaceError(f"{why}，收集已停止；已处理的文件都已完整记录，空出空间或改好权限后重新运行即可继续",
                          code="ledger-unwritable", path=str(ws.db_path))


def _looks_like_spreadsheet(data: bytes) -> bool:
    return data[:4] == b"PK\x03\x04" or data[:8] == bytes.fromhex("D0CF11E0A1B11AE1")


def sources_for(path: str, report: CollectReport) -> Iterable[Incoming]:
    p = Path(path)
    if p.is_dir():
        return from_folder(p, report)
    if p.is_file() and zipfile.is_zipfile(p) and p.suffix.lower() == ".zip":
        return from_zip(p, str(p.resolve()), report)
    if p.is_file():
        item = _from_file(p, report.problems)
        return [item] if item is not None else []
    from ..errors import XlperfError
    raise XlperfError(f"找不到要收集的文件或文件夹：{path}", code="collect-source-missing")


def collect(ws: Workspace, source: str, *, progress: Callable[[str], None] | None = None) -> CollectReport:
    """`source` is a folder, a .zip, a single file, or the word "imap"."""
    if source == "imap":
        return ingest(ws, imap=True, progress=progress)
    report = CollectReport()
    sub = ingest(ws, sources_for(source, report), progress=progress)
    sub.problems[:0] = report.problems
    return sub
