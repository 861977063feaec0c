"""Private folders and files get owner-only modes whatever the umask says."""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from personagraph.private_files import make_private_dir, make_private_file, write_private_text


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o000, 0o022, 0o077], ids=["umask 000", "umask 022", "umask 077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def test_new_folders_and_their_new_parents_are_private(tmp_path: Path, umask: int) -> None:
    leaf = make_private_dir(tmp_path / "a" / "b" / "c")
    for folder in (tmp_path / "a", tmp_path / "a" / "b", leaf):
        assert _mode(folder) == 0o700, folder
    assert make_private_dir(leaf) == leaf  # existing: fine


def test_existing_folders_are_tightened_only_when_asked(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    make_private_dir(shared)
    assert _mode(shared) == 0o755
    make_private_dir(shared, tighten=True)
    assert _mode(shared) == 0o700


def test_private_files(tmp_path: Path, umask: int) -> None:
    secret = write_private_text(tmp_path / "secret", "s3cret")
    assert secret.read_text() == "s3cret" and _mode(secret) == 0o600
    with pytest.raises(FileExistsError):
        write_private_text(secret, "again")  # never overwrites
    empty = make_private_file(tmp_path / "empty")
    assert empty.read_bytes() == b"" and _mode(empty) == 0o600


def test_existing_files_are_tightened_only_when_asked(tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.write_text("kept")
    os.chmod(old, 0o644)
    make_private_file(old)
    assert _mode(old) == 0o644
    make_private_file(old, tighten=True)
    assert _mode(old) == 0o600 and old.read_text() == "kept"
