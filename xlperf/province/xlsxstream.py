"""Body rows of big sheets streamed straight into an XlsxWriter-made xlsx, one row at a time.

XlsxWriter keeps every cell of a sheet until `close()` (or, in constant_memory mode, costs
twice the time per cell); at a province's hundreds of thousands of rows that was most of the
summary's time and memory. So XlsxWriter writes the workbook with only the header row of each
big sheet (formats, autofilter, panes, conditional formats, print setup included), and `splice`
then copies its zip once, streaming each big sheet's body rows, made from the table rows as they
come, into the sheet's XML just before `</sheetData>`.

Each cell is what XlsxWriter itself writes for `write_string` / `write_number` / `write_blank`:
text as an inline string (never a formula, so a county's "=HYPERLINK(...)" stays text),
XML-escaped, characters XML cannot carry as Excel's `_xHHHH_` escapes (and a literal "_xHHHH_"
as "_x005F_xHHHH_"), `xml:space="preserve"` around leading or trailing white space, at most
32,767 UTF-16 units (Excel's limit for one cell); numbers finite only, anything else a blank
that keeps its format. One deliberate difference: XlsxWriter writes a string that looks like
rich-text XML ("<r>…</r>") into the file unescaped; here it is escaped like any text.
"""
from __future__ import annotations

import math
import re
import zipfile
from dataclasses import dataclass, field
from itertools import islice
from typing import Iterable, Iterator
from xml.etree import ElementTree as ET

from xlsxwriter.utility import xl_col_to_name

MAX_TEXT = 32767            # Excel's limit for one cell, in UTF-16 units
# zlib level of the spliced workbook. Measured on 指标明细 of a synthetic 10,000 returns (97 MB of
# sheet XML, benchmarks/bench_summary_write.py): level 1 deflates at ~530 MB/s to 7.7 % of the XML,
# level 6 (XlsxWriter's) at ~160 MB/s to 6.7 %, level 9 at 18 MB/s to 5.6 %. Level 1 takes a third
# of level 6's time for a file 15 % larger.
ZIP_LEVEL = 1
ROWS_PER_WRITE = 500        # rows joined before each write into the zip entry

_SPECIAL = re.compile(r"[&<>\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")
_LITERAL_ESCAPE = re.compile(r"(_x[0-9A-Fa-f]{4}_)")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
       "p": "http://schemas.openxmlformats.org/package/2006/relationships"}


def excel_text(text: str) -> str:
    """At most MAX_TEXT UTF-16 units (a character above U+FFFF counts 2 and is never split)."""
    if len(text) <= MAX_TEXT // 2:
        return text
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > MAX_TEXT:
            return text[:i]
    return text


