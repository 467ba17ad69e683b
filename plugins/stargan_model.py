"""StarGAN networks whose official checkpoints load exactly.

Paper:
    Yunjey Choi, Minje Choi, Munyoung Kim, Jung-Woo Ha, Sunghun Kim, Jaegul Choo,
    "StarGAN: Unified Generative Adversarial Networks for Multi-Domain Image-to-Image
    Translation", CVPR 2018, arXiv:1711.09020.

Reference implementation:
    yunjey/stargan ``model.py`` at 94dd002 (https://github.com/yunjey/stargan), MIT licence,
    Copyright (c) 2017 Yunjey Choi. Followed for the layer order, kernel sizes, strides,
    paddings, bias flags, InstanceNorm settings (``affine=True, track_running_stats=True``),
    LeakyReLU slope 0.01, the label tiling in ``Generator.forward`` and the two heads of
    ``Discriminator``; ``solver.py`` for the checkpoint names (``{iters}-G.ckpt``,
    ``{iters}-D.ckpt``, plain state dicts) and for inference, which never calls ``eval()``.
    This file is an independent re-implementation with the same module names, so the
    released ``200000-G.ckpt`` / ``200000-D.ckpt`` (CelebA 128x128, 5 attributes) load with
    ``strict=True``: 103 and 14 state-dict entries, 8,430,528 and 44,762,048 parameters.

Official inference mode: ``Solver.test()`` runs the generator in train mode, so its
InstanceNorm layers normalise with each image's own statistics; eval mode uses the stored
running statistics and gives poor images (yunjey/stargan issue #102). :func:`load_official_stargan`
returns the network in eval mode, as PyTorch convention has it; :meth:`StarGANAdapter.translate`
reproduces the official translations (:func:`official_inference`: train mode under
``torch.no_grad()``, with the running-statistics buffers, which the official code updates as a
side effect, restored afterwards).

The adapter (:class:`StarGANAdapter`: losses and schedule of ``solver.py Solver.train``, the
``--attr`` condition, the official test preprocessing) is the model module of the ``stargan``
plugin (:mod:`zoo.plugins.stargan`, which documents the build options).

This module imports torch: plugin hook modules must import it lazily, inside functions.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo.errors import ZooError, warn
from zoo.io.images import round_to_uint8
from zoo.io.official import check_choice, count_indexed, load_strict, official_kind, read_official
from zoo.models.adapters import Step
from zoo.models.conditions import NUMBER_WORDS, ConditionSpec
from zoo.models.gan import GANAdapter, StepContext, to_unit_range
from zoo.models.gan_steps import without_param_grads
from zoo.models.optim import Schedule
from zoo.registry.spec import ModelSpec

__all__ = [
    "CELEBA_ATTRIBUTES",
    "HAIR_COLOURS",
    "SYNONYMS",
    "Discriminator",
    "Generator",
    "ResidualBlock",
    "StarGANAdapter",
    "classification_loss",
    "create_labels",
    "load_official_stargan",
    "official_inference",
    "stargan_condition",
]

#: The attributes of the released CelebA models, in label order (``main.py`` ``--selected_attrs``).
CELEBA_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


def _instance_norm(channels: int) -> nn.InstanceNorm2d:
    # affine=True, track_running_stats=True as in the official code (commit 3c5aa6b made the
    # running statistics part of the state dict for the PyTorch 0.3 checkpoints).
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=True)


class ResidualBlock(nn.Module):
    """conv3x3-IN-ReLU-conv3x3-IN plus the identity, at constant width (official ``ResidualBlock``).

    Args:
        dim: channels in and out.

    Shapes: ``(N, dim, H, W)`` float32 -> ``(N, dim, H, W)``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=3, stride=1, padding=1, bias=False),
            _instance_norm(dim),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, kernel_size=3, stride=1, padding=1, bias=False),
            _instance_norm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + main(x)``: ``(N, dim, H, W)`` float32 -> same."""
        return x + self.main(x)


class Generator(nn.Module):
    """The StarGAN generator: an image and target attributes in, the translated image out.

    7x7 conv, two stride-2 4x4 convs (down), ``repeat_num`` residual blocks at
    ``4 * conv_dim`` channels, two stride-2 4x4 transposed convs (up), 7x7 conv, tanh. Every
    conv is bias-free and followed by InstanceNorm (affine, running statistics) and ReLU,
    except the last. The label is tiled over H x W and concatenated after the 3 RGB channels,
    so the first conv takes ``3 + c_dim`` channels.

    Args:
        conv_dim: channels of the first conv (64 in the released models).
        c_dim: number of attributes / domains (5 for the CelebA models).
        repeat_num: residual blocks (6).

    Shapes:
        ``forward(x, c)``: ``x`` ``(N, 3, H, W)`` float32 in [-1, 1] (H, W multiples of 4;
        128 or 256 for the released models), ``c`` ``(N, c_dim)`` float32 0/1 target
        attributes -> ``(N, 3, H, W)`` float32 in [-1, 1] (tanh).

    Source: yunjey/stargan ``model.py`` ``Generator`` (see the module docstring).
    """

    def __init__(self, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6) -> None:
        super().__init__()
        self.conv_dim, self.c_dim, self.repeat_num = conv_dim, c_dim, repeat_num
        layers: list[nn.Module] = [
            nn.Conv2d(3 + c_dim, conv_dim, kernel_size=7, stride=1, padding=3, bias=False),
            _instance_norm(conv_dim),
            nn.ReLU(inplace=True),
        ]
        dim = conv_dim
        for _ in range(2):  # down-sampling
            layers += [
                nn.Conv2d(dim, dim * 2, kernel_size=4, stride=2, padding=1, bias=False),
                _instance_norm(dim * 2),
                nn.ReLU(inplace=True),
            ]
            dim *= 2
        layers += [ResidualBlock(dim) for _ in range(repeat_num)]  # bottleneck
        for _ in range(2):  # up-sampling
            layers += [
                nn.ConvTranspose2d(dim, dim // 2, kernel_size=4, stride=2, padding=1, bias=False),
                _instance_norm(dim // 2),
                nn.ReLU(inplace=True),
            ]
            dim //= 2
        layers += [nn.Conv2d(dim, 3, kernel_size=7, stride=1, padding=3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def config(self) -> dict[str, int]:
        """The constructor arguments: ``{"conv_dim", "c_dim", "repeat_num"}``."""
        return {"conv_dim": self.conv_dim, "c_dim": self.c_dim, "repeat_num": self.repeat_num}

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Translate ``x`` to the attributes ``c``; see the class docstring for shapes.

        Raises:
            ZooError: ``c`` is not ``(N, c_dim)`` for the ``N`` of ``x``.
        """
        if c.dim() != 2 or c.shape[0] != x.shape[0] or c.shape[1] != self.c_dim:
            raise ZooError(f"the StarGAN generator takes labels of shape ({x.shape[0]}, {self.c_dim}), got {tuple(c.shape)}", exit_code=2)
        c = c.to(x.dtype)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])
        return self.main(torch.cat([x, c], dim=1))


