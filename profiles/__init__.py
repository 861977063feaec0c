"""Profiles: readable attributes, the frozen profile space, and the pipelines that produce them."""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "user_activity": "activity",
    "IncrementalUpdate": "incremental_update",
    "InterestTags": "interest_tags",
    "tag_evidence": "interest_tags",
    "OnlineProfiler": "online_profiler",
    "Evidence": "profile_explainer",
    "ProfileExplainer": "profile_explainer",
    "ProfileSpace": "profile_space",
    "sync_profiles": "profile_sync",
    "Recommendation": "recommender",
    "Recommender": "recommender",
    "RunFolder": "run_folder",
    "Segment": "segment",
    "segment_names": "segment_names",
    "Segments": "segments",
    "cosine_silhouette": "silhouette",
    "StageClock": "stage_clock",
    "TagVocabulary": "tag_vocabulary",
    "TextAudience": "text_audience",
    "TrainOptions": "train_pipeline",
    "run_training": "train_pipeline",
    "TrainedRun": "trained_run",
    "find_run_folder": "trained_run",
    "UserProfiles": "user_profiles",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
