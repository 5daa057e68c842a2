"""The four targets of issue 12, measured side by side with their floors; prints a table, asserts nothing.

Parts (each runnable alone with --parts, and small with the --*-n options):

  read       read+validate (`check`) per file vs the floor (open the zip, ElementTree-parse every
             sheet XML and sharedStrings), on our returns and on LibreOffice re-saves, both as a
             season's returns (rows seen before) and with every row new to the reader; interleaved
             reps, min and median ms/file, ratio.                         target: ≤ 2× the floor
  aggregate  end-to-end aggregation (check in the process pool, summarize against a roster, summary
             workbook, CSV, Parquet) at each size in --sizes, each in a fresh process; time, returns/s,
             peak RSS of the main process and of the largest worker.     targets: 10,000 < 15 s;
             100,000 in linear time; main-process peak flat within 10 % from 10k to 100k
  generate   3,000 personalised workbooks (`xlperf generate`): one row at a time in this process
             (how it was) vs the rendering pool, wall and CPU seconds.  target: < 20 s on 2 cores
  dask       the same check over --dask-n files in the local pool vs on `--dask local` (a Dask
             LocalCluster with --jobs workers), returns/s.

The aggregation reuses a few thousand distinct synthetic returns (benchmarks/synth.py, cached under
--dir) many times: returns i and i + K are the same file under two roster rows. Generating 100,000
distinct files would take longer than the measurement; the reader does the same work either way.

    python benchmarks/run_all.py                                   # everything, realistic sizes
    python benchmarks/run_all.py --parts read --read-n 50 --reps 5   # a quick check of one part
    python benchmarks/run_all.py --parts aggregate --sizes 1000 3000
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
import synth  # noqa: E402

EXPECTED_FIELDS = ("roster_id", "unit_code", "unit_name", "region_code", "region_name", "project_name",
                   "project_code", "contact", "email", "budget")


def cpu_s() -> float:
    """User + system CPU seconds of this process and its waited-for children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def peak_mib() -> tuple[float, float]:
    """(this process, largest waited-for child) peak RSS in MiB."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def in_fresh_process(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")))
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(proc.returncode)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- (a) read + validate vs the floor

def floor_read(path: Path) -> None:
    """The least a reader must do: open the zip, inflate and ET-parse every sheet XML and sharedStrings."""
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if (name.startswith("xl/worksheets/sheet") and name.endswith(".xml")) or name == "xl/sharedStrings.xml":
                ET.fromstring(z.read(name))


def interleaved(files: list[Path], fns: dict, reps: int) -> dict[str, list[float]]:
    """ms per file for each function, the functions taking turns within every rep."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for f in files:
                fn(f)
            times[k].append((time.perf_counter() - t0) / len(files) * 1000)
    return times


def part_read(base: Path, n: int, lo_n: int, reps: int) -> list[dict]:
    from xlperf.judge.check import check
    from xlperf.read.fastxlsx import forget

    def check_new(path: Path) -> None:
        """A return none of whose rows the reader has seen (the rows it keeps forgotten first)."""
        forget(rows_only=True)
        check(path)
    ours = base / f"read{n}"
    rows = synth.generate(ours, n, resave=0, quiet=True)
    sets = [("our returns", [ours / r["file"] for r in rows if r["file"]])]
    if lo_n:
        lo = base / f"lo{lo_n}"
        rows = synth.generate(lo, lo_n, resave=lo_n, quiet=True)
        resaved = [lo / r["file"] for r in rows if r.get("resaved")]
        if resaved:
            sets.append(("LibreOffice re-saves", resaved))
    out = []
    for label, files in sets:
        for f in files[:20]:                 # warm imports, the spec cache and the page cache
            check(f)
            floor_read(f)
        t = interleaved(files, {"check": check, "check_new": check_new, "floor": floor_read}, reps)
        out.append({"set": label, "files": len(files), "reps": reps,
                    **{f"{k}_{s}": f(v) for k, v in t.items() for s, f in (("min", min), ("median", statistics.median))}})
    return out


