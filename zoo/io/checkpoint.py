"""Zoo checkpoints: what ``zoo train`` and ``zoo adapt`` write, and how it is read back.

A checkpoint is a directory (format ``zoo-1``)::

    model.safetensors   the model's state dict (safetensors.torch.save_model: tied tensors
                        once), header metadata {"zoo_model": <name>, "format": "zoo-1",
                        "zoo_checkpoint_id": <id>}
    model.json          the sidecar: "model", "family", "kind", "config" (adapter.config(),
                        the options to rebuild it), "format", "checkpoint_id", plus the
                        caller's metadata (class names, preprocessing, training, metrics)

A run directory (``zoo train --out DIR``) holds the final checkpoint, ``metrics.jsonl`` and
per-epoch checkpoints that also carry the training state (:class:`zoo.training.resume.RunCheckpoints`)::

    DIR/model.safetensors, DIR/model.json   the final model (written when training ends)
    DIR/metrics.jsonl                       one strict-JSON object per epoch
    DIR/last/                               the last complete epoch: model.safetensors,
                                            model.json, train_state.safetensors,
                                            train_state.json (what --resume DIR reads)
    DIR/best/                               the epoch with the best validation accuracy
                                            (backbones; GANs have no validation metric, so
                                            their best is last and no best/ is written)

**Pairing.** The weights and their sidecar must come from one save. The per-epoch
directories are written whole into a temporary directory and swapped in
(:func:`zoo.utils.fileio.swap_in_dir`; a crash leaves the previous epoch's ``last.old``, which
:func:`find_last` reads). The final pair shares a directory with other files, so it is two
renames; both files carry the same random ``checkpoint_id`` (safetensors header and
sidecar), and :func:`read_checkpoint` refuses a pair whose ids differ, which is free to
check (a SHA-256 of the weights would cost a full extra read on every load).

**Training state** (:func:`write_training_checkpoint`): tensors (optimizer moments, RNG
states) go to ``train_state.safetensors`` and everything else (counters, hyper-parameters,
history, Python/NumPy RNG states) to strict ``train_state.json``, with small tags for what
JSON lacks (tuples, int keys, arrays, non-finite floats), so no pickle is ever read.

This module imports torch; import it lazily.
"""

from __future__ import annotations

import errno
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
from zoo.io.state_dict import PICKLE_SUFFIXES, load_state_and_metadata
from zoo.utils.fileio import (
    atomic_path,
    atomic_write_text,
    dumps_strict,
    make_temp_dir,
    nearest_existing,
    read_swapped_dir,
    swap_in_dir,
    sync_or_raise,
)

if TYPE_CHECKING:
    from zoo.models.protocols import Adapter

__all__ = [
    "CHECKPOINT_FORMAT",
    "SIDECAR_FILE",
    "TRAIN_STATE_FORMAT",
    "WEIGHTS_FILE",
    "find_last",
    "read_checkpoint",
    "read_training_state",
    "save_checkpoint",
    "write_training_checkpoint",
]

#: The ``format`` written into ``model.json`` and the safetensors header.
CHECKPOINT_FORMAT = "zoo-1"
#: The ``format`` of ``train_state.json``.
TRAIN_STATE_FORMAT = "zoo-train-1"
#: The weights and the sidecar of a checkpoint directory.
WEIGHTS_FILE, SIDECAR_FILE = "model.safetensors", "model.json"
_STATE_T, _STATE_J = "train_state.safetensors", "train_state.json"


def _write_errors() -> tuple[type[BaseException], ...]:
    from safetensors import SafetensorError  # raised on write failures too, and not an OSError

    return (OSError, SafetensorError)


