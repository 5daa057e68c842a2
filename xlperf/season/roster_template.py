"""The roster template (名单模板) a province office fills in: 名单, 绩效指标, 填写说明.

Drop-downs, text-formatted code columns and the instructions sheet prevent the
mistakes roster.py would otherwise have to refuse on import.
"""
from __future__ import annotations

from pathlib import Path

from .roster import (INSTRUCTIONS_SHEET, LEVEL2_BY_LEVEL1, ROSTER_COLUMNS, ROSTER_FIELDS, ROSTER_SHEET, TARGET_COLUMNS,
                     TARGETS_SHEET, RosterRow)
from .roster_sample import sample_roster
from ..form.spec import FormSpec


_COLUMN_HELP = {
    "单位代码": ("必填", 14, "预算单位代码，按文本填写（保留开头的0）。与项目代码一起唯一确定一行。"),
    "单位名称": ("必填", 24, "填报单位全称，例如 绥宁县医疗保障局。"),
    "行政区划代码": ("必填", 13, "6位行政区划代码（GB/T 2260），例如 430527。用于按市、县汇总。"),
    "地区名称": ("选填", 12, "区划名称，例如 绥宁县；汇总表中显示。"),
    "主管部门": ("选填", 22, "主管部门名称，写入表头。"),
    "联系人": ("选填", 20, "项目负责人（联系人）姓名，可连同电话，例如 李明 0739-7621234；预填到自评表“项目负责人及电话”，单位可修改。"),
    "联系电话": ("选填", 16, "联系人电话，例如 0739-7621234；与联系人一起预填到“项目负责人及电话”。"),
    "邮箱": ("必填", 28, "接收表格的电子邮箱，只填一个地址。"),
    "项目名称": ("必填", 32, "项目全称，写入表头。"),
    "项目代码": ("必填", 22, "项目代码，按文本填写。同一单位下不能重复。"),
    "年初预算数": ("选填", 14, "年初预算数，单位：万元。"),
    "全年预算数": ("选填", 14, "全年预算数（调整后），单位：万元。"),
    "年度总体目标": ("选填", 40, "批复的年度总体目标（预期目标），预填到自评表并锁定，单位不能修改。"),
    "一级指标": ("必填", 12, "产出指标 / 效益指标 / 满意度指标（以表样为准）。"),
    "二级指标": ("选填", 16, "如 数量指标、质量指标、时效指标、成本指标、社会效益指标、服务对象满意度指标。"),
    "三级指标": ("必填", 36, "具体指标名称，同一项目内不能重复。"),
    "分值": ("必填", 8, "该指标分值。同一项目中每个一级指标的分值合计须等于表样规定的分值（如产出50、效益30、满意度10）。"),
    "年度指标值": ("选填", 16, "批复的年度目标值，例如 ≥95%、≤60分钟、有所提升。"),
}
_CODE_LABELS = {"单位代码", "行政区划代码", "项目代码"}
_MONEY_LABELS = {"年初预算数", "全年预算数"}
_TEMPLATE_ROWS = 1000


def _header_text(label: str) -> str:
    return f"{label}（万元）" if label in _MONEY_LABELS else label


def roster_columns(form: FormSpec | None = None) -> list[str]:
    """The 名单 columns to ask for: 年初预算数 only when the form has a place for it."""
    funds = {c.key for c in form.funds_columns} if form is not None else {"initial_budget"}
    return [c for c in ROSTER_COLUMNS if c != "年初预算数" or "initial_budget" in funds]


