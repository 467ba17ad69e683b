"""Several processes or machines: ``torchrun --nproc-per-node N -m zoo train|adapt ...``.

torchrun starts N copies of ``python -m zoo`` with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT`` set; they train as one DistributedDataParallel run (each
process computes the gradient of its share of every batch; gradients are averaged before
each optimizer step). gloo carries CPU tensors, NCCL CUDA ones (``--device cuda`` is
``cuda:LOCAL_RANK``).

* **Batches.** ``--batch-size`` B is the *global* batch: each process loads B / N images of
  its ``DistributedSampler(shuffle=True, seed=seed)`` shard. Global batch ``i`` is images
  ``i*B .. (i+1)*B - 1`` of the sampler's permutation for any N, so N processes train as one
  torchrun process with the same batch, learning rate and schedule, up to float summation
  order (``tests/test_distributed.py``). A training split N does not divide is padded with
  repeated images (DistributedSampler's rule); the held-out split is not.
* **Randomness.** Every process seeds alike before the model is built; training draws
  (augmentation, dropout, GAN noise) come from a stream per process and epoch
  (:func:`epoch_seed`), so a resumed run continues exactly with the same N.
* **Batch norm** normalises over each process's B / N images; running statistics are rank
  0's (DDP broadcasts buffers). ``SyncBatchNorm`` refuses CPU tensors, so zoo does not
  convert; the exact 1-vs-2-process test uses a network without batch norm.
* **Wrapping.** A backbone's ``adapter.model``, or each network of a GAN's ``ModuleDict``
  separately (one reducer per optimizer's network), swapped in only while ``training_step``
  runs (:meth:`Replicas.forward`): validation, sampling, callbacks and checkpoints see bare
  networks. In the generator step the discriminator's parameters are out of the graph
  (:func:`zoo.models.gan_steps.without_param_grads`): its reducer sees no gradient, which DDP accepts.
  Every backbone and every network of vanilla GAN, cGAN, DCGAN, LAPGAN and CycleGAN uses all
  its trainable parameters in its own step (checked), so ``find_unused_parameters`` is off.
  Networks whose trainable parameters changed are wrapped again at the next epoch.
* **Rank 0 writes and prints** (:func:`rank_zero_run`, :class:`ReplicaCheckpoint`); logs and
  validation sums are gathered, the divergence flag and time budget agreed on at the same
  iterations (:meth:`Replicas.poll`), so every process stops together. A process that fails
  exits; the others' next collective fails and they stop with one line
  (:meth:`Replicas.failure`); torchrun stops them too.

Importing this module does not import torch (``python -m zoo list`` stays fast).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError, first_line
from zoo.utils.dist import context, epoch_seed, init, is_main_process

if TYPE_CHECKING:
    from zoo.models.protocols import Adapter

__all__ = ["ReplicaCheckpoint", "Replicas", "rank_zero_run"]

#: Iterations before the first agreed check of a fit (they also time a step).
FIRST_POLL = 5


class ReplicaCheckpoint:
    """A run's checkpointer as seen by ranks other than 0: ``save`` writes nothing but records
    the epoch, so ``saved_epoch``, ``last_dir`` and ``resume_command`` (delegated) and the
    messages built from them (divergence, Ctrl-C) match rank 0's."""

    def __init__(self, checkpoint: Any) -> None:
        self._checkpoint = checkpoint
        self.saved_epoch = getattr(checkpoint, "saved_epoch", None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._checkpoint, name)

    def save(self, trainer: Any, adapter: Adapter, epoch: int, metrics: Any) -> None:
        """Record ``epoch`` as saved (rank 0 saves it)."""
        self.saved_epoch = epoch


class _ReplicaRun:
    """:class:`zoo.training.runs.Run` on ranks other than 0: reads what the run reads (``saved``,
    ``resume_dir``, :meth:`restore`), has no output directory (``out`` is ``None``: no sample
    grids), no TensorBoard log, and :meth:`finish` only records rank 0's ``out`` in the summary."""

    out = None

    def __init__(self, run: Any) -> None:
        self._run = run

    def __getattr__(self, name: str) -> Any:
        return getattr(self._run, name)

    def tensorboard(self, options: Any, state: Any) -> None:
        """No TensorBoard log: rank 0 writes the run's."""
        return None

    def finish(self, adapter: Adapter, summary: dict[str, Any], meta: dict[str, Any], checkpoints: Any) -> None:
        """Write nothing; ``summary["out"]`` is rank 0's directory."""
        if self._run.out is not None:
            summary["out"] = str(self._run.out)


