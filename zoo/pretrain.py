"""Unsupervised pretraining of a backbone on unlabelled images: ``zoo pretrain NAME --method ...``.

Two methods, both training the backbone's own stem and stages (the head is left as it is,
random) so that ``zoo adapt NAME --head N --weights DIR`` starts from the result:

* ``autoencoder``: a convolutional autoencoder whose encoder is the backbone up to its last
  stage before the head and whose decoder (:class:`Decoder`) upsamples that feature map back
  to the image; loss the MSE between the reconstruction and the (normalised) input.
  Masci et al. 2011, "Stacked Convolutional Auto-Encoders for Hierarchical Feature
  Extraction"; Hinton & Salakhutdinov 2006 for autoencoder pretraining.
* ``greedy``: greedy layer-wise pretraining (Bengio et al. 2007, "Greedy Layer-Wise
  Training of Deep Networks"; Hinton et al. 2006), one stage at a time from the stem: stage
  ``k`` trains, with a decoder of its own, to reconstruct its input (the image for the
  stem, else the previous stage's output) from its output, while the stages before it are
  frozen (:meth:`zoo.adapters.BackboneAdapter.freeze_until`, BatchNorm included) and the
  stages after it are not run. ``epochs`` is per stage.

Stage outputs are caught with forward hooks on the stage's modules (the output of the
module that runs last), so networks that are not a plain chain of stages (NASNet's cells
take two earlier outputs, DenseNet's blocks concatenate) work too; the forward pass stops
at the last module needed. Labels of the data are never read. The decoders are not saved:
the output directory is a checkpoint of the backbone alone (``model.safetensors`` and
``model.json``, whose ``metrics`` give the method and the final reconstruction loss).

Imports torch.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo.adapters import BackboneAdapter, Step
from zoo.errors import ZooError
from zoo.optim import OptimizerConfig, Schedule

__all__ = ["METHODS", "Decoder", "Reconstruction", "StageTaps", "pretrain"]

METHODS = ("autoencoder", "greedy")


class _Stop(Exception):
    """Raised by a hook to end the forward pass once the needed stage has run."""


class StageTaps:
    """Forward hooks that record each stage's output (the output of its last-run module).

    Args:
        adapter: the backbone.
        stop_after: stage name after which the forward pass stops (``None``: run it all).

    Use :meth:`run` to get ``{stage: output}``; tensors keep their graph. The first call runs
    the whole model to learn the order in which the modules run; later calls stop after
    ``stop_after``.
    """

    def __init__(self, adapter: BackboneAdapter, stop_after: str | None = None) -> None:
        self.adapter, self.outputs = adapter, {}
        self._order: list[str] = []  # module paths in the order they ran (probe pass)
        self._last: str | None = None
        self._stop_after = stop_after
        self._hooks = []
        for stage in adapter.stages():
            for path in stage.modules:
                module = adapter.model.get_submodule(path)
                self._hooks.append(module.register_forward_hook(self._hook(stage.name, path)))

    def _hook(self, stage: str, path: str) -> Any:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor):
                self.outputs[stage] = output
            self._order.append(path)
            if path == self._last:
                raise _Stop

        return hook

    def run(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Forward ``x`` ``(N, 3, H, W)`` float32 through the model up to ``stop_after``; ``{stage: output}``."""
        self.outputs, self._order = {}, []
        try:
            self.adapter.model(x)
        except _Stop:
            pass
        if self._last is None and self._stop_after is not None:  # first pass: learn where to stop
            modules = set(next(s for s in self.adapter.stages() if s.name == self._stop_after).modules)
            self._last = [p for p in self._order if p in modules][-1]
        return self.outputs

    def remove(self) -> None:
        """Remove the hooks."""
        for h in self._hooks:
            h.remove()


def _as_map(t: torch.Tensor) -> torch.Tensor:
    """``(N, C)`` -> ``(N, C, 1, 1)``; NHWC maps of timm's channels-last models are not expected here."""
    return t[:, :, None, None] if t.ndim == 2 else t


