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

__all__ = [
    "MAX_GRID_PIXELS",
    "GridCanvas",
    "check_grid_path",
    "check_grid_size",
    "grid_geometry",
    "grid_pixels",
    "load_rgb",
    "read_image",
    "round_to_uint8",
    "save_grid",
    "truncate_to_uint8",
]

#: 16- and 32-bit integer greyscale modes: scaled to 8 bits by ``>> 8`` (PNG stores 16 bits).
WIDE_GREY_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
#: The most pixels a PNG grid of zoo may have: PIL's decompression-bomb warning limit
#: (``PIL.Image.MAX_IMAGE_PIXELS``, 89,478,485 = 2**30 / 4 / 3, about a 9,459 x 9,459 image).
#: A larger PNG is one that PIL-based readers, :func:`read_image` included, warn about or
#: refuse; a 100,000-image grid of 64-pixel cells (437 million pixels) took 11 GB to build.
MAX_GRID_PIXELS = 89_478_485
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


def grid_geometry(n: int, height: int, width: int, *, nrow: int | None = None, min_cell: int = 64) -> tuple[int, int, int]:
    """The size of the grid :func:`save_grid` (and :class:`GridCanvas`) makes of ``n`` images of
    ``height`` x ``width`` pixels: ``(grid height, grid width, cell scale)`` in pixels.

    The cell scale is ``max(1, min_cell // width)`` when ``width < min_cell`` (nearest-neighbour
    enlargement), else 1; the grid is ``min(nrow, n)`` cells wide (default ``ceil(sqrt(n))``) with
    2-pixel borders (``torchvision.utils.make_grid``); one image has no border.
    """
    import math

    scale = max(1, min_cell // width) if width < min_cell else 1
    h, w = height * scale, width * scale
    if n == 1:
        return h, w, scale
    cols = min(nrow or math.ceil(math.sqrt(n)), n)
    rows = math.ceil(n / cols)
    return rows * (h + 2) + 2, cols * (w + 2) + 2, scale


def check_grid_size(n: int, height: int, width: int, *, nrow: int | None = None, min_cell: int = 64, param: str = "n") -> None:
    """Refuse a grid of more than :data:`MAX_GRID_PIXELS` pixels before anything is generated.

    Raises:
        ZooError: (exit code 2, ``{param}`` template) the grid of ``n`` images is too large; the
            message gives its size and the largest ``n`` that fits.
    """
    gh, gw, scale = grid_geometry(n, height, width, nrow=nrow, min_cell=min_cell)
    if gh * gw <= MAX_GRID_PIXELS:
        return
    lo, hi = 1, n  # the largest count that fits (the area grows with the count)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        mh, mw, _ = grid_geometry(mid, height, width, nrow=nrow, min_cell=min_cell)
        lo, hi = (mid, hi) if mh * mw <= MAX_GRID_PIXELS else (lo, mid - 1)
    raise ZooError(
        f"{{param}} {n} makes a grid of {gw:,} x {gh:,} pixels, over {MAX_GRID_PIXELS:,} (PIL's decompression-bomb limit, "
        f"which image readers warn about or refuse); at most {lo:,} cells of {height * scale} x {width * scale} fit: "
        f"use {{param}} {lo} or less, with several --seed values for more images",
        param=param,
        exit_code=2,
    )


class GridCanvas:
    """A PNG grid built batch by batch, in memory bounded by the 8-bit grid itself.

    The same file as :func:`save_grid` of all the images at once (the same cells, borders and
    scale, :func:`grid_geometry`), for a ``quantise`` that works pixel by pixel (zoo's
    :func:`round_to_uint8` and :func:`truncate_to_uint8` do): each batch is quantised and put
    in its cells as it comes, so only one batch of float images is ever held. ``zoo sample``
    draws its grids this way (:func:`zoo.tasks.sampling.sample`).

    Args:
        n: the number of images the grid holds.
        height, width: each image's size in pixels (before enlargement).
        nrow: cells per row (default ``ceil(sqrt(n))``).
        min_cell: smallest cell side before nearest-neighbour enlargement.
        quantise: as :func:`save_grid` (default :func:`round_to_uint8`).
        param: the parameter named when the grid is too large.

    Raises:
        ZooError: the grid would exceed :data:`MAX_GRID_PIXELS` (:func:`check_grid_size`).
    """

    def __init__(
        self,
        n: int,
        height: int,
        width: int,
        *,
        nrow: int | None = None,
        min_cell: int = 64,
        quantise: Callable[[Any], Any] | None = None,
        param: str = "n",
    ) -> None:
        import math

        import torch

        check_grid_size(n, height, width, nrow=nrow, min_cell=min_cell, param=param)
        self.n, self.done = n, 0
        self.quantise = quantise or round_to_uint8
        gh, gw, self.scale = grid_geometry(n, height, width, nrow=nrow, min_cell=min_cell)
        self.cell = (height * self.scale, width * self.scale)
        self.cols = 1 if n == 1 else min(nrow or math.ceil(math.sqrt(n)), n)
        border = self.quantise(torch.ones(1))
        #: the grid, ``(height, width, 3)`` uint8, as PIL takes it (no copy to save it)
        self.pixels = torch.full((gh, gw, 3), int(border[0]), dtype=torch.uint8)

    def add(self, images: Any) -> None:
        """Put ``images`` ``(B, C, H, W)`` float (clamped to ``[0, 1]``; ``C`` 1 or 3) in the next ``B`` cells.

        Raises:
            ValueError: more images than the grid holds, or of another size.
        """
        import torch

        x = images.detach().float().clamp(0, 1).cpu()
        if self.done + x.shape[0] > self.n:
            raise ValueError(f"the grid holds {self.n} images; {self.done + x.shape[0]} given")
        q = self.quantise(x)
        if q.dtype != torch.uint8 or q.shape != x.shape:
            raise TypeError(f"quantise must return a uint8 tensor of shape {tuple(x.shape)}, got {q.dtype} {tuple(q.shape)}")
        if q.shape[1] == 1:
            q = q.expand(-1, 3, -1, -1)
        if self.scale > 1:
            q = q.repeat_interleave(self.scale, dim=2).repeat_interleave(self.scale, dim=3)
        h, w = self.cell
        if tuple(q.shape[-2:]) != (h, w):
            raise ValueError(f"the grid's cells are {h} x {w} pixels; images of {tuple(q.shape[-2:])} given")
        pad = 0 if self.n == 1 else 2
        for cell in q:
            row, col = divmod(self.done, self.cols)
            top, left = pad + row * (h + pad), pad + col * (w + pad)
            self.pixels[top : top + h, left : left + w] = cell.permute(1, 2, 0)
            self.done += 1

    def save(self, path: str | Path) -> Path:
        """Write the grid as an RGB PNG, atomically; returns ``path``.

        Raises:
            ValueError: fewer images were added than the grid holds.
            ZooError: ``path`` cannot be written.
        """
        from PIL import Image

        from zoo.utils.fileio import atomic_path

        if self.done != self.n:
            raise ValueError(f"the grid holds {self.n} images; only {self.done} were added")
        path = Path(path)
        try:
            with atomic_path(path) as tmp:
                Image.fromarray(self.pixels.numpy()).save(tmp, format="PNG")
        except OSError as exc:
            raise ZooError(f"cannot write {path} ({exc.strerror or exc}); choose another file", exit_code=1) from None
        return path


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
