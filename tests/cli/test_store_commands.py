"""`personagraph similar` and `personagraph query` against the real test server."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner, Result

from personagraph.cli.main import cli
from personagraph.store.neo4j_profile_store import Neo4jProfileStore


@pytest.fixture
def seeded(profile_store: Neo4jProfileStore, neo4j_cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """Forty users in three segments, and the CLI pointed at the test server through NEO4J_* variables."""
    vectors = np.random.default_rng(0).standard_normal((40, 8))
    profile_store.ensure_schema(8)
    profile_store.upsert_users(
        [{"id": f"u{i}", "embedding": vectors[i], "segment": i % 3, "top_tags": ["tea", "mugs"]} for i in range(40)],
        run_id="cli-test",
    )
    for name, value in neo4j_cli_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NEO4J_DATABASE", raising=False)
    return vectors


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_similar_prints_a_table(seeded: np.ndarray) -> None:
    result = _run("similar", "u0", "-k", "4")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split() == ["rank", "user", "score", "segment", "top_tags"]
    assert len(lines) == 2 + 4 and "u0 " not in result.output


def test_similar_json_with_segment_filter(seeded: np.ndarray) -> None:
    result = _run("similar", "u0", "-k", "5", "--segment", "2", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output)
    assert len(hits) == 5 and {hit["properties"]["segment"] for hit in hits} == {2}
    unit = seeded / np.linalg.norm(seeded, axis=1, keepdims=True)
    for hit in hits:
        assert hit["score"] == pytest.approx(float(unit[0] @ unit[int(hit["id"][1:])]), abs=1e-4)


def test_similar_unknown_user(seeded: np.ndarray) -> None:
    result = _run("similar", "nobody")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: no user 'nobody' in Neo4j — check the id, or store profiles first (`personagraph train`)"
    )


def test_query_with_parameters(seeded: np.ndarray) -> None:
    result = _run(
        "query", "MATCH (u:User) WHERE u.segment = $s RETURN u.id AS id ORDER BY id LIMIT $n",
        "--param", "s=1", "--param", "n=2", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"id": "u1"}, {"id": "u10"}]
    text = _run("query", "RETURN $name AS name", "--param", "name=not json")
    assert text.exit_code == 0 and text.output.splitlines()[2] == "not json"


def test_query_is_read_only_without_write(seeded: np.ndarray, profile_store: Neo4jProfileStore) -> None:
    refused = _run("query", "CREATE (:Item {id: 'x'})")
    assert refused.exit_code == 1 and "--write" in refused.output and "Traceback" not in refused.output
    assert profile_store.count("Item") == 0
    allowed = _run("query", "CREATE (i:Item {id: 'x'}) RETURN i.id AS id", "--write")
    assert allowed.exit_code == 0, allowed.output
    assert profile_store.count("Item") == 1


def test_query_syntax_error_is_one_line(seeded: np.ndarray) -> None:
    result = _run("query", "RETURN RETURN")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error: Cypher syntax error")


def test_wrong_password_and_closed_port(seeded: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_PASSWORD", "wrong-password")
    wrong = _run("query", "RETURN 1")
    assert wrong.exit_code == 1 and "rejected user 'neo4j'" in wrong.output and "wrong-password" not in wrong.output
    closed = _run("query", "RETURN 1", "--uri", "bolt://127.0.0.1:1")
    assert closed.exit_code == 1
    assert closed.output.strip() == (
        "Error: cannot reach Neo4j at bolt://127.0.0.1:1 — start it with `personagraph neo4j start` or set NEO4J_URI"
    )


def test_query_cannot_read_files_or_end_other_sessions(seeded: np.ndarray) -> None:
    for cypher, refused in [
        ("LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line", "LOAD CSV"),
        ("TERMINATE TRANSACTIONS 'neo4j-transaction-999999999'", "TERMINATE TRANSACTIONS"),
        ("CALL dbms.listConfig()", "dbms.* procedures"),
    ]:
        result = _run("query", cypher)
        assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
        assert result.output.startswith(f"Error: read-only mode refuses {refused}") and "--write" in result.output
    written = _run("query", "LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line", "--write")
    assert written.exit_code == 1 and "root:" not in written.output
    assert "allow_csv_import_from_file_urls" in written.output
