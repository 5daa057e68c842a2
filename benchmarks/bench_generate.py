"""How long generating workbooks takes: one template, and a 1,000-row roster.

Run: python benchmarks/bench_generate.py [rows]   (prints figures, asserts nothing)
"""
from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

from xlperf.season.generate import generate
from xlperf.season.roster import save_roster
from xlperf.season.roster_sample import sample_roster
from xlperf.form.samples import example_form_data
from xlperf.form.spec import load_form
from xlperf.season.workspace import init_workspace
from xlperf.form.template import TemplateOptions, write_template


def one_template(n: int = 50) -> None:
    for form in ("project", "project-county"):
        spec = load_form(form)
        data = example_form_data(spec)
        for label, d in (("空白", None), ("填写示例", data)):
            times = []
            for _ in range(n):
                t = time.perf_counter()
                write_template(spec, 2024, io.BytesIO(), d, TemplateOptions(password="pw"))
                times.append(time.perf_counter() - t)
            print(f"template {form:15s} {label:4s}: median {statistics.median(times) * 1000:6.2f} ms  "
                  f"(min {min(times) * 1000:.2f}, n={n})")


def roster(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "ws", year=2024)
        per_city = 28
        projects = 5
        cities = max(1, -(-rows // (per_city * projects)))
        sample = sample_roster(n_cities=cities, counties_per_city=per_city, projects=projects)[:rows]
        conn = ws.connect()
        save_roster(conn, sample)
        conn.close()
        t = time.perf_counter()
        rep = generate(ws)
        first = time.perf_counter() - t
        t = time.perf_counter()
        again = generate(ws)
        second = time.perf_counter() - t
        print(f"generate {len(rep.written)} roster rows: {first:.2f} s ({first / len(rep.written) * 1000:.1f} ms/workbook, "
              f"signing, DB and file write included)")
        print(f"regenerate (idempotent, {len(again.unchanged)} unchanged): {second:.2f} s")


if __name__ == "__main__":
    one_template()
    roster(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
