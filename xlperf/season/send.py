"""E-mail each unit its workbooks (the delivery loop is shared with remind.py).

Every message is recorded per roster row and batch before the next one is
sent, so a run that fails half-way resumes without mailing anyone twice.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from . import db
from .mail import MailSettings, Sender, build_message, write_eml
from .weblink import link_note, unit_link
from .workspace import Workspace

SEND_BATCH = "initial"


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)        # e-mail addresses
    skipped: list[str] = field(default_factory=list)     # already sent in this batch
    files: list[Path] = field(default_factory=list)      # .eml written in dry-run mode
    failed: list[str] = field(default_factory=list)


def deadline_text(ws: Workspace) -> str:
    return f"{ws.deadline}前" if ws.deadline else "规定时间内"


def _title(ws: Workspace) -> str:
    return ws.title or "项目支出绩效自评"


def invitation_body(ws: Workspace, unit_name: str, projects: list[str], link: str = "") -> str:
    lines = "\n".join(f"  {i}. {p}" for i, p in enumerate(projects, 1))
    web = f"  5. {link_note(link)}\n" if link else ""
    return (f"{unit_name}：\n\n"
            f"现将{ws.year}年度项目支出绩效目标自评表发给你单位，请按附件逐项填写：\n{lines}\n\n"
            f"填写说明：\n"
            f"  1. 请直接在附件表格中填写黄色单元格，表头、预算数和批复的绩效目标已预填并锁定，请勿修改；\n"
            f"  2. 可用 Excel 或 WPS 打开填写，三级指标可插入行；\n"
            f"  3. 得分低于分值的指标，须填写偏差原因及改进措施；\n"
            f"  4. 填好后请于{deadline_text(ws)}直接回复本邮件，将表格作为附件发回（请勿改文件格式、勿加密）。\n"
            f"{web}\n"
            f"如有疑问请与我们联系。\n")


def deliver(ws: Workspace, conn, groups: dict[str, list], compose, *, kind: str, batch: str, dry_run: bool,
             sender_factory, report: SendReport) -> None:
    """One message per address; each is recorded per roster row before the next is sent.

    `compose(address, items)` returns (subject, body, attachments, roster_ids).
    """
    settings = MailSettings.from_dict(ws.mail)
    sender = None if dry_run else sender_factory(settings)
    try:
        for address, items in groups.items():
            try:
                subject, body, attachments, roster_ids = compose(address, items)
                msg = build_message(sender=settings.sender or settings.smtp_user, to=address, subject=subject,
                                    body=body, attachments=attachments)
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
                    invitation_body(ws, unit, [r["project_name"] for r, _ in items],
                                    unit_link(ws, conn, items[0][0]["unit_code"])),
                    [p for _, p in items], [r["id"] for r, _ in items])

        deliver(ws, conn, groups, compose, kind="send", batch=batch, dry_run=dry_run,
                 sender_factory=sender_factory, report=report)
    finally:
        conn.close()
    return report
