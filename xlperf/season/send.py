"""E-mail each unit its workbooks (the delivery loop is shared with remind.py).

Every message is recorded per roster row and batch before the next one is
sent, so a run that fails half-way resumes without mailing anyone twice. A
dry run only previews (.eml files) and records nothing. Each invitation
records the workbook it carried (kept under sent/workbooks/): a workbook
regenerated after a roster change is sent again as a 更正版 that says what
changed, and `resend` mails chosen units again on request.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import XlperfError
from ..judge.compare import Change, compare_files
from . import db, store
from .mail import MailError, MailSettings, Sender, build_message, check_sender, write_eml
from .weblink import link_note, unit_link
from .workspace import Workspace

SEND_BATCH = "initial"


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)        # e-mail addresses
    skipped: list[str] = field(default_factory=list)     # already sent in this batch
    files: list[Path] = field(default_factory=list)      # .eml written in dry-run mode
    failed: list[str] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)   # addresses that got a 更正版
    layout_only: list[str] = field(default_factory=list)  # "unit · project" regenerated with the same content


@dataclass
class Outgoing:
    """One roster row's part of a message: what to attach and how to record it."""

    row: object                          # the roster row (sqlite3.Row)
    path: Path
    batch: str
    why: str = "new"                     # new | update | resend | readdress
    changes: list[Change] = field(default_factory=list)
    previous_to: str = ""                # where the last invitation went, for readdress


def deadline_text(ws: Workspace) -> str:
    return f"{ws.deadline}前" if ws.deadline else "规定时间内"


def contact_text(ws: Workspace) -> str:
    """The closing line, with the contact person and phone from xlperf.yaml when given."""
    name = str(ws.mail.get("contact_name") or "").strip()
    phone = str(ws.mail.get("contact_phone") or "").strip()
    if name and phone:
        return f"如有疑问请联系：{name}，电话 {phone}。"
    if name or phone:
        return f"如有疑问请联系：{name or ''}{'电话 ' + phone if phone else ''}。"
    return "如有疑问请与我们联系。"


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
            f"{contact_text(ws)}\n")


def change_lines(out: Outgoing, limit: int = 12) -> list[str]:
    """What a 更正版 or a re-sent copy says about itself, one line per changed field."""
    name = out.row["project_name"]
    if out.why == "readdress":
        return [f"  ■ {name}：名单中的收件邮箱已更正为本邮箱（此前发至 {out.previous_to}），现重新发送，内容与上次相同。"]
    if out.why == "resend" and not out.changes:
        return [f"  ■ {name}：应你单位要求重新发送，内容与上次相同。"]
    if not out.changes:
        return [f"  ■ {name}：表格已重新生成，请以本次附件为准。"]
    shown = [f"    - {c.describe()}" for c in out.changes[:limit]]
    if len(out.changes) > limit:
        shown.append(f"    - 另有 {len(out.changes) - limit} 处改动")
    return [f"  ■ {name}：以下预填内容已更正："] + shown


def correction_body(ws: Workspace, unit_name: str, items: list[Outgoing], link: str = "") -> str:
    again = [o for o in items if o.why != "new"]
    parts = [f"{unit_name}：\n",
             f"现将{ws.year}年度项目支出绩效目标自评表的更正版发给你单位。此前发送的表格中有以下改动，"
             f"请以本次附件为准填写（如已用旧表填写，请把已填内容转填到新表）：",
             *[line for o in again for line in change_lines(o)]]
    new = [o for o in items if o.why == "new"]
    if new:
        parts.append("另附新增的项目：" + "、".join(o.row["project_name"] for o in new) + "。")
    parts.append(f"\n填好后请于{deadline_text(ws)}直接回复本邮件，将表格作为附件发回（请勿改文件格式、勿加密）。"
                 + (f"\n{link_note(link)}" if link else "") + f"\n\n{contact_text(ws)}")
    return "\n".join(parts) + "\n"


def deliver(ws: Workspace, conn, groups: dict[str, list], compose, *, kind: str, dry_run: bool,
            sender_factory, report: SendReport) -> None:
    """One message per address; each is recorded per roster row before the next is sent.

    `compose(address, items)` returns (subject, body, attachments, records) where
    records are (roster_id, batch, sha256 of the workbook carried or ""). A dry run
    writes .eml files and records nothing. The sender address is checked and the
    server connected before the first message, so a bad setting is one clear error.
    """
    if not groups:
        return
    settings = MailSettings.from_dict(ws.mail)
    from_addr = settings.sender or settings.smtp_user
    sender = None
    if not dry_run:
        check_sender(from_addr)
        sender = sender_factory(settings)
        sender.open()
    try:
        pending = list(groups.items())
        for i, (address, items) in enumerate(pending):
            try:   # composing too: one unit whose copy cannot be made must not stop the others
                subject, body, attachments, records = compose(address, items)
                msg = build_message(sender=from_addr, to=address, subject=subject, body=body, attachments=attachments)
                if dry_run:
                    report.files.append(write_eml(msg, ws.sent_dir))
                    report.sent.append(address)
                    continue
                message_id = sender.send(msg)
            except MailError as exc:
                if exc.server_down:
                    left = len(pending) - i
                    report.failed.append(f"{exc.message}；本次其余 {left} 封均未发送，请检查邮件设置后重新运行")
                    break
                report.failed.append(f"{address}：{exc.message}")
                continue
            except Exception as exc:  # noqa: BLE001 — keep going; it is not recorded, so the next run retries it
                report.failed.append(f"{address}：{exc}")
                continue
            with db.transaction(conn):
                for rid, batch, sha in records:
                    db.record_sent(conn, rid, kind, batch, message_id, address, sha=sha)
            report.sent.append(address)
    finally:
        if sender is not None:
            sender.close()


