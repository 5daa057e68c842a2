"""A county adds its own indicators under the province's locked, pre-filled targets."""
from __future__ import annotations

import json

import pytest

from helpers.libreoffice import run_uno_script
from xlperf import check
from xlperf.form.layout import compute_layout
from xlperf.form.samples import example_form_data
from xlperf.form.spec import load_form
from xlperf.form.template import TemplateOptions, write_template

# Types into the spare row under 数量指标 (args: row of the spare row, 0-based), then inserts a
# row under it and types into that too, all on the protected sheet, as a clerk would.
_ADD_INDICATORS = r'''
import json
src, dst, spare = args[0], args[1], int(args[2])
doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(src), "_blank", 0, (pv("Hidden", True),))
sheet = doc.Sheets.getByIndex(0)
names = doc.NamedRanges
def col(name):
    return names.getByName(name).getReferredCells().getRangeAddress().StartColumn
def value(name):
    return sheet.getCellRangeByName(names.getByName(name).getContent().split("!")[-1].replace("$", "")).getValue()
cols = {k: col("ind_" + k) for k in ("name", "weight", "target", "actual", "score")}
out = {"protected": sheet.isProtected(), "locked": {}}
def type_row(r, values):
    for k, v in values.items():
        c = sheet.getCellByPosition(cols[k], r)
        out["locked"][f"{k}@{r}"] = c.CellProtection.IsLocked
        if isinstance(v, str):
            c.setString(v)
        else:
            c.setValue(v)
out["prefilled_name_locked"] = sheet.getCellByPosition(cols["name"], spare - 1).CellProtection.IsLocked
type_row(spare, {"name": "定点医药机构监督检查覆盖率", "weight": 6, "target": "≥90%", "actual": "92%", "score": 6})
sheet.Rows.insertByIndex(spare + 1, 1)
type_row(spare + 1, {"name": "医保电子凭证激活人数", "weight": 4, "target": "≥5000人", "actual": "4800人", "score": 3.8})
doc.calculateAll()
out["total_weight"] = value("total_weight")
out["total_score"] = value("total_score")
doc.storeToURL(uno.systemPathToFileUrl(dst), (pv("FilterName", "Calc MS Excel 2007 XML"),))
doc.close(True)
print(json.dumps(out))
'''


@pytest.mark.libreoffice
def test_a_county_types_added_indicators_into_the_spare_row_and_an_inserted_row(tmp_path, libreoffice):
    spec = load_form("project-county")
    data = example_form_data(spec, filled=False)
    # The province approved one 数量指标 (10 points); the county adds two more worth 10 together.
    data.indicators = [i for i in data.indicators if i.name != "定点医药机构监督检查覆盖率"]
    form = tmp_path / "绥宁县医疗保障局.xlsx"
    lay = write_template(spec, 2024, form, data, TemplateOptions(
        password="pw", lock=frozenset({"header", "funds", "targets"})))
    quantity = lay.groups[0].children[0]
    assert quantity.name == "数量指标" and lay.rows[quantity.first - lay.ind_first] is not None
    spare = quantity.last
    assert spare > quantity.first and lay.rows[spare - lay.ind_first] is None   # a blank row under the target

    saved = tmp_path / "saved.xlsx"
    out = json.loads(run_uno_script(_ADD_INDICATORS, str(form), str(saved), str(spare)).strip().splitlines()[-1])

    assert out["protected"] and out["prefilled_name_locked"]
    assert not any(out["locked"].values()), out["locked"]       # every typed cell was an input cell
    assert out["total_weight"] == pytest.approx(100)            # the sums follow both added rows
    assert out["total_score"] == pytest.approx(9.8)

    res = check(saved)
    added = {i.name: i for i in res.indicators if i.name in ("定点医药机构监督检查覆盖率", "医保电子凭证激活人数")}
    assert set(added) == {"定点医药机构监督检查覆盖率", "医保电子凭证激活人数"}
    assert all(i.level1 == "产出指标" and i.level2 == "数量指标" for i in added.values())
    assert res.total_weight == pytest.approx(100)
    assert not [f for f in res.findings if f.code in ("weights-sum", "level1-weight")], res.findings


def test_every_level2_keeps_a_blank_row_under_its_approved_targets():
    spec = load_form("project")
    data = example_form_data(spec, filled=False)
    lay = compute_layout(spec, data)
    for g1 in lay.groups:
        for g2 in g1.children:
            last = lay.rows[g2.last - lay.ind_first]
            assert last is None, f"{g2.name} has no spare row"
