"""Watching a training run: one line per epoch, and the run's TensorBoard event files.

* :func:`epoch_line`: what :class:`zoo.training.trainer.Trainer` prints above its progress bar
  after each epoch (``epoch 3/10  loss 0.4123  val_accuracy 0.918  lr 0.0009045  4.2 s  best``).
* :func:`lr_values`: the optimizers' learning rates as logged (``lr``, or ``lr_NAME`` when they differ).
* :func:`window_means`: the mean of each logged value since the previous read, from the
  trainer's running sums (no device sync of its own).
* :class:`TensorBoardLog`: a run directory's TensorBoard event files
  (:class:`torch.utils.tensorboard.SummaryWriter`): ``train/*`` scalars at most every few
  seconds (by iteration), ``epoch/*`` scalars per epoch, GAN sample grids per epoch, the run's
  options as hparams; ``tensorboard --logdir runs`` shows every run.

Importing this module does not import torch (the writer is made in :meth:`TensorBoardLog.open`).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo.errors import first_line, warn
from zoo.utils.dist import is_main_process

__all__ = ["EVENTS_GLOB", "LINE_LOGS", "TensorBoardLog", "cut_line", "epoch_line", "lr_values", "window_means"]

#: The file names of TensorBoard event files (``events.out.tfevents.<time>.<host>.<pid>.<n>``).
EVENTS_GLOB = "events.out.tfevents.*"
#: Training logs shown in the per-epoch line besides every ``*loss*`` (all of them go to TensorBoard).
LINE_LOGS = ("acc", "mse", "psnr")


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def epoch_line(metrics: Mapping[str, Any], *, epochs: int, seconds: float, best: bool = False) -> str:
    """One epoch as one line: ``epoch 3/10``, the training losses (every ``*loss*`` log and
    :data:`LINE_LOGS`; the first four logs when none is a loss), the validation metrics
    (``val_*``), the learning rate(s), the epoch's wall time, and ``best`` when ``best/`` now
    holds this epoch.

    Args:
        metrics: one entry of the trainer's history (``epoch``, mean logs, ``val_*``, ``lr``...).
        epochs: the run's planned number of epochs.
        seconds: the epoch's own wall time (training, validation and saving), seconds.
        best: this epoch became the best.
    """
    width = len(str(epochs))
    logs = [k for k in metrics if k not in ("epoch", "seconds") and not k.startswith(("val_", "lr"))]
    shown = [k for k in logs if "loss" in k or k in LINE_LOGS] or logs[:4]
    shown += [k for k in metrics if k.startswith("val_")] + [k for k in metrics if k == "lr" or k.startswith("lr_")]
    parts = [f"epoch {metrics['epoch']:>{width}}/{epochs}", *(f"{k} {_num(metrics[k])}" for k in shown), f"{seconds:.1f} s"]
    if best:
        parts.append("best")
    return "  ".join(parts)


def cut_line(epoch: int, epochs: int, step: int, steps: int, minutes: float) -> str:
    """The line for an epoch the time limit cut: ``epoch 2/10  cut at step 7/8: the time limit (0.5 min) is up``."""
    return f"epoch {epoch:>{len(str(epochs))}}/{epochs}  cut at step {step}/{steps}: the time limit ({minutes:g} min) is up"


def lr_values(optimizers: Mapping[str, Any]) -> dict[str, float]:
    """The learning rate of each optimizer (the largest of its parameter groups: the head's under
    ``--lr-decay``): ``{"lr": value}`` when they are all equal, else ``{"lr_NAME": value}``."""
    rates = {name: max(float(g["lr"]) for g in opt.param_groups) for name, opt in optimizers.items() if opt.param_groups}
    if len(set(rates.values())) <= 1:
        return {"lr": next(iter(rates.values()))} if rates else {}
    return {f"lr_{name}": v for name, v in rates.items()}


def window_means(
    sums: Mapping[str, float], counts: Mapping[str, int], before: tuple[Mapping[str, float], Mapping[str, int]] | None
) -> dict[str, float]:
    """The mean of each logged value over the steps since ``before`` (the ``(sums, counts)`` of the
    previous read in the same epoch, or ``None``): ``(sums - before_sums) / (counts - before_counts)``;
    values not logged since are left out."""
    old_sums, old_counts = before or ({}, {})
    out = {}
    for k, total in sums.items():
        n = counts.get(k, 0) - old_counts.get(k, 0)
        if n > 0:
            out[k] = (total - old_sums.get(k, 0.0)) / n
    return out


def _flat(options: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """hparams: nested options as ``a.b`` keys; numbers, booleans and strings kept, lists joined, ``None`` left out."""
    out: dict[str, Any] = {}
    for k, v in options.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{key}."))
        elif isinstance(v, (list, tuple)):
            out[key] = ",".join(str(x) for x in v)
        elif isinstance(v, (bool, int, float, str)):
            out[key] = v
        elif v is not None:
            out[key] = str(v)
    return out


class TensorBoardLog:
    """The TensorBoard event files of one run directory, written by rank 0 only.

    Nothing is written until :meth:`open` (called by the trainer when its fit starts); on
    other ranks of a torchrun job :meth:`open` does nothing and every method is a no-op.
    Tags: ``train/NAME`` (mean of each training log over the steps since the previous point,
    and ``train/lr``; x axis: iterations done), ``epoch/NAME`` (each epoch's metrics, x axis:
    the epoch), ``samples`` (GAN grids, x axis: the epoch), and the run's ``options`` as
    hparams (TensorBoard's HPARAMS tab, with the ``epoch/*`` metrics).

    A resumed run (``purge_step``: the first iteration it redoes) writes a new event file in
    the same directory whose start hides the earlier file's points from that iteration on, so
    the steps of an epoch that was cut and is being redone appear once.

    A failure to write (disk full, read-only directory, no tensorboard package) is one
    warning, after which the run goes on without TensorBoard; checkpoints report their own
    write errors.

    Args:
        directory: the run directory (created when missing).
        options: the run's options (``epochs``, ``batch_size``, ``lr``, build options...), as hparams.
        purge_step: for a resumed run, ``global_step + 1`` of its checkpoint; ``None`` for a new run.
        flush_secs: at most how long points wait in memory before being written, seconds
            (every epoch's end flushes too).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        options: Mapping[str, Any] | None = None,
        purge_step: int | None = None,
        flush_secs: int = 10,
    ) -> None:
        self.directory = Path(directory)
        self.options = _flat(options or {})
        self.purge_step, self.flush_secs = purge_step, flush_secs
        self.writer: Any = None
        self.files: list[Path] = []  # the event files this log created
        self._made_dir = False
        self._hparams = False

    def open(self) -> None:
        """Create the event file (rank 0 only; at most once)."""
        if self.writer is not None or self.files or not is_main_process():
            return
        self._made_dir = not self.directory.exists()
        before = set() if self._made_dir else set(self.directory.glob(EVENTS_GLOB))
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(self.directory), purge_step=self.purge_step, flush_secs=self.flush_secs)
        except Exception as exc:  # watching must never stop training: one warning
            self._failed(exc)
        self.files = [p for p in self.directory.glob(EVENTS_GLOB) if p not in before] if self.directory.is_dir() else []

    def _failed(self, exc: BaseException) -> None:
        warn(f"TensorBoard logging stopped: cannot write in {self.directory} ({first_line(exc)}); training goes on")
        writer, self.writer = self.writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()

    def _write(self, fn: str, *args: Any, **kwargs: Any) -> None:
        if self.writer is None:
            return
        try:
            getattr(self.writer, fn)(*args, **kwargs)
        except Exception as exc:  # an error of the writer's thread surfaces here
            self._failed(exc)

    def step(self, step: int, values: Mapping[str, float]) -> None:
        """``train/NAME`` points at iteration ``step`` (``values``: window means and ``lr``)."""
        for k, v in values.items():
            self._write("add_scalar", f"train/{k}", v, step)

    def epoch(self, epoch: int, metrics: Mapping[str, Any]) -> None:
        """``epoch/NAME`` points of one epoch's metrics (numbers only), the hparams with the first
        epoch of this process, then a flush."""
        values = {k: float(v) for k, v in metrics.items() if k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool)}
        for k, v in values.items():
            self._write("add_scalar", f"epoch/{k}", v, epoch)
        if not self._hparams and self.writer is not None:
            self._hparams = True
            from torch.utils.tensorboard.summary import hparams

            exp, ssi, _ = hparams(self.options, {f"epoch/{k}": (0.0 if math.isnan(v) else v) for k, v in values.items()})
            for summary in (exp, ssi):
                self._write_summary(summary)
        self._write("flush")

    def _write_summary(self, summary: Any) -> None:
        if self.writer is None:
            return
        try:
            self.writer.file_writer.add_summary(summary)
        except Exception as exc:
            self._failed(exc)

    def image(self, tag: str, pixels: Any, step: int) -> None:
        """One image (``(3, H, W)`` uint8 tensor, a sample grid) under ``tag`` at ``step`` (the epoch)."""
        self._write("add_image", tag, pixels, step, dataformats="CHW")

    def close(self, *, keep: bool = True) -> None:
        """Flush and close the event file. ``keep=False`` (the run saved nothing: Ctrl-C or an
        error before its first epoch) removes the files this log created, and the directory
        when this log created it and nothing else is in it."""
        writer, self.writer = self.writer, None
        if writer is not None:
            with contextlib.suppress(Exception):  # a failed flush at the end: the earlier points are on disk
                writer.close()
        if not keep:
            for f in self.files:
                f.unlink(missing_ok=True)
            if self._made_dir:
                with contextlib.suppress(OSError):
                    self.directory.rmdir()
