"""The weights layer: downloads, the cache, safe checkpoint reading and writing, loading.

* Everything we write is safetensors (no pickles). Pickled PyTorch files (``.pth``,
  ``.pt``, ``.ckpt``, ``.bin``) are read with ``torch.load(weights_only=True)`` only, which
  refuses every pickled object that is not a tensor or a plain container; published
  ``.pth`` files are converted to safetensors once, on download.
* Downloads use the standard library (:mod:`urllib.request`), resume an interrupted
  ``.part`` file with an HTTP ``Range`` request, verify SHA-256 (a full digest, or the
  prefix that torchvision puts in its file names, ``resnet18-f37072fd.pth``) and only then
  rename the file into place, so a half-written file never has the final name.
* One cache directory (:func:`cache_dir`); ``ZOO_OFFLINE=1`` (or ``HF_HUB_OFFLINE=1``)
  forbids the network and every failure is one clear line (:class:`~zoo.errors.ZooError`).
* Checkpoints written by ``zoo train``/``zoo adapt`` are a directory with
  ``model.safetensors`` (the ``state_dict``) and ``model.json`` (the sidecar: which model,
  its config, training metadata).

Sources: ``torch.hub.download_url_to_file`` (temp file beside the destination, hash while
streaming, then move into place) and ``torch.hub.check_hash`` / torchvision's convention
that the 8 hex digits after the last ``-`` of a weight file name are the start of its
SHA-256 (``HASH_REGEX = r"-([a-f0-9]*)\\."``); torchvision ``models/densenet.py``
``_load_state_dict`` (renaming of the old DenseNet keys ``norm.1`` -> ``norm1``); the
safetensors format (https://github.com/huggingface/safetensors).

This module imports torch; import it lazily.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import re
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from zoo.errors import ZooError

__all__ = [
    "cache_dir",
    "offline",
    "download",
    "fetch_pretrained",
    "pretrained_path",
    "load_state_file",
    "load_into",
    "save_checkpoint",
    "read_checkpoint",
    "load_weights",
    "CHECKPOINT_FORMAT",
    "PICKLE_SUFFIXES",
]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "zoo-1"
PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
_TRUE = ("1", "true", "yes", "on")
_OFFLINE_VARS = ("ZOO_OFFLINE", "HF_HUB_OFFLINE")
_CHUNK = 1 << 20  # bytes read per network/disk read
_USER_AGENT = "zoo/0.1 (+python-urllib)"
_RANDOM_WORDS = ("none", "random")
# Containers in which training scripts wrap a state dict, most specific first.
_CONTAINER_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network")
# Prefixes added by nn.DataParallel / DistributedDataParallel and torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")
# torchvision DenseNet checkpoints predate PyTorch 0.4 and name "norm1" as "norm.1".
_DENSENET_OLD_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


# ---------------------------------------------------------------------------------
# cache and environment
# ---------------------------------------------------------------------------------
def cache_dir() -> Path:
    """The directory of downloaded and converted weights (not created here).

    ``$ZOO_CACHE`` if set and non-empty, else ``$XDG_CACHE_HOME/zoo``, else
    ``~/.cache/zoo`` (the XDG base-directory convention, as ``torch.hub`` and
    ``huggingface_hub`` use). Layout: ``<cache>/<model>/<tag>.safetensors`` (converted
    published weights) and ``<cache>/downloads/<file name>`` (original files being
    downloaded). Raises nothing.
    """
    env = os.environ.get("ZOO_CACHE", "").strip()
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg:
        return Path(xdg).expanduser() / "zoo"
    return Path.home() / ".cache" / "zoo"


def _offline_var() -> str | None:
    for var in _OFFLINE_VARS:
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return var
    return None


def offline() -> bool:
    """True when ``ZOO_OFFLINE`` or ``HF_HUB_OFFLINE`` is ``1``/``true``/``yes``/``on``
    (case-insensitive): no download is attempted, only the cache and local files are used.
    ``HF_HUB_OFFLINE`` is huggingface_hub's own switch, honoured so one variable silences
    both. Raises nothing."""
    return _offline_var() is not None


# ---------------------------------------------------------------------------------
# download
# ---------------------------------------------------------------------------------
def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or url


def _check_sha(expected: str) -> str:
    exp = expected.strip().lower()
    if exp and not re.fullmatch(r"[0-9a-f]{1,64}", exp):
        raise ZooError(f"sha256 {expected!r} is not a hex digest or a prefix of one; pass 1 to 64 hex digits or ''")
    return exp


def _reason(exc: BaseException) -> str:
    """A short, one-line description of a network error."""
    r = getattr(exc, "reason", exc)
    if isinstance(r, socket.gaierror):
        return f"DNS lookup failed: {r.strerror or r}"
    if isinstance(r, ConnectionRefusedError):
        return "connection refused"
    if isinstance(r, (TimeoutError, socket.timeout)):
        return "timed out"
    text = str(r).strip() or type(r).__name__
    return text.splitlines()[0][:200]


def _sha256_file(path: Path, h: Any | None = None) -> Any:
    h = h or hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h


def _progress_bar(enabled: bool, name: str, total: int | None, done: int) -> Any:
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = bar.add_task(name, total=total, completed=done)
    bar.start()
    return bar, task


@contextlib.contextmanager
def _download_lock(dest: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``dest + ".lock"`` (POSIX ``flock``; released if the
    process dies), so two processes never append to the same ``.part`` file."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no locking
        yield
        return
    lock = dest.with_name(dest.name + ".lock")
    with open(lock, "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise ZooError(f"another process is downloading {dest} (it holds {lock}); wait for it to finish and run again") from exc
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _download_to_part(url: str, dest: Path, part: Path, *, host: str, expected: str, progress: bool, timeout: float) -> Path:
    for attempt in range(3):
        start = part.stat().st_size if part.is_file() else 0
        headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
        if start:
            headers["Range"] = f"bytes={start}-"
        req = urllib.request.Request(url, headers=headers)
        try:
            resp = urllib.request.urlopen(req, timeout=timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and start and attempt < 2:  # our partial file is useless: restart
                log.info("server refused the range of %s (416); restarting the download", part)
                part.unlink(missing_ok=True)
                continue
            raise ZooError(
                f"HTTP {exc.code} {exc.reason} from {host} for {url}; check the URL or your network, "
                "or download the file yourself and pass --weights FILE"
            ) from exc
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            raise ZooError(
                f"cannot reach {host} to download {url} ({_reason(exc)}); check your network, "
                "or pass --weights FILE (ZOO_OFFLINE=1 never tries the network)"
            ) from exc
        with resp:
            status = getattr(resp, "status", None) or resp.getcode()
            resumed = False
            if start and status == 206:
                crange = resp.headers.get("Content-Range", "")
                m = re.match(r"bytes\s+(\d+)-", crange)
                if not m or int(m.group(1)) != start:
                    log.info("server answered range %r for %s from byte %d; restarting", crange, url, start)
                    part.unlink(missing_ok=True)
                    if attempt < 2:
                        continue
                    raise ZooError(f"{host} answered a bad Content-Range ({crange!r}) for {url}; delete {part} and try again")
                resumed = True
            elif start:
                log.info("%s ignored the Range request (HTTP %s); restarting from byte 0", host, status)
            length = resp.headers.get("Content-Length")
            remaining = int(length) if length and length.isdigit() else None
            done = start if resumed else 0
            total = (done + remaining) if remaining is not None else None
            h = _sha256_file(part) if resumed else hashlib.sha256()
            bar = _progress_bar(progress, dest.name, total, done)
            got = 0
            try:
                with open(part, "ab" if resumed else "wb") as fh:
                    while True:
                        try:
                            block = resp.read(_CHUNK)
                        except Exception as exc:  # time-out, reset, http.client.IncompleteRead
                            raise ZooError(
                                f"download of {url} from {host} broke off after {done + got} bytes ({_reason(exc)}); "
                                "run the command again to resume, or pass --weights FILE"
                            ) from exc
                        if not block:
                            break
                        fh.write(block)
                        h.update(block)
                        got += len(block)
                        if bar is not None:
                            bar[0].update(bar[1], advance=len(block))
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:  # writing failed: disk full, permissions
                raise ZooError(f"cannot write {part} ({_reason(exc)}); free some space or set ZOO_CACHE elsewhere") from exc
            finally:
                if bar is not None:
                    bar[0].stop()
            if remaining is not None and got < remaining:
                raise ZooError(
                    f"download of {url} from {host} broke off after {done + got} of {total} bytes; "
                    "run the command again to resume, or pass --weights FILE"
                )
        digest = h.hexdigest()
        if expected and not digest.startswith(expected):
            part.unlink(missing_ok=True)
            raise ZooError(
                f"sha256 mismatch for {url}: expected {expected}, got {digest}; the file was deleted, "
                "try again or download it yourself and pass --weights FILE"
            )
        if not expected:
            log.warning("downloaded %s without a published checksum; its sha256 is %s", url, digest)
        try:
            os.replace(part, dest)
        except OSError as exc:
            raise ZooError(f"cannot move {part} to {dest} ({_reason(exc)})") from exc
        return dest
    raise ZooError(f"could not download {url} from {host} after 3 attempts; delete {part} and try again")  # pragma: no cover


def download(url: str, dest: str | os.PathLike[str], *, sha256: str = "", progress: bool = True, timeout: float = 10.0) -> Path:
    """Download ``url`` to ``dest`` atomically, resuming an earlier partial download.

    Bytes are streamed into ``dest + ".part"``. If that file already exists (an earlier
    download was interrupted), the request carries ``Range: bytes=N-`` and the answer is
    appended when the server replies ``206 Partial Content`` with that range; a ``200``
    (server ignores ranges) restarts from byte 0, a ``416`` drops the partial file and
    restarts. The SHA-256 of the whole file is checked, then the ``.part`` file is renamed
    to ``dest`` with :func:`os.replace` (atomic on one file system), so ``dest`` is either
    absent, the old file, or the complete verified file. An advisory lock on
    ``dest + ".lock"`` keeps two processes from writing the same ``.part`` file. As
    ``torch.hub.download_url_to_file`` (hash while streaming, move into place when
    verified), but resumable; the hash check is ``torch.hub.check_hash``'s.

    Args:
        url: ``http(s)://`` address; redirects are followed.
        dest: final path; its directory is created.
        sha256: expected SHA-256 as hex: the full 64-digit digest, or a prefix of it (as
            torchvision's file names carry the first 8 digits: ``resnet18-f37072fd.pth``).
            ``""``: not checked; the computed digest is logged (warning) so it can be pinned.
        progress: show a rich progress bar (bytes, speed, time left) on stderr.
        timeout: seconds to wait for the connection and for each read (float).

    Returns:
        ``Path(dest)``.

    Raises:
        ZooError: offline mode (``ZOO_OFFLINE``/``HF_HUB_OFFLINE``), raised before any
            network access; the host cannot be reached (DNS failure, connection refused,
            time-out), naming the host; an HTTP error status; the connection dropped
            before the end (the ``.part`` file is kept, so running again resumes); a
            SHA-256 mismatch (the downloaded file is deleted; both digests are given);
            ``dest`` cannot be written; another process is downloading ``dest``.
    """
    dest = Path(dest)
    expected = _check_sha(sha256)
    var = _offline_var()
    if var:
        raise ZooError(f"{var} is set: cannot download {url}; put the file at {dest} or pass --weights FILE")
    host = _host(url)
    part = dest.with_name(dest.name + ".part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cannot create the download directory {dest.parent} ({_reason(exc)}); set ZOO_CACHE to a writable directory") from exc

    with _download_lock(dest):
        return _download_to_part(url, dest, part, host=host, expected=expected, progress=progress, timeout=timeout)


# ---------------------------------------------------------------------------------
# reading state dicts
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
            state = {k[len(pre) :]: v for k, v in state.items()}
    renamed = {}
    for k, v in state.items():
        m = _DENSENET_OLD_KEY.match(k)
        renamed[m.group(1) + m.group(2) if m else k] = v
    return renamed


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    m = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if m:
        return f"it pickles a {m.group(1)} object, which torch.load(weights_only=True) refuses to run"
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
    return line.replace("\x1b[1m", "").replace("\x1b[0m", "")[:200]


def _sniff(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(9)
    if head[:2] == b"PK" or head[:1] == b"\x80":
        return "pth"
    return "safetensors"


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        tensors = {}
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            for k in f.keys():
                tensors[k] = f.get_tensor(k)
    except Exception as exc:
        raise ZooError(
            f"weights file {path} is not a readable safetensors file ({_first_line(exc)}); "
            "it may be truncated or corrupt: download or save it again"
        ) from exc
    return tensors, meta


def _read_pickle(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError (refused global), RuntimeError/EOFError (truncated), ...
        raise ZooError(
            f"weights file {path} is not a readable PyTorch file ({_first_line(exc)}); "
            "it may be truncated or corrupt, or hold more than tensors: pass a state dict or a .safetensors file"
        ) from exc
    return _unwrap(obj, str(path))


def _existing_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise ZooError(f"weights file {p} does not exist; pass an existing .safetensors/.pth file or a published tag such as imagenet")
    if not p.is_file():
        raise ZooError(f"weights file {p} is not a file; pass a .safetensors/.pth file or a checkpoint directory")
    if not os.access(p, os.R_OK):
        raise ZooError(f"weights file {p} is not readable (permission denied); fix its permissions")
    return p


def _load_with_meta(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    p = _existing_file(path)
    suffix = p.suffix.lower()
    kind = "safetensors" if suffix == ".safetensors" else "pth" if suffix in PICKLE_SUFFIXES else _sniff(p)
    if kind == "safetensors":
        return _read_safetensors(p)
    return _read_pickle(p), {}


def load_state_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a state dict from a weights file, safely.

    ``.safetensors`` files are read with safetensors (no code can run). ``.pth``, ``.pt``,
    ``.ckpt`` and ``.bin`` files are read with ``torch.load(path, map_location="cpu",
    weights_only=True)`` only, which refuses any pickled object other than tensors and plain
    containers; common wrappers are removed: a ``state_dict``/``model_state_dict``/
    ``model``/``module``/``net`` entry, nested dicts (joined with ``.``), ``module.``
    (DataParallel) and ``_orig_mod.`` (torch.compile) prefixes, and torchvision's old
    DenseNet key names (``norm.1`` -> ``norm1``). Other suffixes are recognised by content.

    Args:
        path: the file.

    Returns:
        ``{name: tensor}`` on the CPU, dtypes as stored (usually float32).

    Raises:
        ZooError: the file is missing or unreadable, truncated or corrupt, holds pickled
            objects other than tensors, or holds no state dict.
    """
    return _load_with_meta(path)[0]


def _prepare(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU tensors; tensors sharing storage are copied (safetensors refuses shared memory)."""
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


def _fsync(path: str | Path) -> None:
    try:
        with open(path, "rb+") as fh:
            os.fsync(fh.fileno())
    except OSError:  # pragma: no cover - best effort (some file systems refuse fsync)
        pass


def _tmp_beside(final: Path) -> Path:
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.close(fd)
    return Path(tmp)


def _write_safetensors_tmp(state: Mapping[str, torch.Tensor], final: Path, metadata: dict[str, str]) -> Path:
    """Write ``state`` to a temp file beside ``final``; the caller renames it. Removes the temp file on failure."""
    import safetensors.torch as st

    tmp = _tmp_beside(final)
    try:
        st.save_file(_prepare(state), str(tmp), metadata={k: str(v) for k, v in metadata.items()})
        _fsync(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _save_safetensors_atomic(state: Mapping[str, torch.Tensor], final: Path, metadata: dict[str, str]) -> Path:
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = _write_safetensors_tmp(state, final, metadata)
        os.replace(tmp, final)
    except OSError as exc:
        raise ZooError(f"cannot write {final} ({_reason(exc)}); free some space or choose another directory") from exc
    return final


# ---------------------------------------------------------------------------------
# published weights
# ---------------------------------------------------------------------------------
def _url_file_name(url: str) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name
    return name or "weights.bin"


def pretrained_path(spec: Any, tag: str | None = None) -> Path:
    """Where the converted published weights of ``spec`` live: ``cache_dir()/<name>/<tag>.safetensors``.

    Raises:
        ZooError: no published weights with that tag.
    """
    return cache_dir() / spec.name / f"{spec.weight_source(tag).tag}.safetensors"


def fetch_pretrained(spec: Any, tag: str | None = None, *, progress: bool = True) -> Path:
    """The published weights of ``spec`` as a local safetensors file, downloading once.

    The file is ``cache_dir()/<spec.name>/<tag>.safetensors``; if it exists it is returned
    with no network access at all. Otherwise the original file of
    ``spec.weight_source(tag)`` is downloaded (:func:`download`, SHA-256 checked):
    safetensors files straight to the cache path (after checking that they parse);
    ``.pth`` files to ``cache_dir()/downloads/<file name>`` (a file already there, e.g. put
    there by hand in offline mode, is used after its hash is checked), read with
    ``torch.load(weights_only=True)`` only, unwrapped as in :func:`load_state_file`, and
    written as safetensors (temp file beside it, then :func:`os.replace`) with metadata
    ``zoo_model``, ``tag``, ``source_url`` and ``sha256``; the original is then deleted.

    Args:
        spec: a :class:`zoo.spec.ModelSpec`.
        tag: weight tag (``"imagenet"``); ``None``/``"default"``: the first published one.
        progress: show a progress bar while downloading.

    Returns:
        Path of the cached ``.safetensors`` file.

    Raises:
        ZooError: no such published weights; offline without a cached file; any download,
            checksum or read error of :func:`download` / :func:`load_state_file`.
    """
    src = spec.weight_source(tag)
    final = pretrained_path(spec, src.tag)
    if final.is_file():
        return final
    name = _url_file_name(src.url)
    is_safetensors = src.format == "safetensors" or name.lower().endswith(".safetensors")
    if is_safetensors:
        download(src.url, final, sha256=src.sha256, progress=progress)
        try:
            _read_safetensors(final)
        except ZooError as exc:
            final.unlink(missing_ok=True)
            raise ZooError(f"{exc} (downloaded from {src.url}; deleted)") from exc
        return final
    raw = cache_dir() / "downloads" / name
    expected = _check_sha(src.sha256)
    if raw.is_file():
        digest = _sha256_file(raw).hexdigest()
        if expected and not digest.startswith(expected):
            raw.unlink(missing_ok=True)
            if offline():
                raise ZooError(
                    f"sha256 mismatch for {raw}: expected {expected}, got {digest}; the file was deleted, "
                    f"put the right file from {src.url} there or pass --weights FILE"
                )
    if not raw.is_file():
        download(src.url, raw, sha256=src.sha256, progress=progress)
        digest = _sha256_file(raw).hexdigest()
    state = _read_pickle(raw)
    meta = {"zoo_model": spec.name, "tag": src.tag, "source_url": src.url, "sha256": digest}
    _save_safetensors_atomic(state, final, meta)
    raw.unlink(missing_ok=True)
    return final


# ---------------------------------------------------------------------------------
# loading into a model
# ---------------------------------------------------------------------------------
def _examples(keys: list[str], n: int = 3) -> str:
    shown = ", ".join(keys[:n])
    return shown + (", ..." if len(keys) > n else "")


def _shape(t: torch.Tensor) -> str:
    return str(tuple(t.shape))


def _config_diff(adapter: Any, meta: Mapping[str, Any] | None) -> str:
    """``"k=v (this model: w), ..."`` for the sidecar config entries that differ from ``adapter.config()``."""
    saved = (meta or {}).get("config")
    if not isinstance(saved, Mapping) or not hasattr(adapter, "config"):
        return ""
    mine = adapter.config()
    diff = [f"{k}={saved[k]} (this model: {mine[k]})" for k in saved if k in mine and k != "frozen_until" and saved[k] != mine[k]]
    return ", ".join(diff)


def load_into(adapter: Any, state: Mapping[str, torch.Tensor], *, source: str, ignore_head: bool = False, meta: Mapping[str, Any] | None = None) -> None:
    """Load ``state`` into ``adapter.model``, strictly: every key must match, with its shape.

    Keys, shapes and unexpected entries are checked before anything is copied, so a
    mismatch leaves the model untouched. Missing ``*.num_batches_tracked`` buffers are
    allowed (``BatchNorm`` fills them, as ``nn.Module.load_state_dict`` does for old
    checkpoints). Values are copied into the existing parameters (dtype and device of
    the model are kept).

    Args:
        adapter: a :class:`~zoo.adapters.BackboneAdapter` or :class:`~zoo.adapters.GANAdapter`.
        state: ``{name: tensor}``.
        source: how to name the weights in messages (a path, ``"resnet18 imagenet weights"``).
        ignore_head: drop the entries under ``adapter.head`` (dotted module path, e.g. ``fc``
            or ``classifier.6``; backbones only) and keep the model's own head; every other
            key must still match exactly (ImageNet weights under a new head).
        meta: the checkpoint's sidecar, if any; when its ``model`` names another
            architecture, the error says the weights belong to that one.

    Raises:
        ZooError: one line naming the model, the counts of missing / unexpected /
            wrong-shape keys with up to three examples each, and a hint.
    """
    model = adapter.model
    name = adapter.spec.name
    own = model.state_dict()
    head = getattr(adapter, "head", "") if ignore_head else ""
    if ignore_head and not head:
        raise ZooError(f"{name} has no classifier head to ignore; load its weights without ignore_head")
    in_head = (lambda k: k.startswith(head + ".")) if head else (lambda k: False)
    want = {k: v for k, v in state.items() if not in_head(k)}
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
        raise ZooError(f"cannot load {source} into {name}: {_first_line(exc)}") from exc
    if head:
        left = [k for k in result.missing_keys if not in_head(k) and not k.endswith(".num_batches_tracked")]
        if left or result.unexpected_keys:  # pragma: no cover - pre-checked
            raise ZooError(f"cannot load {source} into {name}: missing {_examples(left)}, unexpected {_examples(list(result.unexpected_keys))}")


# ---------------------------------------------------------------------------------
# zoo checkpoints
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


def save_checkpoint(out_dir: str | os.PathLike[str], adapter: Any, meta: Mapping[str, Any]) -> Path:
    """Write ``out_dir/model.safetensors`` and its sidecar ``out_dir/model.json``, atomically.

    ``model.safetensors`` holds ``adapter.model.state_dict()`` (detached, contiguous CPU
    tensors, dtypes kept) with metadata ``{"zoo_model": spec.name, "format": "zoo-1"}``.
    ``model.json`` is ``meta`` updated with ``model``, ``family``, ``kind``,
    ``config`` (``adapter.config()``) and ``format`` (``"zoo-1"``), indented JSON; paths
    and numpy/tensor scalars are converted. Both files are first written completely to
    temp files in ``out_dir``, then renamed with :func:`os.replace`; on any error the temp
    files are removed and existing files are left as they were.

    Args:
        out_dir: the checkpoint directory (created, with parents).
        adapter: the adapter whose model to save.
        meta: training metadata (epochs, metrics, data set...), JSON-serialisable.

    Returns:
        Path of ``model.safetensors``.

    Raises:
        ZooError: the directory or files cannot be written (disk full, permissions).
    """
    out = Path(out_dir).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cannot create the checkpoint directory {out} ({_reason(exc)}); choose another --out") from exc
    spec = adapter.spec
    weights_path, json_path = out / "model.safetensors", out / "model.json"
    sidecar = dict(meta)
    sidecar.update(model=spec.name, family=spec.family, kind=spec.kind, config=adapter.config(), format=CHECKPOINT_FORMAT)
    text = json.dumps(sidecar, indent=2, default=_json_default) + "\n"
    tmp_w: Path | None = None
    tmp_j: Path | None = None
    try:
        tmp_w = _write_safetensors_tmp(adapter.model.state_dict(), weights_path, {"zoo_model": spec.name, "format": CHECKPOINT_FORMAT})
        tmp_j = _tmp_beside(json_path)
        with open(tmp_j, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_w, weights_path)
        tmp_w = None
        os.replace(tmp_j, json_path)
        tmp_j = None
    except OSError as exc:
        raise ZooError(f"cannot write the checkpoint in {out} ({_reason(exc)}); free some space or choose another --out") from exc
    finally:
        for t in (tmp_w, tmp_j):
            if t is not None:
                t.unlink(missing_ok=True)
    return weights_path


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
            ``.pth``/``.pt``/``.ckpt``/``.bin`` (read as :func:`load_state_file` does). The
            sidecar is ``<stem>.json`` beside the file, else ``model.json`` beside it.

    Returns:
        ``(state, sidecar)``: ``{name: tensor}`` on the CPU, and the sidecar dict. Without
        a sidecar, a safetensors file's ``zoo_model`` metadata gives ``{"model": ...}``;
        otherwise the dict is empty. If a fallback ``model.json`` names another model
        than the file's own ``zoo_model`` metadata, the metadata wins.

    Raises:
        ZooError: missing directory/file, unreadable or corrupt weights, sidecar that is not
            a JSON object.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        f = p / "model.safetensors"
        if not f.is_file():
            found = sorted(x.name for x in p.iterdir() if x.suffix.lower() in (".safetensors",) + PICKLE_SUFFIXES)
            hint = f"; found {', '.join(found[:5])}: pass one of them" if found else "; pass a checkpoint directory written by zoo train/adapt or a weights file"
            raise ZooError(f"checkpoint directory {p} has no model.safetensors{hint}")
        p = f
    elif not p.exists():
        raise ZooError(f"weights file {p} does not exist; pass a checkpoint directory, a .safetensors/.pth file or a published tag")
    state, file_meta = _load_with_meta(p)
    embedded = file_meta.get("zoo_model", "")
    own, shared = p.with_suffix(".json"), p.with_name("model.json")
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


# ---------------------------------------------------------------------------------
# the CLI's entry point
# ---------------------------------------------------------------------------------
def _ckpt_classes(adapter: Any, state: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> int | None:
    head = getattr(adapter, "head", "")
    w = state.get(f"{head}.weight") if head else None
    if w is not None and w.ndim >= 1:
        return int(w.shape[0])
    cfg = meta.get("config")
    if isinstance(cfg, Mapping) and isinstance(cfg.get("num_classes"), int):
        return int(cfg["num_classes"])
    return None


def load_weights(adapter: Any, weights: str | None, *, progress: bool = True) -> str:
    """Give ``adapter`` the weights the user asked for with ``--weights`` (the CLI's one entry point).

    * ``None``, ``"none"``, ``"random"``: keep the random initialisation; returns ``"random"``.
    * a published tag of ``adapter.spec`` (``"imagenet"``; ``"default"`` = the first): the
      cached safetensors of :func:`fetch_pretrained`, loaded with the head ignored when the
      adapter has another number of classes than the weights (the new head stays random);
      returns the tag. A tag wins over a file of the same name (write ``./imagenet``).
    * a path (checkpoint directory or weights file, see :func:`read_checkpoint`): if its
      sidecar names another model, that is an error; if its head has another number of
      classes than the adapter (head tensor's shape, else the sidecar's
      ``config.num_classes``), the adapter's head is first replaced with
      ``adapter.reset_head(n)`` so the load is strict: the caller resets the head again
      if it wants other classes. Returns ``"file:<absolute path>"``.

    Raises:
        ZooError: neither a tag nor an existing path (valid tags listed); a checkpoint of
            another model; a mismatching state dict; errors of :func:`fetch_pretrained`.
    """
    spec = adapter.spec
    if weights is None or weights.strip().lower() in _RANDOM_WORDS:
        return "random"
    w = weights.strip()
    tags = [s.tag for s in spec.weights]
    if w in tags or (w == "default" and tags):
        src = spec.weight_source(w)
        path = fetch_pretrained(spec, src.tag, progress=progress)
        try:
            state = load_state_file(path)
        except ZooError as exc:
            raise ZooError(f"{exc}; delete the cached {path} to download it again") from exc
        n = getattr(adapter, "num_classes", src.num_classes)
        load_into(adapter, state, source=f"{spec.name} {src.tag} weights ({path})", ignore_head=n != src.num_classes)
        return src.tag
    p = Path(w).expanduser()
    if not p.exists():
        valid = ", ".join([*_RANDOM_WORDS, *tags]) + ("" if tags else f"; {spec.name} publishes no weights")
        raise ZooError(
            f"--weights {w!r} is neither a published tag of {spec.name} (valid: {valid}) nor an existing file "
            f"({p.absolute()} not found); pass a tag, a checkpoint directory or a .safetensors/.pth file"
        )
    state, meta = read_checkpoint(p)
    other = meta.get("model")
    if other and other != spec.name:
        raise ZooError(f"weights file {p} was written for {other}, not {spec.name}; build {other} or pass a {spec.name} checkpoint")
    if hasattr(adapter, "reset_head"):
        n_ckpt = _ckpt_classes(adapter, state, meta)
        if n_ckpt is not None and n_ckpt != adapter.num_classes and n_ckpt >= 1:
            adapter.reset_head(n_ckpt)
    load_into(adapter, state, source=f"weights file {p}", meta=meta)
    return f"file:{p.absolute()}"
