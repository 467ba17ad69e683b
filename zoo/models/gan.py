"""The GAN contract: named networks, typed conditions, and what the trainer hands a training step.

Written with all seven families in view:

* **Named networks.** A GAN adapter holds its trained networks by name in
  ``adapter.model`` (an ``nn.ModuleDict``): DCGAN, vanilla GAN, cGAN ``generator`` and
  ``discriminator``; LAPGAN one pair per pyramid level; CycleGAN ``generator_ab``,
  ``generator_ba``, ``discriminator_a``, ``discriminator_b``; StarGAN ``generator`` and a
  ``discriminator`` whose auxiliary classifier is a second output. Checkpoints hold every
  trained network under its name (``generator.main.0.weight``...). Networks that are not
  trained, such as SRGAN's feature network for the content loss, are ``adapter.frozen``:
  moved to the device with the model, kept in eval mode with ``requires_grad=False``, and
  left out of checkpoints and optimizers.
* **Typed conditions** (:class:`zoo.models.conditions.ConditionSpec`): none, a class label, an
  attribute vector, or an input image; the same parsed condition feeds ``zoo sample`` and
  ``zoo bench`` (:meth:`GANAdapter.generator_inputs`).
* **The trainer owns the optimisation state** (:mod:`zoo.models.optim`): an adapter's
  :meth:`GANAdapter.configure_optimizers` describes its optimizers and schedules; the
  trainer builds them, the grad scaler, decides when the generator is updated (``n_critic``
  discriminator steps per generator step, WGAN / StarGAN), and gives each
  ``training_step`` a :class:`StepContext` with a mixed-precision-safe gradient penalty.

Imports torch; plugin hook modules import it lazily (:func:`zoo.pluginkit.gan_hooks`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.io.images import round_to_uint8
from zoo.models.adapters import Step
from zoo.models.conditions import ConditionSpec
from zoo.models.gan_steps import gradient_penalty
from zoo.models.optim import OptimizerConfig, Schedule
from zoo.registry.spec import ModelSpec

__all__ = [
    "GANAdapter",
    "SampleGrid",
    "StepContext",
    "eval_mode",
    "to_unit_range",
]


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """``[-1, 1]`` generator output (tanh range) -> float32 CPU tensor in ``[0, 1]``, same shape."""
    return ((images.float() + 1.0) / 2.0).clamp_(0.0, 1.0).cpu()


@contextlib.contextmanager
def eval_mode(*modules: nn.Module) -> Iterator[None]:
    """Put ``modules`` (and all their sub-modules) in eval mode, then restore every
    sub-module's own ``training`` flag, mixed flags included."""
    flags = [(m, m.training) for module in modules for m in module.modules()]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for m, flag in flags:
            m.training = flag


