"""GAN quality, cGAN label accuracy, trainer overhead and sampling throughput on real digits (CPU).

    python benchmarks/gans.py                       # 3 seeds x 4 families x 2 minutes, ~30 min on 2 cores
    python benchmarks/gans.py --minutes 5 --seeds 3 # the issue's example budget

What it does, in one run, on scikit-learn's 1,797 real 8x8 handwritten digits:

1. **Feature space.** ``zoo train resnet18 --data digits --img-size 32`` (80/20 split):
   FID and KID (torchmetrics) are computed on the penultimate features of this classifier
   (``zoo.tasks.quality``), since Inception weights cannot be had offline and fit 8x8 digits badly.
2. **Floor.** FID/KID between two disjoint, class-stratified halves A and B of the real
   digits (the best a generator can do at this sample size).
3. **Families at equal wall time.** vanilla GAN, cGAN, DCGAN and LAPGAN, each trained with
   ``zoo.tasks.train(..., max_minutes=M)`` on all digits at 16x16 for every seed; then
   ``len(B)`` samples against half A. Mean and sample standard deviation over seeds.
4. **cGAN label accuracy.** 100 samples per requested digit, classified by the classifier.
5. **Trainer overhead.** DCGAN training steps/s through ``zoo.training.trainer.Trainer`` against a
   bare loop written like pytorch/examples ``dcgan/main.py`` (same networks, data loader,
   batch, threads), alternating rounds in one process; the ratio of medians.
6. **Sampling throughput** per family through ``zoo.tasks.bench.bench_models`` (images/s).

Writes ``benchmarks/gans.md`` (or ``--out``) atomically.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ZOO_OFFLINE", "1")

FAMILIES = ("vanilla_gan", "cgan", "dcgan", "lapgan")
IMG = 16


def _real_digits(size: int):
    """All digits as float32 ``(N, 1, size, size)`` in ``[0, 1]`` (bilinear, antialiased, as the
    GANs' ``resize_only`` transforms see them) and their labels."""
    import torch
    from sklearn.datasets import load_digits
    from torchvision.transforms import v2

    d = load_digits()
    x = torch.from_numpy((d.images * (255.0 / 16.0)).round().clip(0, 255).astype("uint8"))[:, None]
    x = v2.functional.resize(x, [size, size], antialias=True)
    return x.float() / 255.0, torch.from_numpy(d.target).long()


def _halves(labels, seed: int = 0):
    from sklearn.model_selection import train_test_split

    idx = list(range(len(labels)))
    a, b = train_test_split(idx, test_size=0.5, stratify=labels.numpy(), random_state=seed)
    return sorted(a), sorted(b)


def _mean_sd(vals: list[float]) -> str:
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f"{statistics.mean(vals):.2f} ± {sd:.2f}"


def _overhead(seconds: float, rounds: int) -> dict[str, float]:
    """Steps/s of zoo's Trainer vs a bare pytorch/examples-style loop on DCGAN (16x16, ngf=ndf=32)."""
    import torch
    import torch.nn.functional as F

    from zoo import tasks  # noqa: F401  (registers the plugins' options)
    from zoo.data import make_loaders, resolve_data
    from zoo.registry import build
    from zoo.training.trainer import Trainer

    source = resolve_data("digits", seed=0)

    def fresh():
        torch.manual_seed(0)
        adapter = build("dcgan", image_size=IMG, channels=1, ngf=32, ndf=32)
        t = adapter.transforms(img_size=IMG, resize_only=True)
        loader, _ = make_loaders(source, train_transform=t, val_transform=t, batch_size=64, drop_last=True)
        return adapter, loader

    def zoo_rate() -> float:
        adapter, loader = fresh()
        trainer = Trainer(epochs=10_000, max_minutes=seconds / 60, progress=False, seed=0)
        result = trainer.fit(adapter, loader)
        return result["steps"] / result["seconds"]

    def bare_rate() -> float:
        adapter, loader = fresh()
        g, d = adapter.generator, adapter.discriminator
        opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
        g.train()
        d.train()
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for real, _ in loader:
                n = real.shape[0]
                d.zero_grad()
                out = d(real, logits=True)
                err_real = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
                err_real.backward()
                z = torch.randn(n, adapter.latent_dim, 1, 1)
                fake = g(z)
                out = d(fake.detach(), logits=True)
                err_fake = F.binary_cross_entropy_with_logits(out, torch.zeros_like(out))
                err_fake.backward()
                opt_d.step()
                g.zero_grad()
                out = d(fake, logits=True)
                err_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
                err_g.backward()
                opt_g.step()
                steps += 1
                if time.perf_counter() - start >= seconds:
                    break
        return steps / (time.perf_counter() - start)

    zoo, bare = [], []
    for _ in range(rounds):
        bare.append(bare_rate())
        zoo.append(zoo_rate())
    return {
        "zoo": statistics.median(zoo),
        "bare": statistics.median(bare),
        "ratio": statistics.median(zoo) / statistics.median(bare),
        "zoo_all": zoo,
        "bare_all": bare,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per family")
    ap.add_argument("--minutes", type=float, default=2.0, help="training wall time per family and seed")
    ap.add_argument("--classifier-epochs", type=int, default=8)
    ap.add_argument("--overhead-seconds", type=float, default=20.0, help="seconds per timing round of the overhead check")
    ap.add_argument("--overhead-rounds", type=int, default=3)
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--out", default=str(Path(__file__).with_name("gans.md")))
    args = ap.parse_args(argv)
    families = [f for f in args.families.split(",") if f]

    import torch

    # KID keeps every feature in memory (a few MB here); torchmetrics warns about it on every build
    warnings.filterwarnings("ignore", message="Metric `Kernel Inception Distance` will save all extracted features")
    from zoo import tasks
    from zoo.tasks.bench import bench_models
    from zoo.tasks.quality import fid_kid, label_accuracy, load_classifier
    from zoo.utils.fileio import atomic_write_text

    t0 = time.perf_counter()
    lines_log: list[str] = []

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)
        lines_log.append(msg)

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        clf = tasks.train(
            "resnet18", "digits", epochs=args.classifier_epochs, img_size=32, out=tmp_path / "classifier", seed=0, progress=False
        )
        log(f"classifier: resnet18 at 32x32, held-out accuracy {clf['val_accuracy']:.3f} on {clf['val_images']} digits")
        features, class_names = load_classifier(str(tmp_path / "classifier"))

        real, labels = _real_digits(IMG)
        a, b = _halves(labels)
        real_a, real_b = real[a], real[b]
        floor = fid_kid(features, real_a, real_b)
        log(f"floor (half A vs half B, {len(a)} vs {len(b)} real digits): FID {floor['fid']:.2f}, KID {floor['kid']:.4f}")

        results: dict[str, list[dict[str, float]]] = {}
        cgan_acc: list[float] = []
        for fam in families:
            for seed in range(args.seeds):
                out = tmp_path / f"{fam}-{seed}"
                summary = tasks.train(
                    fam,
                    "digits",
                    epochs=1_000_000,
                    max_minutes=args.minutes,
                    img_size=IMG,
                    out=out,
                    seed=seed,
                    batch_size=64,
                    progress=False,
                )
                adapter = tasks.load_gan(fam, out)
                fake = torch.cat([adapter.sample(min(256, len(b) - i), seed=1000 + i) for i in range(0, len(b), 256)])
                if fam == "cgan":  # as many samples of each digit as half B has, up to rounding
                    fake = torch.cat(
                        [adapter.sample(len(b) // 10 + (1 if k < len(b) % 10 else 0), seed=1000 + k, condition=k) for k in range(10)]
                    )
                    per = 100
                    imgs = torch.cat([adapter.sample(per, seed=2000 + k, condition=k) for k in range(10)])
                    want = torch.arange(10).repeat_interleave(per)
                    want = torch.tensor([class_names.index(adapter.condition.names[int(k)]) for k in want])
                    cgan_acc.append(label_accuracy(features, imgs, want))
                scores = fid_kid(features, real_a, fake, seed=seed)
                scores.update(steps=float(summary["steps"]), seconds=float(summary["seconds"]))
                results.setdefault(fam, []).append(scores)
                log(
                    f"{fam} seed {seed}: {summary['steps']} steps in {summary['seconds']:.0f} s, FID {scores['fid']:.2f}, "
                    f"KID {scores['kid']:.4f}" + (f", label accuracy {cgan_acc[-1]:.3f}" if fam == "cgan" else "")
                )

    overhead = _overhead(args.overhead_seconds, args.overhead_rounds)
    log(f"trainer overhead: zoo {overhead['zoo']:.1f} steps/s, bare loop {overhead['bare']:.1f} steps/s, ratio {overhead['ratio']:.3f}")
    rows = bench_models(families, budget_s=2.0, img_size=IMG)
    seconds = time.perf_counter() - t0

    md = [
        "# GAN families on real digits (CPU)",
        "",
        f"Recorded {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with "
        f"`{' '.join(['python benchmarks/gans.py', *(argv if argv is not None else sys.argv[1:])])}`",
        f"({seconds / 60:.0f} min, torch {torch.__version__}, {torch.get_num_threads()} threads, CPU).",
        "",
        f"Data: scikit-learn's 1,797 real 8x8 digits, resized to {IMG}x{IMG}. Every family trains on the 80% training split "
        f"for {args.minutes:g} minutes of wall time per seed (batch 64, default options). FID and KID are measured in the "
        f"penultimate-feature space (512-d) of a ResNet-18 that zoo trained on the digits (held-out accuracy "
        f"{clf['val_accuracy']:.3f}), between half A of the real digits ({len(a)} images) and {len(b)} samples. "
        "The floor is the same measure between the two real halves. Lower is better; mean ± sd over seeds "
        f"0..{args.seeds - 1}.",
        "",
        "| model | FID | KID | steps in the budget | sampling img/s (batch 8, CPU) |",
        "|---|---:|---:|---:|---:|",
        f"| real half B (floor) | {floor['fid']:.2f} | {floor['kid']:.4f} | - | - |",
    ]
    ips = {r.name: r.throughput_ips for r in rows}
    for fam in families:
        res = results[fam]
        md.append(
            f"| {fam} | {_mean_sd([r['fid'] for r in res])} | "
            f"{statistics.mean([r['kid'] for r in res]):.4f} ± {statistics.stdev([r['kid'] for r in res]) if len(res) > 1 else 0:.4f} | "
            f"{statistics.mean([r['steps'] for r in res]):.0f} | {ips.get(fam) or 0:.0f} |"
        )
    md += ["", "Per seed:", "", "| model | seed | FID | KID |", "|---|---:|---:|---:|"]
    for fam in families:
        for seed, r in enumerate(results[fam]):
            md.append(f"| {fam} | {seed} | {r['fid']:.2f} | {r['kid']:.4f} |")
    if cgan_acc:
        md += [
            "",
            f"**cGAN label accuracy**: the classifier agrees with the requested digit on "
            f"{_mean_sd([100 * x for x in cgan_acc])} % of 1,000 samples (100 per digit) per seed "
            f"({', '.join(f'{100 * x:.1f}' for x in cgan_acc)}). The target is at least 90 %.",
        ]
    md += [
        "",
        f"**Trainer overhead** (DCGAN {IMG}x{IMG}, ngf = ndf = 32, batch 64, {torch.get_num_threads()} threads, "
        f"{args.overhead_rounds} alternating rounds of {args.overhead_seconds:g} s): zoo's `Trainer` "
        f"{overhead['zoo']:.1f} steps/s, a bare loop written like pytorch/examples `dcgan/main.py` "
        f"{overhead['bare']:.1f} steps/s: ratio **{overhead['ratio']:.3f}** (target ≥ 0.95). Rounds: zoo "
        f"{', '.join(f'{v:.1f}' for v in overhead['zoo_all'])}; bare {', '.join(f'{v:.1f}' for v in overhead['bare_all'])}.",
        "",
        "Log:",
        "",
        *[f"    {ln}" for ln in lines_log],
    ]
    atomic_write_text(args.out, "\n".join(md) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
