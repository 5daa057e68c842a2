"""Files that cannot be read come back as one UnreadableFile with a stable code
and a Chinese reason naming the file — never as a traceback."""
from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from helpers import libreoffice as lo
from xlperf.errors import UnreadableFile
from xlperf.read import read_grid

ENCRYPTED = "文件已设置打开密码，无法读取，请取消密码后重新提交"
CORRUPT = "文件已损坏或不完整，无法打开"
NOT_SHEET = "不是电子表格文件（xlsx/xls/ods）"


def small_workbook(path: Path, rows: int = 3, cols: int = 3) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("项目支出绩效自评表")
    for r in range(rows):
        for c in range(cols):
            ws.write_number(r, c, r * cols + c)
    wb.close()
    return path


def unreadable(path: Path, **kw) -> UnreadableFile:
    with pytest.raises(UnreadableFile) as info:
        read_grid(path, **kw)
    err = info.value
    assert err.path == str(path)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in err.message), err.message
    return err


def test_a_text_file_named_xlsx_is_not_a_spreadsheet(tmp_path):
    path = tmp_path / "自评表.xlsx"
    path.write_text("单位名称,执行数\n某县,95\n", encoding="utf-8")
    err = unreadable(path)
    assert (err.code, err.message) == ("not-a-spreadsheet", NOT_SHEET)


def test_a_pdf_named_xlsx_is_not_a_spreadsheet(tmp_path):
    path = tmp_path / "自评表.xlsx"
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    assert unreadable(path).code == "not-a-spreadsheet"


def test_a_word_document_is_not_a_spreadsheet(tmp_path):
    path = tmp_path / "自评报告.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                   '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr("_rels/.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                   'relationships/officeDocument" Target="word/document.xml"/></Relationships>')
        z.writestr("word/document.xml", "<w:document/>")
    err = unreadable(path)
    assert (err.code, err.message) == ("not-a-spreadsheet", NOT_SHEET)


def test_a_truncated_upload_is_corrupt(tmp_path):
    whole = small_workbook(tmp_path / "whole.xlsx").read_bytes()
    path = tmp_path / "自评表.xlsx"
    path.write_bytes(whole[: len(whole) // 2])
    err = unreadable(path)
    assert (err.code, err.message) == ("file-corrupt", CORRUPT)


def test_a_zip_with_damaged_sheet_data_is_corrupt(tmp_path):
    path = small_workbook(tmp_path / "自评表.xlsx")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start, start + info.compress_size):
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))
    err = unreadable(path)
    assert (err.code, err.message) == ("file-corrupt", CORRUPT)


def test_an_empty_file_says_it_is_empty(tmp_path):
    path = tmp_path / "自评表.xlsx"
    path.write_bytes(b"")
    err = unreadable(path)
    assert (err.code, err.message) == ("file-empty", "文件是空的（0字节）")


def test_a_missing_file_is_reported_not_raised_as_oserror(tmp_path):
    err = unreadable(tmp_path / "不存在.xlsx")
    assert err.code == "file-missing"


def test_a_decompression_bomb_is_refused_before_inflating(tmp_path):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(small_workbook(tmp_path / "src.xlsx")) as src, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":   # 20 MB of whitespace inside the sheet
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * 20_000_000)
            dst.writestr(info.filename, data)
    assert path.stat().st_size < 100_000
    err = unreadable(path, max_uncompressed=5_000_000)
    assert err.code == "file-too-large"
    assert err.message.startswith("文件解压后过大（") and err.message.endswith("），已拒绝读取")


def test_a_sheet_over_the_cell_limit_is_refused(tmp_path):
    path = small_workbook(tmp_path / "huge.xlsx", rows=200, cols=10)
    err = unreadable(path, max_cells=1000)
    assert (err.code, err.message) == ("file-too-large", "表格单元格过多（超过 1,000 个），已拒绝读取")
    assert read_grid(path, max_cells=2000).sheets[0].values[(199, 9)] == 1999.0


# ---------------------------------------------------------------- password-protected returns

_SAVE_WITH_PASSWORD = r'''
src, out = args[0], args[1]
doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(src), "_blank", 0, (pv("Hidden", True),))
ooxml = uno.Any("[]com.sun.star.beans.NamedValue", (nv("OOXPassword", "secret"), nv("CryptoType", "Standard")))
for name, args in (
    ("enc.xlsx", (pv("FilterName", "Calc MS Excel 2007 XML"), pv("EncryptionData", ooxml))),
    ("enc.xls", (pv("FilterName", "MS Excel 97"), pv("Password", "secret"))),
    ("enc.ods", (pv("FilterName", "calc8"), pv("Password", "secret"))),
    ("plain.xls", (pv("FilterName", "MS Excel 97"),)),
    ("plain.ods", (pv("FilterName", "calc8"),)),
):
    uno.invoke(doc, "storeToURL", (uno.systemPathToFileUrl(out + "/" + name), args))
doc.close(True)
'''


