"""Reading the checkpoint files that official GAN implementations publish: safely, then strictly.

One path for every official file kind (StarGAN ``*-G.ckpt``/``*-D.ckpt``, CycleGAN
``latest_net_G.pth``, SRGAN ``*.pth.tar`` and ``netG_epoch_*_100.pth``):

1. :func:`read_official` reads the file with zoo's one weights reader
   (:func:`zoo.io.state_dict.read_weights_file`, by content): pickles with ``torch.load(path,
   map_location="cpu", weights_only=True)`` only (it refuses every pickled object that is
   not a tensor or a plain container), safetensors files with safetensors; a file that is
   neither is named by what it is (:func:`zoo.io.filekind.describe_file`). A training
   dict that wraps the weights (``{'epoch', 'state_dict', 'ema_state_dict', 'optimizer',
   ...}``, Lornatang/SRGAN-PyTorch ``train_gan.py``) is unwrapped, and the prefixes added by
   ``torch.compile`` (``_orig_mod.``) and ``nn.DataParallel`` / ``AveragedModel``
   (``module.``) are stripped with ``torch.nn.modules.utils.consume_prefix_in_state_dict_if_present``.
2. The family's loader (``plugins/stargan/official.py``, ``plugins/cyclegan/official.py``,
   ``plugins/srgan/official.py``) infers the configuration from the shapes, builds the network and
   drops the keys its official loader drops.
3. :func:`load_strict` loads with ``strict=True``. It never skips a key silently (as
   Lornatang's ``utils.load_state_dict`` does); a file of another kind (a discriminator
   where the generator is needed, another family) is one :class:`~zoo.errors.ZooError`
   line naming a few keys, what was expected and, where :func:`identify_official`
   recognises the file, how to load it.

The state dict's ``_metadata`` (per-module versions) is dropped, as CycleGAN's
``BaseModel.load_networks`` does. Files saved by PyTorch < 0.4 have no
``num_batches_tracked`` buffers (StarGAN's ``200000-G.ckpt``, leftthomas' ``netG_epoch_4_100.pth``);
:func:`load_strict` fills them with 0, which is what PyTorch itself does for such files
(``_NormBase._load_from_state_dict``, metadata version < 2).

This module imports torch; only model modules import it, never a plugin hook module.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from zoo.errors import ZooError
from zoo.registry import official_kinds
from zoo.registry.spec import OfficialKind

__all__ = [
    "WRAPPER_PREFIXES",
    "check_choice",
    "count_indexed",
    "identify_official",
    "load_strict",
    "official_kind",
    "read_official",
]

# torch.compile (``_orig_mod.``), then nn.DataParallel / DistributedDataParallel /
# torch.optim.swa_utils.AveragedModel (``module.``); a compiled AveragedModel has both.
WRAPPER_PREFIXES = ("_orig_mod.", "module.")


def official_kind(key: str) -> OfficialKind:
    """The :class:`~zoo.registry.spec.OfficialKind` with this ``key`` (``"stargan.G"``, ...) among
    those the plugins declare (:func:`zoo.registry.official_kinds`).

    Raises:
        KeyError: no such kind (a programming error, or its plugin is not loaded).
    """
    for kind in official_kinds():
        if kind.key == key:
            return kind
    raise KeyError(key)


def identify_official(state: Mapping[str, Any]) -> OfficialKind | None:
    """The official file kind whose signature keys ``state`` has, or ``None``.

    Args:
        state: a state dict (prefixes already stripped, as :func:`read_official` returns it).

    Returns:
        The first matching :class:`~zoo.registry.spec.OfficialKind` the plugins declare
        (:func:`zoo.registry.official_kinds`; their signatures are disjoint), or ``None`` for a
        file of none of these kinds.
    """
    keys = set(state)
    return next((kind for kind in official_kinds() if kind.keys <= keys), None)


def check_choice(value: Any, choices: tuple[str, ...], param: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a one-line usage error.

    Raises:
        ZooError: ``value`` is not one of ``choices`` (exit code 2; ``{param}`` names the argument).
    """
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ZooError(f"{{param}} must be one of {valid}, got {value!r}", param=param, exit_code=2)
    return value


def count_indexed(state: Mapping[str, Any], pattern: str, start: int = 0, step: int = 1) -> int:
    """How many consecutive indices ``i = start, start+step, ...`` have ``pattern.format(i)`` in ``state``.

    Used to read a network's depth from its keys, e.g. the residual blocks of a generator:
    ``count_indexed(state, "trunk.{}.rcb.0.weight")`` is 16 for Lornatang's ``srresnet_x4``.
    """
    n = 0
    while pattern.format(start + n * step) in state:
        n += 1
    return n


def _read_file(path: Path) -> Any:
    """The file's content as stored, through the one weights reader (:func:`zoo.io.state_dict.read_weights_file`)."""
    if not path.exists():
        raise ZooError(f"checkpoint {path} does not exist; pass the path of an official checkpoint file")
    if not path.is_file():
        raise ZooError(f"checkpoint {path} is not a file; pass the path of an official checkpoint file")
    from zoo.io.state_dict import read_weights_file

    return read_weights_file(path, what="checkpoint")[0]


def _is_state(obj: Mapping[str, Any]) -> bool:
    return all(isinstance(v, torch.Tensor) for v in obj.values())


