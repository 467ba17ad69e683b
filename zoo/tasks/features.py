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

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.tasks.quality import PenultimateFeatures

__all__ = [
    "FEATURES_FORMAT",
    "FIXED_C",
    "LOGISTIC_CS",
    "LOGISTIC_FOLDS",
    "ClassifierRun",
    "eval_transform",
    "extract",
    "extract_features",
    "load_model",
    "load_run",
    "logistic_probe",
    "removing_new_dirs",
]

#: The ``format`` written into the metadata of a features file.
FEATURES_FORMAT = "zoo-features-1"
CLASSIFIERS = ("logistic",)


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

    adapter: Any
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
    loader = DataLoader(Transformed(dataset, transform), batch_size=batch_size, shuffle=False)
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


#: The grid of inverse regularisation strengths C the logistic classifier's cross-validation searches: 1e-4 .. 1e4, one per decade.
LOGISTIC_CS: tuple[float, ...] = tuple(10.0**e for e in range(-4, 5))
#: Most folds of that cross-validation (fewer when the smallest class has fewer training images).
LOGISTIC_FOLDS = 5
#: C when cross-validation is impossible (a class with one training image): scikit-learn's default.
FIXED_C = 1.0


def _cv_options() -> dict[str, Any]:
    """Arguments newer scikit-learn releases want stated (their defaults are changing), when the installed one has them."""
    import inspect

    from sklearn.linear_model import LogisticRegressionCV

    params = inspect.signature(LogisticRegressionCV).parameters
    wanted = {"l1_ratios": (0.0,), "use_legacy_attributes": False}  # plain L2; C_ a float (scikit-learn >= 1.8)
    return {k: v for k, v in wanted.items() if k in params}


def logistic_probe(
    train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor, val_y: torch.Tensor, *, seed: int = 0
) -> dict[str, Any]:
    """A linear classifier on fixed features, its regularisation chosen by cross-validation.

    ``StandardScaler`` then scikit-learn's ``LogisticRegressionCV`` (L2, lbfgs, multinomial),
    fitted on the training split: C is chosen from :data:`LOGISTIC_CS` (1e-4 to 1e4, 9
    values, one per decade) by stratified k-fold cross-validation on the training split
    (``StratifiedKFold(k, shuffle=True, random_state=seed)``, ``k = min(5, images of the
    smallest class)``, scored by log-loss, which separates the Cs where a few held-out
    images per fold tie on accuracy), then refitted on the whole training split with that C.
    The scaler is fitted on the whole training split before the folds are cut.

    With one training image in some class (K = 1 shot) no fold can hold that class out and
    still train on it, so cross-validation is impossible: C is then fixed at
    :data:`FIXED_C` (1.0, scikit-learn's default) and the result says so
    (``selection="fixed"``, ``cv_folds=0``, ``note``).

    Args:
        train_x, val_x: ``(N, D)`` float32 features; train_y, val_y: ``(N,)`` int64 labels.
        seed: ``random_state`` of the folds and the solver.

    Returns:
        ``classifier`` ("logistic"), ``selection`` ("cross-validation" or "fixed"), ``C`` (the
        one used), ``Cs`` (the grid searched, ``[]`` when fixed), ``cv_folds`` (0 when fixed),
        ``cv_scoring`` ("neg_log_loss" or ``None``), ``note`` (why C is fixed, or ``None``),
        ``train_accuracy`` and ``val_accuracy`` (0..1), ``train_images``, ``val_images``.

    Raises:
        ZooError: an empty split, or fewer than 2 classes in the training split.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(train_y) == 0 or len(val_y) == 0:
        raise ZooError(f"the logistic classifier needs a training and a held-out split; got {len(train_y)} and {len(val_y)} images")
    _, counts = np.unique(train_y.numpy(), return_counts=True)
    if len(counts) < 2:
        raise ZooError("the logistic classifier needs at least 2 classes in the training split")
    folds = min(LOGISTIC_FOLDS, int(counts.min()))
    note = None
    if folds >= 2:
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        head = LogisticRegressionCV(Cs=list(LOGISTIC_CS), cv=cv, scoring="neg_log_loss", max_iter=2000, random_state=seed, **_cv_options())
    else:
        note = (
            f"C fixed at {FIXED_C:g}: a class has only {int(counts.min())} training image, too few to cross-validate "
            "(each fold must both train on and hold out every class)"
        )
        head = LogisticRegression(C=FIXED_C, max_iter=2000, random_state=seed)
    clf = make_pipeline(StandardScaler(), head)
    clf.fit(train_x.numpy(), train_y.numpy())
    chosen = float(np.ravel(head.C_)[0]) if folds >= 2 else FIXED_C
    return {
        "classifier": "logistic",
        "selection": "cross-validation" if folds >= 2 else "fixed",
        "C": chosen,
        "Cs": list(LOGISTIC_CS) if folds >= 2 else [],
        "cv_folds": folds if folds >= 2 else 0,
        "cv_scoring": "neg_log_loss" if folds >= 2 else None,
        "note": note,
        # accuracy_score, not clf.score: LogisticRegressionCV.score returns its CV scoring (log-loss)
        "train_accuracy": float(accuracy_score(train_y.numpy(), clf.predict(train_x.numpy()))),
        "val_accuracy": float(accuracy_score(val_y.numpy(), clf.predict(val_x.numpy()))),
        "train_images": len(train_y),
        "val_images": len(val_y),
    }


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
            see :func:`zoo.utils.outputs.claim_output`).
        overwrite: replace an existing ``out``.
        weights: for a registry name: ``--weights`` (default ``auto``); refused with a directory.
        img_size: input side in pixels for a registry name (default as ``zoo adapt``: 32 for
            built-in data); a checkpoint uses its saved size.
        classifier: ``"logistic"`` also fits :func:`logistic_probe` on the training split
            (C chosen by cross-validation on it) and reports the held-out accuracy.
        shots: fit the classifier on this many training images per class (seeded,
            :func:`zoo.data.few_shot`, the images ``zoo adapt --shots`` trains on) instead of
            the whole training split; the file still holds every image's features.
        batch_size, device, seed, progress: extraction batch, device, split seed, progress bar.

    Returns:
        ``model``, ``source``, ``weights``, ``data``, ``out``, ``images``, ``train_images``,
        ``val_images``, ``dim`` (feature width); with a classifier, :func:`logistic_probe`'s
        keys (its accuracies and how C was chosen), ``shots`` and ``classifier_train_images``
        (the images it was fitted on; ``None`` without a classifier).

    Raises:
        ZooError: unknown classifier, ``--weights`` with a directory, ``shots`` without a
            classifier or above a class's training images, bad ``out``, bad data or model
            (exit code 2 for usage errors).
    """
    from safetensors.torch import save_file

    from zoo.data import few_shot, resolve_data
    from zoo.tasks._common import check_shots
    from zoo.utils.devices import resolve_device
    from zoo.utils.fileio import atomic_path
    from zoo.utils.outputs import claim_output

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
    dev = resolve_device(device)
    is_dir = Path(name_or_dir).expanduser().exists() or "/" in name_or_dir or name_or_dir.startswith(".")
    if is_dir and weights is not None:
        raise ZooError(
            f"{{param}} applies to a registry model; {name_or_dir} is a checkpoint directory with its own weights",
            param="weights",
            exit_code=2,
        )
    stem = Path(name_or_dir).name if is_dir else name_or_dir
    target = claim_output(out, kind="file", default=Path("runs/features") / f"{stem}.safetensors", overwrite=overwrite)
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
