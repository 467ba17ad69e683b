"""One training loop for every family: backbones and GANs.

The loop follows Lightning Fabric's "build your own trainer" and timm's ``train.py``:
:meth:`Trainer.fit` drives the epochs, the adapter's ``training_step`` yields one
:class:`zoo.adapters.Step` per optimizer update (a classifier yields one, a GAN yields a
discriminator step then a generator step), and ``validation_step`` gives summable
metrics. Mixed precision is chosen once (``autocast`` or a no-op context, a grad scaler
only for fp16). Callbacks are plain objects whose ``on_*`` methods are called if present.
Metrics go to a JSON-lines log (:mod:`zoo.fileio`), progress to the rich bar of
:func:`zoo.progress.progress_bar` on stderr.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from zoo.devices import amp_dtype, resolve_device
from zoo.errors import ZooError
from zoo.fileio import atomic_write_text
from zoo.progress import progress_bar

__all__ = ["Trainer", "check_training_args", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (all devices)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def check_training_args(
    *,
    device: str = "cpu",
    amp: str | None = None,
    epochs: int = 1,
    lr: float | None = None,
    batch_size: int = 1,
    max_minutes: float | None = None,
) -> torch.device:
    """Validate training options before any data is loaded or model built; returns the device.

    Errors about an argument name it as a ``{param}`` template (``epochs``, ``lr``,
    ``batch_size``, ``max_minutes``): the Python name in ``str(err)``, the flag in the CLI.

    Raises:
        ZooError: device not available here, unknown ``amp`` (both from
            :mod:`zoo.devices`), ``epochs < 1``, ``lr <= 0``, ``batch_size < 1`` or
            ``max_minutes <= 0`` (exit code 2 for usage errors).
    """
    dev = resolve_device(device)
    amp_dtype(amp)
    if epochs < 1:
        raise ZooError(f"{{param}} must be at least 1, got {epochs}", param="epochs", exit_code=2)
    if lr is not None and not lr > 0:
        raise ZooError(
            f"{{param}} must be a positive learning rate, got {lr}; typical: 1e-3 (AdamW), 2e-4 (GAN Adam)", param="lr", exit_code=2
        )
    if batch_size < 1:
        raise ZooError(f"{{param}} must be at least 1, got {batch_size}", param="batch_size", exit_code=2)
    if max_minutes is not None and not max_minutes > 0:
        raise ZooError(f"{{param}} must be positive, got {max_minutes}", param="max_minutes", exit_code=2)
    return dev


def _to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch


class Trainer:
    """Fit an adapter (backbone or GAN) with its own ``training_step``.

    Args:
        epochs: maximum number of passes over the training loader.
        max_minutes: stop after this wall time (minutes), checked after each batch; ``None`` = no limit.
        lr: learning rate passed to ``adapter.configure_optimizers`` (``None`` = the adapter's default).
        device: ``cpu``, ``cuda[:N]`` or ``mps``.
        amp: ``None`` (fp32), ``"bf16"`` or ``"fp16"`` autocast; fp16 also uses a grad scaler.
        log_path: JSON-lines file, one object per epoch (``epoch``, the mean training logs,
            validation metrics, ``seconds``), rewritten whole after each epoch
            (:func:`zoo.fileio.atomic_write_text`); ``None`` = no log.
        callbacks: objects with optional ``on_fit_start(trainer, adapter)``,
            ``on_epoch_end(trainer, adapter, epoch, metrics)``, ``on_fit_end(trainer, adapter, metrics)``.
        progress: show a rich progress bar on stderr.
        seed: seeds every generator before training.

    Attributes set by :meth:`fit`: ``optimizers`` (``{name: optimizer}`` from
    ``adapter.configure_optimizers``), ``schedulers`` (``{name:
    torch.optim.lr_scheduler.CosineAnnealingLR}``, empty for ``lr_schedule = "constant"``),
    ``history`` (one metrics dict per epoch), ``global_step`` (iterations done),
    ``stopped_early`` (the ``max_minutes`` budget ended training).

    Raises:
        ZooError: the device is not available, or an unknown ``amp``.
    """

    def __init__(
        self,
        *,
        epochs: int = 1,
        max_minutes: float | None = None,
        lr: float | None = None,
        device: str = "cpu",
        amp: str | None = None,
        log_path: str | Path | None = None,
        callbacks: Iterable[Any] = (),
        progress: bool = True,
        seed: int = 0,
    ) -> None:
        self.device = check_training_args(device=device, amp=amp, epochs=epochs, lr=lr, max_minutes=max_minutes)
        self.epochs = epochs
        self.max_seconds = None if max_minutes is None else max_minutes * 60.0
        self.lr = lr
        self.amp = amp
        dtype = amp_dtype(amp)
        self.autocast = (lambda: torch.autocast(device_type=self.device.type, dtype=dtype)) if dtype else contextlib.nullcontext
        self.log_path = Path(log_path) if log_path else None
        self.callbacks = list(callbacks)
        self.progress = progress
        self.seed = seed
        self.history: list[dict[str, Any]] = []
        self.global_step = 0
        self.stopped_early = False
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(self, *args)

    def fit(self, adapter: Any, train_loader: Any, val_loader: Any = None) -> dict[str, Any]:
        """Train ``adapter`` and return the last epoch's metrics plus ``history`` and ``seconds``.

        Each epoch: ``adapter.train()``, every batch moved to the device, every yielded step
        back-propagated and its optimizer stepped; then, with a ``val_loader``,
        ``adapter.eval()`` and ``validation_step`` under ``torch.inference_mode``.

        The learning rate decays per optimizer step with
        ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=epochs * len(train_loader))``,
        from the optimizer's lr to 0 at the last step (SGDR without restarts, Loshchilov &
        Hutter 2017), unless the adapter sets ``lr_schedule = "constant"``. With fp16 a
        ``torch.amp.GradScaler`` scales every step's loss and is updated once per batch,
        after every optimizer of that batch has stepped.
        """
        seed_everything(self.seed)
        adapter.model.to(self.device)
        optimizers = adapter.configure_optimizers(self.lr) if self.lr is not None else adapter.configure_optimizers()
        total_steps = max(1, self.epochs * len(train_loader))
        schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        if getattr(adapter, "lr_schedule", "cosine") == "cosine":
            schedulers = {name: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps) for name, opt in optimizers.items()}
        self.optimizers, self.schedulers = optimizers, schedulers
        scaler = torch.amp.GradScaler(self.device.type) if self.amp == "fp16" else None
        self._call("on_fit_start", adapter)
        start = time.perf_counter()
        metrics: dict[str, Any] = {}
        # With a wall-time budget the bar tracks seconds (the epochs may not all run).
        bar_total = math.ceil(self.max_seconds) if self.max_seconds else total_steps
        with progress_bar(enabled=self.progress, kind="steps", fields=True) as bar:
            task = bar.add_task("train", total=bar_total, logs="") if bar is not None else None
            for epoch in range(1, self.epochs + 1):
                adapter.train()
                sums: dict[str, float] = {}
                n = 0
                for batch in train_loader:
                    batch = _to(batch, self.device)
                    steps = adapter.training_step(batch)
                    while True:
                        with self.autocast():  # forward passes only; backward runs outside autocast
                            step = next(steps, None)
                        if step is None:
                            break
                        opt = optimizers[step.optimizer]
                        opt.zero_grad(set_to_none=True)
                        if scaler is not None:
                            scaler.scale(step.loss).backward()
                            scaler.step(opt)
                        else:
                            step.loss.backward()
                            opt.step()
                        if step.optimizer in schedulers:
                            schedulers[step.optimizer].step()
                        for k, v in step.logs.items():
                            sums[k] = sums.get(k, 0.0) + float(v)
                    if scaler is not None:
                        scaler.update()  # once per iteration, after every optimizer stepped
                    n += 1
                    self.global_step += 1
                    if bar is not None:
                        logs = " ".join(f"{k}={v / n:.3f}" for k, v in list(sums.items())[:4])
                        if self.max_seconds:
                            done = min(bar_total, int(time.perf_counter() - start))
                            bar.update(task, completed=done, description=f"epoch {epoch}", logs=logs)
                        else:
                            bar.update(task, advance=1, description=f"epoch {epoch}/{self.epochs}", logs=logs)
                    if self.max_seconds is not None and time.perf_counter() - start > self.max_seconds:
                        self.stopped_early = True
                        break
                metrics = {"epoch": epoch, **{k: v / max(n, 1) for k, v in sums.items()}}
                if val_loader is not None:
                    metrics.update(self.evaluate(adapter, val_loader))
                metrics["seconds"] = round(time.perf_counter() - start, 3)
                self.history.append(metrics)
                self._log(metrics)
                self._call("on_epoch_end", adapter, epoch, metrics)
                if self.stopped_early:
                    break
        adapter.eval()
        result = dict(metrics)
        result["history"] = self.history
        result["seconds"] = round(time.perf_counter() - start, 3)
        result["steps"] = self.global_step
        self._call("on_fit_end", adapter, result)
        return result

    def evaluate(self, adapter: Any, loader: Any) -> dict[str, float]:
        """Summed ``validation_step`` metrics turned into ``adapter.summarize`` values
        (``val_loss``, ``val_accuracy`` in 0..1 for classifiers)."""
        adapter.eval()
        totals: dict[str, float] = {}
        with torch.inference_mode(), self.autocast():
            for batch in loader:
                for k, v in adapter.validation_step(_to(batch, self.device)).items():
                    totals[k] = totals.get(k, 0.0) + float(v)
        return adapter.summarize(totals)

    def _log(self, metrics: dict[str, Any]) -> None:
        # The whole log is rewritten each epoch so the file is always whole (zoo.fileio).
        if self.log_path is not None:
            atomic_write_text(self.log_path, "".join(json.dumps(m) + "\n" for m in self.history))
