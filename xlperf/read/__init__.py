"""Read any returned file (xlsx, xls, ods) into one neutral `Grid`.

`read_grid` is the only entry point the rest of xlperf needs. It detects the
format from the bytes, picks the reader, and guarantees that whatever goes
wrong comes back as `UnreadableFile` with a stable code, a Chinese reason and
the path — never a traceback.
"""
from __future__ import annotations

import os

from ..errors import UnreadableFile
from .calamine import read_with_calamine
from .detect import MSG_CORRUPT, MSG_ENCRYPTED, fail, sniff, too_large_message
from .fastxlsx import read_fast
from .grid import Grid, Sheet
from .xlsx import read_xlsx

__all__ = ["Grid", "Sheet", "read_grid", "sniff"]


MAX_FILE = 100_000_000      # bytes on disk; a return is well under 5 MB


def read_grid(path: str | os.PathLike, *, max_uncompressed: int = 50_000_000,
              max_cells: int = 500_000, fast: bool = True) -> Grid:
    """Read a workbook into a `Grid`; raise `UnreadableFile` if it cannot be read.

    `max_uncompressed` caps each zip part's inflated size (decompression bombs);
    `max_cells` caps the total number of cells over all sheets. An ordinary
    xlsx takes the fast path (`fastxlsx`, one zip open, no element tree);
    anything it does not vouch for, and `fast=False`, goes the full way.
    """
    if fast:
        grid = read_fast(path, max_uncompressed=max_uncompressed, max_cells=max_cells, max_file=MAX_FILE)
        if grid is not None:
            return grid
    fmt = sniff(path)
    size = os.stat(path).st_size
    if size > MAX_FILE:        # refused before a byte of it is read or inflated
        raise fail(path, "file-too-large", too_large_message(f"文件 {size:,} 字节，上限 {MAX_FILE:,} 字节"))
    try:
        if fmt == "xlsx":
            return read_xlsx(path, max_uncompressed=max_uncompressed, max_cells=max_cells)
        return read_with_calamine(path, fmt, max_uncompressed=max_uncompressed, max_cells=max_cells)
    except UnreadableFile as e:
        if not e.path:
            e.path = str(path)
        raise
    except MemoryError:
        raise fail(path, "file-too-large", too_large_message("内存不足")) from None
    except RuntimeError as e:
        if "encrypt" in str(e).lower() or "password" in str(e).lower():
            raise fail(path, "file-encrypted", MSG_ENCRYPTED) from None
        raise fail(path, "file-corrupt", MSG_CORRUPT) from e
    except Exception as e:   # BadZipFile, zlib.error, ParseError, bad indexes...: all mean a broken file
        raise fail(path, "file-corrupt", MSG_CORRUPT) from e
    except BaseException as e:
        # A Rust panic inside calamine surfaces as pyo3's PanicException (a BaseException).
        if type(e).__name__ != "PanicException":
            raise
        raise fail(path, "file-corrupt", MSG_CORRUPT) from None
