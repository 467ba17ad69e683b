"""Vanilla GAN networks and adapter: the model module of the ``vanilla_gan`` plugin (imports torch).

The hook module :mod:`zoo.plugins.vanilla_gan` names :class:`VanillaGANAdapter` by its
dotted path (:func:`zoo.pluginkit.gan_hooks`), so this module is imported only when a
model is built. The cGAN (:mod:`zoo.plugins.cgan_model`) reuses :class:`Maxout`
from here; both take the image check, the adversarial step and the sampling helpers from
:mod:`zoo.models.gan`.

Origin: Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv:1406.2661. The
networks are the paper's MNIST model as released in goodfeli/adversarial ``mnist.yaml``
(pylearn2, BSD-3-Clause, commit 068bb0375f571f066f58ec208e72e8a9b203650e); the losses are
its ``AdversaryCost2`` (``__init__.py``) with the non-saturating generator objective of the
paper's section 3. Differences, all forced by zoo's conventions or its trainer:

* Images are in ``[-1, 1]``, so the generator's sigmoid output layer becomes ``tanh``,
  the same function rescaled: ``tanh(a) = 2 * sigmoid(2a) - 1``. The reference initialises
  that layer's bias from the data's pixel marginals (``init_sigmoid_bias_from_marginals``);
  the build sees no data, so the bias starts at 0 (mid-grey).
* The discriminator returns logits; the losses use ``binary_cross_entropy_with_logits`` in
  float32 (the same values as pylearn2's sigmoid cost, stable under autocast).
* The trainer updates the discriminator, then the generator against the updated
  discriminator (pytorch/examples ``dcgan/main.py`` order); the reference takes both
  gradients from one forward pass. The optimizer is the trainer's Adam (lr 2e-4,
  betas (0.5, 0.999)); the reference used SGD, lr 0.1 decayed by 1.000004 per step,
  momentum 0.5 rising to 0.7, batch 100. The reference's ``irange`` initialisation suits
  Adam too: on the 8x8 digits (batch 64, seed 0) 200 samples after 3,000 steps spread over
  all ten classes (nearest class mean), where PyTorch's default initialisation collapsed
  to one class at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.models.adapters import Step
from zoo.models.gan import GANAdapter, StepContext, eval_mode, to_unit_range
from zoo.models.gan_steps import adversarial_steps
from zoo.registry.spec import ModelSpec

__all__ = [
    "Discriminator",
    "Generator",
    "Maxout",
    "VanillaGANAdapter",
    "uniform_init_",
]

G_IRANGE = 0.05  # mnist.yaml: generator layers ``irange: .05``
D_IRANGE = 0.005  # mnist.yaml: discriminator layers ``irange: .005``


def uniform_init_(module: nn.Module, irange: float) -> None:
    """pylearn2's ``irange`` initialisation of every ``nn.Linear`` in ``module``:
    weights ~ U(-irange, irange), biases 0 (pylearn2 ``mlp.Linear`` / ``maxout.Maxout``
    defaults). Draws from torch's global RNG."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -irange, irange)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class Maxout(nn.Module):
    """A maxout layer (Goodfellow et al. 2013, arXiv:1302.4389): ``units`` outputs, each the
    maximum of ``pieces`` affine pieces.

    ``linear`` is ``nn.Linear(in_features, units * pieces)``; unit ``j`` is the maximum of
    outputs ``j * pieces ... j * pieces + pieces - 1``, the contiguous grouping of pylearn2's
    ``maxout.Maxout`` (``pool_stride == num_pieces``).

    Args:
        in_features: input length.
        units: output length (pylearn2 ``num_units``).
        pieces: affine pieces per unit (pylearn2 ``num_pieces``).

    Forward:
        ``(N, in_features)`` float tensor -> ``(N, units)`` of the same dtype.
    """

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_features)`` -> ``(N, units)``."""
        return self.linear(x).unflatten(-1, (self.units, self.pieces)).amax(-1)


class Generator(nn.Module):
    """Vanilla GAN generator: ``z`` -> 1200 ReLU -> 1200 ReLU -> ``C * S * S`` tanh, reshaped.

    ``main`` is ``nn.Sequential(Linear(latent_dim, 1200), ReLU, Linear(1200, 1200), ReLU,
    Linear(1200, C*S*S), Tanh)``: goodfeli/adversarial ``mnist.yaml`` layers ``h0``, ``h1``
    (``RectifiedLinear``, dim 1200) and ``y`` (``Sigmoid``, here ``tanh``; see the module
    docstring), initialised with ``irange`` 0.05. 2,503,984 parameters at 28x28x1, latent 100.

    Args:
        latent_dim: length of ``z`` (``nvis: 100``).
        channels: image channels.
        image_size: output height and width in pixels.
        hidden: width of the two hidden layers (1200).

    Forward:
        ``z``: ``(N, latent_dim)`` (or ``(N, latent_dim, 1, 1)``) float tensor, ``N(0, 1)``
        (the reference ``Generator``'s default ``noise="gaussian"``). Returns ``(N, channels,
        image_size, image_size)`` of the same dtype, in ``[-1, 1]``.
    """

    def __init__(self, latent_dim: int = 100, channels: int = 1, image_size: int = 28, hidden: int = 1200) -> None:
        super().__init__()
        self.latent_dim, self.channels, self.image_size = latent_dim, channels, image_size
        self.main = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, channels * image_size * image_size),
            nn.Tanh(),
        )
        uniform_init_(self, G_IRANGE)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, latent_dim)`` noise -> ``(N, C, S, S)`` images in ``[-1, 1]``."""
        return self.main(z.flatten(1)).view(-1, self.channels, self.image_size, self.image_size)


