"""Every name a subpackage re-exports resolves, and the layout installs under `personagraph` only."""
from __future__ import annotations

import importlib
import importlib.util
import sysconfig
from pathlib import Path

import pytest

SUBPACKAGES = [f"personagraph.{name}" for name in (
    "shop", "datasets", "graph", "encoders", "evaluation", "gnn", "profiles", "store", "pipeline", "report")]


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_every_export_resolves(package):
    module = importlib.import_module(package)
    assert module.__all__, f"{package} exports nothing"
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"


def test_unknown_name_is_an_attribute_error():
    graph = importlib.import_module("personagraph.graph")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        graph.nope  # noqa: B018


def test_folders_are_subpackages_of_personagraph():
    assert importlib.util.find_spec("personagraph.cli.main") is not None
    site_packages = Path(sysconfig.get_paths()["purelib"])
    for top_level in ("shop", "datasets", "graph", "encoders", "evaluation", "gnn", "profiles", "store", "pipeline",
                      "report", "cli"):
        assert not (site_packages / top_level).exists(), f"the install put {top_level!r} at the top of site-packages"
