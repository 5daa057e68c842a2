"""Tell a returned file's format from its bytes, never from its name.

Counties rename files freely (an .xls saved as .xlsx, a WPS .et, a PDF named
.xlsx), so the name says nothing. A zip is xlsx or ods by what it holds; an
OLE2 compound file is a legacy .xls unless it carries `EncryptionInfo`, which
is how Excel, WPS and LibreOffice store an xlsx that has an open password.
"""
from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

from ..errors import UnreadableFile

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ODS_MIMETYPES = (b"application/vnd.oasis.opendocument.spreadsheet",
                 b"application/vnd.oasis.opendocument.spreadsheet-template")

MSG_MISSING = "文件不存在或无法访问"
MSG_EMPTY = "文件是空的（0字节）"
MSG_CORRUPT = "文件已损坏或不完整，无法打开"
MSG_NOT_SHEET = "不是电子表格文件（xlsx/xls/ods）"
MSG_ENCRYPTED = "文件已设置打开密码，无法读取，请取消密码后重新提交"
MSG_XLSB = "不支持二进制工作簿（xlsb），请在 Excel 或 WPS 中另存为 xlsx 后重新提交"


def too_large_message(what: str) -> str:
    return f"文件解压后过大（{what}），已拒绝读取"


def fail(path, code: str, message: str) -> UnreadableFile:
    return UnreadableFile(message, code=code, path=str(path))


def sniff(path: str | os.PathLike) -> str:
    """"xlsx" | "xls" | "ods", or raise UnreadableFile with a stable code."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise fail(path, "file-missing", MSG_MISSING)
        with open(p, "rb") as fh:
            head = fh.read(8)
    except UnreadableFile:
        raise
    except OSError:
        raise fail(path, "file-missing", MSG_MISSING) from None
    if size == 0:
        raise fail(path, "file-empty", MSG_EMPTY)
    if head.startswith(ZIP_MAGIC) or head.startswith(b"PK\x05\x06"):
        return _sniff_zip(path)
    if head == OLE2_MAGIC:
        return _sniff_ole2(path)
    raise fail(path, "not-a-spreadsheet", MSG_NOT_SHEET)


def _sniff_zip(path) -> str:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "mimetype" in names:
                info = z.getinfo("mimetype")
                if info.file_size <= 200 and z.read("mimetype").strip() in ODS_MIMETYPES:
                    if _ods_encrypted(z, names):
                        raise fail(path, "file-encrypted", MSG_ENCRYPTED)
                    return "ods"
            lower = {n.lower() for n in names}
            if "xl/workbook.xml" in lower or _office_document(z, names).endswith(".xml") and \
                    "[content_types].xml" in lower and _has_workbook_type(z, names):
                return "xlsx"
            if "xl/workbook.bin" in lower:
                raise fail(path, "format-unsupported", MSG_XLSB)
    except UnreadableFile:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError, RuntimeError):
        raise fail(path, "file-corrupt", MSG_CORRUPT) from None
    raise fail(path, "not-a-spreadsheet", MSG_NOT_SHEET)


def _ods_encrypted(z: zipfile.ZipFile, names: set[str]) -> bool:
    """An ODF package with an open password lists `encryption-data` in its manifest."""
    m = "META-INF/manifest.xml"
    return m in names and z.getinfo(m).file_size <= 5_000_000 and b"encryption-data" in z.read(m)


def _office_document(z: zipfile.ZipFile, names: set[str]) -> str:
    if "_rels/.rels" not in names or z.getinfo("_rels/.rels").file_size > 100_000:
        return ""
    data = z.read("_rels/.rels")
    i = data.find(b"/officeDocument\"")
    if i < 0:
        return ""
    # Cheap: the Target attribute of that Relationship element.
    start = data.rfind(b"<", 0, i)
    end = data.find(b">", i)
    el = data[start:end]
    j = el.find(b'Target="')
    return el[j + 8:el.find(b'"', j + 8)].decode("utf-8", "replace") if j >= 0 else ""


def _has_workbook_type(z: zipfile.ZipFile, names: set[str]) -> bool:
    ct = next((n for n in names if n.lower() == "[content_types].xml"), None)
    if ct is None or z.getinfo(ct).file_size > 1_000_000:
        return False
    data = z.read(ct)
    return b"spreadsheetml.sheet.main" in data or b"ms-excel.sheet.macroEnabled.main" in data \
        or b"spreadsheetml.template.main" in data or b"ms-excel.template.macroEnabled.main" in data


# ---------------------------------------------------------------- OLE2

def ole2_stream_names(data: bytes) -> list[str]:
    """Names in an OLE2 (CFB) directory; raises ValueError on a malformed header/chain."""
    if len(data) < 512 or data[:8] != OLE2_MAGIC:
        raise ValueError("not OLE2")
    shift = struct.unpack_from("<H", data, 0x1E)[0]
    if shift not in (9, 12):
        raise ValueError("bad sector shift")
    ssz = 1 << shift
    n_fat, first_dir, = struct.unpack_from("<I", data, 0x2C)[0], struct.unpack_from("<I", data, 0x30)[0]
    first_difat, n_difat = struct.unpack_from("<II", data, 0x44)

    def sector(i: int) -> bytes:
        off = (i + 1) * ssz
        if off + ssz > len(data) + ssz:  # a final short sector is tolerated
            raise ValueError("sector out of range")
        return data[off:off + ssz]

    difat = [x for x in struct.unpack_from("<109I", data, 0x4C)]
    nxt, seen = first_difat, 0
    while nxt < 0xFFFFFFFA and seen < n_difat + 1:
        s = sector(nxt)
        vals = struct.unpack(f"<{ssz // 4}I", s.ljust(ssz, b"\xff"))
        difat.extend(vals[:-1])
        nxt, seen = vals[-1], seen + 1
    fat: list[int] = []
    for idx in difat[:max(n_fat, 0)]:
        if idx >= 0xFFFFFFFA:
            continue
        fat.extend(struct.unpack(f"<{ssz // 4}I", sector(idx).ljust(ssz, b"\xff")))
    names: list[str] = []
    cur, guard = first_dir, 0
    while cur < 0xFFFFFFFA and cur < len(fat) + 1:
        s = sector(cur)
        for k in range(0, len(s) - 127, 128):
            nlen = struct.unpack_from("<H", s, k + 64)[0]
            if s[k + 66] != 0 and 2 <= nlen <= 64:
                names.append(s[k:k + nlen - 2].decode("utf-16-le", "replace"))
        guard += 1
        if cur >= len(fat) or guard > 100_000:
            break
        cur = fat[cur]
    return names


def _sniff_ole2(path) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError:
        raise fail(path, "file-missing", MSG_MISSING) from None
    try:
        names = ole2_stream_names(data)
    except (ValueError, struct.error, IndexError):
        names = None
    if names is None:
        # Directory unreadable: fall back to the raw bytes, then let the xls reader judge.
        if "EncryptionInfo".encode("utf-16-le") in data:
            raise fail(path, "file-encrypted", MSG_ENCRYPTED)
        return "xls"
    lower = {n.lower() for n in names}
    if "encryptioninfo" in lower or "encryptedpackage" in lower:
        raise fail(path, "file-encrypted", MSG_ENCRYPTED)
    if "workbook" in lower or "book" in lower:
        return "xls"
    raise fail(path, "not-a-spreadsheet", MSG_NOT_SHEET)