class Discriminator(nn.Module):
    """Vanilla GAN discriminator: an image to the logit of its being real.

    ``main`` is ``nn.Sequential(Flatten, Dropout(0.2), Maxout(C*S*S, 240, 5), Dropout(0.5),
    Maxout(240, 240, 5), Dropout(0.5), Linear(240, 1))``: goodfeli/adversarial
    ``mnist.yaml`` layers ``h0``, ``h1`` (``Maxout``, 240 units, 5 pieces) and ``y``
    (``Sigmoid``, dim 1; the sigmoid is in the loss), initialised with ``irange`` 0.005.
    The dropout is the config's ``AdversaryCost2``: input include probability 0.8 for
    ``h0`` (scale 1.25) and 0.5 for the other layers (scale 2), which is ``nn.Dropout(0.2)``
    and ``nn.Dropout(0.5)`` (inverted dropout). 1,231,441 parameters at 28x28x1.

    Args:
        channels: image channels.
        image_size: input height and width in pixels.
        units: maxout units per layer (240).
        pieces: pieces per maxout unit (5).

    Forward:
        ``x``: ``(N, channels, image_size, image_size)`` float tensor in ``[-1, 1]``.
        Returns ``(N,)`` logits of the same dtype.
    """

    def __init__(self, channels: int = 1, image_size: int = 28, units: int = 240, pieces: int = 5) -> None:
        super().__init__()
        self.channels, self.image_size = channels, image_size
        self.main = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.2),
            Maxout(channels * image_size * image_size, units, pieces),
            nn.Dropout(0.5),
            Maxout(units, units, pieces),
            nn.Dropout(0.5),
            nn.Linear(units, 1),
        )
        uniform_init_(self, D_IRANGE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, S, S)`` images -> ``(N,)`` logits."""
        return self.main(x).squeeze(1)


class VanillaGANAdapter(GANAdapter):
    """The vanilla GAN on zoo's GAN contract: networks ``generator`` and ``discriminator``.

    Args:
        spec: the model's spec.
        image_size: image height = width in pixels.
        channels: image channels.
        latent_dim: length of ``z``.

    Images inside the adapter are float32 ``(N, channels, image_size, image_size)`` in
    ``[-1, 1]``; :meth:`sample` returns ``[0, 1]``.
    """

    def __init__(self, spec: ModelSpec, *, image_size: int = 28, channels: int = 1, latent_dim: int = 100) -> None:
        super().__init__(
            spec,
            {
                "generator": Generator(latent_dim, channels, image_size),
                "discriminator": Discriminator(channels, image_size),
            },
            image_size=image_size,
            channels=channels,
            latent_dim=latent_dim,
        )

    def generator_inputs(
        self, n: int, *, generator: torch.Generator | None = None, device: Any = "cpu", condition: Any = None
    ) -> tuple[torch.Tensor]:
        """``(z,)``: ``z ~ N(0, 1)`` float32 of shape ``(n, latent_dim)`` on ``device``.

        With a ``generator`` the noise is drawn on the CPU from it (reproducible on every
        device) and moved; without one it is drawn from ``device``'s global RNG.

        Raises:
            ZooError: ``n < 1`` or a ``condition`` (the model is unconditional).
        """
        self._unconditional(condition)
        n = self.check_n(n)
        if generator is None:
            return (torch.randn(n, self.latent_dim, device=device),)
        return (torch.randn(n, self.latent_dim, generator=generator).to(device),)

    def _unconditional(self, condition: Any) -> None:
        if condition is not None:
            raise ZooError(f"{self.spec.name} is unconditional; sample it without a condition (got {condition!r})", exit_code=2)

    def training_step(self, batch: Any, ctx: StepContext) -> Iterator[Step]:
        """One iteration of Goodfellow et al. 2014, Algorithm 1 (k = 1): a discriminator step,
        then (when ``ctx.update_generator``) a generator step.

        Args:
            batch: ``images`` or ``(images, labels)``; images ``(N, C, S, S)`` float in
                ``[-1, 1]`` (labels are ignored).
            ctx: the trainer's :class:`zoo.models.gan.StepContext`.

        Yields:
            ``Step("discriminator", d_loss, {"d_loss", "d_real", "d_fake"})`` with
            ``d_loss = 0.5 * (BCE(D(x), 1) + BCE(D(G(z)), 0))`` (goodfeli/adversarial
            ``AdversaryCost2`` ``d_obj``); then ``Step("generator", g_loss, {"g_loss"})`` with
            the non-saturating ``g_loss = BCE(D(G(z)), 1)``, i.e. maximise ``log D(G(z))``
            (paper section 3; ``g_obj``). Losses are float32 scalars; logs are detached
            scalar tensors (``d_real``/``d_fake``: mean ``D`` probability on the real and
            generated batch).

        Raises:
            ZooError: the images do not have the shape the model was built for.
        """
        real = self.check_images(batch)
        (z,) = self.generator_inputs(real.shape[0], device=real.device)
        yield from adversarial_steps(self.discriminator, real, self.generator(z), ctx, d_scale=0.5)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, condition: Any = None) -> torch.Tensor:
        """Generate ``n`` images deterministically from ``seed``.

        ``z`` is drawn on the CPU from a ``torch.Generator`` seeded with ``seed`` (the
        global RNG is untouched); the generator runs in eval mode and every module's
        train/eval flag is restored afterwards.

        Returns:
            ``(n, channels, image_size, image_size)`` float32 CPU tensor in ``[0, 1]``.

        Raises:
            ZooError: ``n < 1``, or a condition was given (exit code 2).
        """
        param = next(self.generator.parameters())
        (z,) = self.generator_inputs(n, generator=torch.Generator().manual_seed(int(seed)), device=param.device, condition=condition)
        with eval_mode(self.generator):
            return to_unit_range(self.generator(z.to(param.dtype)))
