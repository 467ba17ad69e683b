"""The weights cache's trust records ("pins") and its locks.

Where the registry publishes no digest (``sha256 = ""``), the SHA-256 of a weights file
is recorded the first time zoo downloads it ("trust on first use", as SSH does with host
keys) and every later use is checked against that record: a changed file is fetched again
or refused, never trusted. The records live in one JSON file, ``<cache>/pins.json``
(:func:`pins_file`), written whole through :mod:`zoo.utils.fileio` under a lock::

    {"format": "zoo-pins-1",
     "urls":  {"https://.../model.safetensors": {"sha256": "<64 hex>"}},
     "files": {"resnet18/imagenet.safetensors": {"sha256": "<64 hex>", "size": 46830571,
                                                 "source": "https://.../resnet18-f37072fd.pth"}}}

* ``urls``: the digest of the bytes a URL served at its first download; a later download
  of that URL must give the same bytes (a published digest, when the registry has one,
  is checked as well).
* ``files``: the digest of each file zoo keeps in the cache (a converted
  ``<model>/<tag>.safetensors``, or a GAN's original checkpoint), recorded when zoo wrote
  it and checked by :func:`check_file` on every use.

To accept a file that changed upstream on purpose, delete its entry (or ``pins.json``;
every cached file is then fetched again).

:func:`cache_lock` is the cache's one lock: an exclusive :mod:`filelock` lock on
``<file>.lock`` (``flock`` on POSIX, released by the kernel if the process dies) that
waits as long as another zoo process holds it, printing a line to stderr every
:data:`LOCK_MESSAGE_EVERY` seconds.

No torch import.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.utils.fileio import atomic_write_text

__all__ = ["LOCK_MESSAGE_EVERY", "cache_lock", "check_file", "file_pin", "forget_file", "pins_file", "record", "sha256_file", "url_pin"]

LOCK_MESSAGE_EVERY = 5.0  # seconds between two "waiting for another zoo process" lines
_FORMAT = "zoo-pins-1"
_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file as 64 lower-case hex digits, read in 1 MiB blocks.

    (``hashlib.file_digest`` needs Python 3.11; the package supports 3.10.)

    Raises:
        OSError: the file cannot be read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _why(exc: OSError) -> str:
    return (exc.strerror or str(exc) or type(exc).__name__).splitlines()[0][:200]


@contextlib.contextmanager
def cache_lock(target: str | os.PathLike[str], what: str, *, quiet: float = 0.0) -> Iterator[None]:
    """Hold the exclusive lock of ``target`` (the file ``target + ".lock"``), waiting for it.

    Another zoo process holding it is waited for, however long it takes (Ctrl-C stops
    the wait), with one line on stderr after ``quiet`` seconds and then every
    :data:`LOCK_MESSAGE_EVERY` seconds: ``waiting for another zoo process <what> (lock <file>)``.

    Args:
        target: the file the lock protects (its directory is created).
        what: what the holder is doing, for the message (``"downloading resnet18-f37072fd.pth"``).
        quiet: seconds to wait before the first message (0: at once, as for a download,
            so the user knows why nothing moves; a short critical section passes a few).

    Raises:
        ZooError: the lock file cannot be created or locked (read-only cache, a file
            system without locks); one line naming it.
    """
    from filelock import FileLock, Timeout

    lock_path = Path(target).with_name(Path(target).name + ".lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_path))
        wait = quiet
        while True:
            try:
                lock.acquire(timeout=wait)
                break
            except Timeout:
                sys.stderr.write(f"waiting for another zoo process {what} (lock {lock_path})\n")
                sys.stderr.flush()
                wait = LOCK_MESSAGE_EVERY
    except (OSError, NotImplementedError) as exc:
        why = _why(exc) if isinstance(exc, OSError) else str(exc)
        raise ZooError(f"cannot lock {lock_path} ({why}); make the cache writable or set ZOO_CACHE to a writable local directory") from exc
    try:
        yield
    finally:
        lock.release()


def pins_file(root: str | os.PathLike[str]) -> Path:
    """The pin file of the cache directory ``root``: ``root/pins.json``. Raises nothing."""
    return Path(root) / "pins.json"


def _load(root: Path) -> dict[str, Any]:
    path = pins_file(root)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"format": _FORMAT, "urls": {}, "files": {}}
    except (OSError, ValueError) as exc:
        why = _why(exc) if isinstance(exc, OSError) else str(exc).splitlines()[0]
        raise ZooError(
            f"pin file {path} is not readable JSON ({why}); delete it (every cached weights file is then fetched again)"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("urls"), dict) or not isinstance(data.get("files"), dict):
        raise ZooError(f"pin file {path} is not a zoo pin file (no 'urls' and 'files' tables); delete it")
    return data


def _key(root: Path, path: str | os.PathLike[str]) -> str:
    p = Path(path)
    try:
        return p.relative_to(root).as_posix()
    except ValueError:
        return p.absolute().as_posix()


def url_pin(root: str | os.PathLike[str], url: str) -> str:
    """The SHA-256 pinned for ``url`` at its first download, or ``""`` when none is.

    Raises:
        ZooError: ``pins.json`` is corrupt.
    """
    rec = _load(Path(root))["urls"].get(url)
    return str(rec.get("sha256", "")) if isinstance(rec, dict) else ""


def file_pin(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The pin of the cached file ``path`` (``{"sha256", "size", "source"}``), or ``None``.

    Raises:
        ZooError: ``pins.json`` is corrupt.
    """
    rec = _load(Path(root))["files"].get(_key(Path(root), path))
    return rec if isinstance(rec, dict) else None


