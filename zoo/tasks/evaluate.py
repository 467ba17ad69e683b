"""Evaluating and using a trained classifier: ``zoo eval`` and ``zoo predict``.

``evaluate`` runs a ``zoo train``/``zoo adapt`` checkpoint over a data set's held-out split
(the split of :func:`zoo.data.resolve_data` with the run's own training seed, so the images
it never trained on) and reports top-1, top-5 and per-class accuracy with torchmetrics
(``MulticlassAccuracy``, ``MulticlassConfusionMatrix``), plus a confusion-matrix PNG.

``predict`` classifies image files with the preprocessing saved in the checkpoint's sidecar.

The confusion matrix is drawn with PIL (rows: true class, columns: predicted class, shade:
the share of the row): matplotlib is not a dependency of zoo, and a heat map with counts
needs no more than rectangles and text.

This module imports torch; import it lazily.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.io.images import read_image
from zoo.tasks.classifier import load_run, removing_new_dirs
from zoo.tasks.features import extract
from zoo.utils.outputs import releasing_claims

__all__ = ["SPLITS", "classification_metrics", "evaluate", "predict", "render_confusion"]

SPLITS = ("val", "train", "all")
_REPORT_FILES = ("metrics.json", "confusion.png")


# ---------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------
def classification_metrics(logits: torch.Tensor, targets: torch.Tensor, class_names: list[str], *, topk: int = 5) -> dict[str, Any]:
    """Top-1, top-k and per-class accuracy and the confusion matrix (torchmetrics).

    Args:
        logits: ``(N, C)`` float scores (logits or probabilities), ``C = len(class_names)``.
        targets: ``(N,)`` int64 true class indices.
        class_names: the ``C`` class names.
        topk: the k of the top-k accuracy; reported only when ``k < C`` (with ``C <= k``
            every image is right by definition), otherwise ``None`` and a note says why.

    Returns:
        ``images``; ``top1`` (0..1); ``topk`` (k); ``top{k}`` (0..1 or ``None``);
        ``notes`` (list of str); ``per_class``: ``[{"class", "accuracy", "support"}]``
        (accuracy = recall of that class, ``None`` for a class without images);
        ``mean_per_class_accuracy`` (over classes with images); ``confusion_matrix``:
        ``C x C`` counts, rows true class, columns predicted class.

    Raises:
        ZooError: no images, or ``logits`` and ``class_names`` disagree on ``C``.
    """
    from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

    n, c = len(targets), len(class_names)
    if n == 0:
        raise ZooError("no images to evaluate; the chosen split of the data is empty (try --split all)")
    if logits.ndim != 2 or logits.shape[1] != c:
        raise ZooError(f"the classifier has {logits.shape[-1]} outputs but {c} class names; the checkpoint's model.json does not match it")
    logits, targets = logits.float(), targets.long()
    top1 = MulticlassAccuracy(num_classes=c, average="micro", top_k=1)(logits, targets)
    per_class = MulticlassAccuracy(num_classes=c, average=None, top_k=1)(logits, targets)
    matrix = MulticlassConfusionMatrix(num_classes=c)(logits, targets).long()
    support = matrix.sum(1)
    result: dict[str, Any] = {"images": n, "top1": float(top1), "topk": topk, f"top{topk}": None, "notes": []}
    if topk < c:
        result[f"top{topk}"] = float(MulticlassAccuracy(num_classes=c, average="micro", top_k=topk)(logits, targets))
    else:
        result["notes"].append(f"top-{topk} accuracy not reported: the classifier has {c} classes, so it would be 1.0 by definition")
    rows = [
        {"class": name, "accuracy": float(per_class[i]) if support[i] > 0 else None, "support": int(support[i])}
        for i, name in enumerate(class_names)
    ]
    present = [r["accuracy"] for r in rows if r["accuracy"] is not None]
    result["per_class"] = rows
    result["mean_per_class_accuracy"] = sum(present) / len(present)
    result["confusion_matrix"] = matrix.tolist()
    return result


# ---------------------------------------------------------------------------------
# the confusion-matrix picture
# ---------------------------------------------------------------------------------
def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or without FreeType: the bitmap font
        return ImageFont.load_default()


def _centred(draw: Any, centre: tuple[float, float], text: str, font: Any, fill: Any) -> None:
    """Draw ``text`` centred on ``centre`` (works for TrueType and bitmap fonts alike)."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text((centre[0] - (left + right) / 2, centre[1] - (top + bottom) / 2), text, fill=fill, font=font)


def _vertical(text: str, font: Any, height: int) -> Any:
    """``text`` on a white strip ``height`` px high, rotated to read bottom-up."""
    from PIL import Image, ImageDraw

    width = max(1, round(font.getlength(text)) + 6)
    strip = Image.new("RGB", (width, height), "white")
    _centred(ImageDraw.Draw(strip), (width / 2, height / 2), text, font, "dimgray")
    return strip.rotate(90, expand=True)


