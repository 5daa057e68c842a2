"""xls and ods reader: python-calamine for values, plus content.xml for ods.

calamine (0.9.1) gives values, sheet visibility and — for xls — merged
ranges, but no formula text, number formats or protection. For .ods those
facts are cheap to get from content.xml, so we read it too: protection
(`table:protected`), formulas (`table:formula`), merged ranges (spans),
number formats of percentages/numbers/dates, unlocked cells
(`style:cell-protect="none"`) and named ranges. For .xls they stay unknown
(`protected=None`, no formulas or formats).
"""
from __future__ import annotations

import os
import re
import struct
import zipfile
from datetime import date, datetime, time, timedelta
from xml.etree.ElementTree import Element, fromstring

import python_calamine as pc

from .detect import MSG_CORRUPT, MSG_ENCRYPTED, CellBudget, Ole2, fail, too_large_message, too_many_cells_message
from .grid import Grid, Sheet

# pyo3 enums are not hashable; their str() is "SheetVisibleEnum.Hidden".
_STATES = {"Visible": "visible", "Hidden": "hidden", "VeryHidden": "veryHidden"}
_EPOCH = datetime(1899, 12, 30)

_T = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_O = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_S = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
_M = "{urn:oasis:names:tc:opendocument:xmlns:meta:1.0}"
_N = "{urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0}"
_EMPTY_RUN_CAP = 256   # expand style-only facts of empty repeated cells only for runs this small
_REPEAT_CAP = 1000     # expand a repeated cell's facts only this far (trailing blanks repeat 16384×)