def record(
    root: str | os.PathLike[str],
    *,
    url: str = "",
    url_sha: str = "",
    path: str | os.PathLike[str] | None = None,
    file_sha: str = "",
    source: str = "",
) -> None:
    """Pin ``url`` to ``url_sha`` and/or the cached ``path`` to ``file_sha`` (both 64 hex digits).

    The pin file is read, updated and written whole (:func:`zoo.utils.fileio.atomic_write_text`)
    under its own :func:`cache_lock`, so two processes never lose each other's pins.
    The size of ``path`` (bytes) is recorded beside its digest.

    Raises:
        ZooError: the pin file is corrupt, or cannot be written (read-only cache, disk full).
    """
    root = Path(root)
    target = pins_file(root)
    with cache_lock(target, "writing the weights pins", quiet=2.0):
        data = _load(root)
        size = Path(path).stat().st_size if path is not None and Path(path).is_file() else None
        if url and url_sha:
            data["urls"][url] = {"sha256": url_sha}
        if path is not None and file_sha:
            data["files"][_key(root, path)] = {"sha256": file_sha, "size": size, "source": source or url}
        _write(target, data)


def forget_file(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Drop the pin of the cached file ``path`` (nothing happens when it has none).

    Raises:
        ZooError: as :func:`record`.
    """
    root = Path(root)
    target = pins_file(root)
    with cache_lock(target, "writing the weights pins", quiet=2.0):
        data = _load(root)
        if data["files"].pop(_key(root, path), None) is not None:
            _write(target, data)


def _write(target: Path, data: dict[str, Any]) -> None:
    data["format"] = _FORMAT
    try:
        atomic_write_text(target, json.dumps(data, indent=1, sort_keys=True) + "\n")
    except OSError as exc:
        raise ZooError(f"cannot write the pin file {target} ({_why(exc)}); make the cache writable or set ZOO_CACHE elsewhere") from exc


def check_file(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> str:
    """Check a cached file against its pin: ``""`` when it matches, else why it is not trusted.

    The reason completes a sentence that starts with the file's name: ``"is not pinned in
    <pins.json>"`` or ``"changed since zoo wrote it (sha256 <now>, pinned <then>)"``. The
    whole file is hashed every time (about 1 s per GB).

    Raises:
        ZooError: ``pins.json`` is corrupt.
    """
    pin = file_pin(root, path)
    if pin is None or not pin.get("sha256"):
        return f"is not pinned in {pins_file(root)}"
    try:
        now = sha256_file(path)
    except OSError as exc:
        return f"cannot be read ({_why(exc)})"
    if now != pin["sha256"]:
        return f"changed since zoo wrote it (sha256 {now}, pinned {pin['sha256']})"
    return ""
