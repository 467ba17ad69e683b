"""``zoo features``, ``zoo eval``, ``zoo predict`` and ``zoo export``: thin shells over
:mod:`zoo.tasks.features`, :mod:`zoo.tasks.evaluate` and :mod:`zoo.tasks.export` (imported when a command runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from zoo.cli.common import err_console, out_console, print_json

__all__ = ["eval_cmd", "export_cmd", "features_cmd", "predict_cmd"]

_DATA_HELP = "ImageFolder directory (one sub-folder per class) or a built-in data set: digits, digits:0-4, digits:5,7, faces, glyphs, glyphs:digits (zoo plugins lists them)."
_CKPT_HELP = "Checkpoint directory written by 'zoo train' or 'zoo adapt' (a backbone)."


def _say(text: str) -> None:
    """One line of plain text on stdout, never wrapped (paths stay whole)."""
    out_console.print(text, markup=False, highlight=False, soft_wrap=True)


def features_cmd(
    name: str = typer.Argument(..., metavar="NAME_OR_DIR", help="A checkpoint directory, or a backbone name (see 'zoo list')."),
    data: str = typer.Option(..., "--data", help=_DATA_HELP),
    out: Optional[Path] = typer.Option(None, "--out", help="The .safetensors file to write (default runs/features/NAME.safetensors)."),
    weights: Optional[str] = typer.Option(
        None, "--weights", help="For a backbone name: a published tag (imagenet), a weights file, 'none' or 'auto' (the default)."
    ),
    classifier: Optional[str] = typer.Option(
        None,
        "--classifier",
        help="Also fit a linear classifier on the training split's features and report its held-out accuracy: logistic "
        "(L2, C chosen from 1e-4..1e4 by stratified k-fold cross-validation on the training split, k <= 5; fixed C = 1 with one image in a class).",
    ),
    shots: Optional[int] = typer.Option(
        None,
        "--shots",
        help="Fit the classifier on K training images per class (seeded, as 'zoo adapt --shots'); features of all are saved.",
    ),
    img_size: Optional[int] = typer.Option(
        None, "--img-size", help="Input side for a backbone name (built-in data: 32; folders: the model's)."
    ),
    batch_size: int = typer.Option(64, "--batch-size", help="Images per forward pass."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or mps."),
    seed: int = typer.Option(0, "--seed", help="Seed of the train/held-out split."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Penultimate-layer features of every image of DATA (a CNN as a fixed feature extractor).

    Writes features (N, D) float32, labels (N,) int64 and split (N,) uint8 (0 train,
    1 held-out), with the model, data and class names in the file's metadata.
    """
    from zoo.tasks.features import extract_features

    result = extract_features(
        name,
        data,
        out=out,
        overwrite=overwrite,
        weights=weights,
        img_size=img_size,
        classifier=classifier,
        shots=shots,
        batch_size=batch_size,
        device=device,
        seed=seed,
    )
    if as_json:
        print_json(result)
        return
    _say(f"wrote {result['images']} feature vectors ({result['dim']} floats) of {result['model']} on {result['data']} to {result['out']}")
    if "val_accuracy" in result:
        if result["selection"] == "cross-validation":
            how = (
                f"C = {result['C']:g} chosen by {result['cv_folds']}-fold cross-validation on the training images "
                f"over {len(result['Cs'])} values {result['Cs'][0]:g}..{result['Cs'][-1]:g}, log-loss"
            )
        else:
            how = result["note"]
        _say(
            f"logistic classifier on the features: {result['val_accuracy']:.4f} held-out accuracy "
            f"({result['val_images']} images; {result['train_accuracy']:.4f} on its {result['classifier_train_images']} training images; {how})"
        )


