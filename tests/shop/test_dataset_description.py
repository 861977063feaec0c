import pytest

from personagraph.errors import PersonaGraphError
from personagraph.shop.dataset_description import read_dataset_description


def test_no_file_is_an_empty_description(tmp_path):
    assert read_dataset_description(tmp_path) == {}


def test_a_valid_object_is_returned(tmp_path):
    (tmp_path / "dataset.json").write_text('{"derived_queries": true}', encoding="utf-8")
    assert read_dataset_description(tmp_path) == {"derived_queries": True}


@pytest.mark.parametrize(("content", "expected"), [
    (b'{"derived_queries": tru', "dataset.json:1: not valid JSON (Expecting value at column 21)"),
    (b'\n\n{"a": 1,}', "dataset.json:3: not valid JSON"),
    (b"[1, 2]", "dataset.json:1: holds a JSON list, not an object"),
    (b"\xff\xfe{}", "dataset.json: not UTF-8 text"),
    (b"[" * 100_000, "dataset.json"),
])
def test_a_malformed_file_is_one_line_with_its_place_and_the_fix(tmp_path, content, expected):
    (tmp_path / "dataset.json").write_bytes(content)
    with pytest.raises(PersonaGraphError) as caught:
        read_dataset_description(tmp_path)
    message = str(caught.value)
    assert expected in message and "\n" not in message and "fix it, or delete it" in message
