"""The optional social table: validated like the other tables, every row accounted for."""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from personagraph.shop.shop_reader import read_shop, read_shop_files
from personagraph.shop.shop_validation_error import ShopValidationError
from personagraph.shop.social_links import SocialLinks, normalise_relation

ITEMS = "item_id,title\ni1,Drill\ni2,Saw\n"
EVENTS = ("user_id,event,timestamp,item_id\n"
          "ann,view,2025-01-01T00:00:00Z,i1\nbob,view,2025-01-02T00:00:00Z,i2\ncid,view,2025-01-03T00:00:00Z,i1\n")


def write_shop(folder, social: str | None):
    folder.mkdir(exist_ok=True)
    (folder / "items.csv").write_text(ITEMS)
    (folder / "events.csv").write_text(EVENTS)
    if social is not None:
        (folder / "social.csv").write_text(social)
    return folder


def test_a_shop_without_the_table_has_no_links(tmp_path):
    assert read_shop(write_shop(tmp_path, None), progress=False).social is None


def test_good_rows_become_links_between_event_users(tmp_path):
    social = ("user_id,other_user_id,relation,timestamp\n"
              "ann,bob,Follows,2025-01-05T00:00:00Z\nbob,ann,friend,\ncid,ann,Shared With,\n")
    reading = read_shop_files(write_shop(tmp_path, social), progress=False)
    links = reading.shop.social
    assert reading.describe().splitlines()[-1] == "social.csv: 3 rows read = 3 accepted + 0 rejected"
    assert links.relation_names == ["follows", "friend", "shared_with"]
    ids = reading.shop.events.user_ids
    got = {(ids[u], ids[v], links.relation_names[r]) for u, v, r in zip(links.user, links.other, links.relation)}
    assert got == {("ann", "bob", "follows"), ("bob", "ann", "friend"), ("cid", "ann", "shared_with")}
    stamped = links.timestamp[links.relation == links.relation_names.index("follows")]
    assert stamped[0] == pytest.approx(1736035200.0) and np.isnan(links.timestamp).sum() == 2


def test_bad_rows_are_located_and_counted(tmp_path):
    social = ("user_id,other_user_id,relation,timestamp\n"
              "ann,bob,follows,\n"       # 2 good
              "ann,zed,follows,\n"       # 3 unknown user: no events
              ",bob,follows,\n"          # 4 empty user
              "ann,ann,friend,\n"        # 5 self link
              "bob,cid,,\n"              # 6 no relation
              "bob,cid,friend,yesterday\n")  # 7 bad time
    folder = write_shop(tmp_path, social)
    with pytest.raises(ShopValidationError) as error:
        read_shop(folder, progress=False)
    lines = str(error.value)
    for expected in ("social.csv:3: other_user_id: unknown user 'zed' (no events in events.csv)",
                     "social.csv:4: user_id: empty", "social.csv:5: other_user_id: the same user",
                     "social.csv:6: relation: empty", "social.csv:7: timestamp: cannot read 'yesterday'"):
        assert expected in lines
    reading = read_shop_files(folder, on_error="skip", progress=False)
    assert str(reading.tables[-1]) == "social.csv: 6 rows read = 1 accepted + 5 rejected"
    assert len(reading.shop.social) == 1 and {r.problem.file for r in reading.rejected} == {"social.csv"}


def test_a_missing_column_refuses_the_table(tmp_path):
    with pytest.raises(ShopValidationError, match="social.csv: relation: required column missing"):
        read_shop(write_shop(tmp_path, "user_id,other_user_id\nann,bob\n"), progress=False)


def test_parquet_table_reads_the_same(tmp_path):
    folder = write_shop(tmp_path, None)
    pq.write_table(pa.table({"user_id": ["ann"], "other_user_id": ["cid"], "relation": ["invited"],
                             "timestamp": pa.array([None], pa.string())}), folder / "social.parquet")
    links = read_shop(folder, progress=False).social
    assert len(links) == 1 and links.relation_names == ["invited"] and math.isnan(links.timestamp[0])


def test_links_count_both_ways_for_neighbours_and_adjacency():
    links = SocialLinks.from_named(np.array([0, 1, 2]), np.array([1, 0, 3]), ["friend", "friend", "follows"])
    adjacency = links.adjacency(5).toarray()
    assert (adjacency == adjacency.T).all() and adjacency.sum() == 4 and adjacency[0, 1] == 1
    assert links.neighbours(np.array([3]), 5).tolist() == [2]
    assert links.neighbours(np.array([0, 2]), 5).tolist() == [1, 3]
    assert normalise_relation("  Shared-With ") == "shared_with"
    assert [row["relation"] for row in links.rows(["a", "b", "c", "d", "e"])] == ["friend", "friend", "follows"]
