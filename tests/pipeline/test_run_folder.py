"""Run folders hold raw user ids and behaviour: only their owner may read them."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from personagraph.pipeline.run_folder import RunFolder


def test_create_makes_a_private_folder(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "runs" / "r1").create()
    assert stat.S_IMODE(os.stat(run.path).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(run.path.parent).st_mode) == 0o700


def test_create_tightens_an_existing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    os.chmod(folder, 0o755)
    RunFolder(folder).create()
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
