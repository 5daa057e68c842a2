"""A checking pool started before the roster is loaded judges a batch exactly as a pool started on demand."""
from __future__ import annotations

from xlperf.form.samples import example_form_data
from xlperf.form.spec import load_form
from xlperf.form.template import TemplateOptions, write_template
from xlperf.judge.batch import check_files, start_pool


def test_an_early_pool_gives_the_same_results_in_order_and_stays_open_for_the_next_batch(tmp_path):
    spec = load_form("project-county")
    files = []
    for i in range(40):
        data = example_form_data(spec, unit=f"第{i}县医疗保障局")
        if i % 9 == 4:
            data.indicators[0].score = float(data.indicators[0].weight) + 3     # score-range
        path = tmp_path / f"{i:02d}.xlsx"
        write_template(spec, 2024, path, data, TemplateOptions(password="pw"))
        files.append(path)
    (tmp_path / "坏文件.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    files.insert(7, tmp_path / "坏文件.xlsx")

    here = [(r.path, r.readable, r.errors) for r in check_files(files, jobs=1, progress=False)]
    pool = start_pool(2)
    try:
        first = [(r.path, r.readable, r.errors) for r in check_files(files, jobs=2, progress=False, chunk=4, pool=pool)]
        second = [(r.path, r.readable, r.errors) for r in check_files(files, jobs=2, progress=False, chunk=4, pool=pool)]
    finally:
        pool.shutdown()
    assert first == here and second == here
    assert sum(1 for _, ok, errors in here if ok and errors) == 4 and not here[7][1]
