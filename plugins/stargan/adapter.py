"""StarGAN on zoo's GAN contract: :class:`StarGANAdapter` (imports torch).

The hook module :mod:`zoo.plugins.stargan` names it by its dotted path
(:func:`zoo.pluginkit.gan_hooks`) and documents the build options; this module is imported
only when a model is built. The adapter puts together the family's parts: the networks
(:mod:`~zoo.plugins.stargan.networks`), the official checkpoints and inference mode
(:mod:`~zoo.plugins.stargan.official`), the losses of ``solver.py``
(:mod:`~zoo.plugins.stargan.losses`), the ``--attr`` / ``--from`` labels
(:mod:`~zoo.plugins.stargan.conditions`), the CelebA preprocessing
(:mod:`~zoo.plugins.stargan.data`) and the grids (:mod:`~zoo.plugins.stargan.sampling`, its base class).

Reference implementation: yunjey/stargan at 94dd002 (MIT licence, Copyright (c) 2017 Yunjey
Choi): ``solver.py`` for the training iteration, the schedule and inference,
``data_loader.py`` for the preprocessing, ``main.py`` for the defaults.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo.errors import ZooError
from zoo.io.images import round_to_uint8
from zoo.io.official import check_choice
from zoo.models.adapters import Step
from zoo.models.gan import StepContext, to_unit_range
from zoo.models.optim import Schedule
from zoo.plugins.stargan import MODES, conditions
from zoo.plugins.stargan.data import CELEBA_ATTRIBUTES, as_rgb, celeba_transforms, translation_inputs
from zoo.plugins.stargan.losses import discriminator_loss, generator_loss
from zoo.plugins.stargan.networks import Discriminator, Generator
from zoo.plugins.stargan.official import load_official_pair, official_inference
from zoo.plugins.stargan.sampling import StarGANSampling
from zoo.registry.spec import ModelSpec

__all__ = ["StarGANAdapter"]


class StarGANAdapter(StarGANSampling):
    """StarGAN on zoo's GAN contract: networks ``generator`` and ``discriminator`` (with the
    auxiliary classifier: ``out_src, out_cls = D(x)``), an attribute condition, WGAN-GP.

    Training follows yunjey/stargan ``solver.py Solver.train`` (CelebA and RaFD branches):
    target labels are the batch's own labels permuted (``label_trg = label_org[randperm]``);
    the losses are :func:`zoo.plugins.stargan.losses.discriminator_loss` and, every
    ``n_critic`` = 5 iterations, :func:`~zoo.plugins.stargan.losses.generator_loss`. Adam,
    lr 1e-4 for both, betas (0.5, 0.999) (``main.py``). Schedule: the paper (section 4,
    "Training") trains at 1e-4 for the first half (10 of 20 CelebA epochs, 100 of 200 RaFD
    epochs) and decays linearly to 0 over the second half; here ``Schedule("linear_decay")``
    (constant for half the epochs, then per-iteration linear decay to 0). The official ``solver.py`` instead subtracts ``lr /
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
        attrs: label names in order (default: the released model's
            :data:`zoo.plugins.stargan.data.CELEBA_ATTRIBUTES`).
        crop_size: centre crop before resizing (178 for CelebA; 0 = none).
        lambda_cls, lambda_rec, lambda_gp: loss weights (1, 10, 10).
        official_weights: an official ``*-G.ckpt`` (or ``.safetensors``): the generator's
            configuration is read from it and it is loaded strictly
            (:func:`zoo.plugins.stargan.official.load_official_stargan`).
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
        check_choice(mode, MODES, "mode")
        generator = discriminator = None
        if official_weights is not None:
            generator, discriminator = load_official_pair(official_weights, official_discriminator)
            g_conv_dim, g_repeat_num = generator.conv_dim, generator.repeat_num
            if discriminator is not None:
                cfg = discriminator.config()
                image_size, d_conv_dim, d_repeat_num = cfg["image_size"], cfg["conv_dim"], cfg["repeat_num"]
        self.discriminator_at_hand = official_weights is None or discriminator is not None
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
            condition=conditions.stargan_condition(attrs, mode),
        )
        self.mode, self.c_dim, self.crop_size = mode, c_dim, crop_size
        self.lambda_cls, self.lambda_rec, self.lambda_gp = lambda_cls, lambda_rec, lambda_gp
        self.official_weights = official_weights
        self._fixed: tuple[torch.Tensor, torch.Tensor] | None = None  # the first training images, for sample()

    # -- preprocessing ------------------------------------------------------------------
    def transforms(self, *, img_size: int | None = None, train: bool = False, resize_only: bool = False) -> Any:
        """``torchvision.transforms.v2`` pipeline to ``(3, S, S)`` float32 in ``[-1, 1]``.

        With ``crop_size`` (CelebA): the official pipeline of yunjey/stargan
        ``data_loader.get_loader`` (:func:`zoo.plugins.stargan.data.celeba_transforms`: flip in
        training, centre crop, resize, ``[-1, 1]``; grey images become RGB). Without
        ``crop_size``, or with ``resize_only`` (built-in data such as ``digits``):
        :meth:`zoo.models.gan.GANAdapter.transforms` (resize and centre crop, no flip: a flipped
        digit is another glyph).
        """
        if not self.crop_size or resize_only:
            return super().transforms(img_size=img_size, train=train, resize_only=resize_only)
        return celeba_transforms(img_size or self.image_size, self.crop_size, train=train)

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
        """The input images' own labels ``c_org``: ``source`` (``--from`` text, a ``{name: 0/1}``
        dict or a full label) on top of the discriminator's guess (:meth:`classify`) when it is at
        hand (a trained model, or an official ``-D`` file beside the generator), else on top of
        every attribute off, with a warning (:func:`zoo.plugins.stargan.conditions.source_labels`).

        Args:
            images: ``(N, 3, image_size, image_size)`` float in ``[-1, 1]``.
            source: the images' own attributes, or ``None``.

        Returns:
            ``(N, c_dim)`` float32 CPU 0/1 labels.

        Raises:
            ZooError: an unknown attribute or a label of the wrong shape (exit code 2).
        """
        classify = (lambda: self.classify(images)) if self.discriminator_at_hand else None
        return conditions.source_labels(self.spec.name, self.condition, images.shape[0], source, classify)

    def target_labels(self, images: torch.Tensor, condition: Any, source: Any = None) -> torch.Tensor:
        """``c_trg``: the target labels of ``condition`` for these images: ``--attr`` edits applied to
        :meth:`source_labels` (hair colours exclusive), a full label, or one domain
        (:func:`zoo.plugins.stargan.conditions.target_labels`).

        Args:
            images: ``(N, 3, image_size, image_size)`` float in ``[-1, 1]``.
            condition: ``--attr`` text (``"blond"``, ``"Blond_Hair,-Male"``), a ``{name: 0/1}``
                dict, or a full ``(N, c_dim)`` / ``(c_dim,)`` 0/1 label.
            source: the images' own labels (see :meth:`source_labels`).

        Returns:
            ``(N, c_dim)`` float32 CPU 0/1 labels.

        Raises:
            ZooError: no condition, an unknown or ambiguous attribute (the valid ones are
                listed), two hair colours at once, or not exactly one domain in domain mode.
        """
        n = images.shape[0]
        return conditions.target_labels(self.spec.name, self.condition, self.mode, condition, n, lambda: self.source_labels(images, source))

    # -- translation ------------------------------------------------------------------------
    def translate(self, images: torch.Tensor, condition: Any = None, *, source: Any = None) -> torch.Tensor:
        """Translate preprocessed images to the attributes ``condition`` asks for.

        ``c_trg`` is :meth:`target_labels` (the source labels with the edits applied); the
        generator runs as the official test does
        (:func:`zoo.plugins.stargan.official.official_inference`: train mode
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
        x = translation_inputs(self.spec.name, images, self.image_size)
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
        (:func:`zoo.io.images.round_to_uint8`, the rule of torchvision 0.29.1, the fixtures'
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
            edits = conditions.parse_labels(self.condition, condition, n, "--attr")
            c = edits if isinstance(edits, torch.Tensor) else torch.tensor([self.condition.apply([0.0] * self.c_dim, edits)] * n)
        return x.to(device), c.to(device)

    # -- training -----------------------------------------------------------------------------
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
        x_real = self.check_images((as_rgb(batch[0] if isinstance(batch, (tuple, list)) else batch),))
        label_org = conditions.batch_labels(self.spec.name, batch, x_real.shape[0], x_real.device, self.mode, self.condition.names)
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
        d_loss, logs, x_fake = discriminator_loss(
            G,
            D,
            x_real,
            label_org,
            c_trg,
            mode=self.mode,
            gradient_penalty=ctx.gradient_penalty,
            lambda_cls=self.lambda_cls,
            lambda_gp=self.lambda_gp,
        )
        yield Step("discriminator", d_loss, {"d_loss": d_loss.detach(), **{k: v.detach() for k, v in logs.items()}})
        if not ctx.update_generator:
            return
        g_loss, logs = generator_loss(
            G, D, x_real, x_fake, c_org, label_trg, mode=self.mode, lambda_cls=self.lambda_cls, lambda_rec=self.lambda_rec
        )
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
