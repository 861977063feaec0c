from personagraph.cli.train_commands import _describe_ranking


def test_the_ranking_line_names_the_neighbour_table_kind():
    assert _describe_ranking({}) == "  ranking: profile vectors alone"
    tried = [{"neighbour_weight": 0.4, "neighbour_gain": 0.0123, "neighbour_standard_error": 0.002}]
    cosine = _describe_ranking({"weight": 0.4, "neighbours": 200, "recency_decay": 0.8, "tried": tried})
    assert cosine == ("  ranking: profile vectors + 0.4 x item-kNN neighbour score (200 neighbours per item, "
                      "recency decay 0.8); validation Recall@20 + NDCG@20 +0.0123")
    low_pass = _describe_ranking({"weight": 1.6, "neighbours": 800, "recency_decay": 1.0, "similarity": "low-pass"})
    assert low_pass.startswith("  ranking: profile vectors + 1.6 x low-pass filter neighbour score (800 neighbours")
