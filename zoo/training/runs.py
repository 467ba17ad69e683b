"""Run directories of ``zoo train`` and ``zoo adapt``: the ``--out`` policy, per-epoch
checkpoints, replacing an earlier run, and the options of a resumed run.

* :class:`Run`: where a run writes (:func:`zoo.utils.outputs.claim_output`), or what it resumes.
* :class:`RunCheckpoints`: the trainer's checkpointer: ``last/`` after every complete epoch,
  ``best/`` when the validation accuracy improved (backbones; GANs have no validation
  metric, so their best is their last and no ``best/`` is written), ``metrics.jsonl``; every
  sidecar names the best epoch so far (``best``: ``{"metric", "value", "epoch"}``).
* :func:`retire_earlier_run`: ``--overwrite`` removes the earlier run only once the new one
  has something complete to put in its place.
* :func:`resolve_options`: a resumed run takes its options from the run, and refuses others.

The files themselves are :mod:`zoo.io.checkpoint`'s; the trainer's side of resuming is
:mod:`zoo.training.resume`. Imports torch (through :mod:`zoo.io.checkpoint`); import it lazily.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError, first_line
from zoo.io.checkpoint import SIDECAR_FILE, WEIGHTS_FILE, read_checkpoint, save_checkpoint
from zoo.io.train_state import RESUME_KEYS, find_last, read_training_state, write_training_checkpoint
from zoo.utils.fileio import atomic_write_text, dumps_strict, make_temp_dir, remove_stale_temps, swap_in_dir
from zoo.utils.outputs import RUN_MARKERS, claim_output, hold_output

if TYPE_CHECKING:
    from zoo.models.protocols import Adapter

__all__ = ["CURVES_FILE", "RUN_FILES", "Run", "RunCheckpoints", "resolve_options", "retire_earlier_run", "save_final"]


class Run:
    """Where a ``zoo train`` / ``zoo adapt`` run writes, and what it resumes from.

    ``Run(command, name, out, overwrite, resume, reads=...)`` applies the ``--out`` policy
    (:func:`zoo.utils.outputs.claim_output`, which claims ``out`` for this process: a second
    process is refused) to a new run, or claims ``resume`` (:func:`zoo.utils.outputs.hold_output`)
    and checks that it is a run of the same command and model and reads its options (JSON
    only, before anything is built). ``reads`` are the run's inputs (``--data``, ``--weights``),
    which ``out`` may not replace. The claim lasts until the calling task's
    :func:`zoo.utils.outputs.claims_scope` ends.

    Raises:
        ZooError: (exit code 2) ``out`` holds a run and no ``overwrite``; ``out`` is one of
            ``reads`` or would replace one; another process writes ``out`` or ``resume``;
            ``out`` and ``resume`` differ; both ``overwrite`` and ``resume``; ``resume``
            holds no checkpoint, or is a run of another command or model.

    Attributes:
        out: the run directory, or ``None`` (nothing is saved).
        resume_dir: the checkpoint resumed from (``out/last``), or ``None``.
        saved: the resumed run's options, or ``None``.
        replaces: ``out`` held an earlier run, replaced (``overwrite``).
        started: ``time.time()`` at the start.
    """

    def __init__(self, command: str, name: str, out: Any, overwrite: bool, resume: Any, *, reads: tuple[Any, ...] = ()) -> None:
        self.started = time.time()
        self.resume_dir: Path | None = None
        self.saved: dict[str, Any] | None = None
        self.replaces = False
        if resume is None:
            self.out = None if out is None else claim_output(out, overwrite=overwrite, resumable=True, reads=reads)
            self.replaces = self.out is not None and any((self.out / m).exists() for m in RUN_MARKERS)
            if self.replaces:
                remove_stale_temps(self.out)
            return
        run = Path(resume)
        if out is not None and Path(out).resolve() != run.resolve():
            raise ZooError(
                f"{{param}} {out} and --resume {run} differ; a resumed run continues in its own directory, leave {{param}} out",
                param="out",
                exit_code=2,
            )
        if overwrite:
            raise ZooError(f"--overwrite and {{param}} {run} contradict each other; pass one of them", param="resume", exit_code=2)
        self.out, self.resume_dir = run, find_last(run)
        hold_output(run)  # one process continues a run at a time
        for d in (run, run / "samples"):  # a killed run may have left temporary files (never partial ones)
            remove_stale_temps(d)
        self.saved = dict(read_training_state(self.resume_dir, tensors=False, required=RESUME_KEYS)["options"])
        owner, kind = self.saved.get("model"), self.saved.get("command", command)
        if (owner, kind) != (name, command):
            raise ZooError(
                f"{{param}} {run} is a 'zoo {kind} {owner}' run, not 'zoo {command} {name}'; "
                f"continue it with: zoo {kind} {owner} --resume {run}",
                param="resume",
                exit_code=2,
            )

    def restore(self, adapter: Adapter) -> dict[str, Any] | None:
        """Load the resumed run's weights into ``adapter`` (strictly); its training state, or ``None``."""
        if self.resume_dir is None:
            return None
        from zoo.io.state_dict import load_into

        state, meta = read_checkpoint(self.resume_dir)
        load_into(adapter, state, source=str(self.resume_dir), meta=meta)
        return read_training_state(self.resume_dir, required=RESUME_KEYS)

    def checkpoints(self, options: dict[str, Any], meta: Any, state: dict[str, Any] | None, command: str) -> Any:
        """The trainer's per-epoch checkpointer (:class:`zoo.training.resume.RunCheckpoints`), or ``None`` without ``out``."""
        if self.out is None:
            return None
        return RunCheckpoints(
            self.out,
            meta=meta,
            options=options,
            best=(state or {}).get("best"),
            resume_command=f"{command} --resume {shlex.quote(str(self.out))}",
            saved_epoch=state["epoch"] if state else None,
            replaces=self.replaces,
            started=self.started,
        )

    def tensorboard(self, options: Mapping[str, Any], state: Mapping[str, Any] | None) -> Any:
        """The run's :class:`zoo.training.monitor.TensorBoardLog` in ``out`` (``options`` as hparams;
        a resumed run hides the earlier points from its first iteration on), or ``None`` without ``out``."""
        if self.out is None:
            return None
        from zoo.training.monitor import TensorBoardLog

        return TensorBoardLog(self.out, options=options, purge_step=int(state["global_step"]) + 1 if state else None)

    def finish(self, adapter: Adapter, summary: dict[str, Any], meta: dict[str, Any], checkpoints: Any) -> None:
        """Write the final model pair and ``metrics.jsonl`` (:func:`save_final`) and ``curves.png``
        (:func:`zoo.training.curves.write_curves`); retire an earlier run if no epoch did; record
        in ``summary`` (and the best epoch in ``meta``) what was written: ``out``, ``last`` (the
        checkpoint of the last complete epoch, when one was saved), ``best_epoch`` and
        ``best_<metric>`` (backbones), ``curves``."""
        if self.out is None:
            return
        best = getattr(checkpoints, "best", None)
        if best:
            meta["best"] = dict(best)
            summary.update({"best_epoch": best["epoch"], f"best_{best['metric']}": best["value"]})
        save_final(adapter, self.out, summary, meta)
        if self.replaces and (checkpoints is None or checkpoints.saved_epoch is None):
            written = (WEIGHTS_FILE, SIDECAR_FILE, "metrics.jsonl") if summary.get("history") else (WEIGHTS_FILE, SIDECAR_FILE)
            retire_earlier_run(self.out, started=self.started, keep=written)
        summary["out"] = str(self.out)
        if checkpoints is not None and checkpoints.saved_epoch is not None:
            summary["last"] = str(checkpoints.last_dir)
        if summary.get("history"):
            from zoo.training.curves import write_curves

            model = str(summary.get("model", ""))
            title = model if self.out.name == model else f"{model} ({self.out.name})"
            curves = write_curves(self.out / CURVES_FILE, summary["history"], title=title)
            if curves is not None:
                summary["curves"] = str(curves)


