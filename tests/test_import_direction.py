"""Data flows one way, and so do imports: a package imports only from the layers below it.

The order is the pipeline's: shop → datasets → graph → encoders → evaluation → gnn → profiles →
store → pipeline → report → cli (evaluation's metrics and baselines sit below the model, which is
trained and selected with them). Imports inside functions count too.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
#: Lowest first; the root modules (errors, lazy_exports) are below every layer.
LAYERS = ("shop", "datasets", "graph", "encoders", "evaluation", "gnn", "profiles", "store", "pipeline", "report",
          "cli")


def _imported_layers(path: Path) -> list[tuple[int, str]]:
    """(line, subpackage) for every `personagraph.<subpackage>` the module imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "personagraph" and len(parts) > 1 and parts[1] in LAYERS:
                found.append((node.lineno, parts[1]))
    return found


def _modules() -> list[Path]:
    return sorted(path for layer in LAYERS for path in (PACKAGE_ROOT / layer).glob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_imports_point_down(path: Path):
    own = LAYERS.index(path.parent.name)
    upward = [f"{path.parent.name}/{path.name}:{line} imports personagraph.{layer}"
              for line, layer in _imported_layers(path) if LAYERS.index(layer) > own]
    assert not upward, "imports against the data flow:\n" + "\n".join(upward)


def test_every_subpackage_has_a_layer():
    folders = {p.parent.name for p in PACKAGE_ROOT.glob("*/__init__.py")} - {"tests", "benchmarks", "data", "docs"}
    assert folders == set(LAYERS)


def test_the_rule_can_fail(tmp_path: Path):
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from personagraph.cli.main import cli\n", encoding="utf-8")
    assert _imported_layers(module) == [(2, "cli")]
