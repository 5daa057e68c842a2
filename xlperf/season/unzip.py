"""Take the returns out of a zip a county (or a colleague) sent, whatever went wrong making it.

Zips come from Windows Explorer (Deflate64 for large files, GBK names without
the UTF-8 flag), WinRAR and 7-Zip (passwords, WinZip-AES), mail gateways that
cut them short, and now and then from someone testing us (nested bombs,
overlapping entries, `..\\` names). Every bad member gets its own located
message in the report and every good member is still collected. Memory and
time stay bounded by what is really inflated, never by the sizes the zip
claims: members are inflated in chunks against a hard cap, nesting has a
depth limit and all nested archives share one budget of inflated bytes.
"""
from __future__ import annotations

import hashlib
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterator

MAX_MEMBER = 50_000_000         # bytes one member may inflate to (a return is well under 5 MB)
MAX_MEMBERS = 5000              # members taken from one archive
MAX_DEPTH = 8                   # zips inside zips
MAX_TOTAL = 2_000_000_000       # bytes inflated from one archive, nested ones included
CHUNK = 1 << 20

# Compression methods Python's zipfile reads; others get a message naming the method.
_METHOD_ZH = {9: "Deflate64（Windows 资源管理器压缩大文件时使用）", 99: "WinZip AES 加密", 14: "LZMA",
              95: "XZ", 96: "JPEG", 97: "WavPack", 98: "PPMd", 6: "Implode", 1: "Shrink"}
_SUPPORTED = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}

RESAVE = "请用 Windows 自带的“发送到→压缩文件夹”或 7-Zip 以标准（Deflate）方式、不设密码重新压缩后发送"


@dataclass
class Member:
    name: str            # the name as the sender wrote it, decoded
    data: bytes
    ref: str             # archive!member, nested archives joined with !


@dataclass
class _Budget:
    left: int = MAX_TOTAL
    seen: set[bytes] = field(default_factory=set)     # hashes of archives being opened (a zip containing itself)


def member_name(info: zipfile.ZipInfo) -> str:
    """Decode a member name as common unzip tools do.

    The UTF-8 flag wins. Without it, Python has decoded the raw bytes as CP437;
    we keep that when the text reads as CP437 Latin (accented letters such as
    `Résumé`), take UTF-8 when the bytes are valid UTF-8 (macOS), and otherwise
    GBK/GB18030, which is what Chinese Windows tools write.
    """
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    if raw.isascii():
        return info.filename
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if all(b < 0x80 or 0x80 <= b <= 0xA5 for b in raw) and not _reads_as_gbk_text(raw):
        return info.filename          # CP437 accented Latin letters (é = 0x82, ü = 0x81, ñ = 0xA4)
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return info.filename


def _reads_as_gbk_text(raw: bytes) -> bool:
    """True when the bytes decode as GBK to common Chinese characters (GB2312 level 1/2) only."""
    try:
        text = raw.decode("gbk")
    except UnicodeDecodeError:
        return False
    wide = [ch for ch in text if not ch.isascii()]
    try:
        return bool(wide) and all(len(ch.encode("gb2312")) == 2 for ch in wide)
    except UnicodeEncodeError:
        return False


def _overlapping(infos: list[zipfile.ZipInfo]) -> bool:
    """Members whose data overlap (the "overlapping entries" zip bomb) never occur in a real zip."""
    spans = sorted((i.header_offset, i.header_offset + 30 + len(i.orig_filename.encode("cp437", "replace"))
                    + i.compress_size) for i in infos)
    return any(nxt[0] < cur[1] for cur, nxt in zip(spans, spans[1:]))


class _TooLarge(Exception):
    pass


