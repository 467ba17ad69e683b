"""Unsupervised pretraining of a backbone on unlabelled images: ``zoo pretrain NAME --method ...``.

Both methods train the backbone's stem and stages (the head is never run and stays as
built, random), so that ``zoo adapt NAME --head N --weights DIR`` starts from the result:

* ``autoencoder``: a convolutional autoencoder whose encoder is the backbone from the stem
  to its last stage before the head, and whose decoder (:class:`Decoder`) upsamples that
  stage's output back to the image; loss: the MSE between the reconstruction and the
  (normalised) input. Masci et al. 2011, "Stacked Convolutional Auto-Encoders for
  Hierarchical Feature Extraction"; Hinton & Salakhutdinov 2006, "Reducing the
  Dimensionality of Data with Neural Networks".
* ``greedy``: greedy layer-wise pretraining (Bengio et al. 2007, "Greedy Layer-Wise
  Training of Deep Networks"; Hinton et al. 2006), one stage at a time from the stem:
  stage ``k`` trains, with a decoder of its own, to reconstruct its input (the image for
  the stem, else the previous stage's output, detached) from its output; the stages
  before it are frozen (``freeze_until``, BatchNorm statistics included), the stages after
  it are not run. ``epochs`` is **per stage** (ResNet-18's 5 stages at ``epochs=2`` make 10
  passes): a split total would leave deep nets (Inception's 16 stages) a fraction each.

Forward hooks catch each stage's output (:class:`StageTaps`), so nets that are not a chain
of stages (NASNet's cells take two earlier outputs) work too. Labels are never read; DATA
may also be a folder of images without class folders.

The run directory is a checkpoint of the backbone alone (``model.safetensors``,
``model.json`` whose ``training`` and ``metrics`` give method, data, epochs and the final
reconstruction loss) and ``metrics.jsonl`` (one line per epoch, with its stage); the
decoders only serve the loss and are not saved. During the run ``DIR/last`` holds the
backbone after the last complete epoch (what Ctrl-C or a diverged loss leaves); it goes
once the final model is written. There is no ``--resume``. Imports torch.
"""

from __future__ import annotations

import math
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo.errors import ZooError
from zoo.models.adapters import BackboneAdapter, Step
from zoo.models.optim import OptimizerConfig, Schedule
from zoo.utils.outputs import releasing_claims

__all__ = ["METHODS", "Decoder", "Reconstruction", "StageTaps", "decoder_for", "freeze_for_stage", "pretrain"]

METHODS = ("autoencoder", "greedy")


class _Stop(Exception):
    """Ends the forward pass once the needed stage has run."""


