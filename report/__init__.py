"""Readable views of a run: the HTML run report and the model comparison page."""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "BinnedCounts": "binned_counts",
    "CHART_CLASS": "html_page",
    "EVALUATION_FILE": "run_report_data",
    "HtmlPage": "html_page",
    "MAX_MAP_POINTS": "run_report",
    "ProfileMap": "profile_map",
    "RunReportData": "run_report_data",
    "SegmentSummary": "profile_statistics",
    "add_model_comparison": "model_comparison",
    "comparison_header": "model_comparison",
    "comparison_notes": "model_comparison",
    "comparison_rows": "model_comparison",
    "format_spread": "model_comparison",
    "model_comparison_figure": "model_comparison",
    "segment_summaries": "profile_statistics",
    "stratified_sample": "profile_map",
    "tag_frequency": "profile_statistics",
    "write_evaluation_page": "model_comparison",
    "write_run_report": "run_report",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
