"""The library's main jobs, usable from Python alone: train, adapt (transfer learning), sample.

Sampling itself (:func:`sample`, :func:`load_gan`, :func:`save_grid`) is in
:mod:`zoo.sampling` and re-exported here.

The CLI commands ``zoo train``, ``zoo adapt`` and ``zoo sample`` are thin shells over
these functions; ``zoo demo`` chains them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.fileio import nearest_existing

__all__ = ["adapt", "load_gan", "sample", "save_grid", "train"]

# Sampling lives in zoo.sampling; these names stay here because train/adapt/sample are
# the library's main jobs and `from zoo import tasks` is the documented entry point.
from zoo.sampling import load_gan, sample, save_grid


def _prepare_out(out: str | Path | None) -> Path | None:
    """Check before any work that ``--out`` can be created (it is created only when saving,
    so a failed run leaves nothing behind), so a bad ``--out`` fails in milliseconds."""
    if out is None:
        return None
    out = Path(out)
    parent = nearest_existing(out)
    if parent == out and not out.is_dir():
        raise ZooError(f"{{param}} {out} is a file, not a directory; choose another {{param}}", param="out", exit_code=2)
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ZooError(
            f"cannot create the output directory {out}: {parent} is not a writable directory; choose another {{param}}",
            param="out",
            exit_code=2,
        )
    return out


def _default_img_size(spec: Any, source: Any, img_size: int | None) -> int:
    """``img_size`` when given, else 32 px for built-in data (at least ``spec.min_size``), else the model's own size.

    Raises:
        ZooError: ``img_size`` is below ``spec.min_size`` (exit code 2).
    """
    if img_size is not None:
        if img_size < spec.min_size:
            raise ZooError(
                f"{{param}} {img_size} is below {spec.name}'s minimum input of {spec.min_size} px; use {{param}} {spec.min_size} or more",
                param="img_size",
                exit_code=2,
            )
        return img_size
    if source is not None and source.builtin:
        return max(32, spec.min_size)
    return spec.input_size[-1]


def _build(name: str, **options: Any) -> Any:
    from zoo.registry import build

    return build(name, **options)


def _fit(
    adapter: Any,
    source: Any,
    *,
    img_size: int,
    epochs: int,
    batch_size: int,
    lr: float | None,
    device: str,
    amp: str | None,
    seed: int,
    shots: int | None,
    max_minutes: float | None,
    progress: bool,
    callbacks: tuple[Any, ...] = (),
) -> dict[str, Any]:
    from zoo.data import make_loaders
    from zoo.trainer import Trainer

    resize_only = source.builtin
    train_loader, val_loader = make_loaders(
        source,
        train_transform=adapter.transforms(img_size=img_size, train=True, resize_only=resize_only),
        val_transform=adapter.transforms(img_size=img_size, train=False, resize_only=resize_only),
        batch_size=batch_size,
        shots=shots,
        seed=seed,
        drop_last=adapter.kind == "gan",
    )
    # No log file while training: _save writes metrics.jsonl from the history, beside the
    # checkpoint, so a failed run leaves nothing in --out.
    trainer = Trainer(
        epochs=epochs, lr=lr, device=device, amp=amp, seed=seed, progress=progress, max_minutes=max_minutes, callbacks=callbacks
    )
    result = trainer.fit(adapter, train_loader, val_loader if adapter.kind == "backbone" else None)
    result["train_images"] = len(train_loader.dataset)
    result["val_images"] = len(val_loader.dataset) if adapter.kind == "backbone" else 0
    return result


def _preprocessing(adapter: Any, img_size: int, source: Any) -> dict[str, Any]:
    spec = adapter.spec
    return {
        "img_size": img_size,
        "mean": list(spec.mean),
        "std": list(spec.std),
        "interpolation": spec.interpolation,
        "crop_pct": spec.crop_pct,
        "resize_only": bool(source.builtin) if source else False,
        "channels": getattr(adapter, "channels", 3),
    }


def train(
    name: str,
    data: str,
    *,
    epochs: int = 5,
    out: str | Path | None = None,
    img_size: int | None = None,
    batch_size: int = 64,
    lr: float | None = None,
    device: str = "cpu",
    amp: str | None = None,
    seed: int = 0,
    max_minutes: float | None = None,
    progress: bool = True,
    build_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train a model from random init on ``data`` and (with ``out``) save it.

    Backbones get a head with one output per class of ``data`` and are trained with
    cross-entropy; GANs are trained with their own adversarial ``training_step``.

    Args:
        name: registry name.
        data: ``--data`` value (ImageFolder path or built-in data set such as ``digits:0-4``).
        epochs: passes over the training split.
        out: directory for ``model.safetensors``, ``model.json`` and ``metrics.jsonl``.
        img_size: input side in pixels (default 32 for built-in data, the model's own size otherwise).
        batch_size, lr, device, amp, seed, max_minutes, progress: see :class:`zoo.trainer.Trainer`.
        build_options: extra options for the plugin's build (GANs: ``ngf``, ``ndf``...).

    Returns:
        A summary dict: ``model``, ``data``, ``classes``, ``val_accuracy`` (backbones, 0..1),
        the final training logs, ``seconds`` (wall time of the fit), ``out``.

    Raises:
        ZooError: unknown model or data, bad sizes, device not available.
    """
    from zoo.data import resolve_data
    from zoo.registry import get_spec
    from zoo.trainer import check_training_args, seed_everything

    spec = get_spec(name)
    check_training_args(device=device, amp=amp, epochs=epochs, lr=lr, batch_size=batch_size, max_minutes=max_minutes)
    source = resolve_data(data, seed=seed)
    size = _default_img_size(spec, source, img_size)
    out = _prepare_out(out)
    seed_everything(seed)
    options = dict(build_options or {})
    if spec.kind == "backbone":
        options["num_classes"] = len(source.classes)
    else:  # class-conditional families take the data's class names; the others ignore them
        options.update(image_size=size, channels=source.channels, class_names=list(source.classes))
    adapter = _build(name, **options)
    callbacks: tuple[Any, ...] = ()
    if out is not None and adapter.kind == "gan":  # fixed-seed grids after every epoch, to watch training
        from zoo.sampling import EpochSamples

        callbacks = (EpochSamples(Path(out) / "samples", seed=seed),)
    result = _fit(
        adapter,
        source,
        img_size=size,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        device=device,
        amp=amp,
        seed=seed,
        shots=None,
        max_minutes=max_minutes,
        progress=progress,
        callbacks=callbacks,
    )
    summary = _summary(adapter, source, result, weights_init="random", img_size=size)
    if out is not None:
        _save(adapter, Path(out), summary, source, size, epochs, seed)
        summary["out"] = str(out)
    return summary


