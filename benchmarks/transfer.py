"""When does transfer pay? Every ``zoo adapt`` strategy and pretraining route on real data, over seeds.

Two protocols share this script, its runs file and its report:

* ``--protocol glyphs`` (the default): a **large, similar** source. The built-in ``glyphs``
  data set (:mod:`zoo.plugins.glyphs`: 50,400 printed digits and capitals rendered offline
  from 23 fonts) pretrains ResNet-18 once, and the handwritten digits and the faces are the
  targets: the "size x similarity" table.
* ``--protocol small-source``: the earlier protocol, a **small** source (digits 0-4, 718
  training images) for digits 5-9 and faces. Its runs are kept in ``transfer_runs.json``
  and its tables stay in the report as the small-source comparison.

Commands (CPU)::

    python benchmarks/transfer.py                       # the glyphs protocol; writes benchmarks/transfer.md
    python benchmarks/transfer.py --quick --out /tmp/transfer_quick.md   # smoke test: 1 seed, tiny epochs, 40 glyphs per class
    python benchmarks/transfer.py --report-only         # the report from transfer_runs.json, no training
    python benchmarks/transfer.py --protocol small-source   # the earlier protocol (its runs are all recorded)

Everything goes through the library's own entry points (:func:`zoo.tasks.train`,
:func:`zoo.tasks.pretrain.pretrain`, :func:`zoo.tasks.adapt`, :func:`zoo.tasks.features.extract_features`),
with ResNet-18 at 32x32 px.

**Glyphs protocol.** Sources (``--glyph-epochs``), each trained ONCE with seed 0 and reused
by every target seed, as a published ImageNet checkpoint is downloaded once (per-seed
sources would add their whole cost, about 20 minutes, to each of the 5 seeds;
``--per-seed-sources`` does it); they are kept in ``--sources-dir`` (``runs/transfer_sources``),
so an interrupted run does not train them again:

* *supervised printed digits*: ``zoo train resnet18 --data glyphs:digits`` (10 classes,
  11,200 training images), 5 epochs: the source of the digit target;
* *supervised glyphs*: ``zoo train resnet18 --data glyphs`` (36 classes, 40,320), 2 epochs:
  the source of the faces target;
* *autoencoder* and *greedy*: ``zoo pretrain resnet18 --method autoencoder|greedy --data
  glyphs`` (the same 40,320 training images, labels unused), 2 epochs and 1 epoch per stage.

Targets, each with its held-out split (20 % of each class, chosen by the seed):

* *similar*: scikit-learn's handwritten digits, all 10 classes (1,433 training and 364
  held-out images), with K = 1, 5, 10, 20 labelled images per class (small) and all labels
  (large);
* *different*: ``lfw_subset`` faces, face vs non-face (80 + 80 training, 40 held-out
  images), with K = 5 per class (small) and all (large).

Rows (route · strategy): *scratch* (random init, everything trained); from the supervised
source: a linear probe through ``zoo features --classifier logistic`` (penultimate features,
scikit-learn's ``LogisticRegressionCV``: C from 1e-4..1e4 by stratified k-fold on the K
training images per class, k = min(5, K); with K = 1 C is fixed at 1, see
:func:`zoo.tasks.probe.logistic_probe`), ``zoo adapt --strategy linear-probe`` (a new head
trained on frozen features), ``--freeze-until layer1`` and ``layer3``, full fine-tuning,
``--strategy gradual``, full with ``--lr-decay 0.5``; from the autoencoder and the greedy
source: the ``zoo features`` linear probe and full fine-tuning. Every ``zoo adapt`` run:
AdamW 1e-3, cosine, the ``basic`` augmentation, batch 32, ``--target-epochs`` (30) epochs,
except the digits with all labels: ``--all-epochs`` (10) epochs of 1,433 images, more steps
than 30 epochs of K = 20.

Verdicts are computed, per cell (small/large x similar/different): the winning row, the
best pretrained row's paired difference from scratch (mean ± sd over seeds; "beyond the
spread" when the mean exceeds the sd), and the winner's kind (linear classifier,
fine-tuning, scratch) against the seeds' recommendation table (small + similar: a linear
classifier on the pretrained features; large + similar: fine-tuning; small + different: a
linear classifier from earlier layers; large + different: fine-tuning or scratch). ``zoo
features`` takes the penultimate layer only, so "from earlier layers" has no row of its own;
freeze-until ``layer1`` (the earliest layers kept, the rest retrained) is the nearest.

**Small-source protocol** (the earlier one). Source: digits 0-4 (718 training images).
Target: digits 5-9 with K = 1, 5, 10, 20 labelled images per class (181 held-out images).
Routes *supervised* (``zoo train``, labels used), *autoencoder* and *greedy* (``zoo
pretrain``), trained per seed, then each ``zoo adapt`` strategy (linear probe,
freeze-until ``layer1`` and ``layer3``, full, gradual, ``--lr-decay 0.5``) against
scratch; faces from the digit routes and from an autoencoder on the faces' own images.

Each seed changes the data split, the few-shot sample, the initialisation and the
shuffling (and, in the small-source protocol, the pretraining); the same seed gives every
row the same images. The tables give the mean and standard deviation over seeds, and each
row's paired difference from scratch (mean ± sd of the per-seed differences).

**Speed** (small-source protocol, same model, data and batch, one process): images per
second of the Trainer against a bare PyTorch loop, and of ``--amp bf16`` and
``--channels-last`` against fp32.

Checkpoints of the target runs go to a temporary directory in RAM (``/dev/shm`` when there
is one): the per-epoch checkpoint (weights + AdamW state, ~135 MB for ResNet-18) would
otherwise take half of a K = 1 run's time on this machine's disk.

**Duration** of the glyphs protocol: the recorded table was made by two invocations side
by side, ``--threads 1 --only-seeds 0,2,4`` and ``--threads 1 --only-seeds 1,3 --reverse``
(the sources are locked: trained once), in 213 minutes of wall time on 2 cores that other
work shared (load 2-7; the page lists both invocations). On 2 idle cores it is about 2
hours: the sources about 16 minutes once (printed digits 3, glyphs 4, autoencoder 5,
greedy 4), then each seed about 21 minutes (digits K = 1 3, K = 5 4, K = 10 5.5, K = 20 8,
all labels 7.5; faces 3), estimated from one-thread CPU times (``zoo train`` 181 images/s
at batch 64; a ``zoo adapt`` epoch 0.6 s plus 7 ms per training image) and the demo's
measured idle source training (5 epochs of printed digits in 175 s).
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

from zoo.utils.fileio import atomic_write_text, remove_stale_temps  # noqa: E402

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

# -- the glyphs protocol: a large, similar source -------------------------------------------------
G_DIGITS, G_ALL, G_AE, G_GREEDY = "printed digits", "glyphs", "autoencoder glyphs", "greedy glyphs"
#: source route -> (zoo train or zoo pretrain --method, --data, key of --glyph-epochs)
GLYPH_SOURCES: dict[str, tuple[str, str, str]] = {
    G_DIGITS: ("train", "glyphs:digits", "digits"),
    G_ALL: ("train", "glyphs", "glyphs"),
    G_AE: ("autoencoder", "glyphs", "autoencoder"),
    G_GREEDY: ("greedy", "glyphs", "greedy"),
}
GLYPH_EPOCHS = "digits=5,glyphs=2,autoencoder=2,greedy=1"
FEATURES_PROBE = {"probe": "zoo features"}  # marks a linear probe by zoo features --classifier logistic (CV)
PROBE_LABEL = "linear probe (zoo features, CV logistic)"


def glyph_rows(supervised: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    """The rows of one target: scratch, every strategy from the supervised source ``supervised``,
    and the features probe and full fine-tuning from each unsupervised source."""
    sup = f"supervised {supervised}"
    return [
        ("scratch", None, {}),
        (f"{sup} · {PROBE_LABEL}", supervised, FEATURES_PROBE),
        (f"{sup} · linear probe (new head, zoo adapt)", supervised, {"strategy": "linear-probe"}),
        (f"{sup} · freeze-until layer1", supervised, {"freeze_until": "layer1"}),
        (f"{sup} · freeze-until layer3", supervised, {"freeze_until": "layer3"}),
        (f"{sup} · full", supervised, {}),
        (f"{sup} · gradual", supervised, {"strategy": "gradual"}),
        (f"{sup} · full, lr-decay 0.5", supervised, {"lr_decay": 0.5}),
        (f"{G_AE} · {PROBE_LABEL}", G_AE, FEATURES_PROBE),
        (f"{G_AE} · full", G_AE, {}),
        (f"{G_GREEDY} · {PROBE_LABEL}", G_GREEDY, FEATURES_PROBE),
        (f"{G_GREEDY} · full", G_GREEDY, {}),
    ]


GLYPH_DIGIT_ROWS = glyph_rows(G_DIGITS)  # target: handwritten digits, all 10 classes
GLYPH_FACE_ROWS = glyph_rows(G_ALL)  # target: faces
#: cell -> the kinds of row the seeds' recommendation table names for it
RECOMMENDED: dict[str, tuple[str, ...]] = {
    "small, similar": ("linear classifier",),
    "large, similar": ("fine-tuning",),
    "small, different": ("linear classifier",),
    "large, different": ("fine-tuning", "scratch"),
}


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


def parse_epochs(text: str) -> dict[str, int]:
    """``"digits=5,glyphs=2,autoencoder=2,greedy=1"`` -> ``{"digits": 5, ...}`` (every source needs one, >= 1)."""
    out = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        out[key.strip()] = int(value)
    wanted = {key for _, _, key in GLYPH_SOURCES.values()}
    if set(out) != wanted or min(out.values()) < 1:
        raise SystemExit(f"--glyph-epochs needs a positive number for each of {', '.join(sorted(wanted))}, e.g. {GLYPH_EPOCHS}")
    return out


def glyph_source(route: str, seed: int, args: argparse.Namespace, epochs: dict[str, int], log: dict[str, Any]) -> str:
    """The weights directory of one glyph source (trained on first use, kept in ``--sources-dir``)."""
    from zoo.io.pins import cache_lock
    from zoo.plugins import glyphs

    key = GLYPH_SOURCES[route][2]
    out = Path(args.sources_dir) / f"{route.replace(' ', '_')}-e{epochs[key]}-pc{glyphs.PER_CLASS}-seed{seed}"
    with cache_lock(out, f"training the {route} source"):  # two invocations (--only-seeds) train it once
        if not ((out / "model.safetensors").exists() and (out / "model.json").exists()):
            train_source(route, out, epochs[key], seed, log)
    return str(out)


def train_source(route: str, out: Path, epochs: int, seed: int, log: dict[str, Any]) -> None:
    """Train (``zoo train``) or pretrain (``zoo pretrain``) one glyph source into ``out``; its time and result go to ``log``."""
    method, data, _ = GLYPH_SOURCES[route]
    start = time.perf_counter()
    if method == "train":
        from zoo import tasks

        result = tasks.train(BACKBONE, data, epochs=epochs, out=out, seed=seed, progress=False, overwrite=True)
        quality = {"val_accuracy": result.get("val_accuracy")}
    else:
        from zoo.tasks.pretrain import pretrain

        result = pretrain(BACKBONE, method=method, data=data, epochs=epochs, out=out, seed=seed, progress=False, overwrite=True)
        quality = {"loss": result.get("loss")}
    for sub in ("last", "best"):  # only the final model is read again
        shutil.rmtree(out / sub, ignore_errors=True)
    remove_stale_temps(out)
    log[out.name] = {
        "route": route,
        "data": data,
        "method": method,
        "epochs": epochs,
        "train_images": result.get("train_images"),
        "seconds": round(time.perf_counter() - start, 1),
        **quality,
    }
    print(f"source {route} ({data}, {epochs} epochs): {log[out.name]}", file=sys.stderr, flush=True)


def probe_row(route_dir: str, data: str, shots: int | None, seed: int, tmp: Path) -> dict[str, Any]:
    """``zoo features ROUTE --data DATA --classifier logistic [--shots K] --seed SEED`` (the library's
    call): the held-out accuracy and how C was chosen."""
    from zoo.tasks.features import extract_features

    scratch = Path(tempfile.mkdtemp(dir=tmp))
    try:
        r = extract_features(route_dir, data, out=scratch / "f.safetensors", classifier="logistic", shots=shots, seed=seed, progress=False)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {k: r[k] for k in ("val_accuracy", "C", "selection", "cv_folds", "classifier_train_images")}


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


def route_kind(route: str | None) -> str:
    """What ``--routes`` calls a row's route: scratch, supervised, autoencoder or greedy."""
    if route is None:
        return "scratch"
    if route in (SUPERVISED, G_DIGITS, G_ALL):
        return "supervised"
    return "autoencoder" if route in (AUTOENCODER, FACES_AE, G_AE) else "greedy"


