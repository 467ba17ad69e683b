"""Downloads and the weights cache: one cache directory, offline detection, resumable verified downloads.

* One cache directory (:func:`cache_dir`, ``$ZOO_CACHE``); ``ZOO_OFFLINE=1`` (or
  ``HF_HUB_OFFLINE=1``) forbids the network and every failure is one clear line
  (:class:`~zoo.errors.ZooError`).
* :func:`download` streams into ``dest + ".part"``, resumes an interrupted ``.part`` file
  with an HTTP ``Range`` request, verifies SHA-256 (a full digest, or the prefix that
  torchvision puts in its file names, ``resnet18-f37072fd.pth``) and only then renames the
  file into place, so a half-written file never has the final name (not through
  :mod:`zoo.fileio`, whose temporary names are random: resuming needs a fixed one). A
  lock file keeps two processes off one ``.part`` file (:mod:`filelock`, a torch dependency).
* :func:`fetch_pretrained` turns a model's published weights into a cached safetensors
  file, converting ``.pth`` files once (read with ``torch.load(weights_only=True)`` only).

Why our own downloader rather than a library's (measured with torch 2.14.1 and
huggingface_hub 2.4.0 against a local HTTP server that cuts a 300 kB body after 100 kB):

* ``torch.hub.download_url_to_file(url, dst, hash_prefix=...)`` deletes its partial file
  when the connection breaks and starts again from byte 0 on the next run (no ``Range``
  request); without ``hash_prefix`` it moved the 100 kB cut file into place with no error;
  it has no time-out (a server that accepts the connection and never answers kept it
  waiting past our 5 s alarm) and no lock; its progress bar is tqdm.
* ``huggingface_hub.hf_hub_download`` (the ``huggingface.co`` sources of the registry):
  it sent 6 GETs in 5 s, each for the whole file (its retries sent no ``Range``), then
  deleted the partial file, so a second run starts from 0 too (2.x downloads to a
  process-unique temporary file, huggingface_hub PR 4228); it did not compare the
  downloaded bytes with the SHA-256 ``ETag`` (wrong content was cached); it reads
  ``HF_HUB_OFFLINE`` once at import (setting it afterwards, it still downloaded) and knows
  nothing of ``ZOO_OFFLINE``; it keeps its own blob/snapshot layout and tqdm bars. Its
  ``resolve/`` URLs are plain HTTPS GETs (redirected to a CDN that honours ``Range``, per
  the Hub's documentation; not measured here, the machine has no network), so
  :func:`download` serves them as well.

Sources: ``torch.hub.download_url_to_file`` (temp file beside the destination, hash while
streaming, then move into place) and torchvision's convention that the 8 hex digits after
the last ``-`` of a weight file name are the start of its SHA-256 (``torch.hub.HASH_REGEX``).

No torch import at module level (:func:`fetch_pretrained` imports :mod:`zoo.state_dict`
when it converts a file).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.progress import progress_bar

__all__ = ["cache_dir", "download", "fetch_pretrained", "offline", "pretrained_path"]

log = logging.getLogger(__name__)

_TRUE = ("1", "true", "yes", "on")
_OFFLINE_VARS = ("ZOO_OFFLINE", "HF_HUB_OFFLINE")
_CHUNK = 1 << 20  # bytes read per network/disk read
_USER_AGENT = "zoo/0.1 (+python-urllib)"


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
    both; it is read at every call (huggingface_hub reads it once, at import). Raises nothing."""
    return _offline_var() is not None


# ---------------------------------------------------------------------------------
# download
# ---------------------------------------------------------------------------------
def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or url


def _check_sha(expected: str) -> str:
    exp = expected.strip().lower()
    if exp and not re.fullmatch(r"[0-9a-f]{1,64}", exp):
        raise ZooError(
            f"{{param}} {expected!r} is not a hex digest or a prefix of one; pass 1 to 64 hex digits or ''", param="sha256", exit_code=2
        )
    return exp


def _reason(exc: BaseException) -> str:
    """A short, one-line description of a network or file-system error."""
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
    # hashlib.file_digest needs Python 3.11; the package supports 3.10.
    h = h or hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h


