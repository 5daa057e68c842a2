"""xlsx/xlsm reader: zipfile + ElementTree, one pass per part.

This is the hot path (tens of thousands of returns), so it reads the XML parts
directly instead of going through openpyxl (about 1.6 ms against 50 ms per
form, see perf-baseline.md). It gives what the checks need and calamine does
not: formula text, sheet protection, locked flags and number formats.
Every part's declared uncompressed size is checked before it is inflated.
"""
from __future__ import annotations

import posixpath
import re
import zipfile
from datetime import datetime, timedelta
from typing import Iterator
from xml.etree.ElementTree import Element, XMLPullParser, fromstring

from .detect import MSG_CORRUPT, CellBudget, fail, too_large_message
from .grid import Grid, Sheet
from .hazards import package_hazards

_MAIN_NS = ("http://schemas.openxmlformats.org/spreadsheetml/2006/main",
            "http://purl.oclc.org/ooxml/spreadsheetml/main")
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_APP_NS = ("http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
           "http://purl.oclc.org/ooxml/officeDocument/extendedProperties")

BUILTIN_FORMATS = {
    1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 5: '"¥"#,##0;"¥"\\-#,##0',
    6: '"¥"#,##0;[Red]"¥"\\-#,##0', 7: '"¥"#,##0.00;"¥"\\-#,##0.00', 8: '"¥"#,##0.00;[Red]"¥"\\-#,##0.00',
    9: "0%", 10: "0.00%", 11: "0.00E+00", 12: "# ?/?", 13: "# ??/??",
    14: "yyyy/m/d", 15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy", 18: "h:mm AM/PM", 19: "h:mm:ss AM/PM",
    20: "h:mm", 21: "h:mm:ss", 22: "yyyy/m/d h:mm",
    27: 'yyyy"年"m"月"', 28: 'm"月"d"日"', 29: 'm"月"d"日"', 30: "m-d-yy", 31: 'yyyy"年"m"月"d"日"',
    32: 'h"时"mm"分"', 33: 'h"时"mm"分"ss"秒"', 34: '上午/下午h"时"mm"分"', 35: '上午/下午h"时"mm"分"ss"秒"',
    36: 'yyyy"年"m"月"',
    37: "#,##0 ;(#,##0)", 38: "#,##0 ;[Red](#,##0)", 39: "#,##0.00;(#,##0.00)", 40: "#,##0.00;[Red](#,##0.00)",
    41: '_ * #,##0_ ;_ * \\-#,##0_ ;_ * "-"_ ;_ @_ ', 42: '_ "¥"* #,##0_ ;_ "¥"* \\-#,##0_ ;_ "¥"* "-"_ ;_ @_ ',
    43: '_ * #,##0.00_ ;_ * \\-#,##0.00_ ;_ * "-"??_ ;_ @_ ',
    44: '_ "¥"* #,##0.00_ ;_ "¥"* \\-#,##0.00_ ;_ "¥"* "-"??_ ;_ @_ ',
    45: "mm:ss", 46: "[h]:mm:ss", 47: "mm:ss.0", 48: "##0.0E+0", 49: "@",
    50: 'yyyy"年"m"月"', 51: 'm"月"d"日"', 52: 'yyyy"年"m"月"', 53: 'm"月"d"日"', 54: 'm"月"d"日"',
    55: '上午/下午h"时"mm"分"', 56: '上午/下午h"时"mm"分"ss"秒"', 57: 'yyyy"年"m"月"', 58: 'm"月"d"日"',
}
DATE_IDS = frozenset([*range(14, 23), *range(27, 37), 45, 46, 47, *range(50, 59)])
_STRIP = re.compile(r'"[^"]*"|\\.|_.|\*.|\[(?![hms]+\])[^\]]*\]', re.I)
_DATE_CHARS = re.compile(r"[ymdhs]", re.I)
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_CELL = re.compile(r"([A-Z]+)(\d+)")
_EPOCH_1900 = datetime(1899, 12, 30)
_EPOCH_1904 = datetime(1904, 1, 1)


def is_date_format(code: str) -> bool:
    """True if a number format code shows a date or time (y/m/d/h/s outside quotes and brackets)."""
    if not code or code.lower() == "general":
        return False
    return bool(_DATE_CHARS.search(_STRIP.sub("", code.split(";")[0])))


