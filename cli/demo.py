"""``zoo demo``: the toolkit's main job, end to end on real offline data.

1. ``zoo list`` of the whole registry.
2. ``zoo bench`` of three backbones on the CPU.
3. Transfer learning as the seed papers put it, "if you don't have much data on your own
   task, find a similar task with much data": ResNet-18 trained on a large similar source,
   the 11,200 printed digits of the built-in ``glyphs:digits`` (rendered offline from 23
   fonts), then adapted to scikit-learn's handwritten digits with 10 labelled images per
   class (a new 10-class head, ``conv1`` and ``layer1`` frozen); and, for comparison, the
   same target training from scratch. Both held-out accuracies are printed. The source is
   trained once and kept in the cache (``$ZOO_CACHE/demo/``), so a second demo skips it;
   ``benchmarks/transfer.md`` measures the same comparison over 5 seeds and every strategy.
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
import math
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from zoo.cli.common import THREADS_HELP, apply_threads, err_console, out_console
from zoo.errors import ZooError
from zoo.utils.fileio import atomic_write_text

__all__ = ["cached_source", "demo_cmd"]

DEMO_BACKBONE = "resnet18"
#: The large similar source (printed digits) and the small target (handwritten digits, all ten classes).
SOURCE_DATA, TARGET_DATA = "glyphs:digits", "digits"
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


def cached_source(epochs: int, seed: int, device: str) -> tuple[Path, dict, bool]:
    """The demo's source model: ResNet-18 trained on :data:`SOURCE_DATA` for ``epochs``, kept in
    ``$ZOO_CACHE/demo/resnet18-glyphs-digits-e{epochs}-seed{seed}`` (a ``zoo train`` run directory)
    and reused while it holds a finished run; trained under the cache's lock, so two demos
    started together train it once (the second waits and says so).

    Returns:
        ``(run directory, its model.json, whether it came from the cache)``.

    Raises:
        ZooError: the cache cannot be written or locked; training errors.
    """
    from zoo import tasks
    from zoo.io.cache import cache_dir
    from zoo.io.checkpoint import SIDECAR_FILE, WEIGHTS_FILE, read_json_object
    from zoo.io.pins import cache_lock

    run = cache_dir() / "demo" / f"{DEMO_BACKBONE}-{SOURCE_DATA.replace(':', '-')}-e{epochs}-seed{seed}"
    with cache_lock(run, "training the demo's source model", quiet=2.0):
        cached = (run / WEIGHTS_FILE).is_file() and (run / SIDECAR_FILE).is_file()
        if not cached:  # absent, or a run cut short (no final model): train it (again)
            tasks.train(DEMO_BACKBONE, SOURCE_DATA, epochs=epochs, out=run, device=device, seed=seed, overwrite=True)
        return run, read_json_object(run / SIDECAR_FILE), cached


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
    source_epochs: int = typer.Option(5, "--source-epochs", help="Epochs of source training (printed digits, glyphs:digits; cached)."),
    target_epochs: int = typer.Option(30, "--target-epochs", help="Epochs of few-shot target training (handwritten digits)."),
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
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ZooError(f"{flag} must be a positive, finite number, got {value}; leave it out for the default", exit_code=2)
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

    _step(3, f"transfer learning: printed digits ({SOURCE_DATA}) -> handwritten digits with {shots} labels per class")
    source_dir, source_meta, cached = cached_source(source_epochs, seed, device)
    source = source_meta.get("metrics", {})
    images = source.get("train_images")
    out_console.print(
        f"source task (printed digits, {f'{images:,}' if isinstance(images, int) else '?'} training images, {source_epochs} epochs): "
        f"held-out accuracy {source.get('val_accuracy', float('nan')):.3f} "
        f"({'from the cache' if cached else 'trained now, kept'}: {source_dir})"
    )
    common = {"num_classes": 10, "data": TARGET_DATA, "shots": shots, "epochs": target_epochs, "device": device, "seed": seed}
    transfer = tasks.adapt(
        DEMO_BACKBONE, freeze_until=freeze_until, weights=str(source_dir), out=out / "transfer", overwrite=overwrite, **common
    )
    scratch = tasks.adapt(DEMO_BACKBONE, freeze_until=None, weights="none", out=out / "scratch", overwrite=overwrite, **common)
    summary["transfer"] = {
        "backbone": DEMO_BACKBONE,
        "source_data": SOURCE_DATA,
        "source_run": str(source_dir),
        "source_cached": cached,
        "source_epochs": source_epochs,
        "source_train_images": source.get("train_images"),
        "source_val_accuracy": source.get("val_accuracy"),
        "target_data": TARGET_DATA,
        "img_size": transfer["img_size"],
        "shots": shots,
        "freeze_until": freeze_until,
        "transfer_val_accuracy": transfer["val_accuracy"],
        "scratch_val_accuracy": scratch["val_accuracy"],
        "target_val_images": transfer["val_images"],
        "target_train_images": transfer["train_images"],
        "transfer_trainable_params": transfer["trainable_params"],
        "transfer_frozen_params": transfer["frozen_params"],
    }
    _write_json(out / "transfer.json", summary["transfer"])
    out_console.print(
        f"target task (handwritten digits, {shots} labels per class, {transfer['val_images']} held-out images):\n"
        f"  transfer (printed-digit weights, up to {freeze_until} frozen): accuracy {transfer['val_accuracy']:.3f}\n"
        f"  from scratch:                                         accuracy {scratch['val_accuracy']:.3f}"
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
        "bench.json, transfer.json, transfer/, scratch/, dcgan/, dcgan_samples.png; the source model is in the cache)"
    )
    sys.stdout.flush()
