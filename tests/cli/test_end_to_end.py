"""The whole CLI against the real Neo4j: sample → train → similar → query."""
from __future__ import annotations

import json

from click.testing import CliRunner

from personagraph.cli.main import cli


def test_sample_train_similar_query(tmp_path, profile_store, neo4j_cli_env):
    runner = CliRunner()
    env = neo4j_cli_env
    shop = tmp_path / "shop"

    result = runner.invoke(cli, ["sample", "--out", str(shop), "--users", "300", "--items", "150", "--seed", "3"])
    assert result.exit_code == 0, result.output

    result = runner.invoke(cli, ["train", str(shop), "--out", str(tmp_path / "run"), "--epochs", "4",
                                 "--dim", "16", "--quiet", "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    users = summary["counts"]["users"]
    assert summary["synced"]["users"] == users
    for name in ("checkpoint.pt", "config.json", "profiles.parquet", "metrics.json"):
        assert (tmp_path / "run" / name).is_file()

    user_id = profile_store.run_cypher("MATCH (u:User) RETURN u.id AS id ORDER BY id LIMIT 1")[0]["id"]
    result = runner.invoke(cli, ["similar", user_id, "-k", "5", "--json"], env=env)
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 5 and user_id not in {hit["id"] for hit in hits}

    result = runner.invoke(cli, ["query", "MATCH (u:User) WHERE u.embedding IS NOT NULL RETURN count(u) AS n",
                                 "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"n": users}]

    # Training the same data again rewrites the same profiles: no duplicates appear.
    result = runner.invoke(cli, ["train", str(shop), "--out", str(tmp_path / "run"), "--epochs", "4",
                                 "--dim", "16", "--quiet", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert profile_store.count("User") == users
    assert json.loads(result.stdout)["encoder"]["encoded"] == 0  # every text came from the cache
