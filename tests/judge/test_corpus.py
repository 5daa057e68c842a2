"""Real published self-evaluation forms, typed as the units laid them out, judged as an expert would.

Each fixture in tests/corpus/ carries its source address and the judgement written before the
code was run: the figures a careful reader takes off the form, the real indicator rows, what a
reviewer must flag and what must not be flagged. A reviewer who sees one false error stops
trusting every finding, so every error xlperf raises on a corpus form must be one the fixture
expects, and every warning must be expected too.

Two kinds of fixtures are read with care:
* truncated: the published page stops before the end of the form (or starts after its top).
  Findings that need the whole form (weights adding up, a missing 满意度 block) and findings on
  the row the page cut are not judged there;
* fragments: a page holding only the top or only the bottom of a form, never a file a unit could
  return. xlperf must answer them cleanly (not a form), nothing more.
"""
from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import pytest

from xlperf.judge.check import check

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
sys.path.insert(0, str(CORPUS))
import build  # noqa: E402  (the corpus' own builder, next to the fixtures)

# Codes whose verdict depends on rows a truncated page does not show.
WHOLE_FORM = {"weight-sum-total", "weight-sum-l1", "weight-policy", "satisfaction-missing", "unscored", "total-mismatch"}
# Codes located at the form as a whole: the cell a finding names may differ from the fixture's choice.
ANYWHERE = {"unscored", "satisfaction-missing", "weight-sum-total"}
# Head-only or tail-only pages: no return could look like this.
FRAGMENTS = {"daying_ybj_tail_2023", "daying_ybj_jianguan_2023"}
BAND = {"优": 90, "优秀": 90, "良": 80, "良好": 80, "中": 60, "较差": 60, "差": 0}


def _canon(text: object) -> str:
    s = unicodedata.normalize("NFKC", str(text or ""))
    for a, b in (("≧", "≥"), ("≦", "≤"), ("═", "="), (">=", "≥"), ("<=", "≤"), (" ", "")):
        s = s.replace(a, b)
    return s


def _fixtures() -> list:
    return [pytest.param(p, id=p.stem) for p in build.fixtures()]


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """Each corpus form built and checked once for all the assertions about it."""
    out = tmp_path_factory.mktemp("corpus")
    cache: dict[str, tuple[dict, object]] = {}

    def get(path: Path):
        if path.stem not in cache:
            cache[path.stem] = (build.load(path), check(build.build(path, out)))
        return cache[path.stem]
    return get


def _judgeable(fx: dict, result) -> list:
    """Findings the fixture can speak for (see the module docstring on truncated pages)."""
    expect = fx["expect"]
    findings = [f for f in result.findings if f.severity != "info"]
    if not expect.get("truncated"):
        return findings
    known = {_canon(x["name"]) for x in expect.get("indicator_rows", [])}
    cut_rows = {str(i.row) for i in result.indicators if _canon(i.name) not in known}
    return [f for f in findings if f.code not in WHOLE_FORM
            and f.cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ") not in cut_rows]


def _matches(finding, flag: dict) -> bool:
    if finding.code != flag["code"]:
        return False
    return finding.code in ANYWHERE or not flag.get("cell") or not finding.cell or finding.cell == flag["cell"]


@pytest.mark.parametrize("path", _fixtures())
def test_corpus_form__every_expected_flag_is_raised(path, judged):
    fx, r = judged(path)
    if path.stem in FRAGMENTS:
        assert [f.code for f in r.findings] == ["not-a-form"]
        return
    missing = [f"{x['code']} {x.get('cell', '')}: {x.get('why', '')}" for x in fx["expect"].get("flags", [])
               if not any(_matches(f, x) for f in r.findings)]
    assert missing == []


@pytest.mark.parametrize("path", _fixtures())
def test_corpus_form__raises_no_false_alarm(path, judged):
    fx, r = judged(path)
    if path.stem in FRAGMENTS:
        return
    flags = fx["expect"].get("flags", [])
    unexpected = [f"{f.severity} {f.code} {f.cell}: {f.message}" for f in _judgeable(fx, r)
                  if not any(_matches(f, x) for x in flags)]
    assert unexpected == []


@pytest.mark.parametrize("path", _fixtures())
def test_corpus_form__figures_and_indicator_rows_are_read_as_a_person_reads_them(path, judged):
    fx, r = judged(path)
    if path.stem in FRAGMENTS:
        return
    expect, fig = fx["expect"], fx["expect"].get("figures", {})
    codes = {x["code"] for x in expect.get("flags", [])}
    in_yuan = "money-in-yuan" in {f.code for f in r.findings}
    scale = 1e4 if in_yuan else 1.0
    if "funds-total-mismatch" not in codes:      # a total row left at 0 is replaced by the sum of its sources
        for key in ("budget", "spent"):
            if fig.get(key) is not None:
                assert r.funds[key] * scale == pytest.approx(fig[key]), key
    if fig.get("rate") is not None:
        assert r.funds["rate"] == pytest.approx(fig["rate"], abs=5e-5)
    assert r.funds.get("score") == (None if fig.get("funds_score") is None else pytest.approx(fig["funds_score"]))
    if not expect.get("truncated"):
        total = fig.get("computed_total")
        assert r.total_score == (None if total is None else pytest.approx(total))
        assert BAND.get(r.grade) == BAND.get(fig.get("grade"))
    rows = expect.get("indicator_rows", [])
    got = [i for i in r.indicators if not expect.get("truncated") or _canon(i.name) in {_canon(x["name"]) for x in rows}]
    assert [_canon(i.name) for i in got] == [_canon(x["name"]) for x in rows]
    assert len(got) == expect["indicators"]
    for ind, want in zip(got, rows):
        assert _canon(ind.target) == _canon(want.get("target")), ind.name
        if want.get("score") is not None:
            assert ind.score == pytest.approx(float(want["score"])), ind.name
        if want.get("weight") is not None:
            assert ind.weight == pytest.approx(float(want["weight"])), ind.name


def test_the_corpus_spans_provinces_years_and_layouts():
    forms = [build.load(p) for p in build.fixtures()]
    assert len(forms) >= 16
    assert len({f["province"] for f in forms}) >= 6
    assert len({f["year"] for f in forms}) >= 4
    assert all(str(f.get("source", "")).startswith("http") for f in forms)
