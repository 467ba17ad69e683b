"""DCGAN networks and adapter: the model module of the ``dcgan`` plugin (imports torch).

The hook module :mod:`zoo.plugins.dcgan` names :class:`DCGANAdapter` by its dotted path
(:func:`zoo.pluginkit.gan_hooks`), so this module is imported only when a model is built
and ``zoo list`` never imports torch. Import the networks from here
(``from zoo.plugins.dcgan_model import Generator``).

Origin: Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", arXiv:1511.06434. The layer layout,
initialisation and losses follow the reference implementation pytorch/examples
``dcgan/main.py`` (BSD-3-Clause, commit 77f55b912142e11fcfdf5b530231fb9c52f181e8): with
the default configuration the state dicts are key-for-key those of its ``Generator``
and ``Discriminator``, so its ``netG_epoch_N.pth`` / ``netD_epoch_N.pth`` files load
strictly (:meth:`DCGANAdapter.load_reference_state_dict`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.models.adapters import Step
from zoo.models.gan import GANAdapter, StepContext, to_unit_range
from zoo.models.gan_steps import adversarial_steps
from zoo.registry.spec import ModelSpec

__all__ = ["DCGANAdapter", "Discriminator", "Generator", "infer_reference_config", "weights_init"]


def _num_upsamplings(image_size: int) -> int:
    """Stride-2 layers between 4x4 and ``image_size`` (power of two >= 16): 64 -> 4."""
    n = image_size.bit_length() - 3  # log2(image_size) - 2
    if image_size < 16 or image_size & (image_size - 1) or n < 2:
        raise ZooError(f"DCGAN image_size must be a power of two >= 16 (16, 32, 64, 128, ...), got {image_size}", exit_code=2)
    return n


def weights_init(m: nn.Module) -> None:
    """DCGAN initialisation of one module, for ``model.apply(weights_init)``.

    Convolutions (``Conv*``): weight ~ N(0, 0.02). Batch norms: weight ~ N(1, 0.02),
    bias = 0. Other modules are left alone. Draws from torch's global RNG, so
    ``torch.manual_seed`` before building makes the weights reproducible.

    Source: Radford et al. 2016, section 4 ("All weights were initialized from a
    zero-centered Normal distribution with standard deviation 0.02"); the code is
    pytorch/examples ``dcgan/main.py`` ``weights_init``.
    """
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """DCGAN generator: latent noise to an image through transposed convolutions.

    ``main`` is an ``nn.Sequential`` of a 4x4 ``ConvTranspose2d(latent_dim, ngf * 2**(n-1),
    4, 1, 0)`` projection, then ``n - 1`` blocks ``ConvTranspose2d(4, 2, 1) + BatchNorm2d +
    ReLU`` halving the width and doubling the resolution, then ``ConvTranspose2d(ngf,
    channels, 4, 2, 1)`` and ``Tanh``, where ``n = log2(image_size) - 2``. All convolutions
    have ``bias=False``. With the defaults (64x64, 3 channels, latent 100, ngf 64) the
    ``state_dict`` is exactly pytorch/examples' ``Generator`` (25 entries, 3,576,704
    parameters); 32x32 has one block fewer, 128x128 one more.

    Args:
        latent_dim: length of the noise vector ``z`` (pytorch/examples ``nz``).
        ngf: width of the last hidden layer; earlier layers are multiples of it.
        channels: image channels (pytorch/examples ``nc``).
        image_size: output height and width, a power of two >= 16.

    Forward:
        ``z``: ``(N, latent_dim, 1, 1)`` (or ``(N, latent_dim)``) float tensor, usually
        ``N(0, 1)``. Returns ``(N, channels, image_size, image_size)`` of the same dtype,
        in ``[-1, 1]`` (tanh).

    Raises:
        ZooError: ``image_size`` is not a power of two >= 16.

    Source: pytorch/examples ``dcgan/main.py`` ``Generator`` (BSD-3-Clause), generalised
    over image size and channels as in Radford et al. 2016, figure 1.
    """

    def __init__(self, latent_dim: int = 100, ngf: int = 64, channels: int = 3, image_size: int = 64) -> None:
        super().__init__()
        n = _num_upsamplings(image_size)
        self.latent_dim, self.ngf, self.channels, self.image_size = latent_dim, ngf, channels, image_size
        width = ngf * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(weights_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, latent_dim, 1, 1)`` noise -> ``(N, channels, S, S)`` image in ``[-1, 1]``."""
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.main(z)