class Discriminator(nn.Module):
    """The StarGAN discriminator: a PatchGAN critic plus an auxiliary attribute classifier.

    ``repeat_num`` stride-2 4x4 convs with bias and LeakyReLU(0.01), doubling the channels
    from ``conv_dim``; no normalisation. Two bias-free heads on the last feature map:
    ``conv1`` (3x3, 1 channel: real/fake score per patch) and ``conv2`` (kernel
    ``image_size / 2**repeat_num``, ``c_dim`` channels: attribute logits).

    Args:
        image_size: input height and width (128 for the released CelebA models, or 256).
        conv_dim: channels of the first conv (64).
        c_dim: number of attributes (5).
        repeat_num: stride-2 convs (6).

    Shapes:
        ``(N, 3, image_size, image_size)`` float32 in [-1, 1] -> ``(out_src, out_cls)``:
        ``(N, 1, image_size / 2**repeat_num, same)`` and ``(N, c_dim)`` float32 logits.

    Source: yunjey/stargan ``model.py`` ``Discriminator`` (see the module docstring).
    """

    def __init__(self, image_size: int = 128, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6) -> None:
        super().__init__()
        self.image_size, self.conv_dim, self.c_dim, self.repeat_num = image_size, conv_dim, c_dim, repeat_num
        layers: list[nn.Module] = [nn.Conv2d(3, conv_dim, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.01)]
        dim = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(dim, dim * 2, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.01)]
            dim *= 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(dim, 1, kernel_size=3, stride=1, padding=1, bias=False)
        self.conv2 = nn.Conv2d(dim, c_dim, kernel_size=image_size // 2**repeat_num, bias=False)

    def config(self) -> dict[str, int]:
        """The constructor arguments: ``{"image_size", "conv_dim", "c_dim", "repeat_num"}``."""
        return {"image_size": self.image_size, "conv_dim": self.conv_dim, "c_dim": self.c_dim, "repeat_num": self.repeat_num}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Score ``x`` and classify its attributes; see the class docstring for shapes.

        Raises:
            ZooError: ``x`` is not ``image_size`` x ``image_size``.
        """
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ZooError(
                f"this StarGAN discriminator takes {self.image_size}x{self.image_size} images, got {x.shape[-2]}x{x.shape[-1]}; resize the input",
                exit_code=2,
            )
        h = self.main(x)
        return self.conv1(h), self.conv2(h).flatten(1)


def _infer_generator(state: Mapping[str, torch.Tensor]) -> dict[str, int]:
    w = state.get("main.0.weight")
    if w is None or w.dim() != 4 or w.shape[1] <= 3:
        return {}  # not a generator: the strict load names the keys
    return {"conv_dim": w.shape[0], "c_dim": w.shape[1] - 3, "repeat_num": count_indexed(state, "main.{}.main.0.weight", 9)}


def _infer_discriminator(state: Mapping[str, torch.Tensor]) -> dict[str, int]:
    w, head = state.get("main.0.weight"), state.get("conv2.weight")
    if w is None or head is None or w.dim() != 4 or head.dim() != 4:
        return {}
    repeat_num = count_indexed(state, "main.{}.weight", step=2)  # conv, LeakyReLU, conv, ...
    return {"image_size": head.shape[-1] * 2**repeat_num, "conv_dim": w.shape[0], "c_dim": head.shape[0], "repeat_num": repeat_num}


def load_official_stargan(
    path_or_state: str | os.PathLike[str] | Mapping[str, Any],
    part: str = "G",
) -> Generator | Discriminator:
    """Load an official StarGAN checkpoint (yunjey/stargan ``200000-G.ckpt`` / ``200000-D.ckpt``).

    The configuration is read from the shapes: ``conv_dim``, ``c_dim`` (first conv's input
    channels minus 3, or the classifier's outputs) and ``repeat_num`` (residual blocks, or
    stride-2 convs), and for the discriminator ``image_size`` (classifier kernel x
    2**repeat_num). The files were saved by PyTorch 0.3 and have no ``num_batches_tracked``
    buffers; they load anyway (set to 0). Loading is ``strict=True``.

    Args:
        path_or_state: the ``.ckpt`` file (read with ``torch.load(weights_only=True)``), a
            ``.safetensors`` file, or a state dict.
        part: ``"G"`` (generator, ``*-G.ckpt``) or ``"D"`` (discriminator, ``*-D.ckpt``).

    Returns:
        :class:`Generator` or :class:`Discriminator` on the CPU, float32, in eval mode
        (the official inference runs the generator in train mode; see the module docstring).

    Raises:
        ZooError: ``part`` is not G or D; the file is missing, unreadable or pickles other
            objects than tensors; it holds another part or family (one line naming a few keys
            and what the file looks like), or shapes that do not fit (exit code 2).
    """
    check_choice(part, ("G", "D"), "part")
    state, source = read_official(path_or_state)
    if part == "G":
        model: Generator | Discriminator = Generator(**_infer_generator(state))
    else:
        model = Discriminator(**_infer_discriminator(state))
    load_strict(model, state, expected=official_kind(f"stargan.{part}"), source=source)
    return model


# -- conditions ---------------------------------------------------------------------------

#: The hair colours that ``create_labels`` keeps exclusive (yunjey/stargan ``solver.py``).
HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")

#: Common words for CelebA attributes (``-Name``: the word turns ``Name`` off). Only the pairs
#: whose attribute the model has are used.
SYNONYMS: tuple[tuple[str, str], ...] = (
    ("blond", "Blond_Hair"),
    ("blonde", "Blond_Hair"),
    ("black", "Black_Hair"),
    ("brown", "Brown_Hair"),
    ("brunette", "Brown_Hair"),
    ("gray", "Gray_Hair"),
    ("grey", "Gray_Hair"),
    ("grey_hair", "Gray_Hair"),
    ("white_hair", "Gray_Hair"),
    ("man", "Male"),
    ("men", "Male"),
    ("boy", "Male"),
    ("female", "-Male"),
    ("woman", "-Male"),
    ("women", "-Male"),
    ("girl", "-Male"),
    ("lady", "-Male"),
    ("old", "-Young"),
    ("older", "-Young"),
    ("elderly", "-Young"),
    ("aged", "-Young"),
    ("younger", "Young"),
    ("youth", "Young"),
    ("glasses", "Eyeglasses"),
    ("spectacles", "Eyeglasses"),
    ("beard", "-No_Beard"),
    ("bearded", "-No_Beard"),
    ("beardless", "No_Beard"),
    ("clean_shaven", "No_Beard"),
    ("moustache", "Mustache"),
    ("smile", "Smiling"),
    ("hat", "Wearing_Hat"),
    ("lipstick", "Wearing_Lipstick"),
    ("makeup", "Heavy_Makeup"),
    ("earrings", "Wearing_Earrings"),
    ("necklace", "Wearing_Necklace"),
    ("necktie", "Wearing_Necktie"),
    ("tie", "Wearing_Necktie"),
)


def stargan_condition(names: Sequence[str], mode: str = "attribute") -> ConditionSpec:
    """The ``--attr`` condition of a StarGAN with these label names.

    Args:
        names: attribute names (``mode="attribute"``) or domain names (``"domain"``), in label order.
        mode: ``"attribute"``: the hair colours present (:data:`HAIR_COLOURS`) form one
            exclusive group, as ``create_labels`` treats them, and :data:`SYNONYMS` whose
            attribute is present are accepted; ``"domain"``: every domain is in one exclusive
            group (one-hot labels), and digit domains accept number words (``seven`` -> ``7``).

    Returns:
        ``ConditionSpec(kind="attribute", names=..., exclusive=..., synonyms=...)``.
    """
    names = tuple(names)
    folded = {n.lower() for n in names}
    if mode == "domain":
        words = tuple((w, str(i)) for i, w in enumerate(NUMBER_WORDS) if str(i) in names and w not in folded)
        return ConditionSpec(kind="attribute", names=names, exclusive=(names,), synonyms=words)
    hair = tuple(n for n in names if n in HAIR_COLOURS)
    synonyms = tuple((w, t) for w, t in SYNONYMS if t.lstrip("-") in names and w not in folded)
    return ConditionSpec(kind="attribute", names=names, exclusive=(hair,) if hair else (), synonyms=synonyms)


def create_labels(c_org: torch.Tensor, names: Sequence[str], mode: str = "attribute") -> list[torch.Tensor]:
    """One target label per attribute / domain, as yunjey/stargan ``solver.py create_labels``.

    Attribute mode (CelebA): target ``i`` is ``c_org`` with a hair colour ``i`` set to 1 and
    the other hair colours to 0, or any other attribute ``i`` flipped. Domain mode (RaFD):
    target ``i`` is the one-hot vector of domain ``i``.

    Args:
        c_org: ``(N, c_dim)`` float 0/1 original labels.
        names: the ``c_dim`` label names.
        mode: ``"attribute"`` or ``"domain"``.

    Returns:
        ``c_dim`` tensors ``(N, c_dim)``, ``c_org``'s dtype and device.
    """
    hair = [i for i, n in enumerate(names) if n in HAIR_COLOURS]
    out = []
    for i in range(len(names)):
        if mode == "domain":
            c = torch.zeros_like(c_org)
            c[:, i] = 1
        else:
            c = c_org.clone()
            if i in hair:
                c[:, hair] = 0
                c[:, i] = 1
            else:
                c[:, i] = (c[:, i] == 0).to(c.dtype)
        out.append(c)
    return out


def classification_loss(logit: torch.Tensor, target: torch.Tensor, mode: str = "attribute") -> torch.Tensor:
    """The auxiliary classifier's loss, float32 (yunjey/stargan ``solver.py classification_loss``).

    Attribute mode: ``binary_cross_entropy_with_logits(logit, target, size_average=False) /
    N``, i.e. summed over the attributes and averaged over the batch. Domain mode:
    ``cross_entropy(logit, target)`` (mean over the batch).

    Args:
        logit: ``(N, c_dim)`` logits (any float dtype; computed in float32).
        target: ``(N, c_dim)`` float 0/1 (attribute) or ``(N,)`` int64 domain indices.
        mode: ``"attribute"`` or ``"domain"``.

    Returns:
        A scalar float32 tensor.
    """
    logit = logit.float()
    if mode == "attribute":
        return F.binary_cross_entropy_with_logits(logit, target.float(), reduction="sum") / logit.shape[0]
    return F.cross_entropy(logit, target.long())


@contextlib.contextmanager
def official_inference(generator: nn.Module) -> Iterator[None]:
    """Run ``generator`` as the official test does: train mode under ``torch.no_grad()``.

    yunjey/stargan ``solver.py``: ``build_model`` creates ``G`` (modules start in train mode),
    ``test`` calls ``restore_model`` and then ``self.G(x_real, c_trg)`` under
    ``torch.no_grad()``, never ``self.G.eval()``; the debug translations of ``train`` do the
    same. So every InstanceNorm normalises each image with its own statistics (eval mode
    would use the stored running statistics, which give poor images: yunjey/stargan issue
    #102). Unlike the official code, the running-statistics buffers (which train mode
    updates as a side effect, and which train-mode outputs never read) are restored
    afterwards, so inference leaves the model unchanged; the train/eval flags are restored too.
    """
    flags = [(m, m.training) for m in generator.modules()]
    buffers = [(b, b.detach().clone()) for b in generator.buffers()]
    generator.train()
    try:
        with torch.no_grad():
            yield
    finally:
        with torch.no_grad():
            for b, saved in buffers:
                b.copy_(saved)
        for m, flag in flags:
            m.training = flag


def _sibling_discriminator(path: str) -> Path | None:
    """``.../200000-D.ckpt`` beside ``.../200000-G.ckpt`` (same suffix), if it exists."""
    p = Path(path)
    m = re.fullmatch(r"(.*)-G(\.[A-Za-z0-9.]+)", p.name)
    if m is None:
        return None
    sibling = p.with_name(f"{m.group(1)}-D{m.group(2)}")
    return sibling if sibling.is_file() else None


# -- the adapter ----------------------------------------------------------------------------


class StarGANAdapter(GANAdapter):
    """StarGAN on zoo's GAN contract: networks ``generator`` and ``discriminator`` (with the
    auxiliary classifier: ``out_src, out_cls = D(x)``), an attribute condition, WGAN-GP.

    Training follows yunjey/stargan ``solver.py Solver.train`` (CelebA and RaFD branches):
    target labels are the batch's own labels permuted (``label_trg = label_org[randperm]``);
    the discriminator loss is ``-mean(D_src(x)) + mean(D_src(G(x, c_trg))) + lambda_cls *
    cls(D_cls(x), c_org) + lambda_gp * GP``; every ``n_critic`` = 5 iterations the generator
    loss is ``-mean(D_src(G(x, c_trg))) + lambda_cls * cls(D_cls(G(x, c_trg)), c_trg) +
    lambda_rec * mean|x - G(G(x, c_trg), c_org)|``. Adam, lr 1e-4 for both, betas (0.5,
    0.999) (``main.py``). Schedule: the paper (section 4, "Training") trains at 1e-4 for the
    first half (10 of 20 CelebA epochs, 100 of 200 RaFD epochs) and decays linearly to 0 over
    the second half; here ``Schedule("linear_decay")`` (constant for half the epochs, then
    per-iteration linear decay to 0). The official ``solver.py`` instead subtracts ``lr /
    num_iters_decay`` every ``lr_update_step`` = 1000 iterations after ``num_iters -
    num_iters_decay``: with the defaults (200,000 / 100,000 / 1,000) that is 100 decrements of
    1e-9, so its rate ends at 0.999e-4, not 0; we follow the paper's schedule, which that code
    intends.

    Args:
        spec: the model's spec.
        image_size: image height = width (128 for the released models).
        g_conv_dim, g_repeat_num: generator width and residual blocks (64, 6).
        d_conv_dim, d_repeat_num: discriminator width and stride-2 convs (64, 6).
        mode: ``"attribute"`` (multi-label, BCE) or ``"domain"`` (single-label, cross-entropy).
        attrs: label names in order (default: the released model's :data:`CELEBA_ATTRIBUTES`).
        crop_size: centre crop before resizing (178 for CelebA; 0 = none).
        lambda_cls, lambda_rec, lambda_gp: loss weights (1, 10, 10).
        official_weights: an official ``*-G.ckpt`` (or ``.safetensors``): the generator's
            configuration is read from it and it is loaded strictly (:func:`load_official_stargan`).
        official_discriminator: an official ``*-D.ckpt``; default: the ``-D`` file beside
            ``official_weights`` when there is one.

    Raises:
        ZooError: an unreadable or wrong official file (a discriminator given as the
            generator...), labels that do not fit (``c_dim`` of the file differs from the
            number of names), or a discriminator file whose ``c_dim`` differs from the generator's.
    """

    n_critic = 5  # main.py --n_critic
    schedule = Schedule("linear_decay")  # decay_after_epochs None: half the epochs (paper, section 4)
    default_lr = 1e-4  # main.py --g_lr / --d_lr
    betas = (0.5, 0.999)  # main.py --beta1 / --beta2

    def __init__(
        self,
        spec: ModelSpec,
        *,
        image_size: int = 128,
        g_conv_dim: int = 64,
        d_conv_dim: int = 64,
        g_repeat_num: int = 6,
        d_repeat_num: int = 6,
        mode: str = "attribute",
        attrs: Sequence[str] | None = None,
        crop_size: int = 178,
        lambda_cls: float = 1.0,
        lambda_rec: float = 10.0,
        lambda_gp: float = 10.0,
        official_weights: str | None = None,
        official_discriminator: str | None = None,
    ) -> None:
        check_choice(mode, ("attribute", "domain"), "mode")
        generator = discriminator = None
        self.discriminator_at_hand = True
        if official_weights is not None:
            generator = load_official_stargan(official_weights, part="G")
            g_conv_dim, g_repeat_num = generator.conv_dim, generator.repeat_num
            d_path = official_discriminator or _sibling_discriminator(official_weights)
            if d_path is not None:
                discriminator = load_official_stargan(d_path, part="D")
                if discriminator.c_dim != generator.c_dim:
                    raise ZooError(
                        f"the discriminator {d_path} has {discriminator.c_dim} labels but the generator {official_weights} "
                        f"has {generator.c_dim}; pass the files of one training run",
                        exit_code=2,
                    )
                cfg = discriminator.config()
                image_size, d_conv_dim, d_repeat_num = cfg["image_size"], cfg["conv_dim"], cfg["repeat_num"]
            else:
                self.discriminator_at_hand = False
        c_dim = generator.c_dim if generator is not None else len(attrs) if attrs is not None else len(CELEBA_ATTRIBUTES)
        if attrs is None:
            if c_dim != len(CELEBA_ATTRIBUTES):
                raise ZooError(
                    f"{official_weights} has {c_dim} labels, not the 5 CelebA attributes of the released models; "
                    f"give their names in order with {{param}}",
                    param="attrs",
                    exit_code=2,
                )
            attrs = CELEBA_ATTRIBUTES
        if len(attrs) != c_dim:
            raise ZooError(
                f"{official_weights} has {c_dim} labels but {len(attrs)} names were given ({', '.join(attrs)}); give {c_dim}",
                param="attrs",
                exit_code=2,
            )
        if generator is None:
            generator = Generator(g_conv_dim, c_dim, g_repeat_num)
        if discriminator is None:
            discriminator = Discriminator(image_size, d_conv_dim, c_dim, d_repeat_num)
        generator.train()
        discriminator.train()
        super().__init__(
            spec,
            {"generator": generator, "discriminator": discriminator},
            image_size=image_size,
            channels=3,
            condition=stargan_condition(attrs, mode),
        )
        self.mode, self.c_dim, self.crop_size = mode, c_dim, crop_size
        self.lambda_cls, self.lambda_rec, self.lambda_gp = lambda_cls, lambda_rec, lambda_gp
        self.official_weights = official_weights
        self._fixed: tuple[torch.Tensor, torch.Tensor] | None = None  # the first training images, for sample()

    # -- preprocessing ------------------------------------------------------------------
    def transforms(self, *, img_size: int | None = None, train: bool = False, resize_only: bool = False) -> Any:
        """``torchvision.transforms.v2`` pipeline to ``(3, S, S)`` float32 in ``[-1, 1]``.

        With ``crop_size`` (CelebA): yunjey/stargan ``data_loader.get_loader``:
        ``RandomHorizontalFlip`` (training only), ``CenterCrop(crop_size)``, ``Resize(S)``,
        ``ToTensor``, ``Normalize(0.5, 0.5)``; on a PIL image the crop and resize run in PIL
        (bilinear), as the official ``torchvision.transforms`` do. Grey images become RGB.
        Without ``crop_size``, or with ``resize_only`` (built-in data such as ``digits``):
        :meth:`zoo.models.gan.GANAdapter.transforms` (resize and centre crop, no flip: a flipped
        digit is another glyph).
        """
        if not self.crop_size or resize_only:
            return super().transforms(img_size=img_size, train=train, resize_only=resize_only)
        from torchvision.transforms import v2

        size = img_size or self.image_size
        ops: list[Any] = [v2.RGB()]
        if train:
            ops.append(v2.RandomHorizontalFlip())
        ops += [
            v2.CenterCrop(self.crop_size),
            v2.Resize(size, antialias=True),
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([0.5] * 3, [0.5] * 3),
        ]
        return v2.Compose(ops)

    def preprocess(self, image: Any) -> torch.Tensor:
        """One photograph for :meth:`translate`, with the official test preprocessing.

        yunjey/stargan ``data_loader.get_loader(mode='test')``: ``CenterCrop(178)``,
        ``Resize(image_size)``, ``ToTensor()``, ``Normalize((0.5,)*3, (0.5,)*3)`` (crop size
        ``crop_size``; without one, resize and centre crop). Any PIL mode is converted to RGB.

        Args:
            image: a PIL image.

        Returns:
            ``(3, image_size, image_size)`` float32 in ``[-1, 1]``.

        Raises:
            ZooError: ``image`` is not a PIL image (exit code 2).
        """
        from PIL import Image

        if not isinstance(image, Image.Image):
            raise ZooError(
                f"{self.spec.name} preprocess takes a PIL image, got {type(image).__name__}; open the file with PIL first", exit_code=2
            )
        return self.transforms(train=False)(image.convert("RGB")).as_subclass(torch.Tensor)  # a plain tensor, not a tv_tensors.Image

    # -- labels ---------------------------------------------------------------------------
    def _vector(self, value: Any, n: int, what: str) -> torch.Tensor | dict[str, float]:
        """A condition or source as given: ``(n, c_dim)`` float32 CPU tensor (a full label), or a dict of edits."""
        if isinstance(value, str):
            return self.condition.parse(value)
        if isinstance(value, dict):
            unknown = [k for k in value if k not in self.condition.names]
            if unknown:
                raise ZooError(f"unknown {what} attribute {unknown[0]!r}; valid: {', '.join(self.condition.names)}", exit_code=2)
            return {k: float(v) for k, v in value.items()}
        t = torch.as_tensor(value, dtype=torch.float32).cpu()
        if t.dim() == 1:
            t = t[None].expand(n, -1)
        if t.dim() != 2 or t.shape[1] != self.c_dim or t.shape[0] != n:
            raise ZooError(
                f"{what} labels must be ({n}, {self.c_dim}) or ({self.c_dim},) 0/1 values in the order "
                f"{', '.join(self.condition.names)}; got shape {tuple(t.shape)}",
                exit_code=2,
            )
        return t.clone()

    def classify(self, images: torch.Tensor) -> torch.Tensor:
        """The discriminator's auxiliary classifier as labels: ``out_cls > 0`` (attribute mode)
        or the one-hot arg-max (domain mode).

        Args:
            images: ``(N, 3, image_size, image_size)`` float in ``[-1, 1]``.

        Returns:
            ``(N, c_dim)`` float32 CPU 0/1 labels.
        """
        param = next(self.discriminator.parameters())
        with torch.no_grad():
            _, logits = self.discriminator(images.to(param.device, param.dtype))
        if self.mode == "domain":
            return F.one_hot(logits.argmax(1), self.c_dim).float().cpu()
        return (logits > 0).float().cpu()

    def source_labels(self, images: torch.Tensor, source: Any = None) -> torch.Tensor:
        """The input images' own labels ``c_org`` (the official test reads them from the data set).

        Args:
            images: ``(N, 3, image_size, image_size)`` float in ``[-1, 1]``.
            source: ``None``; ``--from`` text (``"Brown_Hair,Young"``) or a ``{name: 0/1}``
                dict: the named attributes are set on top of the default; or a full
                ``(N, c_dim)`` / ``(c_dim,)`` 0/1 label.

        The default (``None``, and the attributes ``source`` does not name) is the
        discriminator's auxiliary classifier (:meth:`classify`) when it is at hand (a
        trained model, or an official ``-D`` file beside the generator); otherwise every
        attribute off, with a one-line warning saying so (an unknown photograph has no labels).

        Returns:
            ``(N, c_dim)`` float32 CPU 0/1 labels.

        Raises:
            ZooError: an unknown attribute or a label of the wrong shape (exit code 2).
        """
        n = images.shape[0]
        given = self._vector(source, n, "--from") if source is not None else {}
        if isinstance(given, torch.Tensor):
            return given
        if self.discriminator_at_hand:
            base = self.classify(images)
        else:
            base = torch.zeros(n, self.c_dim)
            unset = [a for a in self.condition.names if a not in given]
            if unset:
                warn(
                    f"{self.spec.name}: the input's own attributes are not known (no --from, and no discriminator file beside "
                    f"the generator): assumed {', '.join(f'{a}=0' for a in unset)}; give them with --from, e.g. --from Brown_Hair,Young"
                )
        return torch.stack([torch.tensor(self.condition.apply(row.tolist(), given)) for row in base]).float()

    def target_labels(self, images: torch.Tensor, condition: Any, source: Any = None) -> torch.Tensor:
        """``c_trg``: the target labels of ``condition`` for these images.

        Args:
            images: ``(N, 3, image_size, image_size)`` float in ``[-1, 1]``.
            condition: ``--attr`` text (``"blond"``, ``"Blond_Hair,-Male"``) or a ``{name:
                0/1}`` dict: edits applied to the source labels (:meth:`source_labels`, with
                hair colours exclusive as ``create_labels``); or a full ``(N, c_dim)`` /
                ``(c_dim,)`` 0/1 label, used as it is. In domain mode the text names one
                domain, and the source is not needed.
            source: the images' own labels (see :meth:`source_labels`).

        Returns:
            ``(N, c_dim)`` float32 CPU 0/1 labels.

        Raises:
            ZooError: no condition, an unknown or ambiguous attribute (the valid ones are
                listed), two hair colours at once, or not exactly one domain in domain mode.
        """
        valid = ", ".join(self.condition.names)
        if condition is None:
            raise ZooError(f"{self.spec.name} needs a target: --attr NAME[,NAME...]; valid: {valid}", exit_code=2)
        n = images.shape[0]
        edits = self._vector(condition, n, "--attr")
        if isinstance(edits, torch.Tensor):
            return edits
        if self.mode == "domain":
            on = [k for k, v in edits.items() if v == 1.0]
            if len(on) != 1:
                raise ZooError(f"{self.spec.name} translates to one domain: --attr NAME; valid: {valid}", exit_code=2)
            return F.one_hot(torch.full((n,), self.condition.names.index(on[0])), self.c_dim).float()
        base = self.source_labels(images, source)
        return torch.stack([torch.tensor(self.condition.apply(row.tolist(), edits)) for row in base]).float()

    # -- translation ------------------------------------------------------------------------
    def _inputs(self, images: Any) -> torch.Tensor:
        if not isinstance(images, torch.Tensor) or images.dim() != 4 or not images.is_floating_point() or images.shape[0] == 0:
            got = f"shape {tuple(images.shape)} {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
            raise ZooError(
                f"{self.spec.name} translates float images (N, 3, {self.image_size}, {self.image_size}) from preprocess(), got {got}",
                exit_code=2,
            )
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)  # grey to RGB, as the official ImageFolder loader
        if tuple(images.shape[1:]) != (3, self.image_size, self.image_size):
            raise ZooError(
                f"{self.spec.name} translates images of shape (N, 3, {self.image_size}, {self.image_size}), got "
                f"{tuple(images.shape)}; use preprocess() (official test preprocessing) first",
                exit_code=2,
            )
        return images

    def translate(self, images: torch.Tensor, condition: Any = None, *, source: Any = None) -> torch.Tensor:
        """Translate preprocessed images to the attributes ``condition`` asks for.

        ``c_trg`` is :meth:`target_labels` (the source labels with the edits applied); the
        generator runs as the official test does (:func:`official_inference`: train mode
        under ``no_grad``, yunjey/stargan ``solver.py Solver.test``), and the output goes
        from ``[-1, 1]`` to ``[0, 1]`` as the official ``denorm`` (``(x + 1) / 2``, clamped).

        Args:
            images: ``(N, 3, image_size, image_size)`` float in ``[-1, 1]`` (:meth:`preprocess`);
                ``(N, 1, ...)`` grey images are repeated to RGB.
            condition: the target (see :meth:`target_labels`).
            source: the inputs' own attributes (``--from``; see :meth:`source_labels`).

        Returns:
            ``(N, 3, image_size, image_size)`` float32 CPU tensor in ``[0, 1]``.

        Raises:
            ZooError: images of another shape, or a bad condition or source (exit code 2).
        """
        x = self._inputs(images)
        c_trg = self.target_labels(x, condition, source)
        param = next(self.generator.parameters())
        with official_inference(self.generator):
            y = self.generator(x.to(param.device, param.dtype), c_trg.to(param.device, param.dtype))
        return to_unit_range(y)

    def quantise(self, images: torch.Tensor) -> torch.Tensor:
        """StarGAN's 8-bit images: rounding to the nearest level, as the official test writes them.

        yunjey/stargan ``solver.py`` at 94dd002: ``Solver.test`` (line 549) calls
        ``save_image(self.denorm(x_concat.data.cpu()), result_path, nrow=1, padding=0)``, with
        ``denorm`` (lines 123-126) ``(x + 1) / 2`` clamped to ``[0, 1]`` (:meth:`translate`
        returns exactly that), and torchvision's ``save_image`` rounds
        (:func:`zoo.models.gan.round_to_uint8`, the rule of torchvision 0.29.1, the fixtures'
        version). The official file is a JPEG (``{i}-images.jpg``), so its decoded pixels
        also carry JPEG's loss; these are the levels it encodes. Whether the torchvision of
        StarGAN's time (2018) rounded too was not checked here.

        Args:
            images: float images in ``[0, 1]``, any shape.

        Returns:
            ``uint8`` CPU tensor of the same shape.
        """
        return round_to_uint8(images)

    def generator_inputs(
        self, n: int, *, generator: torch.Generator | None = None, device: Any = "cpu", condition: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, c)`` for ``zoo bench``: ``x`` uniform in ``[-1, 1)`` float32 ``(n, 3, S, S)``
        (drawn on the CPU from ``generator``, or the global RNG) and ``c`` ``(n, c_dim)``:
        the labels of ``condition`` applied to all-off labels, or the first domain / attribute on."""
        n = self.check_n(n)
        x = torch.rand(n, 3, self.image_size, self.image_size, generator=generator) * 2 - 1
        c = torch.zeros(n, self.c_dim)
        if condition is None:
            c[:, 0] = 1
        else:
            edits = self._vector(condition, n, "--attr")
            c = edits if isinstance(edits, torch.Tensor) else torch.tensor([self.condition.apply([0.0] * self.c_dim, edits)] * n)
        return x.to(device), c.to(device)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, condition: Any = None) -> torch.Tensor:
        """The official training-time debug grid (yunjey/stargan ``solver.py``: ``x_fixed`` and
        ``create_labels``): the first training batch's images (up to 16) and their translations.

        Cells come in blocks of 8 images: a row of the 8 inputs, then one row per target
        (:func:`create_labels` of their own labels, or the one target ``condition`` asks for),
        so a grid 8 cells wide (64 samples) shows each input above its translations; the
        cells repeat when ``n`` is larger. ``seed`` orders the images (a seeded permutation).

        Returns:
            ``(n, 3, image_size, image_size)`` float32 CPU tensor in ``[0, 1]``.

        Raises:
            ZooError: ``n < 1``; a model that has not trained (StarGAN draws no noise: it
                translates images; use ``zoo sample stargan --image FILE`` or :meth:`translate`).
        """
        n = self.check_n(n)
        if self._fixed is None:
            raise ZooError(
                f"{self.spec.name} translates images rather than drawing them from noise; pass --image FILE "
                "(or call translate() on preprocess()ed images)",
                exit_code=2,
            )
        x, c_org = self._fixed
        order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(int(seed)))
        x, c_org = x[order], c_org[order]
        if condition is None:
            targets = create_labels(c_org, self.condition.names, self.mode)
        else:
            targets = [self.target_labels(x, condition, source=c_org)]
        param = next(self.generator.parameters())
        rows = [to_unit_range(x)]
        with official_inference(self.generator):
            for c in targets:
                rows.append(to_unit_range(self.generator(x.to(param.device, param.dtype), c.to(param.device, param.dtype))))
        cells = [row[i : i + 8] for i in range(0, x.shape[0], 8) for row in rows]
        flat = torch.cat(cells)
        return flat[torch.arange(n) % flat.shape[0]].contiguous()

    # -- training -----------------------------------------------------------------------------
    def _labels(self, batch: Any, n: int, device: torch.device) -> torch.Tensor:
        """The batch's labels: ``(N, c_dim)`` float 0/1 (attribute mode) or ``(N,)`` int64 (domain mode)."""
        y = batch[1] if isinstance(batch, (tuple, list)) and len(batch) >= 2 else None
        names = ", ".join(self.condition.names)
        if not isinstance(y, torch.Tensor):
            raise ZooError(
                f"{self.spec.name} trains on (images, labels) batches; give labelled data (an ImageFolder of domains, or celeba:DIR)"
            )
        if self.mode == "attribute":
            if y.dim() != 2 or y.shape != (n, self.c_dim):
                raise ZooError(
                    f"{self.spec.name} was built in attribute mode for {self.c_dim} attributes ({names}) but the labels have shape "
                    f"{tuple(y.shape)}; for class folders (one domain per image) build it with mode='domain'",
                    exit_code=2,
                )
            return y.to(device=device, dtype=torch.float32)
        if y.dim() != 1 or y.is_floating_point() or y.shape[0] != n:
            raise ZooError(
                f"{self.spec.name} was built in domain mode ({names}) but the labels have shape {tuple(y.shape)} {y.dtype}; "
                "for attribute vectors (celeba:DIR) build it with mode='attribute'",
                exit_code=2,
            )
        if y.device.type == "cpu" and (int(y.min()) < 0 or int(y.max()) >= self.c_dim):
            raise ZooError(f"domain labels must be in 0..{self.c_dim - 1} ({names}), got {int(y.min())}..{int(y.max())}", exit_code=2)
        return y.to(device=device, dtype=torch.long)

    def training_step(self, batch: Any, ctx: StepContext) -> Iterator[Step]:
        """One iteration of yunjey/stargan ``solver.py Solver.train`` (CelebA / RaFD branch).

        Args:
            batch: ``(images, labels)``: images ``(N, 3, S, S)`` (or ``(N, 1, S, S)`` grey,
                repeated to RGB) float in ``[-1, 1]``; labels ``(N, c_dim)`` float 0/1
                (attribute mode) or ``(N,)`` int64 domain indices (domain mode).
            ctx: the trainer's :class:`zoo.models.gan.StepContext` (``update_generator`` every
                ``n_critic`` = 5 iterations; the gradient penalty).

        Yields:
            ``Step("discriminator", d_loss, {"d_loss", "d_loss_real", "d_loss_fake",
            "d_loss_cls", "d_loss_gp"})``; then, when ``ctx.update_generator``,
            ``Step("generator", g_loss, {"g_loss", "g_loss_fake", "g_loss_rec",
            "g_loss_cls"})``: float32 scalar losses, logs detached (the official log names).

        Raises:
            ZooError: images of another size than built, or labels that do not fit the mode.
        """
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        if isinstance(images, torch.Tensor) and images.dim() == 4 and images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)  # grey to RGB, as the official ImageFolder loader
        x_real = self.check_images((images,))
        label_org = self._labels(batch, x_real.shape[0], x_real.device)
        if self._fixed is None:  # the official x_fixed: the first batch, for the debug grids (sample)
            c = label_org if self.mode == "attribute" else F.one_hot(label_org, self.c_dim).float()
            self._fixed = (x_real[:16].detach().float().cpu().clone(), c[:16].detach().cpu().clone())
        rand_idx = torch.randperm(x_real.shape[0]).to(x_real.device)  # generate target domain labels randomly
        label_trg = label_org[rand_idx]
        if self.mode == "attribute":
            c_org, c_trg = label_org, label_trg
        else:
            c_org, c_trg = F.one_hot(label_org, self.c_dim).float(), F.one_hot(label_trg, self.c_dim).float()
        G, D = self.generator, self.discriminator

        # 2. Train the discriminator.
        out_src, out_cls = D(x_real)
        d_loss_real = -out_src.float().mean()
        d_loss_cls = classification_loss(out_cls, label_org, self.mode)
        x_fake = G(x_real, c_trg)
        out_src, _ = D(x_fake.detach())
        d_loss_fake = out_src.float().mean()
        d_loss_gp = ctx.gradient_penalty(lambda x: D(x)[0], x_real, x_fake)
        d_loss = d_loss_real + d_loss_fake + self.lambda_cls * d_loss_cls + self.lambda_gp * d_loss_gp
        logs = {"d_loss_real": d_loss_real, "d_loss_fake": d_loss_fake, "d_loss_cls": d_loss_cls, "d_loss_gp": d_loss_gp}
        yield Step("discriminator", d_loss, {"d_loss": d_loss.detach(), **{k: v.detach() for k, v in logs.items()}})
        if not ctx.update_generator:
            return

        # 3. Train the generator (x_fake is G(x_real, c_trg) of this iteration: G has not stepped since).
        with without_param_grads(D):
            out_src, out_cls = D(x_fake)
        g_loss_fake = -out_src.float().mean()
        g_loss_cls = classification_loss(out_cls, label_trg, self.mode)
        x_reconst = G(x_fake, c_org)  # target-to-original domain
        g_loss_rec = (x_real.float() - x_reconst.float()).abs().mean()
        g_loss = g_loss_fake + self.lambda_rec * g_loss_rec + self.lambda_cls * g_loss_cls
        logs = {"g_loss_fake": g_loss_fake, "g_loss_rec": g_loss_rec, "g_loss_cls": g_loss_cls}
        yield Step("generator", g_loss, {"g_loss": g_loss.detach(), **{k: v.detach() for k, v in logs.items()}})

    def discriminator_layers(self) -> dict[str, list[list[str]]]:
        """The discriminator's layers for FreezeD (``zoo adapt stargan --freeze-d N``, Mo et al. 2020), input side first.

        ``{"discriminator": [layer, ...]}``, each layer the paths (in ``self.model``) of the
        modules that hold its parameters: the ``d_repeat_num`` stride-2 convolutions of
        ``main``, then the two heads on its output, ``conv1`` (real/fake) and ``conv2``
        (attributes), as one layer: ``d_repeat_num + 1`` layers.
        """
        main = self.discriminator.main
        convs = [[f"discriminator.main.{i}"] for i, m in enumerate(main) if isinstance(m, nn.Conv2d)]
        return {"discriminator": [*convs, ["discriminator.conv1", "discriminator.conv2"]]}

    def config(self) -> dict[str, Any]:
        """Build options that rebuild these networks without the official file (the
        checkpoint's sidecar): ``image_size``, ``channels`` (3), ``g_conv_dim``,
        ``d_conv_dim``, ``g_repeat_num``, ``d_repeat_num``, ``mode``, ``attrs``,
        ``crop_size``, ``lambda_cls``, ``lambda_rec``, ``lambda_gp``."""
        g, d = self.generator, self.discriminator
        return {
            "image_size": self.image_size,
            "channels": 3,
            "g_conv_dim": g.conv_dim,
            "d_conv_dim": d.conv_dim,
            "g_repeat_num": g.repeat_num,
            "d_repeat_num": d.repeat_num,
            "mode": self.mode,
            "attrs": list(self.condition.names),
            "crop_size": self.crop_size,
            "lambda_cls": self.lambda_cls,
            "lambda_rec": self.lambda_rec,
            "lambda_gp": self.lambda_gp,
        }