# ---------------------------------------------------------------- (b, c) aggregation: time and memory

def distinct_returns(base: Path, k: int) -> list[Path]:
    folder = base / f"distinct{k}"
    rows = synth.generate(folder, k, resave=0, quiet=True)
    return [folder / r["file"] for r in rows if r["file"]]


def aggregate_once(n: int, base: Path, distinct: int, jobs: int | None, early_pool: bool = True) -> dict:
    """In a fresh process: aggregate n returns (a roster of n + 1 %) end to end, CSV and Parquet included."""
    from xlperf.judge.batch import check_files, start_pool
    from xlperf.province.aggregate import summarize
    from xlperf.province.model import Entry, Expected
    from xlperf.province.outputs import write_outputs

    workers = start_pool(jobs) if early_pool else None    # forked before the roster exists
    pool = distinct_returns(base, distinct)

    def roster():                                          # streamed, as a workspace's roster is
        for r in synth.iter_roster(n):
            yield r, Expected(**{k: r[k] for k in EXPECTED_FIELDS})

    returned = (pair for pair in roster() if pair[0]["file"])
    files = [pool[i % len(pool)] for i in range(n)]
    out = Path(tempfile.mkdtemp(prefix="xlperf-runall-"))
    stages = {}
    c0, t0 = cpu_s(), time.perf_counter()
    results = check_files(files, jobs=jobs, progress=False, pool=workers)
    entries = (Entry(res, e, r["file"], r["received_at"]) for res, (r, e) in zip(results, returned))
    summary = summarize(entries, (e for _, e in roster()), year=synth.YEAR, form=synth.FORM, produced_from="run_all")
    t1 = time.perf_counter()
    stages["check + summarize"] = t1 - t0
    peak_summarized = peak_mib()[0]
    if workers is not None:
        workers.shutdown()
    child_mib = peak_mib()[1]                              # the checking workers, all reaped by now
    write_outputs(summary, out / "汇总.xlsx", csv_dir=out / "csv", parquet_dir=out / "parquet")
    t4 = time.perf_counter()
    stages["workbook ‖ CSV + Parquet"] = t4 - t1
    self_mib, exporter_mib = peak_mib()                    # the forked exporter, when there was one
    import shutil
    shutil.rmtree(out, ignore_errors=True)
    return {"n": len(files), "distinct": len(pool), "jobs": jobs or os.cpu_count(), "wall_s": t4 - t0,
            "cpu_s": cpu_s() - c0, "stages": stages, "peak_main_mib": self_mib,
            "peak_summarized_mib": peak_summarized, "peak_worker_mib": child_mib,
            "peak_exporter_mib": exporter_mib,
            "returned": summary.counts["projects_returned"], "valid": summary.counts["projects_valid"]}


# ---------------------------------------------------------------- (d) generating workbooks

