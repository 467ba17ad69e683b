"""What a file holds, judged by its content: the one sniffer behind every "this is not a checkpoint" message.

A weights file that cannot be read is named by what it is, never guessed from its suffix:
an HTML page saved by a download that fetched an error page, a PNG renamed ``.pth``, a
``torch.save`` zip cut short, a pickle that holds code... :func:`identify_file` reads the
first bytes (magic numbers) and, where a format has them, its structure (the safetensors
header and the sizes it promises, a zip archive's directory and member names, the opcodes
of a pickle, without running it) and returns a :class:`FileKind`; :func:`describe_file` is
its one-phrase description. :func:`weights_format` is the cheap part used before reading:
which reader a file needs, from its first 16 bytes.

Sources: the safetensors format (https://github.com/huggingface/safetensors, "Format": an
8-byte little-endian header size N, N bytes of JSON starting with ``{``, then the data);
``torch.serialization`` (a ``torch.save`` zip holds ``<name>/data.pkl``; the legacy format
of PyTorch < 1.6 is a pickled magic number ``0x1950a86a20f9469cfc6c`` followed by more
pickles; ``get_unsafe_globals_in_checkpoint`` lists what ``weights_only`` refuses; a
TorchScript archive holds ``code/`` and ``constants.pkl``); the file signatures of PNG
(ISO/IEC 15948), JPEG (``FF D8 FF``), GIF, BMP, WebP, TIFF, gzip (RFC 1952), bzip2, xz,
zstd, 7-Zip, RAR, POSIX tar (``ustar`` at offset 257), PDF, HDF5, NumPy ``.npy``; Git LFS
pointer files (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md).

No torch import at module level (only :func:`identify_file` of a ``torch.save`` zip imports it).
"""

from __future__ import annotations

import itertools
import json
import os
import pickletools
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["EXPECTED_WEIGHTS", "FileKind", "describe_file", "identify_file", "weights_format"]

#: What a weights file should be, for messages.
EXPECTED_WEIGHTS = "a .safetensors file or a torch.save checkpoint of a state dict"

