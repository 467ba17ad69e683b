"""Reading the official CycleGAN checkpoints into the networks of :mod:`zoo.plugins.cyclegan.networks`, strictly.

The released generators (``registry.toml``: horse2zebra, monet2photo, ... from
``scripts/download_cyclegan_model.sh``) are ``latest_net_G.pth`` state dicts of
``resnet_9blocks`` saved with PyTorch 0.4, when ``get_norm_layer('instance')`` still tracked
running statistics; discriminators are never released, only written by training with the
official code (``latest_net_D_A.pth``). The official ``models/base_model.py``
``load_networks`` / ``__patch_instance_norm_state_dict`` drops the InstanceNorm buffers;
:func:`drop_instance_norm_stats` does exactly that, then every load is ``strict=True``.
Which file is which is told by keys only each kind has (the ``zoo_official_kinds`` hook in
:mod:`zoo.plugins.cyclegan`). Imports torch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn.modules.instancenorm import _InstanceNorm

from zoo.errors import ZooError
from zoo.io.official import check_choice, count_indexed, identify_official, load_strict, official_kind, read_official
from zoo.plugins.cyclegan.networks import NLayerDiscriminator, ResnetGenerator

__all__ = ["drop_instance_norm_stats", "load_official_cyclegan", "official_generator", "read_generator"]


def drop_instance_norm_stats(model: nn.Module, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the InstanceNorm buffers that the released CycleGAN files have and the networks do not.

    The released ``.pth`` files were saved while ``get_norm_layer('instance')`` had
    ``track_running_stats=True`` (PyTorch 0.4), so each of the 23 InstanceNorm layers of
    resnet_9blocks left ``running_mean``, ``running_var`` and ``num_batches_tracked`` (69
    keys). Exactly as the official ``BaseModel.__patch_instance_norm_state_dict``: for a key
    that names a buffer of an InstanceNorm layer of ``model``, ``running_mean`` and
    ``running_var`` are dropped when the layer has no such buffer, and
    ``num_batches_tracked`` always. Every other key is kept (a strict load then reports it).

    Args:
        model: the network the state dict is for.
        state: the state dict; not modified.

    Returns:
        A new ``{key: tensor}`` in the same order without those keys.
    """
    out = {}
    for key, value in state.items():
        path, _, leaf = key.rpartition(".")
        try:
            module = model.get_submodule(path)
        except AttributeError:
            module = None
        if isinstance(module, _InstanceNorm) and (
            leaf == "num_batches_tracked" or (leaf in ("running_mean", "running_var") and getattr(module, leaf) is None)
        ):
            continue
        out[key] = value
    return out


def load_official_cyclegan(
    path_or_state: str | os.PathLike[str] | Mapping[str, Any],
    part: str = "G",
) -> ResnetGenerator | NLayerDiscriminator:
    """Load an official CycleGAN checkpoint (``horse2zebra.pth`` saved as ``latest_net_G.pth``, ...).

    The configuration is read from the shapes: ``input_nc``, ``output_nc``, ``ngf`` and
    ``n_blocks`` (9 or 6; ``use_dropout`` from the block layout) for the generator,
    ``input_nc``, ``ndf`` and ``n_layers`` for the discriminator. The InstanceNorm running
    statistics of the released files are dropped (:func:`drop_instance_norm_stats`), then
    the load is ``strict=True``. Only generators are released; discriminators come from
    training with the official code (``latest_net_D_A.pth``).

    Args:
        path_or_state: the ``.pth`` file (read with ``torch.load(weights_only=True)``), a
            ``.safetensors`` file, or a state dict.
        part: ``"G"`` (:class:`ResnetGenerator`) or ``"D"`` (:class:`NLayerDiscriminator`).

    Returns:
        The network on the CPU, float32, in eval mode (identical to train mode for these
        networks: no running statistics, no dropout).

    Raises:
        ZooError: ``part`` is not G or D; the file is missing, unreadable or pickles other
            objects than tensors; it holds another part or family (one line naming a few keys
            and what the file looks like), or shapes that do not fit (exit code 2).
    """
    check_choice(part, ("G", "D"), "part")
    state, source = read_official(path_or_state)
    return _load_part(state, source, part)


