"""The summary writers stream: big tables are written row by row and look exactly as before.

A small province returns its forms; a few rows then carry what counties really type (formula-like
text, control characters, Excel's own _xHHHH_ escapes, spaces at the ends, several lines, a text
longer than a cell holds, characters beyond the BMP). The streamed workbook must show them exactly
as the cell-by-cell XlsxWriter workbook did (in openpyxl and in LibreOffice), the CSV must be byte
for byte what the one-shot export wrote, and a summary whose big tables are lazy sequences must be
written without ever holding them whole.
"""
from __future__ import annotations

import csv
import json
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from helpers.libreoffice import run_uno_script
from xlperf.form.samples import example_form_data
from xlperf.form.spec import load_form
from xlperf.form.template import TemplateOptions, write_template
from xlperf.judge.check import check
from xlperf.province import frames, workbook, xlsxstream
from xlperf.province.aggregate import summarize
from xlperf.province.frames import export_csv, export_parquet, table_frame
from xlperf.province.model import Column, Entry, Expected, Table
from xlperf.province.workbook import write_summary

SPEC = load_form("project-county")
YEAR = 2024
LONG = "很长的说明" * 8000                                    # 40,000 characters
HOSTILE = [
    '=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(1)", "a\x01b\x1fc\x0bd", "_x0041_ is not A",
    "  两端有空格  ", "第一行\n第二行\n", "\t制表符开头", "回车\r在中间", "\r回车开头", "𠀀𠀁 CJK 扩展B 😀", "<r><t>rich?</t></r>",
    "a & b < c > d", "\ufffe非字符", LONG, "😀" * 20000,
]
DETAIL = ["项目明细", "指标明细", "问题清单", "未提交", "疑似雷同说明"]


def _province(folder: Path):
    """Three counties' returns of one project (one with an error), one county that never returned."""
    roster, entries = [], []
    for i, (code, name) in enumerate([("430527", "绥宁县"), ("430528", "新宁县"), ("430102", "芙蓉区"),
                                      ("430121", "长沙县")], 1):
        exp = Expected(i, f"{code}001", f"{name}医疗保障局", code, name, "医疗救助补助资金", f"{code}24T{i:06d}",
                       f"联系人{i}", f"u{i}@example.gov.cn", 100.0)
        roster.append(exp)
        if i == 4:
            continue
        data = example_form_data(SPEC, unit=exp.unit_name, project=exp.project_name)
        data.funds[0].values.update(budget=100.0 * i, spent=90.0 * i)
        if i == 3:
            data.indicators[0].score = float(data.indicators[0].weight) + 5      # 得分超过分值: an error
        path = folder / f"{code}.xlsx"
        write_template(SPEC, YEAR, path, data, TemplateOptions(password="pw"))
        entries.append(Entry(check(path), exp, path.name, f"2025-03-0{i}T09:00:00"))
    return summarize(entries, roster, year=YEAR, form=SPEC.id, produced_from=str(folder))


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    s = _province(tmp_path_factory.mktemp("returns"))
    for t in s.tables.values():            # rows edited below: plain lists (the spilled ones are read anew)
        t.rows = list(t.rows)
    ind = s.tables["indicators"].rows
    assert len(ind) >= len(HOSTILE)
    for row, text in zip(ind, HOSTILE):
        row["name"] = text
    ind[0]["score"], ind[1]["score"], ind[2]["weight"] = float("nan"), float("inf"), None
    s.tables["findings"].rows[0]["message"] = "第一行\n第二行"
    s.tables["projects"].rows[0]["unit"] = "  =1+1"
    return s


@pytest.fixture(scope="module")
def both(summary, tmp_path_factory):
    """The workbook streamed, and as XlsxWriter wrote it cell by cell (the reference)."""
    out = tmp_path_factory.mktemp("wb")
    streamed = write_summary(summary, out / "streamed.xlsx")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(workbook, "STREAM_BODIES", False)
        reference = write_summary(summary, out / "reference.xlsx")
    return streamed, reference


