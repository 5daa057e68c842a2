"""A believable sample roster (湖南 counties, 医保 projects) for the demo, tests and benchmarks."""
from __future__ import annotations

import random

from ..form.samples import SAMPLE_INDICATORS
from . import regions
from .roster import LEVEL1_WEIGHTS, LEVEL2_BY_LEVEL1, RosterRow, TargetRow


SAMPLE_PROJECTS: list[tuple[str, tuple[float, float]]] = [
    # project name, typical 年初预算数 range for a county (万元)
    ("城乡居民基本医疗保险补助资金", (1500.0, 9000.0)),
    ("医疗救助补助资金", (200.0, 1500.0)),
    ("医疗服务与保障能力提升补助资金", (50.0, 400.0)),
    ("医疗保障信息化建设经费", (30.0, 200.0)),
    ("医保基金监管工作经费", (10.0, 80.0)),
]
# Cities first in this order (绥宁县 of 邵阳市 is the seed county of the domain notes), then the rest by code.
_CITY_ORDER = ["430500", "430100", "430300", "430600", "431100"]
_COUNTY_FIRST = ["430527", "430528", "430523"]
_AREA_CODES = {"430100": "0731", "430200": "0731", "430300": "0731", "430400": "0734", "430500": "0739",
               "430600": "0730", "430700": "0736", "430800": "0744", "430900": "0737", "431000": "0735",
               "431100": "0746", "431200": "0745", "431300": "0738", "433100": "0743"}
_SURNAMES = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢唐邓彭曾肖田"
_GIVEN = ["明", "芳", "伟", "娟", "军", "敏", "静", "磊", "洋", "勇", "艳", "杰", "涛", "丽", "强", "平",
          "建华", "志强", "红梅", "海燕", "晓东", "文娟", "国庆", "小红", "建军", "秀英"]
_MAX_CITIES = 30
_MAX_COUNTIES = 28


def _sample_cities(n: int) -> list[tuple[str, str]]:
    codes = _CITY_ORDER + [c for c in regions.HUNAN_CITIES if c not in _CITY_ORDER]
    out = [(c, regions.HUNAN_CITIES[c]) for c in codes[:n]]
    k, prefix = 0, 14
    while len(out) < n:  # beyond 湖南's 14: plausible but clearly made-up
        code = f"43{prefix:02d}00"
        prefix += 1
        if code in regions.HUNAN_CITIES:
            continue
        k += 1
        out.append((code, f"示例市{k}"))
    return out


def _sample_counties(city: str, city_name: str, n: int) -> list[tuple[str, str]]:
    real = regions.HUNAN_COUNTIES.get(city, {})
    first = [c for c in _COUNTY_FIRST if c in real]
    codes = first + [c for c in real if c not in first]
    out = [(c, real[c]) for c in codes[:n]]
    stem = city_name[:-1] if city_name.endswith(("市", "州")) and len(city_name) > 2 else city_name
    suffix, k = 71, 0
    while len(out) < n:  # beyond the real table: plausible codes, names marked as made-up
        code = f"{city[:4]}{suffix:02d}"
        suffix += 1
        if code not in real:
            k += 1
            out.append((code, f"{stem}示例县{k}"))
    return out


def _spread(total: float, n: int) -> list[float]:
    if n == 0:
        return []
    base = round(total / n, 2)
    return [base] * (n - 1) + [round(total - base * (n - 1), 2)]


def sample_targets(budget: float | None, *, first_row: int = 2) -> list[TargetRow]:
    """The sample indicators (xlperf.form.samples) for one project, weighted 50/30/10."""
    out: list[TargetRow] = []
    for level1, weight in LEVEL1_WEIGHTS.items():
        lines = [(l2, name, target) for l2 in LEVEL2_BY_LEVEL1[level1]
                 for name, target, *_ in SAMPLE_INDICATORS.get(l2, [])]
        for (l2, name, target), w in zip(lines, _spread(weight, len(lines))):
            if l2 == "成本指标" and budget is not None:
                target = f"≤{budget:g}万元"
            out.append(TargetRow(row_no=first_row + len(out), level1=level1, level2=l2, name=name,
                                 weight=w, target=target))
    return out


SAMPLE_GOAL = "保障城乡居民基本医疗保险制度平稳运行，推进医保信息化和支付方式改革，提升经办服务能力。"


def sample_roster(n_cities: int = 3, counties_per_city: int = 3, projects: int = 2, seed: int = 0) -> list[RosterRow]:
    """A realistic roster for the sample province 湖南省 (430000); deterministic per seed.

    Row numbers are those the rows get in a template written in this order, so
    `load_roster(write_roster_template(p, rows)) == rows`.
    """
    if not 1 <= n_cities <= _MAX_CITIES:
        raise ValueError(f"n_cities must be 1..{_MAX_CITIES}")
    if not 1 <= counties_per_city <= _MAX_COUNTIES:
        raise ValueError(f"counties_per_city must be 1..{_MAX_COUNTIES}")
    if not 1 <= projects <= len(SAMPLE_PROJECTS):
        raise ValueError(f"projects must be 1..{len(SAMPLE_PROJECTS)}")
    rng = random.Random(seed)
    rows: list[RosterRow] = []
    target_row = 2
    for city, city_name in _sample_cities(n_cities):
        area = _AREA_CODES.get(city, "0731")
        for county, county_name in _sample_counties(city, city_name, counties_per_city):
            unit = f"{county_name}医疗保障局"
            contact = f"{rng.choice(_SURNAMES)}{rng.choice(_GIVEN)} {area}-{rng.randint(2000000, 8999999)}"
            for i, (project, (low, high)) in enumerate(SAMPLE_PROJECTS[:projects], start=1):
                initial = round(rng.uniform(low, high), 2)
                budget = round(initial * rng.choice((1.0, 1.0, 1.0, 1.05, 1.1, 0.95)), 2)
                targets = sample_targets(budget, first_row=target_row)
                target_row += len(targets)
                rows.append(RosterRow(
                    row_no=len(rows) + 2, unit_code=f"{county}001", unit_name=unit, region_code=county,
                    region_name=county_name, department=unit, contact=contact, email=f"ybj{county}@example.gov.cn",
                    project_name=project, project_code=f"{county}24T{i:06d}", initial_budget=initial,
                    budget=budget, targets=targets, goal=SAMPLE_GOAL))
    return rows
