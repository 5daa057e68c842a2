"""The fast path for an ordinary xlsx: one zip open, no element tree for the sheets.

A season brings tens of thousands of returns that all come from a handful of
templates, saved by Excel, WPS or LibreOffice. For those, `read_fast` gives
exactly the `Grid` that `xlsx.read_xlsx` gives, faster:

- the zip is opened once, both to tell its format and to read it;
- parts that come unchanged from the template (workbook, styles, rels,
  app.xml) are recognised by their stored bytes, checksum and size and
  parsed once per distinct content; so are a sheet's surroundings of
  sheetData (merged ranges, protection);
- each worksheet is checked by expat (well-formed, namespaces bound), then
  each row is checked against the plain shape writers produce (`<row><c
  r="B3" s="2" t="s"><f>…</f><v>…</v></c></row>`) and read in the same
  regex pass; rows are kept by their bytes, so a row met again costs a
  dictionary lookup, and a sheet made only of known rows under a known root
  needs neither pass again;
- the shared strings are checked by expat and read by one regex pass too
  (plain texts, rich-text runs, phonetic runs); any other shape is parsed
  with ElementTree as the full reader does.

Anything else — CDATA, comments, prefixed or foreign roots, inline rich text,
reordered attributes, a part too large to hold as one piece, a refusal, any
exception at all — returns None and `read_grid` uses `read_xlsx`, which stays
the one authority on hard cases and on every refusal (caps, entities, broken
zips). The same size caps guard every inflate here, so a hostile file costs no
more than twice a refusal.
"""
from __future__ import annotations

import functools
import io
import itertools
import os
import posixpath
import re
import stat
import struct
import zipfile
import zlib
from datetime import datetime
from xml.etree.ElementTree import fromstring
from xml.parsers import expat

from .detect import ZIP_MAGIC, CellBudget, zip_format
from .grid import Grid, Sheet
from .hazards import package_hazards
from .xlsx import (
    field_names,
    rels_in,
    _APP_NS,
    _MAIN_NS,
    MAX_COLS,
    MAX_MERGED_CELLS,
    MAX_ROWS,
    TREE_TAGS,
    _col,
    _ns_of,
    _Package,
    _ref,
    _shared_strings,
    count_tags,
    _styles,
    _unescape,
    serial_to_datetime,
)

# ---------------------------------------------------------------- parts kept by content

_CACHE_MAX = 256          # distinct template parts per process (a season has a few dozen), each at most 256 KB


class _BytesCache(dict):
    """Parsed template parts keyed by (kind, exact bytes): equal bytes, equal parse."""

    def get_or(self, key, make):
        hit = self.get(key)
        if hit is None:
            if len(self) >= _CACHE_MAX:
                self.clear()
            hit = self[key] = make()
        return hit


_PARTS = _BytesCache()


_ROWS: dict[tuple, tuple] = {}      # (row bytes, context, styles token) -> the row read, see `_fill_fast`
_STYLE_TOKENS = itertools.count()


def forget(*, rows_only: bool = False) -> None:
    """Drop every part and row kept so far, or only the rows (benchmarks measure the worst cases with it)."""
    _ROWS.clear()
    if not rows_only:
        _PARTS.clear()
        _BCOLS.clear()


def _rels_of(d: str, data: bytes) -> dict[str, tuple[str, str]]:
    """Same as `_Package.rels`, from a rels part's bytes."""
    return rels_in(d, fromstring(data))


_RAW_MAX = 256 * 1024     # template parts are a few KB; larger ones are simply inflated and parsed


