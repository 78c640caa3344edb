"""The house has no circles: the import graph of our packages, read from the source with ``ast``,
is acyclic and follows the layers of docs/api.md ("Layers").

Every import statement counts: at module level, inside a function (a deferred import), under
``if TYPE_CHECKING:``. An import names the module it loads: ``from .a import b`` is an edge to the
module ``a.b`` when ``b`` is a submodule, else to ``a``. A module's own parent packages are not
edges (Python imports them before any module, whatever it says).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("reference", "gpu", "proofs_check")
TOP_MODULES = ("excessmtl_oracle_pytest",)

# Lowest first. A module belongs to the first layer with a pattern matching its full name; it
# may import modules of its own layer (the graph stays acyclic) or of a lower one, never higher.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reference", (r"reference(\..*)?",)),
    ("gpu", (r"gpu(\..*)?",)),
    ("foundations", (r"proofs_check\.(inputs|limits|pool|theta0|stepsize|cli_policy|decide)",
                     r"proofs_check\.report",
                     r"proofs_check\.report\.(atomic|resultdir|scope|result|table|figstyle|figures"
                     r"|html|markdown)")),
    ("config", (r"proofs_check\.config",)),
    ("claims", (r"proofs_check\.claims(\..*)?",)),
    ("suite", (r"proofs_check\.report\.(plots|figure_worker|suite)",)),
    ("tools", (r"proofs_check\.conformance(\..*)?", r"proofs_check\.sweep(\..*)?",
               r"proofs_check\.testing")),
    ("verify", (r"proofs_check\.(verify|compare)",)),
    ("plotting", (r"proofs_check\.plotting",)),
    ("entry", (r"proofs_check", r"proofs_check\.(cli|__main__)", r"excessmtl_oracle_pytest")),
)


def modules() -> dict[str, tuple[Path, bool]]:
    """Module name → (file, is a package's __init__)."""
    out: dict[str, tuple[Path, bool]] = {}
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            out[".".join(parts[:-1] if is_pkg else parts)] = (f, is_pkg)
    for name in TOP_MODULES:
        out[name] = (ROOT / f"{name}.py", False)
    return out


def _ours(name: str, mods: dict) -> str | None:
    """The deepest of our modules that ``name`` is, or is inside."""
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, is_pkg: bool, mods: dict) -> dict[str, int]:
    """Our modules that ``name`` imports anywhere in its file → the first line that does."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in mods else module
                       for a in node.names]
        for t in targets:
            ours = _ours(t, mods)
            if ours and ours != name and not name.startswith(ours + "."):
                found.setdefault(ours, node.lineno)
    return found


def graph() -> dict[str, dict[str, int]]:
    mods = modules()
    return {name: imports_of(name, path, is_pkg, mods) for name, (path, is_pkg) in mods.items()}


def find_cycle(g: dict[str, dict[str, int]]) -> list[str] | None:
    """One cycle [a, b, ..., a] of the graph, or None (depth-first search, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        stack.append(v)
        for w in sorted(g[v]):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state:
                cycle = visit(w)
                if cycle:
                    return cycle
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(g):
        if v not in state:
            cycle = visit(v)
            if cycle:
                return cycle
    return None


def layer_of(name: str) -> int | None:
    for k, (_, patterns) in enumerate(LAYERS):
        if any(re.fullmatch(p, name) for p in patterns):
            return k
    return None


def _describe(cycle: list[str], g: dict[str, dict[str, int]]) -> str:
    mods = modules()
    steps = [f"{a} ({mods[a][0].relative_to(ROOT)}:{g[a][b]}) imports {b}"
             for a, b in zip(cycle, cycle[1:])]
    return " -> ".join(cycle) + "\n  " + "\n  ".join(steps)


def test_find_cycle_reports_a_circle():
    g = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert find_cycle(g) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}}) is None


def test_the_graph_sees_deferred_and_relative_imports():
    g = graph()
    assert "proofs_check.report.suite" in g["proofs_check.verify"]       # inside Report.save
    assert "proofs_check.claims.rate_grid" in g["proofs_check.claims.rate"]
    assert "reference.problems" in g["reference.absolute"]               # inside a function
    assert len(g) > 60


def test_no_import_cycles():
    g = graph()
    cycle = find_cycle(g)
    assert cycle is None, "import cycle: " + _describe(cycle, g)


def test_every_module_has_a_layer_and_imports_only_downwards():
    g = graph()
    unplaced = sorted(m for m in g if layer_of(m) is None)
    assert not unplaced, f"modules outside every layer (add them to LAYERS and docs/api.md): " \
                         f"{unplaced}"
    mods = modules()
    upward = [f"{a} ({LAYERS[layer_of(a)][0]}, {mods[a][0].relative_to(ROOT)}:{line}) imports "
              f"{b} ({LAYERS[layer_of(b)][0]})"
              for a, targets in sorted(g.items()) for b, line in sorted(targets.items())
              if layer_of(b) > layer_of(a)]
    assert not upward, "imports from a higher layer:\n  " + "\n  ".join(upward)


def test_the_layers_are_the_ones_docs_api_states():
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"^\d+\. \*\*(\w+)\*\*", section, flags=re.M)
    assert named == [name for name, _ in LAYERS]
