"""The fast xlsx path gives exactly what the full reader gives, or steps aside.

A season's returns go through `fastxlsx.read_fast` (one zip open, no element
tree, template parts kept by content). The full reader `read_xlsx` stays the
authority: on every workbook the suite can make, and on a seeded corpus of
mutated sheets (attribute order, inline strings, entities, shared formulas,
whitespace, truncated XML...), both give the same Grid or refuse with the
same code.
"""
from __future__ import annotations

import random
import re
import zipfile
from pathlib import Path

import pytest
from corpus.build import build as build_corpus_form
from corpus.build import fixtures as corpus_fixtures
from helpers import libreoffice as lo
from helpers.handtyped import official_form

from xlperf.errors import UnreadableFile
from xlperf.form.samples import example_form_data
from xlperf.form.spec import available_forms, load_form
from xlperf.form.template import write_template
from xlperf.read import read_grid
from xlperf.read.fastxlsx import forget, read_fast


def outcome(path: Path, *, fast: bool):
    """The Grid a reader gives, or ("refused", code)."""
    try:
        return read_grid(path, fast=fast)
    except UnreadableFile as e:
        return ("refused", e.code)


def took_fast_path(path: Path) -> bool:
    return read_fast(path, max_uncompressed=50_000_000, max_cells=500_000, max_file=100_000_000) is not None


def assert_same(path: Path) -> None:
    """Same outcome, whether the fast path meets the file's parts for the first time or knows them."""
    full, fast, again = outcome(path, fast=False), outcome(path, fast=True), outcome(path, fast=True)
    assert fast == full, path.name
    assert again == full, path.name


@pytest.fixture(scope="module")
def returns(tmp_path_factory) -> list[Path]:
    """Every shipped form, filled as a diligent county would, written by our generator."""
    out = tmp_path_factory.mktemp("returns")
    paths = []
    for name, p in sorted(available_forms().items()):
        spec = load_form(p)
        write_template(spec, 2024, out / f"{name}.xlsx", example_form_data(spec))
        write_template(spec, 2024, out / f"{name}-blank.xlsx")
        paths += [out / f"{name}.xlsx", out / f"{name}-blank.xlsx"]
    return paths


def test_our_returns_take_the_fast_path_and_read_the_same(returns):
    for path in returns:
        assert took_fast_path(path), path.name
        assert_same(path)
        grid = read_grid(path)
        form = grid.sheets[0]
        assert form.values and form.merged and form.protected and form.unlocked and grid.defined_names


def test_reading_the_same_template_twice_gives_equal_but_separate_grids(returns):
    """Parts kept by content must never leak one return's sheet into another's."""
    a, b = read_grid(returns[0]), read_grid(returns[0])
    assert a == b
    a.sheets[0].merged.append((0, 0, 0, 0))
    a.defined_names["x"] = "y"
    assert read_grid(returns[0]) == b


@pytest.mark.slow
def test_libreoffice_resaves_take_the_fast_path_and_read_the_same(libreoffice, returns, tmp_path):
    saved = lo.convert_many(returns[::2], "xlsx", tmp_path)
    for path in saved:
        assert took_fast_path(path), path.name
        assert_same(path)


def test_the_published_corpus_and_hand_typed_forms_read_the_same(tmp_path):
    for fixture in corpus_fixtures():
        typed_by_clerk = build_corpus_form(fixture, tmp_path)
        assert took_fast_path(typed_by_clerk), fixture.name
        assert_same(typed_by_clerk)
    typed = official_form(
        tmp_path / "棠溪镇.xlsx", title="项目支出绩效自评表", subtitle="（2022年度）",
        header=[[("项目名称", "委托业务项目")], [("主管部门", "池州市贵池区棠溪镇人民政府"), ("实施单位", "棠溪镇")]],
        funds_cols=["年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"],
        funds_rows=[("年度资金总额：", 90, 90, 89.974, 10, None, 10), ("其中：本年财政拨款", 90, 89.974, 89.974, "—", None, "—")],
        goal=("年度总体目标", "预期目标", "本项目共申请预算资金90万元", "完成预算资金89.97万元"),
        ind_cols=["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因"],
        indicators=[("产出指标(50分)", "数量指标", "委托业务项目数量", "≥50个", 50, 25, 25, None),
                    ("满意度指标(10分)", "满意度指标", "公众满意度", "≥90%", "95%", 10, 10, "a & b < c")])
    assert took_fast_path(typed)
    assert_same(typed)