def write_roster_template(path: Path, rows: list[RosterRow] | None = None, *,
                          level2_by_level1: dict[str, list[str]] | None = None, form: FormSpec | None = None) -> Path:
    """An Excel roster to fill in: 名单, 绩效指标 and 填写说明, with drop-downs and checks.

    `rows` default to three sample rows that show the expected shape; `form` (the
    workspace's) leaves out what that form has no place for.
    """
    import xlsxwriter
    from xlsxwriter.utility import xl_col_to_name

    path = Path(path)
    rows = sample_roster()[:3] if rows is None else rows
    taxonomy = level2_by_level1 or (form.level2_by_level1() if form is not None else LEVEL2_BY_LEVEL1)
    columns = roster_columns(form)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    try:
        head = {"bold": True, "text_wrap": True, "valign": "vcenter", "align": "center", "border": 1}
        f_required = wb.add_format({**head, "bg_color": "#FCE4D6"})
        f_optional = wb.add_format({**head, "bg_color": "#DDEBF7"})
        f_text = wb.add_format({"num_format": "@"})
        f_money = wb.add_format({"num_format": "#,##0.00"})
        f_number = wb.add_format({"num_format": "General"})
        last = _TEMPLATE_ROWS

        def header(ws, labels: list[str]) -> None:
            ws.set_row(0, 30)
            for c, label in enumerate(labels):
                need, width, help_text = _COLUMN_HELP[label]
                fmt = f_text if label in _CODE_LABELS else f_money if label in _MONEY_LABELS else None
                if label == "分值":
                    fmt = f_number
                ws.set_column(c, c, width, fmt)
                ws.write_string(0, c, _header_text(label), f_required if need == "必填" else f_optional)
                ws.write_comment(0, c, f"【{need}】{help_text}", {"x_scale": 1.6, "y_scale": 1.2})
            ws.freeze_panes(1, 0)
            ws.autofilter(0, 0, last, len(labels) - 1)
            ws.set_landscape()
            ws.fit_to_pages(1, 0)
            ws.repeat_rows(0)

        # 名单
        ws = wb.add_worksheet(ROSTER_SHEET)
        header(ws, columns)
        col = {label: i for i, label in enumerate(columns)}
        for r, row in enumerate(rows, start=1):
            for label in columns:
                value = getattr(row, ROSTER_FIELDS[label])
                c = col[label]
                if label in _MONEY_LABELS:
                    if value is not None:
                        ws.write_number(r, c, float(value), f_money)
                else:
                    ws.write_string(r, c, str(value or ""), f_text if label in _CODE_LABELS else None)
        letter = {label: xl_col_to_name(i) for label, i in col.items()}
        ws.data_validation(1, col["行政区划代码"], last, col["行政区划代码"], {
            "validate": "length", "criteria": "==", "value": 6,
            "error_title": "行政区划代码", "error_message": "行政区划代码应为6位数字，例如 430527。"})
        ws.data_validation(1, col["邮箱"], last, col["邮箱"], {
            "validate": "custom", "value": f'=ISNUMBER(FIND("@",{letter["邮箱"]}2))',
            "error_title": "邮箱", "error_message": "请填写一个有效的电子邮箱地址。"})
        a, p = letter["单位代码"], letter["项目代码"]
        ws.data_validation(1, col["项目代码"], last, col["项目代码"], {
            "validate": "custom",
            "value": f"=COUNTIFS(${a}$2:${a}${last + 1},{a}2,${p}$2:${p}${last + 1},{p}2)=1",
            "error_title": "项目代码重复", "error_message": "同一单位代码下的项目代码不能重复。"})
        for label in _MONEY_LABELS & set(columns):
            ws.data_validation(1, col[label], last, col[label], {
                "validate": "decimal", "criteria": ">=", "value": 0,
                "error_title": label, "error_message": "请填写不小于0的数字，单位：万元。"})

        # 绩效指标
        wt = wb.add_worksheet(TARGETS_SHEET)
        header(wt, TARGET_COLUMNS)
        tcol = {label: i for i, label in enumerate(TARGET_COLUMNS)}
        r = 1
        for row in rows:
            for t in row.targets:
                wt.write_string(r, tcol["单位代码"], row.unit_code, f_text)
                wt.write_string(r, tcol["项目代码"], row.project_code, f_text)
                wt.write_string(r, tcol["一级指标"], t.level1)
                wt.write_string(r, tcol["二级指标"], t.level2)
                wt.write_string(r, tcol["三级指标"], t.name)
                wt.write_number(r, tcol["分值"], float(t.weight), f_number)
                wt.write_string(r, tcol["年度指标值"], t.target)
                r += 1
        wt.data_validation(1, tcol["一级指标"], last, tcol["一级指标"], {
            "validate": "list", "source": list(taxonomy), "error_type": "warning",
            "error_title": "一级指标", "error_message": "不是表样中的一级指标，确定要这样填写吗？"})
        level2_all = list(dict.fromkeys(n for names in taxonomy.values() for n in names))
        if level2_all and len(",".join(level2_all)) <= 250:
            wt.data_validation(1, tcol["二级指标"], last, tcol["二级指标"], {
                "validate": "list", "source": level2_all, "error_type": "warning",
                "error_title": "二级指标", "error_message": "不是常用的二级指标，确定要这样填写吗？"})
        wt.data_validation(1, tcol["分值"], last, tcol["分值"], {
            "validate": "decimal", "criteria": "between", "minimum": 0, "maximum": 100,
            "error_title": "分值", "error_message": "分值应为0到100之间的数字。"})

        _write_instructions(wb, taxonomy, columns)
    finally:
        wb.close()
    return path


