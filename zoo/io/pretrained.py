"""Published weights: the cached, pinned file of each model's weights (:func:`fetch_pretrained`).

Split from :mod:`zoo.io.download` (which keeps the transfer itself: https only, resume with
``If-Range``, digests, locks) to keep both modules short; :mod:`zoo.io.download` still
exports :func:`fetch_pretrained` and :func:`pretrained_path`.

* Backbones: the published file (``.pth``, ``.safetensors``, or a member of a ``.zip``) is
  downloaded, read safely (:func:`zoo.io.state_dict.load_state_file`: ``torch.load(weights_only=True)``
  only) and cached as ``<cache>/<model>/<tag>.safetensors``.
* GANs (``spec.kind == "gan"``): the official file is cached as published,
  ``<cache>/<model>/<tag>.ckpt`` (or ``.pth``, ``.pth.tar``...). Their checkpoints are not
  plain state dicts: Lornatang's SRGAN files hold ``state_dict`` beside
  ``ema_state_dict`` (``_orig_mod.`` prefixed), and :func:`zoo.io.state_dict.load_state_file`
  would keep only the first, so a converted file could not give
  :func:`zoo.io.official.read_official` the EMA weights it asks for. The family's official
  loader reads the original instead (still with ``weights_only=True``).
* Every cached file is pinned (:mod:`zoo.io.pins`) when written and checked on every use.

Zip archives (StarGAN publishes ``200000-G.ckpt`` inside ``celeba-128x128-5attrs.zip``;
its ``download.sh`` unzips it into ``stargan_celeba_128/models/``) are opened with
:mod:`zipfile`; only the registry's ``member`` is extracted, to a path zoo chooses (so a
hostile member name cannot write elsewhere), and a member that is absolute or climbs with
``..`` is refused. The zip is deleted once its member is cached.

No torch import at module level (:mod:`zoo.io.state_dict` is imported to convert).
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from zoo.errors import ZooError, warn
from zoo.io import pins
from zoo.io.download import (
    CHUNK,
    WeightsUnavailable,
    cache_dir,
    check_sha256,
    check_url,
    fetch_verified,
    network_reason,
    offline_variable,
    pin_url,
)
from zoo.utils.fileio import atomic_write

__all__ = ["fetch_pretrained", "pretrained_path"]


def _url_file_name(url: str) -> str:
    name = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name
    return name or "weights.bin"


def _suffix(name: str) -> str:
    """The suffix a cached original keeps: ``.pth.tar`` as a whole, else the last one (``.pth`` if none)."""
    low = name.lower()
    return ".pth.tar" if low.endswith(".pth.tar") else (Path(low).suffix or ".pth")


def _format(src: Any) -> str:
    name = _url_file_name(src.url).lower()
    if src.format == "zip" or name.endswith(".zip"):
        return "zip"
    return "safetensors" if src.format == "safetensors" or name.endswith(".safetensors") else "pth"


def pretrained_path(spec: Any, tag: str | None = None) -> Path:
    """Where the cached published weights of ``spec`` live (the file may not exist yet).

    Backbones: ``cache_dir()/<name>/<tag>.safetensors`` (converted). GANs (``spec.kind ==
    "gan"``): ``cache_dir()/<name>/<tag><suffix>``, the official file as published (the
    zip member's suffix for ``format = "zip"``: ``.ckpt``, ``.pth``, ``.pth.tar``), because
    their checkpoints are training dicts (``state_dict`` beside ``ema_state_dict``...) that
    the family's official loader (:func:`zoo.io.official.read_official`) reads itself.

    Args:
        spec: a :class:`zoo.registry.spec.ModelSpec`.
        tag: weight tag (``"imagenet"``); ``None``/``"default"``: the first published one.

    Raises:
        ZooError: no published weights with that tag.
    """
    src = spec.weight_source(tag)
    if spec.kind != "gan":
        return cache_dir() / spec.name / f"{src.tag}.safetensors"
    inner = src.member if _format(src) == "zip" else _url_file_name(src.url)
    return cache_dir() / spec.name / f"{src.tag}{_suffix(PurePosixPath(inner).name)}"


def _extract(archive: Path, src: Any, out: Path) -> str:
    """Write the member ``src.member`` of the zip ``archive`` to ``out`` (atomically); returns its SHA-256.

    ``member`` is the path inside the archive, or its unique tail (``200000-G.ckpt`` finds
    ``stargan_celeba_128/models/200000-G.ckpt``): the StarGAN zips' inner folders were not
    verifiable offline."""
    m = src.member.strip()
    parts = PurePosixPath(m.replace("\\", "/")).parts
    if not m or m.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", m) or ".." in parts:
        raise ZooError(f"zip member {src.member!r} of {src.url} is not a relative path inside the archive; fix 'member' in the registry")
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if m not in names:  # the registry may name the file without the archive's folders
                ends = [n for n in names if n == m or n.endswith("/" + m)]
                m = ends[0] if len(ends) == 1 else m
            if m not in names:
                shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
                raise ZooError(
                    f"{archive.name} from {src.url} has no member {m!r}; it holds {len(names)} files ({shown}); fix 'member' in the registry"
                )
            h = hashlib.sha256()
            with zf.open(m) as fh, atomic_write(out) as w:
                for block in iter(lambda: fh.read(CHUNK), b""):
                    h.update(block)
                    w.write(block)
    except zipfile.BadZipFile as exc:  # not a zip at all (an HTML error page...), or one cut short
        from zoo.io.filekind import describe_file

        raise ZooError(
            f"{archive.name} from {src.url} is {describe_file(archive)}, not the zip archive published there; it was deleted, try again"
        ) from exc
    except (RuntimeError, EOFError) as exc:  # CRC error, encrypted
        raise ZooError(
            f"{archive.name} from {src.url} is not a readable zip archive ({network_reason(exc)}); it was deleted, try again"
        ) from exc
    except OSError as exc:
        raise ZooError(f"cannot extract {m} to {out} ({network_reason(exc)}); free some space or set ZOO_CACHE elsewhere") from exc
    return h.hexdigest()


def _direct(spec: Any, src: Any) -> bool:
    """Whether the published file itself is the cached one (GANs, and safetensors backbones), not converted."""
    return _format(src) != "zip" and (spec.kind == "gan" or _format(src) == "safetensors")


def _produce(spec: Any, src: Any, final: Path, *, progress: bool) -> None:
    """Download (and convert) ``src`` into ``final`` and pin both; the lock of ``final`` is held."""
    root, fmt, gan = cache_dir(), _format(src), spec.kind == "gan"
    published = check_sha256(src.sha256)
    source = src.url + (f"#{src.member}" if fmt == "zip" else "")
    if _direct(spec, src):
        digest = fetch_verified(src.url, final, published=published, progress=progress, lock=False)
        if not gan:
            from zoo.io.state_dict import load_state_file  # torch: only to check or convert

            try:
                load_state_file(final)
            except ZooError as exc:
                final.unlink(missing_ok=True)
                raise ZooError(f"{exc} (downloaded from {src.url}; deleted)") from exc
        pin_url(src.url, digest, published)
        pins.record(root, path=final, file_sha=digest, source=source)
        return
    raw = root / "downloads" / _url_file_name(src.url)
    inner = raw.with_name(f"{raw.name}.{PurePosixPath(src.member).name or 'member'}")
    with pins.cache_lock(raw, f"downloading {raw.name}"):
        digest = fetch_verified(src.url, raw, published=published, progress=progress, lock=False)
        try:
            if gan:  # zip: the official member, unconverted
                file_sha = _extract(raw, src, final)
            else:
                from zoo.io.state_dict import load_state_file, save_state_file

                orig = raw if fmt != "zip" else inner
                if fmt == "zip":
                    _extract(raw, src, inner)
                meta = {"zoo_model": spec.name, "tag": src.tag, "source_url": source, "sha256": digest}
                save_state_file(load_state_file(orig), final, meta)
                file_sha = pins.sha256_file(final)
        except ZooError:
            raw.unlink(missing_ok=True)
            raise
        finally:
            inner.unlink(missing_ok=True)
        pin_url(src.url, digest, published)
        pins.record(root, path=final, file_sha=file_sha, source=source)
        raw.unlink(missing_ok=True)


def fetch_pretrained(spec: Any, tag: str | None = None, *, progress: bool = True) -> Path:
    """The published weights of ``spec`` as a verified local file, downloading at most once.

    The file is :func:`pretrained_path`. When it exists and matches its pin (:mod:`zoo.io.pins`,
    its SHA-256 recorded when zoo wrote it; hashed on every call) it is returned with no
    network access at all. A cached file that changed, or that nobody pinned, is fetched
    again (online, with a ``Warning:`` line) or refused (offline); it is never used.
    Otherwise, under the lock of the file (a second process waits, then finds it done),
    the original of ``spec.weight_source(tag)`` is downloaded (:func:`download`: https
    only, SHA-256 checked against the published digest or the URL's pin, which is recorded
    at the first download):

    * ``safetensors`` (backbones): straight to the cache path, after checking that it parses;
    * ``pth`` (backbones): to ``cache_dir()/downloads/<file name>`` (a file already there,
      e.g. put there by hand offline, is used after its hash is checked), read with
      ``torch.load(weights_only=True)`` only and unwrapped as
      :func:`zoo.io.state_dict.load_state_file` does, written as safetensors through
      :mod:`zoo.utils.fileio` (:func:`zoo.io.state_dict.save_state_file`) with metadata
      ``zoo_model``, ``tag``, ``source_url`` and ``sha256`` (of the original); the original
      is then deleted;
    * ``zip``: downloaded to ``downloads/`` as above; only ``src.member`` is extracted
      (absolute paths and ``..`` refused), then treated as a ``pth`` file; the zip is deleted;
    * GANs (``spec.kind == "gan"``): the official file (or zip member) is cached as
      published, unconverted, for the family's official loader.

    Args:
        spec: a :class:`zoo.registry.spec.ModelSpec`.
        tag: weight tag (``"imagenet"``); ``None``/``"default"``: the first published one.
        progress: show a progress bar while downloading.

    Returns:
        Path of the cached file (``.safetensors`` for backbones).

    Raises:
        WeightsUnavailable: a non-https URL; offline without a cached file; the network
            fails (see :func:`download`).
        ZooError: no such published weights; a changed cache file offline, or one that
            cannot be fetched again; a digest mismatch; a zip without ``member``; a file
            that cannot be read (:func:`zoo.io.state_dict.load_state_file`); lock or disk errors.
    """
    src = spec.weight_source(tag)
    check_url(src.url)
    root, final = cache_dir(), pretrained_path(spec, src.tag)
    if final.is_file() and not pins.check_file(root, final):  # verified: no lock, no network
        return final
    direct, var = _direct(spec, src), offline_variable()
    orig = final if direct else root / "downloads" / _url_file_name(src.url)
    if var and not final.is_file() and not orig.is_file():  # fail fast, writing nothing
        raise WeightsUnavailable(f"{var} is set: cannot download {src.url}; put the file at {orig} or pass --weights FILE")
    with pins.cache_lock(final, f"downloading {spec.name}'s {src.tag} weights"):
        reason = pins.check_file(root, final) if final.is_file() else ""
        if final.is_file() and not reason:  # another process made it while we waited
            return final
        if reason and not (direct and pins.file_pin(root, final) is None):  # else fetch_verified checks it as a download
            if var:
                raise ZooError(f"cached {final} {reason}; refusing it ({var} is set): go online so zoo fetches it again, or delete it")
            warn(f"cached {final} {reason}; fetching it again")
            final.unlink(missing_ok=True)
            pins.forget_file(root, final)
        try:
            _produce(spec, src, final, progress=progress)
        except WeightsUnavailable as exc:
            if reason:
                raise ZooError(f"cached {final} {reason}, and fetching it again failed: {exc}") from exc
            raise
    return final
