"""The signed identity block of a generated workbook (`_xlperf` sheet).

At generation we store who the workbook is for (unit, project, roster row),
the canonical JSON of every pre-filled value, and an HMAC-SHA256 over both,
keyed by the workspace secret. On return we verify the HMAC (was the block
forged or edited?) and then compare the stored pre-fill with what the sheet
shows now, so a changed approved target is reported at its own cell.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Callable, Iterator

from .findings import ERROR, WARNING, Finding
from ..form.labels import norm
from ..form.model import FormData
from ..read.locate import Located

IDENTITY_KEYS = ("form_id", "year", "unit_code", "unit_name", "project_code", "roster_row")
PREFILL_HEADER = ("project_name", "unit", "department", "project_code")
PREFILL_FUNDS = ("initial_budget", "budget")


def _num(v: object) -> float | None:
    from ..form.values import parse_amount
    x = parse_amount(v).value if v is not None else None
    return None if x is None else round(x, 6)


def prefill_payload(data: FormData) -> dict:
    """The values a county must not change, in a canonical form."""
    return {
        "header": {k: str(data.header[k]).strip() for k in PREFILL_HEADER if data.header.get(k) not in (None, "")},
        "funds": {l.key: {k: _num(l.values.get(k)) for k in PREFILL_FUNDS if _num(l.values.get(k)) is not None}
                  for l in data.funds if any(_num(l.values.get(k)) is not None for k in PREFILL_FUNDS)},
        "goal_planned": data.goal_planned.strip(),
        "targets": [[i.level1, i.level2, i.name.strip(), _num(i.weight), "" if i.target is None else str(i.target).strip()]
                    for i in data.indicators if i.name],
    }


def canonical(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _mac(secret: bytes, identity: dict, prefill_json: str) -> str:
    body = canonical({k: str(identity.get(k, "")) for k in IDENTITY_KEYS}) + "\n" + prefill_json
    return hmac.new(secret, body.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(secret: bytes, identity: dict, data: FormData) -> dict[str, str]:
    """Rows for the `_xlperf` sheet: identity, pre-fill JSON and signature."""
    prefill_json = canonical(prefill_payload(data))
    rows = {k: str(identity.get(k, "")) for k in IDENTITY_KEYS if k not in ("form_id", "year")}
    rows["prefill"] = prefill_json
    rows["signature"] = _mac(secret, identity, prefill_json)
    return rows


def verify_signature(secret: bytes, identity: dict) -> bool:
    sig = identity.get("signature", "")
    return bool(sig) and hmac.compare_digest(sig, _mac(secret, identity, identity.get("prefill", "")))


@dataclass(frozen=True)
class EmailBook:
    """(unit code, project code) → the roster's e-mail address; plain data, so it crosses to a worker."""

    emails: dict

    def __call__(self, unit_code: str, project_code: str) -> str | None:
        return self.emails.get((unit_code, project_code))


@dataclass(frozen=True)
class Verifier:
    """An extra check for `validate`: signature, copied identity, tampered pre-fill, and (for mail) the sender.

    A picklable object rather than a closure, so a judging worker process can receive it.
    """

    secret: bytes
    sender_emails: Callable[[str, str], str | None] | None = None
    received_from: str = ""

    def __call__(self, loc: Located) -> Iterator[Finding]:
        ident = loc.identity
        if not ident or "signature" not in ident:
            return
        if not verify_signature(self.secret, ident):
            yield Finding("signature-invalid", ERROR, "模板标识签名校验失败：标识页被篡改，或不是本工作区下发的模板",
                          sheet=loc.sheet, field="_xlperf")
            return
        try:
            signed = json.loads(ident.get("prefill") or "{}")
        except ValueError:
            return
        mismatch = identity_mismatch(loc, ident, signed)
        if mismatch is not None:
            yield mismatch
        yield from _compare(loc, signed)
        if self.sender_emails and self.received_from:
            expected = self.sender_emails(ident.get("unit_code", ""), ident.get("project_code", ""))
            if expected and expected.lower() not in self.received_from.lower():
                yield Finding("identity-other-unit", WARNING,
                              f"此表是下发给“{ident.get('unit_name', '')}”的，但由 {self.received_from} 发回，请确认是否代报或冒用",
                              sheet=loc.sheet, field="_xlperf")


def verifier(secret: bytes, *, sender_emails: Callable[[str, str], str | None] | None = None,
             received_from: str = "") -> Verifier:
    return Verifier(secret, sender_emails, received_from)


IDENTITY_FIELDS = ("unit", "project_name")     # what says whose form this is, on the visible sheet
IDENTITY_MISMATCH = "identity-mismatch"