class StageTaps:
    """Forward hooks that record each stage's output (the output of its last-run module).

    The first :meth:`run` with ``stop_after`` learns the order the modules run in from a
    :meth:`probe` of one image; every pass then stops after ``stop_after``.

    Args:
        adapter: the backbone.
        stop_after: stage name after which the forward pass stops (``None``: run it all).
    """

    def __init__(self, adapter: BackboneAdapter, stop_after: str | None = None) -> None:
        self.adapter, self.outputs = adapter, {}
        self._order: list[str] = []  # module paths in the order they ran
        self._last: str | None = None  # the module after which to stop
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

    def _forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self.outputs, self._order = {}, []
        try:
            self.adapter.model(x)
        except _Stop:
            pass
        return self.outputs

    def probe(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """:meth:`run` in eval mode without gradients (no BatchNorm statistic moves); the mode is restored."""
        was = self.adapter.model.training
        self.adapter.eval()
        try:
            with torch.no_grad():
                return self._forward(x)
        finally:
            self.adapter.train(was)

    def run(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Forward ``x`` ``(N, 3, H, W)`` float32 up to ``stop_after``: ``{stage: output}``
        (``(N, C, h, w)`` maps, ``(N, C)`` for fully-connected stages), with their graph."""
        if self._stop_after is not None and self._last is None:  # learn where to stop: a probe of one image
            self.probe(x[:1])
            modules = set(next(s for s in self.adapter.stages() if s.name == self._stop_after).modules)
            self._last = [p for p in self._order if p in modules][-1]
        return self._forward(x)

    def remove(self) -> None:
        """Remove the hooks."""
        for h in self._hooks:
            h.remove()


def _as_map(t: torch.Tensor) -> torch.Tensor:
    """``(N, C)`` -> ``(N, C, 1, 1)``; maps pass through."""
    return t[:, :, None, None] if t.ndim == 2 else t


class Decoder(nn.Module):
    """Upsampling decoder: ``(N, C_in, h, w)`` (or ``(N, C_in)``) float32 -> ``(N, C_out, H, W)`` float32.

    ``Conv1x1(C_in, width) + BN + ReLU``, then ``ceil(log2(scale))`` blocks of ``bilinear x2
    upsampling + Conv3x3 + BN + ReLU`` (halving the width, down to 16), a final ``Conv3x3``
    to ``C_out`` and a bilinear resize to exactly ``(H, W)``. Masci et al. 2011 mirror the
    encoder; one small upsampling stack serves every backbone (the decoder is thrown away).

    Args:
        in_channels: channels of the feature map.
        out_channels: channels to reconstruct.
        scale: spatial ratio output / input (1 = no upsampling).
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
    """The adapter :class:`zoo.training.trainer.Trainer` drives for one pretraining phase.

    ``training_step`` on ``(images (N, 3, H, W) float32, labels)`` (labels unused) yields
    ``Step("model", mse, {"loss": mse})``: the mean squared error between the decoder's
    reconstruction, from ``stage``'s output, of ``target_stage``'s output (``None``: the
    image), and that target (detached).

    Args:
        backbone: the backbone (its frozen stages as the caller set them).
        stage: the stage whose output is decoded.
        target_stage: the stage whose output is the target, or ``None`` for the image.
        decoder: the :class:`Decoder` (:func:`decoder_for`).
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
        """AdamW (lr 1e-3, weight decay 0) over the trainable parameters and the decoder, cosine decay per phase."""
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


def decoder_for(adapter: BackboneAdapter, stage: str, target_stage: str | None, size: int) -> Decoder:
    """A :class:`Decoder` from ``stage``'s output to ``target_stage``'s (``None``: the
    ``(3, size, size)`` image), its shapes read from one probe image of ``size`` px (eval mode, no gradients)."""
    taps = StageTaps(adapter)
    try:
        outputs = taps.probe(torch.zeros(1, 3, size, size, device=next(adapter.model.parameters()).device))
    finally:
        taps.remove()
    src = _as_map(outputs[stage])
    dst_shape = (3, size, size) if target_stage is None else tuple(_as_map(outputs[target_stage]).shape[1:])
    scale = max(dst_shape[1] / src.shape[-2], dst_shape[2] / src.shape[-1])
    return Decoder(src.shape[1], dst_shape[0], scale)


def freeze_for_stage(adapter: BackboneAdapter, stage: str | None) -> None:
    """Greedy phase of ``stage``: the stages before it frozen (``freeze_until``, BatchNorm
    as ``FrozenBatchNorm2d``), it trainable, the stages after it and the head without
    gradients (they are not run). ``None``: everything trainable again, BatchNorm restored."""
    k = adapter.stage_names().index(stage) if stage is not None else 0
    adapter.freeze_until(adapter.stage_names()[k - 1] if k else None)
    for s in adapter.stages()[k + 1 :] if stage is not None else ():
        for _, p in adapter.stage_parameters(s):
            p.requires_grad_(False)


class _LastCheckpoint:
    """The trainer's per-epoch checkpointer: the backbone pair in ``out/last`` (swapped in whole), ``metrics.jsonl``."""

    resume_command = None

    def __init__(self, run: Any, meta: Any, history: list[dict[str, Any]]) -> None:
        self.run, self.meta, self.history = run, meta, history
        self.last_dir, self.saved_epoch, self.stage = run.out / "last", None, None

    def save(self, trainer: Any, job: Reconstruction, epoch: int, metrics: dict[str, Any]) -> None:
        """Save ``job``'s backbone after ``epoch`` of the current stage (ZooError: it cannot be written)."""
        from zoo.io.checkpoint import save_checkpoint
        from zoo.training.runs import retire_earlier_run
        from zoo.utils.fileio import atomic_write_text, dumps_strict, make_temp_dir, swap_in_dir

        history, tmp = self.history + [{"stage": self.stage, **m} for m in trainer.history], None
        try:
            tmp = make_temp_dir(self.last_dir)
            save_checkpoint(tmp, job.backbone, self.meta(history[-1]))
            swap_in_dir(tmp, self.last_dir)
        except OSError as exc:
            raise ZooError(f"cannot write the checkpoint {self.last_dir} ({exc.strerror}); free some space") from exc
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        if self.run.replaces and self.saved_epoch is None:
            retire_earlier_run(self.run.out, started=self.run.started, keep=("last",))
        atomic_write_text(self.run.out / "metrics.jsonl", "".join(dumps_strict(m) + "\n" for m in history))
        self.saved_epoch = epoch


def _unlabelled(data: str, seed: int) -> Any:
    """``data`` as a :class:`zoo.data.DataSource`: a directory with fewer than two sub-folders
    (and no ``train/`` + ``val/``) is a flat collection of every image under it; anything else
    is :func:`zoo.data.resolve_data`'s (its training split: the split ``zoo adapt`` uses with the same seed).

    Raises:
        ZooError: a directory without images (exit code 2); :func:`zoo.data.resolve_data`'s errors.
    """
    from torch.utils.data import Subset
    from torchvision.datasets.folder import IMG_EXTENSIONS

    from zoo.data import DataSource, Transformed, resolve_data
    from zoo.data.sources import folder_images
    from zoo.io.images import load_rgb

    path = Path(data).expanduser()
    if not path.is_dir() or sum(p.is_dir() for p in path.iterdir()) >= 2:
        return resolve_data(data, seed=seed)
    files = [p for p, _ in folder_images(path, {"": 0}, allow_empty=True) if Path(p).is_file()]  # each real file once
    if not files:
        raise ZooError(
            f"{{param}} {data} holds no images ({', '.join(IMG_EXTENSIONS[:3])}...); pass a folder of images or a built-in data set such as digits",
            param="data",
            exit_code=2,
        )
    images = Transformed([(f, 0) for f in files], load_rgb)  # (PIL RGB image, 0)
    return DataSource(str(path), ["images"], 3, None, False, images, Subset(images, []), [0] * len(files), [])


@releasing_claims
def pretrain(
    name: str,
    *,
    method: str | None,
    data: str | None,
    epochs: int = 5,
    out: str | Path | None = None,
    img_size: int | None = None,
    batch_size: int = 32,
    lr: float | None = None,
    device: str = "cpu",
    seed: int = 0,
    progress: bool = True,
    overwrite: bool = False,
    model_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Pretrain backbone ``name`` on the images of ``data`` without their labels; save it to ``out``.

    Args:
        name: a backbone of the registry.
        method: ``"autoencoder"`` or ``"greedy"`` (see the module docstring).
        data: a data set as ``zoo train --data`` takes it (its training split is used), or
            a folder of images without class folders.
        epochs: passes over the images (``greedy``: per stage), >= 1.
        out: the output directory (``None``: nothing is saved); the ``--out`` policy of
            ``zoo train`` (an earlier run is refused unless ``overwrite``).
        img_size, batch_size, lr, device, seed, progress: as :func:`zoo.tasks.train`
            (defaults: 32 px for built-in data, the model's size for folders, 32 images,
            AdamW 1e-3 with cosine decay, CPU, seed 0).
        model_kwargs: the backbone's declared build options (``--model-kwargs``), as
            :func:`zoo.tasks.train`.

    Returns:
        ``model, method, data, epochs, img_size, train_images``; ``loss`` (the last epoch's
        mean reconstruction MSE, of the last stage for greedy); ``stage_losses`` (greedy:
        ``{stage: MSE}``); ``steps, seconds, history`` (per epoch, with ``stage``); ``out``;
        ``command`` (the ``zoo adapt`` line that starts from it, or ``None``).

    Raises:
        ZooError: (exit code 2) no or an unknown method, unknown model, a GAN, no or bad data,
            numbers or device, an ``out`` holding a run, torchrun; a failed write (exit code 1).
        TrainingInterrupted: Ctrl-C (exit code 130; ``out/last`` keeps the last complete epoch).
        TrainingDiverged: a loss became NaN or infinite.
    """
    import time

    from zoo.data import make_loaders
    from zoo.io.official import check_choice
    from zoo.registry import get_spec
    from zoo.tasks._common import build_adapter, default_img_size, preprocessing
    from zoo.tasks.model_kwargs import check_model_kwargs
    from zoo.training.runs import Run
    from zoo.training.trainer import Trainer, check_training_args
    from zoo.utils.dist import context
    from zoo.utils.outputs import claim_output
    from zoo.utils.seeding import seed_everything

    if method is None:
        raise ZooError("{param} is required: autoencoder or greedy", param="method", exit_code=2)
    check_choice(method, METHODS, "method")
    spec = get_spec(name)
    if spec.kind != "backbone":
        raise ZooError(f"zoo pretrain works on backbones; {name} is a {spec.kind}. Use 'zoo train {name}' instead", exit_code=2)
    kwargs = check_model_kwargs(name, model_kwargs)
    if data is None:
        raise ZooError("{param} is required: a folder of images or a built-in data set such as digits", param="data", exit_code=2)
    if context().launched:
        raise ZooError("zoo pretrain runs in one process; start it without torchrun", exit_code=2)
    check_training_args(device=device, amp=None, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
    source = _unlabelled(data, seed)
    size = default_img_size(spec, source, img_size)
    if out is not None:
        claim_output(out, overwrite=overwrite, reads=(data,))  # the refusal without Run's --resume hint: pretraining has none
    run = Run("pretrain", name, out, overwrite, None, reads=(data,))
    seed_everything(seed)
    adapter = build_adapter(name, **kwargs)
    tf = adapter.transforms(img_size=size, train=True, resize_only=source.builtin)
    loader, _ = make_loaders(source, train_transform=tf, val_transform=tf, batch_size=batch_size, seed=seed)  # no validation
    body = adapter.stage_names()[:-1]  # every stage but the head
    phases = [(body[-1], None)] if method == "autoencoder" else [(s, body[i - 1] if i else None) for i, s in enumerate(body)]
    training = dict(command="pretrain", method=method, data=source.name, epochs=epochs, seed=seed, batch_size=batch_size, lr=lr)
    training["model_kwargs"] = kwargs

    def meta(metrics: dict[str, Any]) -> dict[str, Any]:
        return {"class_names": None, "preprocessing": preprocessing(adapter, size, source), "training": training, "metrics": metrics}

    history: list[dict[str, Any]] = []
    ckpt = _LastCheckpoint(run, meta, history) if run.out is not None else None
    start, losses, steps = time.perf_counter(), {}, 0
    for stage, target in phases:
        freeze_for_stage(adapter, stage if method == "greedy" else None)
        job = Reconstruction(adapter, stage, target, decoder_for(adapter, stage, target, size))
        if ckpt is not None:
            ckpt.stage = stage
        try:
            result = Trainer(epochs=epochs, lr=lr, device=device, seed=seed, progress=progress, checkpoint=ckpt).fit(job, loader)
        finally:
            job.taps.remove()
        history += [{"stage": stage, **m} for m in result["history"]]
        losses[stage], steps = round(float(result["loss"]), 6), steps + result["steps"]
    freeze_for_stage(adapter, None)
    adapter.to("cpu")
    summary: dict[str, Any] = {"model": name, "method": method, "data": source.name, "epochs": epochs, "img_size": size}
    summary.update({"model_kwargs": kwargs} if kwargs else {})
    summary.update(train_images=len(loader.dataset), loss=losses[body[-1]], **({"stage_losses": losses} if method == "greedy" else {}))
    summary.update(steps=steps, seconds=round(time.perf_counter() - start, 3), history=history)
    run.finish(adapter, summary, meta({k: v for k, v in summary.items() if k != "history"}), ckpt)
    if run.out is not None:
        shutil.rmtree(run.out / "last", ignore_errors=True)  # the final model is complete; no resume needs it
        summary.pop("last", None)
    summary.setdefault("out", None)
    summary["command"] = f"zoo adapt {name} --head N --weights {shlex.quote(str(run.out))}" if run.out else None
    return summary
