"""The form's content, independent of any workbook.

The writer fills a template from a `FormData` (roster pre-fill, or a complete
example); the locator extracts a `FormData` from a returned workbook. Values
stay raw here (text or numbers as typed); parsing them is validation's job.
Everything is plain data so it pickles across process pools.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FundsLine:
    key: str                                   # total | current | carryover | other | …
    label: str = ""
    values: dict[str, object] = field(default_factory=dict)   # column key -> raw value
    cells: dict[str, str] = field(default_factory=dict)       # column key -> A1 address
    formats: dict[str, str] = field(default_factory=dict)     # column key -> number format


@dataclass
class IndicatorLine:
    level1: str = ""
    level2: str = ""
    name: str = ""
    target: object = None
    actual: object = None
    weight: object = None
    score: object = None
    reason: str = ""
    direction: str = ""                        # 正向 / 反向 when the form has a column saying so
    row: int | None = None                     # 1-based sheet row
    cells: dict[str, str] = field(default_factory=dict)       # field key -> A1 address
    formats: dict[str, str] = field(default_factory=dict)


@dataclass
class FormData:
    header: dict[str, object] = field(default_factory=dict)  # project_name, unit, department, …
    funds: list[FundsLine] = field(default_factory=list)
    goal_planned: str = ""
    goal_actual: str = ""
    indicators: list[IndicatorLine] = field(default_factory=list)
    printed: dict[str, object] = field(default_factory=dict)  # total_weight, total_score, grade as shown
    narratives: dict[str, str] = field(default_factory=dict)  # 评价结论, 存在问题, … by key (labels.yaml narratives)
    cells: dict[str, str] = field(default_factory=dict)       # header/goal/total field -> A1

    def funds_line(self, key: str) -> FundsLine | None:
        return next((f for f in self.funds if f.key == key), None)
