"""What `xlperf report` prints: the command's few branches, kept out of the shared cli.py."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ..errors import XlperfError
from ..read.detect import SPREADSHEET_SUFFIXES
from ..season.workspace import Workspace
from . import workspace as wsr


def is_file_target(target: str) -> bool:
    """A returned file rather than a unit: it exists, or it is named like a spreadsheet."""
    p = Path(target)
    return p.is_file() or p.suffix.lower() in SPREADSHEET_SUFFIXES


def province(ws: Workspace, output: Path | None, console: Console) -> None:
    report, workbook, summary = wsr.draft_province(ws, output)
    console.print(f"已起草汇总分析报告：{report}", soft_wrap=True, highlight=False)
    console.print(f"  数字取自同时生成的汇总表：{workbook}", soft_wrap=True, highlight=False)


def all_units(ws: Workspace, output: Path | None, console: Console) -> None:
    from rich.progress import track
    done = wsr.draft_all(ws, output, progress=lambda xs: track(xs, description="起草自评报告", console=console,
                                                              transient=True))
    console.print(f"已起草自评报告 {len(done.written)} 份 → {output or wsr.unit_reports_dir(ws)}", soft_wrap=True,
                  highlight=False)
    if done.skipped:
        console.print(f"  未起草 {len(done.skipped)} 个（未收到回传或最新一份有错误，可用 xlperf report 单位 单独起草）",
                      highlight=False)


def one_file(path: Path, project: str | None, output: Path | None, console: Console) -> None:
    from ..judge.check import check
    from .unit import draft_unit_report, place_of, report_name
    if project:
        raise XlperfError("对自评表文件起草报告时不需要再写项目", code="report-usage")
    if not path.is_file():
        raise XlperfError(f"找不到文件：{path}", code="report-file-missing")
    result = check(path)
    out = output or Path(report_name(place_of(result), result.year, fallback=path.stem))
    draft_unit_report(result, out, source_name=path.name)
    console.print(f"已起草自评报告：{out}（{len(result.findings)} 个待核实事项）", soft_wrap=True, highlight=False)


def one_unit(ws: Workspace, unit: str, project: str | None, output: Path | None, console: Console,
             err_console: Console) -> None:
    done = wsr.draft_unit(ws, unit, project, output)
    for p in done.written:
        console.print(f"已起草自评报告：{p}", soft_wrap=True, highlight=False)
    for s in done.skipped:
        err_console.print(f"  [yellow]未起草[/yellow] {escape(s)}", soft_wrap=True, highlight=False)
