"""Building what adapters ask for (:mod:`zoo.models.optim`): ``torch.optim`` optimizers and
their schedulers, stepped once per training iteration by :class:`zoo.training.trainer.Trainer`.

Sources: ``torch.optim.lr_scheduler.CosineAnnealingLR``; CycleGAN's ``lambda_rule``
(junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py``) for ``linear_decay``.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.models.optim import ALGORITHMS, OptimizerConfig, Schedule

__all__ = ["build_optimizer", "build_scheduler", "step_scheduler"]


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
