"""The neutral grid every format reader produces.

A returned file may be xlsx, xls or ods, saved by Excel, WPS or LibreOffice.
Each reader turns it into the same plain, picklable structure: sheets of cell
values keyed by 0-based (row, col), plus the few facts the checks need
(number formats, formulas, merged ranges, protection). Nothing here knows
the form; locating its fields is `locate.py`'s job.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

Value = str | float | bool | datetime


@dataclass
class Sheet:
    """One worksheet. Empty cells (and empty strings) are absent from `values`."""

    name: str
    state: str = "visible"                  # "visible" | "hidden" | "veryHidden"
    values: dict[tuple[int, int], Value] = field(default_factory=dict)
    formats: dict[tuple[int, int], str] = field(default_factory=dict)       # number format, not "General"
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)      # text without "=" ("" if unknown)
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)   # (r0, c0, r1, c1) inclusive
    protected: bool | None = None           # None: the format/reader cannot tell
    unlocked: set[tuple[int, int]] | None = None   # cells styled locked=0 (xlsx only)

    def get(self, r: int, c: int, default=None):
        return self.values.get((r, c), default)

    def text(self, r: int, c: int) -> str:
        v = self.values.get((r, c))
        return "" if v is None else str(v).strip()

    @property
    def max_row(self) -> int:
        """Highest 0-based row holding a value, or -1 for an empty sheet."""
        return max((r for r, _ in self.values), default=-1)

    @property
    def max_col(self) -> int:
        """Highest 0-based column holding a value, or -1 for an empty sheet."""
        return max((c for _, c in self.values), default=-1)


@dataclass
class Grid:
    """A whole workbook, format-neutral."""

    path: str
    format: str                             # "xlsx" | "xls" | "ods"
    sheets: list[Sheet] = field(default_factory=list)
    defined_names: dict[str, str] = field(default_factory=dict)   # workbook-level name -> reference text
    application: str = ""                   # docProps/app.xml Application, if known
    hazards: list[tuple[str, str, str]] = field(default_factory=list)   # (sheet, A1 or "", what): VBA, links…

    def sheet(self, name: str) -> Sheet | None:
        for s in self.sheets:
            if s.name == name:
                return s
        return None

    def visible_sheets(self) -> list[Sheet]:
        return [s for s in self.sheets if s.state == "visible"]
