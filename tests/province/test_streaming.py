"""A national run folds returns as they arrive and keeps none of them in memory.

The summary's long tables live in a temporary SQLite file and are read back when a
writer goes through them; the figures are the same whatever order the returns come in.
"""
from __future__ import annotations

import gc
import math
import os
import weakref

from hypothesis import given, settings
from hypothesis import strategies as st

from xlperf.judge.check import CheckResult
from xlperf.judge.findings import Finding
from xlperf.judge.validate import IndicatorResult
from xlperf.province.aggregate import summarize
from xlperf.province.model import Entry, Expected
from xlperf.province.spill import FSum, Spill, SpilledRows

FORM = "project-county"


def roster(n: int) -> list[Expected]:
    counties = ["430527", "430528", "430102", "430121"]
    return [Expected(i, f"U{i % 7}", f"单位{i % 7}", counties[i % 4], "", f"项目{i}", f"P{i}", "", "", 10.0)
            for i in range(1, n + 1)]


def result(i: int, *, budget: float = 100.0, spent: float = 90.0, errors: int = 0) -> CheckResult:
    ind = [IndicatorResult("产出指标", "数量指标", f"指标{k}", 10.0, "≥95%", "90%", 9.0, 9.0, f"F{12 + k}",
                           row=12 + k, reason="部分工作未按计划完成，下一步加快进度", status="partly")
           for k in range(3)]
    return CheckResult(path=f"{i}.xlsx", form=FORM, year=2024, funds={"budget": budget, "spent": spent,
                                                                      "rate": spent / budget, "score": 18.0},
                       indicators=ind, total_score=88.0, grade="良好",
                       findings=[Finding("score-range", "error", "得分超过分值", f"{i}.xlsx", "表", "F12")] * errors
                       + [Finding("overachieve-note", "warning", "超额完成", f"{i}.xlsx", "表", "F13")])


def test_the_summary_holds_no_return_once_it_is_built():
    alive: list[weakref.ref] = []
    people = roster(60)

    def returns():
        for e in people:
            res = result(e.roster_id, errors=int(e.roster_id % 10 == 0))
            alive.append(weakref.ref(res))
            yield Entry(res, e, f"{e.roster_id}.xlsx", "2025-03-01T09:00:00")

    s = summarize(returns(), iter(people), year=2024, form=FORM, produced_from="test")
    gc.collect()
    assert len(alive) == 60 and not any(r() for r in alive)        # every result was folded and let go
    assert isinstance(s.tables["indicators"].rows, SpilledRows)
    assert s.counts["projects_returned"] == 60 and s.counts["projects_valid"] == 54
    assert len(s.tables["indicators"].rows) == 180 and len(s.tables["findings"].rows) == 60 + 6
    assert s.totals["budget"] == 5400 and s.totals["spent"] == 4860
    assert [r["no"] for r in s.tables["projects"].rows][:3] == [1, 2, 3]
    assert {r["reason"] for r in s.tables["missing"].rows} == {"有错误"}


def test_the_latest_received_return_counts_even_when_it_arrives_first():
    e = roster(1)[0]
    late = Entry(result(2, spent=95.0), e, "v2.xlsx", "2025-03-05T09:00:00")
    early = Entry(result(1, spent=50.0, errors=1), e, "v1.xlsx", "2025-03-01T09:00:00")
    s = summarize([late, early], [e], year=2024, form=FORM, produced_from="test")
    assert [(r["source"], r["status"]) for r in s.tables["projects"].rows] == [("v2.xlsx", "合格"),
                                                                             ("v1.xlsx", "已被新版本替代")]
    assert s.totals["spent"] == 95 and s.counts["findings_error"] == 0 and not s.tables["missing"].rows
    # the same time twice: the one given later wins, as when a clerk re-imports the same folder
    again = Entry(result(3, spent=70.0), e, "v3.xlsx", "2025-03-05T09:00:00")
    s = summarize([late, again], [e], year=2024, form=FORM, produced_from="test")
    assert [r["status"] for r in s.tables["projects"].rows] == ["已被新版本替代", "合格"]
    assert s.totals["spent"] == 70


def test_spilled_rows_read_back_like_a_list():
    spill = Spill()
    for i in range(7):
        spill.add("fnd", (i, "表", f"A{i}", "code", "error", f"问题{i}"))
    spill.finish()
    rows = SpilledRows(spill, "SELECT cell FROM fnd ORDER BY ret", 7, lambda t: {"cell": t[0]})
    plain = [{"cell": f"A{i}"} for i in range(7)]
    assert len(rows) == 7 and rows and rows == plain and list(rows) == list(rows)
    assert rows[0] == plain[0] and rows[-1] == plain[-1] and rows[2:4] == plain[2:4] and rows[5:99] == plain[5:]
    assert rows[::3] == plain[::3] and rows[4:2] == []
    try:
        rows[7]
    except IndexError:
        pass
    else:
        raise AssertionError("rows[7] of 7 rows should raise IndexError")
    empty = SpilledRows(spill, "SELECT cell FROM fnd WHERE 0", 0, lambda t: {"cell": t[0]})
    assert not empty and empty == [] and list(empty) == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=64,
                                               min_value=-1e12, max_value=1e12)), max_size=60))
