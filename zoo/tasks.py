"""The library's main jobs, usable from Python alone: train, adapt (transfer learning), sample.

The CLI commands ``zoo train``, ``zoo adapt`` and ``zoo sample`` are thin shells over
these functions; ``zoo demo`` chains them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from pathlib import Path
from typing import Any

from zoo.errors import ZooError, warn

__all__ = ["train", "adapt", "sample", "save_grid"]

_METRICS_TMP = ".metrics.jsonl.partial"


def _prepare_out(out: str | Path | None) -> Path | None:
    """Check before any work that ``--out`` can be created (it is created only when saving,
    so a failed run leaves nothing behind), so a bad ``--out`` fails in milliseconds."""
    if out is None:
        return None
    out = Path(out)
    parent = out
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent == out and not out.is_dir():
        raise ZooError(f"--out {out} is a file, not a directory; choose another --out", exit_code=2)
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ZooError(f"cannot create the output directory {out}: {parent} is not a writable directory; choose another --out", exit_code=2)
    return out


def _default_img_size(spec: Any, source: Any, img_size: int | None) -> int:
    if img_size is not None:
        if img_size < spec.min_size:
            raise ZooError(f"--img-size {img_size} is below {spec.name}'s minimum input of {spec.min_size} px; use --img-size {spec.min_size} or more", exit_code=2)
        return img_size
    if source is not None and source.builtin:
        return max(32, spec.min_size)
    return spec.input_size[-1]


def _build(name: str, **options: Any) -> Any:
    from zoo.registry import build

    return build(name, **options)


def _fit(adapter: Any, source: Any, *, img_size: int, epochs: int, batch_size: int, lr: float | None, device: str,
         amp: str | None, seed: int, out: Path | None, shots: int | None, max_minutes: float | None, progress: bool) -> dict[str, Any]:
    from zoo.data import make_loaders
    from zoo.trainer import Trainer

    resize_only = source.builtin
    train_loader, val_loader = make_loaders(
        source,
        train_transform=adapter.transforms(img_size=img_size, train=True, resize_only=resize_only),
        val_transform=adapter.transforms(img_size=img_size, train=False, resize_only=resize_only),
        batch_size=batch_size, shots=shots, seed=seed, drop_last=adapter.kind == "gan",
    )
    log = (out / _METRICS_TMP) if out else None
    if log is not None and log.exists():
        log.unlink()
    trainer = Trainer(epochs=epochs, lr=lr, device=device, amp=amp, seed=seed, progress=progress, max_minutes=max_minutes,
                      log_path=log)
    result = trainer.fit(adapter, train_loader, val_loader if adapter.kind == "backbone" else None)
    result["train_images"] = len(train_loader.dataset)
    result["val_images"] = len(val_loader.dataset) if adapter.kind == "backbone" else 0
    return result


def _preprocessing(adapter: Any, img_size: int, source: Any) -> dict[str, Any]:
    spec = adapter.spec
    return {"img_size": img_size, "mean": list(spec.mean), "std": list(spec.std), "interpolation": spec.interpolation,
            "crop_pct": spec.crop_pct, "resize_only": bool(source.builtin) if source else False,
            "channels": getattr(adapter, "channels", 3)}


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
    else:
        options.update(image_size=size, channels=source.channels)
    adapter = _build(name, **options)
    result = _fit(adapter, source, img_size=size, epochs=epochs, batch_size=batch_size, lr=lr, device=device, amp=amp,
                  seed=seed, out=Path(out) if out else None, shots=None, max_minutes=max_minutes, progress=progress)
    summary = _summary(adapter, source, result, weights_init="random", img_size=size)
    if out is not None:
        _save(adapter, Path(out), summary, source, size, epochs, seed)
        summary["out"] = str(out)
    return summary


def adapt(
    name: str,
    *,
    head: int,
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
    had, else random init with a warning, or ``none``); replace the head with ``head``
    classes; freeze every stage up to and including ``freeze_until`` (frozen BatchNorm
    layers stay in eval mode); fine-tune on ``data`` when given (``shots`` images per class
    from its training split); save to ``out``.

    Returns:
        ``model``, ``weights`` (what was loaded), ``trainable_params``, ``frozen_params``,
        ``frozen_until``, and when it trained ``val_accuracy`` (0..1 on the held-out split),
        ``train_images``, ``seconds``.

    Raises:
        ZooError: unknown model/stage, ``head < 1``, bad weights file, bad data, no network
            for ``--weights imagenet``.
    """
    from zoo.registry import get_spec
    from zoo.spec import check_num_classes
    from zoo.trainer import check_training_args, seed_everything
    from zoo.weights import load_weights

    spec = get_spec(name)
    if spec.kind != "backbone":
        raise ZooError(f"zoo adapt works on backbones; {name} is a {spec.kind}. Use 'zoo train {name}' instead", exit_code=2)
    check_num_classes(head)  # everything is checked before anything is built or written
    spec.check_stage(freeze_until)
    if data is None and shots is not None:
        raise ZooError("--shots needs --data (the images to fine-tune on); without --data, zoo adapt only builds, freezes and saves", exit_code=2)
    check_training_args(device=device, amp=amp, epochs=epochs, lr=lr, batch_size=batch_size)
    source = None
    if data is not None:
        from zoo.data import resolve_data

        source = resolve_data(data, seed=seed)
        if len(source.classes) != head:
            raise ZooError(f"--head {head} but --data {data} has {len(source.classes)} classes; pass --head {len(source.classes)}", exit_code=2)
    size = _default_img_size(spec, source, img_size)
    out = _prepare_out(out)
    seed_everything(seed)
    adapter = _build(name)
    loaded = _load_weights_auto(adapter, weights, load_weights)
    adapter.reset_head(head)
    trainable, frozen = adapter.freeze_until(freeze_until)
    summary: dict[str, Any] = {"model": name, "weights": loaded, "head": head, "frozen_until": freeze_until,
                               "trainable_params": trainable, "frozen_params": frozen}
    if source is not None:
        result = _fit(adapter, source, img_size=size, epochs=epochs, batch_size=batch_size, lr=lr, device=device, amp=amp,
                      seed=seed, out=Path(out) if out else None, shots=shots, max_minutes=None, progress=progress)
        summary.update(_summary(adapter, source, result, weights_init=loaded, img_size=size))
        summary["shots"] = shots
    if out is not None:
        _save(adapter, Path(out), summary, source, size, epochs if source else 0, seed)
        summary["out"] = str(out)
    return summary


