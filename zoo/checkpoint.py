"""Zoo checkpoints: what ``zoo train`` and ``zoo adapt`` write, and how it is read back.

A checkpoint is a directory (format ``zoo-1``)::

    model.safetensors   the model's state dict (safetensors.torch.save_model: tied tensors
                        once), header metadata {"zoo_model": <name>, "format": "zoo-1"}
    model.json          the sidecar: "model", "family", "kind", "config" (adapter.config(),
                        the options to rebuild it), "format", plus the caller's metadata
                        (class names, preprocessing, training set-up, metrics)
    metrics.jsonl       the per-epoch log (written by the trainer; not read here)

Both files are written atomically through :mod:`zoo.fileio` (whole or absent, 0644), the
weights first, so a crash never leaves a sidecar describing weights that are not there.

Sections of this module: writing (:func:`save_checkpoint`), reading
(:func:`read_checkpoint`). Training state for resuming a run (optimizer, scheduler, step,
epoch, RNG states) belongs here too and is planned in issue 10; it is not written yet, and
:func:`read_checkpoint` ignores any other file in the directory.

This module imports torch; import it lazily.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.fileio import atomic_path
from zoo.state_dict import PICKLE_SUFFIXES, _first_line, load_state_and_metadata

__all__ = ["CHECKPOINT_FORMAT", "read_checkpoint", "save_checkpoint"]

#: The ``format`` written into ``model.json`` and the safetensors header.
CHECKPOINT_FORMAT = "zoo-1"
_WEIGHTS, _SIDECAR = "model.safetensors", "model.json"


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


def save_checkpoint(out: str | os.PathLike[str], adapter: Any, meta: Mapping[str, Any]) -> Path:
    """Write ``out/model.safetensors`` and its sidecar ``out/model.json``, atomically.

    ``model.safetensors`` holds ``adapter.model.state_dict()`` (contiguous CPU tensors,
    dtypes kept), written with ``safetensors.torch.save_model``: a tensor tied under several
    names is stored once (the other names go into the header metadata, and
    :func:`zoo.state_dict.load_into` restores them), with metadata
    ``{"zoo_model": spec.name, "format": "zoo-1"}``. ``model.json`` is ``meta`` updated with
    ``model``, ``family``, ``kind``, ``config`` (``adapter.config()``) and ``format``
    (``"zoo-1"``), indented JSON; paths and numpy/tensor scalars are converted. Each file
    is written completely to a temp file in ``out`` and renamed (:func:`zoo.fileio.atomic_path`),
    the weights first; on any error the temp files are removed and existing files are left
    as they were.

    Args:
        out: the checkpoint directory (created, with parents).
        adapter: the adapter whose model to save (``.model``, ``.spec``, ``.config()``).
        meta: training metadata (epochs, metrics, data set...), JSON-serialisable.

    Returns:
        Path of ``model.safetensors``.

    Raises:
        ZooError: the directory or files cannot be written (disk full, permissions).
    """
    from safetensors.torch import save_model

    out_dir = Path(out).expanduser()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(
            f"cannot create the checkpoint directory {out_dir} ({_first_line(exc)}); choose another {{param}}", param="out"
        ) from exc
    spec = adapter.spec
    weights_path, json_path = out_dir / _WEIGHTS, out_dir / _SIDECAR
    sidecar = dict(meta)
    sidecar.update(model=spec.name, family=spec.family, kind=spec.kind, config=adapter.config(), format=CHECKPOINT_FORMAT)
    text = json.dumps(sidecar, indent=2, default=_json_default) + "\n"
    try:
        # the inner context (weights) is renamed into place first, then the sidecar
        with atomic_path(json_path) as tmp_json, atomic_path(weights_path) as tmp_weights:
            save_model(
                adapter.model, str(tmp_weights), metadata={"zoo_model": spec.name, "format": CHECKPOINT_FORMAT}, force_contiguous=True
            )
            tmp_json.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ZooError(
            f"cannot write the checkpoint in {out_dir} ({_first_line(exc)}); free some space or choose another {{param}}", param="out"
        ) from exc
    return weights_path


# ---------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------
def _read_sidecar(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ZooError(f"checkpoint sidecar {path} is not readable JSON ({_first_line(exc)}); fix or delete it") from exc
    if not isinstance(doc, dict):
        raise ZooError(f"checkpoint sidecar {path} holds a JSON {type(doc).__name__}, expected an object; fix or delete it")
    return doc


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint: its state dict and its sidecar.

    Args:
        path: a directory holding ``model.safetensors`` (as written by
            :func:`save_checkpoint`), or a weights file: ``.safetensors`` or a pickled
            ``.pth``/``.pt``/``.ckpt``/``.bin`` (read as :func:`zoo.state_dict.load_state_file`
            does). The sidecar is ``<stem>.json`` beside the file, else ``model.json`` beside it.

    Returns:
        ``(state, sidecar)``: ``{name: tensor}`` on the CPU (a tied tensor under the one name
        it was saved with), and the sidecar dict. Without a sidecar, a safetensors file's
        ``zoo_model`` metadata gives ``{"model": ...}`` (and ``"format"``); otherwise the
        dict is empty. If a fallback ``model.json`` names another model than the file's own
        ``zoo_model`` metadata, the metadata wins.

    Raises:
        ZooError: missing directory/file, unreadable or corrupt weights, sidecar that is not
            a JSON object.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        f = p / _WEIGHTS
        if not f.is_file():
            found = sorted(x.name for x in p.iterdir() if x.suffix.lower() in (".safetensors", *PICKLE_SUFFIXES))
            hint = (
                f"; found {', '.join(found[:5])}: pass one of them"
                if found
                else "; pass a checkpoint directory written by zoo train/adapt or a weights file"
            )
            raise ZooError(f"checkpoint directory {p} has no {_WEIGHTS}{hint}")
        p = f
    elif not p.exists():
        raise ZooError(f"weights file {p} does not exist; pass a checkpoint directory, a .safetensors/.pth file or a published tag")
    state, file_meta = load_state_and_metadata(p)
    embedded = file_meta.get("zoo_model", "")
    own, shared = p.with_suffix(".json"), p.with_name(_SIDECAR)
    sidecar: dict[str, Any] = {}
    if own.is_file():
        sidecar = _read_sidecar(own)
    elif shared.is_file():
        sidecar = _read_sidecar(shared)
        if embedded and sidecar.get("model") not in (None, embedded):
            sidecar = {}
    if not sidecar and embedded:
        sidecar = {"model": embedded}
        if "format" in file_meta:
            sidecar["format"] = file_meta["format"]
    return state, sidecar