def serial_to_datetime(v: float, date1904: bool = False) -> datetime | None:
    if date1904:
        base = _EPOCH_1904
    elif v < 60:
        base = _EPOCH_1900 + timedelta(days=1)     # Excel's phantom 1900-02-29
    else:
        base = _EPOCH_1900
    if not 0 <= v < 2958466:
        return None
    return base + timedelta(milliseconds=round(v * 86_400_000))


def _unescape(s: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), s) if "_x" in s else s


_COLS: dict[str, int] = {}      # column letters -> index; at most 16384 (+ case/$ variants) entries
_DIGITS = "0123456789"


def _col(letters: str) -> int:
    """"A" → 0, "AB" → 27 (upper-case letters only)."""
    n = 0
    for ch in letters:
        if not "A" <= ch <= "Z":
            raise ValueError(f"bad column {letters!r}")
        n = n * 26 + ord(ch) - 64
    if n == 0:
        raise ValueError("missing column")
    return n - 1


def _ref(ref: str) -> tuple[int, int]:
    m = _CELL.match(ref.replace("$", "").upper())
    if not m:
        raise ValueError(f"bad cell reference {ref!r}")
    return int(m.group(2)) - 1, _col(m.group(1))


MAX_ROWS, MAX_COLS = 1_048_576, 16_384       # Excel's grid: a cell beyond it is a damaged or forged file
MAX_MERGED_CELLS = 1_000_000                  # cells covered by merged ranges, over the workbook
TREE_TAGS = 1_000_000                         # tags in a sheet part parsed as one tree; more are streamed


def _tag_count(data: bytes) -> int:
    """Upper bound of the elements in a part (every element opens with "<")."""
    text = _as_text(data)
    return text.count("<") if isinstance(text, str) else text.count(b"<")


def inflate_capped(z: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, path) -> bytes:
    """A part's bytes, stopping as soon as more than `cap` bytes were really inflated (whatever it declares)."""
    chunks, n = [], 0
    with z.open(info) as fh:
        while True:
            b = fh.read(1 << 20)
            if not b:
                break
            n += len(b)
            if n > cap:
                raise fail(path, "file-too-large", too_large_message(f"{info.filename} 解压后超过 {cap:,} 字节"))
            chunks.append(b)
    return b"".join(chunks)


def _as_text(data: bytes) -> bytes | str:
    """UTF-16/32 parts (with or without BOM) as text; everything else stays bytes (ASCII-compatible)."""
    head = data[:4]
    for bom, enc in ((b"\xff\xfe\0\0", "utf-32-le"), (b"\0\0\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"),
                     (b"\xfe\xff", "utf-16-be"), (b"<\0\0\0", "utf-32-le"), (b"\0\0\0<", "utf-32-be"),
                     (b"<\0", "utf-16-le"), (b"\0<", "utf-16-be")):
        if head.startswith(bom):
            return data.decode(enc, "ignore")
    return data


def declares_entities(data: bytes) -> bool:
    """True if an XML part has a DOCTYPE or ENTITY declaration, in whatever encoding expat would read it."""
    text = _as_text(data)
    if isinstance(text, str):
        return "<!DOCTYPE" in text or "<!ENTITY" in text
    return text.find(b"<!DOCTYPE") >= 0 or text.find(b"<!ENTITY") >= 0     # find: `in` tries an int first


def count_tags(data: bytes, local: str) -> int:
    """Upper bound of the elements named `local` in a part, counted before anything is materialised."""
    text = _as_text(data)
    if isinstance(text, str):
        text = text.encode("utf-8", "ignore")
    t = local.encode()
    return sum(text.count(lead + t + tail) for lead in (b"<", b":") for tail in (b" ", b">", b"/"))


