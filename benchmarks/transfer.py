"""When does transfer pay? Every ``zoo adapt`` strategy and pretraining route on real data, over seeds.

One command (CPU, about 45 minutes on 2 cores)::

    python benchmarks/transfer.py                  # writes benchmarks/transfer.md
    python benchmarks/transfer.py --quick          # 1 seed, K = 1 and 5, 3 epochs: a smoke test

Everything goes through the library's own entry points (:func:`zoo.tasks.train`,
:func:`zoo.tasks.pretrain.pretrain`, :func:`zoo.tasks.adapt`), with ResNet-18 at 32x32 px.

**Digits (similar domains).** Source: scikit-learn's digits 0-4 (718 training images).
Target: digits 5-9 with K = 1, 5, 10, 20 labelled images per class, scored on the target's
held-out split (181 images, 20 % of each class, chosen by the seed). Pretraining routes, all
on the source's training images: *supervised* (``zoo train``, labels used), *autoencoder*
and *greedy* (``zoo pretrain --method ...``, labels unused); then ``zoo adapt`` with each
strategy: linear probe, freeze-until ``layer1`` and ``layer3``, full fine-tuning, gradual
unfreezing, full with discriminative learning rates (``--lr-decay 0.5``); against *scratch*
(random init, everything trained, same images, schedule and augmentation).

**Faces (a different domain).** scikit-image's ``lfw_subset`` (100 faces, 100 non-faces,
25x25 grey): face vs non-face with K = 5 per class and all 80 per class, from the digit
routes and from an autoencoder pretrained on the faces' own training images (labels
unused), against scratch. Scored on the 40 held-out images.

Each seed changes the data split, the few-shot sample, the initialisation, the
pretraining and the shuffling; the same seed gives every row the same images. The table
gives the mean and standard deviation over seeds, and each row's paired difference from
scratch (mean ± sd of the per-seed differences). The seeds' recommendation table is then
checked cell by cell from these numbers (the verdict lines are computed, not written by
hand).

**Speed** (same model, data and batch, one process): images per second of the Trainer
against a bare PyTorch loop (same AdamW, cosine schedule, loss and loader), and of
``--amp bf16`` and ``--channels-last`` against fp32, as throughput ratios; the accuracy of
the fine-tuned K = 20 model under each, over the same seeds.

Checkpoints of the runs go to a temporary directory in RAM (``/dev/shm`` when there is
one): the per-epoch checkpoint (weights + AdamW state, ~135 MB for ResNet-18) would
otherwise take half of a K = 1 run's time on this machine's disk.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ZOO_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zoo.utils.fileio import atomic_write_text  # noqa: E402

BACKBONE = "resnet18"
SUPERVISED, AUTOENCODER, GREEDY, FACES_AE = "supervised", "autoencoder", "greedy", "autoencoder (faces)"
#: (row label, pretraining route or None for scratch, extra zoo.tasks.adapt arguments)
DIGIT_ROWS: list[tuple[str, str | None, dict[str, Any]]] = [
    ("scratch", None, {}),
    ("supervised · linear probe", SUPERVISED, {"strategy": "linear-probe"}),
    ("supervised · freeze-until layer1", SUPERVISED, {"freeze_until": "layer1"}),
    ("supervised · freeze-until layer3", SUPERVISED, {"freeze_until": "layer3"}),
    ("supervised · full", SUPERVISED, {}),
    ("supervised · gradual", SUPERVISED, {"strategy": "gradual"}),
    ("supervised · full, lr-decay 0.5", SUPERVISED, {"lr_decay": 0.5}),
    ("autoencoder · linear probe", AUTOENCODER, {"strategy": "linear-probe"}),
    ("autoencoder · full", AUTOENCODER, {}),
    ("greedy · linear probe", GREEDY, {"strategy": "linear-probe"}),
    ("greedy · full", GREEDY, {}),
]
FACE_ROWS: list[tuple[str, str | None, dict[str, Any]]] = [
    ("scratch", None, {}),
    ("supervised digits · linear probe", SUPERVISED, {"strategy": "linear-probe"}),
    ("supervised digits · full", SUPERVISED, {}),
    ("autoencoder digits · full", AUTOENCODER, {}),
    ("greedy digits · full", GREEDY, {}),
    ("autoencoder faces · linear probe", FACES_AE, {"strategy": "linear-probe"}),
    ("autoencoder faces · full", FACES_AE, {}),
]
LINEAR = ("linear probe",)
FINE_TUNE = ("freeze-until", "full", "gradual")


def ms(values: list[float]) -> str:
    """``mean ± sd`` (sd 0 for one value), 3 decimals."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def pretrain_route(route: str, seed: int, tmp: Path, args: argparse.Namespace) -> str:
    """The weights directory of one pretraining route for ``seed`` (trained on first use)."""
    out = tmp / f"{route.replace(' ', '_').replace('(', '').replace(')', '')}{seed}"
    if out.exists():
        return str(out)
    if route == SUPERVISED:
        from zoo import tasks

        tasks.train(BACKBONE, "digits:0-4", epochs=args.source_epochs, out=out, seed=seed, progress=False)
    else:
        from zoo.tasks.pretrain import pretrain

        method, data = {AUTOENCODER: ("autoencoder", "digits:0-4"), GREEDY: ("greedy", "digits:0-4"), FACES_AE: ("autoencoder", "faces")}[
            route
        ]
        pretrain(BACKBONE, method=method, data=data, epochs=args.pretrain_epochs, out=out, seed=seed, progress=False)
    return str(out)


