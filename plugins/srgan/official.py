"""Reading the official SRGAN checkpoints (and zoo's own) into the networks of :mod:`zoo.plugins.srgan.networks`, strictly.

The files (``registry.toml`` lists the released ones with their addresses):

* Lornatang/SRGAN-PyTorch at 8842030 (Apache-2.0), ``train_gan.py`` / ``utils.py``: a training
  dict ``{'epoch', 'psnr', 'ssim', 'state_dict', 'ema_state_dict', 'optimizer'}`` whose
  generator keys may carry ``_orig_mod.`` (torch.compile) and whose ``ema_state_dict`` is a
  ``torch.optim.swa_utils.AveragedModel`` (``module.`` keys plus ``n_averaged``). The
  official loader keeps only keys whose name and shape match, silently; ours is strict.
  Released: ``SRGAN_x4-ImageNet.pth.tar``, ``SRResNet_x4-ImageNet.pth.tar``,
  ``DiscriminatorForVGG_x4-ImageNet.pth.tar`` and the x2/x8 variants
  (https://huggingface.co/ChangyuLiu/SRGAN-PyTorch).
* leftthomas/SRGAN at b0323c6 (MIT): ``epochs/netG_epoch_{2,4,8}_100.pth``, plain state dicts
  saved by PyTorch 0.3 (no ``num_batches_tracked``), which exist only in git history.

Which file is which is told by keys only each kind has (the ``zoo_official_kinds`` hook in
:mod:`zoo.plugins.srgan`; :func:`zoo.io.official.identify_official`). Imports torch.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.io.official import check_choice, count_indexed, identify_official, load_strict, official_kind, read_official
from zoo.plugins.srgan.networks import DiscriminatorForVGG, LeftthomasGenerator, SRResNet

__all__ = ["GENERATOR_FILES", "generator_options", "load_official_srgan", "read_generator"]

#: What ``official_weights`` may be, for messages.
GENERATOR_FILES = "SRResNet_x4-ImageNet.pth.tar, SRGAN_x4-ImageNet.pth.tar, netG_epoch_4_100.pth or a zoo train srresnet/srgan checkpoint"


def _infer(flavour: str, part: str, state: Mapping[str, torch.Tensor]) -> dict[str, int]:
    """The constructor arguments read from the shapes, or ``{}`` (defaults) when the keys are not there."""
    if flavour == "leftthomas":
        n_up = count_indexed(state, "block8.{}.conv.weight")
        return {"scale_factor": 2**n_up} if 1 <= n_up <= 3 else {}
    if part == "D":
        first, dense, last = state.get("features.0.weight"), state.get("classifier.0.weight"), state.get("classifier.2.weight")
        if first is None or dense is None or last is None or first.dim() != 4 or dense.dim() != 2 or last.dim() != 2:
            return {}
        config = {"in_channels": first.shape[1], "out_channels": last.shape[0], "channels": first.shape[0]}
        cells = dense.shape[1] // (8 * first.shape[0]) if first.shape[0] else 0
        side = math.isqrt(cells)
        if side >= 1 and side * side * 8 * first.shape[0] == dense.shape[1]:
            config["image_size"] = 16 * side  # 96 for the released files (512 * 6 * 6 inputs)
        return config
    first, last = state.get("conv1.0.weight"), state.get("conv3.weight")
    n_up = count_indexed(state, "upsampling.{}.upsample_block.0.weight")
    if first is None or last is None or first.dim() != 4 or last.dim() != 4 or not 1 <= n_up <= 3:
        return {}
    return {
        "in_channels": first.shape[1],
        "out_channels": last.shape[0],
        "channels": first.shape[0],
        "num_rcb": count_indexed(state, "trunk.{}.rcb.0.weight"),
        "upscale": 2**n_up,
    }


def load_official_srgan(
    path_or_state: str | os.PathLike[str] | Mapping[str, Any],
    part: str = "G",
    flavour: str = "lornatang",
    *,
    ema: bool = False,
) -> SRResNet | DiscriminatorForVGG | LeftthomasGenerator:
    """Load an official SRGAN checkpoint: Lornatang's ``*.pth.tar`` or leftthomas' ``netG_epoch_*_100.pth``.

    Lornatang files are training dicts: the weights are their ``state_dict`` entry (or
    ``ema_state_dict`` with ``ema=True``); ``_orig_mod.`` and ``module.`` prefixes are
    stripped, as is ``AveragedModel``'s ``n_averaged``. A bare state dict is accepted too.
    The configuration is read from the shapes (channels, residual blocks, upscale factor),
    then the load is ``strict=True``, never the official loader's silent skipping.

    Args:
        path_or_state: the file (pickles read with ``torch.load(weights_only=True)``), a
            ``.safetensors`` file, or an already-loaded dict.
        part: ``"G"`` (generator) or ``"D"`` (discriminator; Lornatang only).
        flavour: ``"lornatang"`` (Lornatang/SRGAN-PyTorch: :class:`SRResNet`,
            :class:`DiscriminatorForVGG`) or ``"leftthomas"`` (leftthomas/SRGAN at b0323c6:
            :class:`LeftthomasGenerator`).
        ema: load the generator's exponential moving average (``ema_state_dict``) instead
            of its weights (Lornatang generator files only).

    Returns:
        The network on the CPU, float32, in eval mode (the official inference mode).

    Raises:
        ZooError: a bad ``part``/``flavour``/``ema`` combination; the file is missing,
            unreadable or pickles other objects than tensors; it has no EMA weights when
            ``ema=True``; it holds another part or family (one line naming a few keys and
            what the file looks like), or shapes that do not fit (exit code 2).
    """
    check_choice(part, ("G", "D"), "part")
    check_choice(flavour, ("lornatang", "leftthomas"), "flavour")
    if flavour == "leftthomas" and part == "D":
        raise ZooError("leftthomas/SRGAN released generators only (netG_epoch_*_100.pth): {param} must be 'G'", param="part", exit_code=2)
    if ema and (flavour, part) != ("lornatang", "G"):
        raise ZooError(
            "{param}=True needs a Lornatang generator file (part='G', flavour='lornatang'): only they carry ema_state_dict",
            param="ema",
            exit_code=2,
        )
    container = "ema_state_dict" if ema else "state_dict"
    state, source = read_official(path_or_state, container=container, required=ema, drop=("n_averaged",) if ema else ())
    expected = official_kind(f"srgan.{part}" if flavour == "lornatang" else "srgan-leftthomas.G")
    if flavour == "leftthomas" and "block7.1.running_mean" in state:
        raise ZooError(
            f"{source} comes from leftthomas/SRGAN code after commit 4ac3486 (block7 has a BatchNorm); "
            "only the b0323c6 architecture of the released netG_epoch_*_100.pth files is supported",
            exit_code=2,
        )
    config = _infer(flavour, part, state)
    model: SRResNet | DiscriminatorForVGG | LeftthomasGenerator
    if flavour == "leftthomas":
        model = LeftthomasGenerator(**config)
    else:
        model = SRResNet(**config) if part == "G" else DiscriminatorForVGG(**config)
    load_strict(model, state, expected=expected, source=source)
    return model


def read_generator(path: str | os.PathLike[str], model: str) -> SRResNet | LeftthomasGenerator:
    """The generator of an official SRGAN file or of a zoo checkpoint, loaded strictly.

    Accepted: Lornatang's ``SRResNet_x*-ImageNet.pth.tar`` / ``SRGAN_x*-ImageNet.pth.tar``
    (their ``state_dict``), leftthomas' ``netG_epoch_*_100.pth``, their ``.safetensors``
    conversions, and ``zoo train srresnet`` / ``zoo train srgan`` checkpoints (a run
    directory or its ``model.safetensors``: the ``generator.*`` tensors). The flavour
    (Lornatang or leftthomas) and the configuration are read from the keys and shapes
    (:func:`load_official_srgan`).

    Args:
        path: the file or checkpoint directory.
        model: the model's name, for messages.

    Returns:
        :class:`SRResNet` or :class:`LeftthomasGenerator`, on the CPU, in eval mode.

    Raises:
        ZooError: unreadable file; a zoo checkpoint of another model; Lornatang's
            discriminator file (one line naming what it is and what is needed); a file of
            another family or shape (see :func:`load_official_srgan`); ``{param}`` is
            ``official_weights``, exit code 2.
    """
    from zoo.io.checkpoint import read_checkpoint

    p = Path(path).expanduser()
    source: Any = p
    if p.is_dir():
        state, meta = read_checkpoint(p)
    else:
        state, _ = read_official(p)
        meta = read_checkpoint(p)[1] if any(k.startswith("generator.") for k in state) else {}
    owner = meta.get("model")
    if owner not in (None, "srresnet", "srgan"):
        raise ZooError(
            f"{{param}} {p} is a zoo checkpoint of {owner}; {model} starts from a generator: {GENERATOR_FILES}",
            param="official_weights",
            exit_code=2,
        )
    if any(k.startswith("generator.") for k in state):  # a zoo checkpoint: its generator's tensors
        state = {k.removeprefix("generator."): v for k, v in state.items() if k.startswith("generator.")}
        source = state
    kind = identify_official(state)
    if kind is not None and kind.key == "srgan.D":
        raise ZooError(
            f"{{param}} {p} holds the {kind.name}; {model} needs a generator file: {GENERATOR_FILES}",
            param="official_weights",
            exit_code=2,
        )
    flavour = "leftthomas" if kind is not None and kind.key == "srgan-leftthomas.G" else "lornatang"
    net = load_official_srgan(source, part="G", flavour=flavour)
    assert isinstance(net, (SRResNet, LeftthomasGenerator))
    return net


def generator_options(net: nn.Module) -> dict[str, Any]:
    """The build options of a generator: ``{"channels", "ngf", "n_blocks", "upscale", "flavour"}``.

    Raises:
        ZooError: an :class:`SRResNet` whose input and output channels differ (exit code 2).
    """
    if isinstance(net, LeftthomasGenerator):
        return {"channels": 3, "ngf": 64, "n_blocks": 5, "upscale": net.scale_factor, "flavour": "leftthomas"}
    assert isinstance(net, SRResNet)
    if net.in_channels != net.out_channels:
        raise ZooError(
            f"this SRResNet maps {net.in_channels} to {net.out_channels} channels; zoo's SRGAN models keep the image's channels",
            exit_code=2,
        )
    return {"channels": net.in_channels, "ngf": net.channels, "n_blocks": net.num_rcb, "upscale": net.upscale, "flavour": "lornatang"}
