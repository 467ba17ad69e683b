"""``zoo train``, ``zoo adapt`` and ``zoo sample``: thin shells over :mod:`zoo.tasks`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from zoo.cli.common import err_console, out_console, print_json

__all__ = ["adapt_cmd", "sample_cmd", "train_cmd"]

_DATA_HELP = "ImageFolder directory (one sub-folder per class) or a built-in data set: digits, digits:0-4, digits:5,7, faces."


def _report(summary: dict, as_json: bool) -> None:
    if as_json:
        print_json(summary)
        return
    from rich.table import Table

    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for k, v in summary.items():
        if k in ("history",):
            continue
        if isinstance(v, float):
            v = f"{v:.4f}"
        elif isinstance(v, list) and len(v) > 12:
            v = f"{len(v)} items"
        table.add_row(k, str(v))
    out_console.print(table)


def train_cmd(
    name: str = typer.Argument(..., help="Model name (see 'zoo list')."),
    data: str = typer.Option(..., "--data", help=_DATA_HELP),
    epochs: int = typer.Option(5, "--epochs", help="Passes over the training split."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default runs/train/NAME)."),
    img_size: Optional[int] = typer.Option(
        None, "--img-size", help="Input side in pixels (built-in data: 32; folders: the model's own size)."
    ),
    batch_size: int = typer.Option(64, "--batch-size", help="Images per batch."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (default: AdamW 1e-3 for backbones, Adam 2e-4 for GANs)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or mps."),
    amp: Optional[str] = typer.Option(None, "--amp", help="Mixed precision: bf16 or fp16."),
    seed: int = typer.Option(0, "--seed", help="Random seed (data split, init, shuffling)."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Stop after this many minutes of training."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Train a backbone (classification) or a GAN from random init with the common trainer.

    Writes OUT/model.safetensors, OUT/model.json (model, config, class names,
    preprocessing, metrics) and OUT/metrics.jsonl.
    """
    from zoo import tasks

    out = out or Path("runs/train") / name
    summary = tasks.train(
        name,
        data,
        epochs=epochs,
        out=out,
        img_size=img_size,
        batch_size=batch_size,
        lr=lr,
        device=device,
        amp=amp,
        seed=seed,
        max_minutes=max_minutes,
        progress=True,
    )
    err_console.print(f"saved {out}/model.safetensors and {out}/model.json")
    _report(summary, as_json)


def adapt_cmd(
    name: str = typer.Argument(..., help="Backbone name (see 'zoo list --kind backbone')."),
    head: int = typer.Option(..., "--head", help="Number of classes of the new head."),
    freeze_until: Optional[str] = typer.Option(
        None, "--freeze-until", help="Freeze every stage up to and including this one (see 'zoo info NAME')."
    ),
    weights: str = typer.Option(
        "auto",
        "--weights",
        help="Checkpoint dir/.safetensors from zoo train/adapt, a published tag (imagenet), 'none', or 'auto' (published weights if available, else random init).",
    ),
    data: Optional[str] = typer.Option(None, "--data", help=_DATA_HELP + " Without it, only build, freeze and save."),
    shots: Optional[int] = typer.Option(None, "--shots", help="Labelled images per class to fine-tune on (few-shot); default all."),
    epochs: int = typer.Option(10, "--epochs", help="Fine-tuning passes."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output directory (default runs/adapt/NAME)."),
    img_size: Optional[int] = typer.Option(
        None, "--img-size", help="Input side in pixels (built-in data: 32; folders: the model's own size)."
    ),
    batch_size: int = typer.Option(32, "--batch-size", help="Images per batch."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (default AdamW 1e-3)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or mps."),
    amp: Optional[str] = typer.Option(None, "--amp", help="Mixed precision: bf16 or fp16."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (trainable_params, frozen_params, val_accuracy...)."),
) -> None:
    """Transfer learning: load weights, replace the head with HEAD classes, freeze early stages, fine-tune on DATA."""
    from zoo import tasks

    out = out or Path("runs/adapt") / name
    summary = tasks.adapt(
        name,
        num_classes=head,
        freeze_until=freeze_until,
        weights=weights,
        data=data,
        shots=shots,
        epochs=epochs,
        out=out,
        img_size=img_size,
        batch_size=batch_size,
        lr=lr,
        device=device,
        amp=amp,
        seed=seed,
    )
    err_console.print(f"saved {out}/model.safetensors and {out}/model.json")
    _report(summary, as_json)


def sample_cmd(
    name: str = typer.Argument(..., help="GAN name (see 'zoo list --kind gan')."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="Directory (or .safetensors file) written by 'zoo train NAME'."),
    n: int = typer.Option(64, "--n", help="Number of samples."),
    seed: int = typer.Option(0, "--seed", help="Seed of the latent noise."),
    label: Optional[str] = typer.Option(
        None, "--label", help="Class to draw (class-conditional GANs): a class name or index, e.g. 7 or seven."
    ),
    levels: bool = typer.Option(False, "--levels", help="Also write each pyramid level's grid beside --out (LAPGAN)."),
    out: Path = typer.Option(Path("grid.png"), "--out", help="PNG file to write."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Generate images with a trained GAN and write them as a PNG grid."""
    from zoo import tasks

    result = tasks.sample(name, checkpoint=checkpoint, n=n, seed=seed, out=out, condition=label, levels=levels)
    if as_json:
        print_json(result)
    else:
        extra = f" (levels: {', '.join(result['levels'])})" if result.get("levels") else ""
        out_console.print(f"wrote {result['n']} samples of {name} to {result['out']}{extra}")
