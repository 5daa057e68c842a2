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

from .cli_zh import PIPED_WIDTH, install as _chinese_click, localize
from .errors import XlperfError

_chinese_click()
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
        except OSError as exc:        # a read-only folder or a full disk anywhere: one line naming the path
            where = exc.filename or ""
            err_console.print(f"[red]错误[/red] {escape(f'{where}：' if where else '')}{escape(_os_cause(exc))} "
                              "[dim]\\[file-system-error][/dim]", markup=True, highlight=False, soft_wrap=True)
            sys.exit(2)
    return wrapper


def _os_cause(exc: OSError) -> str:
    import errno
    causes = {errno.ENOSPC: "磁盘已满", errno.EACCES: "没有访问权限", errno.EPERM: "没有访问权限",
              errno.EROFS: "磁盘或文件夹是只读的", errno.ENAMETOOLONG: "文件名过长", errno.ENOENT: "文件或文件夹不存在",
              errno.ENOTDIR: "路径中有一段是文件而不是文件夹", errno.EDQUOT: "磁盘配额已满",
              errno.EEXIST: "已有同名的文件或文件夹"}
    return causes.get(exc.errno or 0, exc.strerror or str(exc)) + "，操作已停止"


def _set_timeout(ctx, param, value):
    """--timeout sets the per-file budget for this run (the worker reads $XLPERF_FILE_TIMEOUT)."""
    if value is not None:
        if value <= 0:
            raise click.BadParameter("须为正数（秒）")
        os.environ["XLPERF_FILE_TIMEOUT"] = str(value)
    return value


timeout_option = click.option("--timeout", type=float, default=None, expose_value=False, callback=_set_timeout,
                              help="每个文件读取和校验的时间上限（秒，默认 30；也可用环境变量 XLPERF_FILE_TIMEOUT）")

@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xlperf")
def main() -> None:
    """xlperf：预算绩效自评表的生成、分发、收集、校验与汇总。"""
    _unwrap_when_piped()


def _unwrap_when_piped() -> None:
    """Output going to a file or another program keeps whole lines: rich would otherwise
    fold every table and message at 80 columns. A terminal (or $COLUMNS) keeps its width."""
    for c in (console, err_console):
        c.width = PIPED_WIDTH if not c.is_terminal and not os.environ.get("COLUMNS") else None


@main.command("forms")
@click.option("--json", "as_json", is_flag=True, help="输出一个 JSON 文档")
@friendly
def forms_cmd(as_json: bool) -> None:
    """列出可用的表式（templates/*.yaml）。"""
    from .form.spec import available_forms, load_form
    if as_json:
        import json
        specs = [(load_form(path), path) for path in available_forms().values()]
        click.echo(json.dumps({"forms": [{"id": s.id, "name": s.name, "title": s.title, "version": s.version,
                                          "path": str(p)} for s, p in specs]}, ensure_ascii=False, indent=1))
        return
    table = Table(title="可用表式")
    for col in ("表式代码", "名称", "标题", "版本", "文件"):
        table.add_column(col)
    for form_id, path in available_forms().items():
        spec = load_form(path)
        table.add_row(spec.id, spec.name, spec.title, str(spec.version), str(path))
    console.print(table)


def _xlsx_output(path: Path) -> Path:
    """We write .xlsx only: xlsx bytes under an .xls or .ods name fail to open or open with a warning."""
    if path.suffix.lower() != ".xlsx":
        raise XlperfError(f"只能生成 .xlsx 文件，“{path.name}”的扩展名不是 .xlsx；Excel、WPS 和 LibreOffice 都能打开 .xlsx，"
                          f"如需其他格式请打开后另存为", code="output-format", path=str(path))
    return path


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
    _xlsx_output(output)
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
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="文件或文件夹...")
@click.option("--json", "as_json", is_flag=True, help="输出一个 JSON 文档")
@click.option("--feedback", "feedback_dir", type=click.Path(file_okay=False, path_type=Path),
              help="为有问题的文件生成更正表（重新生成、保留已填内容、标注问题），写入该目录")