# ---------------------------------------------------------------------------------
# per-epoch checkpoints of a run
# ---------------------------------------------------------------------------------
class RunCheckpoints:
    """The trainer's checkpointer: after every complete epoch, ``last/`` (and ``best/``) in a run directory.

    :meth:`save` is called by :class:`zoo.training.trainer.Trainer` after each complete epoch (after
    the callbacks' ``on_epoch_end``): it writes ``directory/last`` with
    :func:`write_training_checkpoint` (model, sidecar, the trainer's state and ``options``),
    then ``directory/best`` when ``best_metric`` improved (hard links to ``last``'s files,
    copies where links are not possible), then ``metrics.jsonl`` (strict JSON, the history
    so far). GANs have no validation metric (``best_metric`` absent from the metrics): their
    best is their last and no ``best/`` is written.

    Args:
        directory: the run directory.
        meta: ``meta(history) -> dict``, the sidecar's metadata for the epochs so far.
        options: the run's options (stored in the state; :mod:`zoo.tasks` checks them on resume).
        best_metric: the metric to maximise (``val_accuracy``).
        best: the best so far when resuming (``{"metric", "value", "epoch"}``), else ``None``.
        resume_command: the command that continues the run (quoted in messages).
        saved_epoch: the last epoch already saved (resuming), else ``None``.
        replaces: ``directory`` held an earlier run (``--overwrite``): once the first epoch
            is saved, the earlier run's other files are removed (:func:`retire_earlier_run`),
            so the directory holds one run; until then the earlier run is untouched.
        started: ``time.time()`` when the run started (with ``replaces``).

    Attributes:
        last_dir: ``directory/last``.
        saved_epoch: the last epoch saved, or ``None``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        meta: Callable[[list[dict[str, Any]]], dict[str, Any]],
        options: Mapping[str, Any],
        best_metric: str = "val_accuracy",
        best: Mapping[str, Any] | None = None,
        resume_command: str | None = None,
        saved_epoch: int | None = None,
        replaces: bool = False,
        started: float = 0.0,
    ) -> None:
        self.directory = Path(directory)
        self.last_dir = self.directory / "last"
        self.meta, self.options, self.best_metric = meta, dict(options), best_metric
        self.best = dict(best) if best else None
        self.resume_command = resume_command
        self.saved_epoch = saved_epoch
        self.replaces, self.started = replaces, started

    def save(self, trainer: Any, adapter: Adapter, epoch: int, metrics: Mapping[str, Any]) -> None:
        """Save epoch ``epoch`` (see the class docstring).

        Raises:
            ZooError: a checkpoint cannot be written.
        """
        value = metrics.get(self.best_metric)
        improved = isinstance(value, (int, float)) and value == value
        # better than the best so far, or a second save of the best epoch (a save cut short by Ctrl-C)
        improved = improved and (self.best is None or value > self.best["value"] or self.best["epoch"] == epoch)
        if improved:
            self.best = {"metric": self.best_metric, "value": float(value), "epoch": epoch}
        state = dict(trainer.state_dict(), options=self.options, best=self.best)
        meta = self.meta(trainer.history)
        if self.best is not None:  # best/'s sidecar says which epoch it holds
            meta = dict(meta, best=self.best)
        write_training_checkpoint(self.last_dir, adapter, meta, state)
        if improved:
            self._link_best()
        if self.replaces and self.saved_epoch is None:
            retire_earlier_run(self.directory, started=self.started, keep=("last", "best") if improved else ("last",))
        _write_metrics(self.directory / "metrics.jsonl", trainer.history)
        self.saved_epoch = epoch

    def _link_best(self) -> None:
        tmp = make_temp_dir(self.directory / "best")
        try:
            for f in self.last_dir.iterdir():
                try:
                    os.link(f, tmp / f.name)  # last's files are never modified in place, only replaced
                except OSError:
                    shutil.copy2(f, tmp / f.name)
            swap_in_dir(tmp, self.directory / "best")
        except OSError as exc:
            raise ZooError(f"cannot write the checkpoint {self.directory / 'best'} ({first_line(exc)}); free some space") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


#: The run's loss, metric and learning-rate curves, written when it ends (:func:`zoo.training.curves.write_curves`).
CURVES_FILE = "curves.png"
#: What an earlier run in a directory consists of (removed when a new run replaces it), besides
#: its TensorBoard event files and sample grids.
RUN_FILES = (WEIGHTS_FILE, SIDECAR_FILE, "metrics.jsonl", CURVES_FILE, "last", "last.old", "best", "best.old")


def retire_earlier_run(directory: str | os.PathLike[str], *, started: float, keep: tuple[str, ...] = ()) -> None:
    """Remove an earlier run's files from ``directory`` (``--overwrite``), once the new run has
    something complete to put there: :data:`RUN_FILES` except ``keep``, and the TensorBoard event
    files and sample grids (``samples/epoch_*.png``) last modified before ``started`` (``time.time()``)."""
    d = Path(directory)
    for name in RUN_FILES:
        if name in keep:
            continue
        p = d / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    from zoo.training.monitor import EVENTS_GLOB

    for f in [*d.glob(EVENTS_GLOB), *(d / "samples").glob("epoch_*.png")]:
        if f.stat().st_mtime < started:
            f.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------
# options of a resumed run
# ---------------------------------------------------------------------------------
def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def resolve_options(
    given: Mapping[str, Any],
    defaults: Mapping[str, Any],
    saved: Mapping[str, Any] | None = None,
    *,
    run: str | os.PathLike[str] | None = None,
    free: tuple[str, ...] = (),
) -> dict[str, Any]:
    """A run's options: each ``given`` value that is not ``None``, else the resumed run's
    (``saved``), else ``defaults`` (whose keys are the options).

    Args:
        given: what the caller passed (``None`` = not given).
        defaults: the default of every option.
        saved: the options stored in the run being resumed, or ``None`` (a new run).
        run: the run directory (named in errors).
        free: options that may differ from the run's (``epochs``, ``amp``).

    Raises:
        ZooError: (exit code 2) resuming with a given option other than the run's, naming it
            (``{param}`` template).
    """
    out: dict[str, Any] = {}
    for key, default in defaults.items():
        value = given.get(key)
        if saved is not None and key in saved:
            if value is None:
                value = saved[key]
            elif key not in free and _canonical(value) != _canonical(saved[key]):
                raise ZooError(
                    f"{{param}} {value} differs from the run's {saved[key]} in {run}; leave {{param}} out to continue that run, "
                    "or start a new run",
                    param=key,
                    exit_code=2,
                )
        out[key] = default if value is None else value
    return out


def _write_metrics(path: Path, history: list[dict[str, Any]]) -> None:
    """``metrics.jsonl``: one strict-JSON object per epoch, atomically.

    Raises:
        ZooError: it cannot be written (names the file and the reason).
    """
    try:
        atomic_write_text(path, "".join(dumps_strict(m) + "\n" for m in history))
    except OSError as exc:
        raise ZooError(f"cannot write {path} ({exc.strerror or exc}); free some space or choose another {{param}}", param="out") from exc


def save_final(adapter: Adapter, out: Path, summary: dict[str, Any], meta: dict[str, Any]) -> None:
    """The final model pair (:func:`zoo.io.checkpoint.save_checkpoint` with ``meta``) and
    ``metrics.jsonl`` (``summary["history"]``, strict JSON) in ``out``.

    Raises:
        ZooError: they cannot be written.
    """
    save_checkpoint(out, adapter, meta)
    history = summary.get("history") or []
    if history:  # the per-epoch log (one strict-JSON object per epoch) joins the checkpoint it belongs to
        _write_metrics(out / "metrics.jsonl", history)
