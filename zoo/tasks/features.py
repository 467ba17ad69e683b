"""A backbone as a fixed feature extractor, and the classifier runs that ``zoo eval``,
``zoo predict`` and ``zoo export`` read.

*CNN as a fixed feature extractor* (Razavian et al. 2014, arXiv:1403.6382; the CS231n
transfer-learning notes): run images through a trained network, keep the penultimate
layer's activations (the input of the classifier's head: 512 for ResNet-18, 1280 for
MobileNetV2, 4096 for VGG16's ``fc7``) and train a linear classifier on them.

The features are taken by :class:`zoo.tasks.quality.PenultimateFeatures` (a forward pre-hook on
the adapter's head), the same extractor FID/KID use. It is used rather than timm's
``forward_head(pre_logits=True)`` or torchvision's ``create_feature_extractor`` because the
registry mixes torchvision, timm and zoo's own networks (NASNet, MobileNet v1): the hook
gives every family the same definition (what the head receives, after global pooling and,
where a family has one, its pre-logits layer) without a per-library branch. For
torchvision's ResNet it is exactly ``torch.flatten(avgpool(x), 1)``, for timm models
``forward_head(forward_features(x), pre_logits=True)``.

Preprocessing: :func:`eval_transform` turns the sidecar's ``preprocessing`` (what ``zoo
train``/``zoo adapt`` saved: ``img_size``, ``mean``, ``std``, ``interpolation``,
``crop_pct``, ``resize_only``) into the evaluation pipeline; the normalisation by
``mean``/``std`` happens inside :class:`~zoo.tasks.quality.PenultimateFeatures`.

This module imports torch; import it lazily.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zoo.errors import ZooError
from zoo.tasks.classifier import load_model, load_run, removing_new_dirs
from zoo.tasks.probe import logistic_probe
from zoo.tasks.quality import PenultimateFeatures
from zoo.utils.outputs import releasing_claims

if TYPE_CHECKING:
    pass

__all__ = [
    "FEATURES_FORMAT",
    "extract",
    "extract_features",
]

#: The ``format`` written into the metadata of a features file.
FEATURES_FORMAT = "zoo-features-1"
CLASSIFIERS = ("logistic",)


# ---------------------------------------------------------------------------------
# extraction
# ---------------------------------------------------------------------------------
@torch.no_grad()
def extract(
    extractor: PenultimateFeatures,
    dataset: Any,
    transform: Any,
    *,
    batch_size: int = 64,
    device: Any = "cpu",
    logits: bool = False,
    progress: bool = False,
    description: str = "features",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run every ``(image, label)`` item of ``dataset`` through ``extractor``, in order.

    Args:
        extractor: the network (moved to ``device`` here).
        dataset: items ``(PIL image or uint8 (C, H, W) tensor, int label)``.
        transform: the image pipeline (:func:`eval_transform`).
        batch_size: images per forward pass.
        device: where to run.
        logits: return the classifier's logits instead of the penultimate features.
        progress: show a :func:`zoo.utils.progress.progress_bar` on stderr.

    Returns:
        ``(values (N, D) float32 on the CPU, labels (N,) int64)``; ``D`` is the feature
        width, or the number of classes with ``logits``.
    """
    from torch.utils.data import DataLoader

    from zoo.data import Transformed
    from zoo.utils.progress import progress_bar

    extractor = extractor.to(device)
    loader = DataLoader(Transformed(dataset, transform), batch_size=max(1, min(batch_size, len(dataset))), shuffle=False)
    outs, labels = [], []
    with progress_bar(enabled=progress, transient=True) as bar:
        task = bar.add_task(description, total=len(loader)) if bar else None
        for x, y in loader:
            x = x.to(device)
            outs.append((extractor.logits(x) if logits else extractor(x)).float().cpu())
            labels.append(torch.as_tensor(y, dtype=torch.int64))
            if bar:
                bar.advance(task)
    if not outs:  # an empty split (a tiny folder): (0, D) features; empty logits are (0, 0)
        return torch.zeros(0, 0 if logits else extractor.num_features), torch.zeros(0, dtype=torch.int64)
    return torch.cat(outs), torch.cat(labels)


