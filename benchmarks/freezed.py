"""FreezeD on real digits: a DCGAN trained on digits 0-4, adapted to K images per class of digits 5-9.

    python benchmarks/freezed.py            # 3 seeds, K = 10, about 10 minutes on 2 CPU cores
    python benchmarks/freezed.py --quick    # 1 seed, few steps: a smoke test

Per seed: a DCGAN (16x16, the zoo defaults) is trained on digits 0-4 for ``--source-epochs``
(``zoo train dcgan --data digits:0-4``); then, on the same K images per class of digits 5-9
(the target's few-shot training split, chosen by the seed) and for the same number of steps:

* *scratch*: a DCGAN from random init;
* *fine-tune*: ``zoo adapt dcgan --weights SRC --freeze-d 0`` (both networks trained);
* *FreezeD N*: ``--freeze-d N``, the discriminator's lower N layers frozen (Mo et al. 2020).

Scored like ``benchmarks/gans.py`` (issue 5's measure): FID and KID (torchmetrics) in the
penultimate-feature space of a ResNet-18 that zoo trains on all the digits, between every
real 5-9 digit at 16 px and as many samples; mean ± sd over seeds. Also the fraction of
samples the classifier calls a 5-9 digit (the source drew 0-4). Writes ``benchmarks/freezed.md``.
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
sys.path.insert(0, str(Path(__file__).parent))
warnings.filterwarnings("ignore", message="Metric `Kernel Inception Distance` will save all extracted features")

IMG = 16


def ms(values: list[float], digits: int = 1) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--shots", type=int, default=10)
    ap.add_argument("--source-epochs", type=int, default=40)
    ap.add_argument("--target-epochs", type=int, default=150, help="2 steps each (batch 25 of 50 images at K = 10)")
    ap.add_argument("--freeze", default="1,2", help="FreezeD depths")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).with_name("freezed.md")))
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.source_epochs, args.target_epochs = 1, 2, 3

    import torch
    from gans import _real_digits

    from zoo import tasks
    from zoo.data import resolve_data
    from zoo.fileio import atomic_write_text
    from zoo.quality import fid_kid, load_classifier
    from zoo.registry import build
    from zoo.tasks import _fit

    t0 = time.perf_counter()
    depths = [int(d) for d in args.freeze.split(",")]
    rows = ["scratch", "fine-tune (--freeze-d 0)", *[f"FreezeD (--freeze-d {d})" for d in depths]]
    scores: dict[str, dict[str, list[float]]] = {r: {"fid": [], "kid": [], "target": []} for r in rows}
    log: list[str] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        tasks.train("resnet18", "digits", epochs=8, img_size=32, out=tmp / "classifier", seed=0, progress=False)
        features, class_names = load_classifier(str(tmp / "classifier"))
        real, labels = _real_digits(IMG)
        target_real = real[labels >= 5]
        target_classes = torch.tensor([class_names.index(str(d)) for d in range(5, 10)])
        for seed in range(args.seeds):
            src = tmp / f"src{seed}"
            tasks.train("dcgan", "digits:0-4", epochs=args.source_epochs, img_size=IMG, out=src, seed=seed, progress=False)
            common = {"data": "digits:5-9", "shots": args.shots, "epochs": args.target_epochs, "batch_size": 25, "seed": seed}
            for row in rows:
                if row == "scratch":
                    torch.manual_seed(seed)
                    source = resolve_data("digits:5-9", seed=seed)
                    adapter = build("dcgan", image_size=IMG, channels=1)
                    _fit(adapter, source, img_size=IMG, device="cpu", amp=None, lr=None, max_minutes=None, progress=False,
                         **{k: v for k, v in common.items() if k != "data"})  # fmt: skip
                else:
                    n = 0 if row.startswith("fine-tune") else int(row.split()[-1].rstrip(")"))
                    out = tmp / f"{seed}-{n}"
                    tasks.adapt("dcgan", weights=str(src), freeze_d=n, out=out, progress=False, **common)
                    adapter = tasks.load_gan("dcgan", out)
                fake = torch.cat([adapter.sample(min(256, len(target_real) - i), seed=1000 + i) for i in range(0, len(target_real), 256)])
                s = fid_kid(features, target_real, fake, seed=seed)
                preds = torch.cat([features.logits(fake[i : i + 256]).argmax(1) for i in range(0, len(fake), 256)])
                share = float(torch.isin(preds, target_classes).float().mean())
                for k, v in (("fid", s["fid"]), ("kid", s["kid"] * 100), ("target", 100 * share)):
                    scores[row][k].append(v)
                line = f"seed {seed} {row}: FID {s['fid']:.1f} KID x100 {100 * s['kid']:.2f} samples read as 5-9 {100 * share:.1f} %"
                print(line, file=sys.stderr, flush=True)
                log.append(line)
    seconds = time.perf_counter() - t0
    best = min(rows, key=lambda r: statistics.mean(scores[r]["fid"]))
    cmd = "python benchmarks/freezed.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    lines = [
        "# FreezeD: adapting a digits-0-4 DCGAN to a few images of digits 5-9",
        "",
        f"Recorded {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with `{cmd}` ({seconds / 60:.0f} min, torch "
        f"{torch.__version__}, CPU).",
        "",
        f"Source: DCGAN 16x16 trained {args.source_epochs} epochs on digits 0-4. Target: K = {args.shots} images per class "
        f"of digits 5-9 ({5 * args.shots} images), {args.target_epochs} epochs of batch 25 for every row (the same "
        f"steps). FID/KID against all {len(target_real)} real 5-9 digits, as many samples, in a zoo ResNet-18's "
        "feature space (`benchmarks/gans.py`'s measure); lower is better. 'Read as 5-9': samples the classifier "
        f"assigns to a target digit. Mean ± sd over seeds 0..{args.seeds - 1}.",
        "",
        "| route | FID | KID x 100 | read as 5-9 (%) |",
        "|---|---:|---:|---:|",
        *[f"| {r} | {ms(scores[r]['fid'])} | {ms(scores[r]['kid'], 2)} | {ms(scores[r]['target'])} |" for r in rows],
        "",
        f"Lowest mean FID: **{best}**. "
        + (
            "Transfer from the source beats training from scratch on the same few images."
            if best != "scratch"
            else "Training from scratch wins here: the source did not help at this budget."
        ),
        "",
        "Log:",
        "",
        *[f"    {line}" for line in log],
        "",
    ]
    if args.quick:
        lines.insert(2, "**`--quick` smoke run: not a measurement.**\n")
    atomic_write_text(args.out, "\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