def row_kind(label: str) -> str:
    """A row's kind in the recommendation table: scratch, linear classifier or fine-tuning."""
    if label == "scratch":
        return "scratch"
    return "linear classifier" if any(w in label for w in LINEAR) else "fine-tuning"


def paired(acc: dict[tuple[str, Any], list[float]], label: str, k: Any) -> list[float]:
    """Per-seed differences of ``label`` from scratch at ``k``."""
    return [a - b for a, b in zip(acc[(label, k)], acc[("scratch", k)], strict=True)]


def against_scratch(d: list[float]) -> str:
    """How a paired difference from scratch reads: beyond the spread (mean > sd) or within it."""
    if len(d) < 2:
        return f"{statistics.mean(d):+.3f} (one seed: no spread)"
    m, sd = statistics.mean(d), statistics.stdev(d)
    if m > sd:
        return f"{m:+.3f} ± {sd:.3f}: transfer pays, by more than the spread"
    if m > 0:
        return f"{m:+.3f} ± {sd:.3f}: ahead within the spread, no clear gain"
    if -m > sd:
        return f"{m:+.3f} ± {sd:.3f}: behind scratch by more than the spread"
    return f"{m:+.3f} ± {sd:.3f}: behind scratch within the spread"


def cell_verdict(acc: dict[tuple[str, Any], list[float]], rows: list[tuple[str, Any, Any]], k: Any, cell: str) -> str:
    """The winner of one cell, the best pretrained row against scratch, and the recommendation checked."""
    labels = [label for label, _, _ in rows]
    winner = max(labels, key=lambda lab: statistics.mean(acc[(lab, k)]))
    pre = max((label for label, route, _ in rows if route is not None), key=lambda lab: statistics.mean(acc[(lab, k)]))
    rec = RECOMMENDED[cell]
    agrees = row_kind(winner) in rec
    text = (
        f"winner **{winner}** {ms(acc[(winner, k)])}; best pretrained row ({pre}) against scratch "
        f"{ms(acc[('scratch', k)])}: {against_scratch(paired(acc, pre, k))}. Recommended: {' or '.join(rec)}; "
        f"the winner is {row_kind(winner)}: {'agrees' if agrees else 'does NOT agree'}"
    )
    if not agrees:
        best_rec = max((lab for lab in labels if row_kind(lab) in rec), key=lambda lab: statistics.mean(acc[(lab, k)]))
        text += f" (best {row_kind(best_rec)} row: {best_rec} {ms(acc[(best_rec, k)])})"
    return text + "."


