"""``LAPGANAdapter``: LAPGAN on zoo's GAN contract (training, sampling, config); imports torch.

Built by :func:`zoo.pluginkit.gan_hooks` from the hook module :mod:`zoo.plugins.lapgan` (which
checks the build options first); the networks and the pyramid operations are
:mod:`zoo.plugins.lapgan.networks`. Levels are indexed as in the paper (Denton et al. 2015,
arXiv:1506.05751): level 0 is the finest, ``K = levels - 1`` the coarsest.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.models.adapters import Step
from zoo.models.conditions import ConditionSpec
from zoo.models.gan import GANAdapter, StepContext, to_unit_range
from zoo.models.gan_steps import adversarial_steps
from zoo.plugins.lapgan import resolve_options
from zoo.plugins.lapgan.networks import (
    BaseDiscriminator,
    BaseGenerator,
    LaplacianPyramidGenerator,
    LevelDiscriminator,
    LevelGenerator,
    gaussian_pyramid,
    upsample,
)
from zoo.registry.spec import ModelSpec

__all__ = ["LAPGANAdapter"]


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
