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
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zoo.errors import ZooError, first_line
from zoo.io.state_dict import PICKLE_SUFFIXES, load_state_and_metadata
from zoo.utils.fileio import (
    atomic_path,
    dumps_strict,
    nearest_existing,
    read_swapped_dir,
    sync_or_raise,
)

if TYPE_CHECKING:
    from zoo.models.protocols import Adapter

__all__ = [
    "CHECKPOINT_FORMAT",
    "INTERPOLATIONS",
    "SIDECAR_FILE",
    "WEIGHTS_FILE",
    "check_sidecar",
    "checkpoint_files",
    "read_checkpoint",
    "read_json_object",
    "remove_new_dirs",
    "save_checkpoint",
    "write_advice",
    "write_errors",
    "write_model_pair",
    "write_reason",
]

#: The ``format`` written into ``model.json`` and the safetensors header.
CHECKPOINT_FORMAT = "zoo-1"
#: The weights and the sidecar of a checkpoint directory.
WEIGHTS_FILE, SIDECAR_FILE = "model.safetensors", "model.json"


def write_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a failed checkpoint write raises: ``OSError`` and safetensors' ``SafetensorError``."""
    from safetensors import SafetensorError  # raised on write failures too, and not an OSError

    return (OSError, SafetensorError)


def write_reason(exc: BaseException) -> str:
    """The reason of a failed write in a few words: the OS's (``No space left on device``) or
    the first line of safetensors' message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return first_line(exc)


def remove_new_dirs(directory: Path, existing: Path) -> None:
    """Remove ``directory`` and its parents up to ``existing`` (excluded) while they are empty:
    the directories a failed save created, so that it leaves nothing behind."""
    d = directory
    while d != existing and existing in d.parents and d.is_dir():
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent


def write_advice(exc: BaseException) -> str:
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
        remove_new_dirs(out_dir, existing)
        raise ZooError(f"cannot create the checkpoint directory {out_dir} ({write_reason(exc)}); {write_advice(exc)}", param="out") from exc
    try:
        write_model_pair(out_dir, adapter, meta, checkpoint_id)
    except write_errors() as exc:
        remove_new_dirs(out_dir, existing)
        raise ZooError(f"cannot write the checkpoint in {out_dir} ({write_reason(exc)}); {write_advice(exc)}", param="out") from exc
    return out_dir / WEIGHTS_FILE


def write_model_pair(out_dir: Path, adapter: Adapter, meta: Mapping[str, Any], checkpoint_id: str | None) -> None:
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
def checkpoint_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files :func:`read_checkpoint` reads for ``path``: a directory's ``model.safetensors``
    and ``model.json``; a weights file, its ``<stem>.json`` and the ``model.json`` beside it.
    What a command that reads ``path`` must never write over (:func:`zoo.utils.outputs.claim_output`'s ``reads``)."""
    p = Path(path).expanduser()
    if p.is_dir():
        return [p / WEIGHTS_FILE, p / SIDECAR_FILE]
    return [p, p.with_suffix(".json"), p.with_name(SIDECAR_FILE)]


