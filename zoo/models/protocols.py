"""The adapter contract as types: what the trainer, the jobs and the loaders may call on an
adapter, whichever family built it.

:class:`Adapter` is what every adapter offers (the trainer's view); :class:`Backbone` adds
the transfer-learning surface of :class:`zoo.models.adapters.BackboneAdapter` (stages, head,
freezing); :class:`GAN` the sampling surface of :class:`zoo.models.gan.GANAdapter`. They are
``typing.Protocol`` classes (PEP 544): a third-party adapter satisfies them by having the
members, without inheriting from zoo's base classes, and ``isinstance(x, Adapter)`` checks
the members' presence at run time (``runtime_checkable``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch
    from torch import nn

    from zoo.models.adapters import Stage, Step
    from zoo.models.conditions import ConditionSpec
    from zoo.models.optim import OptimizerConfig
    from zoo.registry.spec import ModelSpec

__all__ = ["GAN", "Adapter", "Backbone"]


@runtime_checkable
class Adapter(Protocol):
    """What :class:`zoo.training.trainer.Trainer` and the jobs need of any adapter.

    Attributes:
        spec: the model's registry spec.
        kind: ``"backbone"`` or ``"gan"``.
        model: the networks (a GAN's ``nn.ModuleDict`` of them).
    """

    spec: ModelSpec
    kind: str
    model: nn.Module

    def to(self, device: Any) -> Any:
        """Move every network to ``device``; returns the adapter."""
        ...

    def train(self, mode: bool = True) -> Any:
        """Training mode (frozen stages stay in eval mode); returns the adapter."""
        ...

    def eval(self) -> Any:
        """Eval mode; returns the adapter."""
        ...

    def transforms(self, *, img_size: int | None = None, train: bool = False, resize_only: bool = False) -> Any:
        """A ``torchvision.transforms.v2`` pipeline: PIL image or uint8 ``(C, H, W)`` tensor ->
        float32 ``(C, S, S)`` tensor, normalised as the model expects."""
        ...

    def configure_optimizers(self, lr: float | None = None) -> dict[str, OptimizerConfig]:
        """``{optimizer name: config}`` (:class:`zoo.models.optim.OptimizerConfig`)."""
        ...

    def training_step(self, batch: Any, ctx: Any = None) -> Iterator[Step]:
        """Yield one :class:`zoo.models.adapters.Step` per optimizer step of this iteration."""
        ...

    def validation_step(self, batch: Any) -> dict[str, float]:
        """Sums over one held-out batch (``{"loss_sum", "correct", "count"}`` for classifiers)."""
        ...

    def summarize(self, totals: dict[str, float]) -> dict[str, float]:
        """Validation sums -> metrics (``val_loss``, ``val_accuracy`` in 0..1)."""
        ...

    def config(self) -> dict[str, Any]:
        """Build options that rebuild these networks (the checkpoint sidecar's ``config``)."""
        ...


@runtime_checkable
class Backbone(Adapter, Protocol):
    """A classifier adapter: named stages stem to head, a replaceable head, freezing
    (:class:`zoo.models.adapters.BackboneAdapter`).

    Attributes:
        head: dotted path of the final layer of ``model`` (``(N, C, H, W)`` float32 ->
            ``(N, num_classes)`` logits).
    """

    head: str

    def stages(self) -> list[Stage]:
        """The stages, stem to head (names usable with ``--freeze-until``)."""
        ...

    def stage_names(self) -> list[str]:
        """The names of :meth:`stages`."""
        ...

    def reset_head(self, num_classes: int) -> None:
        """Replace the head with a fresh one of ``num_classes`` outputs."""
        ...

    def freeze_until(self, stage: str | None, *, bn: str | None = None) -> tuple[int, int]:
        """Freeze the stem up to and including ``stage``; returns ``(trainable, frozen)`` parameter counts."""
        ...

    def param_counts(self) -> tuple[int, int]:
        """``(trainable, frozen)`` parameter counts."""
        ...


@runtime_checkable
class GAN(Adapter, Protocol):
    """A generative adapter: named networks, conditions, sampling (:class:`zoo.models.gan.GANAdapter`).

    Attributes:
        condition: what a sample can be conditioned on (:class:`zoo.models.conditions.ConditionSpec`).
        n_critic: discriminator iterations per generator update.
    """

    condition: ConditionSpec
    n_critic: int

    @property
    def networks(self) -> dict[str, nn.Module]:
        """``{name: network}`` (``generator``, ``discriminator``...), as saved in checkpoints."""
        ...

    def sample(self, n: int, *, seed: int = 0, condition: Any = None) -> torch.Tensor:
        """``n`` images, ``(n, C, H, W)`` float32 in ``[0, 1]`` on the CPU."""
        ...

    def quantise(self, images: torch.Tensor) -> torch.Tensor:
        """``[0, 1]`` float images -> uint8 of the same shape, by the family's official rule."""
        ...
