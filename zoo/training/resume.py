"""The trainer's side of "nothing lost": resuming exactly, and the errors that end
training early (Ctrl-C, a diverged loss).

* :func:`rng_state` / :func:`set_rng_state`: every generator training draws on (Python,
  NumPy, torch CPU, CUDA, MPS, the data loader's), so the shuffled order continues.
* :func:`restore_training`, :func:`check_finite`, :func:`interrupted`: the trainer's resume,
  divergence and Ctrl-C logic (:class:`zoo.training.trainer.Trainer` calls them).

Run directories (``last/``, ``best/``, the ``--out`` policy, resumed options) are
:mod:`zoo.training.runs`; the checkpoint files :mod:`zoo.io.checkpoint`.

This module imports torch; import it lazily.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import torch

from zoo.errors import ZooError

if TYPE_CHECKING:
    from zoo.models.protocols import Adapter

__all__ = [
    "NO_BAD_STEP",
    "TrainingDiverged",
    "TrainingInterrupted",
    "check_finite",
    "interrupted",
    "restore_training",
    "rng_state",
    "set_rng_state",
]
#: The trainer's divergence flag when no loss has been non-finite.
NO_BAD_STEP = 2**62


# ---------------------------------------------------------------------------------
# errors that end training early
# ---------------------------------------------------------------------------------
class TrainingInterrupted(ZooError, KeyboardInterrupt):
    """Ctrl-C stopped training (exit code 130). Still a ``KeyboardInterrupt`` for Python callers.

    Attributes:
        epoch, step: where training was (1-based; ``step`` within the epoch).
        saved_epoch: the last complete epoch saved, or ``None``.
    """

    def __init__(self, message: str, *, epoch: int, step: int, saved_epoch: int | None) -> None:
        super().__init__(message, exit_code=130)
        self.epoch, self.step, self.saved_epoch = epoch, step, saved_epoch


class TrainingDiverged(ZooError):
    """A loss became NaN or infinite (exit code 1); the last finite checkpoint is kept.

    Attributes:
        epoch, step: the first non-finite step (1-based; ``step`` within the epoch).
        optimizer: the optimizer of that step (``"generator"``, ``"model"``...).
        value: ``"nan"`` or ``"inf"``.
        saved_epoch: the last (finite) epoch saved, or ``None``.
    """

    def __init__(self, message: str, *, epoch: int, step: int, optimizer: str, value: str, saved_epoch: int | None) -> None:
        super().__init__(message, param="lr")
        self.epoch, self.step, self.optimizer, self.value, self.saved_epoch = epoch, step, optimizer, value, saved_epoch


# ---------------------------------------------------------------------------------
# RNG states
# ---------------------------------------------------------------------------------
def _loader_generators(loader: Any) -> dict[str, torch.Generator]:
    """The generators that decide a loader's order: its own (``generator=``, also drawn on
    for worker seeds) and its sampler's, when that is another object."""
    gens = {}
    if isinstance(getattr(loader, "generator", None), torch.Generator):
        gens["loader"] = loader.generator
    sampler_gen = getattr(getattr(loader, "sampler", None), "generator", None)
    if isinstance(sampler_gen, torch.Generator) and sampler_gen is not gens.get("loader"):
        gens["sampler"] = sampler_gen
    return gens


def rng_state(loader: Any = None) -> dict[str, Any]:
    """Every RNG state training draws on: Python ``random``, NumPy's global generator, torch
    on the CPU, CUDA (when initialised), MPS, and ``loader``'s generators (:func:`set_rng_state`)."""
    import random

    import numpy as np

    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    if hasattr(torch, "mps") and torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    for key, gen in _loader_generators(loader).items():
        state[key] = gen.get_state()
    return state


def set_rng_state(state: dict[str, Any], loader: Any = None) -> None:
    """Restore what :func:`rng_state` returned (CUDA and MPS states where those devices are here)."""
    import random

    import numpy as np

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        with contextlib.suppress(RuntimeError, IndexError):  # fewer GPUs here than when saved
            torch.cuda.set_rng_state_all(state["cuda"])
    if state.get("mps") is not None and hasattr(torch, "mps") and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])
    for key, gen in _loader_generators(loader).items():
        if state.get(key) is not None:
            gen.set_state(state[key])