def adapt(
    name: str,
    *,
    num_classes: int,
    freeze_until: str | None = None,
    weights: str | None = "auto",
    data: str | None = None,
    shots: int | None = None,
    epochs: int = 10,
    out: str | Path | None = None,
    img_size: int | None = None,
    batch_size: int = 32,
    lr: float | None = None,
    device: str = "cpu",
    amp: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Transfer learning: load weights, replace the head, freeze early stages, fine-tune.

    Steps: build ``name``; load ``weights`` (a ``zoo train``/``zoo adapt`` checkpoint, a
    published tag such as ``imagenet``, ``auto`` = the published weights when they can be
    had, else random init with a warning, or ``none``); replace the head with ``num_classes``
    classes; freeze every stage up to and including ``freeze_until`` (frozen BatchNorm
    layers stay in eval mode); fine-tune on ``data`` when given (``shots`` images per class
    from its training split); save to ``out``.

    Returns:
        ``model``, ``weights`` (what was loaded), ``trainable_params``, ``frozen_params``,
        ``frozen_until``, and when it trained ``val_accuracy`` (0..1 on the held-out split),
        ``train_images``, ``seconds``.

    Raises:
        ZooError: unknown model/stage, ``num_classes < 1``, bad weights file, bad data, no network
            for ``--weights imagenet``.
    """
    from zoo.registry import get_spec
    from zoo.spec import check_num_classes
    from zoo.trainer import check_training_args, seed_everything
    from zoo.weights import load_weights

    spec = get_spec(name)
    if spec.kind != "backbone":
        raise ZooError(f"zoo adapt works on backbones; {name} is a {spec.kind}. Use 'zoo train {name}' instead", exit_code=2)
    check_num_classes(num_classes)  # everything is checked before anything is built or written
    spec.check_stage(freeze_until)
    if data is None and shots is not None:
        raise ZooError("{param} needs data to fine-tune on; without data, adapt only builds, freezes and saves", param="shots", exit_code=2)
    check_training_args(device=device, amp=amp, epochs=epochs, lr=lr, batch_size=batch_size)
    source = None
    if data is not None:
        from zoo.data import resolve_data

        source = resolve_data(data, seed=seed)
        if len(source.classes) != num_classes:
            raise ZooError(
                f"{{param}} {num_classes} but the data {data} has {len(source.classes)} classes; pass {{param}} {len(source.classes)}",
                param="num_classes",
                exit_code=2,
            )
    size = _default_img_size(spec, source, img_size)
    out = _prepare_out(out)
    seed_everything(seed)
    adapter = _build(name)
    loaded = load_weights(adapter, weights)
    adapter.reset_head(num_classes)
    trainable, frozen = adapter.freeze_until(freeze_until)
    summary: dict[str, Any] = {
        "model": name,
        "weights": loaded,
        "head": num_classes,
        "frozen_until": freeze_until,
        "trainable_params": trainable,
        "frozen_params": frozen,
    }
    if source is not None:
        result = _fit(
            adapter,
            source,
            img_size=size,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            device=device,
            amp=amp,
            seed=seed,
            shots=shots,
            max_minutes=None,
            progress=progress,
        )
        summary.update(_summary(adapter, source, result, weights_init=loaded, img_size=size))
        summary["shots"] = shots
    if out is not None:
        _save(adapter, Path(out), summary, source, size, epochs if source else 0, seed)
        summary["out"] = str(out)
    return summary


def _summary(adapter: Any, source: Any, result: dict[str, Any], *, weights_init: str, img_size: int) -> dict[str, Any]:
    out = {
        "model": adapter.spec.name,
        "kind": adapter.spec.kind,
        "data": source.name,
        "classes": source.classes,
        "img_size": img_size,
        "weights": weights_init,
    }
    out.update({k: v for k, v in result.items() if k != "history"})
    out["history"] = result.get("history", [])
    return out


def _save(adapter: Any, out: Path, summary: dict[str, Any], source: Any, img_size: int, epochs: int, seed: int) -> None:
    from zoo.checkpoint import save_checkpoint

    meta = {
        "class_names": source.classes if source else None,
        "preprocessing": _preprocessing(adapter, img_size, source),
        "training": {"data": source.name if source else None, "epochs": epochs, "seed": seed},
        "metrics": {k: v for k, v in summary.items() if k not in ("classes", "out")},
    }
    if adapter.kind == "gan":
        meta["condition"] = adapter.condition.to_json()
    save_checkpoint(out, adapter, meta)
    history = summary.get("history") or []
    if history:  # the per-epoch log (one JSON object per epoch) joins the checkpoint it belongs to
        from zoo.fileio import atomic_write_text

        atomic_write_text(out / "metrics.jsonl", "".join(json.dumps(m) + "\n" for m in history))