def test_sums_in_the_spill_are_exact_like_math_fsum(xs):
    agg = FSum()
    for x in xs:
        agg.step(x)
    got = agg.finalize()
    values = [x for x in xs if x is not None]
    assert got is None if not values else got == math.fsum(values)


def test_a_reason_copied_by_sixty_units_is_one_row_that_lists_the_first_fifty():
    from xlperf.province.model import SIMILAR_SHOWN
    people = [Expected(i, f"U{i}", f"单位{i}", "430527", "", f"项目{i}", f"P{i}", "", "", 10.0) for i in range(1, 61)]
    s = summarize((Entry(result(e.roster_id), e, f"{e.roster_id}.xlsx") for e in people), people, year=2024,
                  form=FORM, produced_from="test")
    [row] = s.tables["similar_texts"].rows
    assert (row["units"], row["match"], row["text"]) == (60, "完全相同", "部分工作未按计划完成，下一步加快进度")
    names, places = row["unit_names"].split("、"), row["places"].split("\n")
    assert names[0] == "单位1" and len(names) == SIMILAR_SHOWN and names[-1] == "单位50等 60 个单位"
    assert len(places) == SIMILAR_SHOWN + 1 and places[0] == "1.xlsx · 第12行（指标0）"
    assert places[-1] == "……等 180 处"          # three indicators of each return give the same reason


def test_the_spill_file_is_removed_once_the_summary_is_gone():
    people = roster(3)
    s = summarize((Entry(result(e.roster_id), e, f"{e.roster_id}.xlsx") for e in people), people, year=2024,
                  form=FORM, produced_from="test")
    folder = s.tables["projects"].rows.spill.folder
    assert os.path.exists(os.path.join(folder, "spill.sqlite"))
    del s
    gc.collect()
    assert not os.path.exists(folder)


def test_exports_written_by_a_second_process_are_the_ones_written_here(tmp_path):
    """A big province's CSV and Parquet are written by a forked process while the workbook is written."""
    import pandas as pd

    from xlperf.province.outputs import write_outputs

    people = roster(40)
    s = summarize((Entry(result(e.roster_id, errors=e.roster_id % 9 == 0), e, f"{e.roster_id}.xlsx")
                   for e in people), people, year=2024, form=FORM, produced_from="test")
    write_outputs(s, tmp_path / "a" / "汇总.xlsx", csv_dir=tmp_path / "a" / "csv", parquet_dir=tmp_path / "a" / "pq",
                  parallel=True)
    write_outputs(s, tmp_path / "b" / "汇总.xlsx", csv_dir=tmp_path / "b" / "csv", parquet_dir=tmp_path / "b" / "pq",
                  parallel=False)
    for name in s.tables:
        assert (tmp_path / "a" / "csv" / f"{name}.csv").read_bytes() == (tmp_path / "b" / "csv" / f"{name}.csv").read_bytes()
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "pq" / f"{name}.parquet"),
                                      pd.read_parquet(tmp_path / "b" / "pq" / f"{name}.parquet"))
    assert len(pd.read_csv(tmp_path / "a" / "csv" / "indicators.csv", encoding="utf-8-sig")) == 120
    assert not list((tmp_path / "a" / "csv").glob(".*"))            # no half-written file left behind


def test_when_the_second_process_fails_the_exports_are_written_here(tmp_path, monkeypatch):
    from xlperf.province import outputs

    people = roster(5)
    s = summarize((Entry(result(e.roster_id), e, f"{e.roster_id}.xlsx") for e in people), people, year=2024,
                  form=FORM, produced_from="test")
    monkeypatch.setattr(outputs, "_export", lambda summary, exports: os._exit(1))
    outputs.write_outputs(s, tmp_path / "汇总.xlsx", csv_dir=tmp_path / "csv", parallel=True)
    assert (tmp_path / "csv" / "projects.csv").read_text(encoding="utf-8-sig").count("\n") == 6


def test_a_spill_left_by_a_killed_run_is_swept_a_day_later(tmp_path, monkeypatch):
    import tempfile
    import time

    from xlperf.province import spill

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old, fresh = tmp_path / "xlperf-summary-old", tmp_path / "xlperf-summary-fresh"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "spill.sqlite").write_bytes(b"x")
    two_days = time.time() - 48 * 3600
    os.utime(old / "spill.sqlite", (two_days, two_days))
    os.utime(old, (two_days, two_days))
    (tmp_path / "someone-elses").mkdir()
    spill.Spill()
    assert not old.exists() and fresh.exists() and (tmp_path / "someone-elses").exists()