def rank_zero_run(run: Any) -> Any:
    """``run`` (a :class:`zoo.training.runs.Run`) on rank 0 or without torchrun; on the other ranks a
    stand-in that writes nothing (the trainer also saves checkpoints on rank 0 only)."""
    return run if is_main_process() else _ReplicaRun(run)


def _sum(parts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = out.get(k, 0) + v
    return out


def _networks(adapter: Adapter) -> dict[str, Any]:
    """The networks DDP wraps: each item of a GAN's ``ModuleDict``, or a backbone's ``model`` (key ``""``)."""
    from torch import nn

    model = adapter.model
    if isinstance(model, nn.ModuleDict):
        return dict(model.items())
    return {"": model}


class Replicas:
    """What :class:`zoo.training.trainer.Trainer` does differently with several processes, for one fit:
    :meth:`start_epoch` (``set_epoch``, DDP wrappers), :meth:`forward` (wrappers in place),
    :meth:`poll` and :meth:`agree` (agreed checks), :meth:`gather_logs` / :meth:`gather_totals` (sums over the
    processes), :meth:`running` (failures, clean-up). With one process only ``set_epoch`` and the
    torchrun reseeding remain.

    Args:
        device: the training device (``torch.device``).
        check_every_s: about how many seconds between agreed checks.

    Raises:
        ZooError: the process group cannot be joined (:func:`init`).
    """

    def __init__(self, device: Any, *, check_every_s: float = 2.0) -> None:
        ctx = context()
        self.ctx, self.device, self.check_every_s = ctx, device, check_every_s
        self.active = ctx.world_size > 1
        self.is_main = ctx.is_main
        self._wrapped: dict[str, Any] = {}
        self._bare: dict[str, Any] = {}
        self._signature: Any = None
        self._polls, self._next_poll = 0, FIRST_POLL
        if self.active:
            init()

    def checkpoint(self, checkpoint: Any) -> Any:
        """``checkpoint`` on rank 0; a :class:`ReplicaCheckpoint` of it elsewhere."""
        if checkpoint is None or self.is_main or isinstance(checkpoint, ReplicaCheckpoint):
            return checkpoint
        return ReplicaCheckpoint(checkpoint)

    def start_epoch(self, adapter: Adapter, loader: Any, epoch: int, seed: int) -> None:
        """Before ``epoch`` (1-based): the sampler's ``set_epoch(epoch)``; under torchrun every
        generator reseeded with :func:`epoch_seed`; with several processes the DDP wrappers
        (re)built if the trainable parameters changed."""
        sampler = getattr(loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        if (reseed := epoch_seed(seed, epoch)) is not None:
            from zoo.utils.seeding import seed_everything

            seed_everything(reseed)
        if not self.active:
            return
        nets = _networks(adapter)
        signature = [(name, id(net), tuple(p.requires_grad for p in net.parameters())) for name, net in nets.items()]
        if signature == self._signature:
            return
        self._drop()
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        for name, net in nets.items():
            if any(p.requires_grad for p in net.parameters()):  # DDP refuses a network with nothing to train
                self._bare[name] = net
                self._wrapped[name] = DDP(net, device_ids=ids, find_unused_parameters=False)
        self._signature = signature

    @staticmethod
    def _install(adapter: Adapter, modules: dict[str, Any]) -> None:
        for name, module in modules.items():
            if name == "":
                adapter.model = module
            else:
                adapter.model[name] = module

    @contextlib.contextmanager
    def forward(self, adapter: Adapter) -> Iterator[None]:
        """The DDP wrappers in ``adapter.model`` (a backbone) or ``adapter.model[name]`` (a GAN's
        networks) inside the block, the bare networks after it."""
        self._install(adapter, self._wrapped)
        try:
            yield
        finally:
            self._install(adapter, self._bare)

    def _drop(self) -> None:
        self._wrapped.clear()
        self._bare.clear()
        self._signature = None
        gc.collect()  # the wrappers' reducers go now, not at interpreter exit

    @contextlib.contextmanager
    def running(self, adapter: Adapter) -> Iterator[None]:
        """Around a fit's epochs: a collective that failed because another process stopped
        becomes one :class:`ZooError` (:meth:`failure`); afterwards the bare networks are back
        in ``adapter`` and the wrappers dropped."""
        try:
            yield
        except RuntimeError as exc:
            failure = self.failure(exc)
            if failure is None:
                raise
            raise failure from exc
        finally:
            self._install(adapter, self._bare)
            self._drop()

    def poll(self, bad: Any, over_budget: bool, elapsed: float) -> tuple[int | None, bool]:
        """Called after every iteration by every process: ``(None, False)`` except on the
        iterations where all of them check together (the 5th, then about every
        ``check_every_s`` as the slowest process's mean iteration time, ``elapsed`` seconds
        since the fit started, says); there ``(first bad step, stop)``: the smallest divergence
        flag (:data:`zoo.training.resume.NO_BAD_STEP` when none), and whether any process's budget ended."""
        self._polls += 1
        if not self.active or self._polls < self._next_poll:
            return None, False
        import torch
        import torch.distributed as dist

        us = int(1e6 * elapsed / self._polls)
        # one int64 all-reduce (MIN): the first bad step, -(budget over), -(slowest step in µs)
        agreed = torch.stack([bad.reshape(()).to("cpu", torch.int64), torch.tensor(-int(over_budget)), torch.tensor(-us)]).to(self.device)
        dist.all_reduce(agreed, op=dist.ReduceOp.MIN)
        flag, stop, slowest = agreed.tolist()
        self._next_poll = self._polls + max(1, min(10_000, round(self.check_every_s * 1e6 / max(1, -slowest))))
        return int(flag), stop < 0

    def agree(self, flag: bool) -> bool:
        """Whether ``flag`` holds on any process (every process calls it at the same point; one
        all-reduce with several processes: the trainer's end-of-epoch time check)."""
        if not self.active:
            return bool(flag)
        import torch
        import torch.distributed as dist

        agreed = torch.tensor([int(bool(flag))], dtype=torch.int64).to(self.device)
        dist.all_reduce(agreed, op=dist.ReduceOp.MAX)
        return bool(agreed.item())

    def gather_logs(self, totals: dict[str, float], counts: dict[str, int], bad: int) -> tuple[dict[str, float], dict[str, int], int]:
        """Logged sums and counts summed over every process, and the smallest divergence flag."""
        if not self.active:
            return totals, counts, bad
        parts = self._gather((totals, counts, bad))
        return _sum([p[0] for p in parts]), _sum([p[1] for p in parts]), min(p[2] for p in parts)

    def gather_totals(self, totals: dict[str, float]) -> dict[str, float]:
        """``validation_step`` sums over every process's shard of the held-out split."""
        return _sum(self._gather(totals)) if self.active else totals

    def _gather(self, obj: Any) -> list[Any]:
        import torch.distributed as dist

        parts: list[Any] = [None] * self.ctx.world_size
        dist.all_gather_object(parts, obj)  # once per epoch: small dicts, whatever their keys
        return parts

    def failure(self, exc: BaseException) -> ZooError | None:
        """The one-line error for a collective that failed because another process stopped
        (gloo: connection closed; NCCL: ``DistBackendError``), or ``None`` for other errors."""
        if not self.active or isinstance(exc, ZooError) or not isinstance(exc, RuntimeError):
            return None
        import torch.distributed as dist

        text = str(exc)
        peer = any(s in text for s in ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "gloo/transport"))
        if not (peer or isinstance(exc, getattr(dist, "DistError", ()))):
            return None
        cause = "its connection closed" if peer else first_line(exc, 120)
        return ZooError(
            f"rank {self.ctx.rank} of {self.ctx.world_size} stopped because another process of the run failed ({cause}); "
            "its error is printed above"
        )
