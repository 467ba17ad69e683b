"""CycleGAN on an unpaired task from real data: two digit classes as two domains (CPU).

    python benchmarks/translation.py                         # 3 seeds x 1,020 steps, 2 threads
    python benchmarks/translation.py --threads 1             # what was recorded: 21 min on a busy 2-core machine
    python benchmarks/translation.py --steps 120 --seeds 1   # a quick check

What it does, in one run, on scikit-learn's 1,797 real 8x8 handwritten digits, resized to
32x32 grey as ``zoo train cyclegan --data digits:3,8`` sees them (bilinear, antialiased):

1. **Split.** The seeded stratified 80/20 split that ``zoo train ... --data digits`` makes
   (:func:`zoo.data.stratified_split`, seed 0). Domain A = the training 3s, domain B = the
   training 8s (unpaired: every batch mixes both, as ``zoo train`` feeds them); the
   held-out 3s and 8s are the test inputs.
2. **Judge.** ``zoo train resnet18 --data digits --img-size 32`` on that same split (so it
   never saw the test images); its held-out accuracy is reported. It gives (a) the class of
   each translated image and (b) its penultimate features, in which KID (Binkowski et al.
   2018; torchmetrics through :func:`zoo.tasks.quality.fid_kid`) compares the translations with
   the real training images of the target digit. A classifier labels anything, blurred grey
   blobs included; KID tells such blobs from digits.
3. **CycleGAN** (:class:`zoo.plugins.cyclegan.adapter.CycleGANAdapter` through
   :class:`zoo.training.trainer.Trainer`): the official losses (LSGAN, cycle 10, identity 0.5, pool
   50, Adam 2e-4 / 0.5, constant then linear decay over the second half), 6-block
   generators and 3-layer PatchGANs at reduced width (``--ngf``, ``--ndf``; the official 64
   is too slow for 2 CPU cores), the trainer's batches (``--batch-size``, both domains
   mixed), a fixed number of steps per seed.
4. **Measures** on the held-out images, for the trained model and two baselines from the
   same run: *identity* (no translation) and the *untrained* generators of the same seed;
   and the real held-out target digits as the floor of KID. Translation: the share of
   A->B classified as B (B->A as A), and KID x 100 to the real targets. Content: cycle
   reconstruction L1 of A->B->A and B->A->B in [0, 1] pixel units, and the share of
   reconstructions classified as their source digit. Mean ± sample standard deviation over seeds.
5. ``benchmarks/translation_cyclegan.png``: held-out A, A->B, A->B->A, B, B->A, B->A->B rows
   of the first seed.

Writes ``benchmarks/translation_cyclegan.md`` (or ``--out``) and the PNG atomically.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ZOO_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
SIZE = 32
PERCENT = ("cls", "rec")


def _digits():
    """All digits as float32 ``(N, 1, 32, 32)`` in ``[0, 1]`` (zoo's ``resize_only`` transform
    of the built-in ``digits``) and their labels ``(N,)`` int64."""
    import numpy as np
    import torch
    from torchvision.transforms import v2

    from zoo.registry import load_dataset

    images, labels, _ = load_dataset("digits")  # the built-in data set: uint8 (N, 1, 8, 8)
    x = v2.functional.resize(torch.from_numpy(images), [SIZE, SIZE], antialias=True)
    return x.float() / 255.0, torch.from_numpy(np.asarray(labels)).long()


def _mean_sd(values: list[float], fmt: str) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{fmt.format(statistics.mean(values))} ± {fmt.format(sd)}"


def _measure(adapter, features, real, test, src: int, dst: int, seed: int) -> dict[str, float]:
    """Translation and content measures on the held-out ``test[src]`` (A) and ``test[dst]`` (B).

    ``adapter=None`` is the identity baseline. ``real[c]`` are the training images of digit
    ``c`` (the KID reference); images are ``(N, 1, 32, 32)`` in ``[0, 1]``.
    """
    import torch

    from zoo.tasks.quality import fid_kid, label_accuracy

    def run(x, direction):
        return x if adapter is None else adapter.translate(x * 2 - 1, direction)

    def share(x, label):
        return label_accuracy(features, x, torch.full((x.shape[0],), label))

    a, b = test[src], test[dst]
    ab, ba = run(a, "AtoB"), run(b, "BtoA")
    aba, bab = run(ab, "BtoA"), run(ba, "AtoB")
    return {
        "cls_ab": share(ab, dst),
        "cls_ba": share(ba, src),
        "kid_ab": 100 * fid_kid(features, real[dst], ab, seed=seed)["kid"],
        "kid_ba": 100 * fid_kid(features, real[src], ba, seed=seed)["kid"],
        "cyc_a": float((aba - a).abs().mean()),
        "cyc_b": float((bab - b).abs().mean()),
        "rec_a": share(aba, src),
        "rec_b": share(bab, dst),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1020, help="training iterations per seed (rounded up to whole epochs)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pair", default="3,8", help="the two digit classes: domain A, domain B")
    parser.add_argument("--batch-size", type=int, default=16, help="images per batch, both domains mixed")
    parser.add_argument("--ngf", type=int, default=16)
    parser.add_argument("--ndf", type=int, default=16)
    parser.add_argument("--classifier-epochs", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=HERE / "translation_cyclegan.md")
    parser.add_argument("--png", type=Path, default=HERE / "translation_cyclegan.png")
    parser.add_argument("--note", default="", help="a paragraph added under the results (where and why the run was made)")
    args = parser.parse_args(argv)

    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from zoo import tasks
    from zoo.data import stratified_split
    from zoo.io.grids import save_grid
    from zoo.registry import build
    from zoo.tasks.quality import fid_kid, load_classifier
    from zoo.training.trainer import Trainer
    from zoo.utils.fileio import atomic_write_text
    from zoo.utils.seeding import seed_everything

    torch.set_num_threads(args.threads)
    src, dst = (int(c) for c in args.pair.split(","))
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f}s] {msg}", file=sys.stderr, flush=True)

    x, y = _digits()
    train_idx, test_idx = stratified_split(y.tolist(), 0.2, seed=0)  # the split of `zoo train --data digits`
    real = {c: x[train_idx][y[train_idx] == c] for c in (src, dst)}
    test = {c: x[test_idx][y[test_idx] == c] for c in (src, dst)}
    with tempfile.TemporaryDirectory() as tmp:
        clf = tasks.train(
            "resnet18",
            "digits",
            epochs=args.classifier_epochs,
            img_size=SIZE,
            out=Path(tmp) / "clf",
            seed=0,
            progress=False,
            device=args.device,
        )
        features, class_names = load_classifier(str(Path(tmp) / "clf"))
    assert class_names == [str(i) for i in range(10)], class_names
    log(f"judge: resnet18 at 32x32, held-out accuracy {clf['val_accuracy']:.4f} on {clf['val_images']} digits")
    floor = {c: 100 * fid_kid(features, real[c], test[c])["kid"] for c in (src, dst)}

    images = torch.cat([real[src], real[dst]]) * 2 - 1
    domains = torch.cat([torch.zeros(len(real[src])), torch.ones(len(real[dst]))]).long()
    iters = len(images) // args.batch_size  # drop_last, as zoo train does for GANs
    epochs = max(2, math.ceil(args.steps / iters))
    options = {"image_size": SIZE, "channels": 1, "ngf": args.ngf, "ndf": args.ndf, "class_names": (str(src), str(dst))}

    rows: dict[str, list[dict[str, float]]] = {"identity": [], "untrained": [], "cyclegan": []}
    seconds, steps, params = [], 0, 0
    for seed in range(args.seeds):
        seed_everything(seed)
        adapter = build("cyclegan", **options)
        params = sum(p.numel() for p in adapter.model.parameters())
        rows["untrained"].append(_measure(adapter, features, real, test, src, dst, seed))
        rows["identity"].append(_measure(None, features, real, test, src, dst, seed))
        loader = DataLoader(
            TensorDataset(images, domains),
            batch_size=args.batch_size,
            shuffle=True,
            drop_last=True,
            generator=torch.Generator().manual_seed(seed),
        )
        t0 = time.perf_counter()
        result = Trainer(epochs=epochs, device=args.device, seed=seed, progress=False).fit(adapter, loader)
        seconds.append(time.perf_counter() - t0)
        steps = result["steps"]
        adapter.to("cpu")
        rows["cyclegan"].append(m := _measure(adapter, features, real, test, src, dst, seed))
        log(
            f"seed {seed}: {steps} steps in {seconds[-1]:.0f} s; A->B as {dst} {m['cls_ab']:.3f} KID {m['kid_ab']:.2f}, "
            f"B->A as {src} {m['cls_ba']:.3f} KID {m['kid_ba']:.2f}, cycle L1 {m['cyc_a']:.3f}/{m['cyc_b']:.3f}; "
            f"g_loss {result['g_loss']:.3f} d_loss {result['d_loss']:.3f}"
        )
        if seed == 0:
            k = 8
            a, b = test[src][:k], test[dst][:k]
            ab, ba = adapter.translate(a * 2 - 1, "AtoB"), adapter.translate(b * 2 - 1, "BtoA")
            grid = torch.cat([a, ab, adapter.translate(ab * 2 - 1, "BtoA"), b, ba, adapter.translate(ba * 2 - 1, "AtoB")])
            save_grid(grid, args.png, nrow=k, min_cell=SIZE)

    def vals(method: str, key: str) -> list[float]:
        return [(100 if key.startswith(PERCENT) else 1) * r[key] for r in rows[method]]

    def cell(method: str, key: str) -> str:
        return _mean_sd(vals(method, key), "{:.1f}" if key.startswith(PERCENT) else "{:.2f}" if key.startswith("kid") else "{:.3f}")

    names = {"identity": "identity (no translation)", "untrained": "untrained generators (same seeds)", "cyclegan": "**CycleGAN, trained**"}
    methods = ("identity", "untrained", "cyclegan")
    translation = [
        f"| method | {src}->{dst} classified {dst} (%) | KID x 100 to real {dst}s | {dst}->{src} classified {src} (%) | KID x 100 to real {src}s |",
        "|---|---|---|---|---|",
        f"| real held-out digits (floor) | - | {floor[dst]:.2f} | - | {floor[src]:.2f} |",
    ] + [f"| {names[m]} | " + " | ".join(cell(m, k) for k in ("cls_ab", "kid_ab", "cls_ba", "kid_ba")) + " |" for m in methods]
    content = [
        f"| method | cycle L1 {src}->{dst}->{src} | cycle L1 {dst}->{src}->{dst} | {src}->{dst}->{src} classified {src} (%) "
        f"| {dst}->{src}->{dst} classified {dst} (%) |",
        "|---|---|---|---|---|",
    ] + [f"| {names[m]} | " + " | ".join(cell(m, k) for k in ("cyc_a", "cyc_b", "rec_a", "rec_b")) + " |" for m in methods]
    per_seed = [
        f"| {s} | {100 * r['cls_ab']:.1f} | {r['kid_ab']:.2f} | {100 * r['cls_ba']:.1f} | {r['kid_ba']:.2f} | {r['cyc_a']:.3f} | "
        f"{r['cyc_b']:.3f} | {t:.0f} |"
        for s, (r, t) in enumerate(zip(rows["cyclegan"], seconds, strict=True))
    ]

    def compare(key: str, baseline: str, higher: bool) -> str:
        """``above``/``below``/``not distinguishable from`` the baseline: more than 2 standard errors over seeds."""
        mine, base = vals("cyclegan", key), vals(baseline, key)
        diff = statistics.mean(mine) - statistics.mean(base)
        se = math.sqrt(sum(statistics.variance(v) / len(v) for v in (mine, base) if len(v) > 1))
        if abs(diff) <= 2 * se:
            return "not distinguishable from"
        return ("better than" if (diff > 0) == higher else "worse than") + f" ({statistics.mean(base):.2f})"

    checks = []
    for key, kid, label, tgt in (("cls_ab", "kid_ab", f"{src}->{dst}", dst), ("cls_ba", "kid_ba", f"{dst}->{src}", src)):
        checks.append(
            f"{label}: classified {tgt} {statistics.mean(vals('cyclegan', key)):.1f} %, {compare(key, 'identity', True)} identity and "
            f"{compare(key, 'untrained', True)} untrained; KID {statistics.mean(vals('cyclegan', kid)):.2f}, "
            f"{compare(kid, 'identity', False)} identity, {compare(kid, 'untrained', False)} untrained "
            f"(real digits: {floor[tgt]:.2f})"
        )
    for key, label in (("cyc_a", f"{src}->{dst}->{src}"), ("cyc_b", f"{dst}->{src}->{dst}")):
        checks.append(f"{label}: cycle L1 {statistics.mean(vals('cyclegan', key)):.3f}, {compare(key, 'untrained', False)} untrained")
    total = time.perf_counter() - started
    given = list(sys.argv[1:] if argv is None else argv)
    if "--note" in given:  # the note is printed below the results, not in the command
        i = given.index("--note")
        del given[i : i + 2]
    command = "python benchmarks/translation.py" + "".join(" " + a for a in given)
    machine = (
        f"{platform.machine()}, {os.cpu_count()} logical CPUs, torch {torch.__version__}, {args.threads} threads, device {args.device}"
    )
    text = f"""# CycleGAN: unpaired translation between two digit classes

