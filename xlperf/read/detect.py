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

# What a spreadsheet return may be saved as (WPS writes .et).
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".et")

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


def too_many_cells_message(max_cells: int) -> str:
    return f"表格单元格过多（超过 {max_cells:,} 个），已拒绝读取"


class CellBudget:
    """Counts cells across a workbook's sheets; refuses the file once `limit` is passed."""

    def __init__(self, limit: int, path) -> None:
        self.limit = self.left = limit
        self.path = path

    def take(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise fail(self.path, "file-too-large", too_many_cells_message(self.limit))


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
            return zip_format(z, path)
    except UnreadableFile:
        raise
    except Exception:   # BadZipFile, zlib.error, EOFError...: the zip itself is broken
        raise fail(path, "file-corrupt", MSG_CORRUPT) from None


def zip_format(z: zipfile.ZipFile, path) -> str:
    """"xlsx" | "ods" for an open zip (so a reader can sniff and read with one open), or raise."""
    names = set(z.namelist())
    if "mimetype" in names:
        info = z.getinfo("mimetype")
        if info.file_size <= 200 and z.read("mimetype").strip() in ODS_MIMETYPES:
            if _ods_encrypted(z, names):
                raise fail(path, "file-encrypted", MSG_ENCRYPTED)
            return "ods"
    lower = {n.lower() for n in names}
    if "xl/workbook.xml" in lower or _has_workbook_type(z, names):
        return "xlsx"
    if "xl/workbook.bin" in lower:
        raise fail(path, "format-unsupported", MSG_XLSB)
    raise fail(path, "not-a-spreadsheet", MSG_NOT_SHEET)


def _ods_encrypted(z: zipfile.ZipFile, names: set[str]) -> bool:
    """An ODF package with an open password lists `encryption-data` in its manifest."""
    m = "META-INF/manifest.xml"
    return m in names and z.getinfo(m).file_size <= 5_000_000 and b"encryption-data" in z.read(m)


def _has_workbook_type(z: zipfile.ZipFile, names: set[str]) -> bool:
    """A workbook stored somewhere other than xl/workbook.xml still declares its content type."""
    ct = next((n for n in names if n.lower() == "[content_types].xml"), None)
    if ct is None or z.getinfo(ct).file_size > 1_000_000:
        return False
    data = z.read(ct)
    return b"spreadsheetml.sheet.main" in data or b"ms-excel.sheet.macroEnabled.main" in data \
        or b"spreadsheetml.template.main" in data or b"ms-excel.template.macroEnabled.main" in data


# ---------------------------------------------------------------- OLE2

class Ole2:
    """Just enough of an OLE2 (CFB) reader to list entries and read a stream.

    It also checks the header and directory against the file's real size,
    because calamine trusts those numbers when it allocates (a corrupted
    length can abort the whole process from Rust). Raises ValueError,
    struct.error or IndexError on anything malformed.
    """

    def __init__(self, data: bytes) -> None:
        if len(data) < 512 or data[:8] != OLE2_MAGIC:
            raise ValueError("not OLE2")
        self.data = data
        shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
        if shift not in (9, 12) or mini_shift != 6:
            raise ValueError("bad sector shift")
        self.ssz = ssz = 1 << shift
        n_sectors = len(data) // ssz + 1
        n_dir, n_fat, first_dir = struct.unpack_from("<III", data, 0x28)
        _, first_minifat, n_minifat, first_difat, n_difat = struct.unpack_from("<IIIII", data, 0x38)
        if max(n_dir, n_fat, n_minifat, n_difat) > n_sectors:
            raise ValueError("header counts exceed the file")
        per_sector = ssz // 4
        difat = list(struct.unpack_from("<109I", data, 0x4C))
        for sec in self._walk(first_difat, lambda cur: difat.pop() if difat else 0xFFFFFFFE):
            difat.extend(struct.unpack(f"<{per_sector}I", self.sector(sec)))
        self.fat: list[int] = []
        for idx in difat[:n_fat]:
            if idx < 0xFFFFFFFA:
                self.fat.extend(struct.unpack(f"<{per_sector}I", self.sector(idx)))
        self.entries: list[tuple[str, int, int]] = []      # (name, start sector, size)
        size_fmt = "<I" if ssz == 512 else "<Q"
        for cur in self.chain(first_dir):
            s = self.sector(cur)
            for k in range(0, ssz, 128):
                nlen = struct.unpack_from("<H", s, k + 64)[0]
                if s[k + 66] != 0 and 2 <= nlen <= 64:
                    start = struct.unpack_from("<I", s, k + 116)[0]
                    size = struct.unpack_from(size_fmt, s, k + 120)[0]
                    if size > len(data):
                        raise ValueError("stream larger than the file")
                    self.entries.append((s[k:k + nlen - 2].decode("utf-16-le", "replace"), start, size))
        if not self.entries:
            raise ValueError("empty directory")
        self._first_minifat = first_minifat

    def sector(self, i: int) -> bytes:
        off = (i + 1) * self.ssz
        if off >= len(self.data):
            raise ValueError("sector out of range")
        return self.data[off:off + self.ssz].ljust(self.ssz, b"\0")   # a short final sector is tolerated

    def _walk(self, start: int, step):
        cur, n, limit = start, 0, len(self.data) // self.ssz + 1
        while cur < 0xFFFFFFFA:
            if n > limit:
                raise ValueError("sector chain loops")
            yield cur
            cur, n = step(cur), n + 1

    def chain(self, start: int):
        return self._walk(start, lambda cur: self.fat[cur])

    def stream(self, name: str) -> bytes:
        found = {n.lower(): (st, sz) for n, st, sz in self.entries}
        start, size = found[name.lower()]
        if size >= 4096:          # the cutoff is fixed by the format (and calamine hard-codes it)
            return b"".join(self.sector(s) for s in self.chain(start))[:size]
        # Small streams live in 64-byte mini sectors inside the root entry's stream.
        mini = b"".join(self.sector(s) for s in self.chain(self.entries[0][1]))
        minifat_raw = b"".join(self.sector(s) for s in self.chain(self._first_minifat))
        minifat = struct.unpack(f"<{len(minifat_raw) // 4}I", minifat_raw)
        out = []
        cur, n = start, 0
        while cur < 0xFFFFFFFA and n * 64 < size:
            if cur * 64 + 64 > len(mini):
                raise ValueError("mini sector out of range")
            out.append(mini[cur * 64:cur * 64 + 64])
            cur, n = minifat[cur], n + 1
        data = b"".join(out)
        if len(data) < size:
            raise ValueError("mini stream too short")
        return data[:size]


def xls_has_filepass(head: bytes) -> bool:
    """True if the Workbook stream's BOF record is followed by FILEPASS (an open password)."""
    rec, length = struct.unpack_from("<HH", head, 0)
    return rec == 0x0809 and struct.unpack_from("<H", head, 4 + length)[0] == 0x002F


def _sniff_ole2(path) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError:
        raise fail(path, "file-missing", MSG_MISSING) from None
    try:
        ole = Ole2(data)
    except (ValueError, struct.error, IndexError):
        if "EncryptionInfo".encode("utf-16-le") in data:
            raise fail(path, "file-encrypted", MSG_ENCRYPTED) from None
        raise fail(path, "file-corrupt", MSG_CORRUPT) from None
    names = {name.lower(): name for name, _, _ in ole.entries}
    if "encryptioninfo" in names or "encryptedpackage" in names:
        raise fail(path, "file-encrypted", MSG_ENCRYPTED)
    book = names.get("workbook") or names.get("book")
    if book is None:
        raise fail(path, "not-a-spreadsheet", MSG_NOT_SHEET)
    try:
        encrypted = xls_has_filepass(ole.stream(book)[:64])
    except (ValueError, KeyError, struct.error, IndexError):
        raise fail(path, "file-corrupt", MSG_CORRUPT) from None
    if encrypted:
        raise fail(path, "file-encrypted", MSG_ENCRYPTED)
    return "xls"