class Discriminator(nn.Module):
    """DCGAN discriminator: an image to the probability that it is real.

    ``main`` is an ``nn.Sequential`` of ``Conv2d(channels, ndf, 4, 2, 1) + LeakyReLU(0.2)``,
    ``n - 1`` blocks ``Conv2d(4, 2, 1) + BatchNorm2d + LeakyReLU(0.2)`` doubling the width
    and halving the resolution down to 4x4, then ``Conv2d(ndf * 2**(n-1), 1, 4, 1, 0)`` and
    ``Sigmoid``, where ``n = log2(image_size) - 2``. All convolutions have ``bias=False``.
    With the defaults the ``state_dict`` is exactly pytorch/examples' ``Discriminator``
    (20 entries, 2,765,568 parameters).

    Args:
        ndf: width of the first layer; later layers are multiples of it.
        channels: image channels.
        image_size: input height and width, a power of two >= 16.

    Forward:
        ``x``: ``(N, channels, image_size, image_size)`` float tensor in ``[-1, 1]``.
        Returns ``(N,)`` probabilities in ``(0, 1)`` of the same dtype
        (``output.view(-1, 1).squeeze(1)`` as in pytorch/examples).
        ``forward(x, logits=True)`` returns the scores before the sigmoid instead, for
        numerically stable (and autocast-safe) losses.

    Raises:
        ZooError: ``image_size`` is not a power of two >= 16.

    Source: pytorch/examples ``dcgan/main.py`` ``Discriminator`` (BSD-3-Clause).
    """

    def __init__(self, ndf: int = 64, channels: int = 3, image_size: int = 64) -> None:
        super().__init__()
        n = _num_upsamplings(image_size)
        self.ndf, self.channels, self.image_size = ndf, channels, image_size
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        width = ndf
        for _ in range(n - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, inplace=True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)
        self.apply(weights_init)

    def forward(self, x: torch.Tensor, *, logits: bool = False) -> torch.Tensor:
        """``(N, C, S, S)`` images -> ``(N,)`` probabilities of being real (``logits=True``:
        the scores before the final sigmoid)."""
        layers = list(self.main)
        for layer in layers[:-1]:
            x = layer(x)
        if not logits:
            x = layers[-1](x)
        return x.view(-1, 1).squeeze(1)


def _strip_prefix(sd: Mapping[str, torch.Tensor], prefix: str) -> Mapping[str, torch.Tensor]:
    if sd and all(k.startswith(prefix) for k in sd):
        return OrderedDict((k[len(prefix) :], v) for k, v in sd.items())
    return sd