@dataclass
class StepContext:
    """What the trainer tells an adapter's ``training_step`` about the current iteration.

    Attributes:
        iteration: 0-based global training iteration (batch) count.
        epoch: 1-based epoch.
        update_generator: whether the trainer will step the generator this iteration:
            ``(iteration + 1) % n_critic == 0`` (yunjey/stargan ``solver.py``: ``if (i+1) %
            self.n_critic == 0``); always ``True`` with ``n_critic == 1``. A step should not
            even compute the generator's loss when it is ``False``.
        scaler: the fp16 grad scaler, or ``None``; pass it to :meth:`gradient_penalty`.
    """

    iteration: int = 0
    epoch: int = 1
    update_generator: bool = True
    scaler: Any = None

    def gradient_penalty(self, critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """:func:`gradient_penalty` with this iteration's grad scaler."""
        return gradient_penalty(critic, real, fake, scaler=self.scaler)


@dataclass(frozen=True)
class SampleGrid:
    """A grid of images and its labels, as :func:`zoo.io.grids.save_grid` writes it
    (:meth:`GANAdapter.sample_grid`; ``zoo sample`` and the per-epoch grids).

    Attributes:
        images: ``(N, C, H, W)`` float32 CPU tensor in ``[0, 1]``, the cells row by row
            (cell ``i`` in row ``i // cols``, column ``i % cols``; the last row may be short).
        cols: cells per row.
        row_labels: one label per row (drawn left of it), or ``()``.
        col_labels: one label per column (drawn above it), or ``()``.
    """

    images: torch.Tensor
    cols: int
    row_labels: tuple[str, ...] = ()
    col_labels: tuple[str, ...] = ()

    @classmethod
    def side_by_side(
        cls, columns: Sequence[tuple[str, torch.Tensor]], *, per_row: int | None = None, row_labels: Sequence[str] = ()
    ) -> SampleGrid:
        """Groups of images side by side, each column headed: ``input | output`` pairs, StarGAN's
        input and its translations.

        Args:
            columns: ``[(header, images)]``: ``m`` columns of ``(n, C, H, W)`` images each (one
                size for all); group ``i`` is every column's image ``i``, left to right.
            per_row: groups per grid row; default ``ceil(sqrt(n / m))``, a roughly square grid.
                The headers repeat over every group of a row.
            row_labels: one label per grid row, or ``()``.

        Returns:
            The grid: ``m * per_row`` cells per row, ``ceil(n / per_row)`` rows.
        """
        headers = tuple(h for h, _ in columns)
        stacked = torch.stack([images for _, images in columns], dim=1)  # (n, m, C, H, W)
        n, m = stacked.shape[:2]
        k = per_row or max(1, math.ceil(math.sqrt(n / m)))
        return cls(stacked.flatten(0, 1), m * min(k, n), tuple(row_labels), headers * min(k, n))


class GANAdapter:
    """Base class of GAN families: named networks, a condition, a training step, sampling.

    Subclasses build their networks, call ``super().__init__``, and implement
    :meth:`training_step` and :meth:`sample` (and :meth:`generator_inputs` when the
    generator takes more than ``z``).

    Args:
        spec: the model's spec.
        networks: ``{name: nn.Module}`` of the trained networks, in a stable order
            (``adapter.model`` is ``nn.ModuleDict(networks)``; checkpoints hold them under
            these names).
        frozen: ``{name: nn.Module}`` of networks used but not trained (SRGAN's feature
            network): not in ``adapter.model``, so not in checkpoints or optimizers.
        image_size: generated height = width in pixels.
        channels: image channels.
        latent_dim: noise length (0 for translation models).
        condition: what the generator is conditioned on.

    Class attributes a family may set:
        ``n_critic``: discriminator steps per generator step (WGAN-GP, StarGAN: 5).
        ``schedule``: the learning-rate schedule of every optimizer (:class:`zoo.models.optim.Schedule`).
        ``default_lr``: default learning rate (2e-4, Radford et al. 2016).
        ``betas``: Adam betas ((0.5, 0.999), Radford et al. 2016).

    Images inside the adapter are float32 in ``[-1, 1]`` (tanh range); :meth:`sample`
    returns ``[0, 1]``.
    """

    kind = "gan"
    n_critic: int = 1
    schedule: Schedule = Schedule("constant")
    default_lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)

    def __init__(
        self,
        spec: ModelSpec,
        networks: dict[str, nn.Module],
        *,
        frozen: dict[str, nn.Module] | None = None,
        image_size: int,
        channels: int,
        latent_dim: int = 0,
        condition: ConditionSpec | None = None,
    ) -> None:
        self.spec = spec
        self.model = nn.ModuleDict(networks)
        self.frozen = dict(frozen or {})
        for net in self.frozen.values():
            net.requires_grad_(False)
            net.eval()
        self.image_size = image_size
        self.channels = channels
        self.latent_dim = latent_dim
        self.condition = condition or ConditionSpec()

    # -- networks ------------------------------------------------------------------
    @property
    def networks(self) -> dict[str, nn.Module]:
        """The trained networks by name (the items of ``adapter.model``)."""
        return dict(self.model.items())

    @property
    def generator(self) -> nn.Module:
        """The network that :meth:`sample` runs (``model["generator"]`` by default)."""
        return self.model["generator"]

    @property
    def discriminator(self) -> nn.Module:
        """``model["discriminator"]`` (families with several override or use names)."""
        return self.model["discriminator"]

    def to(self, device: Any) -> GANAdapter:
        """Move trained and frozen networks to ``device``."""
        self.model.to(device)
        for net in self.frozen.values():
            net.to(device)
        return self

    def train(self, mode: bool = True) -> GANAdapter:
        """Train/eval mode on the trained networks; frozen ones stay in eval mode."""
        self.model.train(mode)
        for net in self.frozen.values():
            net.eval()
        return self

    def eval(self) -> GANAdapter:
        """Eval mode."""
        return self.train(False)

    # -- preprocessing -------------------------------------------------------------
    def transforms(self, *, img_size: int | None = None, train: bool = False, resize_only: bool = False) -> Any:
        """``torchvision.transforms.v2`` pipeline to ``(channels, S, S)`` float32 in ``[-1, 1]``.

        Input: a PIL image or a ``(C, H, W)`` uint8 tensor. RGB input is converted to
        grayscale when the adapter has one channel, and grayscale to RGB when it has three.
        Images are resized to ``S`` and (unless ``resize_only``) centre-cropped; ``train``
        adds no augmentation (GAN training sees the data as it is).
        """
        from torchvision.transforms import v2

        size = img_size or self.image_size
        ops: list[Any] = [v2.ToImage(), v2.Grayscale(1) if self.channels == 1 else v2.RGB()]
        if resize_only:
            ops.append(v2.Resize((size, size), antialias=True))
        else:
            ops += [v2.Resize(size, antialias=True), v2.CenterCrop(size)]
        ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5] * self.channels, [0.5] * self.channels)]
        return v2.Compose(ops)

    # -- training ------------------------------------------------------------------
    def configure_optimizers(self, lr: float | None = None) -> dict[str, OptimizerConfig]:
        """``{network name: Adam}`` for every trained network: lr ``default_lr``, betas
        ``betas``, schedule ``schedule`` (the DCGAN paper's settings by default). Families
        whose networks share an optimizer (CycleGAN's two generators) override this."""
        rate = self.default_lr if lr is None else lr
        return {
            name: OptimizerConfig.for_params(net.parameters(), rate, algorithm="adam", betas=self.betas, schedule=self.schedule)
            for name, net in self.model.items()
        }

    def training_step(self, batch: Any, ctx: StepContext) -> Iterator[Step]:  # pragma: no cover - abstract
        """Yield the iteration's :class:`zoo.models.adapters.Step` objects (discriminator first);
        the trainer back-propagates and steps each before asking for the next."""
        raise NotImplementedError

    def validation_step(self, batch: Any) -> dict[str, float]:
        """GANs have no held-out classification metric; returns ``{}``."""
        return {}

    @staticmethod
    def summarize(totals: dict[str, float]) -> dict[str, float]:
        """No validation summary for GANs."""
        return {}

    # -- sampling ------------------------------------------------------------------
    def generator_inputs(
        self, n: int, *, generator: torch.Generator | None = None, device: Any = "cpu", condition: Any = None
    ) -> tuple[torch.Tensor, ...]:
        """Inputs of the sampling network for ``n`` samples (used by :meth:`sample` and
        ``zoo bench``): by default ``(z,)``, ``z ~ N(0, 1)`` float32 of shape
        ``(n, latent_dim, 1, 1)``, drawn on the CPU from ``generator`` and moved to ``device``.
        Conditional families override this and use ``condition`` (a parsed condition)."""
        z = torch.randn(n, self.latent_dim, 1, 1, generator=generator)
        return (z.to(device),)

    def sample(self, n: int, *, seed: int = 0, condition: Any = None) -> torch.Tensor:  # pragma: no cover - abstract
        """``(n, C, H, W)`` float32 images in ``[0, 1]``, generated deterministically from ``seed``."""
        raise NotImplementedError

    def sample_grid(self, n: int, *, seed: int = 0, condition: Any = None) -> SampleGrid:
        """About ``n`` samples laid out to explain themselves (``zoo sample --checkpoint`` and
        the per-epoch grids ``DIR/samples/epoch_0001.png``).

        This default: a class-conditional family (``condition.kind == "class"``) without a
        ``condition`` draws one row per class, labelled with the class name, of ``ceil(n / K)``
        samples each (so at least ``n``); column ``j`` has the same noise in every row (one
        :meth:`sample` call per class with ``seed``). With a ``condition`` (one class):
        ``n`` samples, ``ceil(sqrt(n))`` per row, each row labelled with the class. Every other
        family: :meth:`sample` in a square grid without labels. Image-to-image families
        override this to show each input beside its translations, columns headed.

        Args:
            n: samples asked for, >= 1.
            seed: the noise seed (as :meth:`sample`).
            condition: as :meth:`sample`.

        Returns:
            A :class:`SampleGrid`.

        Raises:
            ZooError: ``n < 1`` or a bad condition (as :meth:`sample`).
        """
        n = self.check_n(n)
        if self.condition.kind == "class" and condition is None:
            cols = -(-n // len(self.condition.names))
            rows = [self.sample(cols, seed=seed, condition=k) for k in range(len(self.condition.names))]
            return SampleGrid(torch.cat(rows), cols, row_labels=tuple(self.condition.names))
        images, cols = self.sample(n, seed=seed, condition=condition), math.ceil(math.sqrt(n))
        if self.condition.kind == "class":
            return SampleGrid(images, cols, row_labels=(self.condition.describe(condition),) * -(-n // cols))
        return SampleGrid(images, cols)

    def describe_condition(self, condition: Any = None) -> str:
        """The header of the column of :meth:`translate` ``(images, condition)`` (or of
        :meth:`sample`) in a grid: :meth:`zoo.models.conditions.ConditionSpec.describe`
        (``"Blond_Hair, not Young"``, a class name), or the model's name when that is empty.
        CycleGAN (``"horse -> zebra"``) and SRGAN (``"SRResNet x4"``) say more.

        Raises:
            ZooError: a condition this model cannot parse.
        """
        return self.condition.describe(condition) or self.spec.name

    def translations(self, images: torch.Tensor, condition: Any = None, *, source: Any = None) -> list[tuple[str, torch.Tensor]]:
        """The output columns of a translation grid (``zoo sample NAME --image ...``): ``[(header,
        (N, C, H', W') float32 CPU in [0, 1])]``, one per target. This default: one column,
        :meth:`describe_condition` over :meth:`translate`; StarGAN without a condition gives one
        column per target of the official ``create_labels``.

        Raises:
            ZooError: as :meth:`translate`.
        """
        return [(self.describe_condition(condition), self.translate(images, condition, source=source))]

    def quantise(self, images: torch.Tensor) -> torch.Tensor:
        """The family's 8-bit quantisation of its ``[0, 1]`` images, the one ``zoo sample``
        writes PNGs with (:func:`zoo.io.grids.save_grid`).

        Each family declares the convention of its official test code, so that the same
        weights and input give the pixels the official code writes; the default is
        :func:`round_to_uint8` (``torchvision.utils.save_image``), kept by the families
        without an official image-writing test (vanilla GAN, cGAN, DCGAN, LAPGAN).

        Args:
            images: float images in ``[0, 1]`` (the output of :meth:`sample` or
                :meth:`translate`), any shape.

        Returns:
            ``uint8`` CPU tensor of the same shape.
        """
        return round_to_uint8(images)

    # -- image-to-image families (condition kind "image": SRGAN, CycleGAN, StarGAN) --
    def preprocess(self, image: Any) -> torch.Tensor:
        """One input image for :meth:`translate`, with the family's official test preprocessing.

        Args:
            image: a PIL image (any mode; converted as the family needs).

        Returns:
            ``(channels, H, W)`` float32 in ``[-1, 1]`` (families whose official input range
            is ``[0, 1]``, such as SRGAN's, say so and return that range).

        The default is :meth:`transforms` (resize, centre crop, ``[-1, 1]``); StarGAN
        overrides it with its centre crop 178 / resize 128, CycleGAN with its test resize.
        """
        return self.transforms()(image)

    def translate(self, images: torch.Tensor, condition: Any = None, *, source: Any = None) -> torch.Tensor:
        """Translate a batch of preprocessed images (image-to-image families override this).

        Args:
            images: ``(N, channels, H, W)`` float32 from :meth:`preprocess`, on any device.
            condition: the target: ``None`` or an attribute text / parsed vector (StarGAN:
                ``"blond"``, ``"Blond_Hair,-Male"``); ignored by families without one.
            source: the input images' own attributes (StarGAN's ``--from``), text or
                parsed; ``None`` uses the family's default.

        Returns:
            ``(N, channels, H', W')`` float32 CPU tensor in ``[0, 1]`` (``H' = 4H`` for SRGAN).

        Raises:
            ZooError: the family generates from noise (this default), or a bad condition.
        """
        raise ZooError(f"{self.spec.name} generates images from noise, it does not translate them; sample it without --image", exit_code=2)

    def check_images(self, batch: Any) -> torch.Tensor:
        """The images of ``batch`` (``(images, labels)`` or ``images``) if they are a non-empty
        float ``(N, channels, image_size, image_size)`` tensor, as this model was built for.

        Raises:
            ZooError: anything else; one line giving the shape expected and the build options
                (``image_size``, ``channels``) that would fit the batch.
        """
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        want = (self.channels, self.image_size, self.image_size)
        is_4d = isinstance(images, torch.Tensor) and images.dim() == 4
        if is_4d and tuple(images.shape[1:]) == want and images.is_floating_point() and images.shape[0] > 0:
            return images
        got = f"shape {tuple(images.shape)} {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
        hint = ""
        if is_4d and images.shape[0] == 0:
            hint = "; an empty batch has nothing to train on"
        elif is_4d and images.shape[-1] == images.shape[-2]:
            hint = f"; rebuild with image_size={images.shape[-1]}, channels={images.shape[1]} or resize the data"
        raise ZooError(f"{self.spec.name} was built for float images (N, {want[0]}, {want[1]}, {want[2]}), got {got}{hint}")

    def check_n(self, n: int) -> int:
        """``n`` as an int >= 1.

        Raises:
            ZooError: ``n < 1`` (usage error naming the parameter ``n``).
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ZooError("{param} must be at least 1 sample, got " + repr(n), param="n", exit_code=2)
        return n

    def config(self) -> dict[str, Any]:
        """The build options that rebuild this model (the sidecar's ``config``; the
        condition is recorded beside it as ``condition``)."""
        return {"latent_dim": self.latent_dim, "image_size": self.image_size, "channels": self.channels}
