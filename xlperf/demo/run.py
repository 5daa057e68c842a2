"""`xlperf demo`: the whole yearly story on built-in sample data, no mail server.

A sample province roster → pre-filled locked workbooks → invitations (as .eml
files) → simulated county returns (some late, some wrong, some missing) →
collect → status → reminders with feedback → corrected returns → collect →
province summary workbook and exports.
"""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from rich.console import Console

from ..season.collect import collect
from ..season.generate import generate
from ..season.roster import load_roster, save_roster
from ..season.roster_sample import sample_roster
from ..season.roster_template import write_roster_template
from ..season.remind import remind
from ..season.send import send
from .simulate import fill_return
from ..form.spec import load_form
from ..season.status import compute_status
from ..season.workspace import init_workspace, save_config

YEAR = 2024
DEMO_URL = "http://127.0.0.1:8000"


def _fresh(base: Path) -> Path:
    path, i = base, 2
    while path.exists() and any(path.iterdir()):
        path = base.with_name(f"{base.name}-{i}")
        i += 1
    return path


def run_demo(outdir: Path, console: Console | None = None) -> Path:
    """Run the story in a new folder; returns the summary workbook's path."""
    say = (console or Console()).print
    root = _fresh(outdir)
    say(f"[bold]xlperf 演示[/bold]：工作区 {root}")
    ws = init_workspace(root, year=YEAR, form="project-county", title="湖南省2024年度医保项目支出绩效自评（演示）",
                        deadline="2025-03-31")
    ws.config["web"] = {**ws.web, "base_url": DEMO_URL}     # links to `xlperf serve` in workbooks and mails
    save_config(ws)
    spec = load_form(ws.form)

    rows = sample_roster(n_cities=3, counties_per_city=3, projects=2, seed=7)
    roster_path = write_roster_template(root / "名单.xlsx", rows)
    loaded = load_roster(roster_path, level1_weights=spec.level1_weights(), level2_by_level1=spec.level2_by_level1())
    conn = ws.connect()
    save_roster(conn, loaded)
    conn.close()
    say(f"1. 名单：{len(loaded)} 个单位项目（{roster_path.name}）")

    gen = generate(ws)
    say(f"2. 生成预填、锁定、签名的自评表 {len(gen.written)} 个 → {ws.outbox}")
    sent = send(ws, dry_run=True)
    say(f"3. 通知邮件 {len(sent.sent)} 封（演示不连邮件服务器，写为 .eml）→ {ws.sent_dir}")

    first, late = root / "回收-第一批", root / "回收-第二批"
    first.mkdir()
    late.mkdir()
    files = sorted(ws.outbox.glob("*.xlsx"))
    wrong, missing, late_ones = {}, [], []
    for i, path in enumerate(files):
        if i % 8 == 5:
            missing.append(path)                       # never returned
            continue
        target = first if i % 6 != 4 else late
        if target is late:
            late_ones.append(path)
        mistakes = ("score-above-weight", "no-reason") if i % 5 == 2 else ("typed-rate",) if i % 7 == 3 else ()
        fill_return(path, target / path.name, seed=i, spent_share=0.86 if i % 4 == 1 else None, mistakes=mistakes)
        if mistakes:
            wrong[path] = i
    say(f"4. 各县填报：按时 {len(list(first.iterdir()))} 份（其中 {len(wrong)} 份有错），迟交 {len(late_ones)} 份，"
        f"未交 {len(missing)} 份")

    rep = collect(ws, str(first))
    say(f"5. 收集第一批（文件夹）：新收到 {len(rep.new)} 份")
    _status(ws, say)
    rem = remind(ws, dry_run=True)
    say(f"6. 催报：{len(rem.sent)} 封催报邮件（有错误的附更正表：重新生成、已填内容保留、问题单元格标注说明）→ {ws.sent_dir}、{ws.feedback_dir}")

    for path, i in wrong.items():                      # the counties correct their forms
        fill_return(path, late / path.name, seed=i)
    bundle = root / "回收-第二批.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        for p in sorted(late.iterdir()):
            zf.write(p, p.name)
    rep = collect(ws, str(bundle))
    say(f"7. 收集第二批（压缩包，含更正后的重报）：新收到 {len(rep.new)} 份，旧版本保留在历史记录中")
    st = _status(ws, say)

    summary = _aggregate(ws, say)
    _reports(ws, say)
    say(f"[bold green]完成。[/bold green] 汇总表：{summary}")
    say(f"   仍未提交或有错误：{len(st.pending)} 个单位项目；全部收到的文件都保存在 {ws.store_dir}")
    _web_hint(ws, say)
    return summary


def _web_hint(ws, say) -> None:
    """How to open the upload page (xlperf serve) on this workspace."""
    from ..season import db
    from ..season.weblink import unit_link
    conn = ws.connect()
    try:
        first = db.roster_rows(conn)[0]
        link = unit_link(ws, conn, first["unit_code"])
    finally:
        conn.close()
    say("10. 网页提交：在演示工作区中设置局端密码并启动网页：", soft_wrap=True)
    say(f"   cd {ws.root} && xlperf serve --set-password && xlperf serve", soft_wrap=True)
    say(f"   局端（回收情况）：{DEMO_URL}/admin    各单位的专用链接：xlperf link", soft_wrap=True)
    say(f"   例如 {first['unit_name']}：{link}", soft_wrap=True)


def _status(ws, say):
    conn = ws.connect()
    try:
        st = compute_status(conn)
    finally:
        conn.close()
    o = st.overall
    say(f"   回收情况：应报 {o.expected}，已报 {o.returned}，合格 {o.valid}，有错误 {o.errors}，未报 {o.missing}")
    return st


def _aggregate(ws, say) -> Path:
    from ..province.workspace import aggregate_workspace
    out = ws.reports_dir / f"{ws.year}年度自评汇总表.xlsx"
    aggregate_workspace(ws, out, csv_dir=ws.reports_dir / "csv")
    say(f"8. 全省汇总：{out}（CSV 导出：{ws.reports_dir / 'csv'}）")
    return out


def _reports(ws, say) -> None:
    """The written reports: the province's analysis and one unit's draft."""
    from ..report.workspace import draft_province, draft_unit
    from ..season import db
    report, _, _ = draft_province(ws)
    conn = ws.connect()
    try:
        first = next(r for r in db.latest_returns(conn) if r["status"] == "valid")
    finally:
        conn.close()
    unit = draft_unit(ws, first["unit_code"], first["project_code"]).written[0]
    say("9. 起草报告（.docx，黄色底纹处待补充）：")
    say(f"   汇总分析报告：{report}", soft_wrap=True)
    say(f"   自评报告（示例）：{unit}", soft_wrap=True)


def remove_demo(path: Path) -> None:  # pragma: no cover - a convenience for people trying it twice
    shutil.rmtree(path)
