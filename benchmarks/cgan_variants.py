"""cGAN within-class collapse: what was tried, on real digits (CPU, one seed per variant).

    python benchmarks/cgan_variants.py VARIANT EPOCHS SEED    # e.g. ms0.3 130 0

Variants (the cGAN of ``zoo.plugins.cgan`` with one change each):

* ``base``: the paper's networks, ``mode_seeking=0`` (Mirza & Osindero 2014, section 4.1).
* ``gdrop``: dropout 0.5 in the generator's joint layers (the paper mentions it).
* ``concat``: label one-hot concatenated to the input of vanilla-GAN-shaped networks.
* ``msW``: the mode-seeking regulariser of Mao et al. 2019 with weight ``W`` (``ms0.3``, ``ms1``).
* ``projW``: the paper's discriminator plus the projection term of Miyato & Koyama 2018
  (``logit += <embed(y), h(x)>``, ``h`` = the image branch's 240 maxout units), with the
  mode-seeking weight ``W`` (``proj0``, ``proj0.3``).

Each trains ``zoo train cgan --data digits --img-size 16`` for EPOCHS epochs (28 steps each
on all 1,797 digits, batch 64; the table in ``gans.md`` was recorded with 22, before GANs
trained on every image), then prints the label accuracy (1,000 samples, 100 per digit,
judged by a ResNet-18 trained on the digits), FID against half of the real digits
(``zoo.tasks.quality``), and
the within-class spread (pixel std across the 100 samples of a digit, mean over digits;
real digits: 0.165). Results are recorded in ``benchmarks/gans.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ZOO_OFFLINE", "1")
warnings.filterwarnings("ignore", message="Metric `Kernel Inception Distance` will save all extracted features")

import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import gans  # noqa: E402

import zoo.plugins.cgan.adapter as cm  # noqa: E402  (the adapter builds the networks it names: patch them here)
from zoo import tasks  # noqa: E402
from zoo.plugins.vanilla_gan.networks import Maxout  # noqa: E402
from zoo.tasks.quality import fid_kid, label_accuracy, load_classifier  # noqa: E402


class GeneratorDropout(cm.Generator):
    """The paper's generator with dropout 0.5 before both joint layers."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.main = nn.Sequential(nn.Dropout(0.5), nn.Linear(1200, 1200), nn.ReLU(), nn.Dropout(0.5), self.main[2], self.main[3])


class GeneratorConcat(nn.Module):
    """``[z, one_hot(y)]`` -> 1200 ReLU -> 1200 ReLU -> image (tanh)."""

    def __init__(self, latent_dim=100, num_classes=10, channels=1, image_size=28) -> None:
        super().__init__()
        self.latent_dim, self.num_classes, self.channels, self.image_size = latent_dim, num_classes, channels, image_size
        out = channels * image_size * image_size
        self.main = nn.Sequential(
            nn.Linear(latent_dim + num_classes, 1200), nn.ReLU(), nn.Linear(1200, 1200), nn.ReLU(), nn.Linear(1200, out), nn.Tanh()
        )

    def forward(self, z, y):
        y = cm.one_hot(y, self.num_classes).to(z.dtype)
        return self.main(torch.cat([z.flatten(1), y], 1)).view(-1, self.channels, self.image_size, self.image_size)


class DiscriminatorConcat(nn.Module):
    """``[x, one_hot(y)]`` -> maxout 240x5 -> maxout 240x5 -> logit, dropout 0.5."""

    def __init__(self, num_classes=10, channels=1, image_size=28) -> None:
        super().__init__()
        self.num_classes = num_classes
        inp = channels * image_size * image_size + num_classes
        self.main = nn.Sequential(Maxout(inp, 240, 5), nn.Dropout(0.5), Maxout(240, 240, 5), nn.Dropout(0.5), nn.Linear(240, 1))

    def forward(self, x, y):
        y = cm.one_hot(y, self.num_classes).to(x.dtype)
        return self.main(torch.cat([x.flatten(1), y], 1)).squeeze(1)


class DiscriminatorProjection(cm.Discriminator):
    """The paper's discriminator plus a projection of the image features on a class embedding
    (Miyato & Koyama 2018, "cGANs with Projection Discriminator", eq. 3)."""

    def __init__(self, num_classes=10, channels=1, image_size=28) -> None:
        super().__init__(num_classes, channels, image_size)
        self.embed = nn.Embedding(num_classes, 240)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x, y):
        y1 = cm.one_hot(y, self.num_classes).to(x.dtype)
        h = self.x_branch(x)
        out = self.main(torch.cat([h, self.y_branch(y1)], dim=1)).squeeze(1)
        return out + (y1 @ self.embed.weight * h).sum(1)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variant", help="base, gdrop, concat, msW (ms0.3, ms1) or projW (proj0, proj0.3)")
    ap.add_argument("epochs", type=int, help="cGAN training epochs (28 steps each)")
    ap.add_argument("seed", type=int, nargs="?", default=0, help="training and sampling seed (default 0)")
    args = ap.parse_args(argv)
    variant, epochs, seed = args.variant, args.epochs, args.seed
    if epochs < 1:
        ap.error(f"EPOCHS must be at least 1, got {epochs}")
    options = {"mode_seeking": 0.0}
    if variant == "gdrop":
        cm.Generator = GeneratorDropout
    elif variant == "concat":
        cm.Generator, cm.Discriminator = GeneratorConcat, DiscriminatorConcat
    elif variant.startswith("proj"):
        cm.Discriminator = DiscriminatorProjection
        options["mode_seeking"] = float(variant[4:] or 0)
    elif variant.startswith("ms"):
        options["mode_seeking"] = float(variant[2:] or 1)
    elif variant != "base":
        ap.error(f"unknown variant {variant!r}; valid: base, gdrop, concat, msW (e.g. ms0.3), projW (e.g. proj0.3)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        tasks.train("resnet18", "digits", epochs=8, img_size=32, out=tmp_path / "classifier", seed=0, progress=False)
        features, class_names = load_classifier(str(tmp_path / "classifier"))
        real, labels = gans._real_digits(16)
        a, b = gans._halves(labels)
        t = time.perf_counter()
        s = tasks.train("cgan", "digits", epochs=epochs, img_size=16, out=tmp_path / "r", seed=seed, progress=False, build_options=options)
        ad = tasks.load_gan("cgan", tmp_path / "r")
        fake = torch.cat([ad.sample(len(b) // 10 + (1 if k < len(b) % 10 else 0), seed=1000 + k, condition=k) for k in range(10)])
        imgs = torch.cat([ad.sample(100, seed=2000 + k, condition=k) for k in range(10)])
        want = torch.tensor([class_names.index(ad.condition.names[int(k)]) for k in torch.arange(10).repeat_interleave(100)])
        acc = label_accuracy(features, imgs, want)
        spread = torch.stack([imgs[k * 100 : (k + 1) * 100].std(0).mean() for k in range(10)]).mean()
        scores = fid_kid(features, real[a], fake, seed=seed)
    print(
        f"{variant} seed {seed}: steps {s['steps']} {time.perf_counter() - t:.0f}s label accuracy {acc:.3f} "
        f"FID {scores['fid']:.1f} within-class spread {spread:.3f}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
