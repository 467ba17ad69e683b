"""Resumable checkpoints: a model checkpoint plus the training state (optimizers, schedulers,
RNG states, options) written together and swapped in whole (:func:`write_training_checkpoint`),
found (:func:`find_last`) and read back (:func:`read_training_state`).

``train_state.safetensors`` holds every tensor of the state, ``train_state.json`` the rest
(strict JSON, with tuples, int keys, numpy arrays and non-finite floats encoded); both carry
the ``checkpoint_id`` of the ``model.json`` written with them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zoo.errors import ZooError, first_line
from zoo.io.checkpoint import (
    SIDECAR_FILE,
    read_json_object,
    remove_new_dirs,
    write_advice,
    write_errors,
    write_model_pair,
    write_reason,
)
from zoo.utils.fileio import atomic_path, atomic_write_text, make_temp_dir, nearest_existing, read_swapped_dir, swap_in_dir

if TYPE_CHECKING:
    from zoo.models.protocols import Adapter

__all__ = ["RESUME_KEYS", "TRAIN_STATE_FORMAT", "find_last", "read_training_state", "write_training_checkpoint"]

#: The ``format`` of ``train_state.json``.
TRAIN_STATE_FORMAT = "zoo-train-1"
_STATE_T, _STATE_J = "train_state.safetensors", "train_state.json"
#: What a resumable run's state holds (``--resume`` reads every one of them).
RESUME_KEYS = ("epoch", "epochs", "global_step", "history", "optimizers", "schedulers", "rng", "options")
#: The JSON type each entry of a training state must have, where present.
_STATE_TYPES: dict[str, tuple[type, ...]] = {
    "epoch": (int,),
    "epochs": (int,),
    "global_step": (int,),
    "history": (list,),
    "optimizers": (dict,),
    "schedulers": (dict,),
    "rng": (dict,),
    "options": (dict,),
    "best": (dict, type(None)),
}
_TYPE_NAMES = {int: "a whole number", list: "a list", dict: "an object", type(None): "null"}


def _check_state(state: Any, path: Path, required: tuple[str, ...]) -> None:
    """Refuse a training state of the wrong shape, naming the file and the entry.

    Raises:
        ZooError: ``state`` is not an object, lacks one of ``required``, or an entry has another type.
    """
    fix = "resume from another checkpoint or start a new run"
    if not isinstance(state, dict):
        raise ZooError(f"training state {path} is damaged: its state is a JSON {type(state).__name__}, expected an object; {fix}")
    missing = [k for k in required if k not in state]
    if missing:
        raise ZooError(f"training state {path} is damaged: it has no {', '.join(missing)}; {fix}")
    for key, types in _STATE_TYPES.items():
        value = state.get(key)
        if key in state and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
            want = " or ".join(_TYPE_NAMES[t] for t in types)
            raise ZooError(f"training state {path} is damaged: {key} is a JSON {type(value).__name__}, expected {want}; {fix}")
    if any(not isinstance(m, dict) for m in state.get("history") or []):
        raise ZooError(f"training state {path} is damaged: history holds something else than objects; {fix}")


# ---------------------------------------------------------------------------------
# training state: tensors in safetensors, the rest in strict JSON
# ---------------------------------------------------------------------------------
def _pack(obj: Any, tensors: dict[str, torch.Tensor], seen: set[int] | None = None) -> Any:
    """JSON-able form of ``obj``; tensors are put into ``tensors`` (CPU, contiguous, a copy
    where two share storage, which safetensors refuses) and referenced by key."""
    import numpy as np

    seen = set() if seen is None else seen
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if obj == obj and abs(obj) != float("inf") else {"__float__": repr(obj)}
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        t = obj.detach().to("cpu").contiguous()
        ptr = t.untyped_storage().data_ptr()
        if ptr in seen:
            t = t.clone()
        seen.add(t.untyped_storage().data_ptr())
        tensors[key] = t
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.tolist(), "dtype": str(obj.dtype)}
    if isinstance(obj, tuple):
        return {"__tuple__": [_pack(v, tensors, seen) for v in obj]}
    if isinstance(obj, list):
        return [_pack(v, tensors, seen) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _pack(v, tensors, seen) for k, v in obj.items()}
        return {"__items__": [[_pack(k, tensors, seen), _pack(v, tensors, seen)] for k, v in obj.items()]}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return _pack(obj.item(), tensors, seen)
    raise TypeError(f"cannot store a {type(obj).__name__} in the training state")


def _unpack(obj: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    import numpy as np

    if isinstance(obj, list):
        return [_unpack(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if "__float__" in obj:
        return float(obj["__float__"])
    if "__ndarray__" in obj:
        return np.asarray(obj["__ndarray__"], dtype=obj["dtype"])
    if "__tuple__" in obj:
        return tuple(_unpack(v, tensors) for v in obj["__tuple__"])
    if "__items__" in obj:
        return {_unpack(k, tensors): _unpack(v, tensors) for k, v in obj["__items__"]}
    return {k: _unpack(v, tensors) for k, v in obj.items()}


def write_training_checkpoint(
    directory: str | os.PathLike[str], adapter: Adapter, meta: Mapping[str, Any], state: Mapping[str, Any]
) -> Path:
    """Write a resumable checkpoint directory (``last/`` or ``best/``) whole, then swap it in.

    The model pair (:func:`save_checkpoint`), ``train_state.safetensors`` (every tensor of
    ``state``: optimizer moments and steps, RNG states, as contiguous CPU copies) and
    ``train_state.json`` (the rest of ``state``, strict JSON) are written into a fresh
    temporary directory beside ``directory``, all with one ``checkpoint_id``, and the
    directory is swapped in with :func:`zoo.utils.fileio.swap_in_dir`: a reader sees the previous
    complete checkpoint or this one, never a mix.

    Args:
        directory: the checkpoint directory, e.g. ``runs/x/last``.
        adapter: the adapter whose model to save.
        meta: the sidecar's metadata (as :func:`save_checkpoint`).
        state: the trainer's state (:meth:`zoo.training.trainer.Trainer.state_dict`) plus the caller's
            entries (``options``...): nested dicts, lists, tuples, tensors, numpy arrays, scalars.

    Returns:
        ``directory`` as a :class:`~pathlib.Path`.

    Raises:
        ZooError: the directory cannot be written (disk full, permissions).
    """
    from safetensors.torch import save_file

    final = Path(directory)
    ident = secrets.token_hex(8)
    tensors: dict[str, torch.Tensor] = {}
    doc = {"format": TRAIN_STATE_FORMAT, "checkpoint_id": ident, "state": _pack(dict(state), tensors)}
    tmp: Path | None = None
    existing = nearest_existing(final.parent)
    try:
        tmp = make_temp_dir(final)
        write_model_pair(tmp, adapter, meta, ident)
        with atomic_path(tmp / _STATE_T) as tmp_state:  # safetensors itself creates files 0600
            save_file(tensors, str(tmp_state), metadata={"format": TRAIN_STATE_FORMAT, "zoo_checkpoint_id": ident})
        atomic_write_text(tmp / _STATE_J, json.dumps(doc, allow_nan=False) + "\n")
        swap_in_dir(tmp, final)
    except write_errors() as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        remove_new_dirs(final.parent, existing)  # a new run's directory, when this was its first save
        raise ZooError(f"cannot write the checkpoint {final} ({write_reason(exc)}); {write_advice(exc)}", param="out") from exc
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def find_last(run: str | os.PathLike[str], *, param: str = "resume") -> Path:
    """The resumable checkpoint of a run directory: ``run/last`` (or ``run/last.old`` after a
    crash between its two renames).

    Raises:
        ZooError: (exit code 2) ``run`` is not a directory, or holds no ``last/`` with a
            ``train_state.json`` (no epoch finished, or written before resumable checkpoints).
    """
    p = Path(run).expanduser()
    if not p.is_dir():
        raise ZooError(f"{{param}} {p} is not a run directory; pass the --out of an earlier zoo train/adapt", param=param, exit_code=2)
    last = read_swapped_dir(p / "last")
    if last is None or not (last / _STATE_J).is_file():
        raise ZooError(
            f"{{param}} {p} holds no resumable checkpoint ({p / 'last' / _STATE_J} is missing: no epoch finished, "
            "or the run was written by an older zoo); start a new run",
            param=param,
            exit_code=2,
        )
    return last


def read_training_state(directory: str | os.PathLike[str], *, tensors: bool = True, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The training state saved by :func:`write_training_checkpoint` in ``directory``.

    Args:
        directory: a checkpoint directory (``run/last``; see :func:`find_last`).
        tensors: also read ``train_state.safetensors`` (``False``: only the JSON part, for
            checking options before anything is built; tensor entries are then ``None``).
        required: entries the state must have (:data:`RESUME_KEYS` for ``--resume``); the
            known entries (epochs, history, options...) are checked for their type where present.

    Returns:
        The state as it was given (tuples, int keys, numpy arrays and non-finite floats
        restored; tensors on the CPU).

    Raises:
        ZooError: a missing, unreadable, corrupt or damaged file (a state that is not an object,
            a missing ``required`` entry, an entry of another type; the message names the file),
            or files from different saves (the ``checkpoint_id`` of ``train_state.*`` and ``model.json`` differ).
    """
    from safetensors import safe_open

    d = Path(directory)
    doc = read_json_object(d / _STATE_J, "training state")
    if doc.get("format") != TRAIN_STATE_FORMAT or "state" not in doc:
        raise ZooError(f"training state {d / _STATE_J} has format {doc.get('format')!r}, expected {TRAIN_STATE_FORMAT!r}; start a new run")
    _check_state(doc["state"], d / _STATE_J, required)
    loaded: dict[str, Any] = {}
    if tensors:
        try:
            with safe_open(str(d / _STATE_T), framework="pt") as fh:
                ident = (fh.metadata() or {}).get("zoo_checkpoint_id")
                loaded = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        except Exception as exc:  # missing, truncated or corrupt: safetensors raises several types
            from zoo.io.filekind import describe_file

            raise ZooError(
                f"cannot read the training state {d / _STATE_T} ({first_line(exc)}): it is {describe_file(d / _STATE_T)}; start a new run"
            ) from exc
        if ident != doc.get("checkpoint_id"):
            raise ZooError(f"{d / _STATE_T} and {_STATE_J} come from different saves; resume from another checkpoint or start a new run")
    if (d / SIDECAR_FILE).is_file() and read_json_object(d / SIDECAR_FILE).get("checkpoint_id") not in (None, doc.get("checkpoint_id")):
        raise ZooError(f"{d / SIDECAR_FILE} and {_STATE_J} come from different saves; resume from another checkpoint or start a new run")
    return _unpack(doc["state"], loaded if tensors else defaultdict(lambda: None))