def _stored(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """A member's local header and compressed bytes as stored, or None if anything is unusual.

    Equal stored bytes under the same method, CRC and size inflate to equal
    content, which was inflated, CRC-checked and screened the first time it
    was seen; so a template part seen before is recognised without inflating.
    """
    if info.compress_size > _RAW_MAX or info.file_size > 8 * _RAW_MAX or info.flag_bits & 1:
        return None
    fp = z.fp
    fp.seek(info.header_offset)
    head = fp.read(30)
    if len(head) != 30 or head[:4] != ZIP_MAGIC:
        return None
    nlen, elen = struct.unpack_from("<HH", head, 26)
    rest = fp.read(nlen + elen + info.compress_size)
    if len(rest) != nlen + elen + info.compress_size or head[6] & 1:
        return None
    return head + rest


def _inflate(pkg: _Package, name: str) -> bytes | None:
    """A part's bytes, inflated straight from its stored bytes; `pkg.read` for anything unusual.

    The same size cap and CRC as `pkg.read`, without a ZipExtFile per part. No
    entity screen here: the callers take only parts that pass `_plain_utf8`.
    """
    info = pkg.find(name)
    if info is None:
        return None
    stored = _stored(pkg.z, info) if info.file_size <= pkg.max and info.compress_type in (0, 8) else None
    if stored is None:
        return pkg.read(name)
    nlen, elen = struct.unpack_from("<HH", stored, 26)
    if stored[30:30 + nlen] != info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"):
        return pkg.read(name)        # zipfile refuses a local name that is not the directory's
    raw = memoryview(stored)[30 + nlen + elen:]
    if info.compress_type == 0:
        data = bytes(raw)
    else:
        inflater = zlib.decompressobj(-15)
        data = inflater.decompress(raw, info.file_size + 1)
    if len(data) != info.file_size or zlib.crc32(data) != info.CRC:
        return pkg.read(name)        # the full reader words what is wrong
    return data


def _template_part(pkg: _Package, name: str, kind: tuple, make):
    """`make(bytes)` of a part that usually comes unchanged from the template; None if the part is absent."""
    info = pkg.find(name)
    if info is None:
        return None
    stored = _stored(pkg.z, info)
    key = (kind, info.filename, info.flag_bits, info.compress_type, info.CRC, info.file_size, stored)
    if stored is not None:
        hit = _PARTS.get(key)
        if hit is not None:
            return hit
    data = pkg.read(name)      # the caps, the CRC and the entity screen, as for any part
    value = make(data)
    if stored is not None:
        _PARTS.get_or(key, lambda: value)
    return value


def _rels(pkg: _Package, part: str) -> dict[str, tuple[str, str]]:
    d, b = posixpath.split(part)
    found = _template_part(pkg, posixpath.join(d, "_rels", b + ".rels"), ("rels", d), lambda data: _rels_of(d, data))
    return {} if found is None else found


def _workbook_of(data: bytes):
    """(date1904, [(name, state, rId)], defined names) of a workbook part, as `_read` takes them."""
    wb = fromstring(data)
    ns = _ns_of(wb)
    if ns.strip("{}") not in _MAIN_NS:
        raise ValueError("not a SpreadsheetML workbook")
    pr = wb.find(ns + "workbookPr")
    date1904 = pr is not None and pr.get("date1904") in ("1", "true")
    sheets_el = wb.find(ns + "sheets")
    sheets = tuple((el.get("name") or "", el.get("state") or "visible",
                    next((v for k, v in el.attrib.items() if k.endswith("}id")), None))
                   for el in (sheets_el if sheets_el is not None else ()))
    return date1904, sheets, field_names(wb.find(ns + "definedNames"))


class _Bytes:
    """Stands in for a `_Package` holding one part, so `_styles` parses bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def xml(self, _name):
        return fromstring(self.data)


def _styles_of(data: bytes):
    """What `_row` needs of each cell style (see `_style_sets`)."""
    return _style_sets(_styles(_Bytes(data), "styles"))


def _style_sets(styles: list[tuple[str, bool, bool]]):
    """(per-style info, token): the info maps the bytes of `s="…"` to (format code, unlocked, is date).

    Only styles that mean something to a cell are in it, so a plain cell
    costs one failed lookup; the token names these styles in `_ROWS` keys.
    """
    info = {str(i).encode(): (st[0], st[2], st[1]) for i, st in enumerate(styles) if st[0] or st[1] or st[2]}
    return info, next(_STYLE_TOKENS)      # never reused


def _application_of(data: bytes) -> str:
    try:
        app = fromstring(data)
    except SyntaxError:          # a broken app.xml does not make the workbook unreadable
        return ""
    for ans in _APP_NS:
        el = app.find(f"{{{ans}}}Application")
        if el is not None and el.text:
            return el.text.strip()
    return ""


# ---------------------------------------------------------------- the worksheet, without a tree

_ATTRS = rb"""(?:\s+[^\s=<>/"']+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*\s*"""
_ROOT = re.compile(rb"(?:\xef\xbb\xbf)?(?:<\?xml([^>]*)\?>)?\s*<worksheet(" + _ATTRS + rb")>")
_UTF8_DECL = re.compile(rb"""encoding\s*=\s*["']utf-?8["']""", re.IGNORECASE)
_DEFAULT_NS = re.compile(rb"""\sxmlns\s*=\s*["']([^"']*)["']""")
_ANY_NS_DECL = re.compile(rb"""xmlns\s*=""")
# The one cell shape we take: r, then s, then t, in that order; an optional formula, then an optional value
# or a plain inline string (one <t>, no rich-text runs).
_CELL = (rb'<c r="([A-Z]{1,3})[0-9]++"(?: s="([0-9]++)")?+(?: t="([a-zA-Z]++)")?+\s*+'
         rb'(?:/>|>(<f(?:\s++[\w:]++="[^"<]*+")*+\s*+(?:/>|>([^<]*+)</f>))?+'
         rb'(?:<v>([^<]*+)</v>|<is><t(?: xml:space="preserve")?+>([^<]*+)</t></is>)?+</c>)')
# (Possessive: no part of a cell can match two ways, and not keeping backtrack points is a quarter faster.)
# A row's cells, or (last group) any other non-blank byte, which makes the row not plain.
_CELL_SCAN = re.compile(_CELL + rb"|(\S)")
_SHEET_DATA_TAG = re.compile(rb"<sheetData" + _ATTRS + rb"(?:/>|>)")
_ROW_R = re.compile(rb"""\sr\s*=\s*"([^"]*)\"""")     # in a start tag whose values are all in "…"
_TAG = re.compile(rb"<(/?)([^\s/>]+)(" + _ATTRS + rb")(/?)>")
_ATTR = re.compile(rb"""([^\s=<>/"']+)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')""")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_BCOLS: dict[bytes, int] = {}
_TRUE = ("1", "true", b"1", b"true")
_AFTER_ROW = (b" ", b"\t", b"\n", b">", b"/")
_XML_BLANKS = b" \t\n"            # bytes.strip() would also take \x0b and \x0c, which XML does not allow


def _entity(m: re.Match) -> str:
    e = m.group(1)
    if e[0] != "#":
        return _NAMED[e]
    return chr(int(e[2:], 16) if e[1] in "xX" else int(e[1:]))


def _text(b: bytes) -> str:
    """Element text as ElementTree gives it (the part is known well-formed, UTF-8, without CR)."""
    s = b.decode("utf-8")
    return _ENTITY.sub(_entity, s) if "&" in s else s


_PROLOG_ENCODING = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']""")


def _plain_utf8(data: bytes) -> bool:
    """True if a part is UTF-8 (declared or by default) and has no "<!": no DOCTYPE, ENTITY, comment, CDATA.

    Checked before expat sees a part on the fast path, so no part there can
    declare an entity in any encoding, and `_inflate` needs no entity screen.
    """
    if data.find(b"<!") >= 0 or data.find(b"\0") >= 0 or data.find(b"\r") >= 0:
        return False        # (also CR normalisation, and UTF-16/32, which hold NUL bytes)
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    if not data.startswith(b"<?xml", start):
        return data.startswith(b"<", start)
    m = _PROLOG_ENCODING.match(data, start)
    return m is None or m.group(1).lower() in (b"utf-8", b"utf8")


def _well_formed(data: bytes) -> None:
    """Raise unless expat (with namespaces, as ElementTree uses it) accepts the whole part."""
    expat.ParserCreate(namespace_separator="}").Parse(data, True)


def _well_formed_rows(root: bytes, tag: bytes, lead: bytes, rows: list[bytes]) -> None:
    """Raise unless expat accepts `rows` (pieces after `<row`) inside sheetData under this prolog and root."""
    p = expat.ParserCreate(namespace_separator="}")
    p.Parse(root, False)
    p.Parse(tag + lead, False)
    if rows:
        p.Parse(b"<row" + b"<row".join(rows), False)
    p.Parse(b"</sheetData></worksheet>", True)


def _attrs(raw: bytes) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    for k, v1, v2 in _ATTR.findall(raw):     # expat normalises literal tabs and newlines to spaces
        out.setdefault(k, (v1 or v2).replace(b"\t", b" ").replace(b"\n", b" "))
    return out


def _fill_fast(sheet: Sheet, data: bytes, sst: list[str], style_of: tuple[dict, int],
               date1904: bool, budget: CellBudget, merged_left: list[int]) -> bool:
    """Fill `sheet` from a worksheet part as `xlsx._fill_sheet` would; False if the part is not plain."""
    # (bytes.find, not `in`: Python 3.11 first tries the needle as an int, raising and clearing a TypeError)
    if not _plain_utf8(data):
        return False        # CR normalisation, comments, CDATA, other encodings: the tree reader's business
    sd = data.find(b"<sheetData")
    if sd < 0:
        head, tag, body, tail = data, b"", b"", None
    else:
        m = _SHEET_DATA_TAG.match(data, sd)
        if m is None:
            return False
        tag = m.group(0)
        if tag.endswith(b"/>"):
            body, end = b"", m.end()
        else:
            end = data.find(b"</sheetData>", m.end())
            if end < 0:
                return False
            body, end = data[m.end():end], end + len(b"</sheetData>")
        head, tail = data[:sd], data[end:]
    if body.find(b"xmlns") >= 0:
        return False        # SpreadsheetML's default namespace throughout
    chunks = body.split(b"<row")
    lead = chunks[0]
    if lead.strip(_XML_BLANKS):
        return False        # sheetData holds rows only
    rows = _ROWS
    context = (head, tag, date1904, style_of[1])    # what a row's meaning and well-formedness depend on
    layout_key = ("layout", head, tag, tail)
    keep = len(head) + len(tail or b"") <= _LAYOUT_BYTES_MAX
    layout = _PARTS.get(layout_key) if keep else None
    if layout is None:
        _well_formed(data)
        layout = _PARTS.get_or(layout_key, lambda: _layout(head, tail)) if keep else _layout(head, tail)
        if layout is None:
            return False
    else:
        # What surrounds sheetData was checked (expat on a whole part) with these very bytes, and so was
        # each known row under this root and sheetData tag; expat checks the rest in the same context.
        new = [c for c in chunks[1:] if (c, context) not in rows]
        if new or lead:
            _well_formed_rows(head[:layout[3]], tag, lead, new)
    merged, area, protected, _ = layout
    merged_left[0] -= area
    if merged_left[0] < 0:
        raise ValueError(f"more than {MAX_MERGED_CELLS} merged cells")
    values, formats, formulas = sheet.values, sheet.formats, sheet.formulas
    unlocked: set[tuple[int, int]] = set()
    r = -1
    for chunk in chunks[1:]:
        key = (chunk, context)
        entry = rows.get(key)
        if entry is None:     # a piece not seen before: the grammar vouches for it now, or the part is not plain
            entry = _row(chunk, r, style_of, date1904)
            if entry is None:
                return False
            if entry[7] and len(chunk) <= _ROW_BYTES_MAX:    # numbered rows only: the bytes say it all
                if len(rows) >= _ROWS_MAX:
                    rows.clear()
                rows[key] = entry
        r, n, fmt_items, unlocked_keys, formula_items, vals, from_sst, _ = entry
        if n:
            budget.take(n)
            if fmt_items:
                formats.update(fmt_items)
            if unlocked_keys:
                unlocked.update(unlocked_keys)
            if formula_items:
                formulas.update(formula_items)
            if not from_sst:
                values.update(vals)
                continue
            for at, val in vals:
                if type(val) is int:       # a shared-string index (no value read from a cell is an int)
                    val = sst[val]
                    if not val:
                        continue
                values[at] = val
    sheet.merged = list(merged)
    sheet.protected = protected
    sheet.unlocked = unlocked
    return True


_LAYOUT_BYTES_MAX = 256 * 1024   # what surrounds sheetData in a template is a few KB; more is read each time
_ROWS_MAX = 10_000           # rows kept in all (a season's templates have a few hundred)
_ROW_BYTES_MAX = 2048        # longer rows are read each time


def _row(chunk: bytes, prev: int, style_of, date1904: bool):
    """One row's cells as `xlsx._fill_sheet` reads them, ready to merge into a Sheet; None if not plain.

    `chunk` is what follows a `<row` in sheetData: the row's attributes, its
    cells and `</row>`, then blanks. It is plain if it is that and every cell
    has the one shape of `_CELL` (one regex pass checks and reads it).
    (row, cells, format items, unlocked keys, formula items, values, any
    shared strings, numbered): a value is (key, value), or (key, shared-string
    index) since the string table is each return's own. Rows repeat across a
    season's returns, so `_fill_fast` keeps these by the row's bytes.
    """
    gt = chunk.find(b">")
    if gt < 0 or chunk[:1] not in _AFTER_ROW:
        return None         # not a <row> start tag (expat has vouched for the rest of it)
    head = chunk[:gt]
    if head.find(b"'") >= 0:
        rv = next((v1 or v2 for k, v1, v2 in _ATTR.findall(head) if k == b"r"), b"")
    else:                   # no value holds a quote, so no "r=" inside a value can pass for the attribute
        rr = _ROW_R.search(head)
        rv = rr.group(1) if rr else b""
    r = int(rv) - 1 if rv else prev + 1
    start = gt + 1
    if head.endswith(b"/"):
        if chunk[start:].strip(_XML_BLANKS):
            return None     # an attribute value held ">", or something follows the row
        return r, 0, (), (), (), (), False, bool(rv)
    end = chunk.rfind(b"</row>")
    if end < start or chunk[end + 6:].strip(_XML_BLANKS):
        return None
    cells = _CELL_SCAN.findall(chunk, start, end)
    if not cells:
        return r, 0, (), (), (), (), False, bool(rv)
    if not 0 <= r < MAX_ROWS:
        raise ValueError("cell outside the grid")     # the tree reader words the refusal
    info, bcols = style_of[0], _BCOLS
    fmts, unlocked, formulas, values = [], [], [], []
    from_sst = False
    for letters, s, t, f, ftext, v, inline, other in cells:
        c = bcols.get(letters)
        if c is None:
            if other:
                return None     # something other than a cell (its letters are empty)
            c = _col(letters.decode())
            if c >= MAX_COLS:
                raise ValueError("cell outside the grid")
            if len(bcols) < 20_000:
                bcols[letters] = c
        st = info.get(s)
        if st is not None:
            key = (r, c)
            if st[0]:
                fmts.append((key, st[0]))
            if st[1]:
                unlocked.append(key)
        elif v or f or inline:
            key = (r, c)
        else:
            continue            # an empty cell in a plain style: nothing to keep
        if f:
            formulas.append((key, _text(ftext)))
        if not v:
            if inline and t == b"inlineStr":
                val = _unescape(_text(inline))
                if val:
                    values.append((key, val))
            continue
        if t == b"s":
            values.append((key, int(v) if v.isdigit() else int(_text(v))))
            from_sst = True
        elif not t or t == b"n":
            num = float(v) if v.isdigit() else float(v if v.find(b"&") < 0 else _text(v))
            if st is not None and st[2]:
                dt = serial_to_datetime(num, date1904)
                values.append((key, dt if dt is not None else num))
            else:
                values.append((key, num))
        elif t == b"inlineStr":
            continue
        elif t == b"b":
            values.append((key, (v if v.find(b"&") < 0 else _text(v)).strip() in _TRUE))
        elif t == b"d":
            values.append((key, datetime.fromisoformat(_text(v).strip().rstrip("Z"))))
        else:   # "str", "e"
            values.append((key, _unescape(_text(v))))
    return r, len(cells), tuple(fmts), tuple(unlocked), tuple(formulas), tuple(values), from_sst, bool(rv)


def _layout(head: bytes, tail: bytes | None):
    """(merged ranges, cells they cover, protected) from what surrounds sheetData, or None if unusual.

    These bytes come unchanged from the template, so they are parsed once per
    season and kept by content (see `_PARTS`).
    """
    root = _ROOT.match(head)
    if root is None or (root.group(1) and not _UTF8_DECL.search(root.group(1))):
        return None
    outside = head[root.end():] + (tail or b"")
    if b"<?" in outside or b"<sheetData" in outside or b"</sheetData" in outside:
        return None
    ns = _DEFAULT_NS.search(root.group(2))
    if ns is None or ns.group(1).decode() not in _MAIN_NS or len(_ANY_NS_DECL.findall(head + (tail or b""))) != 1 \
            or (head + (tail or b"")).count(ns.group(1)) != 1:
        return None         # no other prefix or default namespace may reach SpreadsheetML names
    merges, prot = _root_children(head[root.end():], tail)
    if merges is False:
        return None
    merged, area = [], 0
    for m in merges or ():
        ref = m.get(b"ref")
        if not ref:
            continue
        a, _, b = _text(ref).partition(":")
        r0, c0 = _ref(a)
        r1, c1 = _ref(b) if b else (r0, c0)
        if max(r0, r1) >= MAX_ROWS or max(c0, c1) >= MAX_COLS:
            raise ValueError("merged range outside the grid")    # the tree reader words the refusal
        area += (abs(r1 - r0) + 1) * (abs(c1 - c0) + 1)
        merged.append((min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1)))
    return tuple(merged), area, prot is not None and _text(prot.get(b"sheet", b"")) in ("1", "true"), root.end()


def _root_children(head: bytes, tail: bytes | None):
    """(attributes of each child of the first mergeCells, attributes of the first sheetProtection).

    Walks the tags before and after sheetData (a few dozen) keeping the depth,
    so only the root's own children count, as ElementTree's `root.find` does.
    (False, None) if sheetData turns out not to be a child of the root.
    """
    depth, merges, prot, in_merges = 1, None, None, False
    for part, depth_after in ((head, 1 if tail is not None else 0), (tail or b"", 0)):
        for t in _TAG.finditer(part):
            closing, name, raw, empty = t.groups()
            if closing:
                depth -= 1
                in_merges = in_merges and depth > 1
                continue
            if depth == 1:
                if name == b"sheetProtection" and prot is None:
                    prot = _attrs(raw)
                elif name == b"mergeCells" and merges is None:
                    merges, in_merges = [], not empty
            elif depth == 2 and in_merges:
                merges.append(_attrs(raw))
            if not empty:
                depth += 1
        if depth != depth_after:
            return False, None
    return merges, prot


# ---------------------------------------------------------------- the shared strings, without a tree

_S_ATTRS = rb"""(?:\s+[^\s=<>/"']+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*\s*"""
_SST_ROOT = re.compile(rb"(?:\xef\xbb\xbf)?(?:<\?xml([^>]*)\?>)?\s*<sst(" + _S_ATTRS + rb")(/?)>")
# Expat has vouched for the part, so a tag is what lies between < and > (an attribute value holding ">"
# fails these patterns and the part goes to ElementTree). Run properties are ignored by every reader.
_S_T = rb'<t(?: xml:space="[a-z]*+")?+(?:/>|>([^<]*+)</t>)'
_S_RUN = rb"<r>(?:<rPr>(?:<[^<>]*/>)*+</rPr>|<rPr/>)?+" + _S_T + rb"</r>"
_S_NC = functools.partial(re.sub, rb"\((?!\?)", b"(?:")
_S_TAIL = rb"(?:<rPh[^<>]*+>" + _S_NC(_S_T) + rb"</rPh>)*+(?:<phoneticPr[^<>]*/>)?+</si>"
# A string item as writers save it: one text, or rich-text runs (each: optional run properties, one text),
# then phonetic runs and their properties, which are not part of the visible text. Anything else
# (whitespace between children, other attributes, nested markup) is left to ElementTree.
_SI_SCAN = re.compile(rb"\s*+(?:<si>(?:" + _S_T + rb")?+" + _S_TAIL + rb"|<si>((?:" + _S_NC(_S_RUN) + rb")++)"
                      + _S_TAIL + rb"|<si/>)|(\S)")
_RUN_TEXT = re.compile(_S_RUN)
_SI_PLAIN = re.compile(rb'<si><t(?: xml:space="[a-z]*+")?+>([^<]*+)</t></si>')    # four "<" each


def _shared_strings_fast(data: bytes) -> list[str] | None:
    """The string table as `xlsx._shared_strings` reads it, or None if it is not in the plain shape.

    Checked well-formed by expat first; then one regex pass over the bytes
    reads each item. `<si>` children other than texts, runs and phonetic
    runs, CR line ends, comments and CDATA are ElementTree's business.
    """
    if not _plain_utf8(data):
        return None
    _well_formed(data)
    root = _SST_ROOT.match(data)
    if root is None or (root.group(1) and not _UTF8_DECL.search(root.group(1))):
        return None
    if root.group(3):
        return [] if not data[root.end():].strip(_XML_BLANKS) else None
    end = data.rfind(b"</sst>")
    if end < root.end() or data[end + 6:].strip(_XML_BLANKS) or data.find(b"xmlns", root.end(), end) >= 0:
        return None         # children in the root's own namespace, as ElementTree is asked for them
    if data.find(b"<r>", root.end(), end) < 0 and data.find(b"<rPh", root.end(), end) < 0:
        items = _SI_PLAIN.findall(data, root.end(), end)
        if data.count(b"<", root.end(), end) == 4 * len(items):
            # Every tag belongs to a plain <si><t>…</t></si> (text holds no "<"): decode them all at once.
            joined = b"<".join(items)
            if joined.find(b"&") < 0 and joined.find(b"_x") < 0:
                return joined.decode("utf-8").split("<") if items else []
    out = []
    for plain, runs, other in _SI_SCAN.findall(data, root.end(), end):
        if other:
            return None
        text = (b"".join(_RUN_TEXT.findall(runs)) if runs else plain).decode("utf-8")
        if "&" in text:
            text = _ENTITY.sub(_entity, text)
        out.append(_unescape(text) if "_x" in text else text)
    return out


def _shared_strings_of(pkg: _Package, part: str | None, max_items: int) -> list[str]:
    """`xlsx._shared_strings`, by regex when the table has the plain shape."""
    data = _inflate(pkg, part) if part else None
    if data is None:
        return []
    if len(data) > 4 * max_items and count_tags(data, "si") > max_items:    # each counted tag takes 4 bytes
        raise ValueError("too many shared strings")      # the full reader words the refusal
    fast = _shared_strings_fast(data)
    return fast if fast is not None else _shared_strings(pkg, part, max_items)


# ---------------------------------------------------------------- the workbook

_IN_MEMORY_MAX = 4 * 1024 * 1024


def read_fast(path, *, max_uncompressed: int, max_cells: int, max_file: int) -> Grid | None:
    """The `Grid` of an ordinary xlsx, or None: then `read_xlsx` (or another reader) decides."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > max_file or st.st_size == 0:
            return None
        with open(path, "rb") as fh:
            if fh.read(4) != ZIP_MAGIC:
                return None
            fh.seek(0)
            # A return is a few dozen KB: read it whole, so the directory and every part are read from memory.
            source = io.BytesIO(fh.read()) if st.st_size <= _IN_MEMORY_MAX else fh
            with zipfile.ZipFile(source) as z:
                if zip_format(z, path) != "xlsx":
                    return None
                return _read(_Package(z, path, max_uncompressed), path, max_cells)
    except Exception:  # noqa: BLE001 — any doubt at all: the full reader decides, and words any refusal
        return None


def _read(pkg: _Package, path, max_cells: int) -> Grid | None:
    root_rels = _rels(pkg, "")
    wb_part = next((n for t, n in root_rels.values() if t == "officeDocument"), "xl/workbook.xml")
    workbook = _template_part(pkg, wb_part, ("workbook",), _workbook_of)
    if workbook is None:
        return None
    date1904, sheet_list, names = workbook
    rels = _rels(pkg, wb_part)
    by_type = {t: n for t, n in rels.values()}
    sst = _shared_strings_of(pkg, by_type.get("sharedStrings"), max(max_cells, 1000))
    styles_part = by_type.get("styles")
    style_of = (_template_part(pkg, styles_part, ("styles",), _styles_of) if styles_part else None) \
        or _style_sets([])

    grid = Grid(path=str(path), format="xlsx")
    budget = CellBudget(max_cells, path)
    merged_left = [MAX_MERGED_CELLS]
    parsed: set[str] = set()
    sheet_of_part: dict[str, str] = {}
    for name, state, rid in sheet_list:
        sheet = Sheet(name=name, state=state)
        target = rels.get(rid or "")
        if target is not None and target[1] not in parsed:
            parsed.add(target[1])
            sheet_of_part[posixpath.basename(target[1])] = sheet.name
            data = _inflate(pkg, target[1])
            if data is not None:
                if len(data) > TREE_TAGS and data.count(b"<") > TREE_TAGS:   # the tree reader streams (or refuses) it
                    return None
                if not _fill_fast(sheet, data, sst, style_of, date1904, budget, merged_left):
                    return None
        grid.sheets.append(sheet)

    for part, cell, what in package_hazards(list(pkg.names), pkg.read):
        grid.hazards.append((sheet_of_part.get(part, ""), cell, what))
    grid.defined_names = dict(names)

    app_part = next((n for t, n in root_rels.values() if t == "extended-properties"), "docProps/app.xml")
    grid.application = _template_part(pkg, app_part, ("app",), _application_of) or ""
    return grid
