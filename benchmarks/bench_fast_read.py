"""Per-file cost of reading and checking a return, against the floor (issue 12, target 1).

The floor is the least any reader must do: open the zip and parse the sheet
XML and sharedStrings with ElementTree. Measured side by side in one
interleaved run (so machine noise hits every column alike):

    floor          zip + ElementTree of the sheets and sharedStrings
    read (full)    read_grid(fast=False): the element-tree reader
    read (fast)    read_grid(): the fast path (fastxlsx), template parts and rows known
    fast, new rows the same with the rows it keeps forgotten before each file (a
                   return whose every row differs from those seen, template parts known)
    fast, cold     the same with everything it keeps forgotten (a season's first return)
    check          xlperf.check(): read + locate + validate
    check, new rows the same with the rows the fast path keeps forgotten

over distinct filled returns of every shipped form (our generator) and, if
LibreOffice is installed, their LibreOffice re-saves. No assertions.

    python benchmarks/bench_fast_read.py [--units 20] [--reps 7] [--no-libreoffice] [--clock cpu|wall]

Times are the process's CPU time by default: on a shared machine (two cores,
other jobs running) wall time mostly measures the neighbours, while CPU time
is what a file costs; `--clock wall` gives elapsed time.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from xml.etree.ElementTree import fromstring

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from xlperf import check
from xlperf.form.samples import example_form_data
from xlperf.form.spec import available_forms, load_form
from xlperf.form.template import write_template
from xlperf.read import read_grid
from xlperf.read.fastxlsx import forget

COUNTIES = ["绥宁县", "城步县", "武冈市", "洞口县", "隆回县", "邵东市", "新邵县", "邵阳县", "新宁县", "双清区",
            "大祥区", "北塔区", "祁东县", "衡山县", "衡东县", "耒阳市", "常宁市", "攸县", "茶陵县", "炎陵县"]


def floor(path: Path) -> None:
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet") or name == "xl/sharedStrings.xml":
                fromstring(z.read(name))


def build_returns(out: Path, units: int) -> list[Path]:
    paths = []
    for name, p in sorted(available_forms().items()):
        spec = load_form(p)
        for i in range(units):
            county = COUNTIES[i % len(COUNTIES)] + (str(i // len(COUNTIES)) if i >= len(COUNTIES) else "")
            path = out / f"{name}-{i:03d}.xlsx"
            write_template(spec, 2024, path, example_form_data(spec, unit=f"{county}医疗保障局",
                                                               project=f"{county}医疗服务与保障能力提升补助资金"))
            paths.append(path)
    return paths


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = time.process_time


def per_file_ms(fn, paths: list[Path]) -> float:
    t = clock()
    for p in paths:
        fn(p)
    return (clock() - t) / len(paths) * 1000


def cold(path: Path) -> None:
    forget()
    read_grid(path)


def new_rows(path: Path) -> None:
    forget(rows_only=True)
    read_grid(path)


def check_new_rows(path: Path) -> None:
    forget(rows_only=True)
    check(path)


def run(label: str, paths: list[Path], reps: int) -> None:
    columns = {"floor": floor, "read (full)": lambda p: read_grid(p, fast=False),
               "read (fast)": read_grid, "fast, new rows": new_rows, "fast, cold": cold,
               "check": check, "check, new rows": check_new_rows}
    for fn in columns.values():          # warm: imports, form definitions, template parts
        fn(paths[0])
    times: dict[str, list[float]] = {k: [] for k in columns}
    for _ in range(reps):
        for k, fn in columns.items():
            gc.collect()                 # every column starts from the same collector state
            times[k].append(per_file_ms(fn, paths))
    base = min(times["floor"])
    name = "CPU" if clock is time.process_time else "wall"
    print(f"\n{label}: {len(paths)} files, {reps} interleaved reps ({name} ms per file)")
    med = statistics.median(times["floor"])
    print(f"  {'':15} {'min':>7} {'median':>7} {'÷ floor':>8} {'(medians)':>9}")
    for k, ts in times.items():
        print(f"  {k:15} {min(ts):7.3f} {statistics.median(ts):7.3f} {min(ts) / base:7.2f}× {statistics.median(ts) / med:8.2f}×")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=20, help="distinct returns per shipped form")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--no-libreoffice", action="store_true")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="cpu", help="CPU time (default) or elapsed time")
    args = ap.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "ours").mkdir()
        ours = build_returns(tmp / "ours", args.units)
        run("our returns (XlsxWriter)", ours, args.reps)
        if not args.no_libreoffice:
            from helpers import libreoffice as lo
            if lo.soffice():
                (tmp / "lo").mkdir()
                resaved = lo.convert_many(ours, "xlsx", tmp / "lo")
                run("LibreOffice re-saves", resaved, args.reps)
            else:
                print("\n(LibreOffice not installed: re-saves skipped)")


if __name__ == "__main__":
    main()
