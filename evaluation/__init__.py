"""Evaluation: protocols (splits), ranking metrics, the Ranker contract and the baselines."""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "EvaluationProtocol": "evaluation_protocol",
    "ItemKNNRanker": "item_knn_ranker",
    "LightGCNRanker": "lightgcn_ranker",
    "LightGCNSettings": "lightgcn_ranker",
    "PopularityRanker": "popularity_ranker",
    "Ranker": "ranker",
    "RankingData": "ranking_data",
    "evaluate_ranking": "ranking_metrics",
    "evaluate_repeat_weights": "ranking_metrics",
    "evaluate_scorer": "ranking_metrics",
    "ndcg_at_k": "ranking_metrics",
    "recall_at_k": "ranking_metrics",
    "TextMeanRanker": "text_mean_ranker",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