# ---------------------------------------------------------------- mutation corpus

def rewrite(src: Path, dst: Path, part: str, change) -> Path:
    """Copy a workbook with one part's bytes changed."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, change(data) if info.filename == part else data)
    return dst


def _swap_attrs(d: bytes) -> bytes:
    return re.sub(rb'<c r="([A-Z]+\d+)" s="(\d+)"', rb'<c s="\2" r="\1"', d, count=5)


def _inline(d: bytes) -> bytes:
    return re.sub(rb'<c r="([A-Z]+\d+)"( s="\d+")? t="s"><v>\d+</v></c>',
                  rb'<c r="\1"\2 t="inlineStr"><is><t>inline &amp; text</t></is></c>', d, count=3)


def _entities(d: bytes) -> bytes:
    d = re.sub(rb"<f>([^<]*)</f>", rb"<f>\1&amp;&quot;x&quot;&lt;&#x41;</f>", d, count=2)
    return re.sub(rb'<c r="([A-Z]+\d+)"( s="\d+")?><v>(\d)', rb'<c r="\1"\2><v>&#x3\3;', d, count=2)


def _shared_formulas(d: bytes) -> bytes:
    d = re.sub(rb"<f>([^<]*)</f>", rb'<f t="shared" ref="A1:A2" si="0">\1</f>', d, count=1)
    return re.sub(rb"<f>[^<]*</f>", rb'<f t="shared" si="0"/>', d, count=2)


def _whitespace(d: bytes) -> bytes:
    return d.replace(b"<row ", b"\n  <row ").replace(b"<c ", b"\n    <c ").replace(b"<v>", b" <v>", 3)


def _cell_types(d: bytes) -> bytes:
    extra = (b'<c r="Z1" t="b"><v>1</v></c><c r="Y1" t="str"><v>a&amp;b_x0041_</v></c>'
             b'<c r="X1" t="e"><v>#N/A</v></c><c r="W1" t="d"><v>2024-05-01T00:00:00Z</v></c>'
             b'<c r="V1" t="n"><v> 2.5 </v></c><c r="U1" s="999"><v>3</v></c><c r="T1" t="b"><v>&#49;</v></c>')
    return d.replace(b"</row>", extra + b"</row>", 1)


def _rows_without_r(d: bytes) -> bytes:
    return re.sub(rb'<row r="\d+"', b"<row", d)


def _protection_off(d: bytes) -> bytes:
    return re.sub(rb'<sheetProtection [^>]*/>', b'<sheetProtection sheet="0"/>', d)


def _nested_merges(d: bytes) -> bytes:
    """A mergeCells hidden inside extLst is not the sheet's merge list."""
    block = re.search(rb"<mergeCells.*?</mergeCells>", d, re.DOTALL)
    d = d.replace(block.group(0), b"")
    return d.replace(b"</worksheet>", b"<extLst><ext uri=\"x\">" + block.group(0) + b"</ext></extLst></worksheet>")


def _prefixed_root(d: bytes) -> bytes:
    d = re.sub(rb"<(/?)(?!\?)([A-Za-z])", rb"<\1x:\2", d)
    return d.replace(b'xmlns="http', b'xmlns:x="http', 1)


def _row_default_ns(d: bytes) -> bytes:
    return d.replace(b"<row ", b'<row xmlns="urn:other" ', 1)


def _r_inside_a_value(d: bytes) -> bytes:
    """A single-quoted attribute value that holds text looking like the row's own r="…"."""
    return d.replace(b'<row r="3"', b"<row x=' r=\"30\"' r=\"3\"", 1)


