"""The profile model (a heterogeneous GNN), its training, ranking metrics, evaluation and baselines."""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "Checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "EvaluationProtocol": "evaluation_protocol",
    "ItemKNNRanker": "item_knn_ranker",
    "LeaveLastOutSplit": "leave_last_out",
    "leave_last_out": "leave_last_out",
    "LightGCNRanker": "lightgcn_ranker",
    "LightGCNSettings": "lightgcn_ranker",
    "ModelEvaluation": "model_evaluation",
    "PopularityRanker": "popularity_ranker",
    "ProfileModel": "profile_model",
    "ProfileModelRanker": "profile_model_ranker",
    "SpectralFilter": "spectral_filter",
    "TrainResult": "profile_trainer",
    "train_profile_model": "profile_trainer",
    "Ranker": "ranker",
    "evaluate_scorer": "ranker",
    "RankingData": "ranking_data",
    "evaluate_ranking": "ranking_metrics",
    "ndcg_at_k": "ranking_metrics",
    "recall_at_k": "ranking_metrics",
    "TextMeanRanker": "text_mean_ranker",
    "TrainConfig": "train_config",
    "UserInteractions": "user_interactions",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