def _inflate(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """The member's bytes, refusing it as soon as more than `cap` bytes were really inflated."""
    chunks, n = [], 0
    with zf.open(info) as fh:
        while True:
            b = fh.read(CHUNK)
            if not b:
                break
            n += len(b)
            if n > cap:
                raise _TooLarge(n)
            chunks.append(b)
    return b"".join(chunks)


def members(path: Path, ref: str, problems: list[str], *, depth: int = 0,
            budget: _Budget | None = None) -> Iterator[Member]:
    """Every file inside the zip at `path` (nested zips opened); a message in `problems` for each one left out."""
    budget = budget or _Budget()
    label = ref
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        problems.append(f"{label}：压缩包损坏，无法解压（{exc}）")
        return
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if _overlapping(infos):
            problems.append(f"{label}：压缩包内多个文件共用同一段数据（“压缩炸弹”的特征），整个压缩包已跳过")
            return
        if len(infos) > MAX_MEMBERS:
            problems.append(f"{label}：压缩包内有 {len(infos):,} 个文件，超过上限 {MAX_MEMBERS:,} 个，"
                            f"后面的 {len(infos) - MAX_MEMBERS:,} 个未收集，请分成几个压缩包发送")
            infos = infos[:MAX_MEMBERS]
        for info in infos:
            name = member_name(info)
            where = f"{ref}!{name}"
            parts = PurePosixPath(name.replace("\\", "/")).parts
            base = parts[-1] if parts else name
            if ".." in parts or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
                problems.append(f"{where}：文件名含上级目录或绝对路径（“..”、“/”或盘符），可能是恶意压缩包，已跳过")
                continue
            if base.startswith(("~$", ".")) or "__MACOSX" in parts:
                continue
            why = _refusal(info)
            if why:
                problems.append(f"{where}：{why}，未收集；{RESAVE}")
                continue
            cap = min(MAX_MEMBER, budget.left)
            try:
                data = _inflate(zf, info, cap)
            except _TooLarge:
                if cap < MAX_MEMBER:
                    problems.append(f"{where}：压缩包（含嵌套压缩包）解压总量超过上限 {MAX_TOTAL:,} 字节，"
                                    "此文件及其后的文件未收集")
                    budget.left = 0
                    return
                problems.append(f"{where}：解压后超过 {MAX_MEMBER:,} 字节，已跳过（自评表通常不到 5 MB）")
                budget.left -= cap
                continue
            except RuntimeError:          # zipfile: "File ... is encrypted, password required"
                problems.append(f"{where}：文件设置了密码，无法解压，未收集；{RESAVE}")
                continue
            except NotImplementedError:
                problems.append(f"{where}：压缩方式不受支持，未收集；{RESAVE}")
                continue
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
                problems.append(f"{where}：压缩数据已损坏，无法解压（{_short(exc)}），未收集；请重新压缩后发送")
                continue
            budget.left -= len(data)
            if base.lower().endswith(".zip"):
                if depth + 1 >= MAX_DEPTH:
                    problems.append(f"{where}：压缩包嵌套超过 {MAX_DEPTH} 层，里面的文件未收集；请解开后重新压缩发送")
                    continue
                key = hashlib.sha256(data).digest()
                if key in budget.seen:
                    problems.append(f"{where}：压缩包包含它自己（循环嵌套），已跳过")
                    continue
                budget.seen.add(key)
                with tempfile.TemporaryDirectory(prefix="xlperf-zip-") as tmp:
                    inner = Path(tmp) / "inner.zip"
                    inner.write_bytes(data)
                    del data
                    yield from members(inner, where, problems, depth=depth + 1, budget=budget)
                budget.seen.discard(key)
                if budget.left <= 0:
                    return
                continue
            yield Member(base, data, where)


def _refusal(info: zipfile.ZipInfo) -> str:
    """Why a member cannot be inflated, told from its header before trying."""
    if info.compress_type == 99:
        return "使用 WinZip AES 加密（设置了密码），无法解压"
    if info.flag_bits & 0x1:
        return "设置了密码，无法解压"
    if info.compress_type not in _SUPPORTED:
        what = _METHOD_ZH.get(info.compress_type, f"第 {info.compress_type} 种")
        return f"使用 {what} 压缩方式，无法解压"
    return ""


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 80 else text[:77] + "…"
