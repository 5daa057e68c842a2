"""Our own templates: identity sheet, protection and formulas intact; a form not left blank."""
from __future__ import annotations

from ...read.locate import _col
from ..findings import ERROR
from .base import Ctx, Outcome


def check_integrity(ctx: Ctx, outcome: Outcome, sheet_protected: bool | None, formulas: dict | None) -> None:
    """Only for our own templates: identity sheet, protection and formulas must be intact."""
    loc = ctx.loc
    ours = loc.identity is not None or loc.by == "names"
    if not ours:
        return
    if loc.identity is None:
        ctx.add("identity-missing", ERROR, "模板的隐藏标识页（_xlperf）缺失，文件可能不是由下发的模板填写，请使用下发的模板重新填报")
        return
    ident = loc.identity
    # LibreOffice re-saves a very hidden sheet as merely hidden; only a visible one was tampered with.
    if loc.identity_state == "visible":
        ctx.add("identity-altered", ERROR, "模板的隐藏标识页被取消隐藏，请使用下发的原模板填报", "", "_xlperf")
    if ident.get("form_id") and ident.get("form_id") != ctx.spec.id:
        ctx.add("identity-altered", ERROR, f"标识页记录的表式“{ident.get('form_id')}”与表格内容不符", "", "_xlperf")
    if loc.year and ident.get("year", "").isdigit() and int(ident["year"]) != loc.year:
        ctx.add("identity-altered", ERROR, f"标识页记录的年度 {ident['year']} 与表头年度 {loc.year} 不符", "", "_xlperf")
    if sheet_protected is False:
        ctx.add("protection-removed", ERROR, "工作表保护已被取消，请使用下发的原模板（保持工作表保护）填报")
    if formulas is not None:
        for fld, cell in loc.formula_cells.items():
            letters = cell.rstrip("0123456789")
            key = (int(cell[len(letters):]) - 1, _col(letters))
            if key not in formulas:
                ctx.add("formula-tampered", ERROR, "此处原为自动计算的公式，已被改为手工填写的值，请恢复模板公式", cell, fld)


def check_filled(ctx: Ctx, outcome: Outcome) -> None:
    scores = [i for i in outcome.indicators if i.score is not None]
    if any(f.code == "unscored" for f in ctx.out):
        return
    if not scores and not outcome.funds.get("spent"):
        ctx.add("form-empty", ERROR, "表中未填写全年执行数和各项指标得分，似乎是空白模板")


