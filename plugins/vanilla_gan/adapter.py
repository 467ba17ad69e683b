"""The vanilla GAN on zoo's GAN contract: :class:`VanillaGANAdapter` (imports torch).

The hook module :mod:`zoo.plugins.vanilla_gan` names it by its dotted path
(:func:`zoo.pluginkit.gan_hooks`), so this module is imported only when a model is built.
The image check, the adversarial step and the sampling helpers come from :mod:`zoo.models.gan`
and :mod:`zoo.models.gan_steps`.

Origin: Goodfellow et al. 2014, arXiv:1406.2661; the losses are goodfeli/adversarial
``AdversaryCost2`` (``__init__.py``) with the non-saturating generator objective of the
paper's section 3. Differences, all forced by zoo's conventions or its trainer:

* The losses use ``binary_cross_entropy_with_logits`` in float32 on the discriminator's
  logits (the same values as pylearn2's sigmoid cost, stable under autocast).
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

from zoo.errors import ZooError
from zoo.models.adapters import Step
from zoo.models.gan import GANAdapter, StepContext, eval_mode, to_unit_range
from zoo.models.gan_steps import adversarial_steps
from zoo.plugins.vanilla_gan.networks import Discriminator, Generator
from zoo.registry.spec import ModelSpec

__all__ = ["VanillaGANAdapter"]


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