def read_official(
    path_or_state: str | os.PathLike[str] | Mapping[str, Any],
    *,
    container: str = "state_dict",
    required: bool = False,
    drop: tuple[str, ...] = (),
) -> tuple[OrderedDict[str, torch.Tensor], str]:
    """Read an official checkpoint into a plain state dict, without running pickled code.

    Args:
        path_or_state: a file (``.ckpt``, ``.pth``, ``.pth.tar``, ``.pt``, ``.safetensors``;
            read by content with :func:`zoo.io.state_dict.read_weights_file`: pickles with
            ``torch.load(path, map_location="cpu", weights_only=True)``, safetensors with
            safetensors), or an already-loaded mapping.
        container: the entry that holds the weights when the file is a training dict rather
            than a bare state dict (``"state_dict"``, or ``"ema_state_dict"`` for Lornatang's
            exponential moving average of the generator).
        required: the file must be such a training dict with ``container`` (a bare state
            dict is refused), as for ``"ema_state_dict"``.
        drop: keys removed after prefix stripping when present (``("n_averaged",)``, the
            step counter of ``torch.optim.swa_utils.AveragedModel``).

    Returns:
        ``(state, source)``: ``{key: tensor}`` on the CPU in the file's order, dtypes as
        stored, ``_orig_mod.``/``module.`` prefixes stripped and ``_metadata`` dropped; and
        ``source``, ``"checkpoint <path>"`` (or ``"the given dict"``) for messages.

    Raises:
        ZooError: the file is missing, unreadable, not a weights file (the message names
            what it is: an HTML page, an image...), truncated, pickles objects other than
            tensors, or holds no state dict (or ``container`` is absent or ``None``).
    """
    if isinstance(path_or_state, Mapping):
        obj: Any = path_or_state
        source = "the given dict"
    else:
        path = Path(path_or_state).expanduser()
        obj, source = _read_file(path), f"checkpoint {path}"
    if not isinstance(obj, Mapping):
        raise ZooError(f"{source} holds a {type(obj).__name__}, not a state dict; pass an official checkpoint file")
    if required and _is_state(obj):
        raise ZooError(f"{source} is a bare state dict, not a training dict with an {container!r} entry; load it as a plain state dict")
    if not _is_state(obj):
        if container not in obj:
            found = ", ".join(repr(k) for k in list(obj)[:6])
            raise ZooError(f"{source} holds {found}, but no tensors and no {container!r} entry; pass an official checkpoint file")
        obj = obj[container]
        if obj is None:
            raise ZooError(f"{source} has {container}=None (it was trained without it); load its 'state_dict' instead")
        if not isinstance(obj, Mapping) or not _is_state(obj):
            raise ZooError(f"{source}: its {container!r} entry is not a state dict of tensors; pass an official checkpoint file")
    state: OrderedDict[str, torch.Tensor] = OrderedDict(obj)  # a copy: the caller's mapping is left alone
    for _ in range(2):  # both orders: "_orig_mod.module." (compiled AveragedModel) and "module._orig_mod."
        for prefix in WRAPPER_PREFIXES:
            consume_prefix_in_state_dict_if_present(state, prefix)
    for key in drop:
        state.pop(key, None)
    return state, source


def _few(keys: list[str]) -> str:
    shown = ", ".join(keys[:3])
    return f"{len(keys)} {'key' if len(keys) == 1 else 'keys'} ({shown}{', ...' if len(keys) > 3 else ''})"


def load_strict(model: nn.Module, state: Mapping[str, torch.Tensor], *, expected: OfficialKind, source: str) -> nn.Module:
    """Load ``state`` into ``model`` with ``strict=True``; every mismatch is one ZooError line.

    ``num_batches_tracked`` buffers that the file lacks beside a present ``running_mean``
    (files saved by PyTorch < 0.4) are set to 0, as PyTorch's own compatibility path does.

    Args:
        model: the network, built with the configuration inferred from ``state``.
        state: the state dict (as :func:`read_official` returns it); not modified.
        expected: the kind of file the caller needs, for the message.
        source: the file, for the message.

    Returns:
        ``model``, loaded, in eval mode.

    Raises:
        ZooError: keys are missing or unexpected (the message names a few, and the kind of
            file ``state`` holds when :func:`identify_official` recognises it), or a tensor's
            shape differs (exit code 2).
    """
    own = model.state_dict()
    state = OrderedDict(state)
    for key in own:
        stem = key.removesuffix("num_batches_tracked")
        if stem != key and key not in state and stem + "running_mean" in state:
            state[key] = torch.zeros((), dtype=torch.int64)
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        what = ", ".join(f"{name} {_few(keys)}" for name, keys in (("missing", missing), ("unexpected", unexpected)) if keys)
        found = identify_official(state)
        if found is not None and found != expected:
            hint = f"it looks like the {found.name}: load it with {found.how}"
        else:
            hint = "pass a file of that kind"
        raise ZooError(f"{source} is not the expected {expected.name}: {what}; {hint}", exit_code=2)
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})" for k, v in own.items() if state[k].shape != v.shape]
    if wrong:
        more = f" and {len(wrong) - 2} more" if len(wrong) > 2 else ""
        raise ZooError(
            f"{source} does not fit the {expected.name} of the configuration read from its shapes: {', '.join(wrong[:2])}{more}; "
            "pass an unmodified official file",
            exit_code=2,
        )
    model.load_state_dict(state, strict=True)
    return model.eval()
