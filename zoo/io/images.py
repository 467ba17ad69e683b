"""Images in and out: the one image reader of zoo, and the PNG grid writer.

Reading (:func:`read_image`) is the same for every command that takes a picture: the
ImageFolders of ``--data``, ``zoo predict IMAGE...``, ``zoo sample --image`` and the
unlabelled folders of ``zoo pretrain``. One policy for all of them:

* the file is decoded whole, so a truncated file fails here, naming it, not mid-epoch;
* size: PIL's ``Image.MAX_IMAGE_PIXELS`` (about 89 million pixels) is a warning, one line
  per file and process; twice that is refused as a decompression bomb (PIL's own rule);
* 16-bit greyscale (PNG ``I;16``, and PIL's 32-bit ``I`` mode, which is how PIL opens 16-bit
  PNGs) is scaled to 8 bits (``value >> 8``), not clipped at 255 as ``Image.convert("L")``
  does; 32-bit float (``F``) images are refused with what to do;
* every other mode PIL decodes (palette, CMYK, alpha...) becomes ``L`` or ``RGB``.

Writing (:func:`save_grid`) quantises to 8 bits with the family's rule
(:func:`round_to_uint8`, torchvision's; :func:`truncate_to_uint8`, the official CycleGAN
and SRGAN test code's) and writes the PNG atomically (:func:`zoo.utils.fileio.atomic_path`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from zoo.errors import ZooError, first_line, warn
from zoo.utils.fileio import nearest_existing

__all__ = ["check_grid_path", "grid_pixels", "load_rgb", "read_image", "round_to_uint8", "save_grid", "truncate_to_uint8"]

#: 16- and 32-bit integer greyscale modes: scaled to 8 bits by ``>> 8`` (PNG stores 16 bits).
WIDE_GREY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
#: Files already warned about as large (between 1x and 2x PIL's decompression-bomb limit).
_WARNED_LARGE: set[str] = set()


def _eight_bit(img: Any) -> Any:
    """``img`` as an 8-bit ``L`` or ``RGB`` PIL image (see the module docstring)."""
    import numpy as np
    from PIL import Image

    if img.mode in WIDE_GREY_MODES:
        values = np.asarray(img, dtype=np.int64)
        return Image.fromarray((np.clip(values, 0, 65535) >> 8).astype(np.uint8), mode="L")
    if img.mode in ("1", "L"):
        return img.convert("L")
    if img.mode == "LA" or (img.mode == "P" and img.palette is not None and img.palette.mode in ("L", "LA")):
        return img.convert("L")
    return img.convert("RGB")


def _unreadable(path: Path, exc: BaseException) -> str:
    """Why ``path`` is no image: what it holds (:func:`zoo.io.filekind.describe_file`), or for a
    damaged image file, PIL's reason."""
    from zoo.io.filekind import describe_file

    what = describe_file(path)
    if what.split(" (")[0].endswith(" image"):  # "a PNG image (32 x 32)": a damaged one
        return f"it is {what} that PIL cannot decode ({first_line(exc, 120)})"
    return f"it is {what}"


