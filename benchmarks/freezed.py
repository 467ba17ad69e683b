"""FreezeD on real digits: a DCGAN trained on digits 0-4, adapted to K images per class of digits 5-9.

    nice python benchmarks/freezed.py            # 3 seeds, K = 10; 10 minutes on 2 busy CPU cores (20 with --shots 10,25)
    python benchmarks/freezed.py --quick         # 1 seed, few steps: a smoke test, not a measurement

Per seed: a DCGAN (16x16, the zoo defaults) is trained on digits 0-4 for ``--source-epochs``
(``zoo train dcgan --data digits:0-4``); then, on the same K images per class of digits 5-9
(the target's few-shot training split, chosen by the seed: ``--shots K``) and for the same
number of steps:

* *scratch*: a DCGAN from random init;
* *fine-tune*: ``zoo adapt dcgan --weights SRC --freeze-d 0`` (both networks trained);
* *FreezeD N*: ``--freeze-d N``, the discriminator's lower N layers frozen (Mo et al. 2020).

Scored like ``benchmarks/gans.py`` (issue 5's measure, its functions imported): FID and KID
(torchmetrics) in the penultimate-feature space of a ResNet-18 that zoo trains on all the
digits, between the held-out real 5-9 digits (every 5-9 digit but the 5K training images) at
16 px and as many samples; mean ± sd over seeds. Also the share of samples the classifier
calls a 5-9 digit (the source drew 0-4). Two references per seed: the source GAN not adapted,
and the 5K training images themselves (each repeated: what a generator that memorised them
scores). Writes ``benchmarks/freezed.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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
    """``mean ± sd`` of ``values`` (sd 0 for one value)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"


