"""Which weights a model starts from: the ``--weights FILE|DIR|imagenet|none|auto`` decision.

:func:`load_weights` is the one entry point of the CLI and of :mod:`zoo.tasks`. The work
itself is done by three modules, which never import this one:

* :mod:`zoo.io.download` and :mod:`zoo.io.pretrained`: the cache, offline mode, downloads, published weights;
* :mod:`zoo.io.state_dict`: reading weight files safely, loading a state dict into a model;
* :mod:`zoo.io.checkpoint`: the ``model.safetensors`` + ``model.json`` checkpoints of ``zoo train``/``adapt``.

This module imports torch (through them); import it lazily.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zoo.errors import ZooError, warn
from zoo.io.checkpoint import read_checkpoint
from zoo.io.download import WeightsUnavailable, offline
from zoo.io.pretrained import fetch_pretrained
from zoo.io.state_dict import load_into, load_state_file

if TYPE_CHECKING:
    from zoo.models.protocols import Adapter

__all__ = ["load_weights"]

_RANDOM_WORDS = ("none", "random")
_AUTO = "auto"


def _ckpt_classes(adapter: Adapter, state: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> int | None:
    """The number of classes of a checkpoint: its head tensor's rows, else the sidecar's ``config.num_classes``."""
    head = getattr(adapter, "head", "")
    w = state.get(f"{head}.weight") if head else None
    if w is not None and w.ndim >= 1:
        return int(w.shape[0])
    cfg = meta.get("config")
    if isinstance(cfg, Mapping) and isinstance(cfg.get("num_classes"), int):
        return int(cfg["num_classes"])
    return None


def _load_auto(adapter: Adapter, *, progress: bool) -> str:
    """``--weights auto``: the first published weights when they can be had, else random init with a warning.

    Only :class:`zoo.io.download.WeightsUnavailable` (none published, offline and not cached,
    network unreachable, HTTP error, a refused URL) falls back; a digest mismatch, a changed
    cache file, a lock or disk problem is raised.
    """
    spec = adapter.spec
    if not spec.weights:
        warn(f"{spec.name} has no published weights; starting from random init (pass --weights FILE to load a checkpoint)")
        return "random"
    try:
        return load_weights(adapter, spec.weights[0].tag, progress=progress)
    except WeightsUnavailable as exc:
        if offline():
            warn(
                f"offline: {spec.name}'s published weights are not cached, starting from random init; pass --weights FILE, or go online and use --weights {spec.weights[0].tag}"
            )
        else:
            warn(f"could not get {spec.name}'s published weights ({exc}); starting from random init")
        return "random"


def load_weights(adapter: Adapter, weights: str | None, *, progress: bool = True) -> str:
    """Give ``adapter`` the weights the user asked for with ``--weights`` (the CLI's one entry point).

    * ``None``, ``"none"``, ``"random"``: keep the random initialisation; returns ``"random"``.
    * ``"auto"``: the first published weights of ``adapter.spec`` when they are cached or
      can be downloaded, else (no published weights; offline and not cached; network
      unreachable or an HTTP error: :class:`zoo.io.download.WeightsUnavailable`) one
      ``Warning:`` line on stderr and random init; returns the tag or ``"random"``. A
      digest mismatch, a changed cache file or a lock problem is an error, never random init.
    * a published tag of ``adapter.spec`` (``"imagenet"``; ``"default"`` = the first): the
      cached safetensors of :func:`zoo.io.pretrained.fetch_pretrained`, loaded with the head
      ignored when the adapter has another number of classes than the weights (the new
      head stays random); returns the tag.
    * a path (checkpoint directory or weights file, see :func:`zoo.io.checkpoint.read_checkpoint`):
      if its sidecar names another model, that is an error; if its head has another number
      of classes than the adapter (head tensor's shape, else the sidecar's
      ``config.num_classes``), the adapter's head is first replaced with
      ``adapter.reset_head(n)`` so the load is strict: the caller resets the head again
      if it wants other classes. Returns ``"file:<absolute path>"``.

    The words ``none``, ``random`` and ``auto`` (any case) and the tags win over files of
    the same name (write ``./imagenet``).

    Raises:
        ZooError: neither a word, a tag nor an existing path (exit code 2; valid values
            listed); a checkpoint of another model; a mismatching state dict (see
            :func:`zoo.io.state_dict.load_into`); errors of :func:`zoo.io.pretrained.fetch_pretrained`
            (for ``auto`` too, except :class:`zoo.io.download.WeightsUnavailable`).
    """
    spec = adapter.spec
    if weights is None or weights.strip().lower() in _RANDOM_WORDS:
        return "random"
    w = weights.strip()
    if w.lower() == _AUTO:
        return _load_auto(adapter, progress=progress)
    tags = [s.tag for s in spec.weights]
    if w in tags or (w == "default" and tags):
        src = spec.weight_source(w)
        path = fetch_pretrained(spec, src.tag, progress=progress)
        try:
            state = load_state_file(path)
        except ZooError as exc:
            raise ZooError(f"{exc}; delete the cached {path} to download it again") from exc
        n = getattr(adapter, "num_classes", src.num_classes)
        load_into(adapter, state, source=f"{spec.name} {src.tag} weights ({path})", ignore_head=n != src.num_classes)
        return src.tag
    p = Path(w).expanduser()
    if not p.exists():
        valid = ", ".join([*_RANDOM_WORDS, *tags, _AUTO]) + ("" if tags else f"; {spec.name} publishes no weights")
        raise ZooError(
            f"{{param}} {w!r} is neither a published tag of {spec.name} (valid: {valid}) nor an existing file "
            f"({p.absolute()} not found); pass a tag, a checkpoint directory or a .safetensors/.pth file",
            param="weights",
            exit_code=2,
        )
    state, meta = read_checkpoint(p)
    other = meta.get("model")
    if other and other != spec.name:
        raise ZooError(f"weights file {p} was written for {other}, not {spec.name}; build {other} or pass a {spec.name} checkpoint")
    if hasattr(adapter, "reset_head"):
        n_ckpt = _ckpt_classes(adapter, state, meta)
        if n_ckpt is not None and n_ckpt != adapter.num_classes and n_ckpt >= 1:
            adapter.reset_head(n_ckpt)
    load_into(adapter, state, source=f"weights file {p}", meta=meta)
    return f"file:{p.absolute()}"
