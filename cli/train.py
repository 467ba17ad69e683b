"""``zoo train`` and ``zoo adapt``: thin shells over :mod:`zoo.tasks`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from zoo.cli.common import MODEL_KWARGS_HELP, THREADS_HELP, apply_threads, err_console, print_json
from zoo.cli.tables import Col, print_table

__all__ = ["adapt_cmd", "train_cmd"]

_DATA_HELP = "ImageFolder directory (one sub-folder per class) or a built-in data set: digits, digits:0-4, digits:5,7, faces, glyphs, glyphs:digits (zoo plugins lists them)."


def _report(summary: dict, as_json: bool) -> None:
    """The summary on stdout: JSON, or two columns (key, value) whose values are never cut."""
    if as_json:
        print_json(summary)
        return
    rows = []
    for k, v in summary.items():
        if k in ("history",):
            continue
        if isinstance(v, float):
            v = f"{v:.4f}"
        elif isinstance(v, list) and len(v) > 12:
            v = f"{len(v)} items"
        rows.append([k, "-" if v is None else str(v)])
    print_table([Col("key", style="bold"), Col("value", wrap=True)], rows, show_header=False)


def _written(summary: dict, command: str, max_minutes: float | None = None) -> None:
    """Say on stderr what the run wrote, and only that: the model pair; ``last/`` with its epoch and
    ``best/`` with its epoch and metric, when saved; the curves; how a ``--max-minutes`` limit
    ended the run, with the command that continues it. Lines are never wrapped (paths stay whole)."""

    def say(line: str) -> None:
        err_console.print(line, soft_wrap=True)

    out = summary["out"]
    say(f"saved {out}/model.safetensors and {out}/model.json")
    if summary.get("last"):
        line = f"checkpoints: {summary['last']} (epoch {summary['epoch']})"
        metric = next((k for k in summary if k.startswith("best_") and k != "best_epoch"), None)
        if "best_epoch" in summary and metric:
            line += f", {out}/best (epoch {summary['best_epoch']}, {metric[5:]} {summary[metric]:.4f})"
        say(line)
    if summary.get("curves"):
        say(f"curves: {summary['curves']}; TensorBoard: tensorboard --logdir {out}")
    if not summary.get("stopped_early"):
        return
    limit = f"--max-minutes {max_minutes:g}" if max_minutes else "the time limit"
    resume = f"zoo {command} {summary['model']} --resume {out}"
    cut = summary.get("stopped_at")
    if cut is None:
        say(f"{limit} stopped the run after epoch {summary['epoch']}; continue with: {resume}")
    elif summary.get("last"):
        say(
            f"{limit} cut epoch {cut['epoch']} at step {cut['step']}/{cut['steps']}: model.safetensors holds the weights at that step, "
            f"{summary['last']} the last complete epoch ({summary['epoch']}); continue with: {resume} (it redoes epoch {cut['epoch']})"
        )
    else:
        say(
            f"{limit} cut epoch {cut['epoch']} at step {cut['step']}/{cut['steps']} before any epoch finished, so there is no checkpoint "
            "to resume from; model.safetensors holds the weights at that step (allow more minutes, or a smaller --batch-size)"
        )


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
    batch_size: Optional[int] = typer.Option(
        None, "--batch-size", help="Images per batch (default: the family's paper batch where it declares one, cyclegan 1; else 64)."
    ),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (default: AdamW 1e-3 for backbones, Adam 2e-4 for GANs)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or mps."),
    amp: Optional[str] = typer.Option(None, "--amp", help="Mixed precision: bf16 or fp16."),
    channels_last: bool = typer.Option(False, "--channels-last", help="Train in the NHWC memory format (often faster on GPUs)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed (data split, init, shuffling; default 0)."),
    max_minutes: Optional[float] = typer.Option(
        None,
        "--max-minutes",
        help="Stop after this many minutes of training, within one step: an epoch whose last step ran is saved; "
        "an epoch cut short is not (--resume redoes it from OUT/last).",
    ),
    model_kwargs: Optional[list[str]] = typer.Option(None, "--model-kwargs", metavar="KEY=VALUE ...", help=MODEL_KWARGS_HELP),
    attrs: Optional[str] = typer.Option(
        None,
        "--attrs",
        help="CelebA attributes to train on with --data celeba:DIR (stargan), e.g. Black_Hair,Blond_Hair,Brown_Hair,Male,Young.",
    ),
    val_fraction: Optional[float] = typer.Option(
        None,
        "--val-fraction",
        metavar="F",
        help="Share of each class held out, in [0, 1): default 0.2 for a backbone (its validation accuracy), "
        "0 for a GAN (it trains on every image). A folder with train/ and val/ keeps its own split.",
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
    from zoo.tasks.model_kwargs import check_model_kwargs, parse_pairs
    from zoo.utils.outputs import claim_output

    apply_threads(threads)
    kwargs = check_model_kwargs(name, parse_pairs(model_kwargs))  # before any directory is claimed
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
        model_kwargs=kwargs,
        val_fraction=val_fraction,
        overwrite=overwrite,
        resume=resume,
    )
    _written(summary, "train", max_minutes)
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
    model_kwargs: Optional[list[str]] = typer.Option(None, "--model-kwargs", metavar="KEY=VALUE ...", help=MODEL_KWARGS_HELP),
    shots: Optional[int] = typer.Option(None, "--shots", help="Labelled images per class to fine-tune on (few-shot); default all."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Fine-tuning passes (default 10)."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Output directory (default: a new runs/adapt/NAME, NAME-2...; an earlier run is never replaced)."
    ),
    img_size: Optional[int] = typer.Option(
        None, "--img-size", help="Input side in pixels (built-in data: 32; folders: the model's own size)."
    ),
    batch_size: Optional[int] = typer.Option(
        None, "--batch-size", help="Images per batch (default 32; GANs: the family's paper batch where it declares one, cyclegan 1)."
    ),
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
    from zoo.tasks.model_kwargs import check_model_kwargs, parse_pairs
    from zoo.utils.outputs import claim_output

    apply_threads(threads)
    kwargs = check_model_kwargs(name, parse_pairs(model_kwargs))  # before any directory is claimed
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
        model_kwargs=kwargs,
    )
    _written(summary, "adapt")
    _report(summary, as_json)