# ---------------------------------------------------------------------------------
# the trainer's resume, divergence and Ctrl-C logic
# ---------------------------------------------------------------------------------
def restore_training(trainer: Any, state: dict[str, Any]) -> int:
    """Load ``state`` (from :meth:`zoo.training.trainer.Trainer.state_dict`) into the optimizers,
    schedulers, scaler, counters and RNGs that ``trainer.fit`` has just built; returns the
    first epoch to run. ``epochs`` may grow on resume only without a learning-rate schedule
    (GANs): a cosine schedule was planned over the run's epochs.

    Raises:
        ZooError: (exit code 2) other optimizers than the run's; ``epochs`` changed
            while a learning-rate schedule depends on it; the run has no epoch left.
    """
    if set(state["optimizers"]) != set(trainer.optimizers):
        raise ZooError(
            f"the run was trained with optimizers {', '.join(state['optimizers'])}, this model has {', '.join(trainer.optimizers)}; "
            "resume it with the same model and options",
            exit_code=2,
        )
    done, planned = int(state["epoch"]), int(state["epochs"])
    if trainer.schedulers and trainer.epochs != planned:
        raise ZooError(
            f"{{param}} {trainer.epochs} differs from the run's {planned}: its learning-rate schedule was planned over "
            f"{planned} epochs; leave {{param}} out (or pass {planned}) to continue it",
            param="epochs",
            exit_code=2,
        )
    if done >= trainer.epochs:
        more = "its learning-rate schedule has ended" if trainer.schedulers else f"pass {{param}} above {done} to train further"
        raise ZooError(f"the run already finished {done} of {planned} epochs; {more}", param="epochs", exit_code=2)
    try:
        for k, opt in trainer.optimizers.items():
            opt.load_state_dict(state["optimizers"][k])
        for k, sched in trainer.schedulers.items():
            sched.load_state_dict(state["schedulers"][k])
    except (ValueError, KeyError, RuntimeError) as exc:
        raise ZooError(f"the run's optimizer state does not fit this model ({exc}); resume it with the same model and options") from exc
    if trainer.scaler is not None and state.get("scaler"):
        trainer.scaler.load_state_dict(state["scaler"])
    trainer.epoch, trainer.global_step = done, int(state["global_step"])
    trainer.history = [dict(m) for m in state["history"]]
    trainer._seconds = float(state.get("seconds") or 0.0)
    set_rng_state(state["rng"], trainer._loader)  # last: nothing above may draw from them
    return done + 1


def check_finite(trainer: Any, bad: int, epoch: int, names: list[str]) -> None:
    """Raise :class:`TrainingDiverged` when ``bad``, the trainer's device flag read by the caller,
    holds a step: ``2 * (i * K + k) + is_inf`` of the first non-finite loss (iteration ``i``
    of the epoch, optimizer ``k`` of ``names``), or :data:`NO_BAD_STEP`."""
    if bad == NO_BAD_STEP:
        return
    step, optimizer, value = bad // 2 // len(names) + 1, names[bad // 2 % len(names)], "inf" if bad % 2 else "nan"
    ckpt = trainer.checkpoint
    saved = ckpt.saved_epoch if ckpt is not None else None
    if saved:
        where = f"the last finite checkpoint is {ckpt.last_dir} (epoch {saved})"
    else:
        where = "no epoch had finished, nothing was saved" if ckpt is not None else "nothing was saved (no output directory)"
    fix = f"lower {{param}} (now {trainer._lr_used:g}) and train again" if trainer._lr_used else "lower {param} and train again"
    if trainer.amp == "fp16":
        fix += ", or use --amp bf16 instead of fp16"
    raise TrainingDiverged(
        f"loss became {value} at epoch {epoch} step {step} ({optimizer}); {where}; {fix}",
        epoch=epoch,
        step=step,
        optimizer=optimizer,
        value=value,
        saved_epoch=saved,
    )


def interrupted(trainer: Any, adapter: Adapter) -> TrainingInterrupted:
    """The error for Ctrl-C during ``trainer.fit``: an epoch that ended but whose save was cut
    short is saved first; the message says where the last complete epoch is and how to resume."""
    epoch, step = trainer._position
    ckpt = trainer.checkpoint
    if ckpt is not None and trainer.epoch and ckpt.saved_epoch != trainer.epoch:
        with contextlib.suppress(ZooError):
            ckpt.save(trainer, adapter, trainer.epoch, trainer.history[-1])  # the epoch ended; its save was cut short
    saved = ckpt.saved_epoch if ckpt is not None else None
    if saved:
        where = f"the last complete epoch ({saved}) is in {ckpt.last_dir}"
        if ckpt.resume_command:
            where += f"; continue with: {ckpt.resume_command}"
    else:
        where = "no epoch had finished, nothing was saved" if ckpt is not None else "nothing was saved (no output directory)"
    return TrainingInterrupted(f"interrupted at epoch {epoch} step {step}; {where}", epoch=epoch, step=step, saved_epoch=saved)
