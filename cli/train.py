"""``zoo train`` and ``zoo adapt``: thin shells over :mod:`zoo.tasks`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from zoo.cli.common import THREADS_HELP, apply_threads, err_console, out_console, print_json

__all__ = ["adapt_cmd", "train_cmd"]

_DATA_HELP = "ImageFolder directory (one sub-folder per class) or a built-in data set: digits, digits:0-4, digits:5,7, faces, glyphs, glyphs:digits (zoo plugins lists them)."


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


_OVERWRITE_HELP = "Replace the earlier run in --out (its files go once the new run has a complete epoch)."
_RESUME_HELP = "Continue the run in this directory from its last complete epoch (options default to the run's)."


def train_cmd(
    name: str = typer.Argument(..., help="Model name (see 'zoo list')."),
    data: Optional[str] = typer.Option(None, "--data", help=_DATA_HELP + " Required unless --resume."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Passes over the training split (default 5)."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Output directory (default: a new runs/train/NAME, NAME-2...; an earlier run is never replaced)."
    ),
    img_size: Optional[int] = typer.Option(
        None, "--img-size", help="Input side in pixels (built-in data: 32; folders: the model's own size)."
    ),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per batch (default 64)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (default: AdamW 1e-3 for backbones, Adam 2e-4 for GANs)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or mps."),
    amp: Optional[str] = typer.Option(None, "--amp", help="Mixed precision: bf16 or fp16."),
    channels_last: bool = typer.Option(False, "--channels-last", help="Train in the NHWC memory format (often faster on GPUs)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (data split, init, shuffling; default 0)."),
    max_minutes: Optional[float] = typer.Option(None, "--max-minutes", help="Stop after this many minutes of training."),
    attrs: Optional[str] = typer.Option(
        None,
        "--attrs",
        help="CelebA attributes to train on with --data celeba:DIR (stargan), e.g. Black_Hair,Blond_Hair,Brown_Hair,Male,Young.",
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help=_OVERWRITE_HELP),
    resume: Optional[Path] = typer.Option(None, "--resume", help=_RESUME_HELP),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Train a backbone (classification) or a GAN from random init with the common trainer.

    Writes OUT/model.safetensors, OUT/model.json (model, config, class names,
    preprocessing, metrics) and OUT/metrics.jsonl; after every epoch OUT/last (and
    OUT/best for backbones), from which --resume OUT continues. Ctrl-C exits 130 and says
    how to resume.
    """
    from zoo import tasks
    from zoo.utils.outputs import claim_output

    apply_threads(threads)
    if out is None and resume is None:  # claimed here, so the summary's path is the one this run holds
        out = claim_output(None, default=Path("runs/train") / name, overwrite=overwrite, reads=(data,))
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
        channels_last=channels_last,
        seed=seed,
        max_minutes=max_minutes,
        progress=True,
        build_options={"attrs": [a.strip() for a in attrs.split(",") if a.strip()]} if attrs else None,
        overwrite=overwrite,
        resume=resume,
    )
    done = summary["out"]
    err_console.print(f"saved {done}/model.safetensors and {done}/model.json (checkpoints: {done}/last)")
    _report(summary, as_json)


def adapt_cmd(
    name: str = typer.Argument(..., help="Backbone name (see 'zoo list --kind backbone')."),
    head: Optional[int] = typer.Option(None, "--head", help="Number of classes of the new head (backbones)."),
    freeze_d: Optional[int] = typer.Option(
        None, "--freeze-d", help="GANs: fine-tune from --weights SRC with the discriminator's lower N layers frozen (FreezeD)."
    ),
    strategy: Optional[str] = typer.Option(
        None,
        "--strategy",
        help="full (default), linear-probe (head only), freeze-until (with --freeze-until), "
        "gradual (head first, then one more stage per epoch from the top).",
    ),
    freeze_until: Optional[str] = typer.Option(
        None, "--freeze-until", help="Freeze every stage up to and including this one (see 'zoo info NAME')."
    ),
    lr_decay: Optional[float] = typer.Option(
        None, "--lr-decay", help="Discriminative learning rates: each earlier stage gets lr times this (0 < d <= 1, e.g. 0.5)."
    ),
    bn: Optional[str] = typer.Option(
        None, "--bn", help="BatchNorm of frozen stages: frozen (default, FrozenBatchNorm2d) or train (statistics adapt)."
    ),
    augment: Optional[str] = typer.Option(
        None, "--augment", help="Training augmentation: none, basic (default), heavy, trivialaugment, randaugment."
    ),
    weights: Optional[str] = typer.Option(
        None,
        "--weights",
        help="Checkpoint dir/.safetensors from zoo train/adapt/pretrain, a published tag (imagenet), 'none', or 'auto' "
        "(the default: published weights if available, else random init).",
    ),
    data: Optional[str] = typer.Option(None, "--data", help=_DATA_HELP + " Without it, only build, freeze and save."),
    shots: Optional[int] = typer.Option(None, "--shots", help="Labelled images per class to fine-tune on (few-shot); default all."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Fine-tuning passes (default 10)."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Output directory (default: a new runs/adapt/NAME, NAME-2...; an earlier run is never replaced)."
    ),
    img_size: Optional[int] = typer.Option(
        None, "--img-size", help="Input side in pixels (built-in data: 32; folders: the model's own size)."
    ),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per batch (default 32)."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (default AdamW 1e-3)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or mps."),
    amp: Optional[str] = typer.Option(None, "--amp", help="Mixed precision: bf16 or fp16."),
    channels_last: bool = typer.Option(False, "--channels-last", help="Train in the NHWC memory format (often faster on GPUs)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (default 0)."),
    overwrite: bool = typer.Option(False, "--overwrite", help=_OVERWRITE_HELP),
    resume: Optional[Path] = typer.Option(None, "--resume", help=_RESUME_HELP),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (trainable_params, frozen_params, val_accuracy...)."),
) -> None:
    """Transfer learning: load weights, replace the head with HEAD classes, freeze by --strategy, fine-tune on DATA.

    For a GAN: fine-tune the 'zoo train' run --weights SRC on DATA with --freeze-d N (FreezeD).

    Writes OUT as 'zoo train' does (with OUT/last and OUT/best when it fine-tunes).
    """
    from zoo import tasks
    from zoo.utils.outputs import claim_output

    apply_threads(threads)
    if out is None and resume is None:
        out = claim_output(None, default=Path("runs/adapt") / name, overwrite=overwrite, reads=(data, weights))
    summary = tasks.adapt(
        name,
        num_classes=head,
        freeze_d=freeze_d,
        freeze_until=freeze_until,
        strategy=strategy,
        lr_decay=lr_decay,
        bn=bn,
        augment=augment,
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
        channels_last=channels_last,
        seed=seed,
        overwrite=overwrite,
        resume=resume,
    )
    done = summary["out"]
    err_console.print(f"saved {done}/model.safetensors and {done}/model.json")
    _report(summary, as_json)