@click.option("--form", "form_hint", default=None, help="优先按此表式识别")
@click.option("-w", "--workspace", "workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="按该工作区的名单和签名密钥校验，结论与 collect 相同（在工作区文件夹中运行时自动使用）")
@timeout_option
@friendly
def check_cmd(files: tuple[Path, ...], as_json: bool, feedback_dir: Path | None, form_hint: str | None,
              workspace: Path | None) -> None:
    """校验回收的自评表。退出码：0 无错误，1 有错误，2 有文件无法读取。"""
    import json

    from .judge.batch import BoundedChecker
    from .terminal import print_result
    from .judge.identity import unverified_checker
    from .season.workspace import CONFIG_NAME
    if workspace is None:     # run inside a workspace (or one of its folders): judge as collect would
        workspace = next((d for d in (Path.cwd(), *Path.cwd().parents) if (d / CONFIG_NAME).is_file()), None)
    ws = _open(workspace) if workspace is not None else None
    if ws is not None and not as_json:
        console.print(f"按工作区 {ws.root} 的名单和签名密钥校验（与 collect 的结论相同）", highlight=False, soft_wrap=True)
    conn = ws.connect() if ws is not None else None
    results, matches = [], []
    checker = BoundedChecker()      # one file that hangs or crashes gets its own finding
    try:
        for f in _expand(files):
            if ws is not None:
                from .season.collect import assess
                from .season.db import roster_row
                res, roster_id, matched_by, _ = assess(ws, conn, f, str(f), checker=checker)
                if roster_id is not None:
                    from .season.generate import correction_inputs
                    inputs = correction_inputs(ws, conn, roster_id)
                row = None if roster_id is None else roster_row(conn, roster_id)
                matches.append(None if row is None else {"unit_code": row["unit_code"], "unit_name": row["unit_name"],
                                                         "project_code": row["project_code"],
                                                         "project_name": row["project_name"], "matched_by": matched_by})
            else:   # no key: the visible pre-fill is compared with the embedded one, and the report says so
                res = checker.check(f, form_hint=form_hint, extra=[unverified_checker()])
                roster_id = None
            results.append(res)
            if feedback_dir and res.readable and (res.errors or res.warnings):   # an info line alone needs no copy
                from .judge.correction import write_correction
                try:
                    out = write_correction(f, res, feedback_dir, **(inputs if roster_id is not None else {}))
                    if not as_json:
                        console.print(f"更正表：{out}", highlight=False, soft_wrap=True)
                except Exception as exc:  # noqa: BLE001 — a feedback failure must not hide the check
                    err_console.print(f"[yellow]无法生成更正表[/yellow] {escape(f'{f}：{exc}')}", soft_wrap=True)
            if not as_json:
                print_result(console, res)
                if ws is not None and res.readable and res.form:
                    m = matches[-1]
                    console.print(f"  名单：{m['unit_name']} · {m['project_name']}（{'按签名' if m['matched_by'] == 'signature' else '按单位和项目名称'}匹配）"
                                  if m else "  [yellow]未能与工作区名单匹配[/yellow]", highlight=False, soft_wrap=True)
    finally:
        checker.close()
        if conn is not None:
            conn.close()
    if not as_json and len(results) > 1:
        unreadable = sum(1 for r in results if not r.readable)
        with_errors = sum(1 for r in results if r.readable and r.errors)
        console.print(f"共 {len(results)} 个文件：无错误 {len(results) - unreadable - with_errors} 个，"
                      f"有错误 {with_errors} 个，无法读取 {unreadable} 个。", highlight=False)
    if as_json:
        from .judge.serialize import result_json
        docs = [result_json(r) for r in results]
        if ws is not None:
            for d, m in zip(docs, matches):
                d["roster"] = m
        click.echo(json.dumps({"files": docs, **({"workspace": str(ws.root)} if ws is not None else {})},
                              ensure_ascii=False, indent=1, allow_nan=False))
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
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), metavar="文件夹")
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
    _xlsx_output(output)
    if output.exists():
        raise XlperfError(f"文件已存在：{output}", code="output-exists")
    form = None
    if Path("xlperf.yaml").exists():   # inside a workspace: ask only what its form has a place for
        from .form.spec import load_form
        form = load_form(_open(Path(".")).form)
    write_roster_template(output, form=form)
    console.print(f"已生成名单模板：{output}")


