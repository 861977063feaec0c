"""The UNWIND sample of benchmarks/scale.py: the rows it builds for some users must be what the whole run's
rows hold for them (all of them, nobody else's: the sync's replacing writes would delete what a sample left
out), and removing those users then writing them back must be accepted by the store and leave it as it was."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from personagraph.pipeline.run import Run
from personagraph.pipeline.run_sync import run_changes

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "scale.py"

pytestmark = pytest.mark.slow  # trains the sample shop


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("scale_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _by_start(rows) -> list[tuple]:
    return sorted(tuple(sorted((key, repr(value)) for key, value in row.items())) for row in rows)


def test_the_sample_holds_what_the_whole_run_holds_for_its_users(scale, sample):
    run = Run.load(sample.run_dir)
    chosen = np.sort(np.random.default_rng(1).choice(run.shop.events.num_users, size=40, replace=False))
    ids = {run.shop.events.user_ids[u] for u in chosen.tolist()}
    whole, part = run_changes(run), scale.sample_changes(run, chosen)

    def theirs(rows):
        return [row for row in rows if row["start"] in ids]

    assert sorted(row["id"] for row in part.users) == sorted(ids)
    assert _by_start(part.users) == _by_start(row for row in whole.users if row["id"] in ids)
    for name in ("interests", "segment_links"):
        assert _by_start(getattr(part, name)) == _by_start(theirs(getattr(whole, name))), name
    # Social links: the sample's own, and every link of a user who links to one of the sample (its removal
    # takes those along, so they are written whole).
    linkers = ids | {row["start"] for row in whole.social_links if row["end"] in ids}
    assert sorted(part.social_users) == sorted(linkers)
    assert _by_start(part.social_links) == _by_start(row for row in whole.social_links if row["start"] in linkers)
    user_edges = {edge_type for edge_type in whole.edges if edge_type[0] == "user"}
    assert set(part.edges) == user_edges
    for edge_type in user_edges:
        assert _by_start(part.edges[edge_type]) == _by_start(theirs(whole.edges[edge_type])), edge_type
    assert any(theirs(whole.social_links)), "the sample shop should give the sample social links to check"
    assert part.segments == whole.segments
    assert [list(rows) for rows in (part.items, part.categories, part.queries, part.tags)] == [[]] * 4
    assert (part.embedding_dim, part.search_dim) == (whole.embedding_dim, whole.search_dim)
    assert part.base_run_id == run.run_id and not part.whole_run


def test_removing_and_writing_back_the_sample_leaves_the_store_as_it_was(scale, sample, neo4j_server):
    measured = scale.measure_unwind(sample.run_dir, neo4j_server, 40)
    assert measured["counts_unchanged"], (measured["counts_before"], measured["counts_after"])
    assert measured["active_run_after"] == Run.load(sample.run_dir).run_id and measured["complete_after"]
    assert measured["users"] == measured["written"]["users"] == measured["forgotten"]["users"] == 40
    assert measured["written"]["IN_SEGMENT"] == 40 and measured["rows"] > 40 * 3
    assert measured["nodes"] == sum(n for kind, runs in measured["counts_before"].items()
                                    if kind[0].isupper() and not kind.isupper() for n in runs.values())
