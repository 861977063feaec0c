"""Training on several processes (one machine or many) with ``torch.distributed``, launched by torchrun.

Every process builds the same graph and holds the same model; each training step's batch
of users is split between them, each computes the loss of its share, and
``DistributedDataParallel`` all-reduces the gradients, so a step sees the same global batch
as one process does. Decisions that must agree (validation scores, early stopping, the
training deadline) are taken by the main process (rank 0) and broadcast, and only the main
process writes the run folder and syncs Neo4j. Without torchrun's variables this is one
process and every method is a no-op.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from personagraph.errors import PersonaGraphError

T = TypeVar("T")

#: How long a process waits for the others at a collective (e.g. while rank 0 encodes texts the
#: others then read from the cache). torchrun stops every process when one fails, so a long
#: wait only ever ends by the others arriving.
COLLECTIVE_TIMEOUT = timedelta(hours=24)
#: The variables torchrun sets in every process it starts.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class DistributedTraining:
    """This process's place among the training processes: ``rank`` of ``world_size``.

    ``local_world_size`` processes share this machine, so each uses its share of the cores.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "DistributedTraining":
        """The processes torchrun started (its ``RANK``, ``WORLD_SIZE``, … variables), else one process."""
        environ = os.environ if environ is None else environ
        if environ.get("WORLD_SIZE", "1").strip() == "1":
            return cls()
        missing = [name for name in TORCHRUN_VARIABLES if not environ.get(name)]
        if missing:
            raise PersonaGraphError(
                f"WORLD_SIZE is set but {', '.join(missing)} not: start distributed training with torchrun "
                "(e.g. `torchrun --nproc-per-node 2 -m personagraph.cli train DATA_DIR`), or unset WORLD_SIZE"
            )
        try:
            world_size = int(environ["WORLD_SIZE"])
            local_world_size = int(environ.get("LOCAL_WORLD_SIZE", world_size))
            return cls(int(environ["RANK"]), world_size, int(environ["LOCAL_RANK"]), local_world_size)
        except ValueError:
            raise PersonaGraphError(
                "RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE must be integers (torchrun sets them)"
            ) from None

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes, syncs and prints (rank 0)."""
        return self.rank == 0

    def start(self) -> None:
        """Join the process group (gloo, CPU) and take this process's share of the machine's cores."""
        if not self.is_distributed:
            return
        import torch.distributed as dist

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(self.local_world_size, 1)))
        if not dist.is_initialized():
            dist.init_process_group("gloo", rank=self.rank, world_size=self.world_size, timeout=COLLECTIVE_TIMEOUT)

    def stop(self) -> None:
        if self.is_distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()

    def shard(self, batch: Tensor) -> Tensor:
        """This process's contiguous share of a step's ``batch`` (shares differ by at most one row)."""
        return batch.tensor_split(self.world_size)[self.rank] if self.is_distributed else batch

    def wrap(self, module: nn.Module) -> nn.Module:
        """``module`` whose gradients are averaged over the processes in ``backward`` (DDP on CPU).

        Buffers (the spectral basis) are equal on every process and never trained, so they are
        not re-broadcast at each step.
        """
        if not self.is_distributed:
            return module
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(module, forward_sync_buffers=False, find_unused_parameters=True)

    def sum(self, value: float) -> float:
        """``value`` summed over the processes."""
        if not self.is_distributed:
            return value
        import torch.distributed as dist

        total = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(total)
        return float(total)

    def from_main(self, compute: Callable[[], T]) -> T:
        """What ``compute()`` returns on the main process, on every process (only the main one computes).

        For decisions every process must take alike — validation scores, whether to stop —
        whatever each process's clock or floating-point rounding says.
        """
        if not self.is_distributed:
            return compute()
        import torch.distributed as dist

        box: list[Any] = [compute() if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    @contextmanager
    def main_first(self) -> Iterator[None]:
        """The main process runs the block first, the others after it (e.g. to fill a cache they then read)."""
        if self.is_distributed and not self.is_main:
            self._barrier()
        yield
        if self.is_distributed and self.is_main:
            self._barrier()

    def _barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def describe(self) -> str:
        return "1 process" if not self.is_distributed else f"{self.world_size} processes (torch.distributed, gloo)"
