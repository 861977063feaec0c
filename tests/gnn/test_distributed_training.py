"""Training on several processes: torchrun's variables, the split of a step, the same steps as one process."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from personagraph.errors import PersonaGraphError
from personagraph.gnn.distributed_training import DistributedTraining
from personagraph.gnn.profile_trainer import train_profile_model
from personagraph.gnn.train_config import TrainConfig
from planted_interests import planted_shop

REPO = Path(__file__).resolve().parents[2]
TORCHRUN = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
#: No dropout and no spectral part: one process and two then take exactly the same steps (up to rounding).
EXACT = dict(dim=16, epochs=2, patience=5, batch_size=16, lr=1e-2, dropout=0.0, spectral_dim=0)


def test_one_process_without_torchrun() -> None:
    processes = DistributedTraining.from_environment({})
    assert (processes.world_size, processes.is_main, processes.is_distributed) == (1, True, False)


def test_a_world_of_one_is_one_process() -> None:
    assert DistributedTraining.from_environment({"WORLD_SIZE": "1"}) == DistributedTraining()


def test_torchrun_variables_give_the_rank() -> None:
    processes = DistributedTraining.from_environment(TORCHRUN)
    assert processes == DistributedTraining(rank=1, world_size=2, local_rank=1, local_world_size=2)
    assert not processes.is_main


def test_incomplete_torchrun_variables_are_one_line_error() -> None:
    with pytest.raises(PersonaGraphError, match="MASTER_ADDR"):
        DistributedTraining.from_environment({key: value for key, value in TORCHRUN.items() if key != "MASTER_ADDR"})


@pytest.mark.parametrize("size", [0, 1, 7, 16])
def test_shares_cover_the_batch_once(size: int) -> None:
    batch = torch.arange(100, 100 + size)
    shares = [DistributedTraining(rank, 3, rank, 3).shard(batch) for rank in range(3)]
    assert torch.equal(torch.cat(shares), batch)
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _train_as_rank(rank: int, port: int, out: Path) -> None:
    os.environ |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    processes = DistributedTraining(rank=rank, world_size=2, local_rank=rank, local_world_size=2)
    processes.start()
    try:
        shop = planted_shop()
        result = train_profile_model(shop.graph, shop.targets, TrainConfig(**EXACT), progress=False,
                                     processes=processes)
        torch.save({"state": result.model.state_dict(), "history": result.history}, out / f"rank{rank}.pt")
    finally:
        processes.stop()


def test_two_processes_take_the_same_steps_as_one(tmp_path: Path) -> None:
    """Each process computes half of every batch; the all-reduced gradients are the whole batch's."""
    shop = planted_shop()
    alone = train_profile_model(shop.graph, shop.targets, TrainConfig(**EXACT), progress=False)
    mp.start_processes(_train_as_rank, args=(_free_port(), tmp_path), nprocs=2, start_method="fork")
    ranks = [torch.load(tmp_path / f"rank{rank}.pt") for rank in range(2)]
    for rank in ranks:
        for name, value in alone.model.state_dict().items():
            assert torch.allclose(rank["state"][name], value, atol=1e-5), name
        assert [row["loss"] for row in rank["history"]] == pytest.approx([row["loss"] for row in alone.history])
        assert rank["history"][-1]["recall@20"] == pytest.approx(alone.history[-1]["recall@20"], abs=1e-6)


def _train_command(data: Path, out: Path, cache: Path) -> list[str]:
    return ["train", str(data), "--out", str(out), "--no-sync", "--json", "--quiet", "--dim", "16",
            "--epochs", "20", "--spectral-dim", "0", "--cache-dir", str(cache)]


@pytest.mark.slow
def test_torchrun_trains_with_two_processes_like_one(tmp_path: Path) -> None:
    """`torchrun -m personagraph.cli train`: both processes finish, rank 0 alone writes and prints."""
    from personagraph.datasets.sample_shop import generate_sample_shop
    from trained_sample import EMBEDDING_CACHE

    generate_sample_shop(tmp_path / "shop", users=600, items=200, seed=3)
    environ = os.environ | {"OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "personagraph.cli", *_train_command(
        tmp_path / "shop", tmp_path / "one", EMBEDDING_CACHE)], capture_output=True, text=True, cwd=tmp_path,
        env=environ, timeout=600)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                          "-m", "personagraph.cli", *_train_command(tmp_path / "shop", tmp_path / "two",
                                                                    EMBEDDING_CACHE)],
                         capture_output=True, text=True, cwd=tmp_path, env=environ, timeout=600)
    assert two.returncode == 0, two.stderr[-2000:]
    printed = json.loads(two.stdout)  # one summary: only rank 0 prints
    written = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert printed["run_id"] == written["run_id"] and written["training_processes"] == 2
    assert not list(tmp_path.glob("two?*"))  # no second run folder or leftover staging beside it
    alone = json.loads(one.stdout)
    assert alone["training_processes"] == 1
    # Not identical (the gradients are summed in another order, dropout draws differ), but as good.
    assert abs(written["validation"]["recall@20"] - alone["validation"]["recall@20"]) < 0.05
