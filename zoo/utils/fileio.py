"""Atomic file writes: the one place that writes a file so that it is either whole or absent.

Every file zoo writes (checkpoints, sidecars, PNG grids, JSON summaries, benchmark tables,
converted weights) goes through :func:`atomic_write`: the bytes go to a temporary file in
the target's own directory, are flushed and ``fsync``-ed, and the temporary file is then
renamed over the target with :func:`os.replace` (atomic on one file system, POSIX
``rename(2)``). A crash or an exception leaves the old file (or nothing) and no temporary
file behind. Files get the user's normal permissions (``0o666 & ~umask``, so ``0644``
under the usual umask), not the ``0600`` that :func:`tempfile.mkstemp` gives, so a team can
share ``ZOO_CACHE``.

Beyond single files:

* checkpoint directories are written whole into a temporary directory and swapped in
  (:func:`make_temp_dir`, :func:`swap_in_dir`, :func:`read_swapped_dir`), so files that
  belong together (weights, sidecar, training state) are always read from one save;
* JSON is strict (:func:`dumps_strict`): no ``NaN``/``Infinity`` tokens.

Where a command may write (the ``--out`` policy) is :mod:`zoo.utils.outputs`.

No torch import.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "as_os_error",
    "atomic_path",
    "atomic_write",
    "atomic_write_text",
    "dumps_strict",
    "fsync_path",
    "json_safe",
    "make_temp_dir",
    "nearest_existing",
    "read_swapped_dir",
    "remove_stale_temps",
    "swap_in_dir",
    "sync_or_raise",
    "umask_mode",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def umask_mode() -> int:
    """The permission bits a newly created regular file gets: ``0o666 & ~umask`` (``0o644`` usually)."""
    return 0o666 & ~_umask()


def nearest_existing(path: str | os.PathLike[str]) -> Path:
    """``path`` itself if it exists, else its nearest existing ancestor (where a writer would
    create the missing directories): check that one for write access before any work."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def fsync_path(path: str | os.PathLike[str]) -> None:
    """``fsync`` a file or directory by path, best effort (some file systems refuse it).

    For directories (after a rename) and files already in place; a temporary file about to
    be renamed into place is synced with :func:`sync_or_raise` instead, so that a write
    error reported only at ``fsync`` (disk full on NFS or under a quota, an I/O error)
    never lets a short file replace a good one."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


#: ``fsync`` errors that mean "this file system does not sync", not "your data is lost".
_NO_SYNC = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


def sync_or_raise(fd: int) -> None:
    """``fsync(fd)``; a file system without ``fsync`` is tolerated, any other error
    (``ENOSPC``, ``EDQUOT``, ``EIO``: the bytes may not be on disk) is raised.

    Raises:
        OSError: the data could not be written.
    """
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_SYNC:
            raise


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        sync_or_raise(fd)
    finally:
        os.close(fd)


def as_os_error(exc: BaseException) -> OSError:
    """``exc`` as an :class:`OSError`, for errors that are I/O failures under another type.

    safetensors raises its own ``SafetensorError`` (not an ``OSError``) when a write fails,
    with the OS error in its text: ``Error while serializing: I/O error: No space left on
    device (os error 28)`` (safetensors 0.8, measured on a full tmpfs; older releases wrote
    ``IoError(Os { code: 28, ... })``). The number becomes the errno (``ENOSPC`` here,
    strerror ``No space left on device``); without one, ``EIO`` with the first line of the
    message. Raises nothing.
    """
    if isinstance(exc, OSError):
        return exc
    text = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
    m = re.search(r"\bos error (\d+)|\bcode:\s*(\d+)", text)
    if m:
        code = int(m.group(1) or m.group(2))
        return OSError(code, os.strerror(code))
    return OSError(errno.EIO, text[:200])


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, mkdir: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsync-ed and renamed to ``path``.

    For writers that want a file name rather than a file object (``safetensors.torch.save_file``,
    ``PIL.Image.save``). On any exception the temporary file is removed and ``path`` is untouched;
    safetensors' ``SafetensorError`` comes out as an :class:`OSError` (:func:`as_os_error`),
    so that a writer's ``except OSError`` covers a full disk under safetensors too.

    Args:
        path: the final file.
        mkdir: create missing parent directories first.

    Raises:
        OSError: the directory cannot be created or written (callers turn it into a
            :class:`zoo.errors.ZooError` naming the option).
    """
    final = Path(path)
    if mkdir:
        final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, umask_mode())
        _sync_file(tmp)  # a write error surfacing only now must not rename a short file into place
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if type(exc).__name__ == "SafetensorError":  # a failed safetensors write is an OSError to every caller
            raise as_os_error(exc) from exc
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", *, encoding: str | None = None, mkdir: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; rename it to ``path`` on success.

    Args:
        path: the final file.
        mode: ``"wb"`` (bytes) or ``"w"`` (text).
        encoding: text encoding for ``mode="w"`` (default UTF-8).
        mkdir: create missing parent directories first.

    Raises:
        ValueError: ``mode`` is not a write mode.
        OSError: as :func:`atomic_path`.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path, mkdir=mkdir) as tmp:
        kwargs = {} if mode == "wb" else {"encoding": encoding or "utf-8"}
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            sync_or_raise(fh.fileno())


