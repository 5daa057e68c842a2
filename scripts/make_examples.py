"""Regenerate example_workbooks/: a blank template and a filled example per form variant.

Run: python scripts/make_examples.py  (the files are generated, never edited by hand)
"""
from __future__ import annotations

import sys
from pathlib import Path

from xlperf.form.samples import example_form_data
from xlperf.form.spec import available_forms, load_form
from xlperf.form.template import TemplateOptions, write_template

YEAR = 2024
PASSWORD = "xlperf-example"   # example files only; real runs use the workspace's secret password


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    opts = TemplateOptions(password=PASSWORD, generated_at="2025-01-15T00:00:00+00:00")
    for form_id in available_forms():
        spec = load_form(form_id)
        write_template(spec, YEAR, outdir / f"{form_id}-{YEAR}-空白模板.xlsx", options=opts)
        write_template(spec, YEAR, outdir / f"{form_id}-{YEAR}-填写示例.xlsx", example_form_data(spec), opts)
        print(f"{form_id}: 空白模板 + 填写示例")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "example_workbooks")