def _cells(path: Path) -> dict:
    """What openpyxl sees in every sheet: each cell's value, type and look, and the sheet settings.

    openpyxl reads "_x005F_" in shared strings as "_" and leaves inline strings as written: text
    values are compared its shared-string way."""
    wb = openpyxl.load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        cells = {}
        for row in ws.iter_rows():
            for c in row:
                if c.value is None and not c.has_style:
                    continue
                value = c.value.replace("x005F_", "") if isinstance(c.value, str) else c.value
                cells[c.coordinate] = (value, c.data_type, c.number_format, c.font.name, c.font.b,
                                       c.border.left.style, c.border.bottom.style, c.alignment.wrap_text,
                                       c.alignment.vertical, c.alignment.indent, c.fill.fgColor.rgb)
        out[ws.title] = {
            "cells": cells, "filter": ws.auto_filter.ref, "panes": ws.freeze_panes,
            "widths": {k: d.width for k, d in ws.column_dimensions.items()},
            "marks": sorted((str(r.sqref), [x.formula for x in r.rules]) for r in ws.conditional_formatting),
            "print": (ws.page_setup.orientation, ws.page_setup.paperSize, ws.print_title_rows),
        }
    return out


def _unescape(text: str) -> str:
    """Excel's reading of _xHHHH_ (openpyxl leaves them as written)."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)


def test_streamed_sheets_show_what_xlsxwriter_wrote_cell_by_cell(both):
    streamed, reference = _cells(both[0]), _cells(both[1])
    assert list(streamed) == list(reference)
    # One difference on purpose: XlsxWriter writes a string that looks like rich-text XML
    # ("<r>…</r>") raw into the workbook; streamed, it is the text the county typed.
    rich = f"F{2 + HOSTILE.index('<r><t>rich?</t></r>')}"
    assert streamed["指标明细"]["cells"][rich][0] == "<r><t>rich?</t></r>"
    assert reference["指标明细"]["cells"].pop(rich)[0] == "rich?"
    streamed["指标明细"]["cells"].pop(rich)
    for name in reference:
        assert streamed[name] == reference[name], name

def test_the_detail_sheets_keep_their_formats_filters_and_panes(summary, both):
    streamed = _cells(both[0])
    ind = streamed["指标明细"]
    header = {v[0]: k[:-1] for k, v in ind["cells"].items() if re.fullmatch(r"[A-Z]+1", k)}
    assert ind["filter"] == f"A1:O{len(summary.tables['indicators'].rows) + 1}" and ind["panes"] == "D2"
    weight = ind["cells"][header["分值"] + "5"]
    assert (weight[0], weight[1], weight[2], weight[5]) == (10, "n", "0.00", "thin")
    assert ind["cells"][header["分值"] + "4"][:3] == (None, "n", "0.00")        # a blank keeps its format
    assert ind["cells"][header["得分"] + "2"][:3] == (None, "n", "0.00")        # NaN: blank
    assert ind["cells"][header["三级指标"] + "9"][7] is True                      # several lines: wrapped
    assert ind["cells"][header["三级指标"] + "8"][7] is not True
    proj = streamed["项目明细"]["cells"]
    assert [proj[f"{c}2"][2] for c in "JKLM"] == ["#,##0.00", "#,##0.00", "#,##0.00", "0.00%"]


def test_hostile_texts_come_back_as_exactly_that_text(both):
    wb = openpyxl.load_workbook(both[0])
    ws = wb["指标明细"]
    col = [c.value for c in ws[1]].index("三级指标") + 1
    got = [_unescape(ws.cell(r, col).value) for r in range(2, 2 + len(HOSTILE))]
    want = [xlsxstream.excel_text(t) for t in HOSTILE]
    assert got == want
    assert len(want[-2]) == 32767 and len(want[-1]) == 16383          # Excel's limit in UTF-16 units
    assert all(ws.cell(r, col).data_type == "s" for r in range(2, 2 + len(HOSTILE)))
    assert ws.cell(2 + HOSTILE.index("第一行\n第二行\n"), col).alignment.wrap_text
    with zipfile.ZipFile(both[0]) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert not any(b"<f>" in z.read(n) for n in sheets)


UNO_DUMP = r'''
import json
out = {}
for src in args[:-1]:
    doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(src), "_blank", 0, (pv("Hidden", True),))
    sheets = {}
    for name in args[-1].split("|"):
        sh = doc.Sheets.getByName(name)
        cur = sh.createCursor()
        cur.gotoEndOfUsedArea(False)
        rows = []
        for r in range(cur.RangeAddress.EndRow + 1):
            row = []
            for c in range(cur.RangeAddress.EndColumn + 1):
                cell = sh.getCellByPosition(c, r)
                fmt = doc.NumberFormats.getByKey(cell.NumberFormat).FormatString
                row.append([cell.getType().value, cell.getString(), cell.getValue(), fmt, cell.IsTextWrapped])
            rows.append(row)
        sheets[name] = rows
    out[src] = sheets
    doc.close(True)
print(json.dumps(out))
'''


@pytest.mark.libreoffice
def test_libreoffice_reads_the_streamed_workbook_as_the_cell_by_cell_one(both, libreoffice):
    streamed, reference = (str(p.resolve()) for p in both)
    got = json.loads(run_uno_script(UNO_DUMP, streamed, reference, "|".join(DETAIL)).strip().splitlines()[-1])
    ind = got[streamed]["指标明细"]
    col = [c[1] for c in ind[0]].index("三级指标")
    rich = 1 + HOSTILE.index("<r><t>rich?</t></r>")           # XlsxWriter wrote it as rich-text XML
    assert ind[rich][col][1] == HOSTILE[rich - 1] and got[reference]["指标明细"][rich][col][1] == "rich?"
    got[reference]["指标明细"][rich][col] = ind[rich][col]
    assert got[streamed] == got[reference]
    texts = [row[col][1] for row in ind[1:1 + len(HOSTILE)]]
    for text, want in zip(texts, HOSTILE):
        assert text == xlsxstream.excel_text(want).replace("\r", "\n") or text == xlsxstream.excel_text(want)
    assert texts[:4] == HOSTILE[:4] and all(row[col][0] == "TEXT" for row in ind[1:1 + len(HOSTILE)])
    weight = [c[1] for c in ind[0]].index("分值")
    assert (ind[3][weight][0], ind[3][weight][3]) == ("EMPTY", "0.00")   # a blank keeps its format


def test_a_table_longer_than_a_sheet_goes_on_on_further_sheets(summary, tmp_path, monkeypatch):
    n = len(summary.tables["indicators"].rows)
    monkeypatch.setattr(workbook, "MAX_BODY_ROWS", 8)
    out = write_summary(summary, tmp_path / "汇总.xlsx")
    wb = openpyxl.load_workbook(out)
    parts = ["指标明细"] + [f"指标明细（续{k}）" for k in range(2, -(-n // 8) + 1)]
    assert [s for s in wb.sheetnames if s.startswith("指标明细")] == parts
    names, header = [], [c.value for c in wb["指标明细"][1]]
    col = header.index("三级指标") + 1
    for k, name in enumerate(parts):
        ws = wb[name]
        rows = min(8, n - 8 * k)
        assert [c.value for c in ws[1]] == header and ws.max_row == rows + 1, name
        assert ws.auto_filter.ref == f"A1:O{rows + 1}" and ws.freeze_panes == "D2", name
        assert ws.print_title_rows and ws.conditional_formatting is not None
        names += [ws.cell(r, col).value for r in range(2, rows + 2)]
    assert [_unescape(v) for v in names] == [xlsxstream.excel_text(r["name"]) for r in summary.tables["indicators"].rows]
    notes = {r[0]: r[1] for r in wb["说明"].iter_rows(values_only=True) if r[0]}
    assert "“指标明细（续2）”" in notes["指标明细"] and "上限" in notes["指标明细"]
    assert "续" not in notes["项目明细"]


class LazyRows(Sequence):
    """A big table as aggregation's spill file gives it: rows made on demand. Counts full passes and
    the rows alive at once, and refuses a slice longer than the width sample."""

    def __init__(self, n: int, make) -> None:
        self.n, self.make, self.passes, self.alive, self.most_alive = n, make, 0, 0, 0

    def _row(self, i: int) -> dict:
        owner = self

        class Row(dict):
            def __del__(self):
                owner.alive -= 1
        self.alive += 1
        self.most_alive = max(self.most_alive, self.alive)
        return Row(self.make(i))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            idx = range(*i.indices(self.n))
            assert len(idx) <= workbook.WIDTH_SAMPLE, "a slice as big as the table"
            return [self._row(j) for j in idx]
        return self._row(range(self.n)[i])

    def __iter__(self):
        self.passes += 1
        return (self._row(i) for i in range(self.n))


def test_lazy_big_tables_are_written_in_one_pass_without_holding_them(summary, tmp_path, monkeypatch):
    monkeypatch.setattr(workbook, "WIDTH_SAMPLE", 200)
    monkeypatch.setattr(xlsxstream, "ROWS_PER_WRITE", 100)
    monkeypatch.setattr(frames, "CHUNK_ROWS", 300)
    lazy = {}
    for name in ("projects", "indicators", "findings", "missing"):
        t = summary.tables[name]
        base = list(t.rows)
        lazy[name] = LazyRows(5000, lambda i, base=base: dict(base[i % len(base)], source=f"第{i}份.xlsx"))
    tables = {k: (Table(t.name, t.title, t.columns, lazy[k]) if k in lazy else t) for k, t in summary.tables.items()}
    s = type(summary)(**{**summary.__dict__, "tables": tables})
    peaks, results = [], []
    for write in (lambda: write_summary(s, tmp_path / "汇总.xlsx"), lambda: export_csv(s, tmp_path / "csv"),
                  lambda: export_parquet(s, tmp_path / "pq")):
        for rows in lazy.values():
            rows.most_alive = rows.alive
        results.append(write())
        peaks.append(max(rows.most_alive for rows in lazy.values()))
    out, csvs, parqs = results
    for name, rows in lazy.items():
        assert rows.passes == 3, name                   # one pass per writer
    assert peaks[0] <= workbook.WIDTH_SAMPLE + xlsxstream.ROWS_PER_WRITE, peaks      # rows alive at once
    assert max(peaks[1:]) <= frames.CHUNK_ROWS, peaks
    ws = openpyxl.load_workbook(out, read_only=True)["指标明细"]
    assert ws.max_row == 5001
    assert len(pd.read_csv(next(p for p in csvs if p.stem == "indicators"), encoding="utf-8-sig")) == 5000
    assert pq.ParquetFile(next(p for p in parqs if p.stem == "indicators")).metadata.num_rows == 5000


def test_a_failed_write_leaves_the_previous_workbook_in_place(summary, tmp_path):
    good = write_summary(summary, tmp_path / "汇总.xlsx")
    before = good.read_bytes()

    class Broken(Sequence):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return [] if isinstance(i, slice) else {}

        def __iter__(self):
            yield {"name": "第一行"}
            raise OSError("spill file gone")

    t = summary.tables["indicators"]
    tables = dict(summary.tables, indicators=Table(t.name, t.title, t.columns, Broken()))
    with pytest.raises(OSError):
        write_summary(type(summary)(**{**summary.__dict__, "tables": tables}), good)
    assert good.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["汇总.xlsx"]


def test_a_sheet_beyond_the_zip_limit_is_written_again_with_zip64(summary, tmp_path, monkeypatch):
    splice, tries = xlsxstream._splice, []

    def tiny_zip_limit(*args, zip64):
        tries.append(zip64)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(zipfile, "ZIP64_LIMIT", 20_000)      # as if the sheet XML were over 2 GiB
            return splice(*args, zip64=zip64)
    monkeypatch.setattr(xlsxstream, "_splice", tiny_zip_limit)
    out = write_summary(summary, tmp_path / "汇总.xlsx")
    assert tries == [False, True]
    ws = openpyxl.load_workbook(out)["指标明细"]
    assert _unescape(ws.cell(2, 6).value) == HOSTILE[0]


# ---------------------------------------------------------------- CSV and Parquet, chunk by chunk

def _old_csv_frame(table: Table) -> pd.DataFrame:
    """frames.csv_frame as it was before the exports streamed (the whole table at once)."""
    df = table_frame(table, keys=True)
    out = {}
    for c in table.columns:
        kinds = [r.get("_kind", "") for r in table.rows] if c.kind == "number" else []
        if c.kind in frames.PERCENT or any(k in frames.PERCENT for k in kinds):
            shown = [(frames._percent(v) if (c.kind in frames.PERCENT or k in frames.PERCENT)
                      else ("" if pd.isna(v) else f"{v:g}"))
                     for v, k in zip(df[c.key].tolist(), kinds or [c.kind] * len(df))]
            out[c.title] = pd.array(shown, dtype="string")
            out[c.title + frames.NUMERIC_SUFFIX] = df[c.key]
        else:
            out[c.title] = df[c.key]
    return pd.DataFrame(out, index=df.index)


def _old_csv_bytes(table: Table, path: Path) -> bytes:
    frames._csv_safe(_old_csv_frame(table)).to_csv(path, index=False, encoding="utf-8-sig",
                                                   quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    return path.read_bytes()


def test_csv_in_chunks_is_byte_for_byte_the_one_shot_export(summary, tmp_path, monkeypatch):
    monkeypatch.setattr(frames, "CHUNK_ROWS", 3)                  # many chunk boundaries, a short last one
    tables = dict(summary.tables, missing=Table("missing", "未提交", summary.tables["missing"].columns, []))
    s = type(summary)(**{**summary.__dict__, "tables": tables})
    written = {p.stem: p for p in export_csv(s, tmp_path / "csv")}
    assert set(written) == set(s.tables)
    for name, t in s.tables.items():
        assert written[name].read_bytes() == _old_csv_bytes(t, tmp_path / f"old-{name}.csv"), name
    raw = written["indicators"].read_bytes()
    assert raw.count(b"\xef\xbb\xbf") == 1 and raw.count("三级指标".encode()) == 1
    assert "执行率（小数）" in written["projects"].read_text("utf-8-sig").splitlines()[0]


def test_parquet_in_row_groups_keeps_the_types_and_rows_of_the_frames(summary, tmp_path, monkeypatch):
    monkeypatch.setattr(frames, "CHUNK_ROWS", 4)
    tables = dict(summary.tables, missing=Table("missing", "未提交", summary.tables["missing"].columns, []))
    s = type(summary)(**{**summary.__dict__, "tables": tables})
    written = {p.stem: p for p in export_parquet(s, tmp_path / "pq")}
    for name, t in s.tables.items():
        want = table_frame(t)
        want.to_parquet(tmp_path / f"old-{name}.parquet", index=False)
        old = pq.read_schema(tmp_path / f"old-{name}.parquet")
        assert pq.read_schema(written[name]).equals(old, check_metadata=False), name
        got = pd.read_parquet(written[name])
        assert list(got.dtypes) == list(pd.read_parquet(tmp_path / f"old-{name}.parquet").dtypes), name
        pd.testing.assert_frame_equal(got, want, check_dtype=True)
    assert pq.ParquetFile(written["indicators"]).metadata.num_row_groups == -(-len(s.tables["indicators"].rows) // 4)
    assert len(pd.read_parquet(written["missing"])) == 0


def test_a_column_whose_rows_say_their_kind_streams_as_the_cell_by_cell_workbook(summary, tmp_path, monkeypatch):
    cols = (Column("item", "项目", width=26), Column("value", "数值", "number", 16))
    rows = [{"item": "执行率", "value": 0.962, "_kind": "rate"}, {"item": "预算", "value": 1234.5, "_kind": "money"},
            {"item": "单位数", "value": 3, "_kind": "int"}, {"item": "说明", "value": "=1+1", "_kind": "text"},
            {"item": "总分", "value": 88.5}, {"item": "其他", "value": 7, "_kind": "odd"},
            {"item": "空", "value": None, "_kind": "money"}]
    s = type(summary)(**{**summary.__dict__,
                         "tables": dict(summary.tables, similar_texts=Table("similar_texts", "疑似雷同说明", cols, rows))})
    streamed = write_summary(s, tmp_path / "streamed.xlsx")
    monkeypatch.setattr(workbook, "STREAM_BODIES", False)
    reference = write_summary(s, tmp_path / "reference.xlsx")
    got, want = _cells(streamed)["疑似雷同说明"], _cells(reference)["疑似雷同说明"]
    assert got == want
    assert [got["cells"][f"B{r}"][:3] for r in (2, 3, 5)] == [(0.962, "n", "0.00%"), (1234.5, "n", "#,##0.00"),
                                                               ("=1+1", "s", "General")]


def test_a_lone_surrogate_from_a_broken_file_does_not_stop_the_workbook(summary, tmp_path):
    t = summary.tables["findings"]
    rows = [dict(t.rows[0], message="坏字符\ud800在这里")]
    s = type(summary)(**{**summary.__dict__, "tables": dict(summary.tables, findings=Table(t.name, t.title, t.columns, rows))})
    ws = openpyxl.load_workbook(write_summary(s, tmp_path / "汇总.xlsx"))["问题清单"]
    col = [c.value for c in ws[1]].index("问题说明") + 1
    assert ws.cell(2, col).value == "坏字符_xD800_在这里"          # Excel's escape, not a crash
