"""A shop folder's optional ``dataset.json``: what a converter recorded about its data."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from personagraph.errors import PersonaGraphError

DESCRIPTION_FILE = "dataset.json"


def read_dataset_description(data_dir: str | Path) -> dict[str, Any]:
    """The JSON object in ``data_dir/dataset.json`` ({} when there is none).

    Read with the tables, before any expensive stage, so that a damaged file fails in
    seconds with its line and column, not after the training it would have been saved with.
    """
    path = Path(data_dir) / DESCRIPTION_FILE
    if not path.exists():
        return {}
    fix = f"fix it, or delete it if the folder is not a converter's output (`personagraph convert` writes it)"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PersonaGraphError(f"{path}: not UTF-8 text ({exc.reason}); {fix}") from None
    except OSError as exc:
        raise PersonaGraphError(f"{path}: cannot read it ({exc.strerror}); {fix}") from None
    try:
        description = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PersonaGraphError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno}); {fix}") \
            from None
    except RecursionError:
        raise PersonaGraphError(f"{path}: JSON nested too deeply; {fix}") from None
    if not isinstance(description, dict):
        raise PersonaGraphError(f"{path}:1: holds a JSON {type(description).__name__}, not an object; {fix}")
    return description
