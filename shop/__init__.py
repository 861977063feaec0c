"""The shop: one schema of event and edge types, reading and validating its logs, and operations on them."""
from personagraph.lazy_exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "InputTable": "input_table",
    "LeaveLastOutSplit": "leave_last_out",
    "leave_last_out": "leave_last_out",
    "RejectedRow": "rejected_row",
    "DEFAULT_SCHEMA": "schema",
    "EdgeType": "schema",
    "EventType": "schema",
    "LinkType": "schema",
    "ShopSchema": "schema",
    "extended_schema": "schema",
    "shop_schema": "schema",
    "Catalog": "shop_data",
    "EVENT_TYPES": "shop_data",
    "EventLog": "shop_data",
    "ShopData": "shop_data",
    "read_shop": "shop_reader",
    "read_shop_files": "shop_reader",
    "shop_from_rows": "shop_reader",
    "write_rejected": "shop_reader",
    "ShopReading": "shop_reading",
    "ShopValidationError": "shop_validation_error",
    "read_dataset_description": "dataset_description",
    "TableCount": "table_count",
    "TimestampWindow": "timestamp_window",
    "ValidationProblem": "validation_problem",
}

__getattr__, __all__ = lazy_exports(__name__, _EXPORTS)
