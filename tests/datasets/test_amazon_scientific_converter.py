import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from personagraph.errors import PersonaGraphError
from personagraph.datasets.amazon_scientific_converter import (
    convert_amazon_scientific,
    segment_category_paths,
    split_item_text,
)

ITEMS = {
    "B001": "DEWALT Cordless Drill, 20V. Industrial & Scientific Power Tools Drills Cordless Drills. DEWALT. ",
    "B002": "Hammer Drill 1/2 in. Heavy Duty. Industrial & Scientific Power Tools Drills Hammer Drills. Bosch. ",
    "B003": "Glass Beaker 250 ml. Industrial & Scientific Beakers. Pyrex. ",
    "B004": "Mystery widget. . Acme Inc. ",
    "B005": "Drill Kit. Industrial & Scientific Power Tools Drills. Skil. ",
    "B006": "Jig Saw. Industrial & Scientific Power Tools Saws Jig Saws. Skil. ",
}


def write_source(folder, inter_lines, text_items=ITEMS):
    folder.mkdir(parents=True, exist_ok=True)
    asins = list(ITEMS)
    (folder / "Scientific.item2index").write_text("".join(f"{a}\t{i}\n" for i, a in enumerate(asins)))
    (folder / "Scientific.user2index").write_text("AU0\t0\nAU1\t1\nAU2\t2\n")
    (folder / "Scientific.text").write_text(
        "item_id:token\ttext:token_seq\n" + "".join(f"{a}\t{t}\n" for a, t in text_items.items())
    )
    (folder / "Scientific.test.inter").write_text(
        "user_id:token\titem_id_list:token_seq\titem_id:token\n" + "".join(l + "\n" for l in inter_lines)
    )
    return folder


def test_split_item_text_keeps_dots_inside_title_and_handles_empty_category():
    assert split_item_text(ITEMS["B002"]) == (
        "Hammer Drill 1/2 in. Heavy Duty", "Industrial & Scientific Power Tools Drills Hammer Drills", "Bosch"
    )
    assert split_item_text(ITEMS["B004"]) == ("Mystery widget", "", "Acme Inc")


def test_segment_category_paths_uses_full_paths_and_branches():
    paths = [
        "Industrial & Scientific Fasteners Screws",
        "Industrial & Scientific Fasteners",
        "Industrial & Scientific Fasteners Screws Sheet Metal Screws",
        "Industrial & Scientific Fasteners Screws Drywall Screws",
        "Industrial & Scientific Tapes, Adhesives & Sealants Contact Cements",
        "Industrial & Scientific Tapes, Adhesives & Sealants Epoxy Adhesives",
        "Industrial & Scientific Containers Lab Bottles",
        "Industrial & Scientific Containers Lab Flasks",
        "Industrial & Scientific Containers Beakers",
        "Industrial & Scientific Sanding Rolls",
        "Industrial & Scientific Sanding Sheets",
    ]
    levels = segment_category_paths(paths)
    assert levels[paths[2]] == ["Industrial & Scientific", "Fasteners", "Screws", "Sheet Metal Screws"]
    assert levels[paths[4]] == ["Industrial & Scientific", "Tapes, Adhesives & Sealants", "Contact Cements"]
    assert levels[paths[6]] == ["Industrial & Scientific", "Containers", "Lab Bottles"]
    assert levels[paths[9]] == ["Industrial & Scientific", "Sanding Rolls"]


def test_converts_items_purchases_and_derived_queries(tmp_path):
    src = write_source(tmp_path / "src", ["0\t0 1\t2", "1\t3 0 2 1\t3", "2\t2\t0"])
    description = convert_amazon_scientific(src, tmp_path / "out", derived_queries=True)

    items = pq.read_table(tmp_path / "out" / "items.parquet").to_pylist()
    assert [i["item_id"] for i in items] == list(ITEMS)
    assert items[1]["title"] == "Hammer Drill 1/2 in. Heavy Duty"
    assert items[1]["category"] == "Industrial & Scientific > Power Tools > Drills > Hammer Drills"
    assert items[1]["brand"] == "Bosch"
    assert items[3]["category"] == "" and items[3]["price"] is None

    events = pq.read_table(tmp_path / "out" / "events.parquet")
    assert events.column_names == ["user_id", "event", "timestamp", "item_id", "query"]
    rows = events.to_pylist()
    purchases = [r for r in rows if r["event"] == "purchase"]
    searches = [r for r in rows if r["event"] == "search"]
    assert [(r["user_id"], r["item_id"]) for r in purchases] == [
        ("AU0", "B001"), ("AU0", "B002"), ("AU0", "B003"),
        ("AU1", "B004"), ("AU1", "B001"), ("AU1", "B003"), ("AU1", "B002"), ("AU1", "B004"),
        ("AU2", "B003"), ("AU2", "B001"),
    ]
    for user in ("AU0", "AU1", "AU2"):
        times = [r["timestamp"] for r in purchases if r["user_id"] == user]
        assert all(np.diff(times) > 0)
    # one search per purchase of an item with a category, same item and time, listed first
    assert len(searches) == 8
    for search in searches:
        index = rows.index(search)
        assert rows[index + 1]["event"] == "purchase"
        assert rows[index + 1]["item_id"] == search["item_id"]
        assert rows[index + 1]["timestamp"] == search["timestamp"]
    assert {(s["item_id"], s["query"]) for s in searches} == {
        ("B001", "Cordless Drills"), ("B002", "Hammer Drills"), ("B003", "Beakers")
    }

    written = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert written == description
    assert written["protocol"] == "leave-one-out"
    assert written["derived_queries"] is True
    assert any("DERIVED" in note for note in written["notes"])
    assert written["counts"]["purchases"] == 10 and written["counts"]["searches"] == 8
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dataset.json", "events.parquet", "items.parquet"]


def test_no_derived_queries(tmp_path):
    src = write_source(tmp_path / "src", ["0\t0 1\t2"])
    description = convert_amazon_scientific(src, tmp_path / "out")
    events = pq.read_table(tmp_path / "out" / "events.parquet").to_pylist()
    assert {e["event"] for e in events} == {"purchase"} and len(events) == 3
    assert description["derived_queries"] is False
    assert not any("DERIVED" in note for note in description["notes"])


@pytest.mark.parametrize(
    ("line", "message"),
    [("0\t0 x\t2", "Scientific.test.inter:2: an item index must be"),
     ("0\t0 9\t2", "Scientific.test.inter:2: item index 9 is not in"),
     ("7\t0\t2", "Scientific.test.inter:2: user index 7"),
     ("0\t0 1", "Scientific.test.inter:2: expected 'user<TAB>item list<TAB>last item'")],
)
def test_malformed_interactions_name_file_and_line(tmp_path, line, message):
    src = write_source(tmp_path / "src", [line])
    with pytest.raises(PersonaGraphError, match=message):
        convert_amazon_scientific(src, tmp_path / "out")
    assert not (tmp_path / "out" / "dataset.json").exists()


def test_unknown_item_in_text_and_missing_file(tmp_path):
    src = write_source(tmp_path / "src", ["0\t0\t1"], text_items={**ITEMS, "B999": "X. . Y. "})
    with pytest.raises(PersonaGraphError, match=r"Scientific.text:8: item 'B999' is not in"):
        convert_amazon_scientific(src, tmp_path / "out")
    (src / "Scientific.user2index").unlink()
    with pytest.raises(PersonaGraphError, match="Scientific.user2index not found"):
        convert_amazon_scientific(src, tmp_path / "out")
