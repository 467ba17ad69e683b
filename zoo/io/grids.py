"""Grids out: the one PNG writer of zoo (:func:`save_grid`, :func:`grid_pixels`): images as one
grid, labelled with row and column names where the family gives them (:mod:`zoo.io.grid_text`),
quantised to 8 bits by the family's rule (:func:`zoo.io.images.round_to_uint8`,
:func:`zoo.io.images.truncate_to_uint8`) and written atomically; and the bounded-memory
:class:`GridCanvas` that ``zoo sample`` fills batch by batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from zoo.errors import ZooError
from zoo.io.images import round_to_uint8
from zoo.utils.fileio import nearest_existing

__all__ = [
    "MAX_GRID_PIXELS",
    "MAX_SCALE",
    "GridCanvas",
    "check_grid_path",
    "check_grid_size",
    "grid_geometry",
    "grid_pixels",
    "grid_scale",
    "save_grid",
]

#: The most pixels a PNG grid of zoo may have: PIL's decompression-bomb warning limit
#: (``PIL.Image.MAX_IMAGE_PIXELS``, 89,478,485 = 2**30 / 4 / 3, about a 9,459 x 9,459 image).
#: A larger PNG is one that PIL-based readers, :func:`read_image` included, warn about or
#: refuse; a 100,000-image grid of 64-pixel cells (437 million pixels) took 11 GB to build.
MAX_GRID_PIXELS = 89_478_485


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


def _columns(n: int, nrow: int | None) -> int:
    """Cells per row of an unlabelled grid of ``n``: ``nrow`` (default ``ceil(sqrt(n))``), at most ``n``."""
    import math

    return min(nrow or math.ceil(math.sqrt(n)), n)


def _write_png(pixels: Any, path: Path) -> Path:
    """Write ``(H, W, 3)`` uint8 ``pixels`` (a tensor or array) as an RGB PNG, atomically
    (:func:`zoo.utils.fileio.atomic_path`); returns ``path``.

    Raises:
        ZooError: ``path`` cannot be written (exit code 1).
    """
    import numpy as np
    from PIL import Image

    from zoo.utils.fileio import atomic_path

    try:
        with atomic_path(path) as tmp:
            Image.fromarray(np.asarray(pixels)).save(tmp, format="PNG")
    except OSError as exc:
        raise ZooError(f"cannot write {path} ({exc.strerror or exc}); choose another file", exit_code=1) from None
    return path


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
    cols = (nrow or math.ceil(math.sqrt(n))) if col_labels else _columns(n, nrow)
    layout = grid_layout(n, cols, h, w, row_labels=row_labels, col_labels=col_labels)
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


def grid_geometry(
    n: int, height: int, width: int, *, nrow: int | None = None, min_cell: int = 64, scale: int | None = None
) -> tuple[int, int, int]:
    """The size of the unlabelled grid :func:`save_grid` (and :class:`GridCanvas`) makes of ``n``
    images of ``height`` x ``width`` pixels: ``(grid height, grid width, cell scale)`` in pixels.

    The cell scale is :func:`grid_scale`'s (nearest-neighbour enlargement); the grid is
    ``min(nrow, n)`` cells wide (default ``ceil(sqrt(n))``), laid out by
    :func:`zoo.io.grid_text.grid_layout` without labels: 2-pixel borders
    (``torchvision.utils.make_grid``), and one image has none.

    Raises:
        ZooError: a bad ``scale`` (:func:`grid_scale`).
    """
    scale = grid_scale(scale, height, width, min_cell=min_cell)
    layout = _unlabelled_layout(n, height * scale, width * scale, nrow)
    return layout.height, layout.width, scale


def _unlabelled_layout(n: int, cell_h: int, cell_w: int, nrow: int | None) -> Any:
    """:func:`zoo.io.grid_text.grid_layout` of ``n`` unlabelled cells, :func:`_columns` per row."""
    from zoo.io.grid_text import grid_layout

    return grid_layout(n, _columns(n, nrow), cell_h, cell_w)


def check_grid_size(
    n: int, height: int, width: int, *, nrow: int | None = None, min_cell: int = 64, scale: int | None = None, param: str = "n"
) -> None:
    """Refuse a grid of more than :data:`MAX_GRID_PIXELS` pixels before anything is generated.

    Raises:
        ZooError: (exit code 2, ``{param}`` template) the grid of ``n`` images is too large; the
            message gives its size and the largest ``n`` that fits.
    """
    gh, gw, factor = grid_geometry(n, height, width, nrow=nrow, min_cell=min_cell, scale=scale)
    if gh * gw <= MAX_GRID_PIXELS:
        return
    lo, hi = 1, n  # the largest count that fits (the area grows with the count)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        mh, mw, _ = grid_geometry(mid, height, width, nrow=nrow, min_cell=min_cell, scale=scale)
        lo, hi = (mid, hi) if mh * mw <= MAX_GRID_PIXELS else (lo, mid - 1)
    raise ZooError(
        f"{{param}} {n} makes a grid of {gw:,} x {gh:,} pixels, over {MAX_GRID_PIXELS:,} (PIL's decompression-bomb limit, "
        f"which image readers warn about or refuse); at most {lo:,} cells of {height * factor} x {width * factor} fit: "
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
        min_cell, scale: the enlargement of the cells, as :func:`grid_scale`.
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
        scale: int | None = None,
        quantise: Callable[[Any], Any] | None = None,
        param: str = "n",
    ) -> None:
        import torch

        check_grid_size(n, height, width, nrow=nrow, min_cell=min_cell, scale=scale, param=param)
        self.n, self.done = n, 0
        self.quantise = quantise or round_to_uint8
        self.scale = grid_scale(scale, height, width, min_cell=min_cell)
        self.cell = (height * self.scale, width * self.scale)
        #: where each cell goes: :func:`grid_pixels`' layout of the same unlabelled grid
        self.layout = _unlabelled_layout(n, *self.cell, nrow)
        border = self.quantise(torch.ones(1))
        #: the grid, ``(height, width, 3)`` uint8, as PIL takes it (no copy to save it)
        self.pixels = torch.full((self.layout.height, self.layout.width, 3), int(border[0]), dtype=torch.uint8)

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
        for cell in q:
            top, left = self.layout.cell_origin(self.done)
            self.pixels[top : top + h, left : left + w] = cell.permute(1, 2, 0)
            self.done += 1

    def save(self, path: str | Path) -> Path:
        """Write the grid as an RGB PNG, atomically; returns ``path``.

        Raises:
            ValueError: fewer images were added than the grid holds.
            ZooError: ``path`` cannot be written.
        """
        if self.done != self.n:
            raise ValueError(f"the grid holds {self.n} images; only {self.done} were added")
        return _write_png(self.pixels.numpy(), Path(path))


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
    path = Path(path)
    if path.is_dir():
        raise ZooError(f"{{param}} {path} is a directory; give a file name such as {path / 'grid.png'}", param="path", exit_code=2)
    pixels = grid_pixels(images, nrow=nrow, min_cell=min_cell, scale=scale, quantise=quantise, row_labels=row_labels, col_labels=col_labels)
    return _write_png(pixels.permute(1, 2, 0).contiguous().numpy(), path)