def _write_instructions(wb, taxonomy: dict[str, list[str]], columns: list[str]) -> None:
    ws = wb.add_worksheet(INSTRUCTIONS_SHEET)
    title = wb.add_format({"bold": True, "font_size": 14})
    bold = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "border": 1, "bg_color": "#F2F2F2"})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    cell = wb.add_format({"text_wrap": True, "valign": "top", "border": 1})
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 10)
    ws.set_column(2, 2, 80)
    ws.fit_to_pages(1, 0)
    lines = [
        "1. 本文件是绩效自评表下发名单。每个“单位 + 项目”占“名单”表的一行，系统据此为每行生成一份自评表并发送到所填邮箱。",
        "2. 前几行是示例（湖南省样例数据，邮箱为 example.gov.cn），请删除或改为实际内容后再导入。",
        "3. 代码类列（单位代码、行政区划代码、项目代码）已设为文本格式，请保留开头的 0，不要写成科学计数法。",
        "4. 金额单位为万元。年初预算数、全年预算数可以留空，由单位在自评表中填写。",
        "5. “绩效指标”表填写批复的绩效目标：每行一个三级指标，用单位代码和项目代码对应到“名单”中的行。"
        "某个项目不填指标也可以，单位将在自评表中自行填写。",
        "6. 同一项目中，每个一级指标下的分值合计须等于表样规定的分值（通常 产出指标50、效益指标30、满意度指标10，"
        "预算执行率10分由系统计算，不在此填写）。",
        "7. 导入时系统会一次列出所有问题（含行号）；只要有一处问题，整个名单都不会导入，请全部修改后重新导入。",
        "8. 可以重复导入：按“单位代码 + 项目代码”更新已有的行；名单中删去的行不再下发和催报，但已收到的表格仍保留。",
    ]
    ws.write_string(0, 0, "名单填写说明", title)
    r = 2
    for line in lines:
        ws.merge_range(r, 0, r, 2, line, wrap)
        ws.set_row(r, 36)
        r += 1
    r += 1
    for c, text in enumerate(("列名", "是否必填", "说明")):
        ws.write_string(r, c, text, bold)
    r += 1
    for sheet, labels in ((ROSTER_SHEET, columns), (TARGETS_SHEET, TARGET_COLUMNS)):
        ws.merge_range(r, 0, r, 2, f"“{sheet}”表", bold)
        r += 1
        for label in labels:
            need, _, help_text = _COLUMN_HELP[label]
            ws.write_string(r, 0, _header_text(label), cell)
            ws.write_string(r, 1, need, cell)
            ws.write_string(r, 2, help_text, cell)
            r += 1
    r += 1
    ws.merge_range(r, 0, r, 2, "一级指标与二级指标（以表样为准）", bold)
    r += 1
    for level1, names in taxonomy.items():
        ws.write_string(r, 0, level1, cell)
        ws.merge_range(r, 1, r, 2, "、".join(names), cell)
        r += 1