def _keep_sent_copy(ws: Workspace, path: Path) -> str:
    """Keep the exact bytes sent (sent/workbooks/), so a later correction can say what changed."""
    sha, _, _ = store.put(ws.sent_dir / "workbooks", path.read_bytes())
    return sha


def _sent_copy(ws: Workspace, sha: str) -> Path | None:
    if not sha:
        return None
    p = store.path_for(ws.sent_dir / "workbooks", sha)
    return p if p.exists() else None


def _matches(row, wanted: set[str]) -> bool:
    return bool({row["unit_code"], row["unit_name"], row["project_code"]} & wanted)


def send(ws: Workspace, *, dry_run: bool = False, resend: list[str] | tuple[str, ...] = (),
         sender_factory=Sender) -> SendReport:
    """One message per e-mail address with its units' workbooks that are new or changed since
    the last send; `resend` (unit codes or names, or project codes) mails those units again."""
    report = SendReport()
    wanted = {w.strip() for w in resend if w and w.strip()}
    conn = ws.connect()
    try:
        rows = db.roster_rows(conn)
        if wanted:
            unknown = [w for w in wanted if not any(_matches(r, {w}) for r in rows)]
            if unknown:
                raise XlperfError(f"名单中没有这些单位：{'、'.join(sorted(unknown))}（请用单位代码或单位名称）",
                                  code="send-unknown-unit")
        stamp = db.utc_iso()
        groups: dict[str, list[Outgoing]] = defaultdict(list)
        for r in rows:
            gen = db.generated_for(conn, r["id"])
            if gen is None or not Path(gen["path"]).exists():
                continue
            path = Path(gen["path"])
            sha = hashlib.sha256(path.read_bytes()).hexdigest()
            last = db.last_sent(conn, r["id"], "send")
            if wanted and not _matches(r, wanted):
                continue
            if last is None:
                out = Outgoing(r, path, SEND_BATCH)
            elif wanted:
                out = Outgoing(r, path, f"resend-{stamp}", "resend")
            elif last["sha256"] and last["sha256"] != sha:
                out = Outgoing(r, path, f"update-{sha[:16]}", "update")
            elif last["to_addr"] != r["email"]:                 # the roster's address was corrected
                out = Outgoing(r, path, f"readdress-{stamp}", "readdress", previous_to=last["to_addr"])
            else:                                               # unchanged (or sent before shas were kept)
                report.skipped.append(r["email"])
                continue
            if out.why in ("update", "resend") and last is not None:
                old = _sent_copy(ws, last["sha256"])
                changes = compare_files(old, path) if old else None
                if out.why == "update" and changes == []:
                    # Same pre-filled content in a new layout (an upgraded xlperf): a county that
                    # has started filling the old copy need not start again, so it is not mailed.
                    if last["to_addr"] == r["email"]:
                        report.layout_only.append(f"{r['unit_name']} · {r['project_name']}")
                        continue
                    out = Outgoing(r, path, f"readdress-{stamp}", "readdress", previous_to=last["to_addr"])
                out.changes = changes or []
            groups[r["email"]].append(out)

        def compose(address, items: list[Outgoing]):
            unit = items[0].row["unit_name"]
            link = unit_link(ws, conn, items[0].row["unit_code"])
            records = [(o.row["id"], o.batch, "" if dry_run else _keep_sent_copy(ws, o.path)) for o in items]
            if all(o.why == "new" for o in items):
                return (f"【请填报】{ws.year}年度项目支出绩效目标自评表（{unit}）",
                        invitation_body(ws, unit, [o.row["project_name"] for o in items], link),
                        [o.path for o in items], records)
            tag = "更正版" if any(o.why == "update" or o.changes for o in items) else "重发"
            report.corrected.append(address)
            return (f"【请填报·{tag}】{ws.year}年度项目支出绩效目标自评表（{unit}）",
                    correction_body(ws, unit, items, link), [o.path for o in items], records)

        deliver(ws, conn, groups, compose, kind="send", dry_run=dry_run, sender_factory=sender_factory, report=report)
    finally:
        conn.close()
    return report