MUTATIONS = {
    "attribute order": _swap_attrs,
    "inline strings": _inline,
    "entities": _entities,
    "shared formulas": _shared_formulas,
    "whitespace": _whitespace,
    "cell types": _cell_types,
    "rows without r": _rows_without_r,
    "protection off": _protection_off,
    "merges nested in extLst": _nested_merges,
    "prefixed root": _prefixed_root,
    "row in another namespace": _row_default_ns,
    "r look-alike inside a row attribute": _r_inside_a_value,
    "row attributes in single quotes": lambda d: re.sub(rb'<row r="(\d+)"', rb"<row r='\1'", d),
    "row attribute holding >": lambda d: d.replace(b'<row r="2"', b'<row note="a>b" r="2"', 1),
    "empty row attribute holding >": lambda d: d.replace(b"<sheetData>", b'<sheetData><row note="a>b" r="99"/>', 1),
    "text between cells": lambda d: d.replace(b"</c><c ", b"</c>x<c ", 1),
    "element between cells": lambda d: d.replace(b"</c><c ", b"</c><extLst/><c ", 1),
    "element named like a row": lambda d: d.replace(b"<row ", b"<rows ", 1).replace(b"</row>", b"</rows>", 1),
    "text before the first row": lambda d: d.replace(b"<sheetData>", b"<sheetData>x", 1),
    "text after a row": lambda d: d.replace(b"</row>", b"</row>x", 1),
    "form feed before the first row": lambda d: d.replace(b"<sheetData><row", b"<sheetData>\x0c<row", 1),
    "form feed after a row": lambda d: d.replace(b"</row><row", b"</row>\x0c<row", 1),
    "a changed row under a known root, ill-formed": lambda d: d.replace(b"<v>", b"<v>&#0;", 1),
    "a changed row under a known root, unbound prefix": lambda d: d.replace(b'<row r="5"', b'<row q:x="1" r="5"', 1),
    "a changed row under a known root, bad UTF-8": lambda d: d.replace(b"<v>", b"<v>\xc3", 1),
    "CR line ends": lambda d: d.replace(b"<row ", b"\r\n<row "),
    "CDATA": lambda d: re.sub(rb"<f>([^<]*)</f>", rb"<f><![CDATA[\1]]></f>", d, count=1),
    "comment": lambda d: d.replace(b"<sheetData>", b"<sheetData><!-- x -->"),
    "truncated XML": lambda d: d[: len(d) // 2],
    "unknown entity": lambda d: d.replace(b"<v>", b"<v>&foo;", 1),
    "lone ampersand": lambda d: d.replace(b"<v>", b"<v>&", 1),
    "undeclared prefix": lambda d: d.replace(b"<row ", b"<row q:x=\"1\" ", 1),
    "cell outside the grid": lambda d: d.replace(b'<row r="1"', b'<row r="2000000"', 1),
    "merge outside the grid": lambda d: d.replace(b"<mergeCell ref=\"", b"<mergeCell ref=\"XFE1:", 1),
    "bad shared string index": lambda d: re.sub(rb't="s"><v>\d+</v>', b't="s"><v>99999</v>', d, count=1),
    "latin-1 declared": lambda d: d.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"', 1),
}


@pytest.fixture(scope="module")
def base(returns) -> Path:
    return returns[0]


def assert_same_cold_and_warm(base: Path, changed: Path) -> None:
    """Same outcome with nothing known, and with the unchanged return's parts and rows already read.

    The unchanged return is copied the way `changed` was, so its other parts have the very same stored bytes.
    """
    unchanged = rewrite(base, changed.with_name("unchanged.xlsx"), "", lambda d: d)
    forget()
    assert_same(changed)
    forget()
    assert took_fast_path(unchanged)
    assert_same(changed)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_a_mutated_sheet_reads_the_same_or_is_refused_the_same(base, tmp_path, name):
    changed = rewrite(base, tmp_path / "m.xlsx", "xl/worksheets/sheet1.xml", MUTATIONS[name])
    assert_same_cold_and_warm(base, changed)


def damages(data: bytes, alphabet: list[bytes], *, seed: int, n: int = 40):
    """n seeded copies of `data`, each with 1–3 bytes runs cut out or characters of `alphabet` put in."""
    rng = random.Random(seed)
    for _ in range(n):
        out = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(out))
            if rng.random() < 0.5:
                del out[pos:pos + rng.randint(1, 8)]
            else:
                out[pos:pos] = rng.choice(alphabet)
        yield bytes(out)