@pytest.fixture(scope="module")
def lo_saved(tmp_path_factory) -> Path | None:
    """A small workbook saved by LibreOffice with an open password as xlsx, xls and ods
    (enc.*), and without one as xls and ods (plain.*), in one LibreOffice session."""
    if lo.soffice() is None:
        return None      # the `libreoffice` fixture skips (or fails in CI)
    out = tmp_path_factory.mktemp("lo_saved")
    src = small_workbook(out / "src.xlsx", rows=45, cols=10)
    lo.run_uno_script(_SAVE_WITH_PASSWORD, str(src), str(out))
    return out


def test_a_password_protected_xlsx_asks_for_the_password_to_be_removed(libreoffice, lo_saved):
    path = lo_saved / "enc.xlsx"
    assert path.read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"     # an OLE2 wrapper, not a zip
    err = unreadable(path)
    assert (err.code, err.message) == ("file-encrypted", ENCRYPTED)


def test_a_password_protected_xls_asks_for_the_password_to_be_removed(libreoffice, lo_saved):
    err = unreadable(lo_saved / "enc.xls")
    assert (err.code, err.message) == ("file-encrypted", ENCRYPTED)


def test_a_password_protected_ods_asks_for_the_password_to_be_removed(libreoffice, lo_saved):
    err = unreadable(lo_saved / "enc.ods")
    assert (err.code, err.message) == ("file-encrypted", ENCRYPTED)


# ---------------------------------------------------------------- damaged bytes never escape

def _mutations(data: bytes, count: int, seed: int):
    rnd = random.Random(seed)
    for _ in range(count):
        b = bytearray(data)
        for _ in range(rnd.randint(1, 12)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        if rnd.random() < 0.2:
            b = b[:rnd.randrange(len(b))]
        yield bytes(b)


def _read_each(paths_and_bytes, tmp_path: Path, suffix: str) -> set[str]:
    outcomes = set()
    target = tmp_path / f"damaged{suffix}"
    for data in paths_and_bytes:
        target.write_bytes(data)
        try:
            read_grid(target)
            outcomes.add("read")
        except UnreadableFile as e:
            assert e.path == str(target)
            outcomes.add(e.code)
    return outcomes


def test_randomly_damaged_xlsx_files_are_read_or_refused__never_a_traceback(tmp_path):
    data = small_workbook(tmp_path / "src.xlsx", rows=45, cols=10).read_bytes()
    assert "file-corrupt" in _read_each(_mutations(data, 300, seed=1), tmp_path, ".xlsx")


@pytest.mark.parametrize("name", ["plain.xls", "plain.ods", "enc.xlsx"])
def test_randomly_damaged_libreoffice_files_are_read_or_refused__never_a_crash(libreoffice, lo_saved, tmp_path, name):
    """calamine can abort the whole process on a bad length (Rust allocation failure),
    so this test would kill pytest rather than fail if the preflight checks regress."""
    data = (lo_saved / name).read_bytes()
    assert _read_each(_mutations(data, 300, seed=2), tmp_path, Path(name).suffix) - {"read"}


def test_an_xls_whose_dimensions_claim_billions_of_cells_is_refused_before_calamine(libreoffice, lo_saved, tmp_path):
    """Without the preflight, calamine reserves rows x cols and aborts the process."""
    data = bytearray((lo_saved / "plain.xls").read_bytes())
    at = data.find(b"\x00\x02\x0e\x00")                   # DIMENSIONS record, BIFF8 (14 bytes)
    assert at > 0
    data[at + 8:at + 12] = (0xFFFFFFF0).to_bytes(4, "little")   # last row + 1
    path = tmp_path / "dims.xls"
    path.write_bytes(bytes(data))
    assert unreadable(path).code == "file-too-large"


def test_an_ods_with_a_hugely_repeated_cell_is_refused_before_calamine_expands_it(libreoffice, lo_saved, tmp_path):
    path = tmp_path / "repeated.ods"
    with zipfile.ZipFile(lo_saved / "plain.ods") as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "content.xml":
                data = data.replace(b"<table:table-row ", b'<table:table-row table:number-rows-repeated="5000000" ', 1)
            dst.writestr(info, data)
    assert unreadable(path).code == "file-too-large"


def test_an_ods_with_whole_sheets_unlocked_is_read_not_refused(tmp_path, libreoffice):
    """A clerk unlocks every cell, then locks the labels: LibreOffice stores huge repeated runs."""
    import xlsxwriter

    from helpers.libreoffice import convert
    src = tmp_path / "unlocked.xlsx"
    wb = xlsxwriter.Workbook(str(src))
    unlocked = wb.add_format({"locked": False})
    locked = wb.add_format({"locked": True})
    for name in ("表一", "表二"):
        ws = wb.add_worksheet(name)
        ws.set_column(0, 16383, None, unlocked)
        for r in range(20):
            ws.write_string(r, 0, f"标签{r}", locked)
            ws.write_number(r, 1, r)
        ws.protect()
    wb.close()
    ods = convert(src, "ods", tmp_path / "out")
    grid = read_grid(ods, max_cells=1_000_000)
    assert [s.name for s in grid.sheets] == ["表一", "表二"]
    assert grid.sheets[0].values[(19, 1)] == 19.0 and grid.sheets[0].protected