_HEAD = 8192
# safetensors refuses headers above 100 MB (MAX_HEADER_SIZE); bounds the sniff of a header size
_MAX_HEADER = 100_000_000
# opcodes read from one pickle at most (about a second of pickletools): a state dict of thousands of tensors fits
_MAX_OPS = 1_000_000
# torch.serialization.MAGIC_NUMBER, the first pickle of torch.save's legacy format
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
# what the legacy format pickles for tensors and containers: torch's weights_only allowlist, approximated by name
_TENSOR_GLOBALS = re.compile(
    r"collections\.(OrderedDict|Counter)|(builtins|__builtin__)\.(set|frozenset|complex|bytearray|slice)|_codecs\.encode"
    r"|torch\._utils\._rebuild_\w+|torch\._tensor\._rebuild_from_type_v2|torch\.nn\.parameter\.Parameter"
    r"|torch\.serialization\._get_layout|torch\.(cuda\.|sparse\.)?\w*(Storage|Tensor)|torch\.(Size|device)|torch\.[a-z][a-z0-9_]*"
)
_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_COMPRESSED = (
    (b"BZh", "a bzip2-compressed file"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
)
_OTHER = (
    (b"%PDF-", "a PDF document", ""),
    (
        b"\x89HDF\r\n\x1a\n",
        "an HDF5 file (Keras/TensorFlow .h5 weights?)",
        "; zoo reads PyTorch weights: convert them to a state dict first",
    ),
    (b"\x93NUMPY", "a NumPy .npy array", "; save the tensors as a state dict (a name for each) instead"),
)
_ARCHIVE_HINT = "; take the weights file out of the archive and pass it"
_WEB_HINT = "; the download saved a web page (an error or sign-in page?) instead of the file: fetch it again from a direct link"
_CUT_HINT = "; the file is incomplete: download or save it again"
_DAMAGED_HINT = "; the file is damaged: download or save it again"
_CODE_HINT = "; torch.load(weights_only=True) refuses it: save only model.state_dict(), or convert the file to .safetensors"


@dataclass(frozen=True)
class FileKind:
    """What :func:`identify_file` found.

    Attributes:
        description: a noun phrase, ``"a PNG image (32 x 32)"``, ``"a truncated safetensors
            file (...)"``, ``"an empty file (0 bytes)"``.
        hint: what to do about it, ``""`` or text starting with ``"; "`` (appended to an error).
        weights: ``"safetensors"`` or ``"torch"`` when the file looks like a complete weights
            file of that format (reading it failed for another reason, or not at all), else ``None``.
    """

    description: str
    hint: str = ""
    weights: str | None = None


def weights_format(path: str | os.PathLike[str]) -> str | None:
    """Which reader the file needs, from its first bytes (not its suffix).

    Returns:
        ``"torch"`` for a zip archive (``torch.save``'s format since PyTorch 1.6) or a pickle
        that starts with torch's legacy magic number, ``"safetensors"`` for an 8-byte header
        size followed by ``{``, else ``None`` (:func:`identify_file` says what it is).

    Raises:
        OSError: the file cannot be opened.
    """
    with open(path, "rb") as fh:
        head = fh.read(16)
        if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
            return "torch"
        if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
            fh.seek(0)
            return "torch" if _legacy_magic(fh) else None
    if _header_size(head) is not None:
        return "safetensors"
    return None


def _header_size(head: bytes) -> int | None:
    """The safetensors header size that the first bytes announce, if they look like a safetensors file."""
    if len(head) <= 8 or head[8:9] != b"{":
        return None
    n = struct.unpack("<Q", head[:8])[0]
    return n if 2 <= n <= _MAX_HEADER else None


def _legacy_magic(fh: Any) -> bool:
    """Whether the pickle at ``fh``'s position is torch's legacy magic number (reads that one pickle)."""
    try:
        first = itertools.islice(pickletools.genops(fh), 3)  # PROTO, LONG1 (the magic number), STOP
        return any(op.name.startswith("LONG") and arg == _LEGACY_MAGIC for op, arg, _ in first)
    except ValueError:
        return False


def describe_file(path: str | os.PathLike[str]) -> str:
    """What the file at ``path`` holds, as a noun phrase for messages (:func:`identify_file`'s description).

    Judged by content only: ``"an empty file (0 bytes)"``, ``"a text file ('hello')"``,
    ``"a JSON text file"``, ``"a YAML-like text file"``, ``"an HTML page ('404 Not Found')"``,
    ``"an XML document"``, ``"a Git LFS pointer (...)"``, ``"a PNG image (32 x 32)"``,
    JPEG/GIF/BMP/WebP/TIFF images, ``"a gzip-compressed tar archive"``, ``"a tar
    archive"``, bzip2/xz/zstd/7-Zip/RAR, ``"a zip archive that is not a torch checkpoint
    (it holds ...)"``, ``"a NumPy .npz archive"``, ``"a TorchScript model (...)"``, ``"a
    torch.save checkpoint cut short (...)"``, ``"a truncated or corrupt zip archive"``,
    ``"a torch.save checkpoint that pickles code (argparse.Namespace)"``, ``"a legacy
    torch.save checkpoint (...)"``, ``"a Python pickle that is not a torch checkpoint"``,
    ``"a truncated safetensors file (...)"``, ``"a safetensors file with a corrupt header"``,
    ``"an ONNX model"``, PDF, HDF5, NumPy ``.npy``, ``"binary data of an unknown format
    (starts ...)"``; a path that is missing or a directory says so.

    Args:
        path: any path.

    Returns:
        One line, starting with an article.
    """
    return identify_file(path).description


def identify_file(path: str | os.PathLike[str], *, error: BaseException | None = None) -> FileKind:
    """Sniff the file at ``path``: its magic bytes, then its structure (see the module docstring).

    Nothing in the file is run: pickles are read with :mod:`pickletools` (opcodes only) and
    ``torch.serialization.get_unsafe_globals_in_checkpoint`` (a static disassembly).

    Args:
        path: any path.
        error: what a reader raised on this file, if anything. When the file looks like a
            whole weights file, the error says what is wrong with it: a global that
            ``torch.load(weights_only=True)`` refused is named as the code the file pickles
            (the legacy format's code is found by name only, see ``_TENSOR_GLOBALS``);
            otherwise the error's first sentence is given as the reason the file cannot be read.

    Returns:
        The :class:`FileKind`; an unreadable path (missing, a directory, no permission) is
        described as such, never raised.
    """
    kind = _identify(Path(path))
    if error is None or kind.weights is None:
        return kind
    text = str(error)
    refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if refused:
        return FileKind(f"{kind.description} that pickles code ({refused.group(1)}), which zoo never runs", _CODE_HINT)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(error).__name__)
    reason = line.split(". ")[0].rstrip(".")[:160]
    return FileKind(f"{kind.description} that cannot be read ({reason})", _DAMAGED_HINT)


