"""Locks between processes: one holder at a time, named to whoever waits, never stale after a crash."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from personagraph.errors import PersonaGraphError
from personagraph.file_locks import LockBusy, file_lock, lock_holder


def test_a_waiter_gets_the_lock_when_the_holder_is_done(tmp_path: Path) -> None:
    path, order = tmp_path / "x.lock", []
    with file_lock(path, command="first"):
        waiter = threading.Thread(target=lambda: order.append(_take(path)))
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive() and lock_holder(path).command == "first"
        order.append("first done")
    waiter.join(5)
    assert order == ["first done", "second"]
    assert lock_holder(path) is None  # released: nobody is named any more


def _take(path: Path) -> str:
    with file_lock(path, wait=5, command="second"):
        return "second"


def test_a_crashed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    holder = ("import sys; from personagraph.file_locks import file_lock\n"
              "with file_lock(sys.argv[1], command='doomed'):\n    print('held', flush=True); sys.stdin.read()\n")
    process = subprocess.Popen([sys.executable, "-c", holder, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy) as busy, file_lock(path, wait=0, what="the thing"):
            pass
        assert str(busy.value).startswith(f"the thing is in use by doomed (pid {process.pid}, since ")
    finally:
        process.kill()
        process.wait()
    with file_lock(path, wait=0):  # the kernel released it with the process
        pass


def test_an_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(PersonaGraphError, match=rf"cannot write to {blocker / 'sub'} \(.*\); make it writable"):
        with file_lock(blocker / "sub" / "x.lock"):
            pass
    assert not os.path.exists(blocker / "sub")
