"""Folders and files only their owner may read: state, run folders and caches hold raw user ids and behaviour.

Modes are set with an explicit chmod after creation, so neither a permissive nor a
restrictive umask decides who can read them.
"""
from __future__ import annotations

import os
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: str | Path, tighten: bool = False) -> Path:
    """Create ``path`` and its missing parents with mode 0700.

    A folder that already exists keeps its mode unless ``tighten`` is set: a folder
    the caller owns outright (a state or run folder) is then restricted too, while a
    folder that may be shared (a cache folder the user chose) is left alone.
    """
    path = Path(path)
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:  # created concurrently by another process
            continue
        os.chmod(folder, PRIVATE_DIR_MODE)
    if tighten and path not in missing:
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


def make_private_file(path: str | Path, tighten: bool = False) -> Path:
    """Create ``path`` empty with mode 0600 if it is missing; ``tighten`` restricts an existing one too."""
    path = Path(path)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        if tighten:
            os.chmod(path, PRIVATE_FILE_MODE)
        return path
    os.fchmod(descriptor, PRIVATE_FILE_MODE)
    os.close(descriptor)
    return path


def write_private_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to a new file that is private from the moment it exists (no readable window)."""
    path = Path(path)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    os.fchmod(descriptor, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    return path