def test_random_damage_to_a_sheet_reads_the_same_or_is_refused_the_same(base, tmp_path):
    with zipfile.ZipFile(base) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    alphabet = [b"<", b">", b"/", b'"', b"&", b" ", b"\n", b"x", b"1", b"c", b"r", b"=", b"\xe4"]
    for i, damaged in enumerate(damages(sheet, alphabet, seed=12)):
        damaged_path = rewrite(base, tmp_path / f"r{i}.xlsx", "xl/worksheets/sheet1.xml", lambda _d, d=damaged: d)
        assert_same_cold_and_warm(base, damaged_path)


def test_hostile_parts_are_refused_exactly_as_before(base, tmp_path):
    """Caps and refusals stay the full reader's: same code whichever path is asked for."""
    bomb = rewrite(base, tmp_path / "bomb.xlsx", "xl/worksheets/sheet1.xml",
                   lambda d: d.replace(b"</sheetData>", b"</sheetData>" + b" " * 2_000_000))
    assert outcome(bomb, fast=True) == outcome(bomb, fast=False)
    for kw in ({"max_uncompressed": 1_000_000}, {"max_cells": 50}):
        with pytest.raises(UnreadableFile) as refused:
            read_grid(bomb, **kw)
        assert refused.value.code == "file-too-large"
    entity = rewrite(base, tmp_path / "ent.xlsx", "xl/worksheets/sheet1.xml",
                     lambda d: d.replace(b"<worksheet", b'<!DOCTYPE w [<!ENTITY a "b">]><worksheet', 1))
    assert outcome(entity, fast=True) == outcome(entity, fast=False) == ("refused", "file-corrupt")


def test_a_template_part_with_a_forged_checksum_is_refused_even_after_its_template_was_seen(base, tmp_path):
    """Known template parts are recognised by their stored bytes *and* checksum, never by name alone."""
    assert took_fast_path(base)          # the template's styles are now known
    data = bytearray(base.read_bytes())
    name = b"xl/styles.xml"
    pos = data.find(name)
    while pos >= 0:
        for magic, name_at, crc_at in ((b"PK\x03\x04", 30, 14), (b"PK\x01\x02", 46, 16)):
            start = pos - name_at
            if start >= 0 and data[start:start + 4] == magic:
                data[start + crc_at] ^= 0xFF
        pos = data.find(name, pos + 1)
    forged = tmp_path / "forged.xlsx"
    forged.write_bytes(bytes(data))
    assert outcome(forged, fast=True) == outcome(forged, fast=False) == ("refused", "file-corrupt")


def test_rows_seen_before_do_not_vouch_for_a_sheet_whose_root_no_longer_declares_their_prefix(base, tmp_path):
    """Known rows skip the second well-formedness pass only under the very root they were checked with."""
    def declared(d: bytes) -> bytes:
        d = d.replace(b'<worksheet xmlns="', b'<worksheet xmlns:q="urn:q" xmlns="', 1)
        return d.replace(b'<row r="1"', b'<row q:x="1" r="1"', 1)

    good = rewrite(base, tmp_path / "good.xlsx", "xl/worksheets/sheet1.xml", declared)
    assert took_fast_path(good) and took_fast_path(good)       # its rows are now known
    assert_same(good)
    bad = rewrite(good, tmp_path / "bad.xlsx", "xl/worksheets/sheet1.xml",
                  lambda d: d.replace(b' xmlns:q="urn:q"', b"", 1))
    assert outcome(bad, fast=True) == outcome(bad, fast=False) == ("refused", "file-corrupt")


# ---------------------------------------------------------------- shared strings

def _each_item(d: bytes, make, count: int = 3) -> bytes:
    """Rewrite the first `count` plain string items with make(text)."""
    return re.sub(rb"<si><t>([^<]*)</t></si>", lambda m: make(m.group(1)), d, count=count)


