"""The jobs commands run over a run folder: train, update, online profiles, recommendations, audiences, evaluation."""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "IncrementalUpdate": "incremental_update",
    "ModelEvaluation": "model_evaluation",
    "OnlineProfiler": "online_profiler",
    "Recommendation": "recommender",
    "Recommender": "recommender",
    "RunFolder": "run_folder",
    "StageClock": "stage_clock",
    "TextAudience": "text_audience",
    "TrainOptions": "train_pipeline",
    "run_training": "train_pipeline",
    "Run": "run",
    "find_run_dir": "run",
    "UserErasure": "user_erasure",
    "sync_run": "run_sync",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
