"""CycleGAN's data: two unpaired domains in one labelled data set, the translation direction, the official preprocessing.

A CycleGAN data set here is any data set with exactly two classes: label 0 is domain A,
label 1 domain B (``--data digits:3,8``; a folder with ``trainA/`` and ``trainB/``). The
official code reads ``trainA/`` and ``trainB/`` with its ``unaligned`` data set and pairs
each A image with a random B image; zoo's shuffled batches hold both domains, split here.
Preprocessing follows junyanz/pytorch-CycleGAN-and-pix2pix ``data/base_dataset.py``
``get_transform`` (``--preprocess resize_and_crop --load_size 286 --crop_size 256``, flips)
and ``test.py`` (``load_size = crop_size``, no flip). Imports torch.
"""

from __future__ import annotations

from typing import Any

import torch

from zoo.errors import ZooError

__all__ = ["DIRECTIONS", "official_transforms", "parse_direction", "split_domains"]

#: The two directions, as the official ``--direction`` option names them.
DIRECTIONS = ("AtoB", "BtoA")


def official_transforms(channels: int, size: int, *, train: bool) -> Any:
    """The official preprocessing, as a ``torchvision.transforms.v2`` pipeline to ``(channels, size, size)`` float32 in ``[-1, 1]``.

    Grey (``Grayscale(1)``) for one channel, RGB otherwise; ``train``: bicubic resize to
    ``round(size * 286 / 256)`` square, random crop ``size``, random horizontal flip (from
    torch's global RNG); otherwise a bicubic resize to ``size`` square (the aspect ratio is not
    kept, as officially). Then ``ToTensor`` and ``Normalize(0.5, 0.5)``.
    """
    from torchvision.transforms import v2

    ops: list[Any] = [v2.Grayscale(1) if channels == 1 else v2.RGB()]
    if train:
        load = round(size * 286 / 256)
        ops += [v2.Resize((load, load), interpolation=v2.InterpolationMode.BICUBIC), v2.RandomCrop(size), v2.RandomHorizontalFlip()]
    else:
        ops.append(v2.Resize((size, size), interpolation=v2.InterpolationMode.BICUBIC))
    ops += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5] * channels, [0.5] * channels)]
    return v2.Compose(ops)


def split_domains(images: torch.Tensor, labels: Any, *, model: str, domains: tuple[str, str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a batch into its domain-A (label 0) and domain-B (label 1) images.

    Args:
        images: ``(N, C, H, W)`` float images.
        labels: ``(N,)`` integer domain labels, on any device.
        model: the model's name, for messages.
        domains: the names of A and B, for messages.

    Returns:
        ``(images of A, images of B)``, each ``(N_x, C, H, W)`` (``N_x`` may be 0).

    Raises:
        ZooError: labels of another shape or dtype, or other than 0 and 1.
    """
    labels = labels.to(images.device)
    if labels.dim() != 1 or labels.shape[0] != images.shape[0] or labels.is_floating_point():
        raise ZooError(f"{model} needs one integer domain label per image, got labels of shape {tuple(labels.shape)} {labels.dtype}")
    wrong = (labels != 0) & (labels != 1)
    if bool(wrong.any()):
        a, b = domains
        raise ZooError(
            f"{model} domain labels must be 0 ({a}) or 1 ({b}), got {int(labels[wrong][0])}; train on data with exactly 2 classes"
        )
    return images[labels == 0], images[labels == 1]


def parse_direction(condition: Any, *, model: str, domains: tuple[str, str]) -> str:
    """``"AtoB"`` or ``"BtoA"`` for a translate/sample condition.

    Args:
        condition: ``None`` (``"AtoB"``), ``"AtoB"`` / ``"BtoA"`` (any case), or the target
            domain's name (``"8"`` for ``--data digits:3,8`` translates 3s into 8s).
        model: the model's name, for messages.
        domains: the names of A and B.

    Raises:
        ZooError: anything else; the message lists the valid values (exit code 2).
    """
    if condition is None:
        return "AtoB"
    text = str(condition).strip()
    for d in DIRECTIONS:
        if text.lower() == d.lower():
            return d
    for target, d in ((domains[1], "AtoB"), (domains[0], "BtoA")):
        if text == target or text.lower() == target.lower():
            return d
    raise ZooError(
        f"unknown translation direction {text!r} for {model}; valid: AtoB, BtoA, or the target domain: {domains[0]} (A) or {domains[1]} (B)",
        exit_code=2,
    )
