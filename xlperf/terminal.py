"""How a check result is shown in a terminal (rich)."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .judge.check import CheckResult
from .judge.findings import SEVERITY_ZH

_STYLE = {"error": "red", "warning": "yellow", "info": "cyan"}


def print_result(console: Console, r: CheckResult) -> None:
    if not r.readable or r.form is None:
        f = r.findings[0] if r.findings else None
        console.print(f"[bold]{escape(r.path)}[/bold]  [red]{escape(f.message) if f else '无法读取'}[/red] "
                      f"[dim]{escape('[' + f.code + ']') if f else ''}[/dim]", soft_wrap=True)
        return
    rate = r.funds.get("rate")
    # Every string from a returned file is escaped: a unit named "[/]" must not break rich's markup.
    head = (f"[bold]{escape(r.path)}[/bold]  {escape(r.unit or '（未填单位）')} · {escape(r.project or '（未填项目）')} · "
            f"{r.year or ''}年度 · 执行率 {'—' if rate is None else f'{rate * 100:.2f}%'} · "
            f"总分 {format(r.total_score, 'g') if r.total_score is not None else '—'} · {escape(str(r.grade or ''))}")
    console.print(head, highlight=False, soft_wrap=True)
    if not r.findings:
        console.print("  [green]未发现问题[/green]")
        return
    t = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("严重程度", "单元格", "代码", "问题说明"):
        t.add_column(col, overflow="fold")
    for f in r.findings:
        t.add_row(f"[{_STYLE[f.severity]}]{SEVERITY_ZH[f.severity]}[/]", escape(f.cell or "—"), escape(f.code),
                  escape(f.message))
    console.print(t)
    console.print(f"  共 {r.errors} 个错误，{r.warnings} 个警告", highlight=False)
