"""Checking training options before anything is loaded or built: :func:`check_training_args`,
shared by ``zoo train``, ``zoo adapt``, ``zoo pretrain`` and :class:`zoo.training.trainer.Trainer`
(which re-exports it).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from zoo.errors import ZooError
from zoo.utils.devices import amp_dtype, resolve_device
from zoo.utils.dist import check_batch_size, context
from zoo.utils.seeding import check_seed

if TYPE_CHECKING:
    import torch

__all__ = ["check_training_args"]


def check_training_args(
    *,
    device: str = "cpu",
    amp: str | None = None,
    epochs: int = 1,
    lr: float | None = None,
    batch_size: int | None = None,
    max_minutes: float | None = None,
    seed: int | None = None,
) -> torch.device:
    """Validate training options before any data is loaded or model built; returns the device.

    Errors about an argument name it as a ``{param}`` template (``epochs``, ``lr``,
    ``batch_size``, ``max_minutes``): the Python name in ``str(err)``, the flag in the CLI.
    Under torchrun ``batch_size`` is the global batch, split evenly over the processes.

    Raises:
        ZooError: device not available here, unknown ``amp`` (both from
            :mod:`zoo.utils.devices`), ``epochs < 1``, ``lr`` not positive and finite,
            ``batch_size < 1`` or not a multiple of the number of processes, ``max_minutes``
            not positive and finite, ``seed`` outside 0..2**32-1
            (:func:`zoo.utils.seeding.check_seed`) (exit code 2 for usage errors).
    """
    dev = resolve_device(device)
    amp_dtype(amp)
    if epochs < 1:
        raise ZooError(f"{{param}} must be at least 1, got {epochs}", param="epochs", exit_code=2)
    if lr is not None and not (lr > 0 and math.isfinite(lr)):
        raise ZooError(
            f"{{param}} must be a positive learning rate, got {lr}; typical: 1e-3 (AdamW), 2e-4 (GAN Adam)", param="lr", exit_code=2
        )
    check_seed(seed)
    if batch_size is not None:
        if batch_size < 1:
            raise ZooError(f"{{param}} must be at least 1, got {batch_size}", param="batch_size", exit_code=2)
        check_batch_size(batch_size, context().world_size)
    if max_minutes is not None and not (max_minutes > 0 and math.isfinite(max_minutes)):
        raise ZooError(
            f"{{param}} must be a positive, finite number of minutes, got {max_minutes}; leave it out for no limit",
            param="max_minutes",
            exit_code=2,
        )
    return dev
