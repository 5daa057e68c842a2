"""Parsers kept by their inputs give exactly what a fresh parse gives.

A season repeats the same targets, actuals and scores thousands of times, so
`parse_value`, `parse_amount` and `suggest_score` remember results. Equal
inputs of different types (1, 1.0, True, "1"; 0.0 and -0.0) must never share a
remembered answer.
"""
from __future__ import annotations

from xlperf.form.scoring import ScoringRules, _suggest_score, suggest_score
from xlperf.form.values import (
    _parse_any_amount,
    _parse_any_value,
    parse_amount,
    parse_value,
)

RAWS = ["≥95%", "≥ 95 %", "1", 1, 1.0, True, 0.0, -0.0, "", None, "—", "3,359.62万元", "≤60分钟以内", "12月31日前",
        "效果明显", "1", "≥95%", float("nan")]


def test_remembered_values_and_amounts_equal_fresh_ones_type_for_type():
    for _ in range(2):                          # the second round is served from memory
        for raw in RAWS:
            for pct in (False, True):
                got, fresh = parse_value(raw, percent_format=pct), _parse_any_value(raw, pct)
                assert repr(got) == repr(fresh), raw
            assert repr(parse_amount(raw)) == repr(_parse_any_amount(raw)), raw


def test_remembered_score_suggestions_equal_fresh_ones():
    rules = ScoringRules()
    targets = [parse_value(r) for r in ("≥95%", "≤60分钟", "=100%", "效果明显", "12月31日前")]
    actuals = [parse_value(r) for r in ("96%", "70分钟", "100%", "达成预期指标", "11月30日", "")]
    for _ in range(2):
        for w in (10, 10.0, 0, -0.0, 7.5):
            for t in targets:
                for a in actuals:
                    assert repr(suggest_score(w, t, a, rules)) == repr(_suggest_score(w, t, a, rules))
