"""Remind the units still missing, and send back each return with errors marked.

Shares send.py's delivery loop, so reminders too are recorded per roster row
and batch, and a run that fails half-way mails nobody twice. A unit that has
not returned gets its pre-filled workbook again: the first mail is often lost.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path

from ..judge.correction import write_correction
from ..judge.serialize import result_from_json
from . import db, store
from .generate import correction_inputs
from .mail import Sender
from .send import SendReport, contact_text, deadline_text, deliver
from .status import Pending, compute_status
from .weblink import link_note, unit_link
from .workspace import Workspace


def reminder_body(ws: Workspace, unit_name: str, items: list[tuple[Pending, list]], link: str = "") -> str:
    parts = [f"{unit_name}：\n\n以下{ws.year}年度项目支出绩效目标自评表尚未完成，请于{deadline_text(ws)}处理：\n"]
    for p, findings in items:
        if p.reason == "未提交":
            parts.append(f"■ {p.project_name}：尚未收到自评表，现再次附上预填的自评表，请填写后回复本邮件提交。")
        else:
            parts.append(f"■ {p.project_name}：已收到的自评表有 {p.errors} 个错误，请在附件中的更正表（已保留您填写的内容并标出问题单元格）中修改后重新提交：")
            parts.extend(f"    - {f.message}" for f in findings if f.severity == "error")
    if link:
        parts.append(f"\n{link_note(link)}")
    return "\n".join(parts) + f"\n\n{contact_text(ws)}谢谢配合。\n"


def _correction_copy(ws: Workspace, conn, p: Pending) -> Path:
    """A fresh, protected, signed form carrying what the unit typed, with the ledger's verdict marked
    (signature checks included: the copy shows what the mail says)."""
    src = store.path_for(ws.store_dir, p.sha256)
    name = next((r["original_name"] for r in db.receipts_for(conn, p.sha256)), src.name)
    ret = db.return_by_sha(conn, p.sha256)
    result = result_from_json(json.loads(ret["summary_json"] or "{}"), db.findings_for(conn, ret["id"]))
    return write_correction(src, result, ws.feedback_dir / p.sha256[:12], f"{Path(name).stem}_更正.xlsx",
                            **correction_inputs(ws, conn, p.roster_id))

def _why(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text if len(text) <= 60 else text[:57] + "…"


def remind(ws: Workspace, *, dry_run: bool = False, batch: str | None = None, sender_factory=Sender) -> SendReport:
    """Missing units get a reminder; units whose return has errors also get its feedback copy."""
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
            items, attachments, missing = [], [], []
            for p in pend:
                items.append((p, db.findings_for(conn, p.return_id) if p.return_id else []))
                gen = db.generated_for(conn, p.roster_id)
                if not p.sha256 and gen is not None and Path(gen["path"]).exists():
                    attachments.append(Path(gen["path"]))        # the pre-filled workbook, again
                if p.sha256:
                    try:
                        attachments.append(_correction_copy(ws, conn, p))
                    except Exception as exc:  # noqa: BLE001 — one return's copy must not stop everyone's mail
                        missing.append(p.project_name)
                        report.failed.append(f"{p.unit_name}《{p.project_name}》：更正表未能生成（{_why(exc)}），"
                                             "催报邮件照发，但未附更正表")
            body = reminder_body(ws, pend[0].unit_name, items, unit_link(ws, conn, pend[0].unit_code))
            if missing:
                body += "\n（" + "、".join(missing) + " 的更正表未能生成，请按上面列出的问题修改。）\n"
            return (f"【催报】{ws.year}年度项目支出绩效目标自评表（{pend[0].unit_name}）",
                    body, attachments, [(p.roster_id, batch, "") for p in pend])

        deliver(ws, conn, groups, compose, kind="remind", dry_run=dry_run, sender_factory=sender_factory, report=report)
    finally:
        conn.close()
    return report
