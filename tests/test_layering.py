"""The package's layering (README, "Layout") holds: no module imports a higher layer, and
no import cycle among top-level imports.

Layers, lowest first; a module may import its own layer and those below it. Imports
inside ``if TYPE_CHECKING:`` blocks are annotations only and do not count; imports inside
functions do (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("bnlab.errors", "bnlab.lazy", "bnlab.compat")),
    (
        "model",
        (
            "bnlab.network",
            "bnlab.codes",
            "bnlab.dirichlet",
            "bnlab.priors",
            "bnlab.data",
            "bnlab.discretize",
            "bnlab.schema",
            "bnlab.schema_check",
            "bnlab.raw_values",
            "bnlab.display",
        ),
    ),  # fmt: skip
    ("io", ("bnlab.io",)),
    ("posterior and counts", ("bnlab.posterior", "bnlab.sampling", "bnlab.counts")),
    ("engines", ("bnlab.infer", "bnlab.fitting", "bnlab.backends", "bnlab.learn")),
    (
        "analysis",
        ("bnlab.evaluate", "bnlab.explain", "bnlab.monitor", "bnlab.causal", "bnlab.sklearn"),
    ),
    ("report", ("bnlab.report",)),
    ("operations", ("bnlab.ops", "bnlab.mlflow", "bnlab.stages")),
    ("commands", ("bnlab.cli",)),
]


def layer_of(module: str) -> int | None:
    """Index of the layer whose longest prefix matches ``module`` (None: the package root)."""
    best: tuple[int, int] | None = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[1]
            ):
                best = (i, len(prefix))
    return None if best is None else best[0]


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_edges(root: Path) -> list[tuple[str, str, bool]]:
    """``(importer, imported, at top level)`` for every bnlab import in the package."""
    edges = []
    for path in sorted((root / "bnlab").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(n)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)
        }
        top = {id(n) for n in tree.body}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            edges += [
                (module_name(path, root), n, id(node) in top)
                for n in names
                if n == "bnlab" or n.startswith("bnlab.")
            ]
    return edges


def upward_imports(edges: list[tuple[str, str, bool]]) -> list[str]:
    out = []
    for importer, imported, _ in edges:
        a, b = layer_of(importer), layer_of(imported)
        if a is not None and b is not None and b > a:
            out.append(f"{importer} ({LAYERS[a][0]}) imports {imported} ({LAYERS[b][0]})")
    return sorted(set(out))


def cycles(edges: list[tuple[str, str, bool]]) -> list[list[str]]:
    """Strongly connected components (size > 1) of the top-level import graph (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for importer, imported, at_top in edges:
        if at_top and importer != imported and not imported.startswith(importer + "."):
            graph[importer].add(imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer() -> None:
    unplaced = [
        module_name(p)
        for p in (ROOT / "bnlab").rglob("*.py")
        if module_name(p) != "bnlab" and layer_of(module_name(p)) is None
    ]
    assert unplaced == [], f"add these modules to a layer in LAYERS and the README: {unplaced}"


def test_no_module_imports_a_higher_layer() -> None:
    assert upward_imports(import_edges(ROOT)) == []


def test_no_import_cycles() -> None:
    assert cycles(import_edges(ROOT)) == []


def test_the_checks_can_fail(tmp_path: Path) -> None:
    package = tmp_path / "bnlab"
    (package / "io").mkdir(parents=True)
    (package / "ops").mkdir()
    (package / "io" / "__init__.py").write_text("")
    (package / "io" / "reader.py").write_text("from bnlab.ops.glue import x\n")
    (package / "ops" / "__init__.py").write_text("")
    (package / "ops" / "glue.py").write_text("from bnlab.ops.other import y\nx = 1\n")
    (package / "ops" / "other.py").write_text(
        "from typing import TYPE_CHECKING\nfrom bnlab.ops.glue import x\ny = 2\n"
        "if TYPE_CHECKING:\n    from bnlab.cli import z\n"
    )
    edges = import_edges(tmp_path)
    assert upward_imports(edges) == ["bnlab.io.reader (io) imports bnlab.ops.glue (operations)"]
    assert cycles(edges) == [["bnlab.ops.glue", "bnlab.ops.other"]]


@pytest.mark.parametrize(
    ("module", "layer"),
    [("bnlab.counts.sources", "posterior and counts"), ("bnlab.ops.serve", "operations")],
)
def test_layer_lookup_uses_the_longest_prefix(module: str, layer: str) -> None:
    index = layer_of(module)
    assert index is not None and LAYERS[index][0] == layer