@contextlib.contextmanager
def _download_lock(dest: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``dest + ".lock"`` (filelock: ``flock`` on POSIX, released if
    the process dies), so two processes never append to the same ``.part`` file."""
    from filelock import FileLock, Timeout

    lock_path = dest.with_name(dest.name + ".lock")
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout as exc:
        raise ZooError(f"another process is downloading {dest} (it holds {lock_path}); wait for it to finish and run again") from exc
    try:
        yield
    finally:
        lock.release()


def _open(url: str, part: Path, start: int, *, host: str, timeout: float, last: bool) -> Any:
    """The HTTP response for ``url`` from byte ``start``; ``None`` when a 416 says to restart from 0."""
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start and not last:  # our partial file is useless: restart
            log.info("server refused the range of %s (416); restarting the download", part)
            part.unlink(missing_ok=True)
            return None
        raise ZooError(
            f"HTTP {exc.code} {exc.reason} from {host} for {url}; check the URL or your network, "
            "or download the file yourself and pass --weights FILE"
        ) from exc
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        raise ZooError(
            f"cannot reach {host} to download {url} ({_reason(exc)}); check your network, "
            "or pass --weights FILE (ZOO_OFFLINE=1 never tries the network)"
        ) from exc


def _stream(resp: Any, url: str, part: Path, name: str, *, host: str, start: int, resumed: bool, progress: bool) -> Any:
    """Append (``resumed``) or write the body of ``resp`` to ``part``; returns the SHA-256 of the whole file."""
    length = resp.headers.get("Content-Length")
    remaining = int(length) if length and length.isdigit() else None
    done = start if resumed else 0
    total = (done + remaining) if remaining is not None else None
    h = _sha256_file(part) if resumed else hashlib.sha256()
    got = 0
    try:
        with progress_bar(enabled=progress, kind="bytes") as bar, open(part, "ab" if resumed else "wb") as fh:
            task = bar.add_task(name, total=total, completed=done) if bar is not None else None
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
                    bar.update(task, advance=len(block))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:  # writing failed: disk full, permissions
        raise ZooError(f"cannot write {part} ({_reason(exc)}); free some space or set ZOO_CACHE elsewhere") from exc
    if remaining is not None and got < remaining:
        raise ZooError(
            f"download of {url} from {host} broke off after {done + got} of {total} bytes; "
            "run the command again to resume, or pass --weights FILE"
        )
    return h


def _download_to_part(url: str, dest: Path, part: Path, *, host: str, expected: str, progress: bool, timeout: float) -> Path:
    for attempt in range(3):
        last = attempt == 2
        start = part.stat().st_size if part.is_file() else 0
        resp = _open(url, part, start, host=host, timeout=timeout, last=last)
        if resp is None:
            continue
        with resp:
            status = getattr(resp, "status", None) or resp.getcode()
            resumed = False
            if start and status == 206:
                crange = resp.headers.get("Content-Range", "")
                m = re.match(r"bytes\s+(\d+)-", crange)
                if not m or int(m.group(1)) != start:
                    log.info("server answered range %r for %s from byte %d; restarting", crange, url, start)
                    part.unlink(missing_ok=True)
                    if not last:
                        continue
                    raise ZooError(f"{host} answered a bad Content-Range ({crange!r}) for {url}; delete {part} and try again")
                resumed = True
            elif start:
                log.info("%s ignored the Range request (HTTP %s); restarting from byte 0", host, status)
            h = _stream(resp, url, part, dest.name, host=host, start=start, resumed=resumed, progress=progress)
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
    absent, the old file, or the complete verified file. A lock on ``dest + ".lock"``
    keeps two processes from writing the same ``.part`` file. As
    ``torch.hub.download_url_to_file`` (hash while streaming, move into place when
    verified), but resumable, with time-outs (see the module docstring).

    Args:
        url: ``http(s)://`` address; redirects are followed.
        dest: final path; its directory is created.
        sha256: expected SHA-256 as hex: the full 64-digit digest, or a prefix of it (as
            torchvision's file names carry the first 8 digits: ``resnet18-f37072fd.pth``).
            ``""``: not checked; the computed digest is logged (warning) so it can be pinned.
        progress: show a progress bar (MB done/total, MB/s, time left) on stderr
            (:func:`zoo.progress.progress_bar`, ``kind="bytes"``).
        timeout: seconds to wait for the connection and for each read (float).

    Returns:
        ``Path(dest)``.

    Raises:
        ZooError: ``sha256`` is not hex (exit code 2); offline mode (``ZOO_OFFLINE``/
            ``HF_HUB_OFFLINE``), raised before any network access; the host cannot be
            reached (DNS failure, connection refused, time-out), naming the host; an HTTP
            error status; the connection dropped before the end (the ``.part`` file is
            kept, so running again resumes); a SHA-256 mismatch (the downloaded file is
            deleted; both digests are given); ``dest`` cannot be written; another process
            is downloading ``dest``.
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
        raise ZooError(
            f"cannot create the download directory {dest.parent} ({_reason(exc)}); set ZOO_CACHE to a writable directory"
        ) from exc

    with _download_lock(dest):
        return _download_to_part(url, dest, part, host=host, expected=expected, progress=progress, timeout=timeout)


# ---------------------------------------------------------------------------------
# published weights
# ---------------------------------------------------------------------------------
def _url_file_name(url: str) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name
    return name or "weights.bin"


def pretrained_path(spec: Any, tag: str | None = None) -> Path:
    """Where the converted published weights of ``spec`` live: ``cache_dir()/<name>/<tag>.safetensors``.

    Args:
        spec: a :class:`zoo.spec.ModelSpec`.
        tag: weight tag (``"imagenet"``); ``None``/``"default"``: the first published one.

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
    ``torch.load(weights_only=True)`` only, unwrapped as in
    :func:`zoo.state_dict.load_state_file`, and written as safetensors through
    :mod:`zoo.fileio` (:func:`zoo.state_dict.save_state_file`) with metadata ``zoo_model``,
    ``tag``, ``source_url`` and ``sha256``; the original is then deleted.

    Args:
        spec: a :class:`zoo.spec.ModelSpec`.
        tag: weight tag (``"imagenet"``); ``None``/``"default"``: the first published one.
        progress: show a progress bar while downloading.

    Returns:
        Path of the cached ``.safetensors`` file.

    Raises:
        ZooError: no such published weights; offline without a cached file; any download,
            checksum or read error of :func:`download` / :func:`zoo.state_dict.load_state_file`.
    """
    from zoo.state_dict import load_state_file, save_state_file

    src = spec.weight_source(tag)
    final = pretrained_path(spec, src.tag)
    if final.is_file():
        return final
    name = _url_file_name(src.url)
    is_safetensors = src.format == "safetensors" or name.lower().endswith(".safetensors")
    if is_safetensors:
        download(src.url, final, sha256=src.sha256, progress=progress)
        try:
            load_state_file(final)
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
    state = load_state_file(raw)
    meta = {"zoo_model": spec.name, "tag": src.tag, "source_url": src.url, "sha256": digest}
    save_state_file(state, final, meta)
    raw.unlink(missing_ok=True)
    return final
