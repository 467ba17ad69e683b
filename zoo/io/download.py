"""Downloads and the weights cache: one cache directory, offline detection, resumable verified downloads.

* One cache directory (:func:`cache_dir`, ``$ZOO_CACHE``); ``ZOO_OFFLINE=1`` (or
  ``HF_HUB_OFFLINE=1``) forbids the network. Every failure is one line: a
  :class:`WeightsUnavailable` when the weights cannot be had now (offline, host
  unreachable, HTTP error, transfer cut, URL refused), the only failure on which
  ``--weights auto`` starts from random init; a plain :class:`~zoo.errors.ZooError` for a
  digest mismatch, a changed cache file, a lock or disk problem.
* https only (:func:`check_url`), redirects included. Plain http is allowed from loopback
  hosts only (``127.0.0.1``, ``localhost``, ``::1``): the tests' own server.
* :func:`download` streams into ``dest + ".part"`` and resumes it with ``Range`` plus
  ``If-Range`` (the ETag, else the Last-Modified date, of the response that started the
  file, kept in ``dest + ".part.json"``): a file replaced upstream is answered with a 200
  and restarts from byte 0 instead of being spliced onto the old bytes. The SHA-256 is
  checked (a published digest, or the prefix torchvision puts in its file names,
  ``resnet18-f37072fd.pth``; without one, the digest pinned at the URL's first download,
  :mod:`zoo.io.pins`) before the file is renamed into place (not through :mod:`zoo.utils.fileio`,
  whose temporary names are random: resuming needs a fixed one). A lock
  (:func:`zoo.io.pins.cache_lock`) keeps two processes off one file; the second waits.
* :func:`fetch_pretrained` and :func:`pretrained_path` (defined in :mod:`zoo.io.pretrained`,
  exported here): a model's published weights as a cached file pinned and checked on every
  use: backbones as ``<model>/<tag>.safetensors``, GANs as the official file.

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
streaming, then move into place); torchvision's convention that the 8 hex digits after
the last ``-`` of a weight file name are the start of its SHA-256 (``torch.hub.HASH_REGEX``);
RFC 9110 section 13.1.5 (``If-Range``: strong ETags only, else a date).

No torch import at module level (:func:`fetch_pretrained` imports :mod:`zoo.io.state_dict`
when it converts a file).
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
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.io import pins
from zoo.io.cache import cache_dir, offline, offline_variable
from zoo.utils.fileio import atomic_write_text
from zoo.utils.progress import progress_bar

__all__ = [
    "CHUNK",
    "WeightsUnavailable",
    "cache_dir",
    "check_sha256",
    "check_url",
    "download",
    "fetch_verified",
    "network_reason",
    "offline",
    "offline_variable",
    "pin_url",
]

log = logging.getLogger(__name__)

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: Bytes read per network or disk read.
CHUNK = 1 << 20
_USER_AGENT = "zoo/0.1 (+python-urllib)"


class WeightsUnavailable(ZooError):
    """The weights cannot be had now: offline, host unreachable, HTTP error, transfer cut, URL refused.

    A :class:`~zoo.errors.ZooError` (one line, exit code 1). ``--weights auto`` falls back
    to random init on this error only; digest mismatches, changed cache files, lock and
    disk errors are plain :class:`~zoo.errors.ZooError`.
    """


def check_url(url: str) -> None:
    """Refuse a weights URL that is not ``https://`` (plain ``http://`` only from a loopback host).

    Loopback hosts (``127.0.0.1``, ``localhost``, ``::1``) may use http so tests can serve
    files from a local server; nothing leaves the machine there.

    Raises:
        WeightsUnavailable: any other URL, one line naming it.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is not None and host and (parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK)):
        return
    raise WeightsUnavailable(
        f"refusing to download weights from {url}: zoo fetches weights over https only (plain http only from localhost); "
        "use the file's https:// address, or download it yourself and pass --weights FILE"
    )


class _HttpsRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to a URL :func:`check_url` accepts (no https -> http downgrade)."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpsRedirects)


# ---------------------------------------------------------------------------------
# download
# ---------------------------------------------------------------------------------
def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).hostname or url


