"""Fill a report template (templates/reports/*.docx, docxtpl/Jinja2 fields) and save the .docx.

The layout and wording live in the template, so a province restyles or
rewords a report in Word without touching code. After filling, two things
are done to whatever the template says:
* every 【请补充：…】 gets a yellow highlight, so no gap is overlooked;
* in a table whose header names both 一级指标 and 二级指标 (the indicator
  structure), equal neighbouring cells of those columns are merged, as the
  forms themselves show them;
* a table's last row no longer "keeps with next": the rows of a short table
  hold together, but a table does not drag what follows onto a new page.
Text from the returns is escaped (autoescape) and stripped of characters XML
cannot hold, so nothing a county typed can break the document.
"""
from __future__ import annotations

import copy
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from docx.enum.text import WD_COLOR_INDEX
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage

from ..errors import XlperfError
from ..form.spec import templates_dir

MERGE_HEADERS = ("一级指标", "二级指标")
_ASK = re.compile(r"【请补充[^】]*】")
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class Picture:
    """A PNG to place where the template has {{ name }} (in a paragraph of its own)."""

    data: io.BytesIO
    width_mm: float = 150.0


def template_path(name: str) -> Path:
    path = templates_dir() / "reports" / f"{name}.docx"
    if not path.is_file():
        raise XlperfError(f"找不到报告模板 {path}（templates/reports/{name}.docx）", code="report-template-missing")
    return path


def _clean(value, tpl: DocxTemplate):
    if isinstance(value, str):
        return _BAD_XML.sub("", value)
    if isinstance(value, Picture):
        value.data.seek(0)
        return InlineImage(tpl, value.data, width=Mm(value.width_mm))
    if isinstance(value, dict):
        return {k: _clean(v, tpl) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, tpl) for v in value]
    if isinstance(value, tuple):
        return tuple(_clean(v, tpl) for v in value)
    return value


def render(name: str, context: dict, out: Path) -> Path:
    """Fill template `name` with `context` and write `out` atomically."""
    tpl = DocxTemplate(str(template_path(name)))
    try:
        tpl.render(_clean(context, tpl), autoescape=True)
    except Exception as exc:  # a province's edited template with a broken field
        raise XlperfError(f"报告模板 {name}.docx 无法填写：{type(exc).__name__}: {exc}",
                          code="report-template-invalid") from exc
    doc = tpl.docx
    highlight_placeholders(doc)
    for table in _tables(doc):
        merge_indicator_levels(table)
        release_last_row(table)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.part{os.getpid()}.docx")
    try:
        doc.save(str(tmp))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# ---------------------------------------------------------------- after filling

def _tables(doc):
    stack = list(doc.tables)
    while stack:
        t = stack.pop(0)
        yield t
        for row in t.rows:
            for cell in row.cells:
                stack.extend(cell.tables)


def _paragraphs(doc):
    yield from doc.paragraphs
    for t in _tables(doc):
        for row in t.rows:
            for cell in row.cells:
                yield from cell.paragraphs
    for section in doc.sections:
        for part in (section.header, section.footer):
            yield from part.paragraphs


def highlight_placeholders(doc) -> int:
    """Split runs around each 【请补充：…】 and highlight it yellow; returns how many were found."""
    found = 0
    for p in _paragraphs(doc):
        for run in list(p.runs):
            text = run.text
            if "【请补充" not in text:
                continue
            pieces, last = [], 0
            for m in _ASK.finditer(text):
                if m.start() > last:
                    pieces.append((text[last:m.start()], False))
                pieces.append((m.group(), True))
                last = m.end()
            if last < len(text):
                pieces.append((text[last:], False))
            anchor = run._r
            for piece, ask in pieces:
                r = copy.deepcopy(run._r)
                anchor.addnext(r)
                anchor = r
                new = type(run)(r, run._parent)
                new.text = piece
                if ask:
                    new.font.highlight_color = WD_COLOR_INDEX.YELLOW
                    found += 1
            run._r.getparent().remove(run._r)
    return found


def release_last_row(table) -> None:
    """The template keeps a short table's rows together; the filled table's last row ends that chain."""
    if not table.rows:
        return
    for tc in table.rows[-1]._tr.tc_lst:
        for p in tc.iterchildren("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}p"):
            ppr = p.pPr
            if ppr is not None and ppr.keepNext is not None:
                ppr._remove_keepNext()


def merge_indicator_levels(table) -> None:
    """Merge equal neighbouring 一级指标 / 二级指标 cells (二级 only within the same 一级)."""
    rows = table.rows
    if len(rows) < 3:
        return
    ncols = len(table.columns)
    grid = table._cells                      # one snapshot: table.cell() rebuilds the whole grid per call
    at = lambda i, c: grid[i * ncols + c]    # noqa: E731
    head = [at(0, c).text.strip() for c in range(ncols)]
    if not all(h in head for h in MERGE_HEADERS):
        return
    cols = [head.index(h) for h in MERGE_HEADERS]
    width = len(rows[0]._tr.tc_lst)
    body = [i for i in range(1, len(rows)) if len(rows[i]._tr.tc_lst) == width]
    text = {(i, c): at(i, c).text.strip() for i in body for c in cols}
    for k, col in enumerate(cols):
        keys = {i: tuple(text[i, c] for c in cols[:k + 1]) for i in body}
        start = 0
        while start < len(body):
            end = start
            while (end + 1 < len(body) and body[end + 1] == body[end] + 1 and keys[body[end + 1]] == keys[body[start]]
                   and keys[body[start]][-1]):
                end += 1
            if end > start:
                for i in body[start + 1:end + 1]:
                    for p in at(i, col).paragraphs:     # empty cells merge without leaving blank lines
                        for r in p.runs:
                            r._r.getparent().remove(r._r)
                at(body[start], col).merge(at(body[end], col))
            start = end + 1
