"""A trained classifier run as ``zoo features``, ``zoo eval``, ``zoo predict`` and ``zoo export``
read it: a ``zoo train``/``zoo adapt`` checkpoint directory (:func:`load_run`) or a registry
model with ``--weights`` (:func:`load_model`), with the evaluation preprocessing its sidecar
records (:func:`eval_transform`).

This module imports torch; import it lazily.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zoo.errors import ZooError
from zoo.tasks.quality import PenultimateFeatures

if TYPE_CHECKING:
    from zoo.models.protocols import Backbone

__all__ = ["ClassifierRun", "eval_transform", "load_model", "load_run", "removing_new_dirs"]


@dataclass
class ClassifierRun:
    """A backbone classifier with its class names and preprocessing.

    Attributes:
        adapter: the :class:`zoo.models.adapters.BackboneAdapter` (weights loaded, eval mode, CPU).
        model: registry name.
        source: the checkpoint directory, or ``"NAME"`` for a registry model.
        weights: what was loaded (``"file:..."``, a published tag, ``"random"``).
        class_names: the head's class names (index = output), or ``None`` when unknown.
        preprocessing: ``img_size``, ``mean``, ``std``, ``interpolation``, ``crop_pct``,
            ``resize_only`` (as :func:`zoo.tasks.adapt` saves them).
        sidecar: the checkpoint's ``model.json`` (empty for a registry model).
    """

    adapter: Backbone
    model: str
    source: str
    weights: str
    class_names: list[str] | None
    preprocessing: dict[str, Any]
    sidecar: dict[str, Any] = field(default_factory=dict)
    _extractor: PenultimateFeatures | None = field(default=None, repr=False, compare=False)

    def extractor(self) -> PenultimateFeatures:
        """The network as :class:`zoo.tasks.quality.PenultimateFeatures`: ``(N, 3, S, S)`` float in
        ``[0, 1]`` -> features ``(N, D)`` float32 (``__call__``) or logits ``(N, classes)``
        (``.logits``). Made once (it hooks the head), then reused."""
        if self._extractor is None:
            pre = self.preprocessing
            self._extractor = PenultimateFeatures(self.adapter, pre["img_size"], pre["mean"], pre["std"])
        return self._extractor

    def transform(self) -> Any:
        """:func:`eval_transform` of :attr:`preprocessing`."""
        return eval_transform(self.preprocessing)


@contextlib.contextmanager
def removing_new_dirs(path: str | os.PathLike[str]) -> Iterator[None]:
    """On an exception in the body, remove the (empty) directories created for ``path``
    since entry, so a failed command leaves nothing behind; its files are written with
    :mod:`zoo.utils.fileio` and are whole or absent already."""
    from zoo.utils.fileio import nearest_existing

    parent = Path(path).parent
    existing = nearest_existing(parent)
    try:
        yield
    except BaseException:
        d = parent
        while d != existing and d.is_dir():
            try:
                d.rmdir()
            except OSError:
                break
            d = d.parent
        raise


def eval_transform(pre: dict[str, Any]) -> Any:
    """The evaluation pipeline of a sidecar's ``preprocessing``, without normalisation.

    Input: a PIL image or a ``(C, H, W)`` uint8 tensor (grey or RGB). Output: ``(3, S, S)``
    float32 in ``[0, 1]``, ``S = pre["img_size"]``. ``resize_only`` (small built-in images)
    resizes straight to ``S x S``; otherwise the shorter side goes to ``S / crop_pct`` and the
    centre ``S x S`` is cropped (timm's evaluation convention, as
    :meth:`zoo.models.adapters.BackboneAdapter.transforms` does).

    Raises:
        ZooError: ``pre`` lacks ``img_size`` (a checkpoint without preprocessing).
    """
    from torchvision.transforms import InterpolationMode, v2

    if not isinstance(pre, dict) or not isinstance(pre.get("img_size"), int):
        raise ZooError("the checkpoint's model.json has no preprocessing.img_size; re-save it with 'zoo adapt' or 'zoo train'")
    size = pre["img_size"]
    name = pre.get("interpolation")
    interp = InterpolationMode(name) if name in ("bilinear", "bicubic", "nearest") else InterpolationMode.BILINEAR
    ops: list[Any] = [v2.ToImage(), v2.RGB()]
    if pre.get("resize_only"):
        ops.append(v2.Resize((size, size), interpolation=interp, antialias=True))
    else:
        crop_pct = float(pre.get("crop_pct") or 1.0)
        ops += [v2.Resize(round(size / crop_pct), interpolation=interp, antialias=True), v2.CenterCrop(size)]
    ops.append(v2.ToDtype(torch.float32, scale=True))
    return v2.Compose(ops)


# ---------------------------------------------------------------------------------
# loading: a checkpoint directory, or a registry model with --weights
# ---------------------------------------------------------------------------------
def load_run(path: str | os.PathLike[str], *, command: str = "zoo eval") -> ClassifierRun:
    """Load a ``zoo train`` / ``zoo adapt`` backbone checkpoint (``model.safetensors`` + ``model.json``).

    Args:
        path: the run directory.
        command: the command named in errors (``"zoo predict"``...).

    Returns:
        The :class:`ClassifierRun` (CPU, eval mode), class names from the sidecar's
        ``class_names`` (``None`` when the run was adapted without data).

    Raises:
        ZooError: the directory does not exist (exit code 2), holds no checkpoint, holds a
            GAN, names no model, or its weights do not fit the model (see
            :func:`zoo.io.state_dict.load_into`).
    """
    from zoo.io.checkpoint import read_checkpoint
    from zoo.io.state_dict import load_into
    from zoo.registry import build

    p = Path(path).expanduser()
    if not p.exists():
        raise ZooError(f"checkpoint directory {p} does not exist; pass a directory written by 'zoo train' or 'zoo adapt'", exit_code=2)
    state, meta = read_checkpoint(p)
    name = meta.get("model")
    if not name:
        raise ZooError(f"{p} does not say which model it holds (no model.json); pass a directory written by 'zoo train' or 'zoo adapt'")
    if meta.get("kind") == "gan":
        raise ZooError(f"{command} works on classifiers; {p} holds the GAN {name} (use 'zoo sample {name} --checkpoint {p}')", exit_code=2)
    classes = meta.get("class_names")
    n = len(classes) if isinstance(classes, list) and classes else (meta.get("config") or {}).get("num_classes")
    adapter = build(name, num_classes=n) if isinstance(n, int) else build(name)
    if adapter.kind != "backbone":
        raise ZooError(f"{command} works on classifiers; {p} holds the {adapter.kind} {name}", exit_code=2)
    load_into(adapter, state, source=f"checkpoint {p}", meta=meta)
    adapter.eval()
    pre = dict(meta.get("preprocessing") or {})
    eval_transform(pre)  # a sidecar without preprocessing fails here, before any data is read
    return ClassifierRun(adapter, name, str(p), f"file:{p.absolute()}", list(map(str, classes)) if classes else None, pre, meta)


def load_model(name: str, *, weights: str | None = "auto", img_size: int | None = None, source: Any = None) -> ClassifierRun:
    """A registry backbone (its own head, e.g. ImageNet's 1000 classes) with ``weights``
    (see :func:`zoo.models.weights.load_weights`), preprocessed as ``zoo adapt`` would for ``source``.

    Raises:
        ZooError: unknown model or not a backbone (exit code 2), ``img_size`` below the
            model's minimum, weights errors.
    """
    from zoo.models.weights import load_weights
    from zoo.registry import build, get_spec
    from zoo.tasks._common import default_img_size, preprocessing  # the one definition of what adapt saves

    spec = get_spec(name)
    if spec.kind != "backbone":
        raise ZooError(f"features come from backbones; {name} is a {spec.kind} (see 'zoo list --kind backbone')", exit_code=2)
    size = default_img_size(spec, source, img_size)
    adapter = build(name)
    loaded = load_weights(adapter, weights, progress=True)  # a download shows its bar on stderr
    adapter.eval()
    return ClassifierRun(adapter, name, name, loaded, None, preprocessing(adapter, size, source))