def read_image(path: str | os.PathLike[str], *, mode: str | None = None, exit_code: int = 2) -> Any:
    """Decode one image file, whole, as an 8-bit PIL image.

    Args:
        path: an image file (PNG, JPEG, BMP, TIFF, WebP... whatever PIL decodes).
        mode: ``"RGB"`` or ``"L"`` to convert to; ``None`` keeps greyscale images ``L`` and
            makes every other one ``RGB``.
        exit_code: the exit code of an unreadable file (2 for a file the user named, 1
            for one found inside a data folder).

    Returns:
        A loaded PIL image of mode ``L`` or ``RGB`` (8 bits per channel).

    Raises:
        ZooError: the file does not exist or is a directory (exit code 2); it cannot be
            decoded (the message names what it is, e.g. a text file); it has more than twice
            ``PIL.Image.MAX_IMAGE_PIXELS`` pixels; it holds 32-bit float pixels.
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path).expanduser()
    if not p.exists():
        raise ZooError(f"image {p} does not exist; give an image file (PNG, JPEG, ...)", exit_code=2)
    if p.is_dir():
        raise ZooError(f"image {p} is a directory; give an image file (PNG, JPEG, ...)", exit_code=2)
    try:
        with open(p, "rb") as fh, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            img = Image.open(fh)
            img.load()
        for w in caught:
            if not issubclass(w.category, Image.DecompressionBombWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            elif str(p) not in _WARNED_LARGE:
                _WARNED_LARGE.add(str(p))
                warn(
                    f"image {p} has {img.width * img.height:,} pixels, over PIL's decompression-bomb warning limit ({Image.MAX_IMAGE_PIXELS:,}); loading it anyway"
                )
    except Image.DecompressionBombError as exc:
        raise ZooError(
            f"image {p} is refused as a decompression bomb ({first_line(exc, 160)}); shrink it or remove it", exit_code=exit_code
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ZooError(
            f"cannot read image {p}: {_unreadable(p, exc)}; give a PNG or JPEG image, or re-save or remove that file", exit_code=exit_code
        ) from None
    if img.mode == "F":
        raise ZooError(f"image {p} has 32-bit float pixels (PIL mode F); save it as an 8- or 16-bit PNG", exit_code=exit_code)
    img = _eight_bit(img)
    return img if mode is None or img.mode == mode else img.convert(mode)


def load_rgb(path: str) -> Any:
    """The ImageFolder loader: :func:`read_image` as ``RGB``, an unreadable file exit code 1
    (it was found in a data folder, not named by the user)."""
    return read_image(path, mode="RGB", exit_code=1)


def round_to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Quantise ``[0, 1]`` images to 8 bits by rounding to the nearest level, as
    ``torchvision.utils.save_image`` does.

    The float32 arithmetic of torchvision 0.29.1 ``utils.py`` ``save_image`` (the version the
    reference fixtures were made with): ``mul(255)``, ``add_(0.5)``, ``clamp_(0, 255)``, then
    the cast to ``uint8`` (truncation toward zero of the rounded-up value): ``floor(255 x +
    0.5)``, halves up. zoo's default for every family (:meth:`GANAdapter.quantise`).

    Args:
        images: any shape, float (cast to float32 on the CPU first); values outside
            ``[0, 1]`` saturate at 0 or 255.

    Returns:
        ``uint8`` CPU tensor of the same shape.
    """
    import torch

    x = images.detach().to("cpu", torch.float32)
    return x.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)


