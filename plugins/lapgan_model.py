"""LAPGAN networks, Laplacian-pyramid operations and adapter: the model module of the ``lapgan`` plugin (imports torch).

The hook module :mod:`zoo.plugins.lapgan` names :class:`LAPGANAdapter` by its dotted path
(:func:`zoo.pluginkit.gan_hooks`), so this module is imported only when a model is built.

Origin: Denton, Chintala, Szlam & Fergus 2015, "Deep Generative Image Models using a
Laplacian Pyramid of Adversarial Networks", arXiv:1506.05751 (cited below as "the paper").
Reference implementation: facebook/eyescream (Torch/Lua, BSD-3-Clause, commit
ad6f484dda9bbc79724e80a35cd94225a7694de9), cited as "eyescream".

Levels are indexed as in the paper: level 0 is the finest (``image_size`` pixels), level
``K = levels - 1`` the coarsest (``image_size / 2**K``). The data pyramid is
``I_0 = x``, ``I_{k+1} = down(I_k)``, ``l_k = up(I_{k+1})``, ``h_k = I_k - l_k`` (the paper's "Approach" section),
so ``I_k = l_k + h_k`` exactly. Sampling runs it backwards: ``I_K = G_K(z_K)``, then
``I_k = up(I_{k+1}) + G_k(z_k, up(I_{k+1}))``.

* ``down`` is 2x2 average pooling: the paper's "blur and decimate" ``d(.)`` with the
  simplest (box) blur. eyescream uses ``image.scale`` (bilinear) for both directions.
* ``up`` is bilinear upsampling by 2 (``align_corners=False``), as eyescream's ``image.scale``
  (default mode ``bilinear``); the same function serves the data pyramid and sampling.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo.errors import ZooError
from zoo.models.adapters import Step
from zoo.models.conditions import ConditionSpec
from zoo.models.gan import GANAdapter, StepContext, to_unit_range
from zoo.models.gan_steps import adversarial_steps
from zoo.plugins.lapgan import resolve_options
from zoo.registry.spec import ModelSpec

__all__ = [
    "BaseDiscriminator",
    "BaseGenerator",
    "LAPGANAdapter",
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

    Forward: ``(z, noise_{K-1}, ..., noise_0)`` as :meth:`LAPGANAdapter.generator_inputs`
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


def _uniform(shape: tuple[int, ...], *, generator: torch.Generator | None = None, device: Any = "cpu") -> torch.Tensor:
    """Float32 noise uniform in ``[-1, 1]`` (the paper's and eyescream's ``uniform(-1, 1)``)."""
    return torch.rand(shape, generator=generator, device=device).mul_(2.0).sub_(1.0)


class LAPGANAdapter(GANAdapter):
    """LAPGAN: a base GAN at the coarsest scale and a conditional GAN per finer level.

    Networks (``adapter.model``, checkpoint names): for each level ``k`` (0 = finest)
    ``generator{k}`` and ``discriminator{k}``; level ``K = levels - 1`` is the base pair
    (:class:`BaseGenerator`, :class:`BaseDiscriminator`), the others are
    :class:`LevelGenerator` / :class:`LevelDiscriminator`. One Adam per network, named as
    the network (the base class's :meth:`configure_optimizers`: lr 2e-4, betas (0.5, 0.999),
    the settings of zoo's other GAN families; the paper and eyescream use SGD, lr 0.02,
    momentum 0.5 rising to 0.7).

    ``adapter.generator`` is a :class:`LaplacianPyramidGenerator` over the trained
    generators, mapping :meth:`generator_inputs` to the final image (``zoo bench`` times
    the whole pyramid with it). ``adapter.discriminator`` is an ``nn.ModuleDict`` view of
    the per-level discriminators (there is no single one).

    Args:
        spec: the model's spec (``arch == "lapgan"``).
        image_size, channels, levels, latent_dim, base_hidden_g, base_hidden_d, ngf, ndf:
            build options, see :mod:`zoo.plugins.lapgan`.

    Raises:
        ZooError: invalid build options (:func:`zoo.plugins.lapgan.resolve_options`).
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        image_size: int = 16,
        channels: int = 1,
        levels: int = 3,
        latent_dim: int = 100,
        base_hidden_g: int = 600,
        base_hidden_d: int = 300,
        ngf: int = 64,
        ndf: int = 64,
    ) -> None:
        opts = resolve_options(
            spec,
            {
                "image_size": image_size,
                "channels": channels,
                "levels": levels,
                "latent_dim": latent_dim,
                "base_hidden_g": base_hidden_g,
                "base_hidden_d": base_hidden_d,
                "ngf": ngf,
                "ndf": ndf,
            },
        )
        self.levels = opts["levels"]
        self.base_hidden_g, self.base_hidden_d = opts["base_hidden_g"], opts["base_hidden_d"]
        self.ngf, self.ndf = opts["ngf"], opts["ndf"]
        size, c, top = opts["image_size"], opts["channels"], opts["levels"] - 1
        self.sizes = [size // 2**k for k in range(opts["levels"])]  # finest first
        networks: dict[str, nn.Module] = {}
        for k in range(top):
            networks[f"generator{k}"] = LevelGenerator(c, self.ngf)
            networks[f"discriminator{k}"] = LevelDiscriminator(c, self.ndf, self.sizes[k])
        networks[f"generator{top}"] = BaseGenerator(opts["latent_dim"], self.base_hidden_g, c, self.sizes[top])
        networks[f"discriminator{top}"] = BaseDiscriminator(self.base_hidden_d, c, self.sizes[top])
        super().__init__(spec, networks, image_size=size, channels=c, latent_dim=opts["latent_dim"], condition=ConditionSpec("none"))
        self._pyramid = LaplacianPyramidGenerator(
            self.model[f"generator{top}"], [self.model[f"generator{k}"] for k in range(top - 1, -1, -1)]
        )

    # -- networks ------------------------------------------------------------------
    @property
    def generator(self) -> LaplacianPyramidGenerator:
        """The sampling pyramid over ``generator{K}, ..., generator0`` (shares their parameters)."""
        return self._pyramid

    @property
    def discriminator(self) -> nn.ModuleDict:
        """``{"discriminator{k}": module}``, coarse to fine: a view, not registered anywhere."""
        return nn.ModuleDict({f"discriminator{k}": self.model[f"discriminator{k}"] for k in range(self.levels - 1, -1, -1)})

    # -- training ------------------------------------------------------------------
    def training_step(self, batch: Any, ctx: StepContext | None = None) -> Iterator[Step]:
        """One LAPGAN iteration: every level trained on the real data's pyramid, independently.

        The real images' pyramid is built once (float32, outside autocast, no gradient):
        ``I_k``, ``l_k = upsample(I_{k+1})``, ``h_k = I_k - l_k``. Then, coarse to fine, for
        each level ``k``, on real low-pass images only (the paper's "Approach": each level is
        trained with the CGAN approach on the training images' pyramid, and "an attempt is
        never made to train a network to discriminate between the output of a cascade and a
        real image"; eyescream trains one script per scale):

        * ``Step("discriminator{k}", d_loss, {"d_loss{k}", "d_real{k}", "d_fake{k}"})`` with
          ``d_loss = BCE(D_k(h_k, l_k), 1) + BCE(D_k(h~_k, l_k), 0)``, ``h~_k = G_k(z_k, l_k)``
          detached (base level: ``D_K(I_K)`` against ``D_K(G_K(z_K))``); ``d_real``/``d_fake``
          are the mean probabilities on real and generated batches.
        * unless ``ctx.update_generator`` is ``False`` (then ``h~_k`` is drawn without a
          graph): ``Step("generator{k}", g_loss,
          {"g_loss{k}"})``, the non-saturating ``BCE(D_k(h~_k, l_k), 1)`` (Goodfellow et al.
          2014, section 3), scored by the discriminator the trainer has just stepped, with
          the discriminator's parameters kept out of the graph.

        Losses are ``binary_cross_entropy_with_logits`` in float32; logs are detached
        scalar tensors. Noise (``z_K`` ``(N, latent_dim)``, planes ``(N, 1, S_k, S_k)``) is
        uniform in ``[-1, 1]`` from torch's global RNG on the images' device; a batch of one
        image still gets 2 base samples, as the base generator's batch norm needs them.

        Args:
            batch: ``(images, labels)`` or ``images``: ``(N, C, S, S)`` float in ``[-1, 1]``
                (labels ignored).
            ctx: the trainer's :class:`zoo.models.gan.StepContext` (default: a fresh one).

        Raises:
            ZooError: the images do not have the shape the model was built for.
        """
        ctx = ctx or StepContext()
        x = self.check_images(batch)
        n, dev, top = x.shape[0], x.device, self.levels - 1
        with torch.no_grad(), torch.autocast(device_type=dev.type, enabled=False):
            gauss = gaussian_pyramid(x.float(), self.levels)
            lows = [upsample(gauss[k + 1]) for k in range(top)]
        for k in range(top, -1, -1):
            gen, disc = self.model[f"generator{k}"], self.model[f"discriminator{k}"]
            if k == top:
                real, low = gauss[top], None
                noise = _uniform((max(n, 2), self.latent_dim), device=dev)  # batch norm needs 2 samples
            else:
                low = lows[k]
                real = gauss[k] - low
                noise = _uniform((n, 1, self.sizes[k], self.sizes[k]), device=dev)
            with torch.set_grad_enabled(ctx.update_generator and torch.is_grad_enabled()):
                fake = gen(noise) if low is None else gen(noise, low)

            def score(h: torch.Tensor, disc: nn.Module = disc, low: torch.Tensor | None = low) -> torch.Tensor:
                return disc(h) if low is None else disc(h, low)

            yield from adversarial_steps(disc, real, fake, ctx, score=score, names=(f"discriminator{k}", f"generator{k}"), suffix=str(k))

    # -- sampling ------------------------------------------------------------------
    def generator_inputs(
        self, n: int, *, generator: torch.Generator | None = None, device: Any = "cpu", condition: Any = None
    ) -> tuple[torch.Tensor, ...]:
        """Inputs of :attr:`generator` for ``n`` samples, coarse to fine: ``(z, noise_{K-1}, ..., noise_0)``.

        ``z`` is ``(n, latent_dim)``, ``noise_k`` is ``(n, 1, S_k, S_k)`` with ``S_k =
        image_size / 2**k``; float32, uniform in ``[-1, 1]`` (the paper's noise), drawn on the
        CPU from ``generator`` in that order and moved to ``device``.

        Raises:
            ZooError: ``n < 1`` or a condition was given (LAPGAN is unconditional).
        """
        self.check_n(n)
        self._check_unconditional(condition)
        z = _uniform((n, self.latent_dim), generator=generator)
        planes = [_uniform((n, 1, s, s), generator=generator) for s in reversed(self.sizes[:-1])]
        return tuple(t.to(device) for t in (z, *planes))

    def _check_unconditional(self, condition: Any) -> None:
        if condition is not None:
            raise ZooError(
                f"{self.spec.name} is unconditional; sample it without a condition (got {type(condition).__name__})", exit_code=2
            )

    @torch.no_grad()
    def sample_levels(self, n: int, *, seed: int = 0, condition: Any = None) -> list[torch.Tensor]:
        """Every pyramid level's image for ``n`` samples, coarse to fine, deterministic per ``seed``.

        The noise comes from a local ``torch.Generator`` seeded with ``seed`` (the global RNG
        is untouched); the generators run in eval mode (then back to their mode). The last
        entry is exactly :meth:`sample` with the same arguments.

        Returns:
            ``[(n, C, S_K, S_K), ..., (n, C, S, S)]`` float32 CPU tensors in ``[0, 1]``
            (16x16 default: 4x4, 8x8, 16x16).

        Raises:
            ZooError: ``n < 1`` or a condition was given.
        """
        param = next(self._pyramid.parameters())
        inputs = self.generator_inputs(n, generator=torch.Generator().manual_seed(int(seed)), device=param.device, condition=condition)
        modes = [(m, m.training) for m in self._pyramid.modules()]
        try:
            self._pyramid.eval()
            outs = self._pyramid.forward_levels(*(t.to(param.dtype) for t in inputs))
        finally:
            for m, mode in modes:
                m.training = mode
        return [to_unit_range(o) for o in outs]

    def sample(self, n: int, *, seed: int = 0, condition: Any = None) -> torch.Tensor:
        """``(n, C, S, S)`` float32 CPU images in ``[0, 1]`` from the whole pyramid, deterministic per ``seed``.

        Raises:
            ZooError: ``n < 1`` or a condition was given (LAPGAN is unconditional).
        """
        return self.sample_levels(n, seed=seed, condition=condition)[-1]

    def config(self) -> dict[str, Any]:
        """Build options that rebuild this model: ``latent_dim``,
        ``image_size``, ``channels``, ``levels``, ``base_hidden_g``, ``base_hidden_d``, ``ngf``, ``ndf``."""
        return {
            **super().config(),
            "levels": self.levels,
            "base_hidden_g": self.base_hidden_g,
            "base_hidden_d": self.base_hidden_d,
            "ngf": self.ngf,
            "ndf": self.ndf,
        }
