"""Command line: a thin layer over the Python API.

Every failure that is not a finding is an `XlperfError`; it is printed as one
Chinese line with its English code, and the exit status is 2. No tracebacks.
"""
from __future__ import annotations

import functools
import os
import secrets
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import XlperfError

console = Console()
err_console = Console(stderr=True)


def friendly(fn):
    """Turn XlperfError into one located line and exit status 2."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except XlperfError as exc:
            err_console.print(f"[red]错误[/red] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True)
            sys.exit(2)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xlperf")
def main() -> None:
    """xlperf：预算绩效自评表的生成、分发、收集、校验与汇总。"""


@main.command("forms")
@friendly
def forms_cmd() -> None:
    """列出可用的表式（templates/*.yaml）。"""
    from .form.spec import available_forms, load_form
    table = Table(title="可用表式")
    for col in ("表式代码", "名称", "标题", "版本", "文件"):
        table.add_column(col)
    for form_id, path in available_forms().items():
        spec = load_form(path)
        table.add_row(spec.id, spec.name, spec.title, str(spec.version), str(path))
    console.print(table)


def resolve_password(password: str | None) -> tuple[str, bool]:
    """The sheet password: option, then $XLPERF_PASSWORD, else a random one (never shown)."""
    if password:
        return password, False
    env = os.environ.get("XLPERF_PASSWORD")
    if env:
        return env, False
    return secrets.token_urlsafe(9), True


@main.command("template")
@click.option("--form", "form", default="project-county", show_default=True, help="表式代码，见 xlperf forms")
@click.option("--year", type=int, required=True, help="年度，例如 2024")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="输出文件 .xlsx")
@click.option("--password", default=None, help="工作表保护密码（也可用环境变量 XLPERF_PASSWORD）")
@click.option("--force", is_flag=True, help="覆盖已存在的输出文件")
@friendly
def template_cmd(form: str, year: int, output: Path, password: str | None, force: bool) -> None:
    """生成空白的、已锁定的自评表工作簿。"""
    from .form.spec import load_form
    from .form.template import TemplateOptions, write_template
    spec = load_form(form)
    if output.exists() and not force:
        raise XlperfError(f"文件已存在：{output}（如需覆盖请加 --force）", code="output-exists")
    pw, random_pw = resolve_password(password)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_template(spec, year, output, options=TemplateOptions(password=pw))
    console.print(f"已生成 {spec.title}（{year}年度）：{output}")
    if random_pw:
        console.print("未指定保护密码，已使用随机密码（不显示）。如需自行解除保护，请用 --password 指定。")


@main.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="输出一个 JSON 文档")
@click.option("--feedback", "feedback_dir", type=click.Path(file_okay=False, path_type=Path),
              help="为每个文件生成标注问题的反馈副本，写入该目录")
@click.option("--form", "form_hint", default=None, help="优先按此表式识别")
@friendly
def check_cmd(files: tuple[Path, ...], as_json: bool, feedback_dir: Path | None, form_hint: str | None) -> None:
    """校验回收的自评表。退出码：0 无错误，1 有错误，2 有文件无法读取。"""
    import json

    from .judge.check import check
    from .terminal import print_result
    results = []
    for f in _expand(files):
        res = check(f, form_hint=form_hint)
        results.append(res)
        if feedback_dir and res.readable:
            from .judge.feedback import write_feedback
            try:
                out = write_feedback(f, res, feedback_dir)
                if not as_json:
                    console.print(f"反馈副本：{out}")
            except Exception as exc:  # noqa: BLE001 — a feedback failure must not hide the check
                err_console.print(f"[yellow]无法生成反馈副本[/yellow] {f}：{exc}")
        if not as_json:
            print_result(console, res)
    if not as_json and len(results) > 1:
        unreadable = sum(1 for r in results if not r.readable)
        with_errors = sum(1 for r in results if r.readable and r.errors)
        console.print(f"共 {len(results)} 个文件：无错误 {len(results) - unreadable - with_errors} 个，"
                      f"有错误 {with_errors} 个，无法读取 {unreadable} 个。", highlight=False)
    if as_json:
        from .judge.serialize import result_json
        click.echo(json.dumps({"files": [result_json(r) for r in results]}, ensure_ascii=False, indent=1))
    if any(not r.readable for r in results):
        sys.exit(2)
    sys.exit(1 if any(r.errors for r in results) else 0)


def _expand(paths) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith((".", "~$"))))
        else:
            out.append(p)
    return out

workspace_option = click.option("-w", "--workspace", "workspace", type=click.Path(file_okay=False, path_type=Path),
                                default=Path("."), show_default="当前文件夹", help="工作区文件夹")


def _open(workspace: Path):
    from .season.workspace import open_workspace
    return open_workspace(workspace)


@main.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--year", type=int, required=True, help="自评年度")
@click.option("--form", default="project-county", show_default=True, help="表式代码")
@click.option("--title", default="", help="本次自评工作的名称（写入邮件和汇总表）")
@click.option("--deadline", default="", help="截止日期 YYYY-MM-DD（写入邮件）")
@friendly
def init_cmd(directory: Path, year: int, form: str, title: str, deadline: str) -> None:
    """新建工作区：配置、数据库、文件仓库（自动生成保护密码和签名密钥）。"""
    from .form.spec import load_form
    from .season.workspace import init_workspace
    load_form(form)
    ws = init_workspace(directory, year=year, form=form, title=title, deadline=deadline)
    console.print(f"已创建工作区 {ws.root}（{year}年度，表式 {form}）。邮件设置请编辑 {ws.root / 'xlperf.yaml'}。")


@main.command("roster-template")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("名单模板.xlsx"), show_default=True)
@friendly
def roster_template_cmd(output: Path) -> None:
    """生成名单（单位、项目、预算、绩效目标）的示例工作簿，含填写说明。"""
    from .season.roster_template import write_roster_template
    if output.exists():
        raise XlperfError(f"文件已存在：{output}", code="output-exists")
    write_roster_template(output)
    console.print(f"已生成名单模板：{output}")


@main.command("roster")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@workspace_option
@friendly
def roster_cmd(path: Path, workspace: Path) -> None:
    """导入名单；有任何问题时逐行列出，且不导入任何内容。"""
    from .errors import RosterError
    from .season.roster import load_roster, save_roster
    from .form.spec import load_form
    ws = _open(workspace)
    spec = load_form(ws.form)
    try:
        rows = load_roster(path, level1_weights=spec.level1_weights(), level2_by_level1=spec.level2_by_level1())
    except RosterError as exc:
        err_console.print(f"[red]名单有 {len(exc.problems)} 处问题，未导入：[/red]")
        for p in exc.problems:
            err_console.print(f"  {escape(p)}", soft_wrap=True)
        sys.exit(2)
    conn = ws.connect()
    try:
        n = save_roster(conn, rows)
    finally:
        conn.close()
    console.print(f"已导入名单 {n} 行。")


@main.command("generate")
@workspace_option
@friendly
def generate_cmd(workspace: Path) -> None:
    """按名单为每个单位、每个项目生成预填、锁定、签名的工作簿（发件箱 outbox/）。"""
    from .season.generate import generate
    ws = _open(workspace)
    rep = generate(ws, progress=True)
    console.print(f"生成 {len(rep.written)} 个，未变化 {len(rep.unchanged)} 个，位于 {ws.outbox}")


@main.command("send")
@workspace_option
@click.option("--dry-run", is_flag=True, help="不发送，只把邮件写成 .eml 文件（sent/）")
@friendly
def send_cmd(workspace: Path, dry_run: bool) -> None:
    """把工作簿通过邮件发给各单位（已发送的不会重复发送）。"""
    from .season.send import send
    ws = _open(workspace)
    rep = send(ws, dry_run=dry_run)
    what = "写出" if dry_run else "发送"
    console.print(f"{what} {len(rep.sent)} 封，跳过已发送 {len(rep.skipped)} 个，失败 {len(rep.failed)} 封。")
    for f in rep.failed:
        err_console.print(f"  [red]失败[/red] {escape(f)}", soft_wrap=True)
    if rep.failed:
        sys.exit(1)


@main.command("collect")
@workspace_option
@click.option("--from", "source", required=True, help="文件夹、.zip 压缩包，或 imap（从邮箱收取）")
@friendly
def collect_cmd(workspace: Path, source: str) -> None:
    """收集回收的自评表：存档、校验、与名单匹配。"""
    from .season.collect import collect
    ws = _open(workspace)
    rep = collect(ws, source)
    console.print(f"新收到 {len(rep.new)} 个，重复 {len(rep.duplicates)} 个，未匹配名单 {len(rep.unmatched)} 个"
                  f"（已保存，待人工处理）。")
    for p in rep.problems:
        err_console.print(f"  [yellow]注意[/yellow] {escape(p)}", soft_wrap=True)


@main.command("status")
@workspace_option
@click.option("--export", type=click.Path(dir_okay=False, path_type=Path), help="导出为工作簿")
@friendly
def status_cmd(workspace: Path, export: Path | None) -> None:
    """各地区应报、已报、合格、有错误、未报情况，及待催报名单。"""
    from .season.status import LEVEL_ZH, compute_status, write_status_workbook
    ws = _open(workspace)
    conn = ws.connect()
    try:
        st = compute_status(conn)
    finally:
        conn.close()
    t = Table(title=f"{ws.year}年度自评表回收情况")
    for col in ("层级", "代码", "地区", "应报", "已报", "合格", "有错误", "未报"):
        t.add_column(col)
    for rs in [st.overall] + st.regions:
        t.add_row(LEVEL_ZH[rs.level], rs.code, rs.name, *(str(x) for x in (rs.expected, rs.returned, rs.valid, rs.errors, rs.missing)))
    console.print(t)
    if st.pending:
        p = Table(title="待催报")
        for col in ("单位", "项目", "情况", "联系人", "邮箱"):
            p.add_column(col)
        for x in st.pending:
            p.add_row(x.unit_name, x.project_name, x.reason + (f"（{x.errors}个错误）" if x.errors else ""), x.contact, x.email)
        console.print(p)
    if st.unmatched:
        console.print(f"另有 {st.unmatched} 个文件未能匹配名单，已保存在工作区。")
    if export:
        write_status_workbook(st, export)
        console.print(f"已导出：{export}")


@main.command("remind")
@workspace_option
@click.option("--dry-run", is_flag=True, help="不发送，只写出 .eml 文件")
@friendly
def remind_cmd(workspace: Path, dry_run: bool) -> None:
    """提醒未提交和有错误的单位（有错误的附上反馈表）。"""
    from .season.remind import remind
    ws = _open(workspace)
    rep = remind(ws, dry_run=dry_run)
    console.print(f"{'写出' if dry_run else '发送'}催报邮件 {len(rep.sent)} 封，今日已催过 {len(rep.skipped)} 个。")
    if rep.failed:
        for f in rep.failed:
            err_console.print(f"  [red]失败[/red] {escape(f)}", soft_wrap=True)
        sys.exit(1)


@main.command("aggregate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("-w", "--workspace", "workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="汇总工作区中各单位项目的当前回收表（不给文件时默认当前文件夹）")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="汇总工作簿（默认：工作区 reports/ 下，或当前文件夹）")
@click.option("--csv", "csv_dir", type=click.Path(file_okay=False, path_type=Path), help="另存每张表为 CSV")
@click.option("--parquet", "parquet_dir", type=click.Path(file_okay=False, path_type=Path), help="另存每张表为 Parquet")
@click.option("--jobs", type=int, default=None, help="并行进程数（默认全部 CPU）")
@click.option("--year", type=int, default=None, help="年度（直接汇总文件时写入说明页）")
@click.option("--dask", "dask", metavar="SCHEDULER", default=None,
              help="在 Dask 计算集群上校验文件：调度器地址（如 tcp://10.0.0.5:8786），或 local 表示在本机启动集群")
@friendly
def aggregate_cmd(paths, workspace, output, csv_dir, parquet_dir, jobs, year, dask) -> None:
    """生成全省汇总工作簿（总体、按地区、项目明细、指标明细、指标分析、问题清单、未提交、图表）及 CSV/Parquet。"""
    if paths and workspace is None:
        from .province.folder import aggregate_paths
        out = output or Path(f"{year or ''}自评汇总表.xlsx")
        summary = aggregate_paths(list(paths), out=out, jobs=jobs, progress=True, year=year,
                                  csv_dir=csv_dir, parquet_dir=parquet_dir, dask=dask)
    else:
        if dask:
            raise XlperfError("汇总工作区时使用台账中已有的校验结果，不重新读取文件，无需 --dask；"
                              "请改为给出回收文件所在的文件夹", code="dask-needs-files")
        from .province.workspace import aggregate_workspace
        ws = _open(workspace or Path("."))
        out = output or ws.reports_dir / f"{ws.year}年度自评汇总表.xlsx"
        summary = aggregate_workspace(ws, out, csv_dir=csv_dir, parquet_dir=parquet_dir)
    c = summary.counts
    shown = lambda k: "—" if c.get(k) is None else c[k]  # noqa: E731
    console.print(f"已生成汇总表：{out}（应报 {shown('projects_expected')}，已报 {shown('projects_returned')}，"
                  f"合格 {shown('projects_valid')}）", soft_wrap=True)


@main.command("serve")
@workspace_option
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址；0.0.0.0 表示向办公网络开放")
@click.option("--port", type=int, default=8000, show_default=True, help="端口")
@click.option("--set-password", "set_password", is_flag=True, help="设置局端登录密码（只保存加盐散列）后退出")
@friendly
def serve_cmd(workspace: Path, host: str, port: int, set_password: bool) -> None:
    """网页提交：各单位用专用链接上传并立即看到校验结果；局端登录查看回收情况。"""
    ws = _open(workspace)
    if set_password:
        from .season.weblink import set_password as store_password
        pw = click.prompt("新的局端登录密码", hide_input=True, confirmation_prompt="再输入一次")
        if len(pw) < 8:
            raise XlperfError("密码至少 8 位", code="password-too-short")
        conn = ws.connect()
        try:
            store_password(conn, pw)
        finally:
            conn.close()
        console.print("已设置局端登录密码（工作区中只保存加盐散列）。")
        return
    from .web.serve import serve
    serve(ws, host, port, say=lambda text: console.print(text, highlight=False, soft_wrap=True))


@main.command("link")
@workspace_option
@click.argument("unit_codes", nargs=-1)
@click.option("--revoke", is_flag=True, help="作废这些单位的现有链接并换发新链接")
@friendly
def link_cmd(workspace: Path, unit_codes: tuple[str, ...], revoke: bool) -> None:
    """列出各单位的网页提交链接；--revoke 作废旧链接。"""
    from .season import db, weblink
    ws = _open(workspace)
    conn = ws.connect()
    try:
        units = {r["unit_code"]: r["unit_name"] for r in db.roster_rows(conn)}
        chosen = list(unit_codes) or list(units)
        unknown = [c for c in chosen if c not in units]
        if unknown:
            raise XlperfError(f"名单中没有这些单位代码：{'、'.join(unknown)}", code="unit-unknown")
        if revoke and not unit_codes:
            raise XlperfError("请指定要作废链接的单位代码", code="unit-missing")
        base = weblink.base_url(ws)
        for code in chosen:
            if revoke:
                weblink.revoke(ws, conn, code)
            console.print(f"{units[code]}（{code}）：{weblink.unit_link(ws, conn, code, base or 'http://127.0.0.1:8000')}",
                          highlight=False, soft_wrap=True)
    finally:
        conn.close()
    if not base:
        console.print("注意：xlperf.yaml 中未设置 web.base_url，以上链接只在本机有效；设置为本机局域网地址后重新生成、发送表格。")
    if revoke:
        console.print("旧链接已作废。请重新生成（xlperf generate）并发送表格，或直接把新链接告知单位。")


@main.command("report")
@click.argument("target", required=False)
@click.argument("project", required=False)
@click.option("--province", "province", is_flag=True, help="起草全省汇总分析报告（同时重写汇总表，两者数字一致）")
@click.option("--all", "all_", is_flag=True, help="每份合格的当前回传起草一份自评报告（reports/自评报告/）")
@workspace_option
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="输出 .docx 文件；--all 或一个单位有多个项目时为文件夹")
@friendly
def report_cmd(target, project, province, all_, workspace, output) -> None:
    """起草报告（.docx）：xlperf report 单位 [项目]、xlperf report 自评表文件、--province、--all。"""
    from .report import cli as report_cli
    if sum(bool(x) for x in (target, province, all_)) != 1:
        raise XlperfError("请给出单位（或自评表文件）、--province 或 --all 其中之一", code="report-usage")
    if province:
        report_cli.province(_open(workspace), output, console)
    elif all_:
        report_cli.all_units(_open(workspace), output, console)
    elif report_cli.is_file_target(target):
        report_cli.one_file(Path(target), project, output, console)
    else:
        report_cli.one_unit(_open(workspace), target, project, output, console, err_console)


@main.command("demo")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=Path("xlperf-demo"),
              show_default=True, help="演示工作区文件夹（已存在时自动另起新文件夹）")
@friendly
def demo_cmd(output: Path) -> None:
    """用内置示例数据演示全流程：名单 → 生成 → 发送 → 回收 → 校验 → 催报 → 汇总。"""
    from .demo.run import run_demo
    run_demo(output, console)


if __name__ == "__main__":  # pragma: no cover
    main()
