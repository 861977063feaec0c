"""The Last.fm converter on a tiny hand-made copy of the format (never the shared data)."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from personagraph.datasets.lastfm_social_converter import convert_lastfm_social
from personagraph.errors import PersonaGraphError
from personagraph.evaluation.evaluation_protocol import EvaluationProtocol
from personagraph.shop.shop_reader import read_shop_files


def write_source(folder, friends="1\t2\n2\t1\n1\t3\n3\t1\n2\t9\n"):
    folder.mkdir()
    (folder / "train.dat").write_text("1\t10\t500\n1\t11\t20\n2\t10\t7\n2\t12\t3\n3\t13\t90\n3\t10\t1\n")
    (folder / "test.dat").write_text("1\t12\t5\n2\t14\t8\n")
    (folder / "user_user.dat").write_text(friends)
    return folder


def test_converts_events_friendships_and_the_given_split(tmp_path):
    description = convert_lastfm_social(write_source(tmp_path / "src"), tmp_path / "out")
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "events.parquet", "items.parquet",
                                                     "social.parquet", "test.parquet"]
    assert json.loads((out / "dataset.json").read_text()) == description
    assert description["protocol"] == "given-split" and description["counts"]["social_links"] == 4
    assert description["counts"]["social_links_dropped"] == 1  # user 9 has no training artist
    reading = read_shop_files(out, progress=False)
    assert [str(table) for table in reading.tables][-1] == "social.parquet: 4 rows read = 4 accepted + 0 rejected"
    shop = reading.shop
    assert shop.events.user_ids == ["1", "2", "3"] and len(shop.catalog) == 5  # artists 10-14
    assert len(shop.events) == 6 and shop.social.relation_names == ["friend"]
    assert pq.read_table(out / "test.parquet").to_pylist() == [{"user_id": "1", "item_id": "12"},
                                                               {"user_id": "2", "item_id": "14"}]
    protocol = EvaluationProtocol.from_folder(out)
    assert protocol.name == "given-split" and len(protocol.train.social) == 4  # links reach the splits


def test_a_broken_source_line_is_located(tmp_path):
    source = write_source(tmp_path / "src", friends="1\t2\nx\t3\n")
    with pytest.raises(PersonaGraphError, match=r"user_user.dat:2: the user id must be a non-negative integer"):
        convert_lastfm_social(source, tmp_path / "out")