def _value(v):
    """calamine's Python value → the grid's (None for empty)."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, datetime):
        return v
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day)
    if isinstance(v, time):
        return datetime.combine(_EPOCH.date(), v)
    if isinstance(v, timedelta):
        return _EPOCH + v
    return v if isinstance(v, str) else str(v)


def read_with_calamine(path, fmt: str, *, max_uncompressed: int, max_cells: int) -> Grid:
    if fmt == "xls" and os.path.getsize(path) > max_uncompressed:
        raise fail(path, "file-too-large", too_large_message(f"{os.path.getsize(path):,} 字节，上限 {max_uncompressed:,} 字节"))
    extra: dict[str, Sheet] = {}
    names: dict[str, str] = {}
    application = ""
    if fmt == "xls":
        xls_preflight(path, max_cells)
    if fmt == "ods":
        extra, names, application = _ods_facts(path, max_uncompressed, max_cells)
    try:
        with open(path, "rb") as fh:      # from_path would trust the extension; this sniffs the bytes
            wb = pc.CalamineWorkbook.from_filelike(fh)
    except pc.PasswordError:
        raise fail(path, "file-encrypted", MSG_ENCRYPTED) from None
    except pc.CalamineError as e:
        msg = str(e).lower()
        if "password" in msg or "encrypt" in msg:
            raise fail(path, "file-encrypted", MSG_ENCRYPTED) from None
        raise fail(path, "file-corrupt", MSG_CORRUPT) from None
    grid = Grid(path=str(path), format=fmt, defined_names=names, application=application)
    budget = CellBudget(max_cells, path)
    try:
        for meta in wb.sheets_metadata:
            state = _STATES.get(str(meta.visible).rsplit(".", 1)[-1], "visible")
            if str(meta.typ).rsplit(".", 1)[-1] != "WorkSheet":
                grid.sheets.append(Sheet(name=meta.name, state=state))
                continue
            cs = wb.get_sheet_by_name(meta.name)
            if cs.height:
                budget.take(cs.total_height * cs.total_width)
            sheet = extra.get(meta.name) or Sheet(name=meta.name)
            sheet.state = state
            values = sheet.values
            for r, row in enumerate(cs.to_python(skip_empty_area=False) if cs.height else ()):
                for c, v in enumerate(row):
                    t = type(v)
                    if t is str or t is float:
                        if v != "":
                            values[(r, c)] = v
                    elif v is not None:
                        values[(r, c)] = _value(v)
            if fmt != "ods":
                sheet.merged = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in (cs.merged_cell_ranges or ())]
            grid.sheets.append(sheet)
    finally:
        wb.close()
    return grid


# ---------------------------------------------------------------- xls preflight

# Cell records calamine turns into cells: Number, Label, BoolErr, Rk, LabelSst, Formula, RString.
_XLS_CELLS = frozenset([0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x0006, 0x00D6])


def xls_preflight(path, max_cells: int) -> None:
    """Refuse .xls files whose numbers would make calamine allocate without bound.

    calamine 0.9.1 reserves DIMENSIONS rows x cols, allocates the SST by its
    declared count and builds a dense range over the cells' bounding box; a
    corrupted or hostile value there aborts the whole process from Rust (no
    Python exception). So walk the BIFF records first, as calamine will.
    """
    data = open(path, "rb").read()
    try:
        ole = Ole2(data)
        names = {n.lower(): n for n, _, _ in ole.entries}
        stream = ole.stream(names.get("workbook") or names["book"])
    except (ValueError, KeyError, struct.error, IndexError):
        raise fail(path, "file-corrupt", MSG_CORRUPT) from None
    n = len(stream)
    too_many = fail(path, "file-too-large", too_many_cells_message(max_cells))
    corrupt = fail(path, "file-corrupt", MSG_CORRUPT)
    offsets: list[int] = []
    for rec, body, ln in _records(stream, 0):
        if rec == 0x0085 and ln >= 4:                            # BoundSheet: substream offset
            offsets.append(struct.unpack_from("<I", stream, body)[0])
        elif rec == 0x00FC and ln >= 8:                          # SST: declared string count
            count = struct.unpack_from("<i", stream, body + 4)[0]
            if count < 0 or count * 3 > n:
                raise corrupt
        elif rec == 0x000A:
            break
    total = 0
    unpack = struct.unpack_from
    for pos in offsets:
        if pos >= n:
            raise corrupt
        rows: list[int] = []
        cols: list[int] = []
        while pos + 4 <= n:
            rec, ln = unpack("<HH", stream, pos)
            body = pos + 4
            pos = body + ln
            if pos > n or rec == 0x000A:
                break
            if rec in _XLS_CELLS:
                if ln >= 4:
                    row, col = unpack("<HH", stream, body)
                    rows.append(row)
                    cols.append(col)
            elif rec == 0x00BD and ln >= 6:                       # MulRk: a run of columns
                row, col = unpack("<HH", stream, body)
                rows.append(row)
                cols += (col, unpack("<H", stream, body + ln - 2)[0])
            elif rec == 0x0200:                                   # Dimensions: calamine reserves rows x cols
                if ln == 14:
                    rf, rl, cf, cl = unpack("<IIHH", stream, body)
                elif ln == 10:
                    rf, rl, cf, cl = unpack("<HHHH", stream, body)
                else:
                    raise corrupt
                if rl >= 1 and cl >= 1:
                    if rl - 1 < rf or cl - 1 < cf:
                        raise corrupt
                    if (rl - rf) * (cl - cf) > max_cells:
                        raise too_many
        if rows:
            total += (max(rows) - min(rows) + 1) * (max(cols) - min(cols) + 1)
            if total > max_cells:
                raise too_many


def _records(stream: bytes, pos: int):
    """(type, body offset, length) of each BIFF record from `pos` until the stream ends."""
    n = len(stream)
    while pos + 4 <= n:
        rec, ln = struct.unpack_from("<HH", stream, pos)
        body = pos + 4
        pos = body + ln
        if pos > n:
            return
        yield rec, body, ln


# ---------------------------------------------------------------- ods content.xml

def _ods_part(z: zipfile.ZipFile, name: str, path, limit: int, max_cells: int | None = None) -> Element | None:
    try:
        info = z.getinfo(name)
    except KeyError:
        return None
    if info.file_size > limit:
        raise fail(path, "file-too-large",
                   too_large_message(f"{name} 解压后 {info.file_size:,} 字节，上限 {limit:,} 字节"))
    from .xlsx import count_tags, declares_entities, inflate_capped
    data = inflate_capped(z, info, limit, path)       # the real inflated size, not the declared one
    if declares_entities(data):                       # in any encoding expat reads, UTF-16 included
        raise fail(path, "file-corrupt", MSG_CORRUPT)
    if max_cells is not None and count_tags(data, "table-cell") > max_cells:   # before building the tree
        raise fail(path, "file-too-large", too_many_cells_message(max_cells))
    return fromstring(data)


def _data_styles(*roots: Element | None) -> dict[str, str]:
    """Data style name → a number format code (numbers, percentages, dates)."""
    out: dict[str, str] = {}
    for root in roots:
        if root is None:
            continue
        for el in root.iter():
            tag = el.tag
            if not tag.startswith(_N):
                continue
            kind = tag[len(_N):]
            name = el.get(_S + "name")
            if not name:
                continue
            if kind in ("number-style", "percentage-style"):
                num = el.find(_N + "number")
                if num is None:
                    continue
                places = int(num.get(_N + "decimal-places") or 0)
                code = ("#,##0" if num.get(_N + "grouping") == "true" else "0") + ("." + "0" * places if places else "")
                out[name] = code + "%" if kind == "percentage-style" else code
            elif kind in ("date-style", "time-style"):
                out[name] = "yyyy-mm-dd" if kind == "date-style" else "hh:mm:ss"
    return out


def _cell_styles(data_styles: dict[str, str], *roots: Element | None) -> dict[str, tuple[str, bool | None]]:
    """Cell style name → (format code, unlocked?) with parent styles resolved."""
    raw: dict[str, tuple[str | None, str | None, bool | None]] = {}
    for root in roots:
        if root is None:
            continue
        for el in root.iter(_S + "style"):
            if el.get(_S + "family") != "table-cell":
                continue
            props = el.find(_S + "table-cell-properties")
            protect = props.get(_S + "cell-protect") if props is not None else None
            unlocked = None if protect is None else protect == "none"
            raw[el.get(_S + "name") or ""] = (el.get(_S + "parent-style-name"), el.get(_S + "data-style-name"), unlocked)
    out: dict[str, tuple[str, bool | None]] = {}
    for name in raw:
        code, unlocked, cur, seen = None, None, name, 0
        while cur in raw and seen < 20:
            parent, ds, ul = raw[cur]
            if code is None and ds:
                code = data_styles.get(ds, "")
            if unlocked is None:
                unlocked = ul
            cur, seen = parent, seen + 1
        out[name] = (code or "", unlocked)
    return out


_OF_REF = re.compile(r"\[\$?('(?:[^']|'')+'|[^.\[\]]*)?\.(\$?[A-Z]+\$?\d+)(?::\$?('(?:[^']|'')+'|[^.\[\]]*)?\.(\$?[A-Z]+\$?\d+))?\]")


def ods_formula(text: str) -> str:
    """OpenFormula "of:=[.B3]/[.B2]" → Excel-like "B3/B2" (sheet refs as 'S'!A1, ';' → ',')."""
    if ":" in text[:5] and text.split(":", 1)[0].isalpha():
        text = text.split(":", 1)[1]
    text = text[1:] if text.startswith("=") else text

    def ref(m: re.Match) -> str:
        sheet = m.group(1).lstrip("$") if m.group(1) else ""
        out = (sheet + "!" if sheet else "") + m.group(2)
        return out + (":" + m.group(4) if m.group(4) else "")

    parts = text.split('"')
    for i in range(0, len(parts), 2):          # outside string literals only
        parts[i] = _OF_REF.sub(ref, parts[i]).replace(";", ",")
    return '"'.join(parts)


def _ods_facts(path, limit: int, max_cells: int) -> tuple[dict[str, Sheet], dict[str, str], str]:
    with zipfile.ZipFile(path) as z:
        content = _ods_part(z, "content.xml", path, limit, max_cells)
        styles = _ods_part(z, "styles.xml", path, limit)
        try:
            meta = _ods_part(z, "meta.xml", path, limit)
        except SyntaxError:
            meta = None
    gen = meta.find(f".//{_M}generator") if meta is not None else None
    application = (gen.text or "").strip() if gen is not None else ""
    if content is None:
        raise fail(path, "file-corrupt", MSG_CORRUPT)
    cell_styles = _cell_styles(_data_styles(styles, content), styles, content)
    sheets: dict[str, Sheet] = {}
    budget = CellBudget(max_cells, path)
    for table in content.iter(_T + "table"):
        sheet = Sheet(name=table.get(_T + "name") or "")
        sheet.protected = table.get(_T + "protected") == "true"
        sheet.unlocked = set()
        col_defaults = _column_defaults(table)
        box = [1 << 62, 1 << 62, -1, -1]
        _walk_rows(table, sheet, cell_styles, col_defaults, [0], budget, box)
        if box[2] >= 0:
            # calamine expands repeated cells into a dense range over the used box: bound it first.
            budget.take((box[2] - box[0] + 1) * (box[3] - box[1] + 1))
        sheets[sheet.name] = sheet
    names: dict[str, str] = {}
    # Workbook-level names only: sheet-local ones sit inside their table:table.
    for ne in content.iterfind(f"{_O}body/{_O}spreadsheet/{_T}named-expressions/{_T}named-range"):
        name, addr = ne.get(_T + "name") or "", ne.get(_T + "cell-range-address") or ""
        if name and addr and not name.lower().startswith("_xlnm."):
            names[name] = ods_address(addr)
    return sheets, names, application


def ods_address(addr: str) -> str:
    """"$'表'.$B$3:.$B$9" → "'表'!$B$3:$B$9"."""
    m = re.match(r"^\$?('(?:[^']|'')+'|[^.]+)\.(\$?[A-Z]+\$?\d+)(?::(?:\$?(?:'(?:[^']|'')+'|[^.]+))?\.(\$?[A-Z]+\$?\d+))?$", addr)
    if not m:
        return addr
    sheet = m.group(1)
    if not sheet.startswith("'"):
        sheet = "'" + sheet + "'"
    return f"{sheet}!{m.group(2)}" + (f":{m.group(3)}" if m.group(3) else "")


def _column_defaults(table: Element) -> list[tuple[int, str]]:
    """(first column, default cell style) runs, from table-column elements in any grouping."""
    out: list[tuple[int, str]] = []
    col = 0
    for el in table.iter(_T + "table-column"):
        n = int(el.get(_T + "number-columns-repeated") or 1)
        out.append((col, el.get(_T + "default-cell-style-name") or ""))
        col += n
    return out


def _default_style(defaults: list[tuple[int, str]], c: int) -> str:
    style = ""
    for start, name in defaults:
        if start > c:
            break
        style = name
    return style


_ROW_CONTAINERS = {_T + "table-row-group", _T + "table-header-rows", _T + "table-rows"}


def _walk_rows(parent: Element, sheet: Sheet, cell_styles, col_defaults, row_no: list[int],
               budget: CellBudget, box: list[int]) -> None:
    """Record formulas, formats, unlocked cells and spans; grow `box` (r0, c0, r1, c1) over cells with content."""
    for el in parent:
        if el.tag in _ROW_CONTAINERS:
            _walk_rows(el, sheet, cell_styles, col_defaults, row_no, budget, box)
            continue
        if el.tag != _T + "table-row":
            continue
        reps = int(el.get(_T + "number-rows-repeated") or 1)
        r0 = row_no[0]
        row_no[0] += reps
        c = 0
        for cell in el:
            n = int(cell.get(_T + "number-columns-repeated") or 1)
            if cell.tag == _T + "table-cell" or cell.tag == _T + "covered-table-cell":
                style = cell.get(_T + "style-name") or _default_style(col_defaults, c)
                code, unlocked = cell_styles.get(style, ("", None))
                formula = cell.get(_T + "formula")
                vt = cell.get(_O + "value-type")
                if vt == "percentage" and "%" not in code:
                    code = "0%"
                has_content = vt is not None or formula is not None or len(cell) > 0
                if has_content:
                    box[0], box[1] = min(box[0], r0), min(box[1], c)
                    box[2], box[3] = max(box[2], r0 + reps - 1), max(box[3], c + n - 1)
                spans = (int(cell.get(_T + "number-rows-spanned") or 1), int(cell.get(_T + "number-columns-spanned") or 1))
                # Empty cells carry style facts only; a huge repeated run of them (a whole sheet
                # unlocked, then labels locked) says nothing about the form, so skip it.
                small_run = n * reps <= _EMPTY_RUN_CAP
                if (formula is not None or code or unlocked or spans != (1, 1)) and (has_content or small_run):
                    budget.take(min(n, _REPEAT_CAP) * min(reps, _REPEAT_CAP))
                    for rr in range(r0, r0 + min(reps, _REPEAT_CAP)):
                        for cc in range(c, c + min(n, _REPEAT_CAP)):
                            key = (rr, cc)
                            if formula is not None:
                                sheet.formulas[key] = ods_formula(formula)
                            if code and vt not in ("string", None):
                                sheet.formats[key] = code
                            if unlocked:
                                sheet.unlocked.add(key)
                            if spans != (1, 1) and cell.tag == _T + "table-cell":
                                sheet.merged.append((rr, cc, rr + spans[0] - 1, cc + spans[1] - 1))
            c += n