class Decoder(nn.Module):
    """Upsampling decoder: ``(N, C_in, h, w)`` (or ``(N, C_in)``) -> ``(N, C_out, H, W)`` float32.

    ``Conv1x1(C_in, width) + BN + ReLU``, then ``ceil(log2(max(H / h, W / w)))`` blocks of
    ``bilinear x2 upsampling + Conv3x3 + BN + ReLU`` (halving the width down to 16), a final
    ``Conv3x3`` to ``C_out`` and a bilinear resize to exactly ``(H, W)`` (the decoder of
    Masci et al. 2011 mirrors the encoder; a fixed upsampling stack serves every backbone).

    Args:
        in_channels: channels of the feature map.
        out_channels: channels to reconstruct.
        scale: ``ceil`` of the spatial ratio output / input (1 = no upsampling).
        width: channels after the first 1x1 convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, scale: float, width: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        for _ in range(max(0, math.ceil(math.log2(max(scale, 1.0)) - 1e-9))):
            nxt = max(16, width // 2)
            layers += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), nn.Conv2d(width, nxt, 3, padding=1)]
            layers += [nn.BatchNorm2d(nxt), nn.ReLU(inplace=True)]
            width = nxt
        layers.append(nn.Conv2d(width, out_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Decode ``h`` to spatial ``size`` (pixels)."""
        out = self.body(_as_map(h))
        return out if tuple(out.shape[-2:]) == tuple(size) else F.interpolate(out, size=size, mode="bilinear", align_corners=False)


