"""How fast the summary writers are, and whether their memory stays flat: workbook, CSV, Parquet.

A synthetic `Summary` of N returns is built without reading any file: the small tables come from
`summarize` over 300 made-up check results, and the big tables (项目明细 N rows, 指标明细 ~10 N,
问题清单 ~2 N, 未提交 ~1 % of N) are lazy sequences that make each row when asked, as the spill-backed
tables of aggregation do (`len`, iteration, slicing). Each (size, writer) runs in a fresh process,
which prints the seconds and its peak RSS next to the RSS before writing. No assertions.

    python benchmarks/bench_summary_write.py                      # 10,000 and 100,000 returns
    python benchmarks/bench_summary_write.py -n 10000 --writers workbook
    python benchmarks/bench_summary_write.py --src /tmp/old-xlperf   # another checkout (e.g. `git worktree add`)
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
WRITERS = ("workbook", "csv", "parquet")
TEMPLATE_RETURNS = 300


class LazyRows(Sequence):
    """`n` rows made on demand by `make(i)`; counts full passes (the writers should make one)."""

    def __init__(self, n: int, make) -> None:
        self.n, self.make, self.passes = n, make, 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.make(j) for j in range(*i.indices(self.n))]
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.make(i)

    def __iter__(self):
        self.passes += 1
        return (self.make(i) for i in range(self.n))


def synthetic_summary(n: int):
    """A Summary of `n` returns whose big tables are made lazily from a few hundred real-looking rows."""
    from xlperf.form.spec import load_form
    from xlperf.judge.check import CheckResult
    from xlperf.judge.findings import Finding
    from xlperf.judge.validate import IndicatorResult
    from xlperf.province.aggregate import summarize
    from xlperf.province.model import Entry, Expected

    spec = load_form("project-county")
    counties = [("430527", "绥宁县"), ("430528", "新宁县"), ("430102", "芙蓉区"), ("430121", "长沙县"),
                ("430602", "岳阳楼区"), ("430621", "岳阳县")]
    levels = [("产出指标", "数量指标"), ("产出指标", "质量指标"), ("产出指标", "时效指标"), ("效益指标", "社会效益指标"),
              ("满意度指标", "服务对象满意度指标")]
    roster, entries = [], []
    for i in range(TEMPLATE_RETURNS):
        code, name = counties[i % len(counties)]
        e = Expected(i, f"{code}{i:04d}", f"{name}第{i}医疗保障局", code, name, f"城乡居民医疗保险补助资金{i}",
                     f"{code}24T{i:06d}", f"联系人{i} 0739-1234567", f"u{i}@example.gov.cn", 100.0 + i)
        roster.append(e)
        if i % 50 == 49:
            continue                                     # never returned: 未提交
        inds = [IndicatorResult(level1=l1, level2=l2, name=f"{l2}{k}：参保人数", weight=10, target="≥95%",
                                actual=f"{90 + (i + k) % 10}%", score=8 + (i + k) % 3, suggested_score=9.47,
                                cell=f"H{12 + k}", row=12 + k, status=("met", "partly", "not_met")[(i + k) % 3],
                                reason="" if k % 4 else "部分工作未按计划完成，下一步加快进度\n并加强督导")
                for k, (l1, l2) in enumerate(levels * 2)]
        findings = [Finding("score-range" if k == 0 and i % 7 == 0 else "reason-missing",
                            "error" if k == 0 and i % 7 == 0 else "warning",
                            f"H{12 + k} 得分 {8 + k} 与完成情况不符，请核实偏差原因", f"r{i}.xlsx", "Sheet1", f"H{12 + k}")
                    for k in range(2)]
        res = CheckResult(path=f"r{i}.xlsx", form=spec.id, year=2024,
                          funds={"budget": 100.0 + i, "spent": 90.0 + i * 0.9, "rate": (90.0 + i * 0.9) / (100.0 + i),
                                 "score": 9.5},
                          indicators=inds, findings=findings, total_score=80 + i % 20,
                          grade=("优秀", "良好", "中", "差")[i % 4])
        entries.append(Entry(res, e, f"{code}_{name}_项目{i}_2024自评表.xlsx", f"2025-03-01T09:{i % 60:02d}:00"))
    s = summarize(entries, roster, year=2024, form=spec.id, produced_from="bench_summary_write")
    scale = n / TEMPLATE_RETURNS
    for name in ("projects", "indicators", "findings", "missing"):
        table = s.tables[name]
        templates = list(table.rows)
        total = round(len(templates) * scale)

        def make(i, templates=templates, name=name):
            row = dict(templates[i % len(templates)])
            if name == "projects":
                row["no"] = i + 1
            row["source"] = f"{row.get('source') or ''}#{i}"
            return row
        table.rows = LazyRows(total, make)
    return s


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_one(n: int, writer: str) -> dict:
    from xlperf.province.frames import export_csv, export_parquet
    from xlperf.province.workbook import write_summary
    s = synthetic_summary(n)
    out = Path(tempfile.mkdtemp(prefix="xlperf-bench-write-"))
    before = rss_mib()
    c0, t0 = time.process_time(), time.perf_counter()
    if writer == "workbook":
        paths = [write_summary(s, out / "汇总.xlsx")]
    elif writer == "csv":
        paths = export_csv(s, out / "csv")
    else:
        paths = export_parquet(s, out / "parquet")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    size = sum(p.stat().st_size for p in paths)
    import shutil
    shutil.rmtree(out, ignore_errors=True)
    passes = {k: getattr(s.tables[k].rows, "passes", None) for k in ("projects", "indicators", "findings", "missing")}
    return {"n": n, "writer": writer, "seconds": seconds, "cpu_s": cpu, "rss_before_mib": before,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "mib_written": size / 2**20,
            "rows": {k: len(s.tables[k].rows) for k in passes}, "passes": passes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, nargs="+", default=[10_000, 100_000], help="returns per summary")
    ap.add_argument("--writers", nargs="+", choices=WRITERS, default=list(WRITERS))
    ap.add_argument("--src", help="checkout whose xlperf is measured (default: this one)")
    ap.add_argument("--one", nargs=2, metavar=("N", "WRITER"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(run_one(int(a.one[0]), a.one[1])))
        return
    src = Path(a.src).resolve() if a.src else HERE.parent
    print(f"xlperf from {src}")
    print(f"{'returns':>8} {'writer':>9} {'seconds':>8} {'CPU s':>6} {'MiB before':>10} {'peak MiB':>9} {'MiB out':>8}  passes")
    for n in a.n:
        for w in a.writers:
            env = dict(os.environ, PYTHONPATH=str(src) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            proc = subprocess.run([sys.executable, str(Path(__file__)), "--one", str(n), w],
                                  capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-3000:])
                print(f"{n:>8} {w:>9}   failed")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{n:>8} {w:>9} {r['seconds']:>8.2f} {r.get('cpu_s', 0):>6.2f} {r['rss_before_mib']:>10.0f} {r['peak_mib']:>9.0f} "
                  f"{r['mib_written']:>8.1f}  {r['passes']}", flush=True)


if __name__ == "__main__":
    main()