def _identify(p: Path) -> FileKind:
    try:
        if not p.exists():
            return FileKind("a path that does not exist")
        if p.is_dir():
            return FileKind("a directory", "; pass a file, or a checkpoint directory where one is accepted")
        size = p.stat().st_size
        with open(p, "rb") as fh:
            head = fh.read(_HEAD)
    except OSError as exc:
        return FileKind(f"a file that cannot be read ({exc.strerror or exc})")
    if size == 0:
        return FileKind("an empty file (0 bytes)", "; it was never written (an interrupted save or download?): get it again")
    for sniff in (_zip, _pickle, _safetensors, _magic, _text):
        found = sniff(p, head, size)
        if found is not None:
            return found
    shown = " ".join(f"{b:02x}" for b in head[:8])
    return FileKind(f"binary data of an unknown format ({size:,} bytes, starting {shown})")


# ---------------------------------------------------------------------------------
# the sniffers: each returns None when the file is not of its kind
# ---------------------------------------------------------------------------------
def _names(names: list[str], n: int = 3) -> str:
    return ", ".join(names[:n]) + (", ..." if len(names) > n else "")


def _zip(path: Path, head: bytes, size: int) -> FileKind | None:
    if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        first = b""
        if head[:4] == b"PK\x03\x04" and len(head) >= 30:
            n = struct.unpack("<H", head[26:28])[0]
            first = head[30 : 30 + n]
        if first.endswith(b"data.pkl"):
            return FileKind(f"a torch.save checkpoint cut short ({size:,} bytes; the end of its zip archive is missing)", _CUT_HINT)
        return FileKind(f"a truncated or corrupt zip archive ({size:,} bytes)", _DAMAGED_HINT)
    if not names:
        return FileKind("an empty zip archive", _ARCHIVE_HINT)
    stems = {n.split("/", 1)[-1] for n in names}
    if "data.pkl" in stems and "constants.pkl" in stems and any("/code/" in "/" + n for n in names):
        return FileKind(
            "a TorchScript model (torch.jit.save, such as zoo export's model.pt), not a checkpoint of weights",
            "; pass the weights it was exported from (the run directory or its model.safetensors)",
        )
    if "data.pkl" in stems:
        unsafe = _unsafe_zip_globals(path)
        if unsafe:
            return FileKind(
                f"a torch.save checkpoint that pickles code ({_names(sorted(unsafe))}), which zoo never runs",
                _CODE_HINT,
            )
        return FileKind("a torch.save checkpoint (zip format)", weights="torch")
    if all(n.endswith(".npy") for n in names):
        return FileKind(f"a NumPy .npz archive ({_names(names)})", "; save the tensors as a state dict (torch.save or safetensors) instead")
    return FileKind(f"a zip archive that is not a torch checkpoint (it holds {_names(names)})", _ARCHIVE_HINT)


