"""How fast a whole province is aggregated: check every return, summarize, write the workbook.

For each size (default 1,000 returns) it generates a synthetic province once
(benchmarks/synth.py, cached under --dir), then in a fresh process:
* times the end-to-end aggregation (parallel read+validate, summarize against
  the roster, summary workbook, then CSV and Parquet exports) and prints
  returns/s and peak memory (getrusage: this process, and the largest worker);
* times read+validate per file in-process on a sample, next to a bare floor
  that only unzips each file and ET-parses its sheet XML;
* profiles `check()` on 300 files in-process and prints the top 15 by cumtime.
No assertions: it prints figures.

    python benchmarks/bench_aggregate.py [-n 1000 10000] [--jobs 2] [--dir /tmp/xlperf-bench]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth  # noqa: E402
from xlperf.judge.batch import check_files  # noqa: E402
from xlperf.province.aggregate import summarize  # noqa: E402
from xlperf.province.model import Entry, Expected  # noqa: E402
from xlperf.judge.check import check  # noqa: E402
from xlperf.province.frames import export_csv, export_parquet  # noqa: E402
from xlperf.province.workbook import write_summary  # noqa: E402

EXPECTED_FIELDS = ("roster_id", "unit_code", "unit_name", "region_code", "region_name", "project_name",
                   "project_code", "contact", "email", "budget")


def peak_mb() -> tuple[float, float]:
    """(this process, largest waited-for child) peak RSS in MiB (Linux reports KiB)."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def floor_read(path: Path) -> None:
    """The least any reader must do: open the zip, inflate and parse the sheet XML (and shared strings)."""
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if (name.startswith("xl/worksheets/sheet") and name.endswith(".xml")) or name == "xl/sharedStrings.xml":
                ET.fromstring(z.read(name))


def per_file(files: list[Path], fn, runs: int = 3) -> float:
    """Median over runs of ms per file."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for f in files:
            fn(f)
        times.append((time.perf_counter() - t0) / len(files) * 1000)
    return statistics.median(times)


def one(n: int, base: Path, jobs: int | None, sample: int, profile_n: int, keep: bool) -> dict:
    folder = base / f"n{n}"
    rows = synth.generate(folder, n, jobs=jobs)
    expected = {r["file"]: Expected(**{k: r[k] for k in EXPECTED_FIELDS}) for r in rows}
    received = {r["file"]: r["received_at"] for r in rows if r["file"]}
    roster = [Expected(**{k: r[k] for k in EXPECTED_FIELDS}) for r in rows]
    files = [folder / r["file"] for r in rows if r["file"]]
    out = Path(tempfile.mkdtemp(prefix="xlperf-bench-out-"))
    stages: dict[str, float] = {}

    # ---- end to end
    t0 = time.perf_counter()
    results = check_files(files, jobs=jobs, progress=False)
    entries = (Entry(res, expected[f.name], f.name, received[f.name]) for res, f in zip(results, files))
    t_check0 = time.perf_counter()
    summary = summarize(entries, roster, year=synth.YEAR, form=synth.FORM, produced_from=str(folder))
    t1 = time.perf_counter()
    stages["check + summarize (streamed)"] = t1 - t_check0
    write_summary(summary, out / "汇总.xlsx")
    t2 = time.perf_counter()
    stages["write_summary"] = t2 - t1
    end_to_end = t2 - t0
    export_csv(summary, out / "csv")
    t3 = time.perf_counter()
    stages["export_csv"] = t3 - t2
    export_parquet(summary, out / "parquet")
    t4 = time.perf_counter()
    stages["export_parquet"] = t4 - t3
    self_mb, child_mb = peak_mb()
    c = summary.counts
    report = {
        "n": n, "jobs": jobs or os.cpu_count(), "end_to_end_s": end_to_end, "returns_per_s": n / end_to_end,
        "stages": stages, "peak_self_mb": self_mb, "peak_child_mb": child_mb,
        "workbook_mb": (out / "汇总.xlsx").stat().st_size / 2**20,
        "counts": {k: c[k] for k in ("projects_expected", "projects_returned", "projects_valid", "projects_missing")},
        "rows": {k: len(t.rows) for k, t in summary.tables.items() if k in ("projects", "indicators", "findings", "missing")},
        "rate": summary.totals["rate"], "mean_score": summary.totals["mean_score"],
    }
    del summary

    # ---- per file, in-process: read+validate vs floor
    pick = files[:: max(1, len(files) // sample)][:sample]
    for f in pick[:20]:            # warm the page cache and the imports
        check(f)
        floor_read(f)
    report["ms_check"] = per_file(pick, check)
    report["ms_floor"] = per_file(pick, floor_read)
    report["sample"] = len(pick)

    # ---- profile (skipped with --profile 0)
    if profile_n > 0:
        prof_files = files[:: max(1, len(files) // profile_n)][:profile_n]
        pr = cProfile.Profile()
        pr.enable()
        for f in prof_files:
            check(f)
        pr.disable()
        buf = io.StringIO()
        pstats.Stats(pr, stream=buf).sort_stats("cumulative").print_stats(15)
        report["profile"] = buf.getvalue()
        report["profile_files"] = len(prof_files)
    if not keep:
        import shutil
        shutil.rmtree(out, ignore_errors=True)
    else:
        report["out"] = str(out)
    return report


def show(r: dict) -> None:
    print(f"\n=== {r['n']:,} returns, {r['jobs']} worker processes ===")
    print(f"end to end (check + summarize + workbook): {r['end_to_end_s']:.1f} s = {r['returns_per_s']:.0f} returns/s")
    for k, v in r["stages"].items():
        print(f"  {k:32s} {v:7.2f} s")
    print(f"peak memory: this process {r['peak_self_mb']:.0f} MiB, largest worker {r['peak_child_mb']:.0f} MiB; "
          f"workbook {r['workbook_mb']:.1f} MiB")
    print(f"summary: {r['counts']}, rows {r['rows']}, 执行率 {r['rate']:.2%}, 平均总分 {r['mean_score']:.2f}")
    print(f"per file, in-process, {r['sample']} files (median of 3): read+validate {r['ms_check']:.2f} ms, "
          f"floor (unzip + ET.fromstring of sheet XML) {r['ms_floor']:.2f} ms, ratio {r['ms_check'] / r['ms_floor']:.1f}×")
    if "profile" not in r:
        return
    print(f"cProfile of check() on {r['profile_files']} files, top 15 by cumtime:")
    lines = r["profile"].splitlines()
    start = next((i for i, l in enumerate(lines) if l.lstrip().startswith("ncalls")), 0)
    print("\n".join(lines[start:start + 16]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, nargs="+", default=[1000])
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "xlperf-bench")
    ap.add_argument("--sample", type=int, default=500, help="files for the per-file timing")
    ap.add_argument("--profile", type=int, default=300, help="files to profile")
    ap.add_argument("--keep", action="store_true", help="keep the summary workbook and exports")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)   # internal: run one size in this process
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.dir, a.jobs, a.sample, a.profile, a.keep), ensure_ascii=False))
        return
    for n in a.n:
        # generation first (its worker processes would otherwise count in the peak memory)
        synth.generate(a.dir / f"n{n}", n, jobs=a.jobs)
        cmd = [sys.executable, __file__, "--one", str(n), "--dir", str(a.dir), "--sample", str(a.sample),
               "--profile", str(a.profile)] + (["--jobs", str(a.jobs)] if a.jobs else []) + (["--keep"] if a.keep else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            sys.exit(proc.returncode)
        show(json.loads(proc.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
