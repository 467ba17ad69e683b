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

Writing (:func:`save_grid`, its pixels :func:`grid_pixels`) lays images out in a grid,
optionally labelled (row labels left of the cells, column labels above them, in bands of
their own: :mod:`zoo.io.grid_text`), quantises to 8 bits with the family's rule
(:func:`round_to_uint8`, torchvision's; :func:`truncate_to_uint8`, the official CycleGAN
and SRGAN test code's) and writes the PNG atomically (:func:`zoo.utils.fileio.atomic_path`).
Cells are enlarged only by an integer nearest-neighbour factor (:func:`grid_scale`: on
request, or automatically when they are 32 px or less), so their pixels stay the family's
quantised values.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from zoo.errors import ZooError, first_line, warn
from zoo.utils.fileio import nearest_existing

__all__ = [
    "MAX_SCALE",
    "check_grid_path",
    "grid_pixels",
    "grid_scale",
    "load_rgb",
    "read_image",
    "round_to_uint8",
    "save_grid",
    "truncate_to_uint8",
]

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


#: The largest ``scale`` a grid may ask for (a 128 px StarGAN cell at 16x is 2,048 px).
MAX_SCALE = 16


def grid_scale(scale: int | None, cell_h: int, cell_w: int, *, min_cell: int = 64) -> int:
    """The integer nearest-neighbour enlargement of a grid's cells.

    ``scale`` when given; otherwise (automatic) ``max(1, min_cell // min(cell_h, cell_w))``:
    with the default ``min_cell`` 64, cells of 32 px or less are enlarged to between 33 and 64
    px (8x8 digits 8 times, 28 px 2 times) and larger cells are written at their own size.

    Raises:
        ZooError: ``scale`` is not an integer from 1 to :data:`MAX_SCALE` (exit code 2).
    """
    if scale is None:
        return max(1, min_cell // max(1, min(cell_h, cell_w)))
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= MAX_SCALE:
        raise ZooError(
            f"{{param}} must be an integer from 1 (the generator's own pixels) to {MAX_SCALE}, got {scale!r}", param="scale", exit_code=2
        )
    return scale


def grid_pixels(
    images: Any,
    *,
    nrow: int | None = None,
    min_cell: int = 64,
    scale: int | None = None,
    quantise: Callable[[Any], Any] | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
) -> torch.Tensor:
    """The pixels :func:`save_grid` writes: ``images`` as one labelled grid, ``(3, H', W')`` uint8.

    The cells are enlarged by :func:`grid_scale` (nearest neighbour, an integer factor, so
    each pixel becomes a block of equal pixels), laid out ``nrow`` per row by
    :func:`zoo.io.grid_text.grid_layout` (2-pixel white frames; without labels exactly
    ``torchvision.utils.make_grid(padding=2, pad_value=1)``, and one image alone has no
    frame), one channel repeated three times as make_grid does. The float image, frames and
    label bands included (white, 1.0), is quantised to 8 bits by ``quantise``; then the labels
    are drawn into their bands (:func:`zoo.io.grid_text.draw_labels`). So every pixel inside a
    cell is ``quantise`` of its image's value, and no label touches a cell.

    Args:
        images: ``(N, C, H, W)`` float, ``C`` 1 or 3, clamped to ``[0, 1]`` first; cell ``i``
            goes to row ``i // nrow``, column ``i % nrow``.
        nrow: cells per row (default ``ceil(sqrt(N))``, at most ``N`` without column labels).
        min_cell: the automatic enlargement's target (see :func:`grid_scale`).
        scale: the enlargement factor, 1 to :data:`MAX_SCALE`; ``None``: automatic.
        quantise: float ``[0, 1]`` tensor -> ``uint8`` tensor of the same shape: the
            family's :meth:`zoo.models.gan.GANAdapter.quantise`; default
            :func:`round_to_uint8`, which is ``torchvision.utils.save_image``'s rule.
        row_labels: one label per row (left of the cells), or ``None``.
        col_labels: one label per column (above the cells), or ``None``.

    Returns:
        ``(3, H', W')`` uint8 CPU tensor.

    Raises:
        ZooError: not a ``(N, 1 or 3, H, W)`` tensor with ``N >= 1``, a bad ``scale``, or a
            label list that does not match the rows / columns.
        TypeError: ``quantise`` returned something else than a ``uint8`` tensor of the grid's shape (a family's bug).
    """
    import math

    import torch

    from zoo.io.grid_text import draw_labels, grid_layout

    if not (hasattr(images, "dim") and images.dim() == 4 and images.shape[0] >= 1 and images.shape[1] in (1, 3)):
        got = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
        raise ZooError(f"a grid is made of (N, C, H, W) images with N >= 1 and C 1 or 3, got {got}")
    x = images.detach().float().clamp(0, 1).cpu()
    factor = grid_scale(scale, x.shape[-2], x.shape[-1], min_cell=min_cell)
    if factor > 1:
        x = torch.nn.functional.interpolate(x, scale_factor=factor, mode="nearest")
    x = x.expand(-1, 3, -1, -1)
    n, _, h, w = x.shape
    cols = nrow or math.ceil(math.sqrt(n))
    layout = grid_layout(n, cols if col_labels else min(cols, n), h, w, row_labels=row_labels, col_labels=col_labels)
    canvas = torch.ones(3, layout.height, layout.width)
    for i in range(n):
        top, left = layout.cell_origin(i)
        canvas[:, top : top + h, left : left + w] = x[i]
    pixels = (quantise or round_to_uint8)(canvas)
    if not isinstance(pixels, torch.Tensor) or pixels.dtype != torch.uint8 or pixels.shape != canvas.shape:
        got = f"{pixels.dtype} {tuple(pixels.shape)}" if isinstance(pixels, torch.Tensor) else type(pixels).__name__
        raise TypeError(f"quantise must return a uint8 tensor of shape {tuple(canvas.shape)}, got {got}")
    if layout.top or layout.left:
        pixels = torch.from_numpy(draw_labels(pixels.permute(1, 2, 0).numpy(), layout)).permute(2, 0, 1)
    return pixels.contiguous()


def save_grid(
    images: Any,
    path: str | Path,
    *,
    nrow: int | None = None,
    min_cell: int = 64,
    scale: int | None = None,
    quantise: Callable[[Any], Any] | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
) -> Path:
    """Write ``images`` ((N, C, H, W) float in [0, 1]) as one PNG grid, atomically: zoo's one image writer.

    The pixels are :func:`grid_pixels` (every argument but ``path`` is passed on; see it for
    the layout, the enlargement rule and the labels), written by PIL as an RGB PNG through
    :func:`zoo.utils.fileio.atomic_path`. One image without labels is written alone,
    exactly its (enlarged) pixels, with no frame.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ZooError: ``path`` is a directory (exit code 2) or cannot be written; as :func:`grid_pixels`.
        TypeError: as :func:`grid_pixels`.
    """
    from PIL import Image

    from zoo.utils.fileio import atomic_path

    path = Path(path)
    if path.is_dir():
        raise ZooError(f"{{param}} {path} is a directory; give a file name such as {path / 'grid.png'}", param="path", exit_code=2)
    pixels = grid_pixels(images, nrow=nrow, min_cell=min_cell, scale=scale, quantise=quantise, row_labels=row_labels, col_labels=col_labels)
    try:
        with atomic_path(path) as tmp:
            Image.fromarray(pixels.permute(1, 2, 0).contiguous().numpy()).save(tmp, format="PNG")
    except OSError as exc:
        raise ZooError(f"cannot write {path} ({exc.strerror or exc}); choose another file", exit_code=1) from None
    return path
