"""GB/T 2260 administrative division codes: the 省 → 市 → 县 hierarchy for summaries.

A roster carries one 6-digit 行政区划代码 per unit. Aggregation (domain §10)
rolls units up to 市 and 省 from the code alone, so it works for any province
without shipping the full national table; names come from the roster's own
地区名称 column, with the 34 province-level names built in as a fallback.

Codes arrive from Excel in many shapes (430527, 430527.0, "430527.0",
full-width digits, surrounding spaces); `parse_code` accepts them all and
rejects anything that is not a plausible code, so a typo is caught at import.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

PROVINCE = "province"
CITY = "city"
COUNTY = "county"

# The 34 province-level divisions (省级行政区), keyed by their 2-digit prefix.
PROVINCE_NAMES: dict[str, str] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}

# 直辖市 have no real prefecture level: their xx01xx/xx02xx "市辖区"/"县" groups
# are bookkeeping, not cities. We roll their districts straight up to the municipality.
MUNICIPALITIES = frozenset({"11", "12", "31", "50"})

_SIX_DIGITS = re.compile(r"^\d{6}$")
_EXCEL_FLOAT = re.compile(r"^(\d{6})\.0*$")


@dataclass(frozen=True)
class Region:
    code: str
    level: str  # PROVINCE | CITY | COUNTY

    @property
    def province(self) -> str:
        return self.code[:2] + "0000"

    @property
    def city(self) -> str:
        return city_of(self.code)


def normalize_code(code: object) -> str:
    """The code as a plain string: NFKC, trimmed, an Excel float's ".0" removed; not validated."""
    if code is None or isinstance(code, bool):
        return ""
    if isinstance(code, float):
        return str(int(code)) if code.is_integer() else str(code)
    s = unicodedata.normalize("NFKC", str(code)).strip()
    m = _EXCEL_FLOAT.match(s)
    return m.group(1) if m else s


def parse_code(code: object) -> Region | None:
    """A `Region` for a valid 6-digit code with a known province prefix, else None."""
    s = normalize_code(code)
    if not _SIX_DIGITS.match(s) or s[:2] not in PROVINCE_NAMES:
        return None
    if s[2:] == "0000":
        return Region(s, PROVINCE)
    if s[4:] == "00":
        return Region(s, CITY)
    return Region(s, COUNTY)


def _require(code: object) -> Region:
    r = parse_code(code)
    if r is None:
        raise ValueError(f"行政区划代码“{normalize_code(code) or code}”应为6位数字（GB/T 2260）")
    return r


def province_of(code: object) -> str:
    """The province-level code, e.g. 430527 → 430000. ValueError for an invalid code."""
    return _require(code).province


def city_of(code: object) -> str:
    """The prefecture-level code a county rolls up to, e.g. 430527 → 430500.

    A province's own code maps to itself. In a 直辖市 every district and county
    (and the 110100-style "市辖区" group) maps to the municipality itself, e.g.
    110101 → 110000, so a Beijing unit shows up under 北京市 at both levels
    instead of under a meaningless "市辖区". ValueError for an invalid code.
    """
    r = _require(code)
    if r.level == PROVINCE or r.code[:2] in MUNICIPALITIES:
        return r.province
    return r.code[:4] + "00"


def name_of(code: object, names: dict[str, str] | None = None) -> str:
    """Display name: from `names` (e.g. the roster's 地区名称), else a province name, else the code."""
    s = normalize_code(code)
    if names:
        hit = names.get(s)
        if hit:
            return hit
    r = parse_code(s)
    if r is not None and (r.level == PROVINCE or (r.code[:2] in MUNICIPALITIES and city_of(s) == r.province
                                                  and r.level == CITY)):
        return PROVINCE_NAMES[r.code[:2]]
    return s