@main.command("roster")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="名单.xlsx")
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
@click.argument("units", nargs=-1, metavar="[单位...]")
@workspace_option
@click.option("--dry-run", is_flag=True, help="只预览：把邮件写成 .eml 文件（sent/），不发送，也不记为已发送")
@click.option("--resend", is_flag=True, help="重新发送给后面列出的单位（单位代码或名称）")
@friendly
def send_cmd(units: tuple[str, ...], workspace: Path, dry_run: bool, resend: bool) -> None:
    """把工作簿通过邮件发给各单位：新的发送，重新生成后有变化的作为更正版再发，已发送且未变化的跳过。

    xlperf send --resend 单位… 按要求重新发送给指定单位。
    """
    from .season.send import send
    if units and not resend:
        raise XlperfError("列出单位时请加 --resend，例如 xlperf send --resend 430102001", code="usage")
    if resend and not units:
        raise XlperfError("--resend 后请列出要重新发送的单位代码或名称", code="usage")
    ws = _open(workspace)
    rep = send(ws, dry_run=dry_run, resend=units)
    what = "写出" if dry_run else "发送"
    corrected = len([a for a in rep.corrected if a in rep.sent])
    extra = f"（其中更正版或重发 {corrected} 封）" if corrected else ""
    console.print(f"{what} {len(rep.sent)} 封{extra}，跳过已发送且未变化的 {len(rep.skipped)} 个，失败 {len(rep.failed)} 封。"
                  + ("（预览，未记为已发送）" if dry_run else ""), highlight=False, soft_wrap=True)
    if rep.layout_only:
        console.print(f"另有 {len(rep.layout_only)} 个工作簿重新生成后只是格式变化、预填内容未变，未重发"
                      f"（如需重发：xlperf send --resend 单位代码）：{'、'.join(rep.layout_only)}", highlight=False, soft_wrap=True)
    for f in rep.failed:
        err_console.print(f"  [red]失败[/red] {escape(f)}", soft_wrap=True)
    if rep.failed:
        sys.exit(1)


@main.command("collect")
@workspace_option
@click.option("--from", "source", required=True, help="文件夹、.zip 压缩包，或 imap（从邮箱收取）")
@timeout_option
@friendly
def collect_cmd(workspace: Path, source: str) -> None:
    """收集回收的自评表：存档、校验、与名单匹配。"""
    from .season.collect import collect
    ws = _open(workspace)
    rep = collect(ws, source)
    console.print(f"新收到 {len(rep.new)} 个，重复 {len(rep.duplicates)} 个，未匹配名单 {len(rep.unmatched)} 个"
                  f"（已保存，待人工处理）" + (f"，非表格文件 {len(rep.skipped)} 个（已存档，未作为自评表）" if rep.skipped else "")
                  + "。详见 xlperf status。", highlight=False, soft_wrap=True)
    for p in rep.problems:
        err_console.print(f"  [yellow]注意[/yellow] {escape(p)}", soft_wrap=True)


@main.command("status")
@workspace_option
@click.option("--export", type=click.Path(dir_okay=False, path_type=Path), help="导出为工作簿")
@click.option("--json", "as_json", is_flag=True, help="输出一个 JSON 文档")
@friendly
def status_cmd(workspace: Path, export: Path | None, as_json: bool) -> None:
    """各地区应报、已报、合格、有错误、未报情况，待催报名单，及未能处理的文件。"""
    from .season.status import LEVEL_ZH, SOURCE_ZH, compute_status, local_time, write_status_workbook
    ws = _open(workspace)
    conn = ws.connect()
    try:
        st = compute_status(conn)
    finally:
        conn.close()
    if export:
        write_status_workbook(st, _xlsx_output(export))
    if as_json:
        import json
        click.echo(json.dumps({"year": ws.year, **st.as_dict(), "export": str(export) if export else None},
                              ensure_ascii=False, indent=1))
        return
    t = Table(title=f"{ws.year}年度自评表回收情况")
    for col in ("层级", "代码", "地区", "应报", "已报", "合格", "有错误", "未报"):
        t.add_column(col)
    for rs in [st.overall] + st.regions:
        t.add_row(LEVEL_ZH[rs.level], escape(rs.code), escape(rs.name),
                  *(str(x) for x in (rs.expected, rs.returned, rs.valid, rs.errors, rs.missing)))
    console.print(t)
    if st.pending:
        p = Table(title="待催报")
        for col in ("单位", "项目", "情况", "联系人", "邮箱"):
            p.add_column(col)
        for x in st.pending:
            p.add_row(*(escape(str(v)) for v in (x.unit_name, x.project_name, x.reason + (f"（{x.errors}个错误）" if x.errors else ""),
                                                 x.contact, x.email)))
        console.print(p)
    if st.problems:
        u = Table(title=f"未能处理的文件 {len(st.problems)} 个（已存档，需人工处理）")
        for col in ("原文件名", "发件人", "收到时间", "来源", "原因"):
            u.add_column(col)
        for x in st.problems:
            u.add_row(escape(x.name), escape(x.sender), local_time(x.received_at), SOURCE_ZH.get(x.source, x.source),
                      escape(x.reason))
        console.print(u)
    if export:
        console.print(f"已导出：{export}", highlight=False, soft_wrap=True)


