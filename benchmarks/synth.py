"""A synthetic province of returned self-evaluation forms, for benchmarks.

16 cities (湖南's 14 real ones plus 2 made-up), 130 counties, several units
per county and several projects per unit; N returned workbooks written from
our own template, filled the way counties really fill them:
* percents typed as text ("96.2%", "96.2％", "96.2 %"), full-width comparators
  ("≧95％", "不低于90％", "95%以上");
* some forms with an extra indicator row (what an inserted row looks like
  once the form is regenerated);
* about 3 % with errors: a score above its weight, or a lower score without
  the required reason;
* a handful re-saved by LibreOffice in ONE soffice batch call.

It also writes `manifest.jsonl`: one roster row per line (the `Expected`
fields, plus the file name when a return exists), with ~1 % of the roster
never returned, so the summary's 未提交 sheet is not empty.

    python benchmarks/synth.py OUTDIR -n 1000 [--jobs 2] [--resave 5] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from xlperf.season import regions  # noqa: E402
from xlperf.form.model import IndicatorLine  # noqa: E402
from xlperf.form.samples import example_form_data  # noqa: E402
from xlperf.form.spec import load_form  # noqa: E402
from xlperf.form.template import TemplateOptions, write_template  # noqa: E402

FORM = "project-county"
YEAR = 2024
UNIT_KINDS = ("医疗保障局", "医疗保障事务中心", "医疗保险服务中心", "医疗救助服务站")
PROJECTS = ("城乡居民医疗保险补助资金", "医疗救助补助资金", "医疗服务与保障能力提升补助资金", "医保信息化建设经费",
            "医保基金监管专项经费", "城乡居民监管工作经费", "异地就医直接结算工作经费", "医保经办能力建设资金")
MISSING_SHARE = 0.01
ERROR_SHARE = 0.03
EXTRA_ROW_SHARE = 0.10

_PCT_STYLES = ("{:g}%", "{:g}％", "{:g} %", "{:g}%")
_GE_STYLES = ("≥{}", "≧{}", "不低于{}", "{}以上", ">={}")


def counties() -> list[tuple[str, str, str, str]]:
    """(city code, city name, county code, county name): 130 counties in 16 cities."""
    out = []
    for city, cname in regions.HUNAN_CITIES.items():
        for code, name in regions.HUNAN_COUNTIES[city].items():
            out.append((city, cname, code, name))
    for k, city in enumerate(("431400", "431500"), 1):
        cname = f"示例市{k}"
        for j in range(4):
            out.append((city, cname, f"{city[:4]}{71 + j:02d}", f"示例{k}县{j + 1}"))
    return out


def roster(n_returns: int, seed: int = 0) -> list[dict]:
    """Roster rows for n returns plus ~1 % that never come back; deterministic."""
    return list(iter_roster(n_returns, seed))


def iter_roster(n_returns: int, seed: int = 0):
    """The same rows as `roster`, one at a time (a national roster need not sit in the caller's memory)."""
    rng = random.Random(seed)
    places = counties()
    total = n_returns + max(1, round(n_returns * MISSING_SHARE))
    missing = set(rng.sample(range(total), total - n_returns))
    for i in range(total):
        city, cname, county, name = places[i % len(places)]
        k = i // len(places)                      # k-th project of this county
        unit_no, project_no = divmod(k, len(PROJECTS) // 2)
        unit = f"{name}{UNIT_KINDS[unit_no % len(UNIT_KINDS)]}" + (f"{unit_no // len(UNIT_KINDS) + 1}" if unit_no >= len(UNIT_KINDS) else "")
        project = PROJECTS[(project_no + unit_no) % len(PROJECTS)]
        unit_code = f"{county}{unit_no + 1:03d}"
        yield {
            "roster_id": i + 1, "unit_code": unit_code, "unit_name": unit, "region_code": county, "region_name": name,
            "project_name": project, "project_code": f"{county}24T{i + 1:06d}",
            "contact": f"联系人{i + 1} 0739-{2000000 + i}", "email": f"u{unit_code}@example.gov.cn",
            "budget": round(rng.uniform(5, 800), 2),
            "file": None if i in missing else f"{county}_{unit_code}_{i + 1:06d}.xlsx",
            "received_at": f"2025-03-{1 + i % 28:02d}T{8 + i % 10:02d}:{i % 60:02d}:00",
        }


_SPEC = None


def _spec():
    global _SPEC
    if _SPEC is None:
        _SPEC = load_form(FORM)
    return _SPEC


def _pct_text(rng: random.Random, x: float) -> str:
    return rng.choice(_PCT_STYLES).format(round(x, 2))


def form_data(row: dict, seed: int):
    """The filled form of one roster row, with the usual messiness."""
    rng = random.Random(seed * 1_000_003 + row["roster_id"])
    spec = _spec()
    data = example_form_data(spec, unit=row["unit_name"], project=row["project_name"])
    data.header["department"] = row["unit_name"].rsplit("医疗", 1)[0] + "医疗保障局"
    data.header["project_code"] = row["project_code"]
    budget = row["budget"]
    rate = min(1.0, max(0.3, rng.gauss(0.93, 0.1)))
    data.funds[0].values.update(budget=budget, spent=round(budget * rate, 2))
    if rate < 0.9:
        data.goal_actual += "部分资金因项目进度原因结转下年支付。"
    share = min(1.0, max(0.2, rng.gauss(0.85, 0.15)))
    for line in data.indicators:
        t = str(line.target)
        if t.startswith("≥") and rng.random() < 0.5:
            num = t[1:]
            if num.endswith("%") and rng.random() < 0.5:
                num = _pct_text(rng, float(num[:-1]))
            line.target = rng.choice(_GE_STYLES).format(num)
        a = str(line.actual or "")
        if a.endswith("%") and rng.random() < 0.5:
            line.actual = _pct_text(rng, float(a[:-1]))
        w = float(line.weight)
        if rng.random() > share:
            line.score = round(float(line.score) * rng.uniform(0.3, 0.95), 2)
        line.reason = "" if float(line.score) >= w else "受政策调整影响部分工作未按计划完成，下一步加快推进"
    if rng.random() < EXTRA_ROW_SHARE:      # an inserted 数量指标 row: split the first weight in two
        first = data.indicators[0]
        half = float(first.weight) / 2
        first.weight = first.score = half
        data.indicators.insert(1, IndicatorLine(level1=first.level1, level2=first.level2, name="异地就医备案人次",
                                                target="≧1000人次", actual=f"{rng.randint(1000, 1150)}人次",
                                                weight=half, score=half))
    if rng.random() < ERROR_SHARE:
        victim = rng.choice([i for i in data.indicators if i.weight])
        if rng.random() < 0.5:
            victim.score = float(victim.weight) + rng.choice((1, 2, 5))        # score-range
        else:
            victim.score = round(float(victim.weight) * 0.5, 2)                # reason-required
            victim.actual = _pct_text(rng, 50.0)
            victim.reason = ""
    return data


def _write_chunk(args: tuple[list[dict], str, int]) -> int:
    rows, outdir, seed = args
    opts = TemplateOptions(password="bench", generated_at="2025-01-01T00:00:00+00:00")
    for row in rows:
        write_template(_spec(), YEAR, Path(outdir) / row["file"], form_data(row, seed), opts)
    return len(rows)


def resave_with_libreoffice(files: list[Path], timeout: int = 600) -> float:
    """Re-save files through LibreOffice in one soffice call, replacing them; returns seconds."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if not exe or not files:
        return 0.0
    prof = Path(tempfile.mkdtemp(prefix="xlperf-synth-lo-"))
    out = Path(tempfile.mkdtemp(prefix="xlperf-synth-out-"))
    t0 = time.perf_counter()
    try:
        subprocess.run([exe, f"-env:UserInstallation=file://{prof}", "--headless", "--norestore",
                        "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), *map(str, files)],
                       capture_output=True, timeout=timeout, env=dict(os.environ, HOME=str(prof)))
        for f in files:
            saved = out / f.name
            if saved.exists():
                shutil.move(str(saved), f)
    finally:
        shutil.rmtree(prof, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
    return time.perf_counter() - t0


def generate(outdir: Path, n: int, *, jobs: int | None = None, resave: int = 5, seed: int = 0,
             quiet: bool = False) -> list[dict]:
    """Write n returns and manifest.jsonl into outdir (reused when already complete)."""
    outdir.mkdir(parents=True, exist_ok=True)
    manifest = outdir / "manifest.jsonl"
    if manifest.exists():
        rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]
        if sum(1 for r in rows if r["file"]) == n and all((outdir / r["file"]).exists() for r in rows if r["file"]):
            return rows
    rows = roster(n, seed)
    todo = [r for r in rows if r["file"]]
    t0 = time.perf_counter()
    jobs = jobs or os.cpu_count() or 1
    chunks = [(todo[i:i + 50], str(outdir), seed) for i in range(0, len(todo), 50)]
    if n < 500:
        jobs = 1
    if jobs == 1:
        for c in chunks:
            _write_chunk(c)
    else:
        with Pool(jobs) as pool:
            for _ in pool.imap_unordered(_write_chunk, chunks):
                pass
    gen = time.perf_counter() - t0
    picks = random.Random(seed).sample(todo, min(resave, len(todo)))
    lo = resave_with_libreoffice([outdir / r["file"] for r in picks])
    for r in picks:
        r["resaved"] = True
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    if not quiet:
        print(f"generated {len(todo)} returns in {gen:.1f} s ({len(todo) / gen:.0f}/s, {jobs} processes); "
              f"{len(picks)} re-saved by LibreOffice in one call: {lo:.1f} s; roster {len(rows)} rows")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--resave", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    generate(a.outdir, a.n, jobs=a.jobs, resave=a.resave, seed=a.seed)


if __name__ == "__main__":
    main()
