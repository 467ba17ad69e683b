"""Optimisation state that the trainer owns: optimizer and learning-rate schedule configs.

Adapters describe their optimizers with :class:`OptimizerConfig` (which parameters, which
algorithm, which schedule); :class:`zoo.trainer.Trainer` builds the ``torch.optim``
objects and schedulers from them, steps every scheduler once per iteration (not once per
yielded step), and keeps their state for checkpoints. So no adapter rebuilds optimizers,
schedulers or a grad scaler itself.

Schedules (:class:`Schedule`):

* ``constant``: the DCGAN paper and pytorch/examples (Adam, lr 2e-4, no decay).
* ``cosine``: ``torch.optim.lr_scheduler.CosineAnnealingLR`` over all iterations (timm,
  fastai's default for fine-tuning).
* ``linear_decay``: constant for ``decay_after_epochs`` epochs, then linear to 0 over the
  remaining ones, as CycleGAN (``--n_epochs 100 --n_epochs_decay 100``, ``lambda_rule`` in
  junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py``) and StarGAN (linear decay
  over the last ``num_iters_decay`` iterations, yunjey/stargan ``solver.py``) do; here at
  iteration granularity (``torch.optim.lr_scheduler.LambdaLR``).

Imports torch.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from zoo.errors import ZooError

__all__ = ["ALGORITHMS", "SCHEDULES", "OptimizerConfig", "Schedule", "build_optimizer", "build_scheduler", "step_scheduler"]

SCHEDULES = ("constant", "cosine", "linear_decay")
ALGORITHMS = ("adam", "adamw", "sgd")


@dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule, resolved per iteration by :func:`build_scheduler`.

    Attributes:
        kind: ``"constant"``, ``"cosine"`` or ``"linear_decay"``.
        decay_after_epochs: for ``linear_decay``: epochs at the initial rate before the
            linear decay to 0 starts (CycleGAN's ``n_epochs``); ``None`` = half the epochs.

    Raises:
        ZooError: unknown ``kind`` or a negative ``decay_after_epochs``.
    """

    kind: str = "constant"
    decay_after_epochs: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ZooError(f"unknown learning-rate schedule {self.kind!r}; valid: {', '.join(SCHEDULES)}", exit_code=2)
        if self.decay_after_epochs is not None and self.decay_after_epochs < 0:
            raise ZooError("{param} must be 0 or more epochs, got " + str(self.decay_after_epochs), param="decay_after_epochs", exit_code=2)


@dataclass
class OptimizerConfig:
    """One optimizer an adapter asks the trainer for.

    Attributes:
        param_groups: ``torch.optim`` parameter groups: a list of dicts with ``"params"``
            (a list of ``nn.Parameter``) and optional per-group options (``"lr"``,
            ``"weight_decay"``...). Parameters with ``requires_grad=False`` are dropped; a
            group left empty is dropped.
        lr: default learning rate of the groups.
        algorithm: ``"adam"``, ``"adamw"`` or ``"sgd"`` (momentum 0.9).
        betas: Adam/AdamW betas (GANs: ``(0.5, 0.999)`` after Radford et al. 2016).
        weight_decay: default weight decay of the groups.
        schedule: the learning-rate schedule.
        keep_frozen: keep parameters with ``requires_grad=False`` in their groups (a
            schedule that unfreezes them later, such as ``zoo adapt --strategy gradual``;
            Adam, AdamW and SGD skip a parameter whose gradient is ``None``).
    """

    param_groups: list[dict[str, Any]]
    lr: float
    algorithm: str = "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    schedule: Schedule = field(default_factory=Schedule)
    keep_frozen: bool = False

    @classmethod
    def for_params(cls, params: Iterable[torch.nn.Parameter], lr: float, **kwargs: Any) -> OptimizerConfig:
        """One group of ``params`` (e.g. ``net.parameters()``); ``kwargs`` as the attributes."""
        return cls([{"params": list(params)}], lr, **kwargs)


def build_optimizer(name: str, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimizer of ``cfg`` over its trainable parameters.

    Raises:
        ZooError: unknown algorithm, or no trainable parameter (every stage frozen).
    """
    if cfg.algorithm not in ALGORITHMS:
        raise ZooError(f"optimizer {name!r}: unknown algorithm {cfg.algorithm!r}; valid: {', '.join(ALGORITHMS)}")
    groups = []
    for g in cfg.param_groups:
        params = [p for p in g["params"] if p.requires_grad or cfg.keep_frozen]
        if params:
            groups.append({**g, "params": params})
    if not any(p.requires_grad for g in groups for p in g["params"]):
        raise ZooError(f"optimizer {name!r} has no trainable parameter (everything is frozen); freeze fewer stages")
    if cfg.algorithm == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    opt_cls = torch.optim.AdamW if cfg.algorithm == "adamw" else torch.optim.Adam
    return opt_cls(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def build_scheduler(opt: torch.optim.Optimizer, schedule: Schedule, *, iters_per_epoch: int, epochs: int) -> Any:
    """A scheduler stepped once per training iteration, or ``None`` for ``constant``.

    Args:
        opt: the optimizer.
        schedule: what to build.
        iters_per_epoch: training iterations (batches) per epoch, >= 1.
        epochs: planned epochs, >= 1.

    Returns:
        ``CosineAnnealingLR(opt, T_max=epochs * iters_per_epoch)`` for ``cosine``; a
        ``LambdaLR`` with factor ``1`` for the first ``decay_after_epochs * iters_per_epoch``
        iterations and then ``1 - k / (remaining + 1)`` at the ``k``-th decay iteration
        (CycleGAN's ``lambda_rule``, per iteration) for ``linear_decay``; ``None`` for ``constant``.
    """
    total = max(1, iters_per_epoch * epochs)
    if schedule.kind == "constant":
        return None
    if schedule.kind == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    after = schedule.decay_after_epochs if schedule.decay_after_epochs is not None else epochs // 2
    start = min(total, after * iters_per_epoch)
    span = max(1, total - start)

    def factor(it: int) -> float:
        return 1.0 if it < start else max(0.0, 1.0 - (it - start + 1) / (span + 1))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def step_scheduler(scheduler: Any) -> None:
    """Step ``scheduler`` once (an iteration ended). An optimizer that has not stepped yet
    (a generator under ``n_critic``, or an iteration skipped by the fp16 grad scaler)
    makes PyTorch warn about the call order; that order is intended here, so the warning
    is silenced."""
    if scheduler is None:
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`")
        scheduler.step()