def target_split(shots: int, seed: int):
    """``(train, held_out)``: indices into ``load_digits()`` of the ``shots`` per class of digits 5-9
    that ``zoo adapt --data digits:5-9 --shots K --seed S`` trains on, and of every other 5-9 digit."""
    import numpy as np
    from sklearn.datasets import load_digits

    from zoo.data import few_shot, resolve_data

    source = resolve_data("digits:5-9", seed=seed)
    keep = few_shot(list(range(len(source.targets_train))), source.targets_train, shots, seed, classes=source.classes)
    original = np.flatnonzero(load_digits().target >= 5)  # digits:5-9 keeps load_digits' order
    train = sorted(int(original[source.train.indices[k]]) for k in keep)
    return train, sorted(set(original.tolist()) - set(train))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--shots", default="10", help="K values, comma-separated")
    ap.add_argument("--source-epochs", type=int, default=80)
    ap.add_argument("--target-steps", type=int, default=300, help="generator steps on the target for every route")
    ap.add_argument("--freeze", default="1,2", help="FreezeD depths")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--classifier", default=None, help="reuse (or create) the feature network's zoo run in this directory")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).with_name("freezed.md")))
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.source_epochs, args.target_steps = 1, 2, 6

    import torch
    from gans import _real_digits

    torch.set_num_threads(args.threads)  # on a busy 2-core machine two threads wait on each other (tests/test_resume.py)

    from zoo import tasks
    from zoo.data import resolve_data
    from zoo.registry import build
    from zoo.tasks.quality import fid_kid, load_classifier
    from zoo.utils.fileio import atomic_write_text

    t0 = time.perf_counter()
    shots_list = [int(k) for k in args.shots.split(",")]
    depths = [int(d) for d in args.freeze.split(",")]
    batch = 25
    refs = ["source GAN, not adapted", "the 5K training images (memorised)"]
    rows = ["scratch", "fine-tune (--freeze-d 0)", *[f"FreezeD (--freeze-d {d})" for d in depths]]
    scores = {(k, r): {"fid": [], "kid": [], "target": []} for k in shots_list for r in refs + rows}
    log: list[str] = []

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        log.append(line)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clf_dir = Path(args.classifier) if args.classifier else tmp / "classifier"
        if not (clf_dir / "model.safetensors").is_file():  # gans.py's feature network: resnet18, 32 px, 8 epochs, seed 0
            tasks.train("resnet18", "digits", epochs=8, img_size=32, out=clf_dir, seed=0, progress=False)
        clf = json.loads((clf_dir / "model.json").read_text())["metrics"]
        say(f"classifier: resnet18 at 32x32, held-out accuracy {clf['val_accuracy']:.3f} on {clf['val_images']} digits")
        features, class_names = load_classifier(str(clf_dir))
        real, _ = _real_digits(IMG)
        target_classes = torch.tensor([class_names.index(str(d)) for d in range(5, 10)])

        def score(key: tuple[int, str], fake: torch.Tensor, held: torch.Tensor, seed: int) -> None:
            s = fid_kid(features, held, fake, seed=seed)
            preds = torch.cat([features.logits(fake[i : i + 256]).argmax(1) for i in range(0, len(fake), 256)])
            share = float(torch.isin(preds, target_classes).float().mean())
            for name, v in (("fid", s["fid"]), ("kid", s["kid"] * 100), ("target", 100 * share)):
                scores[key][name].append(v)
            say(f"K {key[0]} seed {seed} {key[1]}: FID {s['fid']:.1f} KID x100 {100 * s['kid']:.2f} read as 5-9 {100 * share:.1f} %")

        def draw(adapter: object, n: int) -> torch.Tensor:
            return torch.cat([adapter.sample(min(256, n - i), seed=1000 + i) for i in range(0, n, 256)])

        for seed in range(args.seeds):
            src = tmp / f"src{seed}"
            tasks.train("dcgan", "digits:0-4", epochs=args.source_epochs, img_size=IMG, out=src, seed=seed, progress=False)
            for k in shots_list:
                train_idx, held_idx = target_split(k, seed)
                held = real[held_idx]
                score((k, refs[0]), draw(tasks.load_gan("dcgan", src), len(held)), held, seed)
                score((k, refs[1]), real[train_idx].repeat(len(held) // len(train_idx) + 1, 1, 1, 1)[: len(held)], held, seed)
                epochs = max(1, args.target_steps * batch // (5 * k))  # drop_last batches: 5K // 25 steps an epoch
                common = {"shots": k, "epochs": epochs, "batch_size": batch, "seed": seed}
                for row in rows:
                    if row == "scratch":
                        torch.manual_seed(seed)
                        adapter = build("dcgan", image_size=IMG, channels=1)
                        tasks.fit(adapter, resolve_data("digits:5-9", seed=seed), img_size=IMG, device="cpu", amp=None, lr=None,
                             max_minutes=None, progress=False, **common)  # fmt: skip
                    else:
                        n = 0 if row.startswith("fine-tune") else int(row.split()[-1].rstrip(")"))
                        out = tmp / f"{seed}-{k}-{n}"
                        tasks.adapt("dcgan", weights=str(src), freeze_d=n, data="digits:5-9", out=out, progress=False, **common)
                        adapter = tasks.load_gan("dcgan", out)
                    score((k, row), draw(adapter, len(held)), held, seed)
    seconds = time.perf_counter() - t0
    cmd = "nice python benchmarks/freezed.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    lines = [
        "# FreezeD: adapting a digits-0-4 DCGAN to a few images of digits 5-9",
        "",
        f"Recorded {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with `{cmd}` ({seconds / 60:.0f} min, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads, CPU shared with other jobs).",
        "",
        f"Source: DCGAN 16x16 (zoo defaults) trained {args.source_epochs} epochs on digits 0-4 (`zoo train dcgan --data "
        f"digits:0-4`). Target: K images per class of digits 5-9 (5K images, the seed's few-shot split), "
        f"{args.target_steps} steps of batch {batch} for every route. FID/KID between the held-out real 5-9 digits "
        "(every 5-9 digit but the 5K training images) and as many samples, in the penultimate-feature space of a zoo "
        "ResNet-18 trained on all the digits (`benchmarks/gans.py`'s measure); lower is better. 'Read as 5-9': samples "
        f"the classifier assigns to a target digit. Mean ± sd over seeds 0..{args.seeds - 1}.",
        "",
        "| K | route | FID | KID x 100 | read as 5-9 (%) |",
        "|---:|---|---:|---:|---:|",
    ]
    verdicts = []
    for k in shots_list:
        for r in refs + rows:
            v = scores[(k, r)]
            name = f"*{r}*" if r in refs else r
            lines.append(f"| {k} | {name} | {ms(v['fid'])} | {ms(v['kid'], 2)} | {ms(v['target'])} |")
        fid = {r: statistics.mean(scores[(k, r)]["fid"]) for r in rows}
        best = min(rows, key=fid.get)
        freezed = min(rows[2:], key=fid.get)

        def wins(a: str, b: str, k: int = k) -> str:  # seeds on which route a has the lower FID than route b
            pairs = list(zip(scores[(k, a)]["fid"], scores[(k, b)]["fid"], strict=True))
            return f"{sum(x < y for x, y in pairs)} of {len(pairs)}"

        verdicts.append(
            f"K = {k}: lowest mean FID **{best}** ({fid[best]:.1f}); best FreezeD ({freezed}) {fid[freezed]:.1f} vs "
            f"fine-tune {fid[rows[1]]:.1f} vs scratch {fid[rows[0]]:.1f}. Per seed, {freezed} beats fine-tune on "
            f"{wins(freezed, rows[1])} seeds and scratch on {wins(freezed, rows[0])}; fine-tune beats scratch on "
            f"{wins(rows[1], rows[0])}. "
            + (
                "**Transfer from the source beats training from scratch on the same few images.**"
                if best != "scratch"
                else "**Negative result: training from scratch on the same few images does as well or better; "
                "the source did not help at this budget.**"
            )
        )
    notes = [
        "Notes: DCGAN's discriminator at 16 px has 3 layers (conv; conv + BatchNorm; the output conv), so "
        "`--freeze-d 2` leaves only the output convolution to learn the target. The 'read as 5-9' column shows what "
        "the routes started from the source keep of it: the fewer target digits, the more source (0-4) digits drawn. "
        "The FID floor here is far lower than any GAN's: the memorised row is the target images themselves.",
    ]
    lines += ["", *verdicts, "", *notes, "", "Log:", "", *[f"    {line}" for line in log], ""]
    if args.quick:
        lines.insert(2, "**`--quick` smoke run: not a measurement.**\n")
    atomic_write_text(args.out, "\n".join(lines))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
