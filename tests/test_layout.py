"""The package shows the pipeline: stages import only from stages below them, and nothing imports in a circle.

form ← read ← judge ← season ← province ← (web, report, demo, terminal) ← (cli, the public API)
"""
from __future__ import annotations

import ast
from pathlib import Path

import xlperf

PACKAGE = Path(xlperf.__file__).parent
# Rank of each stage; a module may import its own stage or a lower one. errors and _version are the floor.
STAGES = {"errors": 0, "_version": 0, "form": 1, "read": 2, "judge": 3, "season": 4, "province": 5,
          "web": 6, "report": 6, "terminal": 6, "demo": 6, "cli_zh": 7, "cli": 7, "__init__": 8}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every xlperf module this file imports, lazily inside functions too, as dotted names below xlperf."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    if name == "__init__":
        package = []
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("xlperf"):
                target = node.module.removeprefix("xlperf").lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            subs = [f"{target}.{n}".lstrip(".") for n in names if (PACKAGE / Path(*f"{target}.{n}".lstrip(".").split("."))).with_suffix(".py").exists()]
            found.update(subs or [target])
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("xlperf.") for a in node.names if a.name.startswith("xlperf."))
    return {f for f in found if f and f != name}


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def _stage(module: str) -> str:
    return module.split(".")[0]


def test_every_module_belongs_to_a_known_stage():
    assert {_stage(m) for m in _graph()} <= set(STAGES)


def test_no_stage_imports_from_a_higher_stage():
    upward = [f"{m} → {t}" for m, targets in _graph().items() for t in targets
              if STAGES[_stage(t)] > STAGES[_stage(m)]]
    assert upward == []


def test_no_module_imports_one_that_imports_it_back():
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph.get(m, ())):
            if t not in graph:
                continue
            if state.get(t) == 1:
                cycles.append(path[path.index(t):] + [t])
            elif t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []
