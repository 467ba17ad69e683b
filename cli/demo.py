"""``zoo demo``: the toolkit's main job, end to end on real offline data (scikit-learn digits).

1. ``zoo list`` of the whole registry.
2. ``zoo bench`` of three backbones on the CPU.
3. Transfer learning as in the project's seed papers: train ResNet-18 on a source task
   (digits 0-4), adapt it to a target task with few labels (digits 5-9, 10 labelled
   images per class) with a new 5-class head and frozen early stages; and, for
   comparison, the same target training from scratch. Both held-out accuracies are printed.
4. Train a DCGAN on all digits for a few minutes and write a PNG grid of 64 samples.

Everything is written under ``--out`` (default: a new ``runs/demo``, ``runs/demo-2``...);
an ``--out`` that holds an earlier demo is refused unless ``--overwrite``
(:func:`zoo.fileio.claim_output`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from zoo.cli.common import err_console, out_console
from zoo.fileio import atomic_write_text

__all__ = ["demo_cmd"]

DEMO_BACKBONE = "resnet18"
BENCH_MODELS = ("resnet18", "mobilenet_v2", "resnet50")
#: What the demo writes under OUT: any of them marks OUT as an earlier demo.
DEMO_OUTPUTS = (
    "summary.json",
    "list.json",
    "bench.json",
    "transfer.json",
    "source",
    "transfer",
    "scratch",
    "dcgan",
    "dcgan_samples.png",
)


def _write_json(path: Path, data) -> None:
    """Write ``data`` as indented JSON, atomically (whole or absent, 0644)."""
    atomic_write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def _step(n: int, title: str) -> None:
    err_console.rule(f"[bold]step {n}/4: {title}")


def demo_cmd(
    out: Optional[Path] = typer.Option(
        None, "--out", help="Directory for every output of the demo (default: a new runs/demo, runs/demo-2...)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier demo in --out."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or mps."),
    source_epochs: int = typer.Option(6, "--source-epochs", help="Epochs of source training (digits 0-4)."),
    target_epochs: int = typer.Option(30, "--target-epochs", help="Epochs of few-shot target training (digits 5-9)."),
    shots: int = typer.Option(10, "--shots", help="Labelled target images per class."),
    freeze_until: str = typer.Option("layer1", "--freeze-until", help="Stage of ResNet-18 frozen for the transfer run."),
    gan_minutes: float = typer.Option(3.0, "--gan-minutes", help="Wall-time budget of DCGAN training, minutes."),
    bench_budget: float = typer.Option(1.0, "--bench-budget", help="Timing budget per benchmarked model, seconds."),
    seed: int = typer.Option(0, "--seed", help="Random seed of every step."),
) -> None:
    """Run the main job end to end on real offline data and write everything under OUT."""
    from zoo import tasks
    from zoo.cli import bench_format, catalog
    from zoo.devices import resolve_device
    from zoo.fileio import claim_output

    resolve_device(device)
    out = claim_output(out, overwrite=overwrite, default=Path("runs/demo"), markers=DEMO_OUTPUTS)
    from zoo.registry import get_spec

    get_spec(DEMO_BACKBONE).check_stage(freeze_until)
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"out": str(out)}

    _step(1, "zoo list (the whole registry)")
    t = time.perf_counter()
    catalog.list_cmd(pattern=None, kind=None, family=None, wide=False, as_json=False)
    from zoo.registry import list_models

    _write_json(out / "list.json", [s.to_dict() for s in list_models()])
    summary["list_seconds"] = round(time.perf_counter() - t, 3)

    _step(2, f"zoo bench {' '.join(BENCH_MODELS)} --device {device}")
    from zoo.bench import bench_models

    rows = bench_models(list(BENCH_MODELS), device=device, budget_s=bench_budget)
    bench_format.print_table(rows)
    summary["bench"] = [r.to_dict() for r in rows]
    _write_json(out / "bench.json", summary["bench"])

    _step(3, "transfer learning: digits 0-4 -> digits 5-9 with 10 labels per class")
    source = tasks.train(
        DEMO_BACKBONE, "digits:0-4", epochs=source_epochs, out=out / "source", device=device, seed=seed, overwrite=overwrite
    )
    out_console.print(f"source task (digits 0-4, {source['train_images']} training images): held-out accuracy {source['val_accuracy']:.3f}")
    transfer = tasks.adapt(
        DEMO_BACKBONE,
        num_classes=5,
        freeze_until=freeze_until,
        weights=str(out / "source"),
        data="digits:5-9",
        shots=shots,
        epochs=target_epochs,
        out=out / "transfer",
        device=device,
        seed=seed,
        overwrite=overwrite,
    )
    scratch = tasks.adapt(
        DEMO_BACKBONE,
        num_classes=5,
        freeze_until=None,
        weights="none",
        data="digits:5-9",
        shots=shots,
        epochs=target_epochs,
        out=out / "scratch",
        device=device,
        seed=seed,
        overwrite=overwrite,
    )
    summary["transfer"] = {
        "backbone": DEMO_BACKBONE,
        "img_size": transfer["img_size"],
        "shots": shots,
        "freeze_until": freeze_until,
        "source_val_accuracy": source["val_accuracy"],
        "transfer_val_accuracy": transfer["val_accuracy"],
        "scratch_val_accuracy": scratch["val_accuracy"],
        "target_val_images": transfer["val_images"],
        "target_train_images": transfer["train_images"],
        "transfer_trainable_params": transfer["trainable_params"],
        "transfer_frozen_params": transfer["frozen_params"],
    }
    _write_json(out / "transfer.json", summary["transfer"])
    out_console.print(
        f"target task (digits 5-9, {shots} labels per class, {transfer['val_images']} held-out images):\n"
        f"  transfer (source weights, {freeze_until} frozen): accuracy {transfer['val_accuracy']:.3f}\n"
        f"  from scratch:                                accuracy {scratch['val_accuracy']:.3f}"
    )

    _step(4, f"DCGAN on all digits for {gan_minutes:g} minutes")
    gan = tasks.train(
        "dcgan",
        "digits",
        epochs=10_000,
        max_minutes=gan_minutes,
        out=out / "dcgan",
        img_size=32,
        device=device,
        seed=seed,
        batch_size=64,
        build_options={"ngf": 32, "ndf": 32},
        overwrite=overwrite,
    )
    grid = tasks.sample("dcgan", checkpoint=out / "dcgan", n=64, seed=seed, out=out / "dcgan_samples.png", overwrite=overwrite)
    summary["dcgan"] = {k: gan.get(k) for k in ("epoch", "steps", "seconds", "d_loss", "g_loss", "d_real", "d_fake")}
    summary["dcgan"]["grid"] = grid["out"]
    out_console.print(f"DCGAN: {gan['steps']} steps in {gan['seconds']:.0f} s; 64 samples written to {grid['out']}")

    summary["seconds"] = round(time.perf_counter() - t0, 1)
    _write_json(out / "summary.json", summary)
    out_console.print(
        f"\ndemo finished in {summary['seconds']:.0f} s; everything is under {out}/ (summary.json, list.json, "
        "bench.json, transfer.json, source/, transfer/, scratch/, dcgan/, dcgan_samples.png)"
    )
    sys.stdout.flush()
