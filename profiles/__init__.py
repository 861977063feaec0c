"""Profiles: readable attributes (tags, activity, segments), the frozen profile space and explanations."""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "user_activity": "activity",
    "InterestTags": "interest_tags",
    "tag_evidence": "interest_tags",
    "Evidence": "profile_explainer",
    "ProfileExplainer": "profile_explainer",
    "ProfileSpace": "profile_space",
    "SearchProjection": "search_projection",
    "Segment": "segment",
    "segment_names": "segment_names",
    "Segments": "segments",
    "SocialFeatures": "social_features",
    "SocialMix": "social_mix",
    "choose_social_mix": "social_mix",
    "mix_social": "social_mix",
    "cosine_silhouette": "silhouette",
    "TagVocabulary": "tag_vocabulary",
    "UserProfiles": "user_profiles",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