def _why(exc: BaseException) -> str:
    """The reason of a failed write in a few words: the OS's (``No space left on device``) or
    the first line of safetensors' message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return first_line(exc)


def _remove_new_dirs(directory: Path, existing: Path) -> None:
    """Remove ``directory`` and its parents up to ``existing`` (excluded) while they are empty:
    the directories a failed save created, so that it leaves nothing behind."""
    d = directory
    while d != existing and existing in d.parents and d.is_dir():
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent


def _advice(exc: BaseException) -> str:
    """What to do about a failed write: free space for a full disk, else another directory."""
    full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    return "free some space or choose another {param}" if full or not isinstance(exc, OSError) else "choose another {param}"


# ---------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------
def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, torch.Tensor) and obj.numel() == 1:
        return obj.item()
    if hasattr(obj, "item"):  # numpy scalars
        try:
            return obj.item()
        except Exception:  # pragma: no cover
            pass
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def save_checkpoint(out: str | os.PathLike[str], adapter: Adapter, meta: Mapping[str, Any], *, checkpoint_id: str | None = None) -> Path:
    """Write ``out/model.safetensors`` and its sidecar ``out/model.json``, atomically.

    ``model.safetensors`` holds ``adapter.model.state_dict()`` (contiguous CPU tensors,
    dtypes kept), written with ``safetensors.torch.save_model``: a tensor tied under several
    names is stored once (the other names go into the header metadata, and
    :func:`zoo.io.state_dict.load_into` restores them), with metadata
    ``{"zoo_model": spec.name, "format": "zoo-1", "zoo_checkpoint_id": id}``. ``model.json``
    is ``meta`` updated with ``model``, ``family``, ``kind``, ``config`` (``adapter.config()``),
    ``format`` (``"zoo-1"``) and ``checkpoint_id``, as strict indented JSON (non-finite
    numbers as ``null`` with a ``"nonfinite"`` note; paths and numpy/tensor scalars
    converted). Each file is written completely to a temp file in ``out`` and renamed
    (:func:`zoo.utils.fileio.atomic_path`), the weights first; on any error the temp files are
    removed. A crash between the two renames leaves new weights beside an older sidecar:
    their ``checkpoint_id`` differ and :func:`read_checkpoint` refuses the pair.

    Args:
        out: the checkpoint directory (created, with parents).
        adapter: the adapter whose model to save (``.model``, ``.spec``, ``.config()``).
        meta: training metadata (epochs, metrics, data set...), JSON-serialisable.
        checkpoint_id: the pairing id (default: 16 random hex digits).

    Returns:
        Path of ``model.safetensors``.

    Raises:
        ZooError: the directory or files cannot be written (disk full, permissions, a
            ``SafetensorError``); one line naming ``out`` and what to do.
    """
    out_dir = Path(out).expanduser()
    existing = nearest_existing(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_new_dirs(out_dir, existing)
        raise ZooError(f"cannot create the checkpoint directory {out_dir} ({_why(exc)}); {_advice(exc)}", param="out") from exc
    try:
        _write_pair(out_dir, adapter, meta, checkpoint_id)
    except _write_errors() as exc:
        _remove_new_dirs(out_dir, existing)
        raise ZooError(f"cannot write the checkpoint in {out_dir} ({_why(exc)}); {_advice(exc)}", param="out") from exc
    return out_dir / WEIGHTS_FILE


def _write_pair(out_dir: Path, adapter: Adapter, meta: Mapping[str, Any], checkpoint_id: str | None) -> None:
    """The two files of :func:`save_checkpoint`, in an existing ``out_dir``; write errors propagate."""
    from safetensors.torch import save_model

    spec = adapter.spec
    ident = checkpoint_id or secrets.token_hex(8)
    weights_path, json_path = out_dir / WEIGHTS_FILE, out_dir / SIDECAR_FILE
    sidecar = dict(meta)
    sidecar.update(
        model=spec.name, family=spec.family, kind=spec.kind, config=adapter.config(), format=CHECKPOINT_FORMAT, checkpoint_id=ident
    )
    text = dumps_strict(sidecar, indent=2, default=_json_default) + "\n"
    header = {"zoo_model": spec.name, "format": CHECKPOINT_FORMAT, "zoo_checkpoint_id": ident}
    # the inner context (weights) is renamed into place first, then the sidecar; the sidecar
    # is on disk before that first rename, so a failed sidecar write (disk full, reported at
    # fsync) cannot leave new weights beside an earlier run's sidecar
    with atomic_path(json_path) as tmp_json, atomic_path(weights_path) as tmp_weights:
        save_model(adapter.model, str(tmp_weights), metadata=header, force_contiguous=True)
        with open(tmp_json, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            sync_or_raise(fh.fileno())


# ---------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------
def _read_json(path: Path, what: str = "checkpoint sidecar") -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ZooError(f"{what} {path} is not readable JSON ({first_line(exc)}); fix or delete it") from exc
    if not isinstance(doc, dict):
        raise ZooError(f"{what} {path} holds a JSON {type(doc).__name__}, expected an object; fix or delete it")
    return doc


def _unfinished_hint(directory: Path) -> str:
    last = read_swapped_dir(directory / "last")
    return f"; its last complete epoch is in {last} (pass that, or finish the run with --resume {directory})" if last else ""


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint: its state dict and its sidecar.

    Args:
        path: a directory holding ``model.safetensors`` (as written by
            :func:`save_checkpoint`), or a weights file: ``.safetensors`` or a pickled
            ``.pth``/``.pt``/``.ckpt``/``.bin`` (read as :func:`zoo.io.state_dict.load_state_file`
            does). The sidecar is ``<stem>.json`` beside the file, else ``model.json`` beside it.

    Returns:
        ``(state, sidecar)``: ``{name: tensor}`` on the CPU (a tied tensor under the one name
        it was saved with), and the sidecar dict. Without a sidecar, a safetensors file's
        ``zoo_model`` metadata gives ``{"model": ...}`` (and ``"format"``); otherwise the
        dict is empty. If a fallback ``model.json`` names another model than the file's own
        ``zoo_model`` metadata, the metadata wins.

    Raises:
        ZooError: missing directory/file, unreadable or corrupt weights, sidecar that is not
            a JSON object, weights and sidecar from different saves (their ``checkpoint_id``
            differ: a write was interrupted, or files were copied between runs).
    """
    p = Path(path).expanduser()
    if p.is_dir():
        f = p / WEIGHTS_FILE
        if not f.is_file():
            found = sorted(x.name for x in p.iterdir() if x.suffix.lower() in (".safetensors", *PICKLE_SUFFIXES))
            hint = _unfinished_hint(p) or (
                f"; found {', '.join(found[:5])}: pass one of them"
                if found
                else "; pass a checkpoint directory written by zoo train/adapt or a weights file"
            )
            raise ZooError(f"checkpoint directory {p} has no {WEIGHTS_FILE}{hint}")
        p = f
    elif not p.exists():
        raise ZooError(f"weights file {p} does not exist; pass a checkpoint directory, a .safetensors/.pth file or a published tag")
    state, file_meta = load_state_and_metadata(p)
    embedded = file_meta.get("zoo_model", "")
    own, shared = p.with_suffix(".json"), p.with_name(SIDECAR_FILE)
    sidecar: dict[str, Any] = {}
    source = own if own.is_file() else shared
    if own.is_file():
        sidecar = _read_json(own)
    elif shared.is_file():
        sidecar = _read_json(shared)
        if embedded and sidecar.get("model") not in (None, embedded):
            sidecar = {}
    ids = (file_meta.get("zoo_checkpoint_id"), sidecar.get("checkpoint_id"))
    if sidecar and all(ids) and ids[0] != ids[1]:
        raise ZooError(
            f"{p} and {source.name} come from different saves (a write was interrupted, or files were copied between runs); "
            f"do not use them together{_unfinished_hint(p.parent) or ': train again, or restore the pair'}"
        )
    if not sidecar and embedded:
        sidecar = {"model": embedded}
        if "format" in file_meta:
            sidecar["format"] = file_meta["format"]
    return state, sidecar


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
        _write_pair(tmp, adapter, meta, ident)
        with atomic_path(tmp / _STATE_T) as tmp_state:  # safetensors itself creates files 0600
            save_file(tensors, str(tmp_state), metadata={"format": TRAIN_STATE_FORMAT, "zoo_checkpoint_id": ident})
        atomic_write_text(tmp / _STATE_J, json.dumps(doc, allow_nan=False) + "\n")
        swap_in_dir(tmp, final)
    except _write_errors() as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        _remove_new_dirs(final.parent, existing)  # a new run's directory, when this was its first save
        raise ZooError(f"cannot write the checkpoint {final} ({_why(exc)}); {_advice(exc)}", param="out") from exc
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


