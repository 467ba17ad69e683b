"""Transfer-learning strategies for backbones: what is frozen, at which learning rate, with which augmentation.

``zoo adapt NAME --head N --strategy S`` (:func:`zoo.tasks.adapt`) applies one of:

* ``linear-probe``: the whole backbone frozen, only the new head trained (the "CNN as a
  fixed feature extractor" of CS231n's transfer-learning notes; Kornblith et al. 2019's
  logistic-regression protocol trains the same head on fixed features).
* ``freeze-until``: every stage from the stem up to and including ``--freeze-until STAGE``
  frozen, the rest fine-tuned (the Keras fine-tuning guide's ``layer.trainable = False``).
* ``full``: everything trained (the default).
* ``gradual``: epoch 1 trains the head alone; each later epoch unfreezes one more stage,
  from the top down, until everything trains (ULMFiT's gradual unfreezing, Howard & Ruder
  2018 section 3.2, one layer group per epoch; fastai's ``fine_tune`` is its two-phase
  form: ``freeze_epochs=1`` then everything).

Around every strategy:

* **Discriminative learning rates** (``--lr-decay d``, 0 < d <= 1): one parameter group
  per stage, stage ``i`` of ``n`` (stem ``0``, head ``n - 1``) at ``lr * d ** (n - 1 - i)``:
  timm's layer decay (``timm.optim.create_optimizer_v2(layer_decay=...)``, scale
  ``decay ** (num_layers - layer_id)``) and fastai's ``slice(lo, hi)`` geometric spread,
  per stage. ``d = 1`` is one rate everywhere.
* **Frozen BatchNorm** (``--bn frozen``, the default): every ``BatchNorm2d`` of a frozen
  stage is replaced by a ``FrozenBatchNorm2d`` (timm's ``freeze_batch_norm_2d``,
  torchvision's ``FrozenBatchNorm2d``): its statistics and affine parameters are
  buffers, so no later ``model.train()`` can update them. ``--bn train`` leaves frozen
  stages' BatchNorm layers as they are, in training mode: their running statistics adapt
  to the target data (AdaBN, Li et al. 2016) while their affine parameters stay frozen.
* **Augmentation presets** (``--augment``), built with ``torchvision.transforms.v2``:
  ``none``; ``basic`` (the default: random resized crops and flips on photographs,
  shifts, rotations and scaling on small built-in images); ``heavy`` (basic plus colour
  casts, blur and noise: the operations the course notes list); ``trivialaugment``
  (basic plus ``TrivialAugmentWide``, Mueller & Hutter 2021) and ``randaugment`` (basic
  plus ``RandAugment(num_ops=2, magnitude=9)``, Cubuk et al. 2020).

Imports torch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.io.official import check_choice
from zoo.registry.spec import check_stage

__all__ = [
    "AUGMENTS",
    "BN_MODES",
    "STRATEGIES",
    "augment_float_ops",
    "augment_ops",
    "check_lr_decay",
    "check_strategy",
    "freeze_norms",
    "gradual_frozen_until",
    "thaw_norms",
]

STRATEGIES = ("full", "linear-probe", "freeze-until", "gradual")
BN_MODES = ("frozen", "train")
AUGMENTS = ("none", "basic", "heavy", "trivialaugment", "randaugment")


def check_strategy(strategy: str | None, freeze_until: str | None, stages: list[str], model: str) -> tuple[str, str | None]:
    """Validate a strategy and its ``freeze_until`` stage; return ``(strategy, stage frozen at the start)``.

    ``strategy`` ``None`` means ``freeze-until`` when ``freeze_until`` is given, else ``full``.
    The stage frozen at the start is ``None`` (nothing) for ``full``, the stage before the
    head for ``linear-probe`` and ``gradual`` (epoch 1), ``freeze_until`` for ``freeze-until``.

    Args:
        strategy: one of :data:`STRATEGIES` or ``None``.
        freeze_until: a stage name or ``None``.
        stages: the model's stage names, stem to head.
        model: the model's name (for messages).

    Raises:
        ZooError: an unknown strategy; ``freeze-until`` without a stage, or a stage given
            with another strategy; an unknown stage; a model of one stage (exit code 2).
    """
    if strategy is None:
        strategy = "freeze-until" if freeze_until is not None else "full"
    check_choice(strategy, STRATEGIES, "strategy")
    if strategy == "freeze-until":
        if freeze_until is None:
            raise ZooError(
                f"{{param}} freeze-until needs --freeze-until STAGE; {model}'s stages: {', '.join(stages[:-1])}",
                param="strategy",
                exit_code=2,
            )
        check_stage(model, freeze_until, stages)
        return strategy, freeze_until
    if freeze_until is not None:
        raise ZooError(
            f"--freeze-until goes with --strategy freeze-until, not {strategy}; drop one of them", param="freeze_until", exit_code=2
        )
    if strategy == "full":
        return strategy, None
    if len(stages) < 2:
        raise ZooError(f"{model} has a single stage; use --strategy full", param="strategy", exit_code=2)
    return strategy, stages[-2]


def check_lr_decay(lr_decay: float | None) -> float | None:
    """``lr_decay`` when it is in ``(0, 1]`` (or ``None``).

    Raises:
        ZooError: outside ``(0, 1]`` or not finite (exit code 2).
    """
    if lr_decay is None:
        return None
    if not (0.0 < float(lr_decay) <= 1.0):
        raise ZooError(
            f"{{param}} must be in (0, 1] (each earlier stage's rate is lr times it), got {lr_decay}; try 0.5",
            param="lr_decay",
            exit_code=2,
        )
    return float(lr_decay)


def gradual_frozen_until(stages: list[str], epoch: int) -> str | None:
    """The last frozen stage at ``epoch`` (1-based) of ``gradual``; ``None`` once everything trains.

    Epoch 1 trains the head alone (``stages[-2]`` and everything before it frozen); epoch
    ``e`` has the top ``e - 1`` stages below the head unfrozen as well.

    Example (ResNet ``conv1 layer1 layer2 layer3 layer4 fc``): epoch 1 -> ``layer4``,
    2 -> ``layer3``, 3 -> ``layer2``, 4 -> ``layer1``, 5 -> ``conv1``, 6 and later -> ``None``.
    """
    index = len(stages) - 1 - max(1, epoch)
    return stages[index] if index >= 0 else None


# -- structural BatchNorm freezing ------------------------------------------------------------
def freeze_norms(model: nn.Module, roots: list[str], stash: dict[str, nn.Module]) -> None:
    """Freeze every BatchNorm layer under the modules ``roots`` structurally, keeping the originals.

    Each ``BatchNorm2d`` (timm's ``BatchNormAct2d`` included) is replaced by timm's
    ``freeze_batch_norm_2d`` of it: a ``FrozenBatchNorm2d`` (torchvision's) or
    ``FrozenBatchNormAct2d`` whose statistics and affine parameters are buffers (state-dict
    names ``weight``, ``bias``, ``running_mean``, ``running_var``; no
    ``num_batches_tracked``), so no ``model.train()`` can update them. The original module
    is kept in ``stash`` under its dotted path, so :func:`thaw_norms` can put back the very
    same ``nn.Parameter`` objects (an optimizer built over them stays valid); timm's
    ``unfreeze_batch_norm_2d`` would make new ones. Layers already frozen are left alone.
    """
    from timm.layers import freeze_batch_norm_2d

    for root in roots:
        module = model.get_submodule(root)
        targets = [(f"{root}.{n}" if n else root, m) for n, m in module.named_modules() if isinstance(m, nn.BatchNorm2d)]
        for path, bn in targets:
            _set(model, path, freeze_batch_norm_2d(bn))
            stash[path] = bn


def thaw_norms(model: nn.Module, roots: list[str], stash: dict[str, nn.Module]) -> None:
    """Undo :func:`freeze_norms` under ``roots``: the stashed ``BatchNorm2d`` goes back with the
    frozen layer's current values (e.g. loaded from a checkpoint) copied into it."""
    prefixes = tuple(r + "." for r in roots)
    for path in [p for p in stash if p in roots or p.startswith(prefixes)]:
        bn, frozen = stash.pop(path), model.get_submodule(path)
        device = frozen.running_mean.device
        bn.to(device)
        with torch.no_grad():
            if bn.affine:
                bn.weight.copy_(frozen.weight)
                bn.bias.copy_(frozen.bias)
            bn.running_mean.copy_(frozen.running_mean)
            bn.running_var.copy_(frozen.running_var)
        _set(model, path, bn)


def _set(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, leaf = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, leaf, module)


# -- augmentation --------------------------------------------------------------------------------
def augment_ops(preset: str, size: int, *, resize_only: bool, interpolation: Any) -> list[Any]:
    """The random ``torchvision.transforms.v2`` operations of ``preset`` for training.

    Photographs (``resize_only`` false) start from ``RandomResizedCrop(size, scale=(0.5, 1))``
    and a horizontal flip (``none``: resize by ``size`` and centre-crop instead); small
    built-in images (``resize_only``: 8x8 digits, 25x25 faces) are resized to ``size`` and
    get ``RandomAffine(degrees=10, translate=(0.08, 0.08), scale=(0.9, 1.1))`` (no flips: a
    mirrored digit is another symbol). Operations on uint8 images come before
    ``ToDtype``; ``heavy``'s noise comes after (see :func:`augment_float_ops`).

    Args:
        preset: one of :data:`AUGMENTS`.
        size: output side in pixels.
        resize_only: the small-image variant.
        interpolation: a ``torchvision.transforms.InterpolationMode``.

    Raises:
        ZooError: an unknown preset (exit code 2).
    """
    from torchvision.transforms import v2

    check_choice(preset, AUGMENTS, "augment")
    ops: list[Any]
    if resize_only:
        ops = [v2.Resize((size, size), interpolation=interpolation, antialias=True)]
        if preset != "none":
            ops.append(v2.RandomAffine(degrees=10, translate=(0.08, 0.08), scale=(0.9, 1.1)))
    elif preset == "none":
        ops = [v2.Resize(size, interpolation=interpolation, antialias=True), v2.CenterCrop(size)]
    else:
        ops = [v2.RandomResizedCrop(size, scale=(0.5, 1.0), interpolation=interpolation, antialias=True), v2.RandomHorizontalFlip()]
    if preset == "heavy":
        blur = max(3, (size // 16) | 1)  # odd kernel, about 6 % of the side
        ops += [
            v2.RandomApply([v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05)], p=0.8),
            v2.RandomApply([v2.GaussianBlur(blur, sigma=(0.1, 1.5))], p=0.3),
        ]
    elif preset == "trivialaugment":
        ops.append(v2.TrivialAugmentWide(interpolation=interpolation))
    elif preset == "randaugment":
        ops.append(v2.RandAugment(num_ops=2, magnitude=9, interpolation=interpolation))
    return ops


def augment_float_ops(preset: str) -> list[Any]:
    """Operations of ``preset`` on float images in ``[0, 1]`` (after ``ToDtype``, before
    normalising): ``heavy`` adds ``GaussianNoise(sigma=0.03)`` half the time and clamps."""
    from torchvision.transforms import v2

    if preset == "heavy":
        return [v2.RandomApply([v2.GaussianNoise(sigma=0.03, clip=True)], p=0.5)]
    return []
