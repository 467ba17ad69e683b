"""What an adapter asks of the trainer: optimizer and learning-rate schedule configs
(:mod:`zoo.training.optim` builds them).

Adapters describe their optimizers with :class:`OptimizerConfig` (which parameters, which
algorithm, which schedule); :class:`zoo.training.trainer.Trainer` builds the ``torch.optim``
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

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from zoo.errors import ZooError

__all__ = ["ALGORITHMS", "SCHEDULES", "OptimizerConfig", "Schedule"]

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