def read_training_state(directory: str | os.PathLike[str], *, tensors: bool = True) -> dict[str, Any]:
    """The training state saved by :func:`write_training_checkpoint` in ``directory``.

    Args:
        directory: a checkpoint directory (``run/last``; see :func:`find_last`).
        tensors: also read ``train_state.safetensors`` (``False``: only the JSON part, for
            checking options before anything is built; tensor entries are then ``None``).

    Returns:
        The state as it was given (tuples, int keys, numpy arrays and non-finite floats
        restored; tensors on the CPU).

    Raises:
        ZooError: a missing, unreadable or corrupt file, or files from different saves
            (the ``checkpoint_id`` of ``train_state.*`` and ``model.json`` differ).
    """
    from safetensors import safe_open

    d = Path(directory)
    doc = _read_json(d / _STATE_J, "training state")
    if doc.get("format") != TRAIN_STATE_FORMAT or "state" not in doc:
        raise ZooError(f"training state {d / _STATE_J} has format {doc.get('format')!r}, expected {TRAIN_STATE_FORMAT!r}; start a new run")
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
    if (d / SIDECAR_FILE).is_file() and _read_json(d / SIDECAR_FILE).get("checkpoint_id") not in (None, doc.get("checkpoint_id")):
        raise ZooError(f"{d / SIDECAR_FILE} and {_STATE_J} come from different saves; resume from another checkpoint or start a new run")
    return _unpack(doc["state"], loaded if tensors else defaultdict(lambda: None))
