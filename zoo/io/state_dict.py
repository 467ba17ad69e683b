"""State dicts: reading them from files safely, cleaning their keys, writing them as safetensors, loading them into a model.

* :func:`read_weights_file` is the one reader of weight files (zoo's and the official GAN
  loaders' alike), by content: safetensors files are read with safetensors (no code can
  run); ``torch.save`` files (``.pth``, ``.pt``, ``.ckpt``, ``.bin``) with
  ``torch.load(weights_only=True)`` only, which refuses every pickled object that is not a
  tensor or a plain container, and only on torch >= 2.6 (:func:`require_safe_torch_load`,
  CVE-2025-32434). A file that is neither, or fails to read, is named by what it is
  (:mod:`zoo.io.filekind`).
* Training scripts wrap state dicts (``{"state_dict": ...}``, ``module.`` from
  DataParallel, ``_orig_mod.`` from ``torch.compile``); :func:`load_state_file` unwraps them.
* :func:`save_state_file` writes a bare state dict (a converted download) as safetensors,
  atomically (:mod:`zoo.utils.fileio`).
* :func:`load_into` copies a state dict into an adapter's model strictly, checking every
  key and shape first, and says in one line what does not match.

A family whose published files use older key names renames them itself
(``adapter.convert_state_dict``, applied by :func:`load_into`; DenseNet's plugin does).

Sources: ``torch.nn.modules.utils.consume_prefix_in_state_dict_if_present``
(wrapper prefixes); the safetensors format and its notes on shared tensors
(https://huggingface.co/docs/safetensors/torch_shared_tensors).

This module imports torch; import it lazily.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present

from zoo.errors import ZooError, first_line
from zoo.utils.fileio import atomic_path

if TYPE_CHECKING:
    from zoo.models.protocols import Adapter

__all__ = [
    "PICKLE_SUFFIXES",
    "load_into",
    "load_state_and_metadata",
    "load_state_file",
    "read_weights_file",
    "require_safe_torch_load",
    "save_state_file",
]

PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
# Containers in which training scripts wrap a state dict, most specific first.
_CONTAINER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network")
# Prefixes added by torch.compile (_orig_mod.) and nn.DataParallel / DistributedDataParallel
# (module.), in either wrapping order: timm.models.clean_state_dict's list. We do not call
# clean_state_dict itself: it strips the prefixes key by key, so a plain state dict of a model
# with a child called ``module`` would lose it, and ``import timm.models`` adds 1.4 s to a
# load (measured on this 2-core machine); torch's consume_prefix_in_state_dict_if_present
# strips a prefix, applied only when every key carries it.
_WRAPPER_PREFIXES = ("_orig_mod.", "module.", "_orig_mod.")


# ---------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------
def _flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and not isinstance(v, torch.Tensor):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _unwrap(obj: Any, path: str) -> dict[str, torch.Tensor]:
    """The state dict inside a loaded checkpoint: containers unwrapped, wrapper prefixes stripped."""
    for _ in range(4):
        if not isinstance(obj, Mapping):
            break
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        inner = next((obj[k] for k in _CONTAINER_KEYS if k in obj and isinstance(obj[k], Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise ZooError(f"weights file {path} holds a {type(obj).__name__}, not a state dict; pass a file saved from model.state_dict()")
    state = _flatten(obj)
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad or not state:
        what = f"non-tensor entries ({', '.join(bad[:3])})" if bad else "no tensors"
        raise ZooError(f"weights file {path} holds {what}, not a state dict; pass a file saved from model.state_dict()")
    for pre in _WRAPPER_PREFIXES:
        if all(k.startswith(pre) for k in state):
            consume_prefix_in_state_dict_if_present(state, pre)
    return state


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    tensors = {}
    with safe_open(str(path), framework="pt", device="cpu") as f:
        meta = dict(f.metadata() or {})
        for k in f.keys():  # noqa: SIM118 (safe_open is not a dict: no __iter__)
            tensors[k] = f.get_tensor(k)
    return tensors, meta


def _not_weights(path: Path, what: str, exc: BaseException | None = None) -> ZooError:
    """The one-line error for a file that did not read as weights: what it is (:func:`zoo.io.filekind.identify_file`), what was expected."""
    from zoo.io.filekind import EXPECTED_WEIGHTS, identify_file

    kind = identify_file(path, error=exc)
    return ZooError(f"{what} {path} is {kind.description}; expected {EXPECTED_WEIGHTS}{kind.hint}")


def require_safe_torch_load() -> None:
    """Refuse to unpickle anything on torch < 2.6, where ``torch.load(weights_only=True)`` can still run code.

    CVE-2025-32434 (GHSA-53q9-r3pm-6pq6): a crafted file runs code through
    ``weights_only=True`` on torch <= 2.5.1; fixed in 2.6.0. The package requires
    ``torch>=2.6``; this is the defence for an environment that forces an older torch.
    Call it right before every ``torch.load``. A version string that does not start
    with ``MAJOR.MINOR`` is not refused.

    Raises:
        ZooError: torch is older than 2.6 (one line, exit code 1).
    """
    m = re.match(r"(\d+)\.(\d+)", str(torch.__version__))
    if m and (int(m.group(1)), int(m.group(2))) < (2, 6):
        raise ZooError(
            f"torch {torch.__version__} cannot read pickled weights safely: before 2.6, torch.load(weights_only=True) "
            "can run code (CVE-2025-32434); upgrade torch (pip install 'torch>=2.6') or use a .safetensors file"
        )


def read_weights_file(path: str | os.PathLike[str], *, what: str = "weights file") -> tuple[Any, dict[str, str], str]:
    """Read a weights file as stored, safely, choosing the reader by content (:func:`zoo.io.filekind.weights_format`), never by suffix.

    The one reader under :func:`load_state_file` and :func:`zoo.io.official.read_official`:
    safetensors files with safetensors (no code can run); ``torch.save`` files (zip, or the
    legacy pickle format) with ``torch.load(path, map_location="cpu", weights_only=True)``
    only, after :func:`require_safe_torch_load`. Anything else, and any file that fails to
    read, is one :class:`~zoo.errors.ZooError` line naming what the file is
    (:func:`zoo.io.filekind.identify_file`: an HTML page, a PNG image, a torch.save zip cut
    short, a pickle that holds code...) and what was expected.

    Args:
        path: an existing file.
        what: how messages name the file (``"weights file"``, ``"checkpoint"``).

    Returns:
        ``(content, metadata, format)``: ``format`` ``"safetensors"`` (``content``
        ``{name: tensor}``, ``metadata`` the header's ``__metadata__``) or ``"torch"``
        (``content`` what ``torch.load`` returned, unmodified; ``metadata`` ``{}``).
        Tensors are on the CPU.

    Raises:
        ZooError: the file cannot be opened, is not a weights file, or fails to read
            (exit code 1); a torch file on torch < 2.6 (:func:`require_safe_torch_load`).
    """
    import warnings

    from zoo.io.filekind import weights_format

    p = Path(path)
    try:
        fmt = weights_format(p)
    except OSError as exc:
        raise ZooError(f"{what} {p} cannot be opened ({exc.strerror or exc}); check the path and its permissions") from exc
    if fmt is None:
        raise _not_weights(p, what)
    if fmt == "torch":
        require_safe_torch_load()
    try:
        if fmt == "safetensors":
            tensors, meta = _read_safetensors(p)
            return tensors, meta, fmt
        # an open file, not the path: torch.load reads a path ending in .safetensors as safetensors, whatever it holds
        with open(p, "rb") as fh, warnings.catch_warnings():  # torch's warnings on what it refuses: the error names it
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(fh, map_location="cpu", weights_only=True), {}, fmt
    except Exception as exc:  # SafetensorError, UnpicklingError (refused global), RuntimeError/EOFError (truncated), OSError
        raise _not_weights(p, what, exc) from exc


def _existing_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise ZooError(f"weights file {p} does not exist; pass an existing .safetensors/.pth file or a published tag such as imagenet")
    if not p.is_file():
        raise ZooError(f"weights file {p} is not a file; pass a .safetensors/.pth file or a checkpoint directory")
    if not os.access(p, os.R_OK):
        raise ZooError(f"weights file {p} is not readable (permission denied); fix its permissions")
    return p


def load_state_and_metadata(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a state dict and the file's own metadata, as :func:`load_state_file` does.

    Returns:
        ``(state, metadata)``: ``state`` as :func:`load_state_file` returns it; ``metadata``
        is the safetensors header's ``__metadata__`` (``{str: str}``, e.g. ``zoo_model``,
        ``format``), ``{}`` for pickled files.

    Raises:
        ZooError: as :func:`load_state_file`.
    """
    p = _existing_file(path)
    content, meta, fmt = read_weights_file(p)
    if fmt == "safetensors":
        return content, meta
    return _unwrap(content, str(p)), {}


def load_state_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a state dict from a weights file, safely.

    The format is recognised by content, whatever the suffix (:func:`read_weights_file`):
    safetensors files are read with safetensors (no code can run); ``torch.save`` files
    (``.pth``, ``.pt``, ``.ckpt``, ``.bin``...) with ``torch.load(path, map_location="cpu",
    weights_only=True)`` only, which refuses any pickled object other than tensors and plain
    containers; common wrappers are removed: a ``state_dict``/``model_state_dict``/
    ``model``/``module``/``net`` entry, nested dicts (joined with ``.``), ``module.``
    (DataParallel) and ``_orig_mod.`` (torch.compile) prefixes when every key has them. A
    file that is neither
    is named by what it is (:func:`zoo.io.filekind.describe_file`).

    Args:
        path: the file.

    Returns:
        ``{name: tensor}`` on the CPU, dtypes as stored (usually float32).

    Raises:
        ZooError: the file is missing or unreadable; not a weights file, truncated or
            corrupt, or holds pickled objects other than tensors (the message names what the
            file is: an HTML page, an image, a text file...); holds no state dict; a pickled
            file on torch < 2.6 (:func:`require_safe_torch_load`).
    """
    return load_state_and_metadata(path)[0]


# ---------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------
def _prepare(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU tensors; tensors sharing storage are copied.

    safetensors' ``save_file`` refuses tensors that share memory, and
    ``safetensors.torch.save_model`` (which saves a shared tensor once) needs the
    ``nn.Module``; a downloaded state dict has none, so shared entries are cloned: every key
    stays in the file and any reader can load it strictly.
    """
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for k, v in state.items():
        t = v.detach().to("cpu")
        if not t.is_contiguous():
            t = t.contiguous()
        ptr = t.untyped_storage().data_ptr()
        if t.numel() and ptr in seen:
            t = t.clone()
        elif t.numel():
            seen.add(ptr)
        out[k] = t
    return out


def save_state_file(state: Mapping[str, torch.Tensor], path: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None) -> Path:
    """Write a state dict as a safetensors file, atomically (whole or absent, 0644).

    Used to convert downloaded ``.pth`` weights once. Tensors are written detached,
    contiguous and on the CPU with their dtypes kept; entries sharing storage are stored
    as copies (see :func:`_prepare`). To save a model's own weights, use
    :func:`zoo.io.checkpoint.save_checkpoint`.

    Args:
        state: ``{name: tensor}``.
        path: the ``.safetensors`` file (parent directories are created).
        metadata: written into the safetensors header, values converted with ``str``.

    Returns:
        ``Path(path)``.

    Raises:
        ZooError: the file cannot be written (disk full, permissions).
    """
    import safetensors.torch as st

    final = Path(path)
    try:
        with atomic_path(final) as tmp:
            st.save_file(_prepare(state), str(tmp), metadata={k: str(v) for k, v in (metadata or {}).items()})
    except OSError as exc:
        raise ZooError(f"cannot write {final} ({first_line(exc)}); free some space or choose another directory") from exc
    return final


# ---------------------------------------------------------------------------------
# loading into a model
# ---------------------------------------------------------------------------------
def _examples(keys: list[str], n: int = 3) -> str:
    shown = ", ".join(keys[:n])
    return shown + (", ..." if len(keys) > n else "")


def _shape(t: torch.Tensor) -> str:
    return str(tuple(t.shape))


def _config_diff(adapter: Adapter, meta: Mapping[str, Any] | None) -> str:
    """``"k=v (this model: w), ..."`` for the sidecar config entries that differ from ``adapter.config()``."""
    saved = (meta or {}).get("config")
    if not isinstance(saved, Mapping) or not hasattr(adapter, "config"):
        return ""
    mine = adapter.config()
    diff = [f"{k}={saved[k]} (this model: {mine[k]})" for k in saved if k in mine and k != "frozen_until" and saved[k] != mine[k]]
    return ", ".join(diff)


def _fill_tied(own: Mapping[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    """Give the model's tied names (one tensor under several names) the value saved under one of them.

    ``safetensors.torch.save_model`` stores a tied tensor once, under one name; the others
    are absent from the file (and so from ``want``), which ``load_state_dict(strict=True)``
    would report as missing. Same group as ``safetensors.torch._find_shared_tensors``,
    restricted to exact aliases (same start, shape and strides).
    """
    groups: dict[tuple[Any, ...], list[str]] = {}
    for k, t in own.items():
        if t.numel():
            groups.setdefault((t.device, t.data_ptr(), t.dtype, tuple(t.shape), t.stride()), []).append(k)
    for names in groups.values():
        src = next((n for n in names if n in want), None) if len(names) > 1 else None
        if src is not None:
            for n in names:
                want.setdefault(n, want[src])


def load_into(
    adapter: Adapter, state: Mapping[str, torch.Tensor], *, source: str, ignore_head: bool = False, meta: Mapping[str, Any] | None = None
) -> None:
    """Load ``state`` into ``adapter.model``, strictly: every key must match, with its shape.

    Keys, shapes and unexpected entries are checked before anything is copied, so a
    mismatch leaves the model untouched. Missing ``*.num_batches_tracked`` buffers are
    allowed (``BatchNorm`` fills them, as ``nn.Module.load_state_dict`` does for old
    checkpoints), and so are the names of a tied tensor that ``safetensors.torch.save_model``
    saved under one name only. Values are copied into the existing parameters (dtype and
    device of the model are kept).

    Args:
        adapter: a :class:`~zoo.models.adapters.BackboneAdapter` or :class:`~zoo.models.gan.GANAdapter`;
            its ``convert_state_dict(state)``, when it has one, renames ``state``'s keys first.
        state: ``{name: tensor}``.
        source: how to name the weights in messages (a path, ``"resnet18 imagenet weights"``).
        ignore_head: drop the entries under ``adapter.head`` (dotted module path, e.g. ``fc``
            or ``classifier.6``; backbones only) and keep the model's own head; every other
            key must still match exactly (ImageNet weights under a new head).
        meta: the checkpoint's sidecar, if any; when its ``model`` names another
            architecture, the error says the weights belong to that one.

    Raises:
        ZooError: ``ignore_head`` for a model without a head (exit code 2); otherwise one
            line naming the model, the counts of missing / unexpected / wrong-shape keys with
            up to three examples each, and a hint.
    """
    model = adapter.model
    name = adapter.spec.name
    convert = getattr(adapter, "convert_state_dict", None)  # a family's renaming of its older files' keys
    state = convert(state) if convert is not None else state
    own = model.state_dict()
    head = getattr(adapter, "head", "") if ignore_head else ""
    if ignore_head and not head:
        raise ZooError(f"{name} has no classifier head to ignore; load its weights without {{param}}", param="ignore_head", exit_code=2)
    in_head = (lambda k: k.startswith(head + ".")) if head else (lambda k: False)
    want = dict(state)
    _fill_tied(own, want)
    want = {k: v for k, v in want.items() if not in_head(k)}
    missing = [k for k in own if k not in want and not in_head(k) and not k.endswith(".num_batches_tracked")]
    unexpected = [k for k in want if k not in own]
    wrong = [k for k in want if k in own and tuple(want[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        parts = [f"{len(missing)} missing keys" + (f" ({_examples(missing)})" if missing else "")]
        parts.append(f"{len(unexpected)} unexpected" + (f" ({_examples(unexpected)})" if unexpected else ""))
        parts.append(
            f"{len(wrong)} of the wrong shape"
            + (f" ({', '.join(f'{k}: file {_shape(want[k])} vs model {_shape(own[k])}' for k in wrong[:3])})" if wrong else "")
        )
        other = str((meta or {}).get("model") or "")
        if other and other != name:
            hint = f"they belong to {other} (per the checkpoint's sidecar); build {other} or pass {name} weights"
        elif other == name and _config_diff(adapter, meta):
            hint = f"the checkpoint was saved with {_config_diff(adapter, meta)}; build {name} with the same options"
        elif wrong and not missing and not unexpected and all(k.startswith(getattr(adapter, "head", "\0") + ".") for k in wrong):
            hint = "only the classifier head differs; build the model with that many classes (--head N)"
        else:
            hint = f"they were saved from another architecture; pass weights of {name} (from zoo train/adapt) or a published tag"
        raise ZooError(f"cannot load {source} into {name}: {', '.join(parts)}; {hint}")
    try:
        result = model.load_state_dict(want, strict=not head)
    except RuntimeError as exc:  # pragma: no cover - pre-checks above catch the usual cases
        raise ZooError(f"cannot load {source} into {name}: {first_line(exc)}") from exc
    if head:
        left = [k for k in result.missing_keys if not in_head(k) and not k.endswith(".num_batches_tracked")]
        if left or result.unexpected_keys:  # pragma: no cover - pre-checked
            raise ZooError(
                f"cannot load {source} into {name}: missing {_examples(left)}, unexpected {_examples(list(result.unexpected_keys))}"
            )
