"""Label matching for the reader: synonyms are data (templates/labels.yaml)."""
from __future__ import annotations

import functools
import re
import unicodedata

import yaml

from .spec import FormSpec, templates_dir

_BRACKET_TAIL = re.compile(r"[\(（\[【][^\(（\)）\]】]*[\)）\]】]$")
_WEIGHT_IN_LABEL = re.compile(r"[\(（]\s*(\d+(?:\.\d+)?)\s*分?\s*[\)）]")
_INDEX_PREFIX = re.compile(r"^(?:指标\s*\d+\s*[:：.、]|\d+\s*[.、．:：]|[（(]\d+[)）])\s*")


def norm(text: object) -> str:
    """Canonical text for comparison: NFKC, no whitespace, no trailing colon."""
    if text is None:
        return ""
    return _norm(text if isinstance(text, str) else str(text))


@functools.lru_cache(maxsize=65536)
def _norm(text: str) -> str:
    s = unicodedata.normalize("NFKC", text)
    s = "".join(s.split())
    return s.rstrip(":：")


def norm_label(text: object) -> str:
    """`norm` plus trailing brackets removed: 全年预算数(A) → 全年预算数, 产出指标(50分) → 产出指标."""
    return _norm_label(norm(text))


@functools.lru_cache(maxsize=65536)
def _norm_label(s: str) -> str:
    for _ in range(3):
        t = _BRACKET_TAIL.sub("", s).rstrip(":：")
        if t == s:
            break
        s = t
    return s


def weight_in_label(text: object) -> float | None:
    """The weight written inside a 一级 label, e.g. 产出指标(50分) → 50."""
    m = _WEIGHT_IN_LABEL.search(unicodedata.normalize("NFKC", str(text or "")))
    return float(m.group(1)) if m else None


def indicator_key(name: object) -> str:
    """Normalised indicator name for grouping across units: NFKC, no "指标1：" prefix."""
    return _INDEX_PREFIX.sub("", norm(name))


@functools.lru_cache(maxsize=8)
def _synonyms_file(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def synonyms() -> dict:
    return _synonyms_file(str(templates_dir() / "labels.yaml"))


class Vocabulary:
    """All labels for one form: the spec's own plus the shared synonyms, normalised."""

    def __init__(self, spec: FormSpec) -> None:
        syn = synonyms()
        self.spec = spec

        def group(extra: dict[str, list[str]], own: dict[str, str]) -> dict[str, set[str]]:
            out: dict[str, set[str]] = {}
            for key, words in extra.items():
                out.setdefault(key, set()).update(norm_label(w) for w in words)
            for key, word in own.items():
                out.setdefault(key, set()).add(norm_label(word))
            return out

        self.header = group(syn.get("header", {}), {f.key: f.label for f in spec.header_fields()})
        self.funds_columns = group(syn.get("funds_columns", {}), {c.key: c.label for c in spec.funds_columns})
        self.funds_rows = group(syn.get("funds_rows", {}), {r.key: r.label for r in spec.funds_rows})
        self.funds_block = {norm_label(w) for w in syn.get("funds_block", [])} | {norm_label(spec.funds_label)}
        goal = syn.get("goal", {})
        self.goal_planned = {norm_label(w) for w in goal.get("planned", [])} | {norm_label(spec.goal_planned)}
        self.goal_actual = {norm_label(w) for w in goal.get("actual", [])} | {norm_label(spec.goal_actual)}
        ind = {k: v for k, v in syn.get("indicators", {}).items() if k != "block"}
        self.indicators = group(ind, {c.key: c.label for c in spec.indicator_columns})
        self.narratives = group(syn.get("narratives", {}), {})
        self.total = {norm_label(w) for w in syn.get("total", [])} | {norm_label(spec.total_label)}
        self.grade = {norm_label(w) for w in syn.get("grade", [])} | {norm_label(spec.grade_label)}
        self.na_marks = {norm(m) for m in syn.get("na_marks", [])} | {norm(spec.funds_na_mark)}
        self.level1 = {norm_label(l.name): l.name for l in spec.level1}
        # 二级 → 一级 in the frameworks units use (labels.yaml taxonomy), for 二级 this form does not list.
        self.framework_level1: dict[str, str] = {}
        for l1, names in (syn.get("taxonomy") or {}).items():
            for name in names:
                for variant in (norm_label(name), norm_label(name).removesuffix("指标")):
                    self.framework_level1.setdefault(variant, l1)
        # Each 二级 belongs to one 一级 in the form's taxonomy (also without its 指标 suffix).
        self.level1_of_level2: dict[str, str] = {}
        for l1 in spec.level1:
            for name in l1.level2:
                for variant in (norm_label(name), norm_label(name).removesuffix("指标")):
                    self.level1_of_level2.setdefault(variant, l1.name)


@functools.lru_cache(maxsize=32)
def vocabulary(spec: FormSpec) -> Vocabulary:
    """The vocabulary of a form, built once per process (specs are frozen and hashable)."""
    return Vocabulary(spec)


def match(groups: dict[str, set[str]], text: object) -> str | None:
    """The key whose synonyms contain `text` (normalised), if any."""
    n = norm_label(text)
    if not n:
        return None
    for key, words in groups.items():
        if n in words:
            return key
    return None
