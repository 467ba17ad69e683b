"""DCGAN on zoo's GAN contract: :class:`DCGANAdapter`, the pytorch/examples training step (imports torch).

The hook module :mod:`zoo.plugins.dcgan` names it by its dotted path
(:func:`zoo.pluginkit.gan_hooks`), so this module is imported only when a model is built
and ``zoo list`` never imports torch. The networks are in :mod:`zoo.plugins.dcgan.networks`,
the reading of pytorch/examples checkpoints in :mod:`zoo.plugins.dcgan.official`.

Origin: Radford, Metz & Chintala 2016, arXiv:1511.06434; the losses and the order of the
updates follow the reference implementation pytorch/examples ``dcgan/main.py``
(BSD-3-Clause, commit 77f55b912142e11fcfdf5b530231fb9c52f181e8).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.models.adapters import Step
from zoo.models.gan import GANAdapter, StepContext, to_unit_range
from zoo.models.gan_steps import adversarial_steps
from zoo.plugins.dcgan.networks import Discriminator, Generator
from zoo.plugins.dcgan.official import load_reference_state_dict
from zoo.registry.spec import ModelSpec

__all__ = ["DCGANAdapter"]


class DCGANAdapter(GANAdapter):
    """DCGAN generator and discriminator with the pytorch/examples training step.

    ``adapter.model`` is ``nn.ModuleDict(generator=Generator, discriminator=Discriminator)``
    (checkpoints hold ``generator.main.*`` and ``discriminator.main.*``). Images are
    float32 ``(N, channels, image_size, image_size)`` in ``[-1, 1]`` (``Normalize(0.5,
    0.5)``); there is no condition. The learning rate is constant (the base class's
    ``Schedule("constant")``: the paper and pytorch/examples use Adam, lr 2e-4, beta1 0.5,
    without decay).

    Args:
        spec: the model's spec (plugin ``zoo.plugins.dcgan``).
        image_size: height and width in pixels, a power of two >= 16.
        channels: image channels (1 grey, 3 RGB).
        latent_dim: noise length (``nz``).
        ngf, ndf: generator / discriminator widths.

    Raises:
        ZooError: ``image_size`` is not a power of two >= 16.

    Source: Radford et al. 2016 (arXiv:1511.06434); pytorch/examples ``dcgan/main.py``.
    """

    def __init__(
        self, spec: ModelSpec, *, image_size: int = 64, channels: int = 3, latent_dim: int = 100, ngf: int = 64, ndf: int = 64
    ) -> None:
        generator = Generator(latent_dim=latent_dim, ngf=ngf, channels=channels, image_size=image_size)
        discriminator = Discriminator(ndf=ndf, channels=channels, image_size=image_size)
        super().__init__(
            spec, {"generator": generator, "discriminator": discriminator}, latent_dim=latent_dim, image_size=image_size, channels=channels
        )
        self.ngf = ngf
        self.ndf = ndf

    def training_step(self, batch: Any, ctx: StepContext | None = None) -> Iterator[Step]:
        """One DCGAN iteration: a discriminator step, then a generator step.

        Args:
            batch: ``(images, labels)`` or ``images``; images are ``(N, C, S, S)`` float
                in ``[-1, 1]``; labels are ignored.
            ctx: the trainer's :class:`zoo.models.gan.StepContext`; no generator step when
                ``ctx.update_generator`` is false. Logs are detached scalar tensors.

        Yields:
            ``Step("discriminator", d_loss, {"d_loss", "d_real", "d_fake"})``:
            ``BCE(D(x), 1) + BCE(D(G(z).detach()), 0)``; ``d_real`` and ``d_fake`` are the
            mean probabilities D(x) and D(G(z)) (pytorch/examples' ``D(x)`` and ``D(G(z))``
            before the update).
            Then ``Step("generator", g_loss, {"g_loss"})``: the non-saturating loss
            ``BCE(D(G(z)), 1)``, computed only when the trainer asks for it, i.e. against
            the discriminator it has just stepped, on the same fake batch (one ``z`` of
            size ``N`` per iteration, drawn from torch's global RNG on the images' device).

        The losses use ``binary_cross_entropy_with_logits`` on ``Discriminator(x, logits=True)``
        in float32: the same values as pytorch/examples' ``BCELoss`` on the sigmoid, but
        stable and safe under autocast. The discriminator's parameters are excluded from
        the generator step's graph, so ``g_loss.backward()`` leaves no gradients on them
        (pytorch/examples computes and then discards those). Batch-norm statistics are
        computed separately for real and fake batches, as in pytorch/examples.

        Raises:
            ZooError: the images do not have the shape the model was built for.
        """
        real = self.check_images(batch)
        n = real.shape[0]
        z = torch.randn(n, self.latent_dim, 1, 1, device=real.device)
        fake = self.generator(z)
        yield from adversarial_steps(self.discriminator, real, fake, ctx, score=lambda x: self.discriminator(x, logits=True))

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, condition: Any = None, batch_stats: bool = False) -> torch.Tensor:
        """Generate ``n`` images deterministically from ``seed``.

        ``z`` is drawn on the CPU from a local ``torch.Generator`` seeded with ``seed`` (the
        global RNG is untouched) and moved to the generator's device.

        By default the generator runs in eval mode (batch norm uses its running
        statistics), so each image depends only on its own ``z``. pytorch/examples never
        calls ``eval()`` and samples with the statistics of the sampled batch;
        ``batch_stats=True`` reproduces that (the running statistics are restored
        afterwards). Either way the adapter's train/eval flags are left as they were.

        Args:
            n: number of images, >= 1.
            seed: RNG seed of the noise.
            condition: must be ``None`` (DCGAN is unconditional).
            batch_stats: use batch statistics, as pytorch/examples does.

        Returns:
            ``(n, channels, image_size, image_size)`` float32 CPU tensor in ``[0, 1]``.

        Raises:
            ZooError: ``n < 1``, or a condition was given.
        """
        if condition is not None:
            raise ZooError(
                f"{self.spec.name} is unconditional; sample it without a condition (got {type(condition).__name__})", exit_code=2
            )
        if n < 1:
            raise ZooError(f"number of samples must be at least 1, got {n}", exit_code=2)
        if batch_stats and n < 2:
            raise ZooError("batch_stats=True needs at least 2 samples (batch-norm statistics of one image are degenerate)", exit_code=2)
        param = next(self.generator.parameters())
        (z,) = self.generator_inputs(n, generator=torch.Generator().manual_seed(int(seed)), device=param.device)
        was_training = self.generator.training
        saved = {k: v.clone() for k, v in self.generator.named_buffers()} if batch_stats else {}
        try:
            self.generator.train(batch_stats)
            out = self.generator(z.to(param.dtype))
        finally:
            self.generator.train(was_training)
            for k, v in self.generator.named_buffers():
                if k in saved:
                    v.copy_(saved[k])
        return to_unit_range(out)

    def load_reference_state_dict(
        self, generator_sd: Mapping[str, torch.Tensor] | None = None, discriminator_sd: Mapping[str, torch.Tensor] | None = None
    ) -> None:
        """Load pytorch/examples ``dcgan/main.py`` state dicts (``netG_epoch_N.pth`` /
        ``netD_epoch_N.pth``, read with ``torch.load(weights_only=True)``) strictly, either
        may be ``None``: :func:`zoo.plugins.dcgan.official.load_reference_state_dict`.

        Raises:
            ZooError: missing, unexpected or mis-shaped keys; the message gives the build
                options the checkpoint needs when they can be inferred.
        """
        load_reference_state_dict(self, generator_sd, discriminator_sd)

    def config(self) -> dict[str, Any]:
        """Build options that rebuild this model: ``latent_dim``, ``image_size``, ``channels``, ``ngf``, ``ndf``."""
        return {**super().config(), "ngf": self.ngf, "ndf": self.ndf}
