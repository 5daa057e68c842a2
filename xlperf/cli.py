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
    from .spec import available_forms, load_form
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
    from .spec import load_form
    from .write.template import TemplateOptions, write_template
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

    from .check import check
    from .report import print_result
    results = []
    for f in _expand(files):
        res = check(f, form_hint=form_hint)
        results.append(res)
        if feedback_dir and res.readable:
            from .write.feedback import write_feedback
            try:
                out = write_feedback(f, res, feedback_dir)
                if not as_json:
                    console.print(f"反馈副本：{out}")
            except Exception as exc:  # noqa: BLE001 — a feedback failure must not hide the check
                err_console.print(f"[yellow]无法生成反馈副本[/yellow] {f}：{exc}")
        if not as_json:
            print_result(console, res)
    if as_json:
        from .report import result_json
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


if __name__ == "__main__":  # pragma: no cover
    main()