def _load_weights_auto(adapter: Any, weights: str | None, load_weights: Any) -> str:
    if weights != "auto":
        return load_weights(adapter, weights)
    from zoo.weights import offline, pretrained_path

    spec = adapter.spec
    if not spec.weights:
        warn(f"{spec.name} has no published weights; starting from random init (pass --weights FILE to load a checkpoint)")
        return "random"
    cached = pretrained_path(spec)
    if offline() and not cached.exists():
        warn(f"offline: {spec.name}'s published weights are not cached, starting from random init; pass --weights FILE, or go online and use --weights {spec.weights[0].tag}")
        return "random"
    try:
        return load_weights(adapter, spec.weights[0].tag)
    except ZooError as exc:
        warn(f"could not get {spec.name}'s published weights ({exc}); starting from random init")
        return "random"


def _summary(adapter: Any, source: Any, result: dict[str, Any], *, weights_init: str, img_size: int) -> dict[str, Any]:
    out = {"model": adapter.spec.name, "kind": adapter.spec.kind, "data": source.name, "classes": source.classes,
           "img_size": img_size, "weights": weights_init}
    out.update({k: v for k, v in result.items() if k != "history"})
    out["history"] = result.get("history", [])
    return out


def _save(adapter: Any, out: Path, summary: dict[str, Any], source: Any, img_size: int, epochs: int, seed: int) -> None:
    from zoo.weights import save_checkpoint

    meta = {
        "class_names": source.classes if source else None,
        "preprocessing": _preprocessing(adapter, img_size, source),
        "training": {"data": source.name if source else None, "epochs": epochs, "seed": seed},
        "metrics": {k: v for k, v in summary.items() if k not in ("classes", "out")},
    }
    save_checkpoint(out, adapter, meta)
    if (out / _METRICS_TMP).exists():  # the per-epoch log joins the checkpoint it belongs to
        os.replace(out / _METRICS_TMP, out / "metrics.jsonl")


def sample(name: str, *, checkpoint: str | Path, n: int = 64, seed: int = 0, out: str | Path = "grid.png",
           condition: Any = None) -> dict[str, Any]:
    """Generate ``n`` images with a trained GAN checkpoint and write them as one PNG grid.

    Returns:
        ``{"model", "n", "seed", "out", "shape": [n, C, H, W]}``.

    Raises:
        ZooError: ``name`` is not a GAN, the checkpoint is missing/corrupt/of another model, ``n < 1``.
    """
    from zoo.registry import get_spec
    from zoo.weights import load_into, read_checkpoint

    spec = get_spec(name)
    if spec.kind != "gan":
        raise ZooError(f"zoo sample needs a GAN; {name} is a {spec.kind} (see 'zoo list --kind gan')", exit_code=2)
    if n < 1:
        raise ZooError(f"--n must be at least 1, got {n}", exit_code=2)
    state, meta = read_checkpoint(checkpoint)
    if meta.get("model") not in (None, name):
        owner = meta["model"]
        hint = f"run 'zoo sample {owner} --checkpoint {checkpoint}'" if meta.get("kind") == "gan" else f"{owner} is a {meta.get('kind', 'backbone')}, pass a checkpoint written by 'zoo train {name}'"
        raise ZooError(f"checkpoint {checkpoint} was written for {owner}, not {name}; {hint}")
    options = dict(meta.get("config") or {})
    adapter = _build(name, **options)
    load_into(adapter, state, source=str(checkpoint))
    images = adapter.sample(n, seed=seed, condition=condition)
    save_grid(images, out)
    return {"model": name, "n": n, "seed": seed, "out": str(out), "shape": list(images.shape)}


def save_grid(images: Any, path: str | Path, *, nrow: int | None = None, min_cell: int = 64) -> Path:
    """Write ``images`` ((N, C, H, W) float in [0, 1]) as one PNG grid, atomically.

    Cells smaller than ``min_cell`` pixels are enlarged with nearest-neighbour so small
    samples (8x8 digits) stay visible. Uses ``torchvision.utils.make_grid``.

    Raises:
        ZooError: the target directory cannot be written.
    """
    import math

    import torch
    from PIL import Image
    from torchvision.utils import make_grid

    x = images.detach().float().clamp(0, 1).cpu()
    if x.shape[-1] < min_cell:
        x = torch.nn.functional.interpolate(x, scale_factor=max(1, min_cell // x.shape[-1]), mode="nearest")
    grid = make_grid(x, nrow=nrow or int(math.ceil(math.sqrt(x.shape[0]))), padding=2, pad_value=1.0)
    arr = (grid.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy())
    if arr.shape[2] == 1:
        arr = arr[:, :, 0]
    path = Path(path)
    if path.is_dir():
        raise ZooError(f"--out {path} is a directory; give a file name such as {path / 'grid.png'}", exit_code=2)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ZooError(f"cannot write {path} ({exc.strerror}); choose another --out", exit_code=2) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            Image.fromarray(arr).save(fh, format="PNG")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
