"""torch.distributed for training: process group, device, rank-0 decisions.

``graspnet-ros train`` runs unchanged under ``torchrun``: torchrun sets
``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``, and :func:`init_distributed` joins that process group
(gloo on the CPU, NCCL on CUDA). Without those variables it is a
one-process context and nothing distributed is touched.

Device choice (``--device``): ``cpu``, ``cuda`` (``cuda:LOCAL_RANK`` under
torchrun; an error when CUDA is missing) or ``auto`` (CUDA when present).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.distributed as dist

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """The torch device for ``device`` in {auto, cpu, cuda} (cuda: ``cuda:local_rank``)."""
    if device not in DEVICES:
        raise ValueError(f"--device must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError("--device cuda: this torch build sees no CUDA device "
                         f"(torch {torch.__version__}); use --device cpu or auto")
    if local_rank >= torch.cuda.device_count():
        raise ValueError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} CUDA devices here; "
                         "start at most that many processes per node (torchrun --nproc_per_node)")
    return torch.device("cuda", local_rank)


@dataclass
class DistContext:
    """This process's place in the training job (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False  # this context initialised the process group (and destroys it)

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def on_main(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on rank 0 and give every rank its result; an exception on
        rank 0 is raised on every rank (as ValueError/FileNotFoundError with
        rank 0's message), so no rank waits for a peer that gave up."""
        if not self.distributed:
            return fn()
        box: list = [None]
        if self.is_main:
            try:
                box[0] = ("ok", fn())
            except (ValueError, FileNotFoundError, OSError) as exc:
                box[0] = ("error", type(exc).__name__, str(exc))
        dist.broadcast_object_list(box, src=0)
        if box[0][0] == "error":
            raise (FileNotFoundError if box[0][1] == "FileNotFoundError" else ValueError)(box[0][2])
        return box[0][1]

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Element-wise mean over ranks (the tensor itself with one process)."""
        if not self.distributed:
            return values
        out = values.to(self.device if self.device.type == "cuda" else "cpu").clone()
        dist.all_reduce(out)
        return (out / self.world_size).cpu()

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        """Leave the process group if this context created it."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def init_distributed(device: str = "auto") -> DistContext:
    """Join the torchrun process group described by the environment, if any.

    WORLD_SIZE > 1 (set by torchrun) initialises ``torch.distributed`` with
    the NCCL backend when the device is CUDA, else gloo (``env://``
    rendezvous through MASTER_ADDR:MASTER_PORT). A group that the caller has
    already initialised is used as it is.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if dist.is_available() and dist.is_initialized():
        world, rank = dist.get_world_size(), dist.get_rank()
    dev = resolve_device(device, local_rank)
    if world <= 1:
        return DistContext(device=dev)
    if not dist.is_available():
        raise ValueError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    owns = False
    if not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", init_method="env://",
                                world_size=world, rank=rank)
        owns = True
    return DistContext(rank, world, local_rank, dev, owns)
