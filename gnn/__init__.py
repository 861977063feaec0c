"""The profile model (a heterogeneous GNN), its layers, the spectral part, and training."""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "Checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "DistributedTraining": "distributed_training",
    "LowPassFilter": "low_pass_filter",
    "LowPassSettings": "low_pass_filter",
    "NeighbourBlend": "neighbour_blend",
    "ProfileModel": "profile_model",
    "ProfileOutput": "profile_model",
    "UserPooling": "profile_model",
    "ProfileModelRanker": "profile_model_ranker",
    "TrainResult": "profile_trainer",
    "train_profile_model": "profile_trainer",
    "SpectralFilter": "spectral_filter",
    "TrainConfig": "train_config",
    "UserInteractions": "user_interactions",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
