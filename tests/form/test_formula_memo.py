"""Generation remembers XlsxWriter's prepared formulas; the workbooks stay byte for byte the same."""
from __future__ import annotations

import io

import pytest
from xlsxwriter.worksheet import Worksheet

from xlperf.form import template
from xlperf.form.samples import example_form_data
from xlperf.form.spec import available_forms, load_form


def _bytes(spec) -> bytes:
    out = io.BytesIO()
    template.write_template(spec, 2024, out, example_form_data(spec),
                            template.TemplateOptions(password="pw", generated_at="2025-01-01T00:00:00"))
    return out.getvalue()


@pytest.mark.parametrize("form_id", available_forms())
def test_remembered_formulas_give_the_same_workbook_as_xlsxwriter_alone(form_id, monkeypatch):
    spec = load_form(form_id)
    first, again = _bytes(spec), _bytes(spec)          # the second one is written from the memo
    monkeypatch.setattr(template.FormWorksheet, "_prepare_formula", Worksheet._prepare_formula)
    assert first == again == _bytes(spec)