def eval_cmd(
    checkpoint: Path = typer.Argument(..., metavar="DIR", help=_CKPT_HELP),
    data: str = typer.Option(..., "--data", help=_DATA_HELP + " Its classes must be the checkpoint's."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report directory for metrics.json and confusion.png (default runs/eval/DIR)."),
    split: str = typer.Option("val", "--split", help="val (the held-out split), train or all."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the split (default: the checkpoint's training seed)."),
    topk: int = typer.Option(5, "--topk", help="k of the top-k accuracy (reported when k is below the number of classes)."),
    batch_size: int = typer.Option(64, "--batch-size", help="Images per forward pass."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or mps."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier report in --out."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON."),
) -> None:
    """Top-1, top-5 and per-class accuracy of a classifier checkpoint on DATA, and a confusion-matrix PNG."""
    from zoo.tasks.evaluate import evaluate

    r = evaluate(checkpoint, data, out=out, overwrite=overwrite, split=split, seed=seed, topk=topk, batch_size=batch_size, device=device)
    err_console.print(f"wrote {' and '.join(r['files'])}", markup=False, highlight=False, soft_wrap=True)
    if as_json:
        print_json(r)
        return
    from zoo.cli.tables import Col, print_table

    k = r["topk"]
    scores = [f"top-1 {r['top1']:.4f}"] + ([f"top-{k} {r[f'top{k}']:.4f}"] if r[f"top{k}"] is not None else [])
    scores.append(f"mean per-class {r['mean_per_class_accuracy']:.4f}")
    _say(f"{r['model']} on {r['data']} ({r['split']} split, {r['images']} images): {', '.join(scores)}")
    for note in r["notes"]:
        _say(f"note: {note}")
    rows = [[row["class"], "-" if row["accuracy"] is None else f"{row['accuracy']:.4f}", str(row["support"])] for row in r["per_class"]]
    print_table([Col("class"), Col("accuracy", justify="right"), Col("images", justify="right")], rows)


def predict_cmd(
    checkpoint: Path = typer.Argument(..., metavar="DIR", help=_CKPT_HELP),
    images: list[Path] = typer.Argument(..., metavar="IMAGE...", help="Image files to classify."),
    topk: int = typer.Option(5, "--topk", help="Classes to show per image."),
    as_json: bool = typer.Option(False, "--json", help="Print the predictions as JSON."),
) -> None:
    """The most likely classes of each image, with probabilities, preprocessed as the checkpoint was trained.

    Every image is decoded first: one that cannot be is an error naming it, and nothing is printed.
    """
    from zoo.tasks.evaluate import predict

    results = predict(checkpoint, list(images), topk=topk)
    if as_json:
        print_json(results)
        return
    for r in results:
        _say(r["image"] + ": " + ", ".join(f"{t['class']} {t['probability']:.3f}" for t in r["top"]))


def export_cmd(
    checkpoint: Path = typer.Argument(..., metavar="DIR", help=_CKPT_HELP),
    fmt: str = typer.Option("onnx", "--format", help="onnx or torchscript."),
    out: Optional[Path] = typer.Option(None, "--out", help="File to write (default DIR/model.onnx or DIR/model.pt)."),
    img_size: Optional[int] = typer.Option(None, "--img-size", help="Input side of the exported model (default: the checkpoint's)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Export a classifier checkpoint to ONNX or TorchScript, then check the file against PyTorch.

    The file is run (onnxruntime, torch.jit.load) on a seeded batch and kept only when its
    outputs match PyTorch's within 1e-4 (relative). Input: normalised (batch, 3, S, S)
    float32; output: logits. GAN checkpoints are refused.
    """
    from zoo.tasks.export import export

    r = export(checkpoint, fmt, out=out, overwrite=overwrite, img_size=img_size)
    if as_json:
        print_json(r)
        return
    _say(
        f"exported {r['model']} to {r['out']} ({r['format']}, {r['megabytes']:.1f} MB, input (batch, 3, {r['input_shape'][2]}, {r['input_shape'][3]}))"
    )
    _say(f"verified with {r['runtime']}: max abs diff {r['max_abs_diff']:.2g} <= {r['tolerance']:.2g} on a batch of {r['verified_batch']}")
