"""One training loop for every family: backbones and GANs.

The loop follows Lightning Fabric's "build your own trainer" and timm's ``train.py``:
:meth:`Trainer.fit` drives the epochs, the adapter's ``training_step`` yields one
:class:`zoo.models.adapters.Step` per optimizer update (a classifier yields one, a GAN yields a
discriminator step then a generator step, LAPGAN one pair per level), and
``validation_step`` gives summable metrics. The trainer owns the optimisation state
(optimizers and schedulers built from the adapter's :class:`zoo.models.optim.OptimizerConfig`,
the grad scaler, ``n_critic``), so no adapter rebuilds it. Mixed precision is chosen once (``autocast`` or a no-op context, a grad scaler
only for fp16). Callbacks are plain objects whose ``on_*`` methods are called if present.
Metrics go to a strict JSON-lines log (:mod:`zoo.utils.fileio`), progress to the rich bar of
:func:`zoo.utils.progress.progress_bar` on stderr.

Nothing is lost (issue 10):

* **Checkpoints and resume.** With a ``checkpoint`` (:class:`zoo.training.resume.RunCheckpoints`)
  the trainer saves after every complete epoch; :meth:`Trainer.state_dict` is everything
  needed to continue exactly: optimizers, schedulers, grad scaler, counters, history, and
  the RNG states (Python, NumPy, torch CPU, CUDA when initialised, the data loader's
  generator, so the shuffled order continues). ``fit(..., resume=state)`` restores them:
  on the CPU, 4 epochs equal 2 epochs plus 2 resumed ones, bit for bit.
* **Ctrl-C** raises :class:`TrainingInterrupted` (a :class:`ZooError` with exit code 130,
  and a ``KeyboardInterrupt``) saying where the last complete epoch is and how to resume;
  an epoch that had ended but whose save was cut short is saved first.
* **Divergence.** Every step's loss is checked on the device without a sync: the first
  non-finite step's index is folded into a device tensor (``torch.minimum``), read with
  the logs once per epoch and at most every 2 s (:data:`CHECK_EVERY_S`). A NaN at step k
  therefore stops training up to 2 s later, or at the end of a short epoch, and that epoch
  is not saved: :class:`TrainingDiverged` names the epoch, step and optimizer, and the
  last finite checkpoint is kept. A sync per step would cost GPU throughput; checking only
  at epoch ends would waste long epochs.

Several processes (``torchrun``): DDP wrappers while ``training_step`` runs, gathered logs,
agreed stops, rank 0 saves, logs and shows the bar (:class:`zoo.training.distributed.Replicas`).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zoo.errors import ZooError
from zoo.training.distributed import Replicas
from zoo.training.resume import NO_BAD_STEP, TrainingDiverged, TrainingInterrupted, check_finite, interrupted, restore_training, rng_state
from zoo.utils.devices import amp_dtype, resolve_device
from zoo.utils.dist import check_batch_size, context, local_device
from zoo.utils.fileio import atomic_write_text, dumps_strict
from zoo.utils.progress import progress_bar
from zoo.utils.seeding import check_seed, seed_everything

if TYPE_CHECKING:
    from zoo.models.protocols import Adapter

__all__ = ["CHECK_EVERY_S", "Trainer", "TrainingDiverged", "TrainingInterrupted", "check_training_args"]

#: Seconds between reads of the non-finite-loss flag within an epoch (one device sync each).
CHECK_EVERY_S = 2.0


def check_training_args(
    *,
    device: str = "cpu",
    amp: str | None = None,
    epochs: int = 1,
    lr: float | None = None,
    batch_size: int | None = None,
    max_minutes: float | None = None,
    seed: int | None = None,
) -> torch.device:
    """Validate training options before any data is loaded or model built; returns the device.

    Errors about an argument name it as a ``{param}`` template (``epochs``, ``lr``,
    ``batch_size``, ``max_minutes``): the Python name in ``str(err)``, the flag in the CLI.
    Under torchrun ``batch_size`` is the global batch, split evenly over the processes.

    Raises:
        ZooError: device not available here, unknown ``amp`` (both from
            :mod:`zoo.utils.devices`), ``epochs < 1``, ``lr <= 0``, ``batch_size < 1`` or not a
            multiple of the number of processes, ``max_minutes <= 0``, ``seed`` outside 0..2**32-1
            (exit code 2 for usage errors).
    """
    dev = resolve_device(device)
    amp_dtype(amp)
    if epochs < 1:
        raise ZooError(f"{{param}} must be at least 1, got {epochs}", param="epochs", exit_code=2)
    if lr is not None and not 0 < lr < math.inf:
        raise ZooError(
            f"{{param}} must be a positive learning rate, got {lr}; typical: 1e-3 (AdamW), 2e-4 (GAN Adam)", param="lr", exit_code=2
        )
    check_seed(seed)  # the one seed rule (zoo.utils.seeding)
    if batch_size is not None:
        if batch_size < 1:
            raise ZooError(f"{{param}} must be at least 1, got {batch_size}", param="batch_size", exit_code=2)
        check_batch_size(batch_size, context().world_size)
    if max_minutes is not None and not 0 < max_minutes < math.inf:
        raise ZooError(f"{{param}} must be positive, got {max_minutes}", param="max_minutes", exit_code=2)
    return dev


def _host(sums: dict[str, torch.Tensor]) -> dict[str, float]:
    """The logged sums as floats: one device-to-host copy for all of them."""
    if not sums:
        return {}
    keys = list(sums)
    return dict(zip(keys, torch.stack([sums[k].to("cpu", torch.float32).reshape(()) for k in keys]).tolist(), strict=True))


def _logs_text(sums: dict[str, torch.Tensor], counts: dict[str, int]) -> str:
    return " ".join(f"{k}={v / counts[k]:.3f}" for k, v in list(_host(sums).items())[:4])


def _to(batch: Any, device: torch.device, channels_last: bool = False) -> Any:
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        if channels_last and batch.ndim == 4 and batch.is_floating_point():
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device, channels_last) for b in batch)
    if isinstance(batch, dict):
        return {k: _to(v, device, channels_last) for k, v in batch.items()}
    return batch


class Trainer:
    """Fit an adapter (backbone or GAN) with its own ``training_step``.

    Args:
        epochs: the run's total number of passes over the training loader.
        max_minutes: stop after this wall time (minutes), checked after each batch; ``None`` = no limit.
        lr: learning rate passed to ``adapter.configure_optimizers`` (``None`` = the adapter's default).
        device: ``cpu``, ``cuda[:N]`` or ``mps`` (under torchrun ``cuda`` is ``cuda:LOCAL_RANK``).
        amp: ``None`` (fp32), ``"bf16"`` or ``"fp16"`` autocast; fp16 also uses a grad scaler.
        channels_last: train in the NHWC memory format (``torch.channels_last``): the
            networks and every 4-D float batch are converted (PyTorch's channels-last
            tutorial); the weights saved are the same numbers.
        log_path: JSON-lines file, one strict-JSON object per epoch (``epoch``, the mean
            training logs, validation metrics, ``seconds``), rewritten whole after each epoch
            (:func:`zoo.utils.fileio.atomic_write_text`); ``None`` = no log.
        callbacks: objects with optional ``on_fit_start(trainer, adapter)``,
            ``on_optimizer_step(trainer, adapter, optimizer_name)``,
            ``on_epoch_end(trainer, adapter, epoch, metrics)``, ``on_fit_end(trainer, adapter, metrics)``.
        progress: show a rich progress bar on stderr.
        seed: seeds every generator before training.
        checkpoint: saves each complete epoch: an object with ``save(trainer, adapter, epoch,
            metrics)``, ``last_dir``, ``saved_epoch`` and ``resume_command``
            (:class:`zoo.training.resume.RunCheckpoints`), called after the callbacks'
            ``on_epoch_end``; ``None`` = no checkpoints. An epoch cut short by
            ``max_minutes`` is not saved (``last`` holds complete epochs only).

    Attributes set by :meth:`fit`: ``optimizers`` (``{name: torch.optim.Optimizer}`` built
    from ``adapter.configure_optimizers``), ``schedulers`` (``{name: LR scheduler}`` for the
    optimizers whose schedule is not constant), ``scaler`` (fp16), ``history`` (one metrics
    dict per epoch), ``epoch`` (the last complete epoch), ``global_step`` (iterations done),
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
        checkpoint: Any = None,
        channels_last: bool = False,
    ) -> None:
        self.device = local_device(check_training_args(device=device, amp=amp, epochs=epochs, lr=lr, max_minutes=max_minutes))
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
        self.checkpoint = checkpoint
        self.channels_last = bool(channels_last)
        self.history: list[dict[str, Any]] = []
        self.epoch = 0
        self.global_step = 0
        self.stopped_early = False
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self.scaler: torch.amp.GradScaler | None = None
        self._loader: Any = None
        self._position = (1, 0)
        self._seconds = 0.0  # training seconds of earlier invocations (resume)
        self._start = time.perf_counter()
        self._lr_used: float | None = None
        self.replicas: Replicas | None = None  # during fit (zoo.training.distributed)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(self, *args)

    # -- state ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The training state after the last complete epoch, for :meth:`fit`'s ``resume``.

        Returns:
            ``{"epoch", "epochs", "global_step", "seconds", "history", "amp", "optimizers":
            {name: state_dict}, "schedulers": {name: state_dict}, "scaler": state_dict | None,
            "rng": rng_state(loader)}``; tensors are the live ones (copy before training on).
        """
        return {
            "epoch": self.epoch,
            "epochs": self.epochs,
            "global_step": self.global_step,
            "seconds": round(self._seconds + time.perf_counter() - self._start, 3),
            "history": self.history,
            "amp": self.amp,
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": rng_state(self._loader),
        }

    # -- training ------------------------------------------------------------------
    def fit(self, adapter: Adapter, train_loader: Any, val_loader: Any = None, *, resume: dict[str, Any] | None = None) -> dict[str, Any]:
        """Train ``adapter`` and return the last epoch's metrics plus ``history``, ``seconds``, ``steps``
        and ``stopped_early`` (``max_minutes`` ended training before the last epoch).

        The trainer owns the optimisation state: it builds ``adapter.configure_optimizers(lr)``
        (``{name: zoo.models.optim.OptimizerConfig}``) into ``torch.optim`` optimizers and their
        schedulers (:func:`zoo.models.optim.build_scheduler`: constant, cosine, or linear decay after
        N epochs), and the grad scaler (fp16 only). Each iteration (batch):

        1. the batch moves to the device; ``adapter.training_step(batch, ctx)`` gets a
           :class:`zoo.models.gan.StepContext` whose ``update_generator`` is true on every
           ``adapter.n_critic``-th iteration (``(iteration + 1) % n_critic == 0``, as
           yunjey/stargan ``solver.py``; always with ``n_critic == 1``);
        2. every yielded :class:`zoo.models.adapters.Step` is computed under autocast, its loss
           back-propagated (scaled under fp16) and its optimizer stepped before the next step
           is asked for; then ``adapter.on_optimizer_step(name)`` and the callbacks'
           ``on_optimizer_step(trainer, adapter, name)`` run (EMA, weight clipping...);
        3. the scaler is updated once, and every scheduler steps once.

        Before each epoch, ``adapter.on_epoch_start(epoch)`` runs when the adapter has one
        (``zoo adapt --strategy gradual`` unfreezes a stage there); the optimizers were built
        once, so such an adapter keeps the parameters it unfreezes in them from the start.

        Logged values are summed as tensors on the device and read once per epoch (no device
        sync per step); the progress bar's loss text and the non-finite-loss flag are read at
        most every 2 s. After each epoch, with a ``val_loader``, ``validation_step`` runs in
        eval mode under ``torch.inference_mode``; then the callbacks, then the checkpoint.

        Args:
            adapter, train_loader, val_loader: what to train, on what, validated on what.
            resume: a :meth:`state_dict` of this run (with the model's weights already
                loaded into ``adapter``): training continues after its epoch, exactly.

        Raises:
            ZooError: a step names an optimizer the adapter did not configure, every
                parameter is frozen, ``resume`` does not fit (:func:`zoo.training.resume.restore_training`),
                or another process of a torchrun job failed.
            TrainingDiverged: a loss became NaN or infinite.
            TrainingInterrupted: Ctrl-C.
        """
        from zoo.training.optim import build_optimizer, build_scheduler

        seed_everything(self.seed)
        (adapter.to if hasattr(adapter, "to") else adapter.model.to)(self.device)
        if self.channels_last:
            adapter.model.to(memory_format=torch.channels_last)
        configs = adapter.configure_optimizers(self.lr) if self.lr is not None else adapter.configure_optimizers()
        iters = max(1, len(train_loader))
        self.optimizers = {name: build_optimizer(name, cfg) for name, cfg in configs.items()}
        self.schedulers = {}
        for name, cfg in configs.items():
            sched = build_scheduler(self.optimizers[name], cfg.schedule, iters_per_epoch=iters, epochs=self.epochs)
            if sched is not None:
                self.schedulers[name] = sched
        self._lr_used = next(iter(configs.values())).lr if configs else self.lr
        self.scaler = torch.amp.GradScaler(self.device.type) if self.amp == "fp16" else None
        self._loader = train_loader
        first = restore_training(self, resume) if resume is not None else 1
        self.replicas = Replicas(self.device, check_every_s=CHECK_EVERY_S)
        self.checkpoint = self.replicas.checkpoint(self.checkpoint)  # rank 0 saves
        self._call("on_fit_start", adapter)
        self._start = time.perf_counter()
        metrics: dict[str, Any] = {}
        try:
            with self.replicas.running(adapter):  # another process's failure: one line here too
                metrics = self._epochs(adapter, train_loader, val_loader, first, iters)
        except KeyboardInterrupt as exc:
            if isinstance(exc, TrainingInterrupted):
                raise
            raise interrupted(self, adapter) from None
        finally:
            self.replicas = None
        adapter.eval()
        result = dict(metrics)
        result["history"] = self.history
        result["seconds"] = round(self._seconds + time.perf_counter() - self._start, 3)
        result["steps"] = self.global_step
        result["stopped_early"] = self.stopped_early
        self._call("on_fit_end", adapter, result)
        return result

    def _epochs(self, adapter: Adapter, train_loader: Any, val_loader: Any, first: int, iters: int) -> dict[str, Any]:
        from zoo.models.gan import StepContext
        from zoo.training.optim import step_scheduler

        optimizers, schedulers, scaler = self.optimizers, self.schedulers, self.scaler
        names = list(optimizers)
        n_critic = max(1, int(getattr(adapter, "n_critic", 1)))
        after_step = getattr(adapter, "on_optimizer_step", None)
        start = self._start
        metrics: dict[str, Any] = {}
        replicas = self.replicas
        # With a wall-time budget the bar tracks seconds (the epochs may not all run).
        bar_total = math.ceil(self.max_seconds) if self.max_seconds else (self.epochs - first + 1) * iters
        with progress_bar(enabled=self.progress and replicas.is_main, kind="steps", fields=True) as bar:
            task = bar.add_task("train", total=bar_total, logs="") if bar is not None else None
            shown = checked = time.perf_counter()
            for epoch in range(first, self.epochs + 1):
                self._position = (epoch, 0)
                if hasattr(adapter, "on_epoch_start"):  # e.g. gradual unfreezing, before DDP re-wraps
                    adapter.on_epoch_start(epoch)
                replicas.start_epoch(adapter, train_loader, epoch, self.seed)
                adapter.train()
                sums: dict[str, torch.Tensor] = {}
                counts: dict[str, int] = {}
                bad = torch.full((), NO_BAD_STEP, dtype=torch.int64, device=self.device)
                for i, batch in enumerate(train_loader):
                    self._position = (epoch, i + 1)
                    batch = _to(batch, self.device, self.channels_last)
                    ctx = StepContext(
                        iteration=self.global_step, epoch=epoch, update_generator=(self.global_step + 1) % n_critic == 0, scaler=scaler
                    )
                    steps = adapter.training_step(batch, ctx)
                    while True:
                        with self.autocast(), replicas.forward(adapter):  # forward passes (DDP wrappers in); backward outside autocast
                            step = next(steps, None)
                        if step is None:
                            break
                        opt = optimizers.get(step.optimizer)
                        if opt is None:
                            raise ZooError(
                                f"{adapter.spec.name}: training_step used optimizer {step.optimizer!r}, "
                                f"but configure_optimizers() gives {', '.join(optimizers)}"
                            )
                        # first non-finite step, on the device: 2 * (i * K + k) + is_inf
                        loss = step.loss.detach()
                        code = 2 * (i * len(names) + names.index(step.optimizer)) + torch.isinf(loss).any().long()
                        bad = torch.minimum(bad, torch.where(torch.isfinite(loss).all(), NO_BAD_STEP, code))
                        opt.zero_grad(set_to_none=True)
                        if scaler is not None:
                            scaler.scale(step.loss).backward()
                            scaler.step(opt)
                        else:
                            step.loss.backward()
                            opt.step()
                        if after_step is not None:
                            after_step(step.optimizer)
                        self._call("on_optimizer_step", adapter, step.optimizer)
                        for k, v in step.logs.items():
                            v = v.detach().float() if isinstance(v, torch.Tensor) else torch.tensor(float(v))
                            sums[k] = sums[k] + v if k in sums else v.clone()
                            counts[k] = counts.get(k, 0) + 1
                    if scaler is not None:
                        scaler.update()  # once per iteration, after every optimizer stepped
                    for sched in schedulers.values():
                        step_scheduler(sched)  # once per iteration, whichever optimizers stepped
                    self.global_step += 1
                    now = time.perf_counter()
                    over = self.max_seconds is not None and now - start > self.max_seconds
                    if replicas.active:  # every process checks, and stops, at the same iterations
                        flag, over = replicas.poll(bad, over, now - start)
                        if flag is not None:
                            check_finite(self, flag, epoch, names)
                    elif now - checked >= CHECK_EVERY_S:  # one device sync every 2 s at most
                        checked = now
                        check_finite(self, int(bad), epoch, names)
                    if bar is not None:
                        fields = {}
                        if now - shown >= 2.0:
                            shown = now
                            fields["logs"] = _logs_text(sums, counts)
                        if self.max_seconds:
                            bar.update(task, completed=min(bar_total, int(now - start)), description=f"epoch {epoch}", **fields)
                        else:
                            bar.update(task, advance=1, description=f"epoch {epoch}/{self.epochs}", **fields)
                    if over:
                        self.stopped_early = True
                        break
                logged, n, flag = replicas.gather_logs(_host(sums), counts, int(bad))
                metrics = {"epoch": epoch, **{k: v / n[k] for k, v in logged.items()}}
                check_finite(self, flag, epoch, names)
                if val_loader is not None:
                    metrics.update(self.evaluate(adapter, val_loader))
                metrics["seconds"] = round(self._seconds + time.perf_counter() - start, 3)
                self.history.append(metrics)
                self._log(metrics)
                self._call("on_epoch_end", adapter, epoch, metrics)
                if not self.stopped_early:
                    self.epoch = epoch
                    if self.checkpoint is not None:
                        self.checkpoint.save(self, adapter, epoch, metrics)
                if bar is not None:
                    bar.update(task, logs=_logs_text(sums, counts))
                if self.stopped_early:
                    break
        return metrics

    def evaluate(self, adapter: Adapter, loader: Any) -> dict[str, float]:
        """Summed ``validation_step`` metrics (during a torchrun fit, over every process's shard)
        turned into ``adapter.summarize`` values (``val_loss``, ``val_accuracy`` in 0..1 for classifiers)."""
        adapter.eval()
        totals: dict[str, float] = {}
        with torch.inference_mode(), self.autocast():
            for batch in loader:
                for k, v in adapter.validation_step(_to(batch, self.device, self.channels_last)).items():
                    totals[k] = totals.get(k, 0.0) + float(v)
        return adapter.summarize(self.replicas.gather_totals(totals) if self.replicas else totals)

    def _log(self, metrics: dict[str, Any]) -> None:
        # The whole log is rewritten each epoch so the file is always whole (zoo.utils.fileio);
        # strict JSON: a non-finite value is null, with a "nonfinite" note.
        if self.log_path is not None and (self.replicas is None or self.replicas.is_main):
            atomic_write_text(self.log_path, "".join(dumps_strict(m) + "\n" for m in self.history))