SHARED_STRINGS = {
    "rich-text runs": lambda d: _each_item(d, lambda t: b'<si><r><rPr><b/><sz val="11"/><rFont val="\xe5\xae\x8b\xe4\xbd\x93"/>'
                                        b'</rPr><t>' + t + b'</t></r><r><t xml:space="preserve"> \xe5\xb0\xbe</t></r></si>'),
    "rich-text runs without properties": lambda d: _each_item(d, lambda t: b"<si><r><t>" + t + b"</t></r><r><rPr/><t/></r></si>"),
    "phonetic runs": lambda d: _each_item(d, lambda t: b'<si><t>' + t + b'</t><rPh sb="0" eb="1"><t>\xe3\x83\xa8\xe3\x83\x9f</t></rPh>'
                                        b'<phoneticPr fontId="1" type="noConversion"/></si>'),
    "rich text with phonetic runs": lambda d: _each_item(d, lambda t: b"<si><r><t>" + t + b'</t></r><rPh sb="0" eb="1"><t>x</t>'
                                                        b"</rPh></si>"),
    "entities": lambda d: _each_item(d, lambda t: b"<si><t>" + t + b" &amp; &lt;b&gt; &quot;&apos; &#x41;&#66;&#13;</t></si>"),
    "entities in runs": lambda d: _each_item(d, lambda t: b"<si><r><t>&amp;" + t + b"</t></r></si>"),
    "escaped characters": lambda d: _each_item(d, lambda t: b"<si><t>" + t + b"_x000D__x0041_</t></si>"),
    "empty items": lambda d: _each_item(d, lambda t: b"<si/>", 1).replace(b"<si><t>", b"<si><t/></si><si></si><si><t>", 1),
    "empty texts": lambda d: _each_item(d, lambda t: b"<si><t></t></si>", 2),
    "xml:space preserved blanks": lambda d: _each_item(d, lambda t: b'<si><t xml:space="preserve">  ' + t + b"  </t></si>"),
    "whitespace between items": lambda d: d.replace(b"<si>", b"\n  <si>"),
    "text between items": lambda d: d.replace(b"</si><si>", b"</si>x<si>", 1),
    "an item with an empty text element among plain ones": lambda d: d.replace(b"<si><t>", b"<si><t/></si><si><t>", 1),
    "whitespace inside an item": lambda d: d.replace(b"<si><t>", b"<si>\n <t>", 2),
    "text directly in an item": lambda d: d.replace(b"<si><t>", b"<si>x<t>", 1),
    "unknown child of an item": lambda d: d.replace(b"</t></si>", b"</t><foo/></si>", 1),
    "unknown child of the table": lambda d: d.replace(b"</sst>", b"<extLst/></sst>"),
    "two texts in one item": lambda d: d.replace(b"</t></si>", b"</t><t>2</t></si>", 1),
    "text with another attribute": lambda d: d.replace(b"<si><t>", b'<si><t foo="1">', 1),
    "run property holding >": lambda d: _each_item(d, lambda t: b'<si><r><rPr><rFont val="a>b"/></rPr><t>' + t + b"</t></r></si>"),
    "text in another namespace": lambda d: d.replace(b"<si><t>", b'<si><t xmlns="urn:x">', 1),
    "prefixed root": lambda d: re.sub(rb"<(/?)(?!\?)([A-Za-z])", rb"<\1x:\2", d).replace(b'xmlns="http', b'xmlns:x="http', 1),
    "root without namespace": lambda d: re.sub(rb' xmlns="[^"]*"', b"", d, count=1),
    "CR line ends": lambda d: d.replace(b"<si>", b"\r\n<si>", 2),
    "CR in a text": lambda d: d.replace(b"</t></si>", b"\r\nx</t></si>", 1),
    "CDATA": lambda d: d.replace(b"<si><t>", b"<si><t><![CDATA[a<b]]>", 1),
    "comment": lambda d: d.replace(b"<si>", b"<!-- x --><si>", 1),
    "truncated XML": lambda d: d[: len(d) // 2],
    "unknown entity": lambda d: d.replace(b"</t></si>", b"&foo;</t></si>", 1),
    "bad UTF-8": lambda d: d.replace(b"</t></si>", b"\xff</t></si>", 1),
    "latin-1 declared": lambda d: d.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"', 1),
    "no declaration": lambda d: d[d.index(b"?>") + 2:].lstrip(),
    "byte order mark": lambda d: b"\xef\xbb\xbf" + d,
    "empty table": lambda d: re.sub(rb"<sst([^>]*)>.*</sst>", rb"<sst\1/>", d, flags=re.DOTALL),
}


@pytest.mark.parametrize("name", sorted(SHARED_STRINGS))
def test_a_mutated_string_table_reads_the_same_or_is_refused_the_same(base, tmp_path, name):
    changed = rewrite(base, tmp_path / "s.xlsx", "xl/sharedStrings.xml", SHARED_STRINGS[name])
    assert_same_cold_and_warm(base, changed)


def test_random_damage_to_the_string_table_reads_the_same_or_is_refused_the_same(base, tmp_path):
    with zipfile.ZipFile(base) as z:
        table = z.read("xl/sharedStrings.xml")
    table = SHARED_STRINGS["rich-text runs"](SHARED_STRINGS["phonetic runs"](table))
    alphabet = [b"<", b">", b"/", b'"', b"&", b" ", b"\n", b"t", b"r", b"si", b"rPh", b"=", b"\xe4"]
    for i, damaged in enumerate(damages(table, alphabet, seed=7)):
        assert_same(rewrite(base, tmp_path / f"s{i}.xlsx", "xl/sharedStrings.xml", lambda _d, d=damaged: d))


def test_rich_text_and_phonetic_string_tables_are_read_without_a_tree(base):
    """What Excel, WPS and LibreOffice write (runs, phonetic runs, entities) stays on the regex path."""
    from xlperf.read.fastxlsx import _shared_strings_fast
    with zipfile.ZipFile(base) as z:
        table = z.read("xl/sharedStrings.xml")
    assert _shared_strings_fast(table) is not None
    for name in ("rich-text runs", "rich-text runs without properties", "phonetic runs", "rich text with phonetic runs",
                 "entities", "entities in runs", "escaped characters", "empty items", "empty texts",
                 "xml:space preserved blanks", "root without namespace", "no declaration", "byte order mark", "empty table",
                 "whitespace between items", "an item with an empty text element among plain ones"):
        assert _shared_strings_fast(SHARED_STRINGS[name](table)) is not None, name


# ---------------------------------------------------------------- parts inflated without zipfile's reader

def _forge(path: Path, out: Path, part: str, edit) -> Path:
    """Copy a workbook's bytes with `edit(data, local header offset, central header offset)` applied for `part`."""
    data = bytearray(path.read_bytes())
    name = part.encode()
    local = central = None
    pos = data.find(name)
    while pos >= 0:
        if data[pos - 30:pos - 26] == b"PK\x03\x04":
            local = pos - 30
        elif data[pos - 46:pos - 42] == b"PK\x01\x02":
            central = pos - 46
        pos = data.find(name, pos + 1)
    edit(data, local, central)
    out.write_bytes(bytes(data))
    return out


def test_a_sheet_stored_without_compression_reads_the_same(base, tmp_path):
    stored = tmp_path / "stored.xlsx"
    with zipfile.ZipFile(base) as zin, zipfile.ZipFile(stored, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info), zipfile.ZIP_STORED)
    assert took_fast_path(stored)
    assert_same(stored)


def test_a_sheet_or_string_table_with_a_forged_checksum_is_refused_as_by_the_full_reader(base, tmp_path):
    def flip_crc(data, local, central):
        data[local + 14] ^= 0xFF
        data[central + 16] ^= 0xFF
    for part in ("xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"):
        forged = _forge(base, tmp_path / "crc.xlsx", part, flip_crc)
        assert outcome(forged, fast=True) == outcome(forged, fast=False) == ("refused", "file-corrupt"), part


def test_a_sheet_whose_local_header_names_another_part_is_refused_as_by_the_full_reader(base, tmp_path):
    def rename_local(data, local, central):
        data[local + 30 + len("xl/worksheets/")] = ord("X")
    forged = _forge(base, tmp_path / "name.xlsx", "xl/worksheets/sheet1.xml", rename_local)
    assert outcome(forged, fast=True) == outcome(forged, fast=False) == ("refused", "file-corrupt")