def _unsafe_zip_globals(path: Path) -> list[str]:
    """What ``torch.load(weights_only=True)`` would refuse in a ``torch.save`` zip (static; ``[]`` when it cannot tell)."""
    try:
        from torch.serialization import get_unsafe_globals_in_checkpoint
    except ImportError:  # pragma: no cover - torch < 2.5
        return []
    try:
        return list(get_unsafe_globals_in_checkpoint(str(path)))
    except Exception:  # a damaged archive: torch.load's own error says more
        return []


def _pickle_globals(fh: Any) -> list[str]:
    """The ``module.name`` globals one pickle refers to, read from its opcodes (nothing is run).

    Raises:
        ValueError: the pickle is cut short or is not a pickle (:mod:`pickletools`).
    """
    found: list[str] = []
    strings: list[str] = []
    for op, arg, _ in itertools.islice(pickletools.genops(fh), _MAX_OPS):
        if op.name in ("GLOBAL", "INST"):
            found.append(str(arg).replace(" ", "."))
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            found.append(f"{strings[-2]}.{strings[-1]}")
        elif isinstance(arg, str):
            strings.append(arg)
    return list(dict.fromkeys(found))


def _pickle(path: Path, head: bytes, size: int) -> FileKind | None:
    if head[:1] != b"\x80" or len(head) < 2 or not 2 <= head[1] <= 5:
        return None
    try:
        with open(path, "rb") as fh:
            legacy = _legacy_magic(fh)
            fh.seek(0)
            if not legacy:
                names = _pickle_globals(fh)
                shown = f" (it refers to {_names(names, 2)})" if names else ""
                return FileKind(
                    f"a Python pickle that is not a torch checkpoint{shown}",
                    "; zoo reads only tensors: save a state dict with torch.save or safetensors",
                )
            for _ in range(3):  # the magic number, the protocol version, the system information
                _pickle_globals(fh)
            code = [g for g in _pickle_globals(fh) if not _TENSOR_GLOBALS.fullmatch(g)]  # the saved object
    except ValueError:  # pickletools: cut short
        what = "a legacy torch.save checkpoint" if legacy else "a Python pickle"
        return FileKind(f"{what} cut short ({size:,} bytes)", _CUT_HINT)
    if code:
        return FileKind(
            f"a legacy torch.save checkpoint (PyTorch < 1.6 format) that pickles code ({_names(code)}), which zoo never runs",
            _CODE_HINT,
        )
    return FileKind("a legacy torch.save checkpoint (PyTorch < 1.6 format)", weights="torch")


def _safetensors(path: Path, head: bytes, size: int) -> FileKind | None:
    n = _header_size(head)
    if n is None:
        return None
    if 8 + n > size:
        return FileKind(f"a truncated safetensors file ({size:,} bytes: it ends inside its {n:,}-byte header)", _CUT_HINT)
    try:
        with open(path, "rb") as fh:
            fh.seek(8)
            header = json.loads(fh.read(n).decode("utf-8"))
        ends = [int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"]
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, OSError):
        return FileKind("a safetensors file with a corrupt header (not the JSON table of tensors it should be)", _DAMAGED_HINT)
    need = 8 + n + max(ends, default=0)
    if size < need:
        return FileKind(f"a truncated safetensors file ({size:,} of the {need:,} bytes its header describes)", _CUT_HINT)
    if size > need:
        return FileKind(f"a corrupt safetensors file ({size - need:,} bytes more than its header describes)", _DAMAGED_HINT)
    return FileKind(f"a safetensors file ({len(ends)} tensors)", weights="safetensors")