@main.command("show")
@click.argument("unit", metavar="单位")
@click.argument("project", required=False, metavar="[项目]")
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="输出一个 JSON 文档")
@friendly
def show_cmd(unit: str, project: str | None, workspace: Path, as_json: bool) -> None:
    """一个单位（及项目）的回收记录：每一版的收到时间和来源、当前的问题、相邻两版之间改了哪些单元格。

    单位：单位代码或名称；项目：项目代码或名称（可省略）。
    """
    import json

    from .season.history import STATUS_ZH, history
    from .season.status import SOURCE_ZH, local_time
    from .judge.findings import SEVERITY_ZH
    ws = _open(workspace)
    found = history(ws, unit, project)
    if as_json:
        click.echo(json.dumps({"projects": [h.as_dict() for h in found]}, ensure_ascii=False, indent=1, default=str))
        return
    for h in found:
        console.print(f"[bold]{escape(h.unit_name)} · {escape(h.project_name)}[/bold]（{h.unit_code} / {h.project_code}）",
                      highlight=False, soft_wrap=True)
        if not h.versions:
            console.print("  尚未收到自评表。")
            continue
        t = Table(title="回收记录", box=None, header_style="bold")
        for col in ("版本", "收到时间", "原文件名", "来源", "发件人", "结论", "错误", "警告", "总分"):
            t.add_column(col)
        for v in h.versions:
            for i, a in enumerate(v.arrivals or [None]):
                first = i == 0
                t.add_row(f"第{v.number}版" if first else "", local_time(a.received_at if a else v.received_at),
                          escape(a.name) if a else "", SOURCE_ZH.get(a.source, a.source) if a else "",
                          escape(a.sender) if a else "", STATUS_ZH.get(v.status, v.status) if first else "",
                          str(v.errors) if first else "", str(v.warnings) if first else "",
                          "" if not first or v.total_score is None else f"{v.total_score:g}")
        console.print(t)
        for v in h.versions[1:]:
            console.print(f"  第{v.number}版相对第{v.number - 1}版的改动：" + ("无" if not v.changes else f"{len(v.changes)} 处"),
                          highlight=False)
            if v.changes:
                c = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
                for col in ("单元格", "栏目", "原值", "新值"):
                    c.add_column(col)
                for ch in v.changes:
                    c.add_row(ch.cell or "—", escape(ch.label), escape(ch.old) or "（空）", escape(ch.new) or "（空）")
                console.print(c)
        current = h.versions[-1]
        console.print(f"  当前版本（第{current.number}版）的问题：" + ("无" if not h.findings else f"{len(h.findings)} 个"),
                      highlight=False)
        for f in h.findings:
            console.print(f"    {SEVERITY_ZH[f.severity]} {f.cell or '—'} {escape('[' + f.code + ']')} {escape(f.message)}",
                          highlight=False, soft_wrap=True)


@main.command("remind")
@workspace_option
@click.option("--dry-run", is_flag=True, help="只预览：写出 .eml 文件，不发送，也不记为已催报")
@friendly
def remind_cmd(workspace: Path, dry_run: bool) -> None:
    """提醒未提交和有错误的单位（有错误的附上更正表）。"""
    from .season.remind import remind
    ws = _open(workspace)
    rep = remind(ws, dry_run=dry_run)
    console.print(f"{'写出' if dry_run else '发送'}催报邮件 {len(rep.sent)} 封，今日已催过 {len(rep.skipped)} 个。"
                  + ("（预览，未记为已发送）" if dry_run else ""), highlight=False, soft_wrap=True)
    if rep.failed:
        for f in rep.failed:
            err_console.print(f"  [red]失败[/red] {escape(f)}", soft_wrap=True)
        sys.exit(1)


@main.command("aggregate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path), metavar="[文件或文件夹...]")
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
    if output is not None:
        _xlsx_output(output)
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
@click.argument("unit_codes", nargs=-1, metavar="[单位代码...]")
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


localize(main)


if __name__ == "__main__":  # pragma: no cover
    main()