def xml_text(text: str) -> str:
    """Text as the content of <t>: XML-escaped, Excel's _xHHHH_ for what XML cannot carry."""
    if not _SPECIAL.search(text):
        return text
    if "_x" in text:
        text = _LITERAL_ESCAPE.sub(r"_x005F\1", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


@dataclass(frozen=True)
class CellPlan:
    """How one column's cells are written: `kind` "text" or "number", with its style (xf index).

    Text containing a newline gets `wrap_style`. A column whose kind each row decides (its "_kind")
    gives `by_row`: row kind → (kind, style); a row kind not listed uses (kind, style) itself.
    """

    key: str
    kind: str
    style: int
    wrap_style: int = 0
    by_row: dict[str, tuple[str, int]] | None = None


@dataclass
class BodyPart:
    """Body rows [start, start + count) of `rows` written into sheet `sheet` from its row 2 on."""

    sheet: str
    rows: object                        # the table's rows: len(), iteration
    start: int
    count: int
    cells: tuple[CellPlan, ...]
    first_row: int = 2                  # Excel row number of the first body row (row 1 is the header)
    part: str = field(default="", init=False)


def _number(v: object) -> str | None:
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return f"{float(v):.16G}"


def _text_cell(v: object, ref: str, s: int, sw: int) -> str:
    """One text cell the careful way (the fast path in `_column` takes plain short one-line text)."""
    if v is None or v == "":
        return f'<c r="{ref}" s="{s}"/>'
    t = excel_text(v if v.__class__ is str else str(v))
    style = sw if "\n" in t else s
    t = xml_text(t)
    space = ' xml:space="preserve"' if t[0].isspace() or t[-1].isspace() else ""
    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t{space}>{t}</t></is></c>'


def _number_cell(v: object, ref: str, s: int) -> str:
    x = _number(v)
    return f'<c r="{ref}" s="{s}"/>' if x is None else f'<c r="{ref}" s="{s}"><v>{x}</v></c>'


# Text the fast path in `_column` leaves to `_text_cell`: escapes, or a newline (the wrap format).
_CAREFUL = re.compile(r"[\n&<>\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]|_x[0-9A-Fa-f]{4}_")


def _column(plan: CellPlan, letter: str, rows: list[dict], nums: list[str], plain: set[str]) -> list[str]:
    """The cells of one column for a block of rows (a comprehension per column is the fast loop).

    `plain` holds this column's texts already found to need nothing (short, one line, no escapes,
    no white space at either end): county names, levels and statuses repeat, and a set lookup
    costs a fraction of the checks.
    """
    key, s = plan.key, plan.style
    values = [row.get(key) for row in rows]
    if plan.by_row is not None:
        kinds = [plan.by_row.get(row.get("_kind", "score"), (plan.kind, s)) for row in rows]
        return [_text_cell(v, letter + r, k[1], plan.wrap_style) if k[0] == "text" else _number_cell(v, letter + r, k[1])
                for v, r, k in zip(values, nums, kinds)]
    if plan.kind == "text":
        sw = plan.wrap_style
        return [f'<c r="{letter}{r}" s="{s}" t="inlineStr"><is><t>{v}</t></is></c>'
                if v.__class__ is str and (v in plain or _plain_text(v, plain)) else _text_cell(v, letter + r, s, sw)
                for v, r in zip(values, nums)]
    return [f'<c r="{letter}{r}" s="{s}"><v>{v:.16G}</v></c>'
            if (v.__class__ is float or v.__class__ is int) and v - v == 0 else _number_cell(v, letter + r, s)
            for v, r in zip(values, nums)]


PLAIN_MEMO = 4_096      # texts remembered per column (bounded memory), then forgotten all at once


def _plain_text(v: str, plain: set[str]) -> bool:
    """Whether `v` can go into <t> as it is; remembered in `plain` when it can."""
    if not v or len(v) > MAX_TEXT // 2 or v[0].isspace() or v[-1].isspace() or _CAREFUL.search(v):
        return False
    if len(plain) >= PLAIN_MEMO:
        plain.clear()
    plain.add(v)
    return True


def body_xml(rows: Iterable[dict], cells: tuple[CellPlan, ...], first_row: int) -> Iterator[str]:
    """The <row> elements of `rows`, numbered from `first_row`, ROWS_PER_WRITE rows per string."""
    letters = [xl_col_to_name(j) for j in range(len(cells))]
    memo: list[set[str]] = [set() for _ in cells]
    it = iter(rows)
    r0 = first_row
    while True:
        block = list(islice(it, ROWS_PER_WRITE))
        if not block:
            return
        nums = [str(r) for r in range(r0, r0 + len(block))]
        columns = [_column(c, letter, block, nums, plain) for c, letter, plain in zip(cells, letters, memo)]
        yield "".join([f'<row r="{r}">{"".join(row)}</row>' for r, row in zip(nums, zip(*columns))])
        r0 += len(block)


def sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → its zip member, from the workbook part and its relationships."""
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels.findall("p:Relationship", _NS)}
    book = ET.fromstring(z.read("xl/workbook.xml"))
    out = {}
    for s in book.iterfind("m:sheets/m:sheet", _NS):
        t = target[s.get(f"{{{_NS['r']}}}id")]
        out[s.get("name")] = t.lstrip("/") if t.startswith("/") else "xl/" + t
    return out


class _NeedsZip64(Exception):
    pass


def splice(src, dst, parts: list[BodyPart], level: int | None = None) -> None:
    """Copy the xlsx `src` to `dst`, streaming each part's body rows into its sheet.

    A table's rows are iterated once for all its parts (its continuation sheets follow one another
    in the workbook). A sheet's XML larger than the zip's 2 GiB limit writes everything again
    with Zip64 for the body sheets, rather than a file Excel would refuse.
    """
    level = ZIP_LEVEL if level is None else level
    try:
        _splice(src, dst, parts, level, zip64=False)
    except _NeedsZip64:
        _splice(src, dst, parts, level, zip64=True)


def _splice(src, dst, parts: list[BodyPart], level: int, zip64: bool) -> None:
    iters: dict[int, list] = {}         # id(rows) → [iterator, rows consumed]
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        names = sheet_parts(zin)
        by_part = {}
        for p in parts:
            p.part = names[p.sheet]
            by_part[p.part] = p
        for info in zin.infolist():
            out = zipfile.ZipInfo(info.filename, info.date_time)
            out.compress_type = zipfile.ZIP_DEFLATED
            out.external_attr = info.external_attr
            setattr(out, "compress_level" if hasattr(zipfile.ZipInfo, "compress_level") else "_compresslevel", level)
            p = by_part.get(info.filename)
            if p is None:
                zout.writestr(out, zin.read(info))
                continue
            state = iters.setdefault(id(p.rows), [None, 0])
            if state[0] is None:
                state[0] = iter(p.rows)
            if state[1] != p.start:
                raise ValueError(f"{p.sheet}: body parts of one table out of order")
            xml = zin.read(info).decode("utf-8")
            head, tail = _split_sheet(xml, p)
            try:
                with zout.open(out, "w", force_zip64=zip64) as w:
                    w.write(head.encode("utf-8"))
                    for chunk in body_xml(islice(state[0], p.count), p.cells, p.first_row):
                        w.write(chunk.encode("utf-8"))
                    w.write(tail.encode("utf-8"))
            except RuntimeError as e:
                if "force_zip64" in str(e) and not zip64:
                    raise _NeedsZip64 from e
                raise
            state[1] += p.count


def _split_sheet(xml: str, p: BodyPart) -> tuple[str, str]:
    """The sheet XML before and after where the body rows go, with <dimension> covering them."""
    last_col = xl_col_to_name(len(p.cells) - 1)
    last_row = p.first_row - 1 + p.count
    if p.count:
        xml = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last_col}{last_row}"/>', xml, count=1)
    if "</sheetData>" in xml:
        i = xml.index("</sheetData>")
        return xml[:i], xml[i:]
    i = xml.index("<sheetData/>")
    return xml[:i] + "<sheetData>", "</sheetData>" + xml[i + len("<sheetData/>"):]
