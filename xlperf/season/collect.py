"""Ingest returns from a folder, a zip or an IMAP mailbox into the workspace.

Order matters for never losing a file: each file is first stored by its
SHA-256 (atomic, never overwritten), then its arrival is recorded, and only
then is it read, validated and matched to the roster. A run killed at any
point is completed by the next run: what decides whether a file still needs
judging is the absence of its `returns` row, not of its receipt.
"""
from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from . import db, store
from ..judge.check import CheckResult, check
from ..errors import UnreadableFile
from ..read.detect import SPREADSHEET_SUFFIXES, sniff
from ..judge.identity import verifier
from ..form.labels import norm
from ..judge.serialize import result_json
from .workspace import Workspace

MAX_MEMBER = 50_000_000     # bytes; a zip member larger than this is refused (decompression bomb)
MAX_MEMBERS = 5000


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
    """Member names written by Windows tools are GBK without the UTF-8 flag; Python reads them as cp437."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for enc in ("utf-8", "gb18030"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return info.filename


def from_zip(path: Path, ref_prefix: str = "", report: CollectReport | None = None) -> Iterator[Incoming]:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()][:MAX_MEMBERS]
            for info in infos:
                name = zip_member_name(info)
                base = Path(name).name
                if base.startswith(("~$", ".")) or "__MACOSX" in name:
                    continue
                if info.file_size > MAX_MEMBER:
                    if report is not None:
                        report.problems.append(f"{path.name}：{name} 解压后过大，已跳过")
                    continue
                data = zf.read(info)
                ref = f"{ref_prefix or path}!{name}"
                if base.lower().endswith(".zip"):
                    with tempfile.TemporaryDirectory() as tmp:
                        inner = Path(tmp) / "inner.zip"
                        inner.write_bytes(data)
                        yield from from_zip(inner, ref, report)
                    continue
                yield Incoming(base, data, "zip", ref)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        if report is not None:
            report.problems.append(f"{path.name}：压缩包损坏，无法解压（{exc}）")


def from_folder(folder: Path, report: CollectReport | None = None) -> Iterator[Incoming]:
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name.startswith(("~$", ".")):
            continue
        if path.suffix.lower() == ".zip":
            yield from from_zip(path, str(path), report)
        else:
            yield Incoming(path.name, path.read_bytes(), "folder", str(path.resolve()))


def from_imap(ws: Workspace, report: CollectReport, handle: Callable[[Incoming], None]) -> None:
    """Attachments of unread messages; a message is marked read only after its files were stored."""
    from .inbox import fetch_attachments
    from .mail import MailSettings
    settings = MailSettings.from_dict(ws.mail)

    def store_attachment(att) -> None:
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
    """By the signed identity first, else by the 实施单位 / 项目名称 labels."""
    ident = result.identity or {}
    if ident.get("unit_code") and ident.get("project_code"):
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
           run_check: CheckRunner | None = None) -> tuple[CheckResult, int | None, str | None, str]:
    """Read, validate and match one file against the workspace's roster and key, recording
    nothing: `collect` records this verdict, `check` in a workspace prints the same one."""
    def sender_email(unit_code: str, project_code: str) -> str | None:
        rid = db.roster_id_for(conn, unit_code, project_code)
        row = db.roster_row(conn, rid) if rid else None
        return row["email"] if row else None

    if run_check is None:
        extra = [verifier(ws.secret, sender_emails=sender_email, received_from=sender)]
        result = check(path, form_hint=ws.form, extra=extra, display_name=name)
    else:
        result = run_check(path, name, sender)
    roster_id, matched_by = match_roster(conn, result)
    if matched_by == "labels":   # no signature to rely on: compare with the approved targets directly
        result.findings.extend(roster_target_findings(conn, roster_id, result))
    if result.year and result.year != ws.year:
        from ..judge.findings import ERROR, Finding
        result.findings.append(Finding("year-mismatch", ERROR, f"表中年度为 {result.year}，本次自评年度为 {ws.year}", name))
    return result, roster_id, matched_by, status_of(result, roster_id)


def judge(ws: Workspace, conn, sha: str, path: Path, name: str, received_at: str,
          sender: str = "", *, run_check: CheckRunner | None = None,
          accept: Callable[[int | None], bool] | None = None) -> tuple[CheckResult, str]:
    """Assess one stored file and record the verdict.

    `accept(roster_id)` may withhold the verdict (status "withheld", nothing
    recorded): the upload page uses it so that a unit can never file a return
    under another unit's roster row.
    """
    result, roster_id, matched_by, status = assess(ws, conn, path, name, sender, run_check=run_check)
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
            accept: Callable[[int | None], bool] | None = None) -> Received:
    """Store → record the arrival → judge once per content → record the verdict.

    The one path every returned file takes, from a folder, a zip, IMAP or the
    upload page, so that all of them get the same findings and supersession.
    """
    sha, path, _ = store.put(ws.store_dir, item.data)         # 1. never lose it
    received_at = db.utc_iso()
    aside = set_aside_reason(item.name, path)
    with db.transaction(conn):                                # 2. record the arrival
        db.record_file(conn, sha, len(item.data), item.name, received_at)
        db.record_receipt(conn, sha, item.name, item.source, item.ref, received_at,
                          sender=item.sender, set_aside=aside)
    if aside:                                                 # a photo, a .txt, a signature: kept, listed
        return Received(sha, False, status="set-aside", set_aside=aside)
    previous = db.return_by_sha(conn, sha)
    if previous is not None:                                  # 3. judge once per content
        return Received(sha, True, previous)
    first = db.receipts_for(conn, sha)
    arrived = min((r["received_at"] for r in first), default=received_at)
    result, status = judge(ws, conn, sha, path, item.name, arrived, item.sender, run_check=run_check, accept=accept)
    return Received(sha, False, None, result, status)


def ingest(ws: Workspace, items: Iterable[Incoming] | None = None, *, imap: bool = False,
           progress: Callable[[str], None] | None = None) -> CollectReport:
    report = CollectReport()
    conn = ws.connect()
    try:
        def handle(item: Incoming) -> None:
            got = receive(ws, conn, item)
            if got.set_aside:
                report.skipped.append(item.name)
                return
            if got.duplicate:
                report.duplicates.append(item.name)
                return
            (report.unmatched if got.status == "unmatched" else report.new).append(item.name)
            if progress:
                progress(item.name)

        if imap:
            from_imap(ws, report, handle)
        for item in items or ():
            handle(item)
    finally:
        conn.close()
    return report


def sources_for(path: str, report: CollectReport) -> Iterable[Incoming]:
    p = Path(path)
    if p.is_dir():
        return from_folder(p, report)
    if p.is_file() and zipfile.is_zipfile(p) and p.suffix.lower() == ".zip":
        return from_zip(p, str(p.resolve()), report)
    if p.is_file():
        return [Incoming(p.name, p.read_bytes(), "folder", str(p.resolve()))]
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