def render_confusion(matrix: list[list[int]] | torch.Tensor, class_names: list[str], *, title: str = "") -> Any:
    """Draw a confusion matrix as an RGB PIL image.

    Rows are true classes, columns predicted classes; each cell is shaded white to dark blue
    by its share of the row (the class's recall on the diagonal) and, while cells are large
    enough (up to 30 classes), shows its count. Cells are 8-36 px so that the picture stays
    under about 1,600 px for any number of classes.

    Args:
        matrix: ``C x C`` counts.
        class_names: the ``C`` names (longer than 14 characters: their first 6 and last 7 on the axes).
        title: a line above the matrix.

    Returns:
        A ``PIL.Image.Image`` (mode ``RGB``).
    """
    from PIL import Image, ImageDraw

    m = torch.as_tensor(matrix, dtype=torch.float64)
    c = m.shape[0]
    cell = max(8, min(36, 1400 // max(c, 1)))
    font = _font(max(8, min(13, cell // 3 + 2)))
    line = round(font.getbbox("Ag")[3]) + 6
    names = [n if len(n) <= 14 else n[:6] + "~" + n[-7:] for n in class_names]  # the ends tell names apart
    label_w = 8 + max(round(font.getlength(n)) for n in names)
    grid_top, grid_left = 4 + 2 * line + label_w, 4 + line + label_w
    width = max(grid_left + c * cell, 8 + round(font.getlength(title))) + 8
    img = Image.new("RGB", (width, grid_top + c * cell + 8), "white")
    draw = ImageDraw.Draw(img)
    draw.text((4, 4), title, fill="black", font=font)
    _centred(draw, (grid_left + c * cell / 2, 4 + 1.5 * line), "predicted", font, "dimgray")
    img.paste(_vertical("true", font, line), (4, grid_top + max(0, (c * cell - round(font.getlength("true")) - 6) // 2)))
    shares = m / m.sum(1, keepdim=True).clamp(min=1)
    dark = (8, 48, 107)  # the end of matplotlib's "Blues"
    for i in range(c):
        y0 = grid_top + i * cell
        draw.text((4 + line, y0 + (cell - line) / 2 + 2), names[i], fill="black", font=font)
        img.paste(_vertical(names[i], font, cell), (grid_left + i * cell, 4 + 2 * line + label_w - round(font.getlength(names[i])) - 6))
        for j in range(c):
            s = float(shares[i, j])
            x0 = grid_left + j * cell
            draw.rectangle(
                (x0, y0, x0 + cell - 1, y0 + cell - 1), fill=tuple(round(255 + (d - 255) * s) for d in dark), outline=(225, 225, 225)
            )
            if c <= 30 and m[i, j] > 0:
                _centred(draw, (x0 + cell / 2, y0 + cell / 2), str(int(m[i, j])), font, "white" if s > 0.5 else "black")
    return img


# ---------------------------------------------------------------------------------
# zoo eval
# ---------------------------------------------------------------------------------
def _short(names: list[str], n: int = 10) -> str:
    return "[" + ", ".join(names[:n]) + (f", … +{len(names) - n} more" if len(names) > n else "") + "]"


def _write_report(target: Path, files: dict[str, Any]) -> None:
    """Write ``{name: str | PIL image}`` into ``target`` all or nothing: every file goes to a
    temporary file first (nested :func:`zoo.utils.fileio.atomic_path`), and they are renamed into
    place only once all are written, so a failure leaves an earlier report whole; the
    directories this call created are removed on failure."""
    import contextlib

    from zoo.utils.fileio import atomic_path

    try:
        with removing_new_dirs(target / "metrics.json"), contextlib.ExitStack() as stack:
            for name, content in files.items():
                tmp = stack.enter_context(atomic_path(target / name))
                if isinstance(content, str):
                    tmp.write_text(content, encoding="utf-8")
                else:
                    content.save(tmp, format="PNG")
    except OSError as exc:
        raise ZooError(f"cannot write the report in {target} ({exc.strerror or exc}); choose another {{param}}", param="out") from exc


@releasing_claims
def evaluate(
    checkpoint: str | os.PathLike[str],
    data: str,
    *,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    split: str = "val",
    seed: int | None = None,
    topk: int = 5,
    batch_size: int = 64,
    device: str = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """``zoo eval``: accuracy of a classifier checkpoint on ``data``, and a report directory.

    Args:
        checkpoint: a ``zoo train``/``zoo adapt`` run directory (with class names).
        data: ``--data``; its classes must be the checkpoint's, in the same order.
        out: report directory (default ``runs/eval/<checkpoint name>``, numbered): it gets
            ``metrics.json`` (what this returns) and ``confusion.png`` (:func:`render_confusion`);
            never one of its inputs (the checkpoint, ``data``) or inside them.
        overwrite: replace an earlier report in ``out``.
        split: ``val`` (held out), ``train`` or ``all`` images of ``data``.
        seed: the split's seed, 0 .. 2**32 - 1 (default: the checkpoint's training seed, so
            ``val`` is the split it did not train on).
        topk: the k of the top-k accuracy (5).
        batch_size, device, progress: inference batch, device, progress bar on stderr.

    Returns:
        :func:`classification_metrics` plus ``model``, ``checkpoint``, ``data``, ``split``,
        ``seed``, ``out`` and ``files`` (the report's paths).

    Raises:
        ZooError: unknown split, ``topk < 1``, a bad ``seed``, bad checkpoint, data or ``out``
            (exit code 2 for usage errors); the data's classes differ from the checkpoint's (both listed).
    """
    from zoo.data import resolve_data
    from zoo.io.checkpoint import checkpoint_files
    from zoo.utils.devices import resolve_device
    from zoo.utils.fileio import dumps_strict
    from zoo.utils.outputs import claim_output
    from zoo.utils.seeding import check_seed

    if split not in SPLITS:
        raise ZooError(f"{{param}} {split!r} is not known; valid: {', '.join(SPLITS)}", param="split", exit_code=2)
    if topk < 1:
        raise ZooError(f"{{param}} must be at least 1, got {topk}", param="topk", exit_code=2)
    if batch_size < 1:
        raise ZooError(f"{{param}} must be at least 1, got {batch_size}", param="batch_size", exit_code=2)
    check_seed(seed)
    dev = resolve_device(device)
    ckpt = Path(checkpoint).expanduser()
    reads = [*checkpoint_files(ckpt), data]
    target = claim_output(out, default=Path("runs/eval") / ckpt.name, overwrite=overwrite, markers=_REPORT_FILES, reads=reads)
    run = load_run(ckpt, command="zoo eval")
    if not run.class_names:
        raise ZooError(f"checkpoint {ckpt} has no class names (adapted without --data); fine-tune it on labelled data before evaluating")
    training = run.sidecar.get("training") or {}
    if seed is None:
        seed = training.get("seed") if isinstance(training.get("seed"), int) else 0
    source = resolve_data(data, seed=seed)
    if list(source.classes) != run.class_names:
        raise ZooError(
            f"the data {source.name} has classes {_short(source.classes)} but checkpoint {ckpt} was trained on "
            f"{_short(run.class_names)}; pass data with the checkpoint's classes, in the same order",
            exit_code=2,
        )
    parts = {"val": [source.val], "train": [source.train], "all": [source.train, source.val]}[split]
    extractor, transform = run.extractor(), run.transform()
    logits, labels = [], []
    for part in parts:
        lg, lb = extract(extractor, part, transform, batch_size=batch_size, device=dev, logits=True, progress=progress, description="eval")
        logits.append(lg)
        labels.append(lb)
    metrics = classification_metrics(torch.cat(logits), torch.cat(labels), run.class_names, topk=topk)
    result: dict[str, Any] = {"model": run.model, "checkpoint": str(ckpt), "data": source.name, "split": split, "seed": seed}
    result.update(metrics)
    title = f"{run.model} on {source.name} ({split}, {metrics['images']} images): top-1 {metrics['top1']:.3f}"
    png = render_confusion(metrics["confusion_matrix"], run.class_names, title=title)
    result["out"] = str(target)
    result["files"] = [str(target / f) for f in _REPORT_FILES]
    _write_report(target, {"metrics.json": dumps_strict(result, indent=2) + "\n", "confusion.png": png})
    return result


# ---------------------------------------------------------------------------------
# zoo predict
# ---------------------------------------------------------------------------------
@torch.no_grad()
def predict(checkpoint: str | os.PathLike[str], images: list[str | os.PathLike[str]], *, topk: int = 5) -> list[dict[str, Any]]:
    """``zoo predict``: the ``topk`` most likely classes of each image, with probabilities.

    Every image is decoded before any is classified, so an undecodable one fails the call
    (one line naming it) and nothing is reported for the others. Images are preprocessed
    as the checkpoint's sidecar says (:func:`zoo.tasks.classifier.eval_transform`), then normalised.

    Args:
        checkpoint: a ``zoo train``/``zoo adapt`` run directory.
        images: image files (anything PIL reads).
        topk: classes per image (at most the number of classes: more are cut to that).

    Returns:
        One dict per image, in order: ``image`` (the path), ``top``:
        ``[{"class", "index", "probability"}]`` by decreasing softmax probability (0..1).
        A run adapted without class names uses the class indices as names.

    Raises:
        ZooError: ``topk < 1`` (exit code 2), no images, a missing or undecodable image,
            a bad checkpoint.
    """
    if topk < 1:
        raise ZooError(f"{{param}} must be at least 1, got {topk}", param="topk", exit_code=2)
    if not images:
        raise ZooError("no images given; pass one or more image files", exit_code=2)
    pictures = [read_image(p, mode="RGB") for p in images]
    run = load_run(checkpoint, command="zoo predict")
    names = run.class_names or [str(i) for i in range(run.adapter.num_classes)]
    extractor, transform = run.extractor(), run.transform()
    probs = torch.cat(
        [torch.softmax(extractor.logits(torch.stack([transform(x) for x in pictures[i : i + 32]])), 1) for i in range(0, len(pictures), 32)]
    )
    k = min(topk, probs.shape[1])
    values, indices = probs.topk(k, dim=1)
    return [
        {
            "image": str(path),
            "top": [{"class": names[int(j)], "index": int(j), "probability": float(v)} for v, j in zip(values[i], indices[i], strict=True)],
        }
        for i, path in enumerate(images)
    ]