class _Package:
    """A zip opened with the size guard in front of every read."""

    def __init__(self, z: zipfile.ZipFile, path, max_uncompressed: int) -> None:
        self.z = z
        self.path = path
        self.max = max_uncompressed
        self.names = {i.filename: i for i in z.infolist()}
        self.lower = {n.lower(): n for n in self.names}

    def find(self, name: str) -> zipfile.ZipInfo | None:
        info = self.names.get(name)
        if info is None:
            real = self.lower.get(name.lower())
            info = self.names.get(real) if real else None
        return info

    def read(self, name: str) -> bytes | None:
        info = self.find(name)
        if info is None:
            return None
        if info.file_size > self.max:
            raise fail(self.path, "file-too-large",
                       too_large_message(f"{info.filename} 解压后 {info.file_size:,} 字节，上限 {self.max:,} 字节"))
        data = inflate_capped(self.z, info, self.max, self.path)
        if declares_entities(data):  # entities have no place in OOXML; refuse expansion tricks in any encoding
            raise fail(self.path, "file-corrupt", MSG_CORRUPT)
        return data

    def xml(self, name: str) -> Element | None:
        data = self.read(name)
        return None if data is None else fromstring(data)

    def rels(self, part: str) -> dict[str, tuple[str, str]]:
        """Relationship id -> (type suffix, resolved part name) for `part`."""
        d, b = posixpath.split(part)
        root = self.xml(posixpath.join(d, "_rels", b + ".rels"))
        return {} if root is None else rels_in(d, root)


def field_names(names_el) -> dict[str, str]:
    """Workbook defined names that can name a form's field: sheet-local names, built-ins
    (_xlnm.Print_Area) and Excel's hidden _xlfn. shims are not fields."""
    names: dict[str, str] = {}
    for dn in (names_el if names_el is not None else ()):
        name = dn.get("name") or ""
        if dn.get("localSheetId") is not None or name.lower().startswith(("_xlnm.", "_xlfn.")) or not dn.text:
            continue
        names[name] = dn.text
    return names