def atomic_write_text(path: str | os.PathLike[str], text: str, *, mkdir: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path`` as a :class:`Path`.

    Raises:
        OSError: as :func:`atomic_path`.
    """
    with atomic_write(path, "w", mkdir=mkdir) as fh:
        fh.write(text)
    return Path(path)


# ---------------------------------------------------------------------------------
# whole directories: a checkpoint directory is swapped in, never edited in place
# ---------------------------------------------------------------------------------
def make_temp_dir(final: str | os.PathLike[str]) -> Path:
    """A fresh, empty directory beside ``final`` (``.NAME.tmp-XXXX``), with the user's normal
    directory permissions (``0o777 & ~umask``, not ``mkdtemp``'s ``0o700``); fill it, then
    :func:`swap_in_dir` it. Parents of ``final`` are created.

    Raises:
        OSError: the parent cannot be created or written.
    """
    target = Path(final)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


def swap_in_dir(tmp: str | os.PathLike[str], final: str | os.PathLike[str]) -> Path:
    """Put the complete directory ``tmp`` in place of ``final``, so that a crash at any point
    leaves a complete directory to read (:func:`read_swapped_dir`).

    POSIX cannot rename a directory over a non-empty one, so it takes two renames: ``final``
    to ``final.old``, then ``tmp`` to ``final``; ``final.old`` is removed afterwards. A crash
    between the two renames leaves ``final.old`` (the previous complete version) and no
    ``final``; a later call keeps ``final.old`` until ``final`` exists again. The files in
    ``tmp`` and the parent directory are fsync-ed (best effort).

    Raises:
        OSError: a rename failed (``tmp`` is left for the caller to remove).
    """
    tmp, target = Path(tmp), Path(final)
    old = target.with_name(target.name + ".old")
    for f in tmp.rglob("*"):
        if f.is_file():
            fsync_path(f)
    if target.exists():
        if old.exists():  # a stale previous version: ``target`` is complete, so it can go
            shutil.rmtree(old)
        os.replace(target, old)
    os.replace(tmp, target)
    fsync_path(target.parent)
    shutil.rmtree(old, ignore_errors=True)
    return target


def remove_stale_temps(directory: str | os.PathLike[str]) -> list[str]:
    """Remove what a killed writer left in ``directory``: temporary files of
    :func:`atomic_path` (``.NAME.XXXX.tmp``) and directories of :func:`make_temp_dir`
    (``.NAME.tmp-XXXX``). Call it only on a directory one writer owns (a run being resumed
    or replaced), never while another process writes there. Returns the names removed."""
    removed = []
    d = Path(directory)
    if not d.is_dir():
        return removed
    for p in d.iterdir():
        if p.name.startswith(".") and (p.name.endswith(".tmp") or ".tmp-" in p.name):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            removed.append(p.name)
    return removed


def read_swapped_dir(final: str | os.PathLike[str]) -> Path | None:
    """The complete version of a directory written with :func:`swap_in_dir`: ``final`` if it
    exists, else ``final.old`` (a crash between the two renames), else ``None``."""
    target = Path(final)
    for candidate in (target, target.with_name(target.name + ".old")):
        if candidate.is_dir():
            return candidate
    return None


# ---------------------------------------------------------------------------------
# strict JSON: no NaN / Infinity tokens
# ---------------------------------------------------------------------------------
def json_safe(obj: Any, *, default: Callable[[Any], Any] | None = None) -> tuple[Any, list[str]]:
    """``obj`` made strict-JSON-able, and the dotted paths of the values that were not finite.

    Dicts (keys as ``str``), lists and tuples (as lists) are walked; a non-finite float
    (``nan``, ``inf``) becomes ``None``; any other object that is not a JSON scalar is
    passed to ``default`` (e.g. tensors to numbers) and the result walked in turn.

    Returns:
        ``(clean, paths)``, e.g. ``({"loss": None, "acc": 0.5}, ["loss"])``.

    Raises:
        TypeError: an object ``default`` does not convert (or no ``default``).
    """
    bad: list[str] = []

    def walk(x: Any, path: str, depth: int = 0) -> Any:
        if x is None or isinstance(x, (bool, int, str)):
            return x
        if isinstance(x, float):
            if math.isfinite(x):
                return x
            bad.append(path or "value")
            return None
        if isinstance(x, dict):
            return {str(k): walk(v, f"{path}.{k}" if path else str(k), depth) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v, f"{path}.{i}" if path else str(i), depth) for i, v in enumerate(x)]
        if default is None or depth > 8:
            raise TypeError(f"Object of type {type(x).__name__} is not JSON serializable")
        return walk(default(x), path, depth + 1)

    return walk(obj, ""), bad


def dumps_strict(obj: Any, *, indent: int | None = None, default: Callable[[Any], Any] | None = None) -> str:
    """``json.dumps`` that never writes ``NaN`` or ``Infinity`` (``allow_nan=False``).

    Non-finite floats are written as ``null`` (:func:`json_safe`); when ``obj`` is a dict,
    the note ``"nonfinite": [dotted paths]`` is added so a reader knows the nulls stood for
    NaN or infinity (``{"epoch": 3, "loss": null, "nonfinite": ["loss"]}``).

    Raises:
        TypeError: an object that is not JSON-able (see :func:`json_safe`).
    """
    clean, bad = json_safe(obj, default=default)
    if bad and isinstance(clean, dict):
        clean["nonfinite"] = bad
    return json.dumps(clean, indent=indent, allow_nan=False)
