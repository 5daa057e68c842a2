"""Validation results as data.

A finding is what a county clerk must act on: a stable English `code`, a
severity, a location and a Chinese message. Findings cross process boundaries
(they pickle) and flatten to rows for the 问题清单 sheet and JSON output.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ERROR, WARNING, INFO)
SEVERITY_ZH = {ERROR: "错误", WARNING: "警告", INFO: "提示"}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    message: str
    file: str = ""
    sheet: str = ""
    cell: str = ""
    field: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def has_errors(findings) -> bool:
    return any(f.severity == ERROR for f in findings)


def count(findings, severity: str) -> int:
    return sum(1 for f in findings if f.severity == severity)