def _load_part(state: Mapping[str, torch.Tensor], source: str, part: str) -> ResnetGenerator | NLayerDiscriminator:
    """Build the network ``part`` ("G" or "D") that ``state``'s shapes describe and load it strictly (see :func:`load_official_cyclegan`)."""
    if part == "G":
        model: ResnetGenerator | NLayerDiscriminator = ResnetGenerator(**_infer_generator(state))
    else:
        model = NLayerDiscriminator(**_infer_discriminator(state))
    state = drop_instance_norm_stats(model, state)
    load_strict(model, state, expected=official_kind(f"cyclegan.{part}"), source=source)
    return model


def _infer_generator(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    first = state.get("model.1.weight")
    n_blocks = count_indexed(state, "model.{}.conv_block.1.weight", 10)
    last = state.get(f"model.{17 + n_blocks}.weight")  # pad, conv, IN, ReLU, 2 x (conv, IN, ReLU), blocks, 2 x (convT, IN, ReLU), pad, conv
    if first is None or last is None or first.dim() != 4 or last.dim() != 4:
        return {}  # not a generator: the strict load names the keys
    return {
        "input_nc": first.shape[1],
        "output_nc": last.shape[0],
        "ngf": first.shape[0],
        "n_blocks": n_blocks,
        "use_dropout": "model.10.conv_block.6.weight" in state,  # Dropout shifts the second conv from 5 to 6
    }


def _infer_discriminator(state: Mapping[str, torch.Tensor]) -> dict[str, int]:
    first = state.get("model.0.weight")
    convs = 1 + count_indexed(state, "model.{}.weight", 2, step=3)  # conv, LeakyReLU, then (conv, IN, LeakyReLU) x n_layers, conv
    if first is None or first.dim() != 4 or convs < 3:
        return {}
    return {"input_nc": first.shape[1], "ndf": first.shape[0], "n_layers": convs - 2}


def read_generator(path: str, model: str) -> ResnetGenerator:
    """The released generator file ``path`` loaded strictly (:func:`load_official_cyclegan`), for ``official_weights``.

    Args:
        path: a ``latest_net_G.pth`` (``horse2zebra.pth``...) or its ``.safetensors`` conversion.
        model: the model's name, for messages.

    Returns:
        :class:`~zoo.plugins.cyclegan.networks.ResnetGenerator` on the CPU, in eval mode.

    Raises:
        ZooError: a missing or unreadable file; a CycleGAN discriminator or another family's
            file (one line naming what it holds, exit code 2); shapes that do not fit.
    """
    state, source = read_official(path)
    kind = identify_official(state)
    if kind is not None and kind.key != "cyclegan.G":
        raise ZooError(
            f"{source} holds the {kind.name}; {model} needs the CycleGAN generator (latest_net_G.pth, "
            f"released as horse2zebra.pth, monet2photo.pth, ...: see 'zoo info {model}')",
            exit_code=2,
        )
    generator = _load_part(state, source, "G")
    assert isinstance(generator, ResnetGenerator)
    return generator


def official_generator(path: str, model: str, given: dict[str, Any]) -> tuple[ResnetGenerator, dict[str, Any]]:
    """The released generator of ``official_weights`` and the build options it fixes.

    Args:
        path: the generator file (:func:`read_generator`).
        model: the model's name, for messages.
        given: the build options given explicitly (``channels``, ``ngf``, ``n_blocks``,
            ``use_dropout``; ``None`` = left out).

    Returns:
        ``(generator, {"channels", "ngf", "n_blocks", "use_dropout"})`` as read from the file.

    Raises:
        ZooError: what :func:`read_generator` raises; a generator between different channel
            counts; a given option that disagrees with the file (exit code 2).
    """
    generator = read_generator(path, model)
    cfg = generator.config()
    if cfg["input_nc"] != cfg["output_nc"]:
        raise ZooError(
            f"{path} translates {cfg['input_nc']} to {cfg['output_nc']} channels; {model} needs domains with one channel count", exit_code=2
        )
    found = {"channels": cfg["input_nc"], "ngf": cfg["ngf"], "n_blocks": cfg["n_blocks"], "use_dropout": cfg["use_dropout"]}
    for key, value in given.items():
        if value is not None and value != found[key]:
            raise ZooError(
                f"{model} {{param}}={value!r} disagrees with the official weights {path} ({key}={found[key]!r}); drop {{param}}",
                param=key,
                exit_code=2,
            )
    return generator, found