def truncate_to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Quantise ``[0, 1]`` images to 8 bits by truncation: ``uint8(255 x)`` rounded toward zero.

    The float32 arithmetic of the official test code of CycleGAN and SRGAN: ``255 x`` in
    float32, clamped to ``[0, 255]``, cast to ``uint8`` (C truncation, as numpy's
    ``astype(np.uint8)``, torch's ``.to(torch.uint8)`` and ``Tensor.byte()``). A level is
    255 only where ``x`` is exactly 1; on average 0.5 level darker than
    :func:`round_to_uint8`. See :meth:`GANAdapter.quantise` of those families for the source
    lines.

    Args:
        images: any shape, float (cast to float32 on the CPU first); values outside
            ``[0, 1]`` saturate at 0 or 255.

    Returns:
        ``uint8`` CPU tensor of the same shape.
    """
    import torch

    x = images.detach().to("cpu", torch.float32)
    return x.mul(255).clamp_(0, 255).to(torch.uint8)


def check_grid_path(out: str | Path) -> None:
    """Fail fast (before a model is built) on an ``out`` that cannot become a PNG file.

    Raises:
        ZooError: ``out`` is a directory, or its nearest existing parent is not a writable directory (exit code 2).
    """
    path = Path(out)
    if path.is_dir():
        raise ZooError(f"{{param}} {path} is a directory; give a file name such as {path / 'grid.png'}", param="out", exit_code=2)
    parent = nearest_existing(path.parent)
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ZooError(f"cannot write {path}: {parent} is not a writable directory; choose another {{param}}", param="out", exit_code=2)


def grid_pixels(images: Any, *, nrow: int | None = None, min_cell: int = 64, quantise: Callable[[Any], Any] | None = None) -> Any:
    """The pixels :func:`save_grid` writes: ``images`` ((N, C, H, W) float in [0, 1]) as one
    ``(3, H', W')`` uint8 grid (TensorBoard's sample grids are these same pixels).

    Raises:
        TypeError: ``quantise`` returned something else than a ``uint8`` tensor of the grid's shape.
    """
    import math

    import torch
    from torchvision.utils import make_grid

    x = images.detach().float().clamp(0, 1).cpu()
    if x.shape[-1] < min_cell:
        x = torch.nn.functional.interpolate(x, scale_factor=max(1, min_cell // x.shape[-1]), mode="nearest")
    grid = make_grid(x, nrow=nrow or math.ceil(math.sqrt(x.shape[0])), padding=2, pad_value=1.0)
    pixels = (quantise or round_to_uint8)(grid)
    if pixels.dtype != torch.uint8 or pixels.shape != grid.shape:
        raise TypeError(f"quantise must return a uint8 tensor of shape {tuple(grid.shape)}, got {pixels.dtype} {tuple(pixels.shape)}")
    return pixels


def save_grid(
    images: Any, path: str | Path, *, nrow: int | None = None, min_cell: int = 64, quantise: Callable[[Any], Any] | None = None
) -> Path:
    """Write ``images`` ((N, C, H, W) float in [0, 1]) as one PNG grid, atomically.

    Cells smaller than ``min_cell`` pixels are enlarged with nearest-neighbour so small
    samples (8x8 digits) stay visible. The grid is ``ceil(sqrt(N))`` cells wide (or
    ``nrow``) with 2-pixel white borders (``torchvision.utils.make_grid``, which repeats one
    channel three times); one image is written alone, exactly its pixels, with no border.
    The float grid is quantised to 8 bits by ``quantise`` and written by PIL as an RGB PNG
    through :func:`zoo.utils.fileio.atomic_path`. Every step before ``quantise`` copies values,
    so each pixel is ``quantise`` of its image's value (borders: of 1.0, white).

    Args:
        images: ``(N, C, H, W)`` float, clamped to ``[0, 1]`` first.
        path: the PNG file.
        nrow: cells per row (default ``ceil(sqrt(N))``).
        min_cell: smallest cell side in pixels before nearest-neighbour enlargement.
        quantise: float ``[0, 1]`` tensor -> ``uint8`` tensor of the same shape: the
            family's :meth:`zoo.models.gan.GANAdapter.quantise`; default
            :func:`zoo.models.gan.round_to_uint8`, which is ``torchvision.utils.save_image``'s rule.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ZooError: ``path`` is a directory (exit code 2) or cannot be written.
        TypeError: ``quantise`` returned something else than a ``uint8`` tensor of the grid's shape (a family's bug).
    """
    from PIL import Image

    from zoo.utils.fileio import atomic_path

    path = Path(path)
    if path.is_dir():
        raise ZooError(f"{{param}} {path} is a directory; give a file name such as {path / 'grid.png'}", param="path", exit_code=2)
    pixels = grid_pixels(images, nrow=nrow, min_cell=min_cell, quantise=quantise)
    try:
        with atomic_path(path) as tmp:
            Image.fromarray(pixels.permute(1, 2, 0).contiguous().numpy()).save(tmp, format="PNG")
    except OSError as exc:
        raise ZooError(f"cannot write {path} ({exc.strerror or exc}); choose another file", exit_code=1) from None
    return path
