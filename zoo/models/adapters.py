"""The common interface every model family implements, and the backbone adapter.

An adapter wraps the family's ``nn.Module`` (``adapter.model``) and gives the trainer,
``zoo bench`` and the CLI one way to drive it:

* ``training_step(batch, ctx)`` yields :class:`Step` objects; the trainer back-propagates
  each step's loss and steps that step's optimizer before asking for the next one (so a
  GAN can update the discriminator, then compute the generator loss against the updated
  one, as in Radford et al. 2016 / pytorch/examples ``dcgan/main.py``). ``ctx`` is a
  :class:`zoo.models.gan.StepContext` (iteration, epoch, whether the generator is updated, the
  grad scaler).
* ``validation_step(batch)`` returns summable metrics.
* ``configure_optimizers(lr)`` returns ``{name: zoo.models.optim.OptimizerConfig}``; the trainer
  builds the optimizers and schedulers and owns their state.

Backbones are :class:`BackboneAdapter` (this module); GAN families subclass
:class:`zoo.models.gan.GANAdapter`.

This module imports torch; import it lazily from plugin hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.models.optim import OptimizerConfig, Schedule
from zoo.registry.spec import ModelSpec, check_num_classes, check_stage

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
        state_dict_hook: the family's renaming of keys in weights saved by older releases of
            its code (``{name: tensor} -> {name: tensor}``), applied by :meth:`convert_state_dict`;
            ``None``: keys are used as they are.

    Raises:
        ZooError: ``head`` is not such a layer of ``model``.
    """

    kind = "backbone"

    def __init__(
        self,
        spec: ModelSpec,
        model: nn.Module,
        stages: list[Stage],
        head: str,
        *,
        state_dict_hook: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None,
    ) -> None:
        self.spec = spec
        self._state_dict_hook = state_dict_hook
        self.model = model
        self._stages = list(stages)
        self.head = head
        self.frozen_until: str | None = None
        self.num_classes = _out_features(self._head_module())
        #: the family's build options the network was made with (``--model-kwargs``; ``drop_rate``...)
        self.build_options: dict[str, Any] = {}
        #: transfer-learning settings (:mod:`zoo.models.transfer`), set by ``zoo adapt``
        self.strategy = "full"
        self.bn = "frozen"
        self.lr_decay: float | None = None
        self.augment = "basic"
        self._norm_stash: dict[str, nn.Module] = {}  # BatchNorm2d layers swapped out by freeze_norms
        self._order = {n: i for i, (n, _) in enumerate(model.named_parameters())}

    # -- structure -----------------------------------------------------------------
    def _head_module(self) -> nn.Linear | nn.Conv2d:
        try:
            lin = self.model.get_submodule(self.head)
        except AttributeError as exc:
            raise ZooError(f"{self.spec.name}: head {self.head!r} is not a module of the model") from exc
        if not (isinstance(lin, nn.Linear) or (isinstance(lin, nn.Conv2d) and lin.kernel_size == (1, 1))):
            raise ZooError(f"{self.spec.name}: head {self.head!r} is {type(lin).__name__}, expected nn.Linear or a 1x1 nn.Conv2d")
        return lin

    def convert_state_dict(self, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``state`` with the keys this model uses: the family's renaming of older files' keys
        (DenseNet: torchvision's pre-0.4 ``norm.1`` -> ``norm1``), or unchanged.
        :func:`zoo.io.state_dict.load_into` calls it before its strict checks."""
        state = dict(state)
        return state if self._state_dict_hook is None else self._state_dict_hook(state)

    def stages(self) -> list[Stage]:
        """The named stages, stem to head."""
        return list(self._stages)

    def stage_names(self) -> list[str]:
        """Names of :meth:`stages`, usable with :meth:`freeze_until`."""
        return [s.name for s in self._stages]

    def named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """Every ``(name, parameter)`` of the model, including the affine parameters of
        BatchNorm layers frozen structurally (:func:`zoo.models.transfer.freeze_norms`), in the
        model's own ``named_parameters()`` order whatever is frozen."""
        named = dict(self.model.named_parameters())
        for path, bn in self._norm_stash.items():
            named.update({f"{path}.{k}": p for k, p in bn.named_parameters()})
        last = len(self._order)
        return sorted(named.items(), key=lambda item: self._order.get(item[0], last))

    def stage_parameters(self, stage: Stage) -> list[tuple[str, nn.Parameter]]:
        """``(name, parameter)`` pairs of one stage (parameter names as in ``model.named_parameters()``,
        frozen BatchNorm layers' affine parameters included)."""
        prefixes = tuple(m + "." for m in stage.modules)
        return [(n, p) for n, p in self.named_parameters() if n.startswith(prefixes)]

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

    def freeze_until(self, stage: str | None, *, bn: str | None = None) -> tuple[int, int]:
        """Freeze every stage from the stem up to and including ``stage``; ``None`` unfreezes everything.

        Frozen parameters get ``requires_grad=False``. With ``bn="frozen"`` (the default)
        every ``BatchNorm2d`` of a frozen stage becomes a ``torchvision.ops.FrozenBatchNorm2d``
        (:func:`zoo.models.transfer.freeze_norms`, as timm's ``freeze_batch_norm_2d``): no later
        ``model.train()`` can update its statistics; other normalisation layers of frozen
        stages are kept in eval mode by :meth:`train`. With ``bn="train"`` they stay
        ``BatchNorm2d`` in training mode, so their running statistics adapt to the new data
        (their affine parameters stay frozen). Stages unfrozen again get their original
        ``BatchNorm2d`` (the same parameters) back. Calling it again re-applies from scratch.

        Args:
            stage: the last frozen stage (one of :meth:`stage_names`) or ``None``.
            bn: ``"frozen"`` or ``"train"``; ``None`` keeps :attr:`bn`.

        Returns:
            ``(trainable_params, frozen_params)``, counts of parameter elements (frozen
            BatchNorm affine parameters counted as frozen).

        Raises:
            ZooError: unknown stage or ``bn`` mode; the message lists the valid ones.
        """
        from zoo.io.official import check_choice
        from zoo.models.transfer import BN_MODES, freeze_norms, thaw_norms

        check_stage(self.spec.name, stage, self.stage_names())
        if bn is not None:
            self.bn = check_choice(bn, BN_MODES, "bn")
        thaw_norms(self.model, [m for s in self._stages for m in s.modules], self._norm_stash)
        for p in self.model.parameters():
            p.requires_grad_(True)
        self.frozen_until = stage
        roots: list[str] = []
        if stage is not None:
            for s in self._stages:
                for _, p in self.stage_parameters(s):
                    p.requires_grad_(False)
                roots.extend(s.modules)
                if s.name == stage:
                    break
        if self.bn == "frozen":
            freeze_norms(self.model, roots, self._norm_stash)
        self.train(self.model.training)
        return self.param_counts()

    def on_epoch_start(self, epoch: int) -> None:
        """The trainer's hook before each epoch (1-based): ``gradual`` unfreezes one more stage
        (:func:`zoo.models.transfer.gradual_frozen_until`); other strategies keep their freezing."""
        if self.strategy == "gradual":
            from zoo.models.transfer import gradual_frozen_until

            stage = gradual_frozen_until(self.stage_names(), epoch)
            if stage != self.frozen_until:
                self.freeze_until(stage)

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
        params = [p for _, p in self.named_parameters()]
        trainable = sum(p.numel() for p in params if p.requires_grad)
        return trainable, sum(p.numel() for p in params) - trainable

    def train(self, mode: bool = True) -> BackboneAdapter:
        """Set train/eval mode; normalisation layers of frozen stages stay in eval mode (unless ``bn`` is ``"train"``)."""
        self.model.train(mode)
        if mode and self.bn == "frozen":
            for m in self.frozen_modules():
                for sub in m.modules():
                    if isinstance(sub, NORM_TYPES):
                        sub.eval()
        return self

    def to(self, device: Any) -> BackboneAdapter:
        """Move the model (and the BatchNorm layers frozen structurally) to ``device``."""
        self.model.to(device)
        for bn in self._norm_stash.values():
            bn.to(device)
        return self

    def eval(self) -> BackboneAdapter:
        """Eval mode (same as ``train(False)``)."""
        return self.train(False)

    # -- preprocessing -------------------------------------------------------------
    def transforms(self, *, img_size: int | None = None, train: bool = False, resize_only: bool = False) -> Any:
        """Default ``torchvision.transforms.v2`` pipeline from the weights' metadata.

        Input: a PIL image or a ``(C, H, W)`` uint8 tensor. Output: ``(3, S, S)`` float32,
        normalised with ``spec.mean``/``spec.std``. Evaluation resizes to ``S / crop_pct``
        and centre-crops ``S`` (timm's convention); training applies the augmentation preset
        :attr:`augment` (:func:`zoo.models.transfer.augment_ops`; ``basic``: ``RandomResizedCrop(S,
        scale=(0.5, 1))`` and horizontal flips). ``resize_only`` (small built-in images such
        as 8x8 digits) resizes straight to ``S`` and, for training, uses a mild
        ``RandomAffine`` instead of crops and flips.

        Raises:
            ZooError: an unknown :attr:`augment` preset.
        """
        from torchvision.transforms import InterpolationMode, v2

        from zoo.models.transfer import augment_float_ops, augment_ops

        size = img_size or self.spec.input_size[-1]
        interp = (
            InterpolationMode(self.spec.interpolation)
            if self.spec.interpolation in ("bilinear", "bicubic", "nearest")
            else InterpolationMode.BILINEAR
        )
        ops: list[Any] = [v2.ToImage(), v2.RGB()]
        if train:
            ops += augment_ops(self.augment, size, resize_only=resize_only, interpolation=interp)
        elif resize_only:
            ops.append(v2.Resize((size, size), interpolation=interp, antialias=True))
        else:
            ops += [v2.Resize(round(size / self.spec.crop_pct), interpolation=interp, antialias=True), v2.CenterCrop(size)]
        ops.append(v2.ToDtype(torch.float32, scale=True))
        if train:
            ops += augment_float_ops(self.augment)
        ops.append(v2.Normalize(list(self.spec.mean), list(self.spec.std)))
        return v2.Compose(ops)

    # -- training ------------------------------------------------------------------
    def configure_optimizers(self, lr: float | None = None, weight_decay: float = 0.05) -> dict[str, OptimizerConfig]:
        """``{"model": AdamW}`` with parameter groups per stage, cosine decay over all iterations.

        Each stage ``i`` of ``n`` (stem ``0``, head ``n - 1``) gets up to two groups, both with
        ``"stage": name`` and ``"lr": lr * lr_decay ** (n - 1 - i)`` (:attr:`lr_decay`
        ``None`` = 1: one rate; see :mod:`zoo.models.transfer`): its weight matrices and kernels
        with ``weight_decay``, its norms and biases without (timm's
        ``param_groups_weight_decay``). Frozen parameters are left out, except under the
        ``gradual`` strategy, where every parameter is in its stage's group from the start
        (AdamW skips a parameter without a gradient) so stages can be unfrozen mid-run.

        Args:
            lr: learning rate of the head (default 1e-3).
            weight_decay: decay of the weight matrices and kernels.

        Raises:
            ZooError: nothing is trainable (every stage frozen).
        """
        base = 1e-3 if lr is None else lr
        keep_frozen = self.strategy == "gradual"
        decay_rate = 1.0 if self.lr_decay is None else self.lr_decay
        n = len(self._stages)
        groups: list[dict[str, Any]] = []
        for i, stage in enumerate(self._stages):
            params = [p for _, p in self.stage_parameters(stage) if keep_frozen or p.requires_grad]
            rate = base * decay_rate ** (n - 1 - i)
            for chosen, wd in (([p for p in params if p.ndim > 1], weight_decay), ([p for p in params if p.ndim <= 1], 0.0)):
                if chosen:
                    groups.append({"params": chosen, "weight_decay": wd, "lr": rate, "stage": stage.name})
        if not any(p.requires_grad for g in groups for p in g["params"]):
            raise ZooError(f"every stage of {self.spec.name} is frozen, nothing to train; freeze fewer stages (--freeze-until)")
        return {"model": OptimizerConfig(groups, base, algorithm="adamw", schedule=Schedule("cosine"), keep_frozen=keep_frozen)}

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
    def summarize(totals: dict[str, float]) -> dict[str, float | None]:
        """Turn summed :meth:`validation_step` metrics into ``val_loss`` and ``val_accuracy`` (0..1);
        both ``None`` (absent, never 0) when no held-out image was seen."""
        n = totals.get("count", 0.0)
        if not n:
            return {"val_loss": None, "val_accuracy": None}
        return {"val_loss": totals.get("loss_sum", 0.0) / n, "val_accuracy": totals.get("correct", 0.0) / n}

    def config(self) -> dict[str, Any]:
        """What the JSON sidecar records to rebuild this model: ``num_classes``, ``frozen_until``
        and the build options it was made with (:attr:`build_options`)."""
        return {"num_classes": self.num_classes, "frozen_until": self.frozen_until, **self.build_options}
