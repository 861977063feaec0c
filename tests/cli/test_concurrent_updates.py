"""Two `personagraph update` processes on one run at once, against the real Neo4j.

A module of its own: it empties the test database (``profile_store``), so it must not run while
another module's trained sample holds that database.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from live_run import make_run, profile_rows, two_senders

from personagraph.pipeline.run import Run


@pytest.mark.slow
def test_two_updates_started_at_once_take_turns(tmp_path, profile_store, neo4j_settings, neo4j_cli_env):
    """Two `personagraph update` processes on one run: both succeed, one after the other, as updates 1 and 2."""
    from personagraph.pipeline.run_sync import sync_run
    from personagraph.store.neo4j_profile_store import Neo4jProfileStore

    run = make_run(tmp_path)
    sync_run(run.path, lambda: Neo4jProfileStore.connect(neo4j_settings), progress=False)
    events_before = len(Run.load(run.path).shop.events)
    commands = [[sys.executable, "-m", "personagraph.cli", "update", str(events_file), "--run", str(run.path),
                 "--wait", "300", "--quiet", "--json"] for events_file in two_senders(run, tmp_path)]
    processes = [subprocess.Popen(command, env=os.environ | neo4j_cli_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for command in commands]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    summaries = [json.loads(stdout) for stdout, _ in outputs]
    assert sorted(summary["number"] for summary in summaries) == [1, 2]

    live = Run.load(run.path)
    assert live.updates == 2 and len(live.shop.events) == events_before + 4  # none lost, none doubled
    stored = profile_rows(run)
    neo4j = {row["id"]: row for row in profile_store.run_cypher(
        "MATCH (u:User) RETURN u.id AS id, u.embedding AS embedding, u.run_id AS run_id")}
    assert set(neo4j) == set(stored) >= {"new-a", "new-b"}  # profiles.parquet and Neo4j agree
    for user_id, row in neo4j.items():
        np.testing.assert_allclose(row["embedding"], stored[user_id]["vector"], atol=1e-6)
    latest = {user_id: summary["run_id"] for summary in sorted(summaries, key=lambda s: s["number"])
              for user_id in summary["touched_user_ids"]}
    assert {user_id: neo4j[user_id]["run_id"] for user_id in latest} == latest