class Reconstruction:
    """The adapter :class:`zoo.trainer.Trainer` drives for one pretraining phase.

    ``training_step`` on ``(images (N, 3, H, W) float32, labels)`` (labels unused) yields
    ``Step("model", mse, {"loss": mse})``: the MSE between the decoder's reconstruction of
    ``target_stage``'s input (``None``: the image) from ``stage``'s output and that input
    (detached).

    Args:
        backbone: the backbone (its frozen stages as the caller set them).
        stage: the stage whose output is decoded.
        target_stage: the stage whose output is the target, or ``None`` for the image.
        decoder: the :class:`Decoder`.
    """

    kind = "pretrain"

    def __init__(self, backbone: BackboneAdapter, stage: str, target_stage: str | None, decoder: Decoder) -> None:
        self.backbone, self.spec, self.stage, self.target_stage, self.decoder = backbone, backbone.spec, stage, target_stage, decoder
        self.model = nn.ModuleDict({"backbone": backbone.model, "decoder": decoder})
        self.taps = StageTaps(backbone, stop_after=stage)

    def train(self, mode: bool = True) -> Reconstruction:
        """Train/eval mode (the backbone's frozen normalisation layers stay in eval mode)."""
        self.backbone.train(mode)
        self.decoder.train(mode)
        return self

    def eval(self) -> Reconstruction:
        """Eval mode."""
        return self.train(False)

    def to(self, device: Any) -> Reconstruction:
        """Move backbone and decoder to ``device``."""
        self.backbone.to(device)
        self.decoder.to(device)
        return self

    def configure_optimizers(self, lr: float | None = None) -> dict[str, OptimizerConfig]:
        """AdamW (lr 1e-3, weight decay 0) over the trainable stage and the decoder, cosine decay."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        return {"model": OptimizerConfig([{"params": params}], 1e-3 if lr is None else lr, algorithm="adamw", schedule=Schedule("cosine"))}

    def training_step(self, batch: Any, ctx: Any = None) -> Iterator[Step]:
        """One reconstruction step (see the class docstring)."""
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        outputs = self.taps.run(x)
        target = x if self.target_stage is None else _as_map(outputs[self.target_stage])
        recon = self.decoder(outputs[self.stage], tuple(target.shape[-2:]))
        loss = F.mse_loss(recon.float(), target.detach().float())
        yield Step("model", loss, {"loss": loss.detach()})


def _decoder_for(adapter: BackboneAdapter, stage: str, target_stage: str | None, size: int) -> Decoder:
    """A decoder whose shapes fit ``stage``'s output and ``target_stage``'s (or the image's) on a probe image."""
    taps = StageTaps(adapter)
    was = adapter.model.training
    adapter.model.eval()
    try:
        with torch.no_grad():
            outputs = taps.run(torch.zeros(1, 3, size, size))
    finally:
        taps.remove()
        adapter.model.train(was)
    src = _as_map(outputs[stage])
    dst = torch.zeros(1, 3, size, size) if target_stage is None else _as_map(outputs[target_stage])
    scale = max(dst.shape[-2] / src.shape[-2], dst.shape[-1] / src.shape[-1])
    return Decoder(src.shape[1], dst.shape[1], scale)


def pretrain(
    name: str,
    *,
    method: str,
    data: str,
    epochs: int = 5,
    out: str | Path | None = None,
    img_size: int | None = None,
    batch_size: int = 32,
    lr: float | None = None,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Pretrain backbone ``name`` on the images of ``data`` without their labels; save it to ``out``.

    Args:
        name: a backbone of the registry.
        method: ``"autoencoder"`` or ``"greedy"`` (see the module docstring).
        data: a data set as ``zoo train --data`` takes it (its training split is used).
        epochs: passes over the images (``greedy``: per stage), >= 1.
        out: the output directory (``None``: nothing is saved); the ``--out`` policy of
            ``zoo train`` (an earlier run is refused unless ``overwrite``).
        img_size, batch_size, lr, device, seed, progress: as :func:`zoo.tasks.train`
            (defaults: 32 px for built-in data, 32 images, AdamW 1e-3, CPU, seed 0).

    Returns:
        ``{"model", "method", "data", "epochs", "img_size", "train_images", "loss"`` (the
        last epoch's mean reconstruction MSE; ``greedy``: per stage, a dict),
        ``"seconds", "out"}``.

    Raises:
        ZooError: an unknown method or model, a GAN, bad data or numbers (exit code 2), an
            ``out`` that holds a run.
    """
    import time

    from zoo.official import check_choice
    from zoo.registry import build, get_spec
    from zoo.runs import Run
    from zoo.tasks import _default_img_size, _preprocessing
    from zoo.trainer import Trainer, check_training_args, seed_everything

    check_choice(method, METHODS, "method")
    spec = get_spec(name)
    if spec.kind != "backbone":
        raise ZooError(f"zoo pretrain works on backbones; {name} is a {spec.kind}. Use 'zoo train {name}' instead", exit_code=2)
    check_training_args(device=device, amp=None, epochs=epochs, lr=lr, batch_size=batch_size)
    from zoo.data import make_loaders, resolve_data

    source = resolve_data(data, seed=seed)
    size = _default_img_size(spec, source, img_size)
    run = Run("pretrain", name, out, overwrite, None)
    seed_everything(seed)
    adapter = build(name)
    loader, _ = make_loaders(
        source,
        train_transform=adapter.transforms(img_size=size, train=True, resize_only=source.builtin),
        val_transform=adapter.transforms(img_size=size, resize_only=source.builtin),
        batch_size=batch_size,
        seed=seed,
    )
    body = adapter.stage_names()[:-1]  # every stage but the head
    phases = (
        [(body[-1], None, None)]
        if method == "autoencoder"
        else [(s, body[i - 1] if i else None, body[i - 1] if i else None) for i, s in enumerate(body)]
    )
    start, losses = time.perf_counter(), {}
    for stage, target, frozen in phases:
        adapter.freeze_until(frozen)
        if method == "greedy":  # the stages after this one do not run
            later = [*body[body.index(stage) + 1 :], adapter.stage_names()[-1]]
            for s in adapter.stages():
                if s.name in later:
                    for _, p in adapter.stage_parameters(s):
                        p.requires_grad_(False)
        job = Reconstruction(adapter, stage, target, _decoder_for(adapter, stage, target, size))
        try:
            result = Trainer(epochs=epochs, lr=lr, device=device, seed=seed, progress=progress).fit(job, loader)
        finally:
            job.taps.remove()
        losses[stage] = round(float(result["loss"]), 6)
    adapter.freeze_until(None)
    adapter.to("cpu")
    summary: dict[str, Any] = {
        "model": name,
        "method": method,
        "data": source.name,
        "epochs": epochs,
        "img_size": size,
        "train_images": len(loader.dataset),
        "loss": losses[body[-1]] if method == "autoencoder" else losses,
        "seconds": round(time.perf_counter() - start, 3),
    }
    meta = {
        "class_names": None,
        "preprocessing": _preprocessing(adapter, size, source),
        "training": {"command": "pretrain", "method": method, "data": source.name, "epochs": epochs, "seed": seed},
        "metrics": dict(summary),
    }
    run.finish(adapter, summary, meta, None)
    summary["command"] = f"zoo adapt {name} --head N --weights {shlex.quote(str(run.out))}" if run.out else None
    return summary