def rels_in(d: str, root: Element) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type suffix, part name resolved against folder `d`) of a parsed rels part."""
    out: dict[str, tuple[str, str]] = {}
    for rel in root.iter(_PKG_REL):
        if rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target") or ""
        name = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(d, target))
        out[rel.get("Id") or ""] = ((rel.get("Type") or "").rsplit("/", 1)[-1], name)
    return out


def _ns_of(root: Element) -> str:
    tag = root.tag
    return tag[:tag.index("}") + 1] if tag.startswith("{") else ""


def _text_of(si: Element, t_tag: str, r_tag: str) -> str:
    """Join the visible runs of a string item (phonetic `rPh` runs excluded)."""
    if len(si) == 1 and si[0].tag == t_tag:
        return si[0].text or ""
    parts = []
    for child in si:
        if child.tag == t_tag:
            parts.append(child.text or "")
        elif child.tag == r_tag:
            t = child.find(t_tag)
            if t is not None and t.text:
                parts.append(t.text)
    return "".join(parts)


def _shared_strings(pkg: _Package, part: str | None, max_items: int = 2_000_000) -> list[str]:
    data = pkg.read(part) if part else None
    if data is None:
        return []
    if count_tags(data, "si") > max_items:       # a string table is never larger than the cells using it
        raise fail(pkg.path, "file-too-large", too_large_message(f"共享字符串超过 {max_items:,} 个"))
    root = fromstring(data)
    del data
    ns = _ns_of(root)
    t_tag, r_tag = ns + "t", ns + "r"
    return [_unescape(_text_of(si, t_tag, r_tag)) for si in root]


def _styles(pkg: _Package, part: str | None) -> list[tuple[str, bool, bool]]:
    """Per cellXfs index: (format code or "", is_date, unlocked)."""
    root = pkg.xml(part) if part else None
    if root is None:
        return []
    ns = _ns_of(root)
    custom: dict[int, str] = {}
    nf = root.find(ns + "numFmts")
    if nf is not None:
        for f in nf:
            try:
                custom[int(f.get("numFmtId", "-1"))] = f.get("formatCode") or ""
            except ValueError:
                continue
    out: list[tuple[str, bool, bool]] = []
    xfs = root.find(ns + "cellXfs")
    if xfs is None:
        return out
    prot_tag = ns + "protection"
    for xf in xfs:
        try:
            fid = int(xf.get("numFmtId") or 0)
        except ValueError:
            fid = 0
        code = custom.get(fid) or BUILTIN_FORMATS.get(fid, "")
        if code.lower() == "general":
            code = ""
        is_date = (fid in DATE_IDS and fid not in custom) or is_date_format(code)
        prot = xf.find(prot_tag)
        unlocked = prot is not None and prot.get("locked") in ("0", "false")
        out.append((code, is_date, unlocked))
    return out


def read_xlsx(path, *, max_uncompressed: int, max_cells: int) -> Grid:
    with zipfile.ZipFile(path) as z:
        pkg = _Package(z, path, max_uncompressed)
        return _read(pkg, path, max_cells)


def _read(pkg: _Package, path, max_cells: int) -> Grid:
    root_rels = pkg.rels("")
    wb_part = next((n for t, n in root_rels.values() if t == "officeDocument"), "xl/workbook.xml")
    wb = pkg.xml(wb_part)
    if wb is None:
        raise fail(path, "file-corrupt", MSG_CORRUPT)
    ns = _ns_of(wb)
    if ns.strip("{}") not in _MAIN_NS:
        raise fail(path, "file-corrupt", MSG_CORRUPT)
    rels = pkg.rels(wb_part)
    by_type = {t: n for t, n in rels.values()}
    sst = _shared_strings(pkg, by_type.get("sharedStrings"), max(max_cells, 1000))
    styles = _styles(pkg, by_type.get("styles"))
    pr = wb.find(ns + "workbookPr")
    date1904 = pr is not None and pr.get("date1904") in ("1", "true")

    grid = Grid(path=str(path), format="xlsx")
    sheets_el = wb.find(ns + "sheets")
    budget = CellBudget(max_cells, path)
    merged_left = [MAX_MERGED_CELLS]
    parsed: set[str] = set()
    sheet_of_part: dict[str, str] = {}
    for el in (sheets_el if sheets_el is not None else ()):
        rid = next((v for k, v in el.attrib.items() if k.endswith("}id")), None)
        sheet = Sheet(name=el.get("name") or "", state=el.get("state") or "visible")
        target = rels.get(rid or "")
        if target is not None and target[1] not in parsed:   # a part listed twice is read once, shown once
            parsed.add(target[1])
            sheet_of_part[posixpath.basename(target[1])] = sheet.name
            data = pkg.read(target[1])
            if data is not None:
                if count_tags(data, "c") > budget.left:       # refuse before building a tree of millions
                    budget.take(budget.left + 1)
                # A usual sheet is parsed whole (fast); one with very many elements row by row, so the
                # tree never holds more than a chunk of it (slower, but memory stays bounded).
                source = fromstring(data) if _tag_count(data) <= TREE_TAGS else _SheetStream(data)
                del data
                _fill_sheet(sheet, source, sst, styles, date1904, budget, merged_left)
        grid.sheets.append(sheet)

    for part, cell, what in package_hazards(list(pkg.names), pkg.read):
        grid.hazards.append((sheet_of_part.get(part, ""), cell, what))

    grid.defined_names.update(field_names(wb.find(ns + "definedNames")))

    app_part = next((n for t, n in root_rels.values() if t == "extended-properties"), "docProps/app.xml")
    if pkg.find(app_part) is not None:
        try:
            app = pkg.xml(app_part)
        except SyntaxError:          # a broken app.xml does not make the workbook unreadable
            app = None
        if app is not None:
            for ans in _APP_NS:
                el = app.find("{%s}Application" % ans)
                if el is not None and el.text:
                    grid.application = el.text.strip()
                    break
    return grid


class _SheetStream:
    """A worksheet part parsed row by row: each row is handed over and then dropped from the tree.

    Only one row's elements are alive at a time, so memory follows the cells
    kept, not the size of the XML; what follows the rows (merged ranges,
    protection) is in `root` once the rows are exhausted.
    """

    CHUNK = 1 << 20

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.parser = XMLPullParser(events=("start", "end"))
        self.root: Element | None = None
        self.events: list = []
        while self.root is None and self._feed():
            for ev, el in self.events:
                if ev == "start":
                    self.root = el
                    break
        if self.root is None:
            raise SyntaxError("no root element")

    def _feed(self) -> bool:
        """Parse the next chunk; False once everything was parsed."""
        if self.pos > len(self.data):
            return False
        chunk = self.data[self.pos:self.pos + self.CHUNK]
        self.pos += self.CHUNK
        if chunk:
            self.parser.feed(chunk)
        else:
            self.parser.close()
            self.pos = len(self.data) + 1
            self.data = b""
        self.events.extend(self.parser.read_events())
        return True

    def rows(self, row_tag: str, data_tag: str) -> Iterator[Element]:
        sheet_data = None
        while True:
            events, self.events = self.events, []
            done = []
            for ev, el in events:
                if ev == "start":
                    if el.tag == data_tag and sheet_data is None:
                        sheet_data = el
                elif el.tag == row_tag and sheet_data is not None:
                    yield el
                    done.append(el)
            if done:        # drop the rows handed over; they lead sheetData's children in order
                n = len(done)
                if len(sheet_data) >= n and sheet_data[n - 1] is done[-1]:
                    del sheet_data[:n]
                else:
                    for el in done:
                        el.clear()
            if not self._feed():
                return


def _fill_sheet(sheet: Sheet, stream: "_SheetStream | Element", sst: list[str], styles: list[tuple[str, bool, bool]],
                date1904: bool, budget: CellBudget, merged_left: list[int] | None = None) -> None:
    if isinstance(stream, _SheetStream):
        root = stream.root
        ns = _ns_of(root)
        rows = stream.rows(ns + "row", ns + "sheetData")
    else:
        root = stream
        ns = _ns_of(root)
        found = root.find(ns + "sheetData")
        rows = iter(found if found is not None else ())
    c_tag, v_tag, f_tag, is_tag = ns + "c", ns + "v", ns + "f", ns + "is"
    t_tag, r_tag = ns + "t", ns + "r"
    values, formats, formulas = sheet.values, sheet.formats, sheet.formulas
    unlocked: set[tuple[int, int]] = set()
    style_of = {str(i): st for i, st in enumerate(styles)}
    r = -1
    for row in rows:
        rr = row.get("r")
        r = int(rr) - 1 if rr else r + 1
        budget.take(len(row))
        c = -1
        for cell in row:
            if cell.tag != c_tag:
                continue
            ref = cell.get("r")
            if ref:
                letters = ref.rstrip(_DIGITS)
                c = _COLS.get(letters)
                if c is None:
                    c = _col(letters.upper().replace("$", ""))
                    if len(_COLS) < 100_000:
                        _COLS[letters] = c
            else:
                c += 1
            if r >= MAX_ROWS or c >= MAX_COLS or r < 0:
                raise fail(budget.path, "file-corrupt", f"{MSG_CORRUPT}（单元格 {ref or r + 1} 超出表格范围）")
            key = (r, c)
            s = cell.get("s")
            style = style_of.get(s) if s else None
            t = cell.get("t")
            f = cell.find(f_tag)
            if f is not None:
                formulas[key] = f.text or ""
            if style is not None:
                if style[0]:
                    formats[key] = style[0]
                if style[2]:
                    unlocked.add(key)
            if t == "inlineStr":
                el = cell.find(is_tag)
                val = _unescape(_text_of(el, t_tag, r_tag)) if el is not None else ""
                if val:
                    values[key] = val
                continue
            v = cell.find(v_tag)
            if v is None:
                continue
            text = v.text
            if text is None or text == "":
                continue
            if t is None or t == "n":
                num = float(text)
                if style is not None and style[1]:
                    dt = serial_to_datetime(num, date1904)
                    values[key] = dt if dt is not None else num
                else:
                    values[key] = num
            elif t == "s":
                val = sst[int(text)]
                if val:
                    values[key] = val
            elif t == "b":
                values[key] = text.strip() in ("1", "true")
            elif t == "d":
                values[key] = datetime.fromisoformat(text.strip().rstrip("Z"))
            else:   # "str", "e"
                values[key] = _unescape(text)
    merged = root.find(ns + "mergeCells")
    if merged is not None:
        for m in merged:
            ref = m.get("ref")
            if not ref:
                continue
            a, _, b = ref.partition(":")
            r0, c0 = _ref(a)
            r1, c1 = _ref(b) if b else (r0, c0)
            if max(r0, r1) >= MAX_ROWS or max(c0, c1) >= MAX_COLS:
                raise fail(budget.path, "file-corrupt", f"{MSG_CORRUPT}（合并区域 {ref} 超出表格范围）")
            if merged_left is not None:
                merged_left[0] -= (abs(r1 - r0) + 1) * (abs(c1 - c0) + 1)
                if merged_left[0] < 0:
                    raise fail(budget.path, "file-too-large",
                               f"合并单元格过多（合计超过 {MAX_MERGED_CELLS:,} 个单元格），已拒绝读取")
            sheet.merged.append((min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1)))
    prot = root.find(ns + "sheetProtection")
    sheet.protected = prot is not None and prot.get("sheet") in ("1", "true")
    sheet.unlocked = unlocked
