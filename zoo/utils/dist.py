"""This process's place in a torchrun job, and the process group: what the data loaders, the
trainer and the CLI entry point all need, below them all.

torchrun starts N copies of ``python -m zoo`` with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT`` set (:func:`context` reads them); :func:`init` joins the
process group, :func:`shutdown` leaves it. How the processes then train as one is
:mod:`zoo.training.distributed`.

Importing this module does not import torch.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
from dataclasses import dataclass
from typing import Any

from zoo.errors import ZooError, first_line

__all__ = [
    "DistContext",
    "broadcast_from_main",
    "check_batch_size",
    "context",
    "epoch_seed",
    "init",
    "is_main_process",
    "local_device",
    "shutdown",
]


@dataclass(frozen=True)
class DistContext:
    """This process's place in a torchrun job.

    Attributes:
        rank: 0 .. world_size - 1 (0 when not launched).
        world_size: number of processes (1 when not launched).
        local_rank: index on this machine (the GPU it uses).
        launched: started by torchrun (``RANK`` and ``WORLD_SIZE`` set), even with one process:
            the data order is then the DistributedSampler's, the same for any number of processes.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    launched: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes and prints."""
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ZooError(
            f"environment variable {name}={value!r} is not an integer; torchrun sets it: "
            f"launch with 'torchrun --nproc-per-node N -m zoo ...' or unset {name}",
            exit_code=2,
        ) from None


def context() -> DistContext:
    """This process's :class:`DistContext`, read from torchrun's environment variables.

    Raises:
        ZooError: (exit code 2) ``RANK``, ``WORLD_SIZE`` or ``LOCAL_RANK`` is not an integer,
            or ``RANK`` is not in ``0 .. WORLD_SIZE - 1``.
    """
    launched = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    rank, world = _env_int("RANK", 0), _env_int("WORLD_SIZE", 1)
    local = _env_int("LOCAL_RANK", rank if launched else 0)
    if launched and not (world >= 1 and 0 <= rank < world):
        raise ZooError(
            f"RANK={rank} is outside 0..WORLD_SIZE-1 (WORLD_SIZE={world}); launch with 'torchrun --nproc-per-node N -m zoo ...'",
            exit_code=2,
        )
    return DistContext(rank=rank, world_size=world if launched else 1, local_rank=local, launched=launched)


def is_main_process() -> bool:
    """True on rank 0 or when not launched by torchrun (the process that writes files)."""
    return context().is_main


def epoch_seed(seed: int, epoch: int) -> int | None:
    """The seed of this process's random draws in ``epoch`` under torchrun, from
    ``(seed, rank, epoch)`` (``numpy.random.SeedSequence``); ``None`` when not launched (a
    single process keeps its one stream, as before)."""
    ctx = context()
    if not ctx.launched:
        return None
    import numpy as np

    return int(np.random.SeedSequence([seed, ctx.rank, epoch]).generate_state(1, dtype=np.uint32)[0])


def init() -> DistContext:
    """Join the torchrun job's process group when there are several processes (once per process).

    The backend is gloo for CPU tensors and NCCL for CUDA tensors (``"cpu:gloo,cuda:nccl"``
    where CUDA and NCCL are available, else ``"gloo"``); :func:`shutdown` runs at exit.

    Raises:
        ZooError: ``MASTER_ADDR`` or ``MASTER_PORT`` is missing, torch has no
            ``torch.distributed``, or the group cannot be joined.
    """
    ctx = context()
    if ctx.world_size < 2:
        return ctx
    import torch
    import torch.distributed as dist

    if not dist.is_available():
        raise ZooError("this torch build has no torch.distributed; install a torch wheel from pytorch.org to train on several processes")
    if dist.is_initialized():
        return ctx
    missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(v)]
    if missing:
        raise ZooError(f"{' and '.join(missing)} not set: launch with 'torchrun --nproc-per-node N -m zoo ...'", exit_code=2)
    backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
    where = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
    try:
        dist.init_process_group(backend, rank=ctx.rank, world_size=ctx.world_size)
    except (RuntimeError, ValueError) as exc:
        raise ZooError(f"cannot join the {ctx.world_size}-process run at {where} as rank {ctx.rank} ({first_line(exc, 160)})") from exc
    atexit.register(shutdown)
    return ctx


def shutdown() -> None:
    """Leave the process group if joined (``destroy_process_group``); never raises."""
    import sys

    if "torch" not in sys.modules:
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        gc.collect()  # DDP wrappers still alive at interpreter exit can abort it
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def local_device(device: Any) -> Any:
    """``device`` (a ``torch.device``) for this process: under torchrun a CUDA device without
    an index becomes ``cuda:LOCAL_RANK``, and a CUDA device is made current (NCCL needs it)."""
    import torch

    ctx = context()
    if device.type == "cuda" and ctx.launched:
        device = torch.device("cuda", ctx.local_rank) if device.index is None else device
        torch.cuda.set_device(device)
    return device


def check_batch_size(batch_size: int, world_size: int) -> int:
    """The per-process batch: ``batch_size / world_size``.

    Raises:
        ZooError: (exit code 2, ``{param}`` = ``batch_size``) ``batch_size`` is not a multiple
            of ``world_size``.
    """
    if batch_size % world_size:
        up = -(-batch_size // world_size) * world_size
        raise ZooError(
            f"{{param}} {batch_size} is the global batch and must split evenly over the {world_size} processes; use {{param}} {up}",
            param="batch_size",
            exit_code=2,
        )
    return batch_size // world_size


def broadcast_from_main(value: Any) -> Any:
    """Rank 0's ``value`` on every process of a torchrun job whose process group is joined
    (``torch.distributed.broadcast_object_list``: any picklable object); ``value`` itself
    without torchrun, with one process, or before :func:`init`. Every process must call it
    at the same point (a collective). Used where one process decides for all, such as the
    default output name that rank 0 claims (:func:`zoo.utils.outputs.claim_output`).

    Raises:
        ZooError: the broadcast failed (another process stopped).
    """
    ctx = context()
    if ctx.world_size < 2:
        return value
    import sys

    if "torch" not in sys.modules:  # the group is joined only once torch is loaded
        return value
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    box = [value if ctx.is_main else None]
    try:
        dist.broadcast_object_list(box, src=0)
    except (RuntimeError, ValueError) as exc:
        raise ZooError(f"rank {ctx.rank} could not receive rank 0's decision ({first_line(exc, 160)}); another process stopped") from exc
    return box[0]
