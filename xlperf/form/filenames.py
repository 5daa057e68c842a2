"""File names made from unit and project names, capped by bytes.

Linux and Windows file systems limit a name to 255 bytes (ext4) or 255 UTF-16
units, and a Chinese character is three bytes in UTF-8: a 95-character unit
name already fails. Every name we build from roster or return text goes
through `fit_bytes`.
"""
from __future__ import annotations

MAX_NAME_BYTES = 200      # leaves room for " (12)", ".part" and the like under the 255-byte limit


def fit_bytes(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` whose UTF-8 encoding fits in `max_bytes` (never a broken character)."""
    raw = text.encode("utf-8")
    if len(raw) <= max_bytes:
        return text
    return raw[:max_bytes].decode("utf-8", "ignore").rstrip(" .")


def fit_name(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """`name` shortened in its stem so the whole name fits in `max_bytes`; the extension is kept."""
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 8:
        return fit_bytes(name, max_bytes)
    return fit_bytes(stem, max_bytes - len(ext.encode("utf-8")) - 1) + "." + ext
