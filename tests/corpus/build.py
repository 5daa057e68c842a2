"""Turn a corpus fixture (YAML) into the .xlsx a county clerk would have typed.

The fixtures in this folder are transcriptions of real, published 项目支出绩效自评表
(see README.md).  Each one carries a ``grid``: one Markdown-style row per sheet row,
``|`` separated, first ``|`` = column A.

Cell notation
-------------
* ``>``  merged into the cell on its left;
* ``^``  merged into the cell above;
* empty  empty cell;
* ``'x`` apostrophe forces text (``'001`` stays the string ``001``);
* ``\\n`` a line break inside the cell (kept, with wrap alignment).

Typing rules (what Excel does when a clerk types the value)
-----------------------------------------------------------
* a plain number (``65.66``, ``-3``, ``10``) becomes a number;
* ``1,234.5`` (ASCII thousands separators) becomes a number with format ``#,##0.##``;
* ``99%`` / ``100.00%`` (ASCII percent sign) becomes 0.99 / 1.0 with number format
  ``0%`` (no decimals typed) or ``0.00%`` (decimals typed), as Excel does;
* everything else stays text exactly as written (``3359.62万``, ``≥50个``, ``—``, ``99％``).

Public functions: ``fixtures()``, ``load(path)``, ``build(path, out_dir)``.
Run ``python3 build.py --show FIXTURE`` to print every non-empty cell with its A1 address.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml
from openpyxl import Workbook
from openpyxl.styles import Alignment
from openpyxl.utils import get_column_letter

HERE = Path(__file__).resolve().parent

_NUM = re.compile(r"^-?\d+(\.\d+)?$")
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_PCT = re.compile(r"^(-?\d+(\.\d+)?)%$")

MERGE_LEFT = ">"
MERGE_UP = "^"


def fixtures() -> list[Path]:
    """All fixture files of the corpus, sorted by name."""
    return sorted(HERE.glob("*.yaml"))


def parse_grid(text: str) -> list[list[str]]:
    """Grid text -> list of rows, each a list of raw cell strings (markers kept)."""
    rows: list[list[str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if not line.startswith("|"):
            raise ValueError(f"grid line {lineno} does not start with '|': {line[:40]!r}")
        body = line[1:]
        if body.endswith("|"):
            body = body[:-1]
        rows.append([c.strip() for c in body.split("|")])
    return rows


def load(fixture_path) -> dict:
    """Read a fixture; adds ``cells`` (parsed grid rows) and ``id`` (file stem)."""
    path = Path(fixture_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["id"] = path.stem
    data["cells"] = parse_grid(data["grid"])
    return data


def typed_value(raw: str):
    """(value, number_format or None) for one raw cell string, as Excel would store it."""
    if raw.startswith("'"):
        return raw[1:].replace("\\n", "\n"), "@"
    text = raw.replace("\\n", "\n")
    if _NUM.match(text):
        return (int(text) if re.fullmatch(r"-?\d+", text) else float(text)), None
    if _THOUSANDS.match(text):
        plain = text.replace(",", "")
        return (int(plain) if "." not in plain else float(plain)), "#,##0.##"
    m = _PCT.match(text)
    if m:
        digits = m.group(1)
        fmt = "0.00%" if "." in digits else "0%"
        return round(float(digits) / 100, 10), fmt
    return text, None


def _owners(cells: list[list[str]]) -> dict[tuple[int, int], tuple[int, int]]:
    """Map every cell (r, c) (0-based) to the anchor cell it belongs to."""
    owner: dict[tuple[int, int], tuple[int, int]] = {}
    for r, row in enumerate(cells):
        for c, raw in enumerate(row):
            if raw == MERGE_LEFT:
                if c == 0 or (r, c - 1) not in owner:
                    raise ValueError(f"'>' at row {r+1} col {c+1} has nothing on its left")
                owner[(r, c)] = owner[(r, c - 1)]
            elif raw == MERGE_UP:
                if (r - 1, c) not in owner:
                    raise ValueError(f"'^' at row {r+1} col {c+1} has nothing above it")
                owner[(r, c)] = owner[(r - 1, c)]
            else:
                owner[(r, c)] = (r, c)
    return owner


def merges(cells: list[list[str]]) -> list[tuple[int, int, int, int]]:
    """Merged ranges as (min_row, min_col, max_row, max_col), 1-based; validated rectangular."""
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for cell, anchor in _owners(cells).items():
        groups.setdefault(anchor, []).append(cell)
    out = []
    for anchor, members in groups.items():
        if len(members) == 1:
            continue
        rs = [m[0] for m in members]
        cs = [m[1] for m in members]
        box = (min(rs), min(cs), max(rs), max(cs))
        if (box[2] - box[0] + 1) * (box[3] - box[1] + 1) != len(members) or box[:2] != anchor:
            raise ValueError(f"merge anchored at {get_column_letter(anchor[1]+1)}{anchor[0]+1} is not a rectangle")
        out.append((box[0] + 1, box[1] + 1, box[2] + 1, box[3] + 1))
    return sorted(out)


def build(fixture_path, out_dir) -> Path:
    """Write ``<out_dir>/<fixture id>.xlsx`` typed exactly as the grid says; return its path."""
    data = load(fixture_path)
    cells = data["cells"]
    wb = Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    for r, row in enumerate(cells, 1):
        for c, raw in enumerate(row, 1):
            if raw in ("", MERGE_LEFT, MERGE_UP):
                continue
            value, fmt = typed_value(raw)
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"      # "=8个" was typed as text (Excel refuses it as a formula), not a formula
            if fmt:
                cell.number_format = fmt
            if isinstance(value, str) and "\n" in value:
                cell.alignment = Alignment(wrap_text=True, vertical="center")
    for r1, c1, r2, c2 in merges(cells):
        ws.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{data['id']}.xlsx"
    wb.save(path)
    return path


def show(fixture_path) -> None:
    """Print every non-empty anchor cell with its A1 address (helps writing ``flags``)."""
    data = load(fixture_path)
    for r, row in enumerate(data["cells"], 1):
        parts = [f"{get_column_letter(c)}{r}={raw}" for c, raw in enumerate(row, 1)
                 if raw not in ("", MERGE_LEFT, MERGE_UP)]
        print(f"{r:>3} ({len(row)} cols): " + "  ".join(parts))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--show":
        for p in sys.argv[2:]:
            show(p)
    else:
        print(__doc__)