`{command}` ({dt.date.today().isoformat()}; {machine}; {total / 60:.1f} min in all, {statistics.mean(seconds):.0f} s of training per seed).

Domains: A = the digit **{src}**, B = the digit **{dst}** from scikit-learn's real 8x8 digits,
resized to {SIZE}x{SIZE} grey (zoo's built-in `digits` pipeline): {len(real[src])} A and {len(real[dst])} B training
images (unpaired; batches of {args.batch_size} mixing both), {len(test[src])} A and {len(test[dst])} B held-out test images
(the 80/20 split of `zoo train --data digits`, seed 0).

Judge: `zoo train resnet18 --data digits --img-size {SIZE}` on the same split ({args.classifier_epochs} epochs):
**{100 * clf["val_accuracy"]:.1f} %** held-out accuracy on {clf["val_images"]} digits. "Classified" is its verdict on each
translated image; KID x 100 (torchmetrics, in its penultimate features, `zoo.tasks.quality.fid_kid`)
compares the held-out translations with the real training images of the target digit: a
classifier labels anything, grey blobs included; KID tells blobs from digits. The floor row
is KID of the real held-out target digits themselves.

Model: `cyclegan` with the official losses and optimisation (LSGAN, cycle weight 10, identity
0.5, image pool 50, Adam 2e-4 / betas (0.5, 0.999), one optimizer per network pair, constant
learning rate then linear decay to 0 over the second half), 6-block generators and 3-layer
PatchGANs at reduced width (ngf = {args.ngf}, ndf = {args.ndf}: {params:,} parameters; the official
width 64 is too slow for 2 CPU cores), {steps} steps ({epochs} epochs of {iters}) per seed, {args.seeds} seeds
(model init, shuffling and image pool; the split is fixed). Mean ± sample standard deviation over seeds.

**Translation happened** (held-out inputs):

{chr(10).join(translation)}

**Content kept** (cycle reconstruction error in [0, 1] pixel units; 0 = kept exactly):

{chr(10).join(content)}

Per seed (trained CycleGAN):

| seed | {src}->{dst} as {dst} (%) | KID {src}->{dst} | {dst}->{src} as {src} (%) | KID {dst}->{src} | cycle L1 A | cycle L1 B | training s |
|---|---|---|---|---|---|---|---|
{chr(10).join(per_seed)}

Computed comparisons (trained against each baseline; "not distinguishable" = within 2 standard errors over {args.seeds} seeds):

{chr(10).join("- " + c for c in checks)}

![held-out {src}s, {src}->{dst}, {src}->{dst}->{src}, then {dst}s, {dst}->{src}, {dst}->{src}->{dst} (seed 0)](translation_cyclegan.png)

Rows of `translation_cyclegan.png`: held-out {src}s, their translations, their reconstructions;
held-out {dst}s, their translations, their reconstructions (seed 0, first 8 test images).
{chr(10) + args.note + chr(10) if args.note else ""}"""
    atomic_write_text(args.out, text)
    log(f"wrote {args.out} and {args.png}")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