def infer_reference_config(
    generator_sd: Mapping[str, torch.Tensor] | None = None, discriminator_sd: Mapping[str, torch.Tensor] | None = None
) -> dict[str, int]:
    """Guess the build options of pytorch/examples-layout DCGAN state dicts.

    Reads only weight shapes: the generator's first ``ConvTranspose2d`` is ``(latent_dim,
    ngf * 2**(n-1), 4, 4)`` and its last is ``(ngf, channels, 4, 4)``; the discriminator's
    first ``Conv2d`` is ``(ndf, channels, 4, 4)``; ``n + 1`` convolutions make
    ``image_size = 4 * 2**n``. Useful to rebuild a model for a ``netG_epoch_N.pth`` trained
    with other settings (for example ``--dataset mnist``, one channel).

    Args:
        generator_sd, discriminator_sd: state dicts (``{key: tensor}``), either may be
            ``None``; a common ``module.`` prefix is ignored.

    Returns:
        A subset of ``{"image_size", "channels", "latent_dim", "ngf", "ndf"}`` (ints).

    Raises:
        ZooError: a dict does not have the pytorch/examples ``main.<i>.weight`` layout.
    """
    cfg: dict[str, int] = {}
    for part, sd in (("generator", generator_sd), ("discriminator", discriminator_sd)):
        if sd is None:
            continue
        sd = _strip_prefix(sd, "module.")
        convs = sorted(
            (int(k.split(".")[1]), v)
            for k, v in sd.items()
            if k.startswith("main.") and k.split(".")[1].isdigit() and k.endswith(".weight") and getattr(v, "dim", lambda: 0)() == 4
        )
        if len(convs) < 3:
            raise ZooError(
                f"the {part} state dict does not have the pytorch/examples DCGAN layout (main.<i>.weight convolutions); keys start with {list(sd)[:3]}"
            )
        n = len(convs) - 1
        first, last = convs[0][1].shape, convs[-1][1].shape
        if part == "generator":
            found = {"latent_dim": int(first[0]), "ngf": int(last[0]), "channels": int(last[1])}
            consistent = first[1] == found["ngf"] * 2 ** (n - 1)
        else:
            found = {"ndf": int(first[0]), "channels": int(first[1])}
            consistent = last[0] == 1 and last[1] == found["ndf"] * 2 ** (n - 1)
        indices = [int(k.split(".")[1]) for k in sd if k.startswith("main.") and k.split(".")[1].isdigit()]
        consistent = consistent and max(indices) == convs[-1][0]  # ends with a convolution
        if not consistent:
            raise ZooError(
                f"the {part} state dict does not have the pytorch/examples DCGAN layout (its layer widths do not double per block)"
            )
        cfg.update(image_size=4 * 2**n, **found)
    return cfg


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
        """Load pytorch/examples ``dcgan/main.py`` checkpoints, strictly.

        pytorch/examples publishes no weights; its script saves plain state dicts
        ``netG_epoch_N.pth`` / ``netD_epoch_N.pth``. Read them with
        ``torch.load(path, map_location="cpu", weights_only=True)`` and pass the dicts here.
        Keys are ``main.<i>.*`` (no ``module.`` prefix; a common ``module.`` prefix from a
        ``DataParallel`` wrapper is stripped). Dicts without ``num_batches_tracked`` (old
        PyTorch) load too. Tensors are copied into the adapter's parameters (dtype and
        device of the adapter).

        Args:
            generator_sd: the generator's state dict, or ``None`` to leave it.
            discriminator_sd: the discriminator's state dict, or ``None`` to leave it.

        Raises:
            ZooError: missing, unexpected or mis-shaped keys; the message gives the build
                options the checkpoint needs when they can be inferred.
        """
        for part, sd, module in (("generator", generator_sd, self.generator), ("discriminator", discriminator_sd, self.discriminator)):
            if sd is None:
                continue
            sd = _strip_prefix(sd, "module.")
            try:
                module.load_state_dict(sd, strict=True)
            except RuntimeError as exc:
                try:
                    need = infer_reference_config(**{f"{part}_sd": sd})
                except ZooError:
                    need = {}
                have = {
                    "image_size": self.image_size,
                    "channels": self.channels,
                    "latent_dim": self.latent_dim,
                    "ngf": self.ngf,
                    "ndf": self.ndf,
                }
                diff = {k: v for k, v in need.items() if have.get(k) != v}
                hint = (
                    "; the checkpoint needs " + ", ".join(f"{k}={v}" for k, v in diff.items()) + " (rebuild with those options)"
                    if diff
                    else ""
                )
                lines = str(exc).strip().splitlines()
                detail = " ".join(line.strip() for line in lines[1:] or lines)
                detail = detail if len(detail) <= 300 else detail[:297] + "..."
                raise ZooError(f"the {part} state dict does not match {self.spec.name} as built{hint}: {detail}") from exc

    def config(self) -> dict[str, Any]:
        """Build options that rebuild this model: ``latent_dim``, ``image_size``, ``channels``, ``ngf``, ``ndf``."""
        return {**super().config(), "ngf": self.ngf, "ndf": self.ndf}
