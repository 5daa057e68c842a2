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


# 湖南省 (430000) prefecture- and county-level divisions, for the sample roster
# and demo (roster.sample_roster). Real GB/T 2260 codes as of 2023.
HUNAN_CITIES: dict[str, str] = {
    "430100": "长沙市", "430200": "株洲市", "430300": "湘潭市", "430400": "衡阳市", "430500": "邵阳市",
    "430600": "岳阳市", "430700": "常德市", "430800": "张家界市", "430900": "益阳市", "431000": "郴州市",
    "431100": "永州市", "431200": "怀化市", "431300": "娄底市", "433100": "湘西土家族苗族自治州",
}

HUNAN_COUNTIES: dict[str, dict[str, str]] = {
    "430100": {"430102": "芙蓉区", "430103": "天心区", "430104": "岳麓区", "430105": "开福区", "430111": "雨花区",
               "430112": "望城区", "430121": "长沙县", "430181": "浏阳市", "430182": "宁乡市"},
    "430200": {"430202": "荷塘区", "430203": "芦淞区", "430204": "石峰区", "430211": "天元区", "430212": "渌口区",
               "430223": "攸县", "430224": "茶陵县", "430225": "炎陵县", "430281": "醴陵市"},
    "430300": {"430302": "雨湖区", "430304": "岳塘区", "430321": "湘潭县", "430381": "湘乡市", "430382": "韶山市"},
    "430400": {"430405": "珠晖区", "430406": "雁峰区", "430407": "石鼓区", "430408": "蒸湘区", "430412": "南岳区",
               "430421": "衡阳县", "430422": "衡南县", "430423": "衡山县", "430424": "衡东县", "430426": "祁东县",
               "430481": "耒阳市", "430482": "常宁市"},
    "430500": {"430502": "双清区", "430503": "大祥区", "430511": "北塔区", "430522": "新邵县", "430523": "邵阳县",
               "430524": "隆回县", "430525": "洞口县", "430527": "绥宁县", "430528": "新宁县",
               "430529": "城步苗族自治县", "430581": "武冈市", "430582": "邵东市"},
    "430600": {"430602": "岳阳楼区", "430603": "云溪区", "430611": "君山区", "430621": "岳阳县", "430623": "华容县",
               "430624": "湘阴县", "430626": "平江县", "430681": "汨罗市", "430682": "临湘市"},
    "430700": {"430702": "武陵区", "430703": "鼎城区", "430721": "安乡县", "430722": "汉寿县", "430723": "澧县",
               "430724": "临澧县", "430725": "桃源县", "430726": "石门县", "430781": "津市市"},
    "430800": {"430802": "永定区", "430811": "武陵源区", "430821": "慈利县", "430822": "桑植县"},
    "430900": {"430902": "资阳区", "430903": "赫山区", "430921": "南县", "430922": "桃江县", "430923": "安化县",
               "430981": "沅江市"},
    "431000": {"431002": "北湖区", "431003": "苏仙区", "431021": "桂阳县", "431022": "宜章县", "431023": "永兴县",
               "431024": "嘉禾县", "431025": "临武县", "431026": "汝城县", "431027": "桂东县", "431028": "安仁县",
               "431081": "资兴市"},
    "431100": {"431102": "零陵区", "431103": "冷水滩区", "431122": "东安县", "431123": "双牌县", "431124": "道县",
               "431125": "江永县", "431126": "宁远县", "431127": "蓝山县", "431128": "新田县",
               "431129": "江华瑶族自治县", "431181": "祁阳市"},
    "431200": {"431202": "鹤城区", "431221": "中方县", "431222": "沅陵县", "431223": "辰溪县", "431224": "溆浦县",
               "431225": "会同县", "431226": "麻阳苗族自治县", "431227": "新晃侗族自治县", "431228": "芷江侗族自治县",
               "431229": "靖州苗族侗族自治县", "431230": "通道侗族自治县", "431281": "洪江市"},
    "431300": {"431302": "娄星区", "431321": "双峰县", "431322": "新化县", "431381": "冷水江市", "431382": "涟源市"},
    "433100": {"433101": "吉首市", "433122": "泸溪县", "433123": "凤凰县", "433124": "花垣县", "433125": "保靖县",
               "433126": "古丈县", "433127": "永顺县", "433130": "龙山县"},
}


# ---------------------------------------------------------------- hierarchy for reports

UNKNOWN_REGION = "未识别地区"


def names_table(pairs) -> dict[str, str]:
    """Region names: the built-in 湖南 tables, overridden by (code, name) pairs from the roster."""
    names: dict[str, str] = dict(HUNAN_CITIES)
    for counties in HUNAN_COUNTIES.values():
        names.update(counties)
    for code, name in pairs:
        code = normalize_code(code)
        reg = parse_code(code) if code else None
        if name and reg is not None and reg.level != COUNTY and name.strip().endswith("本级"):
            name = name.strip()[:-2]          # "湖南省本级" names the province's own units, not the province
        if code and name:
            names[code] = name
    return names


PROVINCE_OWN = "省本级"


def is_province_own(key: str, level: str, code: str) -> bool:
    """The leaf of a province's own units (湖南省本级): shown at province level, not as a 市."""
    return key.endswith("/本级") and level == CITY and province_of(code) == code


def chain(code: str, names: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(key, level, code, name) from province down to the leaf the unit sits in.

    Units of a province or city itself sit in a "本级" leaf one level down, so
    the leaves under every region add up to it exactly. Status and the summary
    workbook both count regions this way, so their figures agree.
    """
    reg = parse_code(code)
    if reg is None:
        return [(UNKNOWN_REGION, PROVINCE, "", UNKNOWN_REGION)]
    prov = reg.province
    pname = name_of(prov, names)
    out = [(prov, PROVINCE, prov, pname)]
    if reg.level == PROVINCE:
        out.append((prov + "/本级", CITY, prov, f"{pname}本级"))
        return out
    city = city_of(code)
    if city == prov:  # 直辖市: districts roll straight up to the municipality
        out.append((code, COUNTY, code, name_of(code, names)))
        return out
    cname = name_of(city, names)
    out.append((city, CITY, city, cname))
    if reg.level == CITY:
        out.append((city + "/本级", COUNTY, city, f"{cname}本级"))
    else:
        out.append((code, COUNTY, code, name_of(code, names)))
    return out
