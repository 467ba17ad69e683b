"""``CycleGANAdapter``: CycleGAN on zoo's GAN contract (training, translation, config); imports torch.

Built by :func:`zoo.pluginkit.gan_hooks` from the hook module :mod:`zoo.plugins.cyclegan`, which
checks the build options first. Training follows junyanz/pytorch-CycleGAN-and-pix2pix
``models/cycle_gan_model.py``; the class docstring gives each loss and hyper-parameter, and what differs.
Sampling and the per-epoch grids are its base class's (:mod:`zoo.plugins.cyclegan.sampling`).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo.errors import ZooError
from zoo.io.images import truncate_to_uint8
from zoo.models.adapters import Step
from zoo.models.conditions import ConditionSpec
from zoo.models.gan import StepContext, eval_mode, to_unit_range
from zoo.models.gan_steps import without_param_grads
from zoo.models.optim import OptimizerConfig, Schedule
from zoo.plugins.cyclegan.data import official_transforms, parse_direction, split_domains
from zoo.plugins.cyclegan.losses import ImagePool, lsgan_loss
from zoo.plugins.cyclegan.networks import NLayerDiscriminator, ResnetGenerator, init_weights
from zoo.plugins.cyclegan.official import official_generator
from zoo.plugins.cyclegan.sampling import CycleGANSampling
from zoo.registry.spec import ModelSpec

__all__ = ["CycleGANAdapter"]


class CycleGANAdapter(CycleGANSampling):
    """CycleGAN on zoo's GAN contract: two generators, two PatchGAN discriminators, unpaired domains.

    Networks (``adapter.model``; checkpoints hold them under these names):

    * ``generator_ab``: domain A -> B (the official ``G_A``, the paper's ``G``);
      ``generator_ba``: B -> A (official ``G_B``, paper ``F``). :class:`ResnetGenerator`.
    * ``discriminator_a``: real vs translated images of domain A (official ``D_B``, paper
      ``D_X``); ``discriminator_b``: of domain B (official ``D_A``, paper ``D_Y``).
      :class:`NLayerDiscriminator` (70x70 PatchGAN at ``n_layers_d=3``).

    :attr:`generator` is ``generator_ab`` (what ``zoo bench`` runs and what translates by
    default), :attr:`discriminator` ``discriminator_b``. The direction is chosen per call:
    :meth:`translate` and :meth:`sample` take ``"AtoB"`` (default), ``"BtoA"`` or the target
    domain's name as their condition, instead of the official ``--direction`` option.

    Data: a data set with exactly two classes, the two domains: label 0 is domain A, label 1
    domain B (``--data digits:3,8``: A = "3", B = "8"; an ImageFolder with ``trainA/`` and
    ``trainB/``: A = trainA). Each batch is split by label into unpaired A and B images (the
    official ``unaligned`` data set pairs each A image with a random B image; here the
    trainer's shuffled batches hold both). A batch without images of one domain (likely
    with small batches; every batch at the official batch size 1) reuses that domain's
    images of the most recent batch that had some; before any has been seen the iteration
    yields no step (the trainer then steps nothing but the schedulers).

    One iteration (``CycleGANModel.optimize_parameters``), generators first:

    1. ``Step("generators", loss_G)`` with, in float32 (``backward_G``)::

           loss_G = LSGAN(D_b(G_ab(a)), 1) + LSGAN(D_a(G_ba(b)), 1)                  # g_ab, g_ba
                  + lambda_a * |G_ba(G_ab(a)) - a|_1 + lambda_b * |G_ab(G_ba(b)) - b|_1  # cycle_a, cycle_b
                  + lambda_identity * (lambda_b * |G_ab(b) - b|_1 + lambda_a * |G_ba(a) - a|_1)  # idt_a, idt_b

       (L1 terms are means; cycle loss: paper eq. 2-3, weight 10 in section 4; identity
       loss: paper section 5.2, official ``--lambda_identity 0.5``), with the
       discriminators' parameters out of the graph (``set_requires_grad(D, False)``);
    2. ``Step("discriminators", loss_D_a + loss_D_b)`` with ``loss_D_x = 0.5 * (LSGAN(D_x(real
       x), 1) + LSGAN(D_x(pool_x.query(fake x)), 0))`` on the images the generators produced
       in step 1 (before their update), through :class:`ImagePool` (``backward_D_basic``: the
       discriminator loss is halved "to slow down the rate at which D learns relative to G").

    Optimizers (:meth:`configure_optimizers`): one Adam over both generators
    (``"generators"``) and one over both discriminators (``"discriminators"``), lr 2e-4,
    betas (0.5, 0.999) (official ``--lr 0.0002 --beta1 0.5``). Schedule: constant, then
    linear to 0 (official ``--lr_policy linear``, ``--n_epochs 100 --n_epochs_decay 100``):
    ``Schedule("linear_decay", decay_after_epochs)``, by default half the epochs. The
    trainer steps it per iteration: during decay iteration ``k`` of ``K`` the factor is
    ``1 - k / (K + 1)``, where the official ``lambda_rule`` (stepped at the end of each epoch,
    ``train.py``) holds ``1 - e / (E + 1)`` through decay epoch ``e`` of ``E``. Both follow
    the same line; the per-iteration factor is within ``1 / (E + 1)`` of the official one
    at every iteration (1 % of the initial rate for the official ``E = 100``) and reaches
    ``1 / (K + 1)`` rather than ``1 / (E + 1)`` in the last iteration.

    Initialisation: :func:`init_weights` (normal, std 0.02) on all four networks, from
    torch's global RNG (seed it for reproducible builds). With ``official_weights``
    ``generator_ab`` is the released file instead (only A -> B generators are released, so
    ``BtoA`` is refused until the model is trained further).

    Differences from the official training, on purpose: the batch is the trainer's (the
    official batch is 1 image per domain); built-in data (``resize_only``) get no
    flip or crop augmentation (handwritten digits are not mirror-symmetric), folders get the
    official ``resize_and_crop`` + flip (:meth:`transforms`).

    Args:
        spec: the model's spec.
        image_size: training / default translation side in pixels (multiple of 4, >= 8).
        channels: image channels of both domains.
        ngf, ndf: generator / discriminator widths.
        n_blocks: residual blocks per generator (``None``: 9 at 256 px and above, else 6).
        n_layers_d: PatchGAN depth (3 = 70x70).
        use_dropout: ``Dropout(0.5)`` in the residual blocks (off for CycleGAN).
        lambda_a, lambda_b, lambda_identity: loss weights (10, 10, 0.5).
        pool_size: image history per domain (50).
        decay_after_epochs: epochs before the learning-rate decay (``None``: half the epochs).
        class_names: names of domains A and B (the data's two classes).
        official_weights: a released generator file for ``generator_ab`` (``.pth`` or the
            cached ``.safetensors``); ``channels``, ``ngf``, ``n_blocks``, ``use_dropout``
            ``None`` are then read from it.

    Raises:
        ZooError: not two class names; an official file that is missing, unreadable, not a
            CycleGAN generator (a discriminator is named as such), translates between
            different channel counts, or disagrees with an explicit ``channels``, ``ngf``,
            ``n_blocks`` or ``use_dropout`` (exit code 2 for usage errors).
    """

    schedule = Schedule("linear_decay")

    def __init__(
        self,
        spec: ModelSpec,
        *,
        image_size: int = 256,
        channels: int | None = None,
        ngf: int | None = None,
        ndf: int = 64,
        n_blocks: int | None = None,
        n_layers_d: int = 3,
        use_dropout: bool | None = None,
        lambda_a: float = 10.0,
        lambda_b: float = 10.0,
        lambda_identity: float = 0.5,
        pool_size: int = 50,
        decay_after_epochs: int | None = None,
        class_names: Sequence[str] = ("A", "B"),
        official_weights: str | os.PathLike[str] | None = None,
    ) -> None:
        names = tuple(class_names)
        if len(names) != 2:
            raise ZooError(f"{spec.name} translates between two domains; give two class names (A, B), got {len(names)}", exit_code=2)
        official = None
        if official_weights is not None:
            given = {"channels": channels, "ngf": ngf, "n_blocks": n_blocks, "use_dropout": use_dropout}
            official, found = official_generator(os.fspath(official_weights), spec.name, given)
            channels, ngf, n_blocks, use_dropout = found["channels"], found["ngf"], found["n_blocks"], found["use_dropout"]
        channels = 3 if channels is None else channels
        ngf = 64 if ngf is None else ngf
        n_blocks = (9 if image_size >= 256 else 6) if n_blocks is None else n_blocks
        use_dropout = bool(use_dropout)

        def generator() -> ResnetGenerator:
            return init_weights(ResnetGenerator(channels, channels, ngf, n_blocks, use_dropout))

        networks: dict[str, nn.Module] = {
            "generator_ab": official if official is not None else generator(),
            "generator_ba": generator(),
            "discriminator_a": init_weights(NLayerDiscriminator(channels, ndf, n_layers_d)),
            "discriminator_b": init_weights(NLayerDiscriminator(channels, ndf, n_layers_d)),
        }
        super().__init__(spec, networks, image_size=image_size, channels=channels, condition=ConditionSpec(kind="image", names=names))
        self.ngf, self.ndf, self.n_blocks, self.n_layers_d, self.use_dropout = ngf, ndf, n_blocks, n_layers_d, use_dropout
        self.lambda_a, self.lambda_b, self.lambda_identity = float(lambda_a), float(lambda_b), float(lambda_identity)
        self.pool_size = pool_size
        self.decay_after_epochs = decay_after_epochs
        self.schedule = Schedule("linear_decay", decay_after_epochs=decay_after_epochs)
        self.domains = names
        self.official_weights = None if official_weights is None else os.fspath(official_weights)
        self.pools = {"a": ImagePool(pool_size), "b": ImagePool(pool_size)}
        self._last: dict[str, torch.Tensor | None] = {"a": None, "b": None}
        self._probe: dict[str, torch.Tensor | None] = {"a": None, "b": None}

    # -- networks --------------------------------------------------------------------
    @property
    def generator(self) -> nn.Module:
        """``generator_ab`` (A -> B): what ``zoo bench`` and the default translation run."""
        return self.model["generator_ab"]

    @property
    def discriminator(self) -> nn.Module:
        """``discriminator_b``: judges the output domain of :attr:`generator`."""
        return self.model["discriminator_b"]

    def direction(self, condition: Any = None) -> str:
        """``"AtoB"`` or ``"BtoA"`` for a translate/sample condition.

        Args:
            condition: ``None`` (``"AtoB"``), ``"AtoB"`` / ``"BtoA"`` (any case), or the target
                domain's name (``"8"`` for ``--data digits:3,8`` translates 3s into 8s).

        Raises:
            ZooError: anything else; the message lists the valid values (exit code 2).
        """
        return parse_direction(condition, model=self.spec.name, domains=self.domains)

    def _net(self, direction: str) -> nn.Module:
        if direction == "BtoA" and self.official_weights is not None:
            raise ZooError(
                f"{self.official_weights} is a released A->B generator only (the official releases hold one generator per file); "
                "for B->A load the reverse file (zebra2horse for horse2zebra) or train both directions with 'zoo train'",
                exit_code=2,
            )
        return self.model["generator_ab" if direction == "AtoB" else "generator_ba"]

    # -- preprocessing ---------------------------------------------------------------
    def transforms(self, *, img_size: int | None = None, train: bool = False, resize_only: bool = False) -> Any:
        """``torchvision.transforms.v2`` pipeline to ``(channels, S, S)`` float32 in ``[-1, 1]``.

        * ``resize_only`` (built-in small data such as the digits): the base pipeline
          (resize to ``S``), no augmentation;
        * ``train``: the official training preprocessing (``--preprocess resize_and_crop
          --load_size 286 --crop_size 256``, flip on): bicubic resize to ``round(S * 286 /
          256)`` square, random crop ``S``, random horizontal flip (``data/base_dataset.py``
          ``get_transform``), from torch's global RNG;
        * otherwise the official test preprocessing, as :meth:`preprocess`

        (:func:`zoo.plugins.cyclegan.data.official_transforms`).
        """
        if resize_only:
            return super().transforms(img_size=img_size, train=train, resize_only=True)
        return official_transforms(self.channels, img_size or self.image_size, train=train)

    def preprocess(self, image: Any) -> torch.Tensor:
        """The official test preprocessing of one image (``test.py`` with ``--model test``:
        ``--preprocess resize_and_crop`` with ``load_size = crop_size = 256``, no flip).

        ``image.convert("RGB")`` (``data/single_dataset.py``), grey (``Grayscale(1)``) for a
        one-channel model, bicubic resize to ``image_size`` x ``image_size`` (the aspect ratio
        is not kept, as officially), ``ToTensor``, ``Normalize(0.5, 0.5)``.

        Args:
            image: a PIL image of any mode that converts to RGB.

        Returns:
            ``(channels, image_size, image_size)`` float32 in ``[-1, 1]``.

        Raises:
            ZooError: a model with other than 1 or 3 channels (photographs have 1 or 3).
        """
        if self.channels not in (1, 3):
            raise ZooError(f"{self.spec.name} has {self.channels} channels; preprocess() reads photographs (1 or 3 channels)", exit_code=2)
        if hasattr(image, "convert"):
            image = image.convert("RGB")
        return self.transforms(train=False)(image)

    # -- training --------------------------------------------------------------------
    def configure_optimizers(self, lr: float | None = None) -> dict[str, OptimizerConfig]:
        """``{"generators": Adam(G_ab + G_ba), "discriminators": Adam(D_a + D_b)}``, lr
        ``default_lr`` (2e-4) or ``lr``, betas (0.5, 0.999), the linear-decay schedule
        (official ``optimizer_G`` / ``optimizer_D`` over ``itertools.chain`` of both networks)."""
        rate = self.default_lr if lr is None else lr

        def adam(*names: str) -> OptimizerConfig:
            params = itertools.chain(*(self.model[n].parameters() for n in names))
            return OptimizerConfig.for_params(params, rate, algorithm="adam", betas=self.betas, schedule=self.schedule)

        return {"generators": adam("generator_ab", "generator_ba"), "discriminators": adam("discriminator_a", "discriminator_b")}

    def _domains(self, batch: Any) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Split ``(images, labels)`` into domain A (label 0) and B (label 1) images; a
        domain absent from the batch reuses its most recent images (``None`` if none yet)."""
        a, b = self.domains
        if not (isinstance(batch, (tuple, list)) and len(batch) >= 2 and isinstance(batch[1], torch.Tensor)):
            raise ZooError(
                f"{self.spec.name} trains on (images, labels) batches whose label is the domain (0 = {a}, 1 = {b}); "
                "give a data set with two classes"
            )
        images = self.check_images(batch)
        out: dict[str, torch.Tensor | None] = {}
        for key, x in zip(("a", "b"), split_domains(images, batch[1], model=self.spec.name, domains=self.domains), strict=True):
            if x.shape[0]:
                self._last[key] = x.detach()
                probe = self._probe[key]
                if probe is None or probe.shape[0] < 64:  # the images sample() translates
                    keep = x.detach().float().cpu()
                    self._probe[key] = keep[:64] if probe is None else torch.cat([probe, keep])[:64]
            last = self._last[key]
            out[key] = None if last is None else last.to(images.device)
        return out["a"], out["b"]

    def training_step(self, batch: Any, ctx: StepContext | None = None) -> Iterator[Step]:
        """One CycleGAN iteration: a generators step, then a discriminators step (see the class docstring).

        Args:
            batch: ``(images, labels)``: images ``(N, C, S, S)`` float in ``[-1, 1]``, labels
                ``(N,)`` int64 domain indices (0 = A, 1 = B).
            ctx: the trainer's :class:`zoo.models.gan.StepContext`; without ``update_generator`` the
                generators step is left out.

        Yields:
            ``Step("generators", loss_G, {"g_loss", "g_ab", "g_ba", "cycle_a", "cycle_b",
            "idt_a", "idt_b"})`` then ``Step("discriminators", loss_D, {"d_loss", "d_a",
            "d_b"})``: float32 scalar losses, detached scalar logs. Nothing while one domain
            has not been seen yet.

        Raises:
            ZooError: a batch without labels, labels other than 0 and 1, or images of
                another shape than built.
        """
        real_a, real_b = self._domains(batch)
        if real_a is None or real_b is None:
            return
        g_ab, g_ba = self.model["generator_ab"], self.model["generator_ba"]
        d_a, d_b = self.model["discriminator_a"], self.model["discriminator_b"]
        if ctx is None or ctx.update_generator:
            with without_param_grads(d_a), without_param_grads(d_b):
                fake_b, fake_a = g_ab(real_a), g_ba(real_b)
                logs = {"g_ab": lsgan_loss(d_b(fake_b), 1.0), "g_ba": lsgan_loss(d_a(fake_a), 1.0)}
                logs["cycle_a"] = F.l1_loss(g_ba(fake_b).float(), real_a.float()) * self.lambda_a
                logs["cycle_b"] = F.l1_loss(g_ab(fake_a).float(), real_b.float()) * self.lambda_b
                if self.lambda_identity > 0:
                    logs["idt_a"] = F.l1_loss(g_ab(real_b).float(), real_b.float()) * self.lambda_b * self.lambda_identity
                    logs["idt_b"] = F.l1_loss(g_ba(real_a).float(), real_a.float()) * self.lambda_a * self.lambda_identity
            loss_g = torch.stack(list(logs.values())).sum()
            yield Step("generators", loss_g, {"g_loss": loss_g.detach(), **{k: v.detach() for k, v in logs.items()}})
        else:
            with torch.no_grad():
                fake_b, fake_a = g_ab(real_a), g_ba(real_b)
        loss_d_b = 0.5 * (lsgan_loss(d_b(real_b), 1.0) + lsgan_loss(d_b(self.pools["b"].query(fake_b)), 0.0))
        loss_d_a = 0.5 * (lsgan_loss(d_a(real_a), 1.0) + lsgan_loss(d_a(self.pools["a"].query(fake_a)), 0.0))
        loss_d = loss_d_a + loss_d_b
        yield Step("discriminators", loss_d, {"d_loss": loss_d.detach(), "d_a": loss_d_a.detach(), "d_b": loss_d_b.detach()})

    # -- translation and sampling ----------------------------------------------------
    def generator_inputs(
        self, n: int, *, generator: torch.Generator | None = None, device: Any = "cpu", condition: Any = None
    ) -> tuple[torch.Tensor]:
        """``(x,)``: ``n`` images of uniform noise in ``[-1, 1)``, float32 ``(n, channels,
        image_size, image_size)`` on ``device`` (drawn on the CPU from ``generator`` when
        given): the generator's input for ``zoo bench`` (timing does not need photographs)."""
        x = torch.rand(n, self.channels, self.image_size, self.image_size, generator=generator) * 2 - 1
        return (x.to(device),)

    @torch.no_grad()
    def translate(self, images: torch.Tensor, condition: Any = None, *, source: Any = None) -> torch.Tensor:
        """Translate preprocessed images with ``generator_ab`` (``AtoB``) or ``generator_ba``.

        Args:
            images: ``(N, channels, H, W)`` float in ``[-1, 1]`` (:meth:`preprocess`), H and W
                multiples of 4 of at least 8 (the generators are fully convolutional), any device.
            condition: the direction (:meth:`direction`): ``None`` / ``"AtoB"``, ``"BtoA"``,
                or the target domain's name.
            source: not used by CycleGAN (StarGAN's input attributes); must be ``None``.

        Returns:
            ``(N, channels, H, W)`` float32 CPU tensor in ``[0, 1]`` (``(x + 1) / 2``, as the
            official ``util.tensor2im``). The generator runs in eval mode (identical to train
            mode without dropout); every module's flag is restored.

        Raises:
            ZooError: images of another shape, ``source`` given, an unknown direction, or
                ``BtoA`` with a released A->B file (exit code 2).
        """
        if source is not None:
            raise ZooError(
                f"{self.spec.name} takes no input attributes (--from is for stargan); give the direction AtoB or BtoA", exit_code=2
            )
        net = self._net(self.direction(condition))
        ok = isinstance(images, torch.Tensor) and images.dim() == 4 and images.is_floating_point() and images.shape[0] > 0
        if not ok or images.shape[1] != self.channels or images.shape[2] % 4 or images.shape[3] % 4 or min(images.shape[2:]) < 8:
            got = f"shape {tuple(images.shape)} {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
            raise ZooError(
                f"{self.spec.name} translates float images (N, {self.channels}, H, W) with H and W multiples of 4 of at least 8, "
                f"got {got}; use adapter.preprocess(image)",
                exit_code=2,
            )
        param = next(net.parameters())
        with eval_mode(net):
            return to_unit_range(net(images.to(param.device, param.dtype)))

    def quantise(self, images: torch.Tensor) -> torch.Tensor:
        """CycleGAN's 8-bit images: truncation, as the official ``util.tensor2im``.

        junyanz/pytorch-CycleGAN-and-pix2pix ``util/util.py`` ``tensor2im`` (at 2a7afba, the
        fixtures' commit, lines 24-30; the same formula at older commits such as d45df3a):
        ``image_tensor[0].cpu().float().numpy()``,
        a 1-channel image tiled to 3 channels (``np.tile``), then ``(np.transpose(image_numpy,
        (1, 2, 0)) + 1) / 2.0 * 255.0`` and ``astype(np.uint8)``, which truncates; ``test.py``
        writes that array with ``util/visualizer.py`` ``save_images`` -> ``util.save_image``
        (PIL, no resize at the default ``--aspect_ratio 1.0``). :meth:`translate` returns
        ``(y + 1) / 2`` computed in float32 exactly as numpy does it, so ``255 x`` here is the
        official float32 value and :func:`zoo.models.gan.truncate_to_uint8` its official level
        (:func:`zoo.tasks.sampling.save_grid` tiles a grey image to RGB as ``tensor2im`` does).

        Args:
            images: float images in ``[0, 1]`` (:meth:`translate`, :meth:`sample`), any shape.

        Returns:
            ``uint8`` CPU tensor of the same shape.
        """
        return truncate_to_uint8(images)

    def config(self) -> dict[str, Any]:
        """Build options that rebuild these networks (the checkpoint sidecar's ``config``);
        after ``official_weights`` the file's configuration, without the file."""
        return {
            "image_size": self.image_size,
            "channels": self.channels,
            "ngf": self.ngf,
            "ndf": self.ndf,
            "n_blocks": self.n_blocks,
            "n_layers_d": self.n_layers_d,
            "use_dropout": self.use_dropout,
            "lambda_a": self.lambda_a,
            "lambda_b": self.lambda_b,
            "lambda_identity": self.lambda_identity,
            "pool_size": self.pool_size,
            "decay_after_epochs": self.decay_after_epochs,
            "class_names": list(self.domains),
        }