def best_pretrained(acc: dict[tuple[str, Any], list[float]], rows: list[tuple[str, Any, Any]], k: Any) -> str:
    """``label: mean ± sd (Δ scratch ...)`` of the best pretrained row at ``k``."""
    pre = max((label for label, route, _ in rows if route is not None), key=lambda lab: statistics.mean(acc[(lab, k)]))
    return f"{pre}: {ms(acc[(pre, k)])} (Δ {against_scratch(paired(acc, pre, k))})"


def complete_seeds(done: dict[str, float], keys: Any, n_seeds: int) -> list[int]:
    """The seeds below ``n_seeds`` whose every run (``keys(seed)``) is recorded."""
    return [s for s in range(n_seeds) if all(key in done for key in keys(s))]


def collect(done: dict[str, float], table: str, rows: list, kk: list, seeds: list[int]) -> dict[tuple[str, Any], list[float]]:
    """``{(label, K): [accuracy per seed]}`` of one table."""
    return {(label, k): [done[f"{table}|{label}|{k}|{s}"] for s in seeds] for label, _, _ in rows for k in kk}


def small_source_keys(ks: list[Any], face_ks: list[Any]) -> Any:
    """The run keys of one seed of the small-source protocol."""

    def keys(seed: int) -> list[str]:
        out = [
            f"{t}|{lab}|{k}|{seed}"
            for t, rows, kk in (("digits", DIGIT_ROWS, ks), ("faces", FACE_ROWS, face_ks))
            for lab, _, _ in rows
            for k in kk
        ]
        return out + [f"precision|{n}|{ks[-1]}|{seed}" for n in ("bf16", "channels-last")]

    return keys


