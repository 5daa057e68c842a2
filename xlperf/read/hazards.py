"""Content in a return that could run something on the next computer that opens it.

A return travels on: to the province clerk's Excel, into feedback copies mailed
back to counties. DDE formulas (`=cmd|' /C calc'!A0`), links to other
workbooks (`[1]Sheet1!A1`, UNC paths), VBA projects and `javascript:` or
`file:` hyperlinks have no place in a self-evaluation form. The readers note
them here (what and where); the check turns each into a warning and the
feedback copy leaves them out.
"""
from __future__ import annotations

import functools
import posixpath
import re
from xml.etree.ElementTree import fromstring

# cmd|' /C calc'!A0, =DDE("cmd";...), MSEXCEL|'\..\..\Windows\System32\cmd.exe /c calc'!''
_DDE = re.compile(r"(?:^|[=+\-*/(,;&\s@])'?[A-Za-z0-9_.\\\- ]+'?\|'[^']*'!|\bDDE(?:AUTO)?\s*\(", re.I)
_EXTERNAL = re.compile(r"\[\d+\][^!]*!|\[[^\]]+\.(?:xls[xmb]?|ods|csv)\]", re.I)
_UNC = re.compile(r"\\\\[^\\\s]+\\")
_URL_FUNCS = re.compile(r"\b(?:WEBSERVICE|CALL|REGISTER|EXEC|FILTERXML)\s*\(", re.I)
BAD_SCHEMES = ("javascript:", "vbscript:", "file:", "data:", "\\\\", "ms-", "mhtml:")
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"


@functools.lru_cache(maxsize=65_536)      # pure; a season's formulas come from a few templates
def formula_hazard(text: str) -> str:
    """A Chinese description of what makes this formula dangerous, or ""."""
    if not text:
        return ""
    if _DDE.search(text):
        return "DDE 公式（可在打开时运行外部程序）"
    if _UNC.search(text):
        return "引用网络路径（UNC）的公式"
    if _EXTERNAL.search(text):
        return "引用其他工作簿的外部链接公式"
    if _URL_FUNCS.search(text):
        return "调用外部程序或网络的函数"
    return ""


def package_hazards(names: list[str], read) -> list[tuple[str, str, str]]:
    """(sheet part, "", description) for VBA, external links and dangerous hyperlinks of an OOXML zip.

    `read(name)` returns a part's bytes (size-capped by the caller) or None.
    """
    out: list[tuple[str, str, str]] = []
    lower = [n.lower() for n in names]
    if any(n.endswith("vbaproject.bin") for n in lower):
        out.append(("", "", "含 VBA 宏工程（.xlsm）"))
    if any(n.startswith("xl/externallinks/") and n.endswith(".xml") for n in lower):
        out.append(("", "", "含指向其他工作簿的外部链接"))
    if any(n.startswith("xl/connections") for n in lower):
        out.append(("", "", "含外部数据连接"))
    for name in names:
        low = name.lower()
        if not (low.startswith("xl/worksheets/_rels/") and low.endswith(".rels")):
            continue
        data = read(name)
        if not data:
            continue
        try:
            root = fromstring(data)
        except Exception:  # noqa: BLE001 — a broken rels part is the reader's business, not a hazard
            continue
        sheet_part = posixpath.basename(name)[:-5]
        for rel in root.iter(_REL):
            target = (rel.get("Target") or "").strip()
            if (rel.get("Type") or "").endswith("/hyperlink") and target.lower().startswith(BAD_SCHEMES):
                out.append((sheet_part, "", f"含危险超链接（{target[:60]}）"))
    return out
