"""A check result as the documented JSON document, and back (the ledger stores it)."""
from __future__ import annotations

import datetime
import math

from .check import CheckResult


def jsonable(v: object) -> object:
    """Any value a returned file can hold, as plain JSON: dates as ISO text, NaN/∞ as null."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, bytes):
        return None
    return str(v)


def result_json(r: CheckResult) -> dict:
    """The documented JSON shape (rates as fractions); extra keys are allowed. Always serializable."""
    return jsonable(_result_json(r))


def _result_json(r: CheckResult) -> dict:
    f = r.funds or {}
    return {
        "path": r.path, "readable": r.readable, "format": r.format, "form": r.form, "year": r.year,
        "project": r.project, "unit": r.unit, "department": r.department, "sheet": r.sheet,
        "located_by": r.located_by,
        "funds": {"budget": f.get("budget"), "spent": f.get("spent"), "rate": f.get("rate"), "score": f.get("score"),
                  "initial_budget": f.get("initial_budget"), "weight": f.get("weight"),
                  "suggested_score": f.get("suggested_score")},
        "indicators": [{"level1": i.level1, "level2": i.level2, "name": i.name, "weight": i.weight,
                        "target": i.target, "actual": i.actual, "score": i.score,
                        "suggested_score": i.suggested_score, "cell": i.cell, "kind": i.kind, "status": i.status,
                        "reason": i.reason} for i in r.indicators],
        "total_score": r.total_score, "total_weight": r.total_weight, "grade": r.grade,
        "printed_total": r.printed_total if not isinstance(r.printed_total, (bytes,)) else None,
        "printed_grade": r.printed_grade,
        "errors": r.errors, "warnings": r.warnings,
        "findings": [{"code": x.code, "severity": x.severity, "cell": x.cell, "sheet": x.sheet, "field": x.field,
                      "message": x.message} for x in r.findings],
    }


def result_from_json(d: dict, findings=None) -> CheckResult:
    """Rebuild a CheckResult from `result_json` output (as stored in the ledger)."""
    from .validate import IndicatorResult
    names = IndicatorResult.__dataclass_fields__
    inds = [IndicatorResult(**{k: v for k, v in i.items() if k in names}) for i in d.get("indicators", [])]
    from .findings import Finding
    fs = findings if findings is not None else [
        Finding(f["code"], f["severity"], f["message"], d.get("path", ""), f.get("sheet", ""), f.get("cell", ""), f.get("field", ""))
        for f in d.get("findings", [])]
    return CheckResult(path=d.get("path", ""), readable=d.get("readable", True), format=d.get("format", ""),
                       form=d.get("form"), year=d.get("year"), sheet=d.get("sheet", ""), located_by=d.get("located_by", ""),
                       project=d.get("project", ""), unit=d.get("unit", ""), department=d.get("department", ""),
                       funds=dict(d.get("funds") or {}), indicators=inds, total_score=d.get("total_score"),
                       total_weight=d.get("total_weight"), grade=d.get("grade"), printed_total=d.get("printed_total"),
                       printed_grade=d.get("printed_grade"), findings=list(fs))