def glyph_keys(gks: list[Any], face_ks: list[Any]) -> Any:
    """The run keys of one seed of the glyphs protocol."""

    def keys(seed: int) -> list[str]:
        return [
            f"{t}|{lab}|{k}|{seed}"
            for t, rows, kk in (("glyphs-digits", GLYPH_DIGIT_ROWS, gks), ("glyphs-faces", GLYPH_FACE_ROWS, face_ks))
            for lab, _, _ in rows
            for k in kk
        ]

    return keys


def small_source_section(
    store: dict[str, Any], n_seeds: int, ks: list[Any], face_ks: list[Any], runs_name: str
) -> tuple[list[str], Any, Any]:
    """The earlier protocol's tables, verdicts and speed (from its recorded runs), and its accuracies for the comparison."""
    done = store.get("runs", {})
    setup = store.get("setup") or {}
    complete = complete_seeds(done, small_source_keys(ks, face_ks), n_seeds)
    lines = ["## Small source: digits 0-4 (718 images), the earlier protocol", ""]
    if not complete:
        return [*lines, f"No seed of it is complete in `{runs_name}`; `--protocol small-source` runs it.", ""], None, None
    acc, faces = collect(done, "digits", DIGIT_ROWS, ks, complete), collect(done, "faces", FACE_ROWS, face_ks, complete)
    epochs = setup.get("epochs", ["?", "?", "?"])
    lines += [
        f"{BACKBONE} at 32x32 px; seeds {', '.join(map(str, complete))}; every route pretrained per seed on digits 0-4 "
        f"(source training {epochs[0]} epochs, pretraining {epochs[1]} epochs), every target run {epochs[2]} epochs.",
        "",
        "### Digits: source 0-4, target 5-9 with K labelled images per class (181 held-out images)",
        "",
        *table(DIGIT_ROWS, ks, acc),
        "",
        "### Faces (lfw_subset, face vs non-face) from the digit routes (40 held-out images)",
        "",
        *table(FACE_ROWS, face_ks, faces),
        "",
        "### The seeds' recommendation table, checked (best linear probe, best fine-tuning, scratch)",
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
    lines += ["", "### Speed on this CPU (images per second, median of alternating rounds)", ""]
    rates = store.get("speed")
    if rates is None:
        lines += ["Not measured yet: it runs once every accuracy run of the small-source protocol is done.", ""]
    else:
        ratio = rates["zoo fp32"] / rates["bare"]
        lines += [
            "Same ResNet-18, digits 0-4 at 32 px, batch 64, AdamW + cosine; alternating rounds after a warm-up.",
            "",
            "| loop | images/s | ratio |",
            "|---|---:|---:|",
            f"| bare PyTorch loop | {rates['bare']:.1f} | 1.000 |",
            f"| zoo Trainer, fp32 | {rates['zoo fp32']:.1f} | {ratio:.3f} (overhead {100 * (1 - ratio):+.1f} %; target <= 3 %) |",
            f"| zoo Trainer, --amp bf16 | {rates['zoo bf16']:.1f} | {rates['zoo bf16'] / rates['zoo fp32']:.3f} of fp32 |",
            f"| zoo Trainer, --channels-last | {rates['zoo channels-last']:.1f} | {rates['zoo channels-last'] / rates['zoo fp32']:.3f} of fp32 |",
            "",
        ]
        prec = {"fp32": acc[("supervised · full", ks[-1])]}
        prec.update({n: [done[f"precision|{n}|{ks[-1]}|{s}"] for s in complete] for n in ("bf16", "channels-last")})
        lines += [
            f"Accuracy of supervised · full at K = {ks[-1]} (digits) under each: fp32 {ms(prec['fp32'])}, "
            f"bf16 {ms(prec['bf16'])}, channels-last {ms(prec['channels-last'])}.",
            "",
        ]
    return lines, acc, faces


def glyph_section(
    store: dict[str, Any], seeds: list[int], gks: list[Any], face_ks: list[Any], args: argparse.Namespace
) -> tuple[list[str], Any, Any]:
    """The glyphs protocol's sources, tables and cell verdicts, and its accuracies for the comparison."""
    from zoo.plugins import glyphs

    done, details = store.get("runs", {}), store.get("details", {})
    acc = collect(done, "glyphs-digits", GLYPH_DIGIT_ROWS, gks, seeds)
    faces = collect(done, "glyphs-faces", GLYPH_FACE_ROWS, face_ks, seeds)
    gsetup = store["glyph_setup"]
    epochs = gsetup["glyph_epochs"]
    n_glyphs = glyphs.PER_CLASS * len(glyphs.CLASSES)
    lines = [
        "## Large, similar source: glyphs (printed digits and capitals)",
        "",
        f"{BACKBONE} at 32x32 px; seeds {', '.join(map(str, seeds))}; the sources trained "
        f"{'per seed' if gsetup['per_seed_sources'] else 'once (seed 0) and reused by every target seed'} on the built-in "
        f"`glyphs` ({n_glyphs:,} images, {glyphs.PER_CLASS} per class; training split 80 %); every `zoo adapt` run "
        f"{gsetup['target_epochs']} epochs, the digits with all labels {gsetup['all_epochs']} epochs (AdamW 1e-3, cosine, "
        "`basic` augmentation, batch 32). The protocol is in the script's docstring.",
        "",
        "| source | the command | training images | epochs | minutes | result |",
        "|---|---|---:|---:|---:|---|",
    ]
    for name, src in sorted(store.get("glyph_sources", {}).items()):
        if f"pc{glyphs.PER_CLASS}-" not in name:
            continue
        cmd = (
            f"zoo train {BACKBONE} --data {src['data']} --epochs {src['epochs']}"
            if src["method"] == "train"
            else f"zoo pretrain {BACKBONE} --method {src['method']} --data {src['data']} --epochs {src['epochs']}"
        )
        result = (
            f"held-out accuracy {src['val_accuracy']:.3f}"
            if src.get("val_accuracy") is not None
            else f"reconstruction MSE {src.get('loss', float('nan')):.4f}"
        )
        lines.append(
            f"| {src['route']} | `{cmd} --seed {name.rsplit('seed', 1)[1]}` | {src['train_images']:,} | {src['epochs']} | {src['seconds'] / 60:.1f} | {result} |"
        )
    lines += [
        "",
        f"Source epochs: {', '.join(f'{k} {v}' for k, v in epochs.items())}.",
        "",
        "### Target: handwritten digits, all 10 classes (1,433 training images, 364 held-out)",
        "",
        *table(GLYPH_DIGIT_ROWS, gks, acc),
        "",
        "### Target: faces, face vs non-face (lfw_subset: 160 training images, 40 held-out)",
        "",
        *table(GLYPH_FACE_ROWS, face_ks, faces),
        "",
        "### Size x similarity, each cell against the seeds' recommendation table",
        "",
        "Small = K <= 5 labels per class, large = all labels; similar = printed digits -> handwritten digits, different = "
        "glyphs -> faces. Kinds: linear classifier (the two linear-probe rows of each route), fine-tuning (freeze-until, "
        "full, gradual, lr-decay), scratch. `zoo features` gives the penultimate layer only, so the recommendation's "
        "'linear classifier from earlier layers' has no row of its own (freeze-until layer1 keeps only the earliest layers).",
        "",
    ]
    cells = [(f"small, similar (digits K = {k})", "small, similar", acc, GLYPH_DIGIT_ROWS, k) for k in gks if k != "all" and k <= 5]
    cells += [("large, similar (digits, all labels)", "large, similar", acc, GLYPH_DIGIT_ROWS, "all")] if "all" in gks else []
    cells += [
        ("small, different (faces K = 5)", "small, different", faces, GLYPH_FACE_ROWS, 5),
        ("large, different (faces, all labels)", "large, different", faces, GLYPH_FACE_ROWS, "all"),
    ]
    for title, cell, data, rows, k in cells:
        lines.append(f"- **{title}**: {cell_verdict(data, rows, k, cell)}")
    lines += ["", "How the linear probes' C was chosen (`zoo features --classifier logistic`, per seed):", ""]
    for table_name, rows, kk in (("glyphs-digits", GLYPH_DIGIT_ROWS, gks), ("glyphs-faces", GLYPH_FACE_ROWS, face_ks)):
        for k in kk:
            picks = [details.get(f"{table_name}|{rows[1][0]}|{k}|{s}", {}) for s in seeds]
            text = ", ".join(f"{d['C']:g}" + ("" if d.get("selection") == "cross-validation" else " (fixed)") for d in picks if d)
            folds = {d.get("cv_folds") for d in picks if d}
            lines.append(f"- {table_name.removeprefix('glyphs-')} K = {k}, {rows[1][0]}: C = {text or '?'}; folds {sorted(folds, key=str)}")
    lines.append("")
    return lines, acc, faces


def comparison(small: Any, small_faces: Any, large: Any, large_faces: Any, gks: list[Any]) -> list[str]:
    """Small source against large similar source: the best pretrained row of each, against its own scratch."""
    lines = [
        "## Small source against large similar source",
        "",
        "The best pretrained row of each protocol and its paired difference from scratch (same seed, same images). The "
        "targets differ slightly: the small source's digit target is digits 5-9 (5 classes, the classes it did not see), "
        "the glyphs' is all 10 handwritten digits; the faces are the same.",
        "",
        "| target, labels | small source: digits 0-4 (718 images) | large similar source: glyphs (printed) |",
        "|---|---|---|",
    ]
    if small is None or large is None:
        return [*lines[:2], "Needs both protocols' runs.", ""]
    for k in (1, 5, 10, 20):
        if k in gks and ("scratch", k) in small:
            lines.append(f"| digits, K = {k} | {best_pretrained(small, DIGIT_ROWS, k)} | {best_pretrained(large, GLYPH_DIGIT_ROWS, k)} |")
    if "all" in gks:
        lines.append(f"| digits, all labels | (not run) | {best_pretrained(large, GLYPH_DIGIT_ROWS, 'all')} |")
    for k in (5, "all"):
        lines.append(
            f"| faces, K = {k} | {best_pretrained(small_faces, FACE_ROWS, k)} | {best_pretrained(large_faces, GLYPH_FACE_ROWS, k)} |"
        )
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--protocol",
        choices=("glyphs", "small-source"),
        default="glyphs",
        help="which runs to train: the large similar source (glyphs) or the earlier small source (digits 0-4); the report shows both",
    )
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--shots", default="1,5,10,20", help="small-source protocol: K values of digits 5-9")
    ap.add_argument("--source-epochs", type=int, default=6, help="small-source protocol")
    ap.add_argument("--pretrain-epochs", type=int, default=6, help="small-source protocol")
    ap.add_argument("--target-epochs", type=int, default=30, help="epochs of every zoo adapt run (both protocols)")
    ap.add_argument("--glyph-shots", default="1,5,10,20,all", help="glyphs protocol: K values of the handwritten digits")
    ap.add_argument("--glyph-epochs", default=GLYPH_EPOCHS, help="glyphs protocol: epochs of each source (greedy: per stage)")
    ap.add_argument("--all-epochs", type=int, default=10, help="glyphs protocol: epochs of the digit runs with all labels")
    ap.add_argument("--per-seed-sources", action="store_true", help="glyphs protocol: train the sources for every seed, not once")
    ap.add_argument("--sources-dir", default=str(ROOT / "runs" / "transfer_sources"), help="glyphs protocol: where the sources are kept")
    ap.add_argument("--glyphs-per-class", type=int, default=None, help="render this many glyphs per class (default 1,400; --quick 40)")
    ap.add_argument("--speed-seconds", type=float, default=8.0)
    ap.add_argument("--speed-rounds", type=int, default=3)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="1 seed, 1-2 epochs, 40 glyphs per class, runs in a temporary file: a smoke test, not a measurement",
    )
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
    default_runs = Path(args.runs)
    if args.quick:
        args.seeds, args.shots, args.source_epochs, args.pretrain_epochs, args.target_epochs = 1, "1,5", 1, 1, 2
        args.glyph_shots, args.glyph_epochs, args.all_epochs = "1,5,all", "digits=1,glyphs=1,autoencoder=1,greedy=1", 1
        args.glyphs_per_class = args.glyphs_per_class or 40
        args.speed_seconds, args.speed_rounds = 2.0, 1
    import torch

    from zoo.plugins import glyphs

    if args.glyphs_per_class is not None:  # a smaller rendering, cached in a file of its own (the name holds the count)
        glyphs.PER_CLASS = args.glyphs_per_class
    ks = [int(k) for k in args.shots.split(",")]
    gks: list[Any] = [k if k == "all" else int(k) for k in args.glyph_shots.split(",")]
    face_ks: list[Any] = [5, "all"]
    gepochs = parse_epochs(args.glyph_epochs)
    wanted = None if args.routes == "all" else {r.strip() for r in args.routes.split(",")}
    setup = {"epochs": [args.source_epochs, args.pretrain_epochs, args.target_epochs], "backbone": BACKBONE}
    gsetup = {
        "backbone": BACKBONE,
        "glyph_epochs": gepochs,
        "target_epochs": args.target_epochs,
        "all_epochs": args.all_epochs,
        "per_seed_sources": args.per_seed_sources,
        "glyphs_per_class": glyphs.PER_CLASS,
    }
    runs_path = Path(args.runs if not args.quick else Path(tempfile.gettempdir()) / f"transfer_quick_{os.getpid()}.json")
    store = json.loads(runs_path.read_text()) if runs_path.exists() else {}
    if args.protocol == "small-source" and store.get("setup", setup) != setup:
        raise SystemExit(f"{runs_path} holds small-source runs of another set-up ({store['setup']}); give another --runs")
    if args.protocol == "glyphs" and store.get("glyph_setup", gsetup) != gsetup:
        raise SystemExit(f"{runs_path} holds glyph runs of another set-up ({store['glyph_setup']}); give another --runs")
    store["setup" if args.protocol == "small-source" else "glyph_setup"] = setup if args.protocol == "small-source" else gsetup
    done, details, sources_log = store.setdefault("runs", {}), store.setdefault("details", {}), store.setdefault("glyph_sources", {})
    t0 = time.perf_counter()
    ram = "/dev/shm" if Path("/dev/shm").is_dir() else None
    if args.threads:
        torch.set_num_threads(args.threads)

    def save() -> None:
        """Merge what other invocations wrote meanwhile (``--routes`` in parallel), then write."""
        if runs_path.exists():
            fresh = json.loads(runs_path.read_text())
            for part in ("runs", "details", "glyph_sources"):
                for k, v in fresh.get(part, {}).items():
                    store.setdefault(part, {}).setdefault(k, v)
            for part in ("speed", "setup", "glyph_setup"):
                if part in fresh:
                    store.setdefault(part, fresh[part])
            mine = {json.dumps(x, sort_keys=True) for x in store.get("invocations", [])}
            store["invocations"] = store.get("invocations", []) + [
                x for x in fresh.get("invocations", []) if json.dumps(x, sort_keys=True) not in mine
            ]
        atomic_write_text(runs_path, json.dumps(store, indent=1) + "\n")

    def skip(key: str, route: str | None) -> bool:
        return key in done or args.report_only or args.speed_only or (wanted is not None and route_kind(route) not in wanted)

    def row(tmp: Path, table: str, label: str, route: str | None, k: Any, seed: int, data: str, classes: int, extra: dict) -> None:
        """One run of the small-source protocol."""
        key = f"{table}|{label}|{k}|{seed}"
        if skip(key, route):
            return
        weights = pretrain_route(route, seed, tmp, args) if route else None
        start = time.perf_counter()
        done[key] = adapt_row(weights, data, classes, None if k == "all" else k, seed, tmp, args.target_epochs, **extra)
        details[key] = {"seconds": round(time.perf_counter() - start, 1), "epochs": args.target_epochs}
        save()
        print(f"seed {seed} {table} K={k} {label:<36} {done[key]:.3f}", file=sys.stderr, flush=True)

    def glyph_row(tmp: Path, table: str, label: str, route: str | None, k: Any, seed: int, data: str, classes: int, extra: dict) -> None:
        """One run of the glyphs protocol: zoo features + CV logistic, or zoo adapt."""
        key = f"{table}|{label}|{k}|{seed}"
        if skip(key, route):
            return
        weights = None
        if route:
            weights = glyph_source(route, seed if args.per_seed_sources else 0, args, gepochs, sources_log)
            save()
        shots = None if k == "all" else k
        start = time.perf_counter()
        if extra is FEATURES_PROBE:
            info = probe_row(weights, data, shots, seed, tmp)
            done[key] = info.pop("val_accuracy")
        else:
            epochs = args.all_epochs if (table == "glyphs-digits" and k == "all") else args.target_epochs
            done[key], info = adapt_row(weights, data, classes, shots, seed, tmp, epochs, **extra), {"epochs": epochs}
        details[key] = {"seconds": round(time.perf_counter() - start, 1), **info}
        save()
        print(f"seed {seed} {table} K={k} {label:<60} {done[key]:.3f} ({details[key]['seconds']:.0f} s)", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(dir=ram) as tmp_name:
        tmp = Path(tmp_name)
        if args.quick:
            args.sources_dir = str(tmp / "sources")
        seeds = range(args.seeds) if args.only_seeds is None else [int(x) for x in args.only_seeds.split(",")]
        order = (lambda xs: list(reversed(xs))) if args.reverse else list
        for seed in seeds:
            if args.protocol == "glyphs":
                for k in order(gks):
                    for label, route, extra in order(GLYPH_DIGIT_ROWS):
                        glyph_row(tmp, "glyphs-digits", label, route, k, seed, "digits", 10, extra)
                for k in order(face_ks):
                    for label, route, extra in order(GLYPH_FACE_ROWS):
                        glyph_row(tmp, "glyphs-faces", label, route, k, seed, "faces", 2, extra)
                continue
            for k in order(ks):
                for label, route, extra in order(DIGIT_ROWS):
                    row(tmp, "digits", label, route, k, seed, "digits:5-9", 5, extra)
            for name, extra in (("bf16", {"amp": "bf16"}), ("channels-last", {"channels_last": True})):
                row(tmp, "precision", name, SUPERVISED, ks[-1], seed, "digits:5-9", 5, extra)
            for k in face_ks:
                for label, route, extra in FACE_ROWS:
                    row(tmp, "faces", label, route, k, seed, "faces", 2, extra)
    accuracy_seconds = time.perf_counter() - t0
    small_done = complete_seeds(done, small_source_keys(ks, face_ks), args.seeds)
    if args.speed_only or (
        args.protocol == "small-source" and "speed" not in store and wanted is None and not args.report_only and small_done
    ):
        store["speed"] = speed(args.speed_seconds, args.speed_rounds)
    seconds = time.perf_counter() - t0
    cmd = "python benchmarks/transfer.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    if not (args.report_only or args.quick):  # how the runs file's runs were made, for the page's header
        store.setdefault("invocations", []).append(
            {
                "command": cmd.strip(),
                "ended": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
                "minutes": round(seconds / 60, 1),
                "training_minutes": round(accuracy_seconds / 60, 1),
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "machine": platform.processor() or platform.machine(),
            }
        )
    save()  # with what parallel invocations added

    # the small-source section comes from the recorded runs file (read-only in --quick, whose own file has none)
    old_store = json.loads(default_runs.read_text()) if args.quick and default_runs.exists() else store
    old_ks = ks if not args.quick else [1, 5, 10, 20]
    small_lines, small_acc, small_faces = small_source_section(
        old_store, 5 if args.quick else args.seeds, old_ks, face_ks, default_runs.name
    )
    g_complete = complete_seeds(done, glyph_keys(gks, face_ks), args.seeds) if "glyph_setup" in store else []
    lines = [
        "# When transfer pays: a large similar source (glyphs) against a small one (digits 0-4)",
        "",
        f"Written {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by `{cmd.strip()}` from the runs kept in "
        f"`{runs_path if args.quick else runs_path.name}` (every run's accuracy, so a run interrupted or split by "
        "`--routes` / `--only-seeds` continues where it stopped). Those runs were made by:",
        "",
        *(
            f"- `{x['command']}`: ended {x['ended']}, {x['minutes']:.0f} min wall ({x['training_minutes']:.0f} of them "
            f"training), torch {x['torch']}, {x['threads']} thread(s), {x['machine']}, CPU" + (f"; {x['note']}" if x.get("note") else "")
            for x in store.get("invocations", [])
        ),
        *(["- (invocations made before the runs file recorded them are not listed)"] if "invocations" not in store else []),
        "",
        "The glyphs protocol: `python benchmarks/transfer.py` (resumes from the runs file); the earlier small-source "
        "protocol: `python benchmarks/transfer.py --protocol small-source`; this page again from the recorded runs: "
        "`python benchmarks/transfer.py --report-only`.",
        "",
    ]
    if args.quick:
        lines += ["**A `--quick` smoke test: 1 seed, 1-2 epochs, 40 glyphs per class. Not a measurement.**", ""]
    large_acc = large_faces = None
    if g_complete:
        if len(g_complete) < args.seeds:
            lines += [
                f"**Glyphs protocol partial: {len(g_complete)} of {args.seeds} seeds complete ({', '.join(map(str, g_complete))}); "
                f"the same command continues from `{Path(args.runs).name}` and rewrites this page.**",
                "",
            ]
        glines, large_acc, large_faces = glyph_section(store, g_complete, gks, face_ks, args)
        lines += glines
    else:
        missing = [key for key in glyph_keys(gks, face_ks)(0) if key not in done]
        lines += [
            "## Large, similar source: glyphs",
            "",
            f"No seed is complete yet ({len(missing)} runs of seed 0 missing); `python benchmarks/transfer.py` runs them.",
            "",
        ]
    lines += comparison(small_acc, small_faces, large_acc, large_faces, gks)
    lines += small_lines
    atomic_write_text(args.out, "\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
