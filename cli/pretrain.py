"""``zoo pretrain``: a thin shell over :func:`zoo.tasks.pretrain.pretrain` (unsupervised pretraining of a backbone)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from zoo.cli.common import MODEL_KWARGS_HELP, THREADS_HELP, apply_threads, err_console, print_json
from zoo.cli.tables import Col, print_table

__all__ = ["pretrain_cmd"]


def _report(summary: dict, as_json: bool) -> None:
    """The summary on stdout: JSON, or a two-column table of its scalars (no per-epoch history)."""
    if as_json:
        print_json(summary)
        return
    rows = []
    for key, value in summary.items():
        if key == "history":
            continue
        if isinstance(value, dict):  # stage_losses
            value = ", ".join(f"{k}={v:.4f}" for k, v in value.items())
        elif isinstance(value, float):
            value = f"{value:.4f}"
        rows.append([key, "-" if value is None else str(value)])
    print_table([Col("key", style="bold"), Col("value", wrap=True)], rows, show_header=False)


def pretrain_cmd(
    name: str = typer.Argument(..., help="Backbone name (see 'zoo list --kind backbone')."),
    method: Optional[str] = typer.Option(
        None, "--method", help="autoencoder (the stem and stages encode, one decoder reconstructs the image) or greedy (stage by stage)."
    ),
    data: Optional[str] = typer.Option(
        None,
        "--data",
        help="A folder of images (class sub-folders optional), an ImageFolder, or a built-in data set: digits, faces, glyphs. Labels are not used.",
    ),
    model_kwargs: Optional[list[str]] = typer.Option(None, "--model-kwargs", metavar="KEY=VALUE ...", help=MODEL_KWARGS_HELP),
    epochs: int = typer.Option(5, "--epochs", help="Passes over the images (greedy: per stage)."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Output directory (default: a new runs/pretrain/NAME, NAME-2...; an earlier run is never replaced)."
    ),
    img_size: Optional[int] = typer.Option(
        None, "--img-size", help="Input side in pixels (built-in data: 32; folders: the model's own size)."
    ),
    batch_size: int = typer.Option(32, "--batch-size", help="Images per batch."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate (default: AdamW 1e-3, cosine decay)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:N or mps."),
    seed: int = typer.Option(0, "--seed", help="Random seed (data split, init, shuffling)."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace the earlier run in --out (its files go once the new run has a complete epoch)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Unsupervised pretraining of a backbone on unlabelled images.

    Writes OUT/model.safetensors and OUT/model.json (the backbone; the head untouched) and
    OUT/metrics.jsonl; then 'zoo adapt NAME --head N --weights OUT' starts from it. Ctrl-C
    exits 130, leaving the last complete epoch in OUT/last.
    """
    from zoo.tasks.model_kwargs import check_model_kwargs, parse_pairs
    from zoo.tasks.pretrain import pretrain
    from zoo.utils.outputs import claim_output

    apply_threads(threads)
    kwargs = check_model_kwargs(name, parse_pairs(model_kwargs))  # before any directory is claimed
    if out is None:
        out = claim_output(None, default=Path("runs/pretrain") / name, overwrite=overwrite, reads=(data,))
    summary = pretrain(
        name,
        method=method,
        data=data,
        epochs=epochs,
        out=out,
        img_size=img_size,
        batch_size=batch_size,
        lr=lr,
        device=device,
        seed=seed,
        overwrite=overwrite,
        model_kwargs=kwargs,
    )
    done = summary["out"]
    err_console.print(f"saved {done}/model.safetensors and {done}/model.json; next: {summary['command']}", soft_wrap=True, markup=False)
    _report(summary, as_json)
