"""Sample quality of generative models, measured in the feature space of a zoo classifier.

FID (Heusel et al. 2017, arXiv:1706.08500) and KID (Binkowski et al. 2018,
arXiv:1801.01401) are computed by torchmetrics (``FrechetInceptionDistance``,
``KernelInceptionDistance``) with a custom feature extractor: the penultimate features
(the input of the classifier's head) of a backbone that zoo trained on the real data.
Inception-v3 weights cannot be had offline, and Inception's 299x299 ImageNet features fit
8x8 handwritten digits badly anyway, so scores here are comparable with each other (same
classifier, same sample sizes), not with published Inception FIDs.

Images are float32 ``(N, C, H, W)`` in ``[0, 1]`` throughout (what ``adapter.sample``
returns); :class:`PenultimateFeatures` resizes, converts grey to RGB and normalises them
with the classifier's own preprocessing.

Imports torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from zoo.errors import ZooError

if TYPE_CHECKING:
    from zoo.models.protocols import Backbone

__all__ = ["PenultimateFeatures", "fid_kid", "label_accuracy", "load_classifier"]


class PenultimateFeatures(nn.Module):
    """A backbone adapter as a feature extractor: images in ``[0, 1]`` -> head inputs.

    The features are what the classifier's head receives (captured with a forward
    pre-hook on ``adapter.head``), flattened: 512 for ResNet-18. This works for every
    family in the registry, whatever the head's name (``fc``, ``classifier.6``,
    ``head.fc``).

    Args:
        adapter: a :class:`zoo.models.adapters.BackboneAdapter` (weights loaded), put in eval mode.
        img_size: the side the classifier was trained at (pixels).
        mean, std: its input normalisation (per channel of ``[0, 1]`` RGB).

    Input: ``(N, C, H, W)`` float in ``[0, 1]``, C = 1 or 3. Output: ``(N, D)`` float32.
    """

    def __init__(self, adapter: Backbone, img_size: int, mean: Any, std: Any) -> None:
        super().__init__()
        self.model = adapter.model.eval()
        self.img_size = int(img_size)
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))
        self._captured: torch.Tensor | None = None
        head = adapter.model.get_submodule(adapter.head)
        head.register_forward_pre_hook(self._capture)
        self.num_features = int(head.in_features if isinstance(head, nn.Linear) else head.in_channels)

    def _capture(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self._captured = args[0]

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Resize to ``img_size`` (bilinear), grey -> RGB, normalise: the classifier's input."""
        x = x.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] != self.img_size or x.shape[-2] != self.img_size:
            x = nn.functional.interpolate(x, size=(self.img_size, self.img_size), mode="bilinear", align_corners=False, antialias=True)
        return (x - self.mean) / self.std

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` in ``[0, 1]`` -> ``(N, num_features)`` float32."""
        self._captured = None
        self.model(self.prepare(x))
        if self._captured is None:  # pragma: no cover - a head that never ran
            raise ZooError("the classifier's head did not run; cannot take its input as features")
        return self._captured.float().flatten(1)

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's logits ``(N, num_classes)`` for images in ``[0, 1]``."""
        return self.model(self.prepare(x)).float()


def load_classifier(checkpoint: str) -> tuple[PenultimateFeatures, list[str]]:
    """Load a ``zoo train`` / ``zoo adapt`` classifier checkpoint as a feature extractor.

    Args:
        checkpoint: the run directory (``model.safetensors`` + ``model.json``).

    Returns:
        ``(features, class_names)``; ``features.logits`` classifies.

    Raises:
        ZooError: the checkpoint is missing, not a backbone, or does not load.
    """
    from zoo.models.weights import load_weights
    from zoo.registry import build

    meta_path = Path(checkpoint) / "model.json"
    if not meta_path.is_file():
        raise ZooError(f"{checkpoint} has no model.json; train a classifier first with 'zoo train NAME --data DATA --out DIR'")
    meta = json.loads(meta_path.read_text())
    adapter = build(meta["model"], num_classes=len(meta["class_names"]))
    if adapter.kind != "backbone":
        raise ZooError(f"{checkpoint} holds a {adapter.kind}, not a classifier")
    load_weights(adapter, str(checkpoint), progress=False)
    pre = meta["preprocessing"]
    return PenultimateFeatures(adapter, pre["img_size"], pre["mean"], pre["std"]), list(meta["class_names"])


def _batches(x: torch.Tensor, size: int = 256):
    for i in range(0, x.shape[0], size):
        yield x[i : i + size]


def fid_kid(
    features: PenultimateFeatures, real: torch.Tensor, fake: torch.Tensor, *, kid_subset: int | None = None, seed: int = 0
) -> dict[str, float]:
    """FID and KID between two image sets in the classifier's feature space (torchmetrics).

    Args:
        features: the feature extractor.
        real, fake: ``(N, C, H, W)`` float in ``[0, 1]``; use equal sizes when comparing
            scores (both are biased by the sample size).
        kid_subset: KID subset size (default ``min(N_real, N_fake) // 2``); 100 subsets.
        seed: seeds KID's random subsets.

    Returns:
        ``{"fid", "kid", "kid_std"}`` (KID is the unbiased MMD^2 with a cubic polynomial kernel).

    Raises:
        ZooError: fewer than 2 images in a set.
    """
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    if real.shape[0] < 2 or fake.shape[0] < 2:
        raise ZooError(f"FID/KID need at least 2 images per set, got {real.shape[0]} real and {fake.shape[0]} fake")
    subset = kid_subset or max(2, min(real.shape[0], fake.shape[0]) // 2)
    fid = FrechetInceptionDistance(feature=features, reset_real_features=False)
    kid = KernelInceptionDistance(feature=features, subsets=100, subset_size=subset, reset_real_features=False)
    for metric in (fid, kid):
        for b in _batches(real):
            metric.update(b, real=True)
        for b in _batches(fake):
            metric.update(b, real=False)
    torch.manual_seed(seed)
    kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}


@torch.no_grad()
def label_accuracy(features: PenultimateFeatures, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` (``(N, C, H, W)`` in ``[0, 1]``) the classifier assigns to
    ``labels`` (``(N,)`` int64 class indices of the classifier): 0..1."""
    from torchmetrics.functional.classification import multiclass_accuracy

    preds = torch.cat([features.logits(b) for b in _batches(images)])
    return float(multiclass_accuracy(preds, labels, num_classes=preds.shape[1], average="micro"))
