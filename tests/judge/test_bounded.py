"""One file checked for a server: a file that makes the reader spin or die costs a worker, never the caller."""
from __future__ import annotations

from pathlib import Path

from helpers import badcheck
from xlperf.form.samples import example_form_data
from xlperf.form.spec import load_form
from xlperf.form.template import TemplateOptions, write_template
from xlperf.judge.batch import BoundedChecker
from xlperf.judge.check import check


def a_return(tmp_path: Path) -> Path:
    spec = load_form("project-county")
    out = tmp_path / "县里的表.xlsx"
    write_template(spec, 2024, out, example_form_data(spec), TemplateOptions(password="pw"))
    return out


def test_the_bounded_checker_gives_what_check_gives(tmp_path):
    path = a_return(tmp_path)
    checker = BoundedChecker(1)
    try:
        got = checker.check(path, display_name="县里的表.xlsx")
    finally:
        checker.close()
    want = check(path, display_name="县里的表.xlsx")
    assert got.findings == want.findings and got.total_score == want.total_score and got.unit == want.unit


def test_a_check_that_spins_is_stopped_at_the_time_limit_and_the_next_file_still_works(tmp_path):
    path = a_return(tmp_path)
    checker = BoundedChecker(1, timeout=1.0)
    real, checker.target = checker.target, badcheck.spins
    try:
        res = checker.check(path, display_name="卡住.xlsx")
        assert not res.readable and res.findings[0].code == "check-timeout" and "秒" in res.findings[0].message
        checker.target = real
        assert checker.check(path).readable
    finally:
        checker.close()


def test_a_reader_that_dies_is_reported_as_that_files_problem(tmp_path):
    path = a_return(tmp_path)
    checker = BoundedChecker(1)
    real, checker.target = checker.target, badcheck.dies
    try:
        res = checker.check(path, display_name="坏文件.xlsx")
        assert not res.readable and res.findings[0].code == "reader-crashed"
        checker.target = real
        assert checker.check(path).readable
    finally:
        checker.close()
