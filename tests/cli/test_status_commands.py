"""`personagraph status` and `personagraph sync` on a sample trained and synced to the real Neo4j."""
from __future__ import annotations

import json

import pytest
from store_that_dies import StoreThatDies

from personagraph.errors import PersonaGraphError
from personagraph.pipeline.run import Run
from personagraph.pipeline.run_sync import run_changes
from personagraph.store.profile_sync import sync_changes


def test_status_names_the_active_run_and_nothing_of_other_runs(sample, run_cli):
    result = run_cli("status")
    assert result.exit_code == 0, result.output
    assert f"active run: {sample.summary['run_id']} (run folder {sample.run_dir.resolve()}" in result.stdout
    assert "sync: complete" in result.stdout
    summary = json.loads(run_cli("status", "--json").stdout)
    assert summary["complete"] and summary["rows_of_other_runs"] == {}
    assert summary["counts"]["User"] == sample.summary["counts"]["users"]


def test_an_interrupted_sync_is_named_refused_and_finished_by_personagraph_sync(sample, run_cli):
    user = sample.shop.events.user_ids[0]
    before = json.loads(run_cli("similar", user, "-k", "5", "--json").stdout)
    run = Run.load(sample.run_dir)
    with pytest.raises(PersonaGraphError, match="stopped at step 'VIEWED'"):
        sync_changes(StoreThatDies(sample.store, "VIEWED"), run_changes(run), "another-run", progress=False,
                     run_folder=sample.run_dir)

    for command in (["similar", user], ["recommend", user], ["segments"], ["explain", user],
                    ["query", "MATCH (u:User) RETURN count(u) AS n"]):
        refused = run_cli(*command)
        assert refused.exit_code == 1 and isinstance(refused.exception, SystemExit), (command, refused.exception)
        lines = refused.output.strip().splitlines()
        assert len(lines) == 1 and "incomplete sync of run another-run (at step 'VIEWED'" in lines[0], command
        assert f"`personagraph sync --run {sample.run_dir.resolve()}`" in lines[0]
    status = run_cli("status")
    assert status.exit_code == 0 and "sync: INCOMPLETE" in status.stdout and "step 'VIEWED'" in status.stdout

    finished = run_cli("sync", "--quiet")  # no --run: the folder of the unfinished sync
    assert finished.exit_code == 0, finished.output
    assert f"Neo4j now serves run {sample.summary['run_id']}" in finished.stdout
    summary = json.loads(run_cli("status", "--json").stdout)
    assert summary["complete"] and summary["active_run"] == sample.summary["run_id"]
    assert summary["rows_of_other_runs"] == {}
    after = json.loads(run_cli("similar", user, "-k", "5", "--json").stdout)
    assert [hit["id"] for hit in after] == [hit["id"] for hit in before]
    assert [hit["score"] for hit in after] == pytest.approx([hit["score"] for hit in before], abs=1e-5)
