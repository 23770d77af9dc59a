"""The layering of docs/architecture.md holds: nothing imports from a layer above it, and no
module takes part in an import cycle, TYPE_CHECKING imports included."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "nbprofile"


def lint_imports(cwd: Path, root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the contracts of pyproject.toml, on the package under ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                           "lint_imports_command()", "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def test_every_contract_is_kept() -> None:
    done = lint_imports(ROOT, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 2 kept, 0 broken." in done.stdout


@pytest.mark.parametrize(("module", "upward"), [
    ("readings.py", "from nbprofile.engine import profiler  # an upward import"),
    ("meters/clock.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                        "    from nbprofile.derive import energy  # a type-only upward import"),
])
def test_an_upward_import_breaks_the_contracts(tmp_path: Path, module: str, upward: str) -> None:
    copy = tmp_path / "nbprofile"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("labextension", "__pycache__", "data"))
    with open(copy / module, "a", encoding="utf-8") as f:
        f.write(f"\n{upward}\n")
    done = lint_imports(tmp_path, tmp_path)
    assert done.returncode != 0 and "BROKEN" in done.stdout, done.stdout + done.stderr


def _cycles(graph: object) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm over grimp's graph)."""
    modules = sorted(graph.modules)  # type: ignore[attr-defined]
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}  # type: ignore[attr-defined]
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, []):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_no_module_is_in_an_import_cycle() -> None:
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("nbprofile", exclude_type_checking_imports=False, cache_dir=None)
    assert _cycles(graph) == []
    graph.add_import(importer="nbprofile.readings", imported="nbprofile.engine.profiler")
    assert any("nbprofile.readings" in group for group in _cycles(graph))  # the check can fail