def adapt_row(route_dir: str | None, data: str, classes: int, shots: int | None, seed: int, tmp: Path, epochs: int, **extra: Any) -> float:
    """Held-out accuracy (0..1) of one ``zoo adapt`` run."""
    from zoo import tasks

    scratch = Path(tempfile.mkdtemp(dir=tmp))
    out = scratch / "run"
    try:
        result = tasks.adapt(
            BACKBONE,
            num_classes=classes,
            weights=route_dir or "none",
            data=data,
            shots=shots,
            epochs=epochs,
            seed=seed,
            out=out,
            progress=False,
            **extra,
        )
    finally:  # ~135 MB of checkpoints per run: in RAM, so never keep them
        shutil.rmtree(scratch, ignore_errors=True)
    return float(result["val_accuracy"])


# -- speed ---------------------------------------------------------------------------------------
def speed(seconds: float, rounds: int) -> dict[str, float]:
    """Images per second (median over ``rounds`` alternating rounds of ~``seconds`` each) of a bare
    PyTorch loop and of the Trainer in fp32, bf16 autocast and channels-last."""
    import torch

    from zoo.data import make_loaders, resolve_data
    from zoo.registry import build
    from zoo.training.trainer import Trainer

    source = resolve_data("digits:0-4", seed=0)

    def setup():
        torch.manual_seed(0)
        adapter = build(BACKBONE)
        adapter.reset_head(5)
        train, _ = make_loaders(
            source,
            train_transform=adapter.transforms(img_size=32, train=True, resize_only=True),
            val_transform=adapter.transforms(img_size=32, resize_only=True),
            batch_size=64,
            seed=0,
            drop_last=True,
        )
        return adapter, train

    def bare(budget: float) -> float:
        """The loop a user would write: the same optimizer, schedule, loss and loader."""
        adapter, loader = setup()
        model = adapter.model.train()
        cfg = adapter.configure_optimizers(1e-3)["model"]
        opt = torch.optim.AdamW(cfg.param_groups, lr=cfg.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10_000)
        images, start = 0, time.perf_counter()
        while time.perf_counter() - start < budget:
            for x, y in loader:
                loss = torch.nn.functional.cross_entropy(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                images += len(y)
        return images / (time.perf_counter() - start)

    def zoo(budget: float, **kwargs: Any) -> float:
        adapter, loader = setup()
        trainer = Trainer(epochs=10_000, lr=1e-3, progress=False, max_minutes=budget / 60, **kwargs)
        start = time.perf_counter()
        trainer.fit(adapter, loader)
        return trainer.global_step * loader.batch_size / (time.perf_counter() - start)

    runs: dict[str, list[float]] = {"bare": [], "zoo fp32": [], "zoo bf16": [], "zoo channels-last": []}
    bare(2.0), zoo(2.0)  # warm-up (allocator, oneDNN kernels)
    for _ in range(rounds):
        runs["bare"].append(bare(seconds))
        runs["zoo fp32"].append(zoo(seconds))
        runs["zoo bf16"].append(zoo(seconds, amp="bf16"))
        runs["zoo channels-last"].append(zoo(seconds, channels_last=True))
    return {k: statistics.median(v) for k, v in runs.items()}


# -- report --------------------------------------------------------------------------------------
def table(rows: list[tuple[str, Any, Any]], ks: list[Any], acc: dict[tuple[str, Any], list[float]]) -> list[str]:
    head = "| route · strategy | " + " | ".join(f"K = {k}" for k in ks) + " | " + " | ".join(f"Δ scratch, K = {k}" for k in ks) + " |"
    out = [head, "|---|" + "---:|" * (2 * len(ks))]
    for label, _, _ in rows:
        cells = [ms(acc[(label, k)]) for k in ks]
        diffs = []
        for k in ks:
            d = [a - b for a, b in zip(acc[(label, k)], acc[("scratch", k)], strict=True)]
            diffs.append("" if label == "scratch" else ("+" if statistics.mean(d) >= 0 else "") + ms(d))
        out.append(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(diffs) + " |")
    return out


def best(
    acc: dict[tuple[str, Any], list[float]], rows: list[tuple[str, Any, Any]], k: Any, words: tuple[str, ...]
) -> tuple[str, list[float]]:
    """The row (by mean accuracy) whose label holds one of ``words``."""
    chosen = [label for label, route, _ in rows if route is not None and any(w in label for w in words)]
    label = max(chosen, key=lambda lab: statistics.mean(acc[(lab, k)]))
    return label, acc[(label, k)]


def verdict(acc: dict[tuple[str, Any], list[float]], rows: list[tuple[str, Any, Any]], k: Any) -> str:
    """Which of linear classifier / fine-tuning / scratch wins at ``k``, and by more than the spread or not."""
    lin_label, lin = best(acc, rows, k, LINEAR)
    ft_label, ft = best(acc, rows, k, FINE_TUNE)
    entries = {f"linear classifier ({lin_label})": lin, f"fine-tuning ({ft_label})": ft, "scratch": acc[("scratch", k)]}
    ranked = sorted(entries.items(), key=lambda kv: -statistics.mean(kv[1]))
    (w_name, w), (r_name, r) = ranked[0], ranked[1]
    diff = [a - b for a, b in zip(w, r, strict=True)]
    if len(diff) < 2:
        return f"{w_name} {ms(w)} ahead of {r_name} {ms(r)} (one seed: no spread yet)"
    clear = statistics.mean(diff) > statistics.stdev(diff)
    return f"{w_name} {ms(w)} beats {r_name} {ms(r)} " + ("by more than the spread" if clear else "within the spread (no clear winner)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--shots", default="1,5,10,20", help="digit K values")
    ap.add_argument("--source-epochs", type=int, default=6)
    ap.add_argument("--pretrain-epochs", type=int, default=6)
    ap.add_argument("--target-epochs", type=int, default=30)
    ap.add_argument("--speed-seconds", type=float, default=8.0)
    ap.add_argument("--speed-rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="1 seed, K = 1 and 5, 3 epochs: a smoke test, not a measurement")
    ap.add_argument("--out", default=str(Path(__file__).with_name("transfer.md")))
    ap.add_argument(
        "--runs",
        default=str(Path(__file__).with_name("transfer_runs.json")),
        help="every run's accuracy, kept between invocations: a run already there is not repeated",
    )
    ap.add_argument("--routes", default="all", help="only rows of these routes (comma-separated: scratch, supervised, autoencoder, greedy)")
    ap.add_argument("--report-only", action="store_true", help="write the report from --runs without training")
    ap.add_argument("--only-seeds", default=None, help="train only these seeds (comma-separated), e.g. to split the work over processes")
    ap.add_argument("--speed-only", action="store_true", help="measure (again) the speed section only, then write the report")
    ap.add_argument("--reverse", action="store_true", help="go through K and the rows backwards (a second process meets the first)")
    ap.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's); 1 when running two invocations side by side"
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.shots, args.source_epochs, args.pretrain_epochs, args.target_epochs = 1, "1,5", 1, 1, 3
        args.speed_seconds, args.speed_rounds = 2.0, 1
    import torch

    ks = [int(k) for k in args.shots.split(",")]
    face_ks: list[Any] = [5, "all"]
    wanted = None if args.routes == "all" else {r.strip() for r in args.routes.split(",")}
    setup = {"epochs": [args.source_epochs, args.pretrain_epochs, args.target_epochs], "backbone": BACKBONE}
    runs_path = Path(args.runs if not args.quick else Path(tempfile.gettempdir()) / f"transfer_quick_{os.getpid()}.json")
    store = json.loads(runs_path.read_text()) if runs_path.exists() else {}
    if store.get("setup", setup) != setup:
        raise SystemExit(f"{runs_path} holds runs of another set-up ({store['setup']}); give another --runs")
    store["setup"], done = setup, store.setdefault("runs", {})
    t0 = time.perf_counter()
    ram = "/dev/shm" if Path("/dev/shm").is_dir() else None
    if args.threads:
        torch.set_num_threads(args.threads)

    def save() -> None:
        """Merge what other invocations wrote meanwhile (``--routes`` in parallel), then write."""
        if runs_path.exists():
            fresh = json.loads(runs_path.read_text())
            for k, v in fresh.get("runs", {}).items():
                done.setdefault(k, v)
            if "speed" in fresh:
                store.setdefault("speed", fresh["speed"])
        atomic_write_text(runs_path, json.dumps(store, indent=1) + "\n")

    def row(tmp: Path, table: str, label: str, route: str | None, k: Any, seed: int, data: str, classes: int, extra: dict) -> None:
        key = f"{table}|{label}|{k}|{seed}"
        if key in done or args.report_only or args.speed_only or (wanted is not None and (route or "scratch").split(" ")[0] not in wanted):
            return
        weights = pretrain_route(route, seed, tmp, args) if route else None
        shots = None if k == "all" else k
        done[key] = adapt_row(weights, data, classes, shots, seed, tmp, args.target_epochs, **extra)
        save()
        print(f"seed {seed} {table} K={k} {label:<36} {done[key]:.3f}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(dir=ram) as tmp_name:
        tmp = Path(tmp_name)
        seeds = range(args.seeds) if args.only_seeds is None else [int(x) for x in args.only_seeds.split(",")]
        order = (lambda xs: list(reversed(xs))) if args.reverse else list
        for seed in seeds:
            for k in order(ks):
                for label, route, extra in order(DIGIT_ROWS):
                    row(tmp, "digits", label, route, k, seed, "digits:5-9", 5, extra)
            for name, extra in (("bf16", {"amp": "bf16"}), ("channels-last", {"channels_last": True})):
                row(tmp, "precision", name, SUPERVISED, ks[-1], seed, "digits:5-9", 5, extra)
            for k in face_ks:
                for label, route, extra in FACE_ROWS:
                    row(tmp, "faces", label, route, k, seed, "faces", 2, extra)
    accuracy_seconds = time.perf_counter() - t0
    if args.speed_only or ("speed" not in store and wanted is None and not args.report_only):
        store["speed"] = speed(args.speed_seconds, args.speed_rounds)
        save()
    save()  # with what parallel invocations added
    rates = store.get("speed")
    seconds = time.perf_counter() - t0

    def needed(seed: int) -> list[str]:
        keys = [
            f"{t}|{lab}|{k}|{seed}"
            for t, rows, kk in (("digits", DIGIT_ROWS, ks), ("faces", FACE_ROWS, face_ks))
            for lab, _, _ in rows
            for k in kk
        ]
        return keys + [f"precision|{n}|{ks[-1]}|{seed}" for n in ("bf16", "channels-last")]

    complete = [s for s in range(args.seeds) if all(key in done for key in needed(s))]
    if not complete:
        missing = [key for key in needed(0) if key not in done]
        print(f"no seed is complete yet ({len(missing)} runs of seed 0 missing, e.g. {missing[0]}); rerun to finish", file=sys.stderr)
        return 0

    def collect(table: str, rows: list, kk: list) -> dict[tuple[str, Any], list[float]]:
        return {(label, k): [done[f"{table}|{label}|{k}|{s}"] for s in complete] for label, _, _ in rows for k in kk}

    acc, faces = collect("digits", DIGIT_ROWS, ks), collect("faces", FACE_ROWS, face_ks)
    precision = {"fp32": acc[("supervised · full", ks[-1])]}
    precision.update({n: [done[f"precision|{n}|{ks[-1]}|{s}"] for s in complete] for n in ("bf16", "channels-last")})
    partial = (
        []
        if len(complete) == args.seeds
        else [
            f"**Partial: {len(complete)} of {args.seeds} seeds complete ({', '.join(map(str, complete))}); the same command "
            f"continues from `{Path(args.runs).name}` and rewrites this page.**",
            "",
        ]
    )

    cmd = "python benchmarks/transfer.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    lines = [
        "# When transfer pays: strategies and pretraining routes on real data",
        "",
        f"Recorded {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with `{cmd.strip()}` (this invocation "
        f"{seconds / 60:.0f} min, {accuracy_seconds / 60:.0f} of them training; every run's accuracy is kept in "
        f"`{Path(args.runs).name}`, so a run interrupted or split by `--routes` continues where it stopped; torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, CPU).",
        "",
        *partial,
        f"{BACKBONE} at 32x32 px; seeds {', '.join(map(str, complete))}; mean ± sd over seeds of the held-out accuracy; "
        "Δ scratch: mean ± sd of the per-seed difference from scratch (same seed, same images). "
        f"Source training {args.source_epochs} epochs, pretraining {args.pretrain_epochs} epochs, every target run "
        f"{args.target_epochs} epochs (AdamW 1e-3, cosine, the `basic` augmentation, batch 32). The protocol is in the "
        "script's docstring.",
        "",
        "## Digits: source 0-4, target 5-9 with K labelled images per class (181 held-out images)",
        "",
        *table(DIGIT_ROWS, ks, acc),
        "",
        "## Faces (lfw_subset, face vs non-face): a different domain (40 held-out images)",
        "",
        *table(FACE_ROWS, face_ks, faces),
        "",
        "## The seeds' recommendation table, checked",
        "",
        "The course table recommends: small and similar data, a linear classifier on the pretrained features; large and "
        "similar, fine-tuning; small and different, a linear classifier (from earlier layers); large and different, "
        "fine-tuning or training from scratch. Here small = K <= 5, large = K = 20 (digits) or all 80 per class (faces); "
        "similar = digits from digits, different = faces from digits. The best linear-probe row, the best fine-tuning row "
        "and scratch, per cell (the faces' own autoencoder is not a 'pretrained on another domain' route, but it is "
        "ranked with the others):",
        "",
    ]
    for cell, data, rows, k in (
        ("small, similar (K = 1)", acc, DIGIT_ROWS, ks[0]),
        (f"small, similar (K = {ks[1]})", acc, DIGIT_ROWS, ks[1]),
        (f"large, similar (K = {ks[-1]})", acc, DIGIT_ROWS, ks[-1]),
        ("small, different (faces K = 5)", faces, FACE_ROWS, 5),
        ("large, different (faces, all)", faces, FACE_ROWS, "all"),
    ):
        lines.append(f"- **{cell}**: {verdict(data, rows, k)}.")
    lines += ["", "## Speed on this CPU (images per second, median of alternating rounds)", ""]
    if rates is None:
        lines += ["Not measured yet: it runs once every accuracy run is done (`--routes` left out).", ""]
    else:
        ratio = rates["zoo fp32"] / rates["bare"]
        lines += [
            f"Same ResNet-18, digits 0-4 at 32 px, batch 64, AdamW + cosine; {args.speed_rounds} rounds of "
            f"{args.speed_seconds:.0f} s each after a warm-up.",
            "",
            "| loop | images/s | ratio |",
            "|---|---:|---:|",
            f"| bare PyTorch loop | {rates['bare']:.1f} | 1.000 |",
            f"| zoo Trainer, fp32 | {rates['zoo fp32']:.1f} | {ratio:.3f} (overhead {100 * (1 - ratio):+.1f} %; target <= 3 %) |",
            f"| zoo Trainer, --amp bf16 | {rates['zoo bf16']:.1f} | {rates['zoo bf16'] / rates['zoo fp32']:.3f} of fp32 |",
            f"| zoo Trainer, --channels-last | {rates['zoo channels-last']:.1f} | {rates['zoo channels-last'] / rates['zoo fp32']:.3f} of fp32 |",
            "",
        ]
    lines += [
        f"Accuracy of supervised · full at K = {ks[-1]} (digits) under each: fp32 {ms(precision['fp32'])}, "
        f"bf16 {ms(precision['bf16'])}, channels-last {ms(precision['channels-last'])}.",
        "",
    ]
    atomic_write_text(args.out, "\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
