"""E-mail each unit its workbooks, and remind the missing and invalid ones.

Every message is recorded per roster row and batch before the next one is
sent, so a run that fails half-way resumes without mailing anyone twice.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import db, store
from .mail import MailSettings, Sender, build_message, write_eml
from .status import Pending, compute_status
from .workspace import Workspace

SEND_BATCH = "initial"


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)        # e-mail addresses
    skipped: list[str] = field(default_factory=list)     # already sent in this batch
    files: list[Path] = field(default_factory=list)      # .eml written in dry-run mode
    failed: list[str] = field(default_factory=list)


def _deadline(ws: Workspace) -> str:
    return f"{ws.deadline}前" if ws.deadline else "规定时间内"


def _title(ws: Workspace) -> str:
    return ws.title or "项目支出绩效自评"


def invitation_body(ws: Workspace, unit_name: str, projects: list[str]) -> str:
    lines = "\n".join(f"  {i}. {p}" for i, p in enumerate(projects, 1))
    return (f"{unit_name}：\n\n"
            f"现将{ws.year}年度项目支出绩效目标自评表发给你单位，请按附件逐项填写：\n{lines}\n\n"
            f"填写说明：\n"
            f"  1. 请直接在附件表格中填写黄色单元格，表头、预算数和批复的绩效目标已预填并锁定，请勿修改；\n"
            f"  2. 可用 Excel 或 WPS 打开填写，三级指标可插入行；\n"
            f"  3. 得分低于分值的指标，须填写偏差原因及改进措施；\n"
            f"  4. 填好后请于{_deadline(ws)}直接回复本邮件，将表格作为附件发回（请勿改文件格式、勿加密）。\n\n"
            f"如有疑问请与我们联系。\n")


def _deliver(ws: Workspace, conn, groups: dict[str, list], compose, *, kind: str, batch: str, dry_run: bool,
             sender_factory, report: SendReport) -> None:
    """One message per address; each is recorded per roster row before the next is sent.

    `compose(address, items)` returns (subject, body, attachments, roster_ids).
    """
    settings = MailSettings.from_dict(ws.mail)
    sender = None if dry_run else sender_factory(settings)
    try:
        for address, items in groups.items():
            subject, body, attachments, roster_ids = compose(address, items)
            msg = build_message(sender=settings.sender or settings.smtp_user, to=address, subject=subject,
                                body=body, attachments=attachments)
            try:
                if dry_run:
                    path = write_eml(msg, ws.sent_dir)
                    report.files.append(path)
                    message_id = msg["Message-ID"] or path.name
                else:
                    message_id = sender.send(msg)
            except Exception as exc:  # noqa: BLE001 — keep going; it is not recorded, so the next run retries it
                report.failed.append(f"{address}：{exc}")
                continue
            with db.transaction(conn):
                for rid in roster_ids:
                    db.record_sent(conn, rid, kind, batch, message_id, address)
            report.sent.append(address)
    finally:
        if sender is not None:
            sender.close()


def send(ws: Workspace, *, dry_run: bool = False, batch: str = SEND_BATCH, sender_factory=Sender) -> SendReport:
    """One message per e-mail address with all of its units' workbooks."""
    report = SendReport()
    conn = ws.connect()
    try:
        groups: dict[str, list] = defaultdict(list)
        for r in db.roster_rows(conn):
            gen = db.generated_for(conn, r["id"])
            if gen is None:
                continue
            if db.was_sent(conn, r["id"], "send", batch):
                report.skipped.append(r["email"])
                continue
            groups[r["email"]].append((r, Path(gen["path"])))

        def compose(address, items):
            unit = items[0][0]["unit_name"]
            return (f"【请填报】{ws.year}年度项目支出绩效目标自评表（{unit}）",
                    invitation_body(ws, unit, [r["project_name"] for r, _ in items]),
                    [p for _, p in items], [r["id"] for r, _ in items])

        _deliver(ws, conn, groups, compose, kind="send", batch=batch, dry_run=dry_run,
                 sender_factory=sender_factory, report=report)
    finally:
        conn.close()
    return report


def reminder_body(ws: Workspace, unit_name: str, items: list[tuple[Pending, list]]) -> str:
    parts = [f"{unit_name}：\n\n以下{ws.year}年度项目支出绩效目标自评表尚未完成，请于{_deadline(ws)}处理：\n"]
    for p, findings in items:
        if p.reason == "未提交":
            parts.append(f"■ {p.project_name}：尚未收到自评表，请尽快填写并回复本邮件提交。")
        else:
            parts.append(f"■ {p.project_name}：已收到的自评表有 {p.errors} 个错误，请按附件中的反馈表（已标出问题单元格）修改后重新提交：")
            parts.extend(f"    - {f.message}" for f in findings if f.severity == "error")
    return "\n".join(parts) + "\n\n谢谢配合。\n"


def remind(ws: Workspace, *, dry_run: bool = False, batch: str | None = None, sender_factory=Sender) -> SendReport:
    """Missing units get a reminder; units whose return has errors also get its feedback copy."""
    from .report import result_from_json
    from .write.feedback import write_feedback
    batch = batch or dt.date.today().isoformat()
    report = SendReport()
    conn = ws.connect()
    try:
        groups: dict[str, list] = defaultdict(list)
        for p in compute_status(conn).pending:
            if not p.email or db.was_sent(conn, p.roster_id, "remind", batch):
                report.skipped.append(p.email)
                continue
            groups[p.email].append(p)

        def compose(address, pend):
            items, attachments = [], []
            for p in pend:
                items.append((p, db.findings_for(conn, p.return_id) if p.return_id else []))
                if p.sha256:
                    # The ledger's verdict, signature checks included: the copy shows what the mail says.
                    src = store.path_for(ws.store_dir, p.sha256)
                    name = next((r["original_name"] for r in db.receipts_for(conn, p.sha256)), src.name)
                    ret = db.return_by_sha(conn, p.sha256)
                    result = result_from_json(json.loads(ret["summary_json"] or "{}"), db.findings_for(conn, ret["id"]))
                    attachments.append(write_feedback(src, result, ws.feedback_dir / p.sha256[:12],
                                                      f"{Path(name).stem}_反馈.xlsx"))
            return (f"【催报】{ws.year}年度项目支出绩效目标自评表（{pend[0].unit_name}）",
                    reminder_body(ws, pend[0].unit_name, items), attachments, [p.roster_id for p in pend])

        _deliver(ws, conn, groups, compose, kind="remind", batch=batch, dry_run=dry_run,
                 sender_factory=sender_factory, report=report)
    finally:
        conn.close()
    return report