@releasing_claims
def extract_features(
    name_or_dir: str,
    data: str,
    *,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    weights: str | None = None,
    img_size: int | None = None,
    classifier: str | None = None,
    shots: int | None = None,
    batch_size: int = 64,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """``zoo features``: penultimate-layer features of every image of ``data``, saved as safetensors.

    The file holds ``features`` ``(N, D)`` float32, ``labels`` ``(N,)`` int64 (indices into
    the data's class names) and ``split`` ``(N,)`` uint8 (0 train, 1 held-out; the split of
    :func:`zoo.data.resolve_data` with ``seed``), training split first; its metadata holds
    ``format`` (``zoo-features-1``), ``model``, ``source``, ``weights``, ``data``,
    ``class_names`` and ``preprocessing`` (JSON strings). Read it back with
    ``safetensors.torch.load_file`` / ``safe_open(...).metadata()``.

    Args:
        name_or_dir: a checkpoint directory of ``zoo train``/``zoo adapt``, or a registry name.
        data: ``--data`` (ImageFolder path or built-in data set).
        out: the ``.safetensors`` file (default ``runs/features/NAME.safetensors``, numbered;
            see :func:`zoo.utils.outputs.claim_output`); never one of the files it reads
            (the checkpoint, ``weights``, ``data``) or another run's.
        overwrite: replace an existing ``out``.
        weights: for a registry name: ``--weights`` (default ``auto``); refused with a directory.
        img_size: input side in pixels for a registry name (default as ``zoo adapt``: 32 for
            built-in data); a checkpoint uses its saved size.
        classifier: ``"logistic"`` also fits :func:`logistic_probe` on the training split
            (C chosen by cross-validation on it) and reports the held-out accuracy.
        shots: fit the classifier on this many training images per class (seeded,
            :func:`zoo.data.few_shot`, the images ``zoo adapt --shots`` trains on) instead of
            the whole training split; the file still holds every image's features.
        batch_size, device, seed, progress: extraction batch, device, split seed (0 .. 2**32 - 1), progress bar.

    Returns:
        ``model``, ``source``, ``weights``, ``data``, ``out``, ``images``, ``train_images``,
        ``val_images``, ``dim`` (feature width); with a classifier, :func:`logistic_probe`'s
        keys (its accuracies and how C was chosen), ``shots`` and ``classifier_train_images``
        (the images it was fitted on; ``None`` without a classifier).

    Raises:
        ZooError: unknown classifier, ``--weights`` with a directory, ``shots`` without a
            classifier or above a class's training images, a bad ``seed`` or ``img_size``, bad or
            taken ``out``, bad data or model (exit code 2 for usage errors).
    """
    from safetensors.torch import save_file

    from zoo.data import few_shot, resolve_data
    from zoo.io.checkpoint import checkpoint_files
    from zoo.registry.spec import check_img_size
    from zoo.tasks._common import check_shots
    from zoo.utils.devices import resolve_device
    from zoo.utils.fileio import atomic_path
    from zoo.utils.outputs import claim_output
    from zoo.utils.seeding import check_seed

    if classifier is not None and classifier not in CLASSIFIERS:
        raise ZooError(f"{{param}} {classifier!r} is not known; valid: {', '.join(CLASSIFIERS)}", param="classifier", exit_code=2)
    if batch_size < 1:
        raise ZooError(f"{{param}} must be at least 1, got {batch_size}", param="batch_size", exit_code=2)
    if shots is not None and classifier is None:
        raise ZooError(
            "{param} picks the classifier's training images; add --classifier logistic (features are saved for every image)",
            param="shots",
            exit_code=2,
        )
    check_seed(seed)
    if img_size is not None:
        check_img_size(img_size)
    dev = resolve_device(device)
    is_dir = Path(name_or_dir).expanduser().exists() or "/" in name_or_dir or name_or_dir.startswith(".")
    if is_dir and weights is not None:
        raise ZooError(
            f"{{param}} applies to a registry model; {name_or_dir} is a checkpoint directory with its own weights",
            param="weights",
            exit_code=2,
        )
    stem = Path(name_or_dir).name if is_dir else name_or_dir
    reads = [*(checkpoint_files(name_or_dir) if is_dir else ()), weights, data]
    target = claim_output(out, kind="file", default=Path("runs/features") / f"{stem}.safetensors", overwrite=overwrite, reads=reads)
    source = resolve_data(data, seed=seed)
    check_shots(source, shots, seed)  # before any model is loaded
    if is_dir:
        run = load_run(name_or_dir, command="zoo features")
        if img_size is not None and img_size != run.preprocessing["img_size"]:
            raise ZooError(
                f"{{param}} {img_size} differs from the checkpoint's {run.preprocessing['img_size']} px; leave it out for a checkpoint",
                param="img_size",
                exit_code=2,
            )
    else:
        run = load_model(name_or_dir, weights="auto" if weights is None else weights, img_size=img_size, source=source)
    extractor, transform = run.extractor(), run.transform()
    kw = {"batch_size": batch_size, "device": dev, "progress": progress}
    train_x, train_y = extract(extractor, source.train, transform, description="features (train)", **kw)
    val_x, val_y = extract(extractor, source.val, transform, description="features (held-out)", **kw)
    result: dict[str, Any] = {"model": run.model, "source": run.source, "weights": run.weights, "data": source.name}
    if classifier == "logistic":
        fit_x, fit_y = train_x, train_y
        if shots is not None:
            keep = torch.as_tensor(few_shot(list(range(len(train_y))), train_y.numpy(), shots, seed, classes=source.classes))
            fit_x, fit_y = train_x[keep], train_y[keep]
        result.update(logistic_probe(fit_x, fit_y, val_x, val_y, seed=seed), shots=shots)
    tensors = {
        "features": torch.cat([train_x, val_x]).contiguous(),
        "labels": torch.cat([train_y, val_y]).contiguous(),
        "split": torch.cat([torch.zeros(len(train_y), dtype=torch.uint8), torch.ones(len(val_y), dtype=torch.uint8)]),
    }
    metadata = {
        "format": FEATURES_FORMAT,
        "model": run.model,
        "source": run.source,
        "weights": run.weights,
        "data": source.name,
        "class_names": json.dumps(list(source.classes)),
        "preprocessing": json.dumps(run.preprocessing),
        "seed": str(seed),
    }
    try:
        with removing_new_dirs(target), atomic_path(target) as tmp:
            save_file(tensors, str(tmp), metadata=metadata)
    except OSError as exc:
        raise ZooError(f"cannot write {target} ({exc.strerror or exc}); choose another {{param}}", param="out") from exc
    result.update(
        out=str(target),
        images=int(tensors["labels"].numel()),
        classifier_train_images=result.get("train_images"),
        train_images=len(train_y),
        val_images=len(val_y),
        dim=int(tensors["features"].shape[1]),
    )
    return result