def identity_mismatch(loc: Located, ident: dict, signed: dict) -> Finding | None:
    """The identity sheet belongs to another form than the one shown (a copied `_xlperf` sheet).

    The signature covers the pre-fill, so a valid signature whose pre-filled
    unit or project differs from the visible header proves the block was copied
    from another unit's workbook: it must not decide whose return this is.
    """
    shown = prefill_payload(loc.data)["header"]
    was = signed.get("header", {})
    differs = [k for k in IDENTITY_FIELDS if norm(was.get(k, "")) and norm(was.get(k, "")) != norm(shown.get(k, ""))]
    if not differs:
        return None
    labels = _header_labels(loc.form_id)
    what = "、".join(f"{labels.get(k, k)}“{shown.get(k, '') or '（空）'}”" for k in differs)
    return Finding(IDENTITY_MISMATCH, ERROR,
                   f"表中{what}与隐藏标识页所属的“{ident.get('unit_name', '') or was.get('unit', '')}”"
                   f"《{was.get('project_name', '')}》不一致：标识页是从其他单位的自评表复制来的，"
                   "此表不能按标识页认定单位，请使用下发给本单位的自评表填报",
                   sheet=loc.sheet, cell=loc.data.cells.get(differs[0], ""), field="_xlperf")


@dataclass(frozen=True)
class Unverified:
    """Without the workspace key: compare the visible cells with the embedded pre-fill, and say so."""

    def __call__(self, loc: Located) -> Iterator[Finding]:
        ident = loc.identity
        if not ident or "signature" not in ident:
            return
        sig = ident.get("signature", "")
        try:
            signed = json.loads(ident.get("prefill") or "{}")
            if not isinstance(signed, dict):
                raise ValueError
        except ValueError:
            signed = None
        if len(sig) != 64 or any(ch not in "0123456789abcdef" for ch in sig) or signed is None:
            yield Finding("signature-invalid", ERROR, "模板标识页已损坏（签名或预填内容格式不对）：标识页被改动过",
                          sheet=loc.sheet, field="_xlperf")
            return
        yield Finding("signature-unverified", "info",
                      "未在工作区内校验，签名无法验证；已按标识页中的预填内容核对表中的预填单元格"
                      "（在工作区内运行，或加 --workspace 指定工作区，可完整校验签名）", sheet=loc.sheet, field="_xlperf")
        mismatch = identity_mismatch(loc, ident, signed)
        if mismatch is not None:
            yield mismatch
        yield from _compare(loc, signed)


def unverified_checker() -> Unverified:
    return Unverified()


def _compare(loc: Located, signed: dict) -> Iterator[Finding]:
    now = prefill_payload(loc.data)
    data = loc.data

    def changed(cell: str, what: str, was: object, is_: object, fld: str) -> Finding:
        return Finding("target-changed", ERROR, f"{cell + '：' if cell else ''}{what}已被改动（下发值“{_show(was)}”，现为“{_show(is_)}”），"
                       "预填内容不得修改", sheet=loc.sheet, cell=cell, field=fld)

    labels = _header_labels(loc.form_id)
    for key, was in signed.get("header", {}).items():
        is_ = now["header"].get(key, "")
        if norm(was) != norm(is_):
            yield changed(data.cells.get(key, ""), labels.get(key, key), was, is_, key)
    for row, cols in signed.get("funds", {}).items():
        line = data.funds_line(row)
        for col, was in cols.items():
            is_ = now["funds"].get(row, {}).get(col)
            if is_ is None or abs(is_ - was) > 1e-6:
                yield changed(line.cells.get(col, "") if line else "", f"{line.label if line else row}的预算数", was, is_, f"funds_{row}_{col}")
    if norm(signed.get("goal_planned", "")) and norm(signed.get("goal_planned")) != norm(now["goal_planned"]):
        yield changed(data.cells.get("goal_planned", ""), "年度绩效目标", signed["goal_planned"], now["goal_planned"], "goal_planned")
    by_name = {norm(t[2]): (t, line) for t, line in zip(now["targets"], [i for i in data.indicators if i.name])}
    for t in signed.get("targets", []):
        hit = by_name.get(norm(t[2]))
        if hit is None:
            yield Finding("target-changed", ERROR, f"下发的三级指标“{t[2]}”在表中找不到（被删除或改名），预填内容不得修改",
                          sheet=loc.sheet, field="name")
            continue
        cur, line = hit
        if cur[3] != t[3]:
            yield changed(line.cells.get("weight", ""), f"“{t[2]}”的分值", t[3], cur[3], "weight")
        if norm(cur[4]) != norm(t[4]):
            yield changed(line.cells.get("target", ""), f"“{t[2]}”的年度指标值", t[4], cur[4], "target")


def _header_labels(form_id: str) -> dict[str, str]:
    """The form's own header labels (项目名称, 实施单位, …), from its definition."""
    from .check import default_specs
    spec = next((s for s in default_specs() if s.id == form_id), None)
    return {f.key: f.label for f in spec.header_fields()} if spec else {}


def _show(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "" if v is None else str(v)