def read_json_object(path: Path, what: str = "checkpoint sidecar") -> dict[str, Any]:
    """``path`` parsed as a JSON object.

    Raises:
        ZooError: it cannot be read, is not JSON, or holds another JSON value (names ``path`` and ``what`` it is).
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ZooError(f"{what} {path} is not readable JSON ({first_line(exc)}); fix or delete it") from exc
    if not isinstance(doc, dict):
        raise ZooError(f"{what} {path} holds a JSON {type(doc).__name__}, expected an object; fix or delete it")
    return doc


#: Resize interpolations a sidecar's ``preprocessing.interpolation`` may name (the registry's, and nearest).
INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


def _is_number(x: Any) -> bool:
    import math

    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _sidecar_problem(meta: Mapping[str, Any]) -> str | None:
    """What is wrong with a sidecar's fields, in a few words naming the field, or ``None``."""
    from zoo.registry.spec import MAX_IMG_SIZE

    for key in ("model", "family", "kind", "format", "checkpoint_id"):
        if key in meta and not isinstance(meta[key], str):
            return f"{key} is a JSON {type(meta[key]).__name__}, expected a string"
    if meta.get("kind") not in (None, "backbone", "gan"):
        return f"kind is {meta['kind']!r}, expected 'backbone' or 'gan'"
    for key in ("config", "training", "metrics", "condition"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            return f"{key} is a JSON {type(meta[key]).__name__}, expected an object"
    names = meta.get("class_names")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(n, (str, int)) and not isinstance(n, bool) for n in names):
            return "class_names is not a list of names"
        if len({str(n) for n in names}) != len(names):
            return "class_names names a class twice"
    cond = meta.get("condition") or {}
    if "names" in cond and not (isinstance(cond["names"], list) and all(isinstance(n, str) for n in cond["names"])):
        return "condition.names is not a list of names"
    pre = meta.get("preprocessing")
    if pre is None:
        return None
    if not isinstance(pre, dict):
        return f"preprocessing is a JSON {type(pre).__name__}, expected an object"
    size = pre.get("img_size")
    if "img_size" in pre and not (isinstance(size, int) and not isinstance(size, bool) and 1 <= size <= MAX_IMG_SIZE):
        return f"preprocessing.img_size is {size!r}, expected a whole number of pixels from 1 to {MAX_IMG_SIZE}"
    channels = pre.get("channels", 3)
    if not (isinstance(channels, int) and not isinstance(channels, bool) and 1 <= channels <= 4):
        return f"preprocessing.channels is {channels!r}, expected 1 to 4"
    for key in ("mean", "std"):
        if key not in pre:
            continue
        values = pre[key]
        lengths = sorted({1, 3, channels})
        if not isinstance(values, list) or len(values) not in lengths:
            counts = ", ".join(map(str, lengths[:-1])) + f" or {lengths[-1]}"
            return f"preprocessing.{key} is {values!r}, expected a list of {counts} numbers (one per channel)"
        for i, v in enumerate(values):
            if not _is_number(v):
                return f"preprocessing.{key}[{i}] is {v!r}, expected a finite number"
            if key == "std" and not v > 0:
                return f"preprocessing.std[{i}] is {v!r}; a standard deviation must be above 0"
    if pre.get("interpolation") is not None and pre["interpolation"] not in INTERPOLATIONS:
        return f"preprocessing.interpolation is {pre['interpolation']!r}, expected one of {', '.join(INTERPOLATIONS)}"
    crop = pre.get("crop_pct")
    if crop is not None and not (_is_number(crop) and 0 < crop <= 1):
        return f"preprocessing.crop_pct is {crop!r}, expected a number in (0, 1]"
    if "resize_only" in pre and not isinstance(pre["resize_only"], bool):
        return f"preprocessing.resize_only is {pre['resize_only']!r}, expected true or false"
    return None


def check_sidecar(meta: Mapping[str, Any], path: str | os.PathLike[str]) -> dict[str, Any]:
    """Validate a checkpoint's sidecar (``model.json``) as it is read, so that a damaged one is
    one line naming the file, never a ``null`` probability or a bad value baked into an export.

    Checked when present: ``model``, ``family``, ``kind`` (``backbone``/``gan``), ``format``,
    ``checkpoint_id`` (strings); ``config``, ``training``, ``metrics``, ``condition`` (objects);
    ``class_names`` (distinct names); ``condition.names``; ``preprocessing``: ``img_size``
    (1 .. :data:`zoo.registry.spec.MAX_IMG_SIZE` pixels), ``mean`` and ``std`` (1, 3 or
    ``channels`` finite numbers; ``std`` above 0), ``interpolation`` (:data:`INTERPOLATIONS`),
    ``crop_pct`` (in (0, 1]), ``resize_only`` (boolean), ``channels`` (1 to 4). Returns ``meta``.

    Raises:
        ZooError: a field is damaged (names the file and the field).
    """
    problem = _sidecar_problem(meta)
    if problem is not None:
        raise ZooError(f"checkpoint sidecar {path} is damaged: {problem}; restore it, or train or adapt again")
    return dict(meta)


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
            a JSON object or is damaged (:func:`check_sidecar`), weights and sidecar from different saves (their ``checkpoint_id``
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
        sidecar = check_sidecar(read_json_object(own), own)
    elif shared.is_file():
        sidecar = check_sidecar(read_json_object(shared), shared)
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
