"""Files per second for reading + validating generated returns (`xlperf check` without output).

Run: python benchmarks/bench_check.py [n]   (prints figures, asserts nothing)
"""
from __future__ import annotations

import sys
import tempfile
import time
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

from xlperf.judge.check import check
from xlperf.form.samples import example_form_data
from xlperf.form.spec import load_form
from xlperf.form.template import TemplateOptions, write_template


def main(n: int) -> None:
    spec = load_form("project-county")
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(n):
            data = example_form_data(spec, unit=f"第{i}县医疗保障局")
            p = Path(tmp) / f"{i}.xlsx"
            write_template(spec, 2024, p, data, TemplateOptions(password="pw"))
            files.append(p)
        check(files[0])  # warm up imports and the spec cache
        t = time.perf_counter()
        for p in files:
            with zipfile.ZipFile(p) as z:
                ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
                ET.fromstring(z.read("xl/sharedStrings.xml"))
        floor = (time.perf_counter() - t) / n
        t = time.perf_counter()
        errors = sum(check(p).errors for p in files)
        per = (time.perf_counter() - t) / n
        print(f"{n} returns: read + locate + validate {per * 1000:.2f} ms/file = {1 / per:.0f} files/s (one process)")
        print(f"floor (unzip + parse sheet and shared strings XML): {floor * 1000:.2f} ms/file; ratio {per / floor:.2f}×")
        print(f"(errors found: {errors})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
