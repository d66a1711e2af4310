"""The package layout keeps its promises: imports run one way, no cycles, small modules with a reason.

docs/architecture.md draws the layers; this test reads every import in ``src/policylab`` (lazy
ones inside functions included) with ``ast`` and names the file, line and import that breaks a
rule. ``test_checker_catches_*`` plant forbidden imports in a copy of the package to prove the
checks can fail.
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 420  # "about 400": a module past this has more than one job

# Which top-level parts of the package each part may import (itself and the root package, which
# holds only __version__, always included).
LOWER = {"snapshot": set(), "safe_html": set(), "course": set(), "data": {"course"}}
LOWER["grading"] = {"course", "data", "snapshot", "safe_html"}
LOWER["reports"] = {"course", "data", "snapshot", "safe_html"}                  # never grading: only the snapshot files
LOWER["pipeline"] = LOWER["grading"] | {"grading", "reports"}
LOWER["demo"] = LOWER["pipeline"] | {"pipeline"}
LOWER["hub"] = LOWER["demo"] | {"demo"}
LOWER["cli"] = LOWER["hub"] | {"hub"}
LOWER["policylab"] = set()
# Code that runs inside a learner's sandboxed kernel (or starts it) imports nothing of ours but each other.
STANDALONE = {"policylab.grading.sandbox.kernel", "policylab.grading.sandbox.confine",
              "policylab.grading.sandbox.monitor", "policylab.grading.sandbox.zygote", "policylab.grading.values"}
# The sandbox is part of grading and must not reach up or sideways.
SANDBOX_FORBIDDEN = {"reports", "hub", "cli", "demo", "pipeline"}


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def part_of(module: str) -> str:
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "policylab"


def read_imports(src: Path) -> dict[str, list[tuple[str, int]]]:
    """module → [(imported policylab module, line)], resolving ``from pkg import submodule``."""
    files = {module_name(p, src): p for p in (src / "policylab").rglob("*.py")}
    out: dict[str, list[tuple[str, int]]] = {}
    for name, path in files.items():
        found = []
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        type_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and _is_type_checking(block.test)
                     for stmt in block.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if id(node) in type_only:  # `if TYPE_CHECKING:` imports never run
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("policylab"):
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    found.append((candidate if candidate in files else node.module, node.lineno))
            elif isinstance(node, ast.Import):
                found += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "policylab"]
        out[name] = found
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def find_violations(src: Path = SRC) -> list[str]:
    imports = read_imports(src)
    problems = []
    for module, targets in sorted(imports.items()):
        where = (src / module.replace(".", "/")).with_suffix(".py")
        if not where.exists():
            where = src / module.replace(".", "/") / "__init__.py"
        for target, line in targets:
            mine, theirs = part_of(module), part_of(target)
            if module in STANDALONE and target not in STANDALONE:
                problems.append(f"{where}:{line}: {module} runs in the sandbox and must import nothing of "
                                f"policylab (but the sandbox's own standard-library modules), but imports {target}")
            elif mine != theirs and theirs != "policylab" and theirs not in LOWER[mine]:
                problems.append(f"{where}:{line}: {module} ({mine}) may not import {target} ({theirs}); "
                                f"{mine} may import only {sorted(LOWER[mine]) or 'nothing of policylab'}")
            elif module.startswith("policylab.grading.sandbox") and theirs in SANDBOX_FORBIDDEN:
                problems.append(f"{where}:{line}: the sandbox ({module}) may not import {target}")
    return problems + find_cycles(imports)


def find_cycles(imports: dict[str, list[tuple[str, int]]]) -> list[str]:
    """Import cycles between modules (Tarjan's strongly connected components)."""
    graph = {m: sorted({t for t, _ in targets if t in imports and t != m}) for m, targets in imports.items()}
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append("import cycle: " + " ↔ ".join(sorted(component)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def test_imports_follow_the_layers_and_have_no_cycles():
    assert find_violations() == []


def test_every_module_is_small_and_says_why_it_exists():
    problems = []
    for path in sorted((SRC / "policylab").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines > MAX_LINES:
            problems.append(f"{path}: {lines} lines (split it by job; the limit is about 400)")
        if not ast.get_docstring(ast.parse(text)):
            problems.append(f"{path}: no module docstring saying what job it has and why")
    assert problems == []


def test_package_init_files_hold_no_logic():
    for path in (SRC / "policylab").rglob("__init__.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        if path.parent == SRC / "policylab":  # the one thing that must run first in each process of ours
            guard = ["import sys", "sys.modules.setdefault('rfc3987_syntax', None)"]
            body = [n for n in body if ast.unparse(n) not in guard]
        allowed = all(isinstance(n, ast.Assign) and [t.id for t in n.targets] == ["__version__"] for n in body)
        assert allowed, f"{path}: keep __init__.py to a docstring (imports there run on every import)"


@pytest.fixture()
def copy_of_package(tmp_path) -> Path:
    shutil.copytree(SRC / "policylab", tmp_path / "policylab", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + f"\n\ndef _planted():\n    {line}\n", encoding="utf-8")


def test_checker_catches_reports_importing_grading(copy_of_package):
    _append(copy_of_package / "policylab/reports/render.py", "from policylab.grading import states")
    problems = find_violations(copy_of_package)
    assert len(problems) == 1
    assert "reports/render.py" in problems[0] and "may not import policylab.grading.states" in problems[0]


def test_checker_catches_the_sandbox_reaching_up_and_a_cycle(copy_of_package):
    _append(copy_of_package / "policylab/grading/sandbox/execute.py", "import policylab.hub.commands")
    _append(copy_of_package / "policylab/grading/autograde.py", "from policylab.grading import workers")
    problems = find_violations(copy_of_package)
    assert any("sandbox/execute.py" in p and "policylab.hub.commands" in p for p in problems), problems
    assert any(p.startswith("import cycle:") and "policylab.grading.autograde" in p
               and "policylab.grading.workers" in p for p in problems), problems


def test_checker_catches_data_importing_grading(copy_of_package):
    _append(copy_of_package / "policylab/data/privacy.py", "from policylab.grading.roster import load_roster")
    problems = find_violations(copy_of_package)
    assert len(problems) == 1 and "data/privacy.py" in problems[0], problems
