"""The common interface every model family implements, and the backbone adapter.

An adapter wraps the family's ``nn.Module`` (``adapter.model``) and gives the trainer,
``zoo bench`` and the CLI one way to drive it:

* ``training_step(batch, ctx)`` yields :class:`Step` objects; the trainer back-propagates
  each step's loss and steps that step's optimizer before asking for the next one (so a
  GAN can update the discriminator, then compute the generator loss against the updated
  one, as in Radford et al. 2016 / pytorch/examples ``dcgan/main.py``). ``ctx`` is a
  :class:`zoo.gan.StepContext` (iteration, epoch, whether the generator is updated, the
  grad scaler).
* ``validation_step(batch)`` returns summable metrics.
* ``configure_optimizers(lr)`` returns ``{name: zoo.optim.OptimizerConfig}``; the trainer
  builds the optimizers and schedulers and owns their state.

Backbones are :class:`BackboneAdapter` (this module); GAN families subclass
:class:`zoo.gan.GANAdapter`.

This module imports torch; import it lazily from plugin hooks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.optim import OptimizerConfig, Schedule
from zoo.spec import ModelSpec, check_num_classes, check_stage

__all__ = ["NORM_TYPES", "BackboneAdapter", "Stage", "Step", "stages_from_children"]

NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm)


@dataclass
class Step:
    """One optimisation step for the trainer.

    Attributes:
        optimizer: key into ``configure_optimizers()``'s dict.
        loss: scalar float tensor to back-propagate.
        logs: values to log, e.g. ``{"loss": loss.detach(), "acc": acc}``: detached scalar
            tensors (preferred: the trainer sums them on the device and reads them once
            per epoch, so logging costs no device sync per step) or floats.
    """

    optimizer: str
    loss: torch.Tensor
    logs: dict[str, torch.Tensor | float] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """A named group of modules, stem to head. ``modules`` are dotted module paths."""

    name: str
    modules: tuple[str, ...]


def _has_direct_params(m: nn.Module) -> bool:
    return any(True for _ in m.parameters())


def stages_from_children(model: nn.Module, root: str = "", *, rename: dict[str, str] | None = None) -> list[Stage]:
    """Stages from the children of ``model`` (or of its sub-module ``root``), in order.

    Each child with parameters that is not a normalisation layer starts a new stage named
    after the child; normalisation layers, activations and pooling attach to the stage
    before them (so ``conv1, bn1, relu, maxpool`` is stage ``conv1``). This yields each
    family's own names: ResNet ``conv1 layer1..layer4 fc``, DenseNet ``conv0 denseblock1
    transition1 ... classifier``, Inception ``Conv2d_1a_3x3 ... Mixed_7c fc``.

    Args:
        model: the network.
        root: dotted path of a container whose children are the stages (``"features"``);
            children of ``model`` other than ``root`` become stages of their own.
        rename: optional ``{child_name: stage_name}``.
    """
    rename = rename or {}
    stages: list[list[Any]] = []
    for name, child in model.named_children():
        if root and name == root.split(".")[0]:
            sub = model.get_submodule(root)
            prefix = root + "."
            for cname, c in sub.named_children():
                _add_child(stages, prefix + cname, c, rename.get(cname, cname))
            continue
        _add_child(stages, name, child, rename.get(name, name))
    return [Stage(s[0], tuple(s[1])) for s in stages]


def _add_child(stages: list[list[Any]], path: str, child: nn.Module, stage_name: str) -> None:
    starts = _has_direct_params(child) and not isinstance(child, NORM_TYPES)
    if starts or not stages:
        stages.append([stage_name, [path]])
    else:
        stages[-1][1].append(path)


def _out_features(head: nn.Module) -> int:
    return head.out_features if isinstance(head, nn.Linear) else head.out_channels


class BackboneAdapter:
    """An image classifier with named stages, a replaceable head and stage freezing.

    Args:
        spec: the model's spec.
        model: ``nn.Module`` mapping ``(N, C, H, W)`` float32 images to ``(N, num_classes)`` logits.
        stages: the model's stages, stem to head; every parameter must belong to exactly one.
        head: dotted path of the final ``nn.Linear`` or 1x1 ``nn.Conv2d`` (``"fc"``, ``"classifier.6"``).

    Raises:
        ZooError: ``head`` is not such a layer of ``model``.
    """

    kind = "backbone"

    def __init__(self, spec: ModelSpec, model: nn.Module, stages: list[Stage], head: str) -> None:
        self.spec = spec
        self.model = model
        self._stages = list(stages)
        self.head = head
        self.frozen_until: str | None = None
        self.num_classes = _out_features(self._head_module())

    # -- structure -----------------------------------------------------------------
    def _head_module(self) -> nn.Linear | nn.Conv2d:
        try:
            lin = self.model.get_submodule(self.head)
        except AttributeError as exc:
            raise ZooError(f"{self.spec.name}: head {self.head!r} is not a module of the model") from exc
        if not (isinstance(lin, nn.Linear) or (isinstance(lin, nn.Conv2d) and lin.kernel_size == (1, 1))):
            raise ZooError(f"{self.spec.name}: head {self.head!r} is {type(lin).__name__}, expected nn.Linear or a 1x1 nn.Conv2d")
        return lin

    def stages(self) -> list[Stage]:
        """The named stages, stem to head."""
        return list(self._stages)

    def stage_names(self) -> list[str]:
        """Names of :meth:`stages`, usable with :meth:`freeze_until`."""
        return [s.name for s in self._stages]

    def stage_parameters(self, stage: Stage) -> list[tuple[str, nn.Parameter]]:
        """``(name, parameter)`` pairs of one stage (parameter names as in ``model.named_parameters()``)."""
        prefixes = tuple(m + "." for m in stage.modules)
        return [(n, p) for n, p in self.model.named_parameters() if n.startswith(prefixes)]

    def stage_param_counts(self) -> dict[str, int]:
        """``{stage: number of parameters}``."""
        return {s.name: sum(p.numel() for _, p in self.stage_parameters(s)) for s in self._stages}

    # -- transfer learning ---------------------------------------------------------
    def reset_head(self, num_classes: int) -> None:
        """Replace the classifier with a fresh ``nn.Linear(in_features, num_classes)`` (or a
        1x1 ``nn.Conv2d`` where the head is one, as in timm's ResNetV2).

        The new layer is initialised like timm/torchvision heads (normal std 0.01, zero bias).

        Raises:
            ZooError: ``num_classes < 1``.
        """
        check_num_classes(num_classes)
        old = self._head_module()
        if isinstance(old, nn.Linear):
            new: nn.Module = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
        else:
            new = nn.Conv2d(old.in_channels, num_classes, kernel_size=1, bias=old.bias is not None)
        nn.init.normal_(new.weight, 0.0, 0.01)
        if new.bias is not None:
            nn.init.zeros_(new.bias)
        new.to(device=old.weight.device, dtype=old.weight.dtype)
        parent_name, _, leaf = self.head.rpartition(".")
        parent = self.model.get_submodule(parent_name) if parent_name else self.model
        setattr(parent, leaf, new)
        if hasattr(self.model, "num_classes"):
            self.model.num_classes = num_classes
        self.num_classes = num_classes

    def freeze_until(self, stage: str | None) -> tuple[int, int]:
        """Freeze every stage from the stem up to and including ``stage``.

        Frozen parameters get ``requires_grad=False``; normalisation layers inside frozen
        stages stay in eval mode (running statistics are not updated) even during
        training, as fastai's ``freeze`` and timm's ``freeze_batch_norm_2d`` do.
        ``None`` unfreezes everything.

        Returns:
            ``(trainable_params, frozen_params)``.

        Raises:
            ZooError: unknown stage; the message lists the valid ones.
        """
        check_stage(self.spec.name, stage, self.stage_names())
        for p in self.model.parameters():
            p.requires_grad_(True)
        self.frozen_until = stage
        if stage is not None:
            for s in self._stages:
                for _, p in self.stage_parameters(s):
                    p.requires_grad_(False)
                if s.name == stage:
                    break
        self.train(self.model.training)
        return self.param_counts()

    def frozen_modules(self) -> list[nn.Module]:
        """Modules of the frozen stages."""
        if self.frozen_until is None:
            return []
        out = []
        for s in self._stages:
            out.extend(self.model.get_submodule(m) for m in s.modules)
            if s.name == self.frozen_until:
                break
        return out

    def param_counts(self) -> tuple[int, int]:
        """``(trainable, frozen)`` parameter counts."""
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in self.model.parameters() if not p.requires_grad)
        return trainable, frozen

    def train(self, mode: bool = True) -> BackboneAdapter:
        """Set train/eval mode; normalisation layers of frozen stages stay in eval mode."""
        self.model.train(mode)
        if mode:
            for m in self.frozen_modules():
                for sub in m.modules():
                    if isinstance(sub, NORM_TYPES):
                        sub.eval()
        return self

    def to(self, device: Any) -> BackboneAdapter:
        """Move the model to ``device``."""
        self.model.to(device)
        return self

    def eval(self) -> BackboneAdapter:
        """Eval mode (same as ``train(False)``)."""
        return self.train(False)

    # -- preprocessing -------------------------------------------------------------
    def transforms(self, *, img_size: int | None = None, train: bool = False, resize_only: bool = False) -> Any:
        """Default ``torchvision.transforms.v2`` pipeline from the weights' metadata.

        Input: a PIL image or a ``(C, H, W)`` uint8 tensor. Output: ``(3, S, S)`` float32,
        normalised with ``spec.mean``/``spec.std``. Evaluation resizes to ``S / crop_pct``
        and centre-crops ``S`` (timm's convention); training uses ``RandomResizedCrop(S,
        scale=(0.5, 1))`` and horizontal flips. ``resize_only`` (small built-in images such
        as 8x8 digits) resizes straight to ``S`` and, for training, adds a mild
        ``RandomAffine`` instead of crops and flips.
        """
        from torchvision.transforms import InterpolationMode, v2

        size = img_size or self.spec.input_size[-1]
        interp = (
            InterpolationMode(self.spec.interpolation)
            if self.spec.interpolation in ("bilinear", "bicubic", "nearest")
            else InterpolationMode.BILINEAR
        )
        ops: list[Any] = [v2.ToImage(), v2.RGB()]
        if resize_only:
            ops.append(v2.Resize((size, size), interpolation=interp, antialias=True))
            if train:
                ops.append(v2.RandomAffine(degrees=10, translate=(0.08, 0.08), scale=(0.9, 1.1)))
        elif train:
            ops += [v2.RandomResizedCrop(size, scale=(0.5, 1.0), interpolation=interp, antialias=True), v2.RandomHorizontalFlip()]
        else:
            ops += [v2.Resize(round(size / self.spec.crop_pct), interpolation=interp, antialias=True), v2.CenterCrop(size)]
        ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(self.spec.mean), list(self.spec.std))]
        return v2.Compose(ops)

    # -- training ------------------------------------------------------------------
    def configure_optimizers(self, lr: float | None = None, weight_decay: float = 0.05) -> dict[str, OptimizerConfig]:
        """``{"model": AdamW}`` over the trainable parameters, norms and biases without weight
        decay (timm's ``param_groups_weight_decay``), cosine decay over all iterations.

        Args:
            lr: learning rate (default 1e-3).
            weight_decay: decay of the weight matrices and kernels.

        Raises:
            ZooError: nothing is trainable (every stage frozen).
        """
        decay, no_decay = [], []
        for p in self.model.parameters():
            if p.requires_grad:
                (no_decay if p.ndim <= 1 else decay).append(p)
        if not decay and not no_decay:
            raise ZooError(f"every stage of {self.spec.name} is frozen, nothing to train; freeze fewer stages (--freeze-until)")
        groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        return {"model": OptimizerConfig(groups, 1e-3 if lr is None else lr, algorithm="adamw", schedule=Schedule("cosine"))}

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], ctx: Any = None) -> Iterator[Step]:
        """Cross-entropy on ``(images (N,3,H,W) float32, labels (N,) int64)``; one step on
        ``"model"`` with ``loss`` and ``acc`` logged as detached tensors (``ctx`` unused)."""
        x, y = batch
        logits = self.model(x)
        loss = nn.functional.cross_entropy(logits.float(), y)
        acc = (logits.detach().argmax(1) == y).float().mean()
        yield Step("model", loss, {"loss": loss.detach(), "acc": acc})

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        """Summable metrics on one batch: ``loss_sum``, ``correct``, ``count``."""
        x, y = batch
        logits = self.model(x).float()
        return {
            "loss_sum": float(nn.functional.cross_entropy(logits, y, reduction="sum")),
            "correct": float((logits.argmax(1) == y).sum()),
            "count": float(y.numel()),
        }

    @staticmethod
    def summarize(totals: dict[str, float]) -> dict[str, float]:
        """Turn summed :meth:`validation_step` metrics into ``val_loss`` and ``val_accuracy`` (0..1)."""
        n = max(totals.get("count", 0.0), 1.0)
        return {"val_loss": totals.get("loss_sum", 0.0) / n, "val_accuracy": totals.get("correct", 0.0) / n}

    def config(self) -> dict[str, Any]:
        """What the JSON sidecar records to rebuild this model."""
        return {"num_classes": self.num_classes, "frozen_until": self.frozen_until}
