"""xlperf — 预算绩效自评表的生成、收集、校验与汇总.

The Python API mirrors the command line::

    import xlperf
    result = xlperf.check("returns/绥宁县.xlsx")     # CheckResult: findings, scores, funds
    located = xlperf.read("returns/绥宁县.xlsx")      # the form's content, not validated
    df = xlperf.frame(["returns/"], table="projects") # 项目明细 as a pandas DataFrame
"""
from __future__ import annotations

from ._version import __version__  # noqa: E402

from .judge.check import check, read  # noqa: E402  (the functions, deliberately shadowing the submodule name)
from .form.spec import load_form  # noqa: E402
from .form.template import write_template  # noqa: E402


def frame(paths_or_results, table: str = "projects", **kwargs):
    """项目明细 ("projects") or 指标明细 ("indicators") as a DataFrame (imports pandas lazily)."""
    from .province.frames import frame as _frame
    return _frame(paths_or_results, table, **kwargs)


__all__ = ["check", "read", "frame", "load_form", "write_template", "__version__"]
