"""Explanations copied across units: the same 偏差原因 text, word for word or nearly, in different units' returns.

A reviewer wants to see "this sentence appears in 37 units" before trusting
any one of them. Texts are compared after NFKC and removing spaces and
punctuation; two texts are near duplicates when their sets of character
pairs overlap by at least `SIMILAR` (Jaccard). Short texts ("无", "已完成")
say nothing about copying and are ignored. Only groups spanning at least two
units are reported.
"""
from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Iterable

MIN_CHARS = 10          # normalized characters; shorter texts are not evidence of copying
SIMILAR = 0.8           # Jaccard of character bigrams
COMMON_SHINGLE = 500    # a bigram in more texts than this does not help find candidates


@dataclass
class CopiedText:
    text: str                       # the most frequent wording of the group
    units: list[str]                # distinct units, first seen first
    count: int                      # occurrences (indicator rows)
    variants: int = 1               # distinct wordings in the group
    examples: list[str] = field(default_factory=list)


def normalize(text: str) -> str:
    s = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in s if not (ch.isspace() or unicodedata.category(ch)[0] in "PSZ"))


def _shingles(s: str) -> frozenset[str]:
    return frozenset(s[i:i + 2] for i in range(len(s) - 1)) or frozenset([s])


def copied_texts(rows: Iterable[tuple[str, str]], *, limit: int = 10) -> list[CopiedText]:
    """Groups of near-identical texts from (unit, text) pairs, most units first."""
    by_norm: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for unit, text in rows:
        n = normalize(text)
        if len(n) >= MIN_CHARS:
            by_norm[n].append((unit, text.strip()))
    keys = sorted(by_norm)
    sh = [_shingles(k) for k in keys]
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    index: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sh):
        for g in s:
            index[g].append(i)
    for i, s in enumerate(sh):
        overlap: Counter = Counter()
        for g in s:
            posting = index[g]
            if len(posting) <= COMMON_SHINGLE:
                overlap.update(j for j in posting if j > i)
        for j, common in overlap.items():
            if common / (len(s) + len(sh[j]) - common) >= SIMILAR:
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(keys)):
        groups[find(i)].append(i)
    out = []
    for members in groups.values():
        seen = [pair for i in members for pair in by_norm[keys[i]]]
        units = list(dict.fromkeys(u for u, _ in seen))
        if len(units) < 2:
            continue
        wording = Counter(t for _, t in seen).most_common(1)[0][0]
        out.append(CopiedText(wording, units, len(seen), len(members), units[:3]))
    out.sort(key=lambda c: (-len(c.units), -c.count, c.text))
    return out[:limit]
