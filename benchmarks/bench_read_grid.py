"""How long read_grid takes per returned file (xlsx, and the LibreOffice xls/ods if available).

Builds a ~45-row form-like workbook with XlsxWriter (merged title and headers,
unlocked inputs, formulas with cached values, sheet protection, a hidden
`_meta` sheet), copies it ~200 times and times read_grid over the copies.
No assertions: it prints ms/file.

    python benchmarks/bench_read_grid.py [--copies 200] [--runs 5]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import xlsxwriter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from xlperf.read import read_grid  # noqa: E402


def build_form(path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("项目支出绩效目标自评表")
    pct = wb.add_format({"num_format": "0.00%", "border": 1})
    num = wb.add_format({"num_format": "0.00", "border": 1})
    inp = wb.add_format({"num_format": "0.00", "border": 1, "locked": False})
    txt = wb.add_format({"border": 1, "locked": False, "text_wrap": True})
    head = wb.add_format({"bold": True, "border": 1, "align": "center"})
    ws.merge_range("A1:J1", "2024年度项目支出绩效自评表", head)
    ws.merge_range("A2:B2", "项目名称", head)
    ws.merge_range("C2:J2", "某县义务教育营养改善计划", txt)
    ws.merge_range("A3:B3", "主管部门", head)
    ws.merge_range("C3:E3", "县教育局", txt)
    ws.write("F3", "实施单位", head)
    ws.merge_range("G3:J3", "县第一中学", txt)
    for i, h in enumerate(["项目资金（万元）", "", "年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"]):
        ws.write(3, i, h, head)
    for r in range(4, 8):
        ws.merge_range(r, 0, r, 1, ["年度资金总额", "其中：本年财政拨款", "上年结转资金", "其他资金"][r - 4], head)
        ws.write_number(r, 2, 100 + r, inp)
        ws.write_number(r, 3, 120 + r, inp)
        ws.write_number(r, 4, 110 + r, inp)
        ws.write_number(r, 5, 10, num)
        ws.write_formula(r, 6, f'=IF(D{r + 1}=0,"",E{r + 1}/D{r + 1})', pct, (110 + r) / (120 + r))
        ws.write_formula(r, 7, f"=ROUND(MIN(G{r + 1},1)*F{r + 1},2)", num, round(min((110 + r) / (120 + r), 1) * 10, 2))
    ws.merge_range("A9:A10", "年度总体目标", head)
    ws.merge_range("B9:E9", "预期目标", head)
    ws.merge_range("F9:J9", "实际完成情况", head)
    ws.merge_range("B10:E10", "保障学生营养餐供应", txt)
    ws.merge_range("F10:J10", "全年供应营养餐 180 天", txt)
    cols = ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"]
    for i, h in enumerate(cols):
        ws.write(10, i, h, head)
    for r in range(11, 41):
        ws.write(r, 0, "产出指标" if r < 25 else "效益指标", head)
        ws.write(r, 1, "数量指标" if r % 2 else "质量指标", head)
        ws.write(r, 2, f"指标{r - 10}", txt)
        ws.write(r, 3, "≥95%", txt)
        ws.write_number(r, 4, 0.97, wb.add_format({"num_format": "0%", "locked": False}) if r == 11 else inp)
        ws.write_number(r, 5, 3, num)
        ws.write_number(r, 6, 3, inp)
        ws.write(r, 7, "", txt)
    for r0 in range(11, 41, 6):
        ws.merge_range(r0, 8, r0 + 5, 9, "", txt)
    ws.merge_range("A42:E42", "总分", head)
    ws.write_formula("F42", "=SUM(F12:F41)", num, 90)
    ws.write_formula("G42", "=SUM(G12:G41)+SUM(H5:H8)", num, 130)
    ws.write_formula("H42", '=IF(G42>=90,"优",IF(G42>=80,"良",IF(G42>=60,"中","差")))', head, "优")
    ws.write("A44", "填表人：")
    ws.write("A45", "联系电话：")
    ws.protect("secret")
    meta = wb.add_worksheet("_meta")
    for i, (k, v) in enumerate({"template_id": "project-self-eval", "version": "1", "unit_code": "130102",
                                 "unit_name": "县第一中学"}.items()):
        meta.write(i, 0, k)
        meta.write(i, 1, v)
    meta.hide()
    meta.protect()
    wb.define_name("total_score", "='项目支出绩效目标自评表'!$G$42")
    wb.close()


def bench(files: list[Path], runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        for f in files:
            read_grid(f)
        times.append((time.perf_counter() - t) / len(files) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=200)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        src = tmpdir / "form.xlsx"
        build_form(src)
        sources = {"xlsx (XlsxWriter)": src}
        try:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            import libreoffice as lo
            if lo.soffice():
                for fmt in ("xlsx", "xls", "ods"):
                    sources[f"{fmt} (LibreOffice)"] = lo.convert(src, fmt, tmpdir / f"lo-{fmt}")
        except Exception as e:  # the benchmark still runs without LibreOffice
            print(f"(LibreOffice conversions skipped: {e})")
        for label, path in sources.items():
            files = []
            for i in range(args.copies):
                dst = tmpdir / "copies" / label.split()[0] / f"{i:04d}{path.suffix}"
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dst)
                files.append(dst)
            read_grid(files[0])   # warm imports
            ms = bench(files, args.runs)
            print(f"{label:22s} {path.stat().st_size:>7,} B  {ms:6.2f} ms/file  (median of {args.runs} runs x {len(files)} files)")


if __name__ == "__main__":
    main()
