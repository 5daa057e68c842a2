"""The province summary as plain data: what aggregation fills and every writer reads.

`Summary` holds named `Table`s of plain dict rows with their `Column`
definitions; the summary workbook (workbook.py), the CSV and Parquet exports
and the pandas API (frames.py) only render these, so a figure can never differ
between them. `Expected` and `Entry` are aggregation's inputs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..judge.check import CheckResult
from ..season import regions

# ------------------------------------------------------------------ inputs

# What the 说明 sheet says about the CSV export (frames.export_csv does it).
CSV_NOTE = ("CSV 导出中以 = + - @、制表符或回车开头的文本前加了单引号 '，以免 Excel 打开时把它当作公式执行；"
            "汇总工作簿和 Parquet 保留原文")


@dataclass
class Expected:
    """One roster row (unit + project) that should return a form."""

    roster_id: int | None
    unit_code: str
    unit_name: str
    region_code: str
    region_name: str
    project_name: str
    project_code: str
    contact: str = ""
    email: str = ""
    budget: float | None = None


@dataclass
class Entry:
    """One return to aggregate: its check result and, when matched, its roster row."""

    result: CheckResult
    expected: Expected | None
    source: str
    received_at: str = ""


# ------------------------------------------------------------------ output


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: str = "text"      # text | int | money | rate | score | share | number (row's "_kind" decides)
    width: float | None = None


@dataclass
class Table:
    name: str               # stable English key, e.g. "projects"
    title: str              # what the user sees, e.g. 项目明细
    columns: tuple[Column, ...]
    rows: list[dict] = field(default_factory=list)

    def titles(self) -> list[str]:
        return [c.title for c in self.columns]


@dataclass
class Summary:
    """Everything the summary workbook and the exports show, as plain data."""

    year: int | None
    form: str
    form_name: str
    produced_at: str
    produced_from: str
    grades: list[str]                 # best first
    low_grades: list[str]             # grades marked in the workbook (差 / 较差)
    counts: dict[str, int | None]
    totals: dict[str, float | None]
    tables: dict[str, Table]
    definitions: list[tuple[str, str]]

    def table(self, name: str) -> Table:
        return self.tables[name]


# Level names as shown; PROVINCE/CITY/COUNTY come from regions.
TOTAL = "total"
LEVEL_ZH = {TOTAL: "合计", regions.PROVINCE: "省", regions.CITY: "市", regions.COUNTY: "县（区）"}
STATUS_ZH = {"met": "完成", "partly": "部分完成", "not_met": "未完成", "": ""}
VALID, HAS_ERRORS, NOT_A_FORM, UNREADABLE, SUPERSEDED = "合格", "有错误", "不是自评表", "无法读取", "已被新版本替代"
UNKNOWN_REGION = regions.UNKNOWN_REGION
SCORE_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<60", -math.inf, 60), ("60–70", 60, 70), ("70–80", 70, 80), ("80–90", 80, 90), ("≥90", 90, math.inf))
LOW_RATE = 0.9
SIMILAR_MIN_CHARS = 8        # shorter texts (无, 已完成, 按计划推进) are alike by nature
SIMILAR_RATIO = 0.9          # near-identical: difflib ratio of the normalized texts
SIMILAR_SHOWN = 50           # places and units listed per group (a text shared by thousands is still one row)
TOP_NOT_MET = 20

DEFINITIONS: list[tuple[str, str]] = [
    ("合格", "回传文件被识别为自评表，且校验没有“错误”级问题（警告、提示不影响合格）。"),
    ("计入汇总", "合格、且为该单位该项目最新一份的回传。金额、执行率、总分、等级、指标分析只统计计入汇总的回传；"
              "有错误、无法识别或已被新版本替代的回传仍列在项目明细和问题清单中（已替代的旧版本不列问题）。"),
    ("应报", "名单中的单位和项目。直接汇总文件夹（无名单）时应报为空，未提交清单为空。"),
    ("已报", "收到回传的名单项目数，加上未能匹配名单的回传数（按文件中的单位代码推断地区）。同一项目多次回传只算一次，以最新一份为准。"),
    ("未提交", "名单中没有收到任何回传的项目。“未提交”工作表列出名单中所有没有合格回传的项目，"
            "情况为“未提交”（没有回传）或“有错误”（最新一份回传有错误或无法识别）。"),
    ("单位数", "按单位代码（无名单时按单位名称）计数。一个单位的全部应报项目均有合格回传时，计为“全部合格”。"),
    ("全年预算数、全年执行数", "取自各表“年度资金总额”行（万元）；该行与各资金来源之和不一致时取各来源之和。"),
    ("执行率", "Σ全年执行数 ÷ Σ全年预算数（对所列范围内计入汇总的回传求和后再相除，不是各项目执行率的平均数）。"
             "没有全年预算数的回传，其执行数仍计入Σ全年执行数。"),
    ("总分", "预算执行率得分加各三级指标得分，由系统按表中数据重新计算，不采用表中打印的总分。平均、中位数、最低、最高总分只统计计入汇总的回传。"),
    ("等级", "按表式规定的分数段由重新计算的总分确定；各等级项目数占比的分母是计入汇总且有等级的项目数，"
           "资金占比的分母是这些项目的Σ全年预算数。"),
    ("地区汇总", "省 → 市 → 县（区）逐级由下级相加：县（区）和“本级”的合计等于所在市，市和“省本级”的合计等于省。"
             "单位所在地区取名单中的行政区划代码；直辖市的区县直接归属该市。"),
    ("指标完成情况", "按实际完成值对年度指标值的完成程度（评分规则的建议得分占分值的比例）判定：达到100%为完成，60%（含）至100%为部分完成，"
               "低于60%为未完成；无法计算建议得分时按填报得分占分值的比例判定；定性指标按评价档次判定。"
               "指标分析只统计计入汇总的回传；“未完全完成”= 部分完成 + 未完成。"),
    ("指标名称归并", "跨单位比较三级指标时，名称经全角半角统一、去空格、去“指标1：”等编号后比较。"),
    ("执行率标记", f"执行率低于 {LOW_RATE:.0%} 的单元格标为红色；等级为“差”“较差”的单元格标为红色。"),
    ("总分分布", "<60、60–70、70–80、80–90、≥90，每段含下限、不含上限。"),
    ("疑似雷同说明", f"不同单位回传中完全相同或几乎相同（去掉空格、标点并把数字视为相同后，相似度不低于 {SIMILAR_RATIO:.0%}）"
               f"的偏差原因或年度总体目标完成情况综述，至少 {SIMILAR_MIN_CHARS} 个字；每组最多列出 {SIMILAR_SHOWN} 个单位和位置，"
               "其余以“等”表示；仅供审核参考，不是错误。"),
    ("时间", "生成时间、收到时间均为北京时间（UTC+8）。"),
    ("省本级", "行政区划代码为省级代码的单位（省本级）列在省一级，上级为该省。"),
]


# ------------------------------------------------------------------ columns

REGION_COLUMNS_HEAD = (
    Column("level", "层级", width=8), Column("code", "区划代码", width=10), Column("parent", "上级代码", width=10),
    Column("name", "地区名称", width=16),
    Column("expected", "应报项目", "int"), Column("returned", "已报项目", "int"), Column("valid", "合格项目", "int"),
    Column("with_errors", "有错误", "int"), Column("missing", "未提交", "int"),
    Column("units_expected", "应报单位", "int"), Column("units_returned", "已报单位", "int"),
    Column("initial_budget", "Σ年初预算数（万元）", "money"), Column("budget", "Σ全年预算数（万元）", "money"),
    Column("spent", "Σ全年执行数（万元）", "money"), Column("rate", "执行率", "rate"),
    Column("scored", "有总分项目", "int"), Column("mean_score", "平均总分", "score"),
)

PROJECT_COLUMNS = (
    Column("no", "序号", "int", 6),
    Column("province", "省", width=10), Column("city", "市", width=12), Column("county", "县（区）", width=12),
    Column("region_code", "区划代码", width=10),
    Column("unit_code", "单位代码", width=14), Column("unit", "单位名称", width=24),
    Column("project", "项目名称", width=30), Column("project_code", "项目代码", width=18),
    Column("initial_budget", "年初预算数（万元）", "money"), Column("budget", "全年预算数（万元）", "money"),
    Column("spent", "全年执行数（万元）", "money"), Column("rate", "执行率", "rate"),
    Column("funds_score", "预算执行得分", "score"), Column("total_score", "总分", "score"), Column("grade", "等级", width=8),
    Column("status", "状态", width=12), Column("counted", "计入汇总", width=8),
    Column("errors", "错误数", "int"), Column("warnings", "警告数", "int"),
    Column("in_roster", "名单内", width=8), Column("received_at", "收到时间（北京时间）", width=20),
    Column("source", "来源文件", width=40),
)

INDICATOR_COLUMNS = (
    Column("county", "县（区）", width=12), Column("unit", "单位名称", width=24), Column("project", "项目名称", width=30),
    Column("level1", "一级指标", width=12), Column("level2", "二级指标", width=14), Column("name", "三级指标", width=30),
    Column("target", "年度指标值", width=14), Column("actual", "实际完成值", width=14),
    Column("weight", "分值", "score"), Column("score", "得分", "score"), Column("suggested_score", "建议得分", "score"),
    Column("status", "完成情况", width=10), Column("cell", "单元格", width=8), Column("counted", "计入汇总", width=8),
    Column("source", "来源文件", width=40),
)

ANALYSIS_COLUMNS = (
    Column("level", "层级", width=8), Column("level1", "一级指标", width=12), Column("level2", "二级指标", width=14),
    Column("count", "指标数", "int"),
    Column("met", "完成", "int"), Column("partly", "部分完成", "int"), Column("not_met", "未完成", "int"),
    Column("unknown", "未能判定", "int"),
    Column("met_share", "完成占比", "share"), Column("partly_share", "部分完成占比", "share"),
    Column("not_met_share", "未完成占比", "share"),
)

TOP_COLUMNS = (
    Column("rank", "排名", "int", 6), Column("name", "三级指标（归并后）", width=30), Column("count", "出现次数", "int"),
    Column("not_fully_met", "未完全完成", "int"), Column("partly", "部分完成", "int"), Column("not_met", "未完成", "int"),
    Column("share", "未完全完成占比", "share"), Column("units", "涉及单位数", "int"),
    Column("level1", "一级指标", width=12), Column("level2", "二级指标", width=14),
)

FINDING_COLUMNS = (
    Column("county", "县（区）", width=12), Column("unit", "单位名称", width=24), Column("project", "项目名称", width=30),
    Column("file", "文件", width=36), Column("sheet", "工作表", width=20), Column("cell", "单元格", width=8),
    Column("code", "问题代码", width=22), Column("severity", "严重程度", width=8), Column("message", "问题说明", width=70),
)

MISSING_COLUMNS = (
    Column("province", "省", width=10), Column("city", "市", width=12), Column("county", "县（区）", width=12),
    Column("region_code", "区划代码", width=10),
    Column("unit_code", "单位代码", width=14), Column("unit", "单位名称", width=24),
    Column("project", "项目名称", width=30), Column("project_code", "项目代码", width=18),
    Column("budget", "名单预算数（万元）", "money"),
    Column("contact", "联系人", width=18), Column("email", "邮箱", width=28),
    Column("reason", "情况", width=8), Column("errors", "错误数", "int"), Column("source", "最新回传文件", width=36),
)

SIMILAR_COLUMNS = (
    Column("no", "组号", "int", 6), Column("kind", "类别", width=16), Column("match", "相同程度", width=10),
    Column("units", "单位数", "int"), Column("text", "说明内容", width=60), Column("unit_names", "单位", width=36),
    Column("places", "位置（文件 · 单元格）", width=60),
)

OVERVIEW_COLUMNS = (Column("item", "项目", width=26), Column("value", "数值", "number", 16), Column("unit", "单位", width=8))

GRADE_COLUMNS = (
    Column("grade", "等级", width=10), Column("projects", "项目数", "int"), Column("share", "项目数占比", "share"),
    Column("budget", "Σ全年预算数（万元）", "money"), Column("budget_share", "资金占比", "share"),
    Column("spent", "Σ全年执行数（万元）", "money"),
)

BUCKET_COLUMNS = (Column("bucket", "总分区间", width=10), Column("projects", "项目数", "int"),
                  Column("share", "占比", "share"))

CITY_RATE_COLUMNS = (Column("name", "市", width=16), Column("budget", "Σ全年预算数（万元）", "money"),
                     Column("spent", "Σ全年执行数（万元）", "money"), Column("rate", "执行率", "rate"))