def generate_once(rows: int, mode: str) -> dict:
    """In a fresh process: `generate` for a sample roster of `rows`, one at a time ('serial') or pooled."""
    from xlperf.season import generate as gen
    from xlperf.season.roster import save_roster
    from xlperf.season.roster_sample import sample_roster
    from xlperf.season.workspace import init_workspace
    if mode == "serial":        # how it was: in this process, one ledger transaction per row
        gen.BATCH, gen.POOL_MIN_ROWS = 1, 1 << 62
    with tempfile.TemporaryDirectory() as tmp:
        ws = init_workspace(Path(tmp) / "ws", year=2024)
        conn = ws.connect()
        save_roster(conn, sample_roster(n_cities=max(1, -(-rows // 140)), counties_per_city=28, projects=5)[:rows])
        conn.close()
        c0, t0 = cpu_s(), time.perf_counter()
        rep = gen.generate(ws)
        wall, cpu = time.perf_counter() - t0, cpu_s() - c0
        t0 = time.perf_counter()
        again = gen.generate(ws)
        rewall = time.perf_counter() - t0
    return {"mode": mode, "rows": len(rep.written), "wall_s": wall, "cpu_s": cpu, "regenerate_s": rewall,
            "unchanged": len(again.unchanged)}


# ---------------------------------------------------------------- Dask

def dask_once(n: int, base: Path, distinct: int, jobs: int, mode: str) -> dict:
    from xlperf.judge.batch import check_files
    from xlperf.judge.dask_batch import check_files_dask
    pool = distinct_returns(base, distinct)
    files = [pool[i % len(pool)] for i in range(n)]
    c0, t0 = cpu_s(), time.perf_counter()
    if mode == "pool":
        got = sum(1 for _ in check_files(files, jobs=jobs, progress=False))
    else:
        got = sum(1 for _ in check_files_dask(files, "local", jobs=jobs, progress=False, shared=(mode == "dask-paths")))
    wall = time.perf_counter() - t0
    return {"mode": mode, "n": got, "wall_s": wall, "per_s": got / wall, "cpu_self_s": cpu_s() - c0}


# ---------------------------------------------------------------- the table

def show(report: dict) -> None:
    w = sys.stdout.write
    if "read" in report:
        w("\n(a) read+validate per file vs the floor (zip + ElementTree of sheet XML and sharedStrings), in-process\n")
        w(f"{'files':24s} {'n':>5s} {'floor min/med ms':>18s} {'check min/med ms':>18s} {'ratio':>7s} "
          f"{'every row new':>18s} {'ratio':>7s}  target ≤ 2× (medians)\n")
        for r in report["read"]:
            ratio = r["check_median"] / r["floor_median"]
            new = r["check_new_median"] / r["floor_median"]
            w(f"{r['set']:24s} {r['files']:5d} {r['floor_min']:8.2f} /{r['floor_median']:7.2f}  "
              f"{r['check_min']:8.2f} /{r['check_median']:7.2f} {ratio:6.2f}× "
              f"{r['check_new_min']:8.2f} /{r['check_new_median']:7.2f} {new:6.2f}×  "
              f"{'met' if max(ratio, new) <= 2 else 'NOT met'}   ({r['reps']} interleaved reps)\n")
    if "aggregate" in report:
        rs = report["aggregate"]
        w("\n(b, c) aggregation end to end (check + summarize + workbook + CSV + Parquet), each size in a fresh process\n")
        w(f"{'returns':>8s} {'wall s':>8s} {'CPU s':>8s} {'returns/s':>10s} {'µs/return':>10s} {'main MiB':>9s} "
          f"{'(summarized)':>12s} {'worker MiB':>11s} {'exporter MiB':>13s}  stages (s)\n")
        for r in rs:
            st = ", ".join(f"{k} {v:.1f}" for k, v in r["stages"].items())
            w(f"{r['n']:8,d} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {r['n'] / r['wall_s']:10.0f} "
              f"{r['wall_s'] / r['n'] * 1e6:10.0f} {r['peak_main_mib']:9.0f} {r.get('peak_summarized_mib', 0):12.0f} "
              f"{r['peak_worker_mib']:11.0f} {r.get('peak_exporter_mib', 0):13.0f}  {st}\n")
        w(f"  (returns reuse {rs[0]['distinct']:,} distinct synthetic files; {rs[0]['jobs']} worker processes)\n")
        ten = next((r for r in rs if r["n"] >= 9_900 and r["n"] <= 10_100), None)
        if ten:
            w(f"  target 10,000 < 15 s: {ten['wall_s']:.1f} s → {'met' if ten['wall_s'] < 15 else 'NOT met'}\n")
        if len(rs) > 1:
            a, b = rs[0], rs[-1]
            lin = (b["wall_s"] / b["n"]) / (a["wall_s"] / a["n"])
            mem = b["peak_main_mib"] / a["peak_main_mib"]
            w(f"  linearity {a['n']:,} → {b['n']:,}: time per return × {lin:.2f} (1.00 = linear); "
              f"main-process peak × {mem:.2f} (target ≤ 1.10: {'met' if mem <= 1.10 else 'NOT met'})\n")
    if "generate" in report:
        w("\n(d) generating personalised workbooks (xlperf generate: render, sign, write, ledger)\n")
        for r in report["generate"]:
            w(f"  {r['mode']:7s} {r['rows']:5d} workbooks: {r['wall_s']:6.1f} s wall, {r['cpu_s']:6.1f} s CPU; "
              f"regenerate ({r['unchanged']} unchanged) {r['regenerate_s']:.1f} s\n")
        pooled = [r for r in report["generate"] if r["mode"] == "pool"]
        if pooled:
            best = min(r["wall_s"] for r in pooled) * 3000 / pooled[0]["rows"]
            how = "" if pooled[0]["rows"] == 3000 else f" (extrapolated from {pooled[0]['rows']})"
            w(f"  target 3,000 < 20 s on 2 cores: best pooled {best:.1f} s{how} → {'met' if best < 20 else 'NOT met'}\n")
    if "dask" in report:
        w("\n(Dask) the check of each file as a Dask task vs the local process pool\n")
        for r in report["dask"]:
            w(f"  {r['mode']:11s} {r['n']:6d} files: {r['wall_s']:6.1f} s, {r['per_s']:5.0f} files/s\n")
    w(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
      f"(wall times are inflated when other work shares the machine; CPU seconds are not)\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="read,aggregate,generate,dask")
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "xlperf-bench")
    ap.add_argument("--reps", type=int, default=5, help="interleaved reps of the read part")
    ap.add_argument("--read-n", type=int, default=300, help="our returns for the read part")
    ap.add_argument("--lo-n", type=int, default=40, help="LibreOffice re-saves for the read part (0: none)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    ap.add_argument("--distinct", type=int, default=2000, help="distinct files the aggregation reuses")
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--gen-n", type=int, default=3000)
    ap.add_argument("--gen-modes", default="serial,pool")
    ap.add_argument("--gen-reps", type=int, default=1)
    ap.add_argument("--dask-n", type=int, default=4000)
    ap.add_argument("--late-pool", action="store_true", help="fork the checking pool after the roster is loaded (as before)")
    ap.add_argument("--json", type=Path, help="also save the figures here")
    ap.add_argument("--one", nargs="+", help=argparse.SUPPRESS)   # internal: one measurement in this process
    a = ap.parse_args()
    if a.one:
        kind, *rest = a.one
        if kind == "aggregate":
            r = aggregate_once(int(rest[0]), a.dir, a.distinct, a.jobs, early_pool=not a.late_pool)
        elif kind == "generate":
            r = generate_once(int(rest[0]), rest[1])
        else:
            r = dask_once(int(rest[0]), a.dir, a.distinct, a.jobs or os.cpu_count() or 1, rest[1])
        print(json.dumps(r, ensure_ascii=False))
        return
    parts = a.parts.split(",")
    common = (["--dir", str(a.dir), "--distinct", str(a.distinct)] + (["--jobs", str(a.jobs)] if a.jobs else [])
              + (["--late-pool"] if a.late_pool else []))
    report: dict = {}
    if "read" in parts:
        report["read"] = part_read(a.dir, a.read_n, a.lo_n, a.reps)
    if "aggregate" in parts or "dask" in parts:
        distinct_returns(a.dir, a.distinct)             # generated once, outside every measurement
    if "aggregate" in parts:
        report["aggregate"] = [in_fresh_process("--one", "aggregate", str(n), *common) for n in a.sizes]
    if "generate" in parts:
        modes = a.gen_modes.split(",")
        report["generate"] = [in_fresh_process("--one", "generate", str(a.gen_n), m)
                              for _ in range(a.gen_reps) for m in modes]
    if "dask" in parts:
        report["dask"] = [in_fresh_process("--one", "dask", str(a.dask_n), m, *common)
                          for m in ("pool", "dask-bytes", "dask-paths")]
    show(report)
    if a.json:
        a.json.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