def check_sha256(expected: str) -> str:
    """``expected`` as a lowercase hex digest or prefix of one (``""``: none published).

    Raises:
        ZooError: not 1 to 64 hex digits (exit code 2, ``{param}`` = ``sha256``).
    """
    exp = expected.strip().lower()
    if exp and not re.fullmatch(r"[0-9a-f]{1,64}", exp):
        raise ZooError(
            f"{{param}} {expected!r} is not a hex digest or a prefix of one; pass 1 to 64 hex digits or ''", param="sha256", exit_code=2
        )
    return exp


def network_reason(exc: BaseException) -> str:
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


def _drop(part: Path) -> None:
    """Delete a partial download and its ``.part.json`` record."""
    part.unlink(missing_ok=True)
    part.with_name(part.name + ".json").unlink(missing_ok=True)


def _validator(headers: Any) -> str:
    """The ``If-Range`` value of a response: its strong ETag, else its Last-Modified date, else ``""``."""
    etag = (headers.get("ETag") or "").strip()
    return etag if etag and not etag.startswith("W/") else (headers.get("Last-Modified") or "").strip()


def _resume_point(url: str, part: Path, expected: str) -> tuple[int, str]:
    """``(byte to resume from, If-Range validator)`` for ``part``; 0 drops a partial file that cannot be trusted."""
    if not part.is_file() or not part.stat().st_size:
        _drop(part)
        return 0, ""
    try:
        rec = json.loads(part.with_name(part.name + ".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        rec = {}
    rec = rec if isinstance(rec, dict) else {}
    validator = str(rec.get("validator") or "")
    if (rec and rec.get("url") != url) or (not validator and not expected):
        log.info("cannot tell whether %s still holds the start of %s; restarting from byte 0", part, url)
        _drop(part)  # another URL's bytes, or no way to detect a splice (no validator, no digest)
        return 0, ""
    return part.stat().st_size, validator


def _open(url: str, part: Path, start: int, validator: str, *, host: str, timeout: float, last: bool) -> Any:
    """The HTTP response for ``url`` from byte ``start``; ``None`` when a 416 says to restart from 0."""
    headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
        if validator:
            headers["If-Range"] = validator
    try:
        return _OPENER.open(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start and not last:  # our partial file is useless: restart
            log.info("server refused the range of %s (416); restarting the download", part)
            _drop(part)
            return None
        raise WeightsUnavailable(
            f"HTTP {exc.code} {exc.reason} from {host} for {url}; check the URL or your network, "
            "or download the file yourself and pass --weights FILE"
        ) from exc
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        raise WeightsUnavailable(
            f"cannot reach {host} to download {url} ({network_reason(exc)}); check your network, "
            "or pass --weights FILE (ZOO_OFFLINE=1 never tries the network)"
        ) from exc


def _stream(resp: Any, url: str, part: Path, name: str, *, host: str, start: int, resumed: bool, progress: bool) -> Any:
    """Append (``resumed``) or write the body of ``resp`` to ``part``; returns the SHA-256 of the whole file."""
    length = resp.headers.get("Content-Length")
    remaining = int(length) if length and length.isdigit() else None
    done = start if resumed else 0
    total = (done + remaining) if remaining is not None else None
    h = hashlib.sha256()
    got = 0
    try:
        if resumed:
            with open(part, "rb") as old:
                for block in iter(lambda: old.read(CHUNK), b""):
                    h.update(block)
        with progress_bar(enabled=progress, kind="bytes") as bar, open(part, "ab" if resumed else "wb") as fh:
            task = bar.add_task(name, total=total, completed=done) if bar is not None else None
            while True:
                try:
                    block = resp.read(CHUNK)
                except Exception as exc:  # time-out, reset, http.client.IncompleteRead
                    raise WeightsUnavailable(
                        f"download of {url} from {host} broke off after {done + got} bytes ({network_reason(exc)}); "
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
    except OSError as exc:  # disk full or read-only cache: the partial file holds the space the user must free
        _drop(part)
        raise ZooError(
            f"cannot write {part} ({exc.strerror or network_reason(exc)}); the partial download was deleted; free some space or set ZOO_CACHE elsewhere"
        ) from exc
    if remaining is not None and got < remaining:
        raise WeightsUnavailable(
            f"download of {url} from {host} broke off after {done + got} of {total} bytes; "
            "run the command again to resume, or pass --weights FILE"
        )
    return h


def _mismatch(url: str, expected: str, digest: str, pinned: bool) -> ZooError:
    if pinned:
        where = pins.pins_file(cache_dir())
        return ZooError(
            f"sha256 mismatch for {url}: expected {expected} (pinned at its first download in {where}), got {digest}; "
            f"the file changed upstream or in transit and was deleted; if the change is expected, delete its entry in {where}"
        )
    return ZooError(
        f"sha256 mismatch for {url}: expected {expected}, got {digest}; the file was deleted, "
        "try again or download it yourself and pass --weights FILE"
    )


def _fetch(url: str, dest: Path, *, expected: str, pinned: bool, progress: bool, timeout: float) -> str:
    """Download ``url`` to ``dest`` through ``dest.part`` (lock held); returns the verified SHA-256."""
    host = _host(url)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(3):
        last = attempt == 2
        start, validator = _resume_point(url, part, expected)
        resp = _open(url, part, start, validator, host=host, timeout=timeout, last=last)
        if resp is None:
            continue
        with resp:
            status = getattr(resp, "status", None) or resp.getcode()
            resumed = bool(start) and status == 206
            if resumed:
                crange = resp.headers.get("Content-Range", "")
                m = re.match(r"bytes\s+(\d+)-", crange)
                now = _validator(resp.headers)
                if not m or int(m.group(1)) != start or (validator and now and now != validator):
                    log.info("%s answered range %r (validator %r, ours %r) from byte %d; restarting", host, crange, now, validator, start)
                    _drop(part)
                    if not last:
                        continue
                    raise WeightsUnavailable(f"{host} answered a bad Content-Range ({crange!r}) for {url}; try again later")
            else:
                if start:
                    log.info("%s answered HTTP %s to a Range request; restarting from byte 0", host, status)
                try:  # what If-Range will send when this file is resumed
                    atomic_write_text(part.with_name(part.name + ".json"), json.dumps({"url": url, "validator": _validator(resp.headers)}))
                except OSError as exc:
                    _drop(part)
                    raise ZooError(
                        f"cannot write {part}.json ({exc.strerror or network_reason(exc)}); free some space or set ZOO_CACHE elsewhere"
                    ) from exc
            h = _stream(resp, url, part, dest.name, host=host, start=start, resumed=resumed, progress=progress)
        digest = h.hexdigest()
        if expected and not digest.startswith(expected):
            _drop(part)
            if resumed and not last:  # the old bytes may be to blame: once more from byte 0
                log.info("sha256 of the resumed %s is wrong; downloading it again from byte 0", url)
                continue
            raise _mismatch(url, expected, digest, pinned)
        try:
            os.replace(part, dest)
        except OSError as exc:
            _drop(part)
            raise ZooError(
                f"cannot move {part} to {dest} ({exc.strerror or network_reason(exc)}); make the cache writable or set ZOO_CACHE elsewhere"
            ) from exc
        part.with_name(part.name + ".json").unlink(missing_ok=True)
        return digest
    raise WeightsUnavailable(f"could not download {url} from {host} after 3 attempts; try again later")  # pragma: no cover


def fetch_verified(url: str, dest: Path, *, published: str, progress: bool, timeout: float = 10.0, lock: bool = True) -> str:
    """Make ``dest`` hold the verified bytes of ``url``; returns their SHA-256 (the caller pins the URL).

    The digest checked is ``published``, refined by the URL's pin when that starts with it
    (a pin that contradicts the published digest is stale: the registry wins). A file
    already at ``dest`` is kept when it matches, or, with no digest known, when offline
    (the user put it there, as the offline message says); else it is fetched again.
    """
    check_url(url)
    pinned = pins.url_pin(cache_dir(), url)
    expected = pinned if pinned.startswith(published) else published
    var = offline_variable()
    if var and not dest.is_file():
        raise WeightsUnavailable(f"{var} is set: cannot download {url}; put the file at {dest} or pass --weights FILE")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cannot create the directory {dest.parent} ({network_reason(exc)}); set ZOO_CACHE to a writable directory") from exc
    with pins.cache_lock(dest, f"downloading {dest.name}") if lock else contextlib.nullcontext():
        if dest.is_file():
            digest = pins.sha256_file(dest)
            if digest.startswith(expected) and (expected or var):
                return digest
            dest.unlink(missing_ok=True)
            if var:
                raise ZooError(
                    f"{dest} is not the file published at {url} (sha256 {digest}, expected {expected}); it was deleted, put the right file there"
                )
        if var:
            raise WeightsUnavailable(f"{var} is set: cannot download {url}; put the file at {dest} or pass --weights FILE")
        return _fetch(url, dest, expected=expected, pinned=bool(pinned) and expected == pinned, progress=progress, timeout=timeout)


def pin_url(url: str, digest: str, published: str) -> None:
    """Record ``digest`` (SHA-256 hex) as ``url``'s pin in the cache's ``pins.json`` when it is
    new, logging a warning when no digest was ``published`` (:mod:`zoo.io.pins`).

    Raises:
        ZooError: the pin file cannot be written or locked.
    """
    if pins.url_pin(cache_dir(), url) != digest:
        pins.record(cache_dir(), url=url, url_sha=digest)
        if not published:
            log.warning("downloaded %s without a published checksum; pinned its sha256 %s in %s", url, digest, pins.pins_file(cache_dir()))


def download(url: str, dest: str | os.PathLike[str], *, sha256: str = "", progress: bool = True, timeout: float = 10.0) -> Path:
    """Download ``url`` to ``dest`` atomically and verified, resuming an earlier partial download.

    Bytes are streamed into ``dest + ".part"``. If that file already exists (an earlier
    download was interrupted), the request carries ``Range: bytes=N-`` and ``If-Range``
    with the ETag (else Last-Modified) that the first response gave (kept in
    ``dest + ".part.json"``); the answer is appended when the server replies ``206`` for
    that range and the same file. A ``200`` (file replaced upstream, or ranges ignored)
    restarts from byte 0, a ``416`` drops the partial file and restarts; a partial file
    with neither a validator nor a digest to check is not resumed. The SHA-256 of the whole
    file is checked (a wrong resumed file is downloaded once more from byte 0), then the
    ``.part`` file is renamed to ``dest`` with :func:`os.replace`, so ``dest`` is absent,
    the old file, or the complete verified file. When ``dest`` already holds the expected
    bytes, nothing is downloaded. As ``torch.hub.download_url_to_file`` (hash while
    streaming, move into place when verified), but resumable, with time-outs and a lock.

    Args:
        url: ``https://`` address (``http://`` only from a loopback host); redirects are
            followed to https addresses only.
        dest: final path; its directory is created. A lock on ``dest + ".lock"`` is waited
            for while another process downloads it (a line on stderr every few seconds).
        sha256: expected SHA-256 as hex: the full 64-digit digest, or a prefix of it (as
            torchvision's file names carry the first 8 digits: ``resnet18-f37072fd.pth``).
            ``""``: the digest pinned at the URL's first download in ``cache_dir()/pins.json``
            (:mod:`zoo.io.pins`); at the first download it is recorded there (and logged).
        progress: show a progress bar (MB done/total, MB/s, time left) on stderr
            (:func:`zoo.utils.progress.progress_bar`, ``kind="bytes"``).
        timeout: seconds to wait for the connection and for each read (float).

    Returns:
        ``Path(dest)``.

    Raises:
        ZooError: ``sha256`` is not hex (exit code 2); a SHA-256 mismatch with the published
            or pinned digest (the file is deleted; both digests are given); ``dest`` or the
            cache cannot be written or locked.
        WeightsUnavailable: a non-https URL; offline mode (``ZOO_OFFLINE``/``HF_HUB_OFFLINE``),
            raised before any network access; the host cannot be reached (DNS failure,
            connection refused, time-out), naming the host; an HTTP error status; the
            connection dropped before the end (the ``.part`` file is kept, so running
            again resumes).
    """
    dest = Path(dest)
    published = check_sha256(sha256)
    digest = fetch_verified(url, dest, published=published, progress=progress, timeout=timeout)
    pin_url(url, digest, published)
    return dest
