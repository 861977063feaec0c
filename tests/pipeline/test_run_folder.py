"""Run folders: private to their owner, replaced only whole, written by one writer at a time."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from live_run import make_run

from personagraph.errors import PersonaGraphError
from personagraph.file_locks import LockBusy
from personagraph.pipeline.run import Run, find_run_dir
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


# -- swapping a new run in ------------------------------------------------------------------

def _files(folder: Path) -> dict[Path, bytes]:
    return {path.relative_to(folder): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def _siblings(folder: Path) -> list[str]:
    """What a writer left beside the run folder, the lock file aside."""
    lock = f".{folder.name}.lock"
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(".") and p.name != lock)


def test_a_staged_run_replaces_the_folder_only_when_swapped_in(tmp_path: Path) -> None:
    target = make_run(tmp_path)
    before = _files(target.path)
    with target.writing("test"):
        staged = target.staging()
        assert stat.S_IMODE(os.stat(staged.path).st_mode) == 0o700
        assert staged.path.parent == target.path.parent and staged.path.name.startswith(".run.tmp-")
        (staged.path / "config.json").write_text('{"run_id": "new"}', encoding="utf-8")
        assert _files(target.path) == before  # building touches nothing of the run in place
        target.replace_with(staged)
    assert _files(target.path) == {Path("config.json"): b'{"run_id": "new"}'}
    assert _siblings(target.path) == []


def test_a_failed_writer_leaves_no_staging_folder(tmp_path: Path) -> None:
    target = make_run(tmp_path)
    before = _files(target.path)
    with pytest.raises(RuntimeError), target.writing("test"):
        (target.staging().path / "checkpoint.pt").write_bytes(b"half")
        raise RuntimeError("the profiles stage failed")
    assert _files(target.path) == before and _siblings(target.path) == []


def test_a_crash_between_the_renames_is_undone_on_the_next_load(tmp_path: Path) -> None:
    target = make_run(tmp_path)
    before = _files(target.path)
    # What a train killed between its two renames leaves: the run aside, the new one half-built.
    target.path.rename(tmp_path / ".run.old-4242")
    (tmp_path / ".run.tmp-4242").mkdir()
    (tmp_path / ".run.tmp-4242" / "checkpoint.pt").write_bytes(b"new")
    run = Run.load(target.path)
    assert run.config["run_id"] == "live-test" and _files(target.path) == before
    assert _siblings(target.path) == []

    target.path.rename(tmp_path / ".run.old-4243")  # also found by the rule that picks a run
    assert find_run_dir(None, runs_dir=tmp_path) == target.path and _files(target.path) == before


def test_a_run_left_aside_after_the_swap_is_deleted_by_the_next_writer(tmp_path: Path) -> None:
    target = make_run(tmp_path)
    (tmp_path / ".run.old-4242").mkdir()
    with target.writing("test"):
        pass
    assert _siblings(target.path) == []


def test_a_folder_that_is_not_a_run_is_never_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.tex").write_text("precious", encoding="utf-8")
    with pytest.raises(PersonaGraphError, match=r"documents exists and is not a run folder \(it holds thesis.tex\)"):
        with RunFolder(folder).writing("test"):
            RunFolder(folder).staging()
    assert (folder / "thesis.tex").read_text(encoding="utf-8") == "precious"
    assert _siblings(folder) == []


def test_hidden_work_in_progress_is_never_picked_as_a_run(tmp_path: Path) -> None:
    make_run(tmp_path)
    staged = tmp_path / ".run.tmp-1"
    staged.mkdir()
    (staged / "config.json").write_text('{"run_id": "half"}', encoding="utf-8")
    os.utime(staged / "config.json", (2e9, 2e9))  # newer than the real run
    assert find_run_dir(None, runs_dir=tmp_path) == tmp_path / "run"


# -- one writer at a time ---------------------------------------------------------------------
def test_a_second_writer_fails_naming_the_first(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run").create()
    with run.writing("personagraph update a.csv"):
        assert stat.S_IMODE(os.stat(run.lock_file).st_mode) == 0o600
        with pytest.raises(LockBusy) as busy, run.writing("personagraph update b.csv"):
            pass
        message = str(busy.value)
        assert message.startswith(f"run folder {run.path} is in use by personagraph update a.csv "
                                  f"(pid {os.getpid()}, since ")
        assert "pass --wait SECONDS" in message and busy.value.holder.command == "personagraph update a.csv"
        with pytest.raises(LockBusy, match=r"after waiting 0.2 s"), run.writing("b", wait=0.2):
            pass
    with run.writing("personagraph update b.csv"):  # free again once the first is done
        pass
