"""``zoo demo``: the toolkit's main job, end to end on real offline data (scikit-learn digits).

1. ``zoo list`` of the whole registry.
2. ``zoo bench`` of three backbones on the CPU.
3. Transfer learning as in the project's seed papers: train ResNet-18 on a source task
   (digits 0-4), adapt it to a target task with few labels (digits 5-9, 10 labelled
   images per class) with a new 5-class head and frozen early stages; and, for
   comparison, the same target training from scratch. Both held-out accuracies are printed.
4. Train a DCGAN on the digits for a fixed number of steps (3,000 by default: the same
   model on every machine; a slower one takes longer, and the bar shows the time left)
   and write a PNG grid of 64 samples. ``--gan-max-minutes`` adds a wall-clock safety
   cap; a GAN it cuts short is reported as such, in the output and in ``summary.json``.

Every option is checked before the first step, so a bad value is the only line printed.

Everything is written under ``--out`` (default: a new ``runs/demo``, ``runs/demo-2``...);
an ``--out`` that holds an earlier demo is refused unless ``--overwrite``
(:func:`zoo.utils.outputs.claim_output`).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from zoo.cli.common import THREADS_HELP, apply_threads, err_console, out_console
from zoo.errors import ZooError
from zoo.utils.fileio import atomic_write_text

__all__ = ["demo_cmd"]

DEMO_BACKBONE = "resnet18"
BENCH_MODELS = ("resnet18", "mobilenet_v2", "resnet50")
#: DCGAN training steps: what an idle 2-core machine did in the 3 minutes the demo used to
#: allow (2,897), rounded up; recognisable digits at this length on every machine.
GAN_STEPS = 3000
GAN_BATCH = 64
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


def _positive(**values: int) -> None:
    """Raises ZooError (exit code 2) naming the first value below 1 as its ``--flag``."""
    for name, value in values.items():
        if value < 1:
            raise ZooError(f"--{name.replace('_', '-')} must be at least 1, got {value}", exit_code=2)


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
    gan_steps: int = typer.Option(GAN_STEPS, "--gan-steps", help="DCGAN training length in steps (batches of 64), on any machine."),
    gan_max_minutes: Optional[float] = typer.Option(
        None, "--gan-max-minutes", help="Safety cap on DCGAN training, minutes (default none); a GAN cut short is reported as such."
    ),
    bench_budget: float = typer.Option(1.0, "--bench-budget", help="Timing budget per benchmarked model, seconds."),
    seed: int = typer.Option(0, "--seed", help="Random seed of every step."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
) -> None:
    """Run the main job end to end on real offline data and write everything under OUT."""
    from zoo import tasks
    from zoo.cli import bench_format, catalog
    from zoo.registry import get_spec
    from zoo.training.trainer import check_training_args
    from zoo.utils.devices import resolve_device
    from zoo.utils.outputs import claim_output

    # every option first: a bad value is the only line, before any work or file
    _positive(shots=shots, source_epochs=source_epochs, target_epochs=target_epochs, gan_steps=gan_steps)
    for flag, value in (("--bench-budget", bench_budget), ("--gan-max-minutes", gan_max_minutes)):
        if value is not None and not value > 0:
            raise ZooError(f"{flag} must be positive, got {value}", exit_code=2)
    check_training_args(device=device, seed=seed)
    get_spec(DEMO_BACKBONE).check_stage(freeze_until)
    resolve_device(device)
    apply_threads(threads)
    out = claim_output(out, overwrite=overwrite, default=Path("runs/demo"), markers=DEMO_OUTPUTS)
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
    from zoo.tasks.bench import bench_models

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

    _step(4, f"DCGAN on the digits for {gan_steps:,} steps")
    gan = tasks.train(
        "dcgan",
        "digits",
        steps=gan_steps,
        max_minutes=gan_max_minutes,
        out=out / "dcgan",
        img_size=32,
        device=device,
        seed=seed,
        batch_size=GAN_BATCH,
        build_options={"ngf": 32, "ndf": 32},
        overwrite=overwrite,
    )
    grid = tasks.sample("dcgan", checkpoint=out / "dcgan", n=64, seed=seed, out=out / "dcgan_samples.png", overwrite=overwrite)
    summary["dcgan"] = {k: gan.get(k) for k in ("epoch", "steps", "seconds", "d_loss", "g_loss", "d_real", "d_fake")}
    summary["dcgan"].update(steps_asked=gan_steps, cut_short=bool(gan.get("stopped_early")), grid=grid["out"])
    if summary["dcgan"]["cut_short"]:
        err_console.print(
            f"[bold yellow]warning:[/] --gan-max-minutes {gan_max_minutes:g} cut the DCGAN short at {gan['steps']:,} of "
            f"{gan_steps:,} steps: its grid is not representative (summary.json says cut_short: true)"
        )
    out_console.print(f"DCGAN: {gan['steps']:,} steps in {gan['seconds']:.0f} s; 64 samples written to {grid['out']}")

    summary["seconds"] = round(time.perf_counter() - t0, 1)
    _write_json(out / "summary.json", summary)
    out_console.print(
        f"\ndemo finished in {summary['seconds']:.0f} s; everything is under {out}/ (summary.json, list.json, "
        "bench.json, transfer.json, source/, transfer/, scratch/, dcgan/, dcgan_samples.png)"
    )
    sys.stdout.flush()
