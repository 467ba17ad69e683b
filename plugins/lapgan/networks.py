"""LAPGAN's networks and the Laplacian-pyramid operations they work on (imports torch).

Origin: Denton, Chintala, Szlam & Fergus 2015, "Deep Generative Image Models using a
Laplacian Pyramid of Adversarial Networks", arXiv:1506.05751 (cited below as "the paper").
Reference implementation: facebook/eyescream (Torch/Lua, BSD-3-Clause, commit
ad6f484dda9bbc79724e80a35cd94225a7694de9), cited as "eyescream": ``cifar/scripts/train_cifar.lua``
(the fully connected coarsest GAN) and ``cifar/scripts/train_cifar_coarse_to_fine.lua`` (the
conditional conv GANs of the finer levels).

Levels are indexed as in the paper: level 0 is the finest (``image_size`` pixels), level
``K = levels - 1`` the coarsest (``image_size / 2**K``). The data pyramid is
``I_0 = x``, ``I_{k+1} = down(I_k)``, ``l_k = up(I_{k+1})``, ``h_k = I_k - l_k`` (the paper's "Approach" section),
so ``I_k = l_k + h_k`` exactly. Sampling runs it backwards: ``I_K = G_K(z_K)``, then
``I_k = up(I_{k+1}) + G_k(z_k, up(I_{k+1}))``.

* ``down`` is 2x2 average pooling: the paper's "blur and decimate" ``d(.)`` with the
  simplest (box) blur. eyescream uses ``image.scale`` (bilinear) for both directions.
* ``up`` is bilinear upsampling by 2 (``align_corners=False``), as eyescream's ``image.scale``
  (default mode ``bilinear``); the same function serves the data pyramid and sampling.

The hook module :mod:`zoo.plugins.lapgan` never imports this module.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from zoo.errors import ZooError

__all__ = [
    "BaseDiscriminator",
    "BaseGenerator",
    "LaplacianPyramidGenerator",
    "LevelDiscriminator",
    "LevelGenerator",
    "downsample",
    "gaussian_pyramid",
    "laplacian_pyramid",
    "reconstruct",
    "upsample",
]


# -- pyramid operations ---------------------------------------------------------------


def downsample(x: torch.Tensor) -> torch.Tensor:
    """The paper's ``d(.)``: 2x2 average pooling, ``(N, C, H, W)`` -> ``(N, C, H/2, W/2)``, same dtype.

    ``H`` and ``W`` must be even (the adapter's build options guarantee it)."""
    return F.avg_pool2d(x, 2)


def upsample(x: torch.Tensor) -> torch.Tensor:
    """The paper's ``u(.)``: bilinear upsampling by 2 (``align_corners=False``, as eyescream's
    ``image.scale``), ``(N, C, H, W)`` -> ``(N, C, 2H, 2W)``, same dtype."""
    return F.interpolate(x, size=(2 * x.shape[-2], 2 * x.shape[-1]), mode="bilinear", align_corners=False)


def gaussian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``[I_0, ..., I_K]``, finest first: ``I_0 = x``, ``I_{k+1} = downsample(I_k)``, ``K = levels - 1``.

    Args:
        x: ``(N, C, S, S)`` float images, ``S`` divisible by ``2**(levels - 1)``.
        levels: number of levels, >= 1.
    """
    out = [x]
    for _ in range(levels - 1):
        out.append(downsample(out[-1]))
    return out


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``[h_0, ..., h_{K-1}, I_K]``: the band-pass residuals ``h_k = I_k - upsample(I_{k+1})``
    (``(N, C, S/2**k, S/2**k)``, finest first) and the low-pass image ``I_K`` (the paper's "Approach" section).

    Args:
        x: ``(N, C, S, S)`` float images, ``S`` divisible by ``2**(levels - 1)``.
        levels: number of levels, >= 1.
    """
    gauss = gaussian_pyramid(x, levels)
    return [gauss[k] - upsample(gauss[k + 1]) for k in range(levels - 1)] + [gauss[-1]]


def reconstruct(pyramid: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of :func:`laplacian_pyramid` : ``I_k = upsample(I_{k+1}) + h_k`` from
    the coarsest up; returns ``I_0`` ``(N, C, S, S)`` (equal to the input up to float rounding)."""
    image = pyramid[-1]
    for h in reversed(pyramid[:-1]):
        image = upsample(image) + h
    return image


# -- networks -------------------------------------------------------------------------


class BaseGenerator(nn.Module):
    """Generator of the coarsest level ``G_K``: noise to an ``s x s`` image, fully connected.

    ``main``: ``Linear(latent_dim, hidden) + BatchNorm1d + ReLU + Linear(hidden, hidden) +
    BatchNorm1d + ReLU + Linear(hidden, C*s*s) + Tanh``: the paper's "densely connected nets
    ... with 2 hidden layers and ReLU non-linearities" ("Model Architecture & Training"; eyescream
    ``cifar/scripts/train_cifar.lua`` ``model_G``, which ends in a linear layer because its
    data are standardised; the tanh here matches zoo's ``[-1, 1]`` images), with batch
    normalisation added after each hidden layer (the hidden ``Linear`` has no bias), as
    eyescream's LSUN generators (``lsun/model.lua``) and DCGAN's have. Measured on the
    digits' 4x4 level (1,500 Adam steps, lr 2e-4, batch 64, one seed): without it the
    generator collapsed (mean distance from a real image to its nearest of 512 samples
    1.32, the data mean scores 1.17), with it 0.67 (real to real: 0.50).
    PyTorch's default initialisation of ``Linear`` equals Torch7's reset (uniform
    ``+-1/sqrt(fan_in)``).

    Forward: ``z`` ``(N, latent_dim)`` (or ``(N, latent_dim, 1, 1)``) float, uniform in
    ``[-1, 1]`` as in the paper -> ``(N, C, s, s)`` of the same dtype in ``[-1, 1]``.
    Sample in eval mode (batch norm's running statistics) so that each image depends on
    its own noise only.
    """

    def __init__(self, latent_dim: int, hidden: int, channels: int, size: int) -> None:
        super().__init__()
        self.channels, self.size = channels, size
        self.main = nn.Sequential(
            nn.Linear(latent_dim, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(True),
            nn.Linear(hidden, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(True),
            nn.Linear(hidden, channels * size * size),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, latent_dim)`` noise -> ``(N, C, s, s)`` image in ``[-1, 1]``."""
        return self.main(z.flatten(1)).view(-1, self.channels, self.size, self.size)


class BaseDiscriminator(nn.Module):
    """Discriminator of the coarsest level ``D_K``: an ``s x s`` image to one real/fake logit.

    ``main``: ``Flatten + Linear(C*s*s, hidden) + ReLU + Dropout(0.5) + Linear(hidden, hidden)
    + ReLU + Dropout(0.5) + Linear(hidden, 1)``: the paper's base ``D`` (2 hidden layers,
    ReLU, Dropout; "Model Architecture & Training") after eyescream ``train_cifar.lua`` ``model_D`` without its
    final ``Sigmoid`` (the loss takes logits).

    Forward: ``(N, C, s, s)`` float images -> ``(N,)`` logits of the same dtype.
    """

    def __init__(self, hidden: int, channels: int, size: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * size * size, hidden),
            nn.ReLU(True),
            nn.Dropout(0.5),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Dropout(0.5),
            nn.Linear(hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, s, s)`` images -> ``(N,)`` logits."""
        return self.main(x).view(-1)


class LevelGenerator(nn.Module):
    """Conditional generator ``G_k`` of a finer level: a noise plane and the upsampled coarser
    image to the band-pass residual ``h_k``.

    ``main``: the noise plane is a 4th "colour plane" beside ``l_k`` (the paper's "Model Architecture & Training";
    eyescream ``nn.JoinTable`` of ``{noise, cond}``), then ``Conv2d(C+1, ngf, 7) + ReLU +
    Conv2d(ngf, ngf, 7) + ReLU + Conv2d(ngf, C, 5)``, stride 1, "same" padding, linear output
    (eyescream ``cifar/scripts/train_cifar_coarse_to_fine.lua`` ``model_G``, whose
    ``SpatialConvolutionUpsample`` with factor 1 is a padded convolution). Works at any size.

    Forward: ``noise`` ``(N, 1, S, S)`` uniform in ``[-1, 1]`` and ``low`` ``(N, C, S, S)``
    -> ``h`` ``(N, C, S, S)``, float, the dtype of ``low``.
    """

    def __init__(self, channels: int, ngf: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(channels + 1, ngf, 7, padding=3),
            nn.ReLU(True),
            nn.Conv2d(ngf, ngf, 7, padding=3),
            nn.ReLU(True),
            nn.Conv2d(ngf, channels, 5, padding=2),
        )

    def forward(self, noise: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        """``(N, 1, S, S)`` noise, ``(N, C, S, S)`` low-pass -> ``(N, C, S, S)`` residual."""
        return self.main(torch.cat([noise.to(low.dtype), low], 1))


class LevelDiscriminator(nn.Module):
    """Conditional discriminator ``D_k`` of a finer level: a residual ``h_k`` given ``l_k`` to a logit.

    As in the paper ("Approach": the low-pass image "is explicitly added to h_k or h~_k before
    the first convolution layer"; eyescream ``nn.CAddTable``), the network scores
    ``h + l``. ``main``: ``Conv2d(C, ndf, 5, pad 2) + ReLU + Conv2d(ndf, ndf, 5, stride 2,
    pad 2) + ReLU + Dropout(0.5) + Linear(ndf*(S/2)**2, 1)`` (eyescream
    ``train_cifar_coarse_to_fine.lua`` ``model_D``, padded so that 8x8 inputs work, without
    its final ``Sigmoid``).

    Forward: ``h``, ``low`` ``(N, C, S, S)`` float -> ``(N,)`` logits of the same dtype.
    """

    def __init__(self, channels: int, ndf: int, size: int) -> None:
        super().__init__()
        half = (size + 1) // 2
        self.main = nn.Sequential(
            nn.Conv2d(channels, ndf, 5, padding=2),
            nn.ReLU(True),
            nn.Conv2d(ndf, ndf, 5, stride=2, padding=2),
            nn.ReLU(True),
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(ndf * half * half, 1),
        )

    def forward(self, h: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        """``(N, C, S, S)`` residual and low-pass image -> ``(N,)`` logits."""
        return self.main(h + low).view(-1)


class LaplacianPyramidGenerator(nn.Module):
    """The whole sampling pyramid as one module (what ``adapter.generator`` and ``zoo bench`` run).

    Holds references to the adapter's trained generators (the same modules, so it adds no
    parameters of its own and is not part of checkpoints): ``base`` is ``G_K``, ``levels``
    the finer ``G_{K-1}, ..., G_0``, coarse to fine.

    Forward: ``(z, noise_{K-1}, ..., noise_0)`` as :meth:`~zoo.plugins.lapgan.adapter.LAPGANAdapter.generator_inputs`
    makes them (``z`` ``(N, latent_dim)``, ``noise_k`` ``(N, 1, S_k, S_k)``) -> the finest
    image ``(N, C, S, S)``, float, unclamped (about ``[-1, 1]``): the paper's sampling recurrence.

    Raises:
        ZooError: the number of noise planes is not the number of finer levels.
    """

    def __init__(self, base: nn.Module, levels: list[nn.Module]) -> None:
        super().__init__()
        self.base = base
        self.levels = nn.ModuleList(levels)

    def forward_levels(self, z: torch.Tensor, *noise: torch.Tensor) -> list[torch.Tensor]:
        """Every level's image, coarse to fine: ``[I_K (N, C, S_K, S_K), ..., I_0 (N, C, S, S)]``."""
        if len(noise) != len(self.levels):
            raise ZooError(f"the LAPGAN pyramid takes z and {len(self.levels)} noise planes, got {len(noise)} planes")
        image = self.base(z)
        out = [image]
        for g, plane in zip(self.levels, noise, strict=True):
            low = upsample(image)
            image = low + g(plane, low)
            out.append(image)
        return out

    def forward(self, z: torch.Tensor, *noise: torch.Tensor) -> torch.Tensor:
        """``(z, noise_{K-1}, ..., noise_0)`` -> the finest image ``(N, C, S, S)``."""
        return self.forward_levels(z, *noise)[-1]
