"""Transfer learning vs training from scratch on real digits, over several seeds.

The demo's comparison (``zoo demo`` step 3) for seeds 0..N-1: ResNet-18 trained on digits
0-4, adapted to digits 5-9 with K labelled images per class and its early stages frozen,
against the same K-shot training from random init. Each seed changes the data split, the
few-shot sample, the initialisation and the shuffling. Writes ``benchmarks/transfer_digits.md``
(atomically) with every run and the mean and standard deviation.

    python benchmarks/transfer_digits.py                    # 5 seeds, 10 shots, freeze layer1
    python benchmarks/transfer_digits.py --seeds 3 --shots 5 --freeze-until layer2
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from zoo.utils.fileio import atomic_write_text

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="number of seeds (0..N-1)")
    ap.add_argument("--shots", type=int, default=10, help="labelled target images per class")
    ap.add_argument("--freeze-until", default="layer1", help="stage frozen in the transfer run")
    ap.add_argument("--source-epochs", type=int, default=6)
    ap.add_argument("--target-epochs", type=int, default=30)
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--out", default=str(Path(__file__).with_name("transfer_digits.md")))
    args = ap.parse_args(argv)

    import torch

    from zoo import tasks

    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            src = tasks.train(
                args.backbone, "digits:0-4", epochs=args.source_epochs, out=Path(tmp) / f"src{seed}", seed=seed, progress=False
            )
            common = dict(num_classes=5, data="digits:5-9", shots=args.shots, epochs=args.target_epochs, seed=seed, progress=False)
            tr = tasks.adapt(args.backbone, freeze_until=args.freeze_until, weights=str(Path(tmp) / f"src{seed}"), **common)
            sc = tasks.adapt(args.backbone, freeze_until=None, weights="none", **common)
            rows.append((seed, src["val_accuracy"], tr["val_accuracy"], sc["val_accuracy"], tr["val_images"]))
            print(
                f"seed {seed}: source {src['val_accuracy']:.3f}  transfer {tr['val_accuracy']:.3f}  scratch {sc['val_accuracy']:.3f}",
                file=sys.stderr,
                flush=True,
            )
    seconds = time.perf_counter() - t0

    def ms(vals: list[float]) -> str:
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        return f"{statistics.mean(vals):.3f} ± {sd:.3f}"

    lines = [
        "# Transfer vs scratch on real digits",
        "",
        f"Recorded {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with "
        f"`python benchmarks/transfer_digits.py {' '.join(argv if argv is not None else sys.argv[1:])}`".replace(" `", "`"),
        f"({seconds:.0f} s, torch {torch.__version__}, {torch.get_num_threads()} threads, CPU).",
        "",
        f"{args.backbone} at 32x32; source task digits 0-4 ({args.source_epochs} epochs, all training images); target "
        f"task digits 5-9 with {args.shots} labelled images per class ({args.target_epochs} epochs); held-out accuracy "
        f"on the target's validation split ({rows[0][4]} images, 20% of each class, chosen by the seed). "
        f"Transfer: source weights, new 5-class head, stages up to `{args.freeze_until}` frozen. Scratch: random init, "
        "nothing frozen, same images and schedule.",
        "",
        "| seed | source acc | transfer acc | scratch acc | transfer - scratch |",
        "|---:|---:|---:|---:|---:|",
    ]
    for seed, s, t, c, _ in rows:
        lines.append(f"| {seed} | {s:.3f} | {t:.3f} | {c:.3f} | {t - c:+.3f} |")
    lines.append(
        f"| mean ± sd | {ms([r[1] for r in rows])} | {ms([r[2] for r in rows])} | {ms([r[3] for r in rows])} | "
        f"{ms([r[2] - r[3] for r in rows])} |"
    )
    out = Path(args.out)
    atomic_write_text(out, "\n".join(lines) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
