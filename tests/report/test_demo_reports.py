"""`xlperf demo` ends with the written reports: the province's analysis and one unit's draft, and says where."""
import re

import pytest
from click.testing import CliRunner

from xlperf.cli import main


@pytest.mark.slow
def test_the_demo_drafts_the_province_report_and_one_unit_report(tmp_path):
    res = CliRunner().invoke(main, ["demo", "-o", str(tmp_path / "demo")], terminal_width=400)
    assert res.exit_code == 0, res.output
    province = re.search(r"汇总分析报告：(\S+\.docx)", res.output)
    unit = re.search(r"自评报告（示例）：(\S+\.docx)", res.output)
    assert province and unit
    reports = tmp_path / "demo" / "reports"
    assert (reports / "2024年度自评汇总分析报告.docx").is_file()
    assert list((reports / "自评报告").glob("*2024年度自评报告.docx"))