def _image_size(path: Path) -> str:
    try:
        from PIL import Image

        with Image.open(path) as im:
            return f" ({im.size[0]} x {im.size[1]})"
    except Exception:  # a damaged image: the kind is still known from its signature
        return ""


def _magic(path: Path, head: bytes, size: int) -> FileKind | None:
    image_hint = "; it is an image, not model weights"
    for magic, name in _IMAGES:
        if head.startswith(magic):
            return FileKind(f"a {name} image{_image_size(path)}", image_hint)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileKind(f"a WebP image{_image_size(path)}", image_hint)
    if head[:2] == b"BM" and len(head) >= 6 and struct.unpack("<I", head[2:6])[0] == size:
        return FileKind(f"a BMP image{_image_size(path)}", image_hint)
    if head[:2] == b"\x1f\x8b":
        import gzip

        try:
            with gzip.open(path, "rb") as gz:
                inner = gz.read(512)
        except (OSError, EOFError):
            inner = b""
        tar = len(inner) >= 262 and inner[257:262] == b"ustar"
        return FileKind("a gzip-compressed tar archive" if tar else "a gzip-compressed file", _ARCHIVE_HINT)
    for magic, text in _COMPRESSED:
        if head.startswith(magic):
            return FileKind(text, _ARCHIVE_HINT)
    if len(head) >= 262 and head[257:262] == b"ustar":
        return FileKind("a tar archive", _ARCHIVE_HINT)
    for magic, text, hint in _OTHER:
        if head.startswith(magic):
            return FileKind(text, hint)
    if len(head) > 3 and head[0] == 0x08 and head[1] < 0x80 and head[2] == 0x12 and b"pytorch" in head[:64]:
        return FileKind(
            "an ONNX model (such as zoo export's model.onnx), not a checkpoint of weights",
            "; pass the weights it was exported from (the run directory or its model.safetensors)",
        )
    return None


def _text(path: Path, head: bytes, size: int) -> FileKind | None:
    if b"\x00" in head:
        return None
    data = head.removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(data) - 3:  # not only a character cut at the end of the sample
            return None
        text = data[: exc.start].decode("utf-8")
    stripped = text.lstrip()
    low = stripped[:1024].lower()
    if stripped.startswith("version https://git-lfs.github.com/spec/"):
        m = re.search(r"^size (\d+)", text, re.M)
        real = f" for a {int(m.group(1)):,}-byte file" if m else ""
        return FileKind(f"a Git LFS pointer{real}", "; the weights themselves were never fetched: run 'git lfs pull'")
    if low.startswith(("<!doctype html", "<html")) or "<html" in low or "<head" in low or "<body" in low:
        m = re.search(r"<title[^>]*>([^<]{1,80})", text, re.I)
        title = f" ('{' '.join(m.group(1).split())}')" if m else ""
        return FileKind(f"an HTML page{title}", _WEB_HINT)
    if low.startswith("<?xml") or re.match(r"<[a-z][\w:-]*[ >]", low):
        return FileKind("an XML document", _WEB_HINT)
    if stripped[:1] in ("{", "["):
        try:
            doc = json.loads(text) if size <= _HEAD else None
        except ValueError:
            doc = None
        if isinstance(doc, dict) and "model" in doc and ("config" in doc or "checkpoint_id" in doc):
            return FileKind(
                f"a JSON text file (the sidecar of a zoo checkpoint of {doc['model']})",
                "; pass the checkpoint directory or its model.safetensors",
            )
        if doc is not None or size > _HEAD:
            return FileKind("a JSON text file")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if lines and (lines[0].startswith("---") or all(re.match(r"\s*(- |[\w.\-\"']+\s*:(\s|$))", ln) for ln in lines[:5])):
        return FileKind("a YAML-like text file")
    first = " ".join(stripped.splitlines()[0].split())[:40] if stripped else ""
    return FileKind(f"a text file ({first!r})" if first else "a text file of blank lines")
