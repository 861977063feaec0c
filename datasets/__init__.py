"""Where shops come from besides your own logs: the sample generator and the public-dataset converters."""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "convert_amazon_scientific": "amazon_scientific_converter",
    "convert_gowalla": "gowalla_converter",
    "convert_lastfm_social": "lastfm_social_converter",
    "SampleShop": "sample_shop",
    "generate_sample_shop": "sample_shop",
    "generate_vectorised_shop": "vectorised_sample_shop",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
