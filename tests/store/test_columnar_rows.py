"""The rows a whole-run sync writes, built as columns, hold what the per-row definitions say, and the store
writes them as it writes row dicts (the replacing write streams them grouped by start node)."""
from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import torch
from torch_geometric.data import HeteroData

from personagraph.row_table import RowTable
from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from personagraph.store.profile_sync import edge_rows

EDGE = ("user", "viewed", "item")


def _graph() -> HeteroData:
    graph = HeteroData()
    graph[EDGE].edge_index = torch.tensor([[0, 0, 2, 1], [1, 0, 1, 2]])
    graph[EDGE].count = torch.tensor([3, 1, 2, 5])
    graph[EDGE].last_ts = torch.tensor([1.7e9 + 0.5, float("nan"), 1.6e9 + 0.123456, 0.0], dtype=torch.float32)
    return graph


def test_edge_rows_hold_what_each_edge_says():
    graph, users, items = _graph(), ["u0", "u1", "u2"], ["i0", "i1", "i2"]
    store = graph[EDGE]
    expected = []
    for (s, t), count, ts in zip(store.edge_index.t().tolist(), store.count.tolist(), store.last_ts.tolist()):
        row = {"start": users[s], "end": items[t], "count": count}
        if not math.isnan(ts):
            row["last_at"] = datetime.fromtimestamp(ts, tz=timezone.utc)
        expected.append(row)
    rows = edge_rows(graph, EDGE, users, items)
    assert isinstance(rows, RowTable) and list(rows) == expected


def _links(store: Neo4jProfileStore) -> list[dict]:
    return store.run_cypher("MATCH (u:User)-[r:VIEWED]->(i:Item) RETURN u.id AS user, i.id AS item, r.count AS count "
                            "ORDER BY user, item")


def test_replacing_links_from_columns_equals_replacing_them_from_dicts(profile_store: Neo4jProfileStore):
    profile_store.ensure_schema(4)
    users = [{"id": f"u{i}", "embedding": [1.0, 0.0, float(i), 1.0]} for i in range(6)]
    profile_store.upsert_users(users, run_id="r")
    profile_store.upsert_items([{"id": f"i{j}"} for j in range(5)])
    rng = np.random.default_rng(0)
    starts = [f"u{i}" for i in rng.integers(0, 6, size=40)]  # unsorted, each start spread over the rows
    ends = [f"i{j}" for j in rng.integers(0, 5, size=40)]
    pairs = list(dict.fromkeys(zip(starts, ends)))
    stale = [{"start": "u0", "end": "i4", "count": 99}, {"start": "u5", "end": "i0", "count": 98}]
    table = pa.table({"start": [s for s, _ in pairs], "end": [e for _, e in pairs], "count": list(range(len(pairs)))})
    as_dicts = [{"start": s, "end": e, "count": k} for k, (s, e) in enumerate(pairs)]

    profile_store.batch_size = 7  # groups cross batch boundaries
    profile_store.upsert_relationships("VIEWED", "User", "Item", stale)
    written_dicts = profile_store.replace_relationships("VIEWED", "User", "Item", as_dicts)
    from_dicts = _links(profile_store)
    profile_store.run_cypher("MATCH ()-[r:VIEWED]->() DELETE r", write=True)
    profile_store.upsert_relationships("VIEWED", "User", "Item", stale)
    written_columns = profile_store.replace_relationships("VIEWED", "User", "Item", RowTable(table, batch_rows=3))
    assert written_columns == written_dicts == len(pairs)
    assert _links(profile_store) == from_dicts
    assert {(row["user"], row["item"], row["count"]) for row in from_dicts} == {
        (s, e, k) for k, (s, e) in enumerate(pairs)}
