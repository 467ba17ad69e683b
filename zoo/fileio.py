"""Atomic file writes: the one place that writes a file so that it is either whole or absent.

Every file zoo writes (checkpoints, sidecars, PNG grids, JSON summaries, benchmark tables,
converted weights) goes through :func:`atomic_write`: the bytes go to a temporary file in
the target's own directory, are flushed and ``fsync``-ed, and the temporary file is then
renamed over the target with :func:`os.replace` (atomic on one file system, POSIX
``rename(2)``). A crash or an exception leaves the old file (or nothing) and no temporary
file behind. Files get the user's normal permissions (``0o666 & ~umask``, so ``0644``
under the usual umask), not the ``0600`` that :func:`tempfile.mkstemp` gives, so a team can
share ``ZOO_CACHE``.

No torch import.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_path", "atomic_write", "atomic_write_text", "fsync_path", "umask_mode"]


def umask_mode() -> int:
    """The permission bits a newly created regular file gets: ``0o666 & ~umask`` (``0o644`` usually)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def nearest_existing(path: str | os.PathLike[str]) -> Path:
    """``path`` itself if it exists, else its nearest existing ancestor (where a writer would
    create the missing directories): check that one for write access before any work."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def fsync_path(path: str | os.PathLike[str]) -> None:
    """``fsync`` a file by path, best effort (some file systems refuse it)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, mkdir: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsync-ed and renamed to ``path``.

    For writers that want a file name rather than a file object (``safetensors.torch.save_file``,
    ``PIL.Image.save``). On any exception the temporary file is removed and ``path`` is untouched.

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
        fsync_path(tmp)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
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


def atomic_write_text(path: str | os.PathLike[str], text: str, *, mkdir: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path`` as a :class:`Path`.

    Raises:
        OSError: as :func:`atomic_path`.
    """
    with atomic_write(path, "w", mkdir=mkdir) as fh:
        fh.write(text)
    return Path(path)
