"""Labelled image grids: where the cells and the labels go, and drawing the labels.

:func:`zoo.io.grids.grid_pixels` (the one grid writer, behind :func:`zoo.io.grids.save_grid`)
places the cells with :func:`grid_layout` and draws the labels with :func:`draw_labels`. The
rules, every length in pixels of the written PNG:

* **Cells** are ``cell_h x cell_w`` (already enlarged), in ``rows x cols`` slots separated and
  framed by ``PAD`` = 2 white pixels, as ``torchvision.utils.make_grid(padding=2,
  pad_value=1)``: without labels the layout is exactly make_grid's. A single cell without
  labels is written alone: no frame (``pad`` 0).
* **Column labels** sit in a band above the cells, **row labels** in a band left of them. The
  bands are white, outside every cell, and sized from the text: the band is as wide (or
  high) as its longest label needs, so no label is ever cut. The column slots widen (the
  cells centred in them, white around) to fit the longest column label, up to 1.5 times the
  cell's width; beyond that a label wraps at spaces, underscores, commas and slashes
  (``Wearing_`` / ``Lipstick``), and a word (a piece between such breaks) wider still widens
  every slot to fit it. A row label wraps beyond ``max(cell_w, 10 x font size)`` pixels; a row label of
  more lines than the cell is high makes every row slot higher.
* **Font**: DejaVu Sans as shipped by matplotlib (``matplotlib/mpl-data/fonts/ttf/DejaVuSans.ttf``,
  Bitstream Vera licence; matplotlib is a dependency of zoo), drawn by PIL's ``ImageDraw``
  (FreeType, antialiased) in black on white. Size :func:`label_px`: a seventh of the cell's
  shorter side, between 12 and 18 px, so labels read at the grid's own scale.

Imports PIL and matplotlib's data path lazily; no torch.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

__all__ = ["PAD", "GridLayout", "draw_labels", "font_file", "grid_layout", "label_font", "label_px", "wrap_label"]

#: White pixels between and around the cells (make_grid's ``padding``).
PAD = 2
#: Where a label may wrap: after a space, underscore, comma or slash.
_BREAK = re.compile(r".+?(?:[ _,/]|$)")


def font_file() -> Path:
    """The labels' font: matplotlib's ``mpl-data/fonts/ttf/DejaVuSans.ttf``.

    Raises:
        ZooError: the file is missing (a broken matplotlib installation; reinstall it).
    """
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    if not path.is_file():
        raise ZooError(f"the label font {path} is missing; reinstall matplotlib (pip install --force-reinstall matplotlib)")
    return path


@functools.lru_cache(maxsize=16)
def label_font(px: int) -> Any:
    """DejaVu Sans (:func:`font_file`) at ``px`` pixels (the em size), a ``PIL.ImageFont.FreeTypeFont``."""
    from PIL import ImageFont

    return ImageFont.truetype(str(font_file()), px)


def label_px(cell_h: int, cell_w: int) -> int:
    """The label font size in pixels for cells of ``cell_h x cell_w``: ``min(cell_h, cell_w) // 7``, clamped to ``[12, 18]``."""
    return max(12, min(18, min(cell_h, cell_w) // 7))


def _line_width(font: Any, line: str) -> int:
    """Ink width of ``line`` from its drawing origin (anything left of the origin counted)."""
    left, _, right, _ = font.getbbox(line)
    return max(1, math.ceil(right) - min(0, math.floor(left)))


def wrap_label(text: str, font: Any, width: int) -> tuple[str, ...]:
    """``text`` as lines of at most ``width`` pixels in ``font``, broken after spaces,
    underscores, commas and slashes (``\\n`` breaks too); a piece without such a break that
    is wider than ``width`` stays whole on its own line (it is never cut).

    Returns:
        The lines, trailing spaces removed; ``("",)`` for empty text.
    """
    lines: list[str] = []
    for paragraph in str(text).split("\n"):
        line = ""
        for piece in _BREAK.findall(paragraph) or [""]:
            if line and _line_width(font, (line + piece).rstrip()) > width:
                lines.append(line.rstrip())
                line = piece.lstrip()
            else:
                line += piece
        lines.append(line.rstrip())
    return tuple(lines)


@dataclass(frozen=True)
class GridLayout:
    """Where every cell and label of a grid goes (see the module docstring for the rules).

    Attributes:
        n, rows, cols: cells, and the slots they fill row by row (the last row may be short).
        cell_h, cell_w: a cell's size in pixels.
        slot_h, slot_w: a slot's size (at least the cell's; more where a label needs it).
        pad: white pixels between and around slots (``PAD``; 0 for a lone unlabelled cell).
        top: height of the column-label band (0 without column labels).
        left: width of the row-label band (0 without row labels).
        height, width: the whole image.
        font_px: the label font size (:func:`label_px`).
        col_lines, row_lines: every label's wrapped lines (empty tuples without labels).
        line_h: the height of one line of text; margin: white around a band's text.
    """

    n: int
    rows: int
    cols: int
    cell_h: int
    cell_w: int
    slot_h: int
    slot_w: int
    pad: int
    top: int
    left: int
    height: int
    width: int
    font_px: int
    col_lines: tuple[tuple[str, ...], ...]
    row_lines: tuple[tuple[str, ...], ...]
    line_h: int
    margin: int

    def cell_origin(self, index: int) -> tuple[int, int]:
        """``(y, x)`` of the top-left pixel of cell ``index`` (row-major), centred in its slot."""
        r, c = divmod(index, self.cols)
        y = self.top + self.pad + r * (self.slot_h + self.pad) + (self.slot_h - self.cell_h) // 2
        x = self.left + self.pad + c * (self.slot_w + self.pad) + (self.slot_w - self.cell_w) // 2
        return y, x


def grid_layout(
    n: int, cols: int, cell_h: int, cell_w: int, *, row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None
) -> GridLayout:
    """The geometry of a grid of ``n`` cells of ``cell_h x cell_w`` pixels, ``cols`` per row.

    Args:
        n: number of cells (>= 1).
        cols: slots per row (>= 1); ``ceil(n / cols)`` rows.
        cell_h, cell_w: a cell's size in pixels.
        row_labels: one label per row, or ``None`` / empty for none.
        col_labels: one label per column, or ``None`` / empty for none.

    Returns:
        The :class:`GridLayout`.

    Raises:
        ZooError: ``n`` or ``cols`` below 1, or a label list of another length than the rows / columns.
    """
    if n < 1 or cols < 1:
        raise ZooError(f"a grid needs at least one cell and one column, got {n} cells in {cols} columns")
    rows = -(-n // cols)
    row_labels, col_labels = tuple(row_labels or ()), tuple(col_labels or ())
    if row_labels and len(row_labels) != rows:
        raise ZooError(f"{len(row_labels)} row labels for a grid of {rows} rows ({n} cells, {cols} per row); give one per row")
    if col_labels and len(col_labels) != cols:
        raise ZooError(f"{len(col_labels)} column labels for a grid of {cols} columns; give one per column")
    px = label_px(cell_h, cell_w)
    font = label_font(px)
    ascent, descent = font.getmetrics()
    line_h, margin = ascent + descent, max(3, px // 3)
    pieces = [piece.strip() for t in col_labels for part in str(t).split("\n") for piece in _BREAK.findall(part)]
    whole = max([0] + [_line_width(font, part) + 4 for t in col_labels for part in str(t).split("\n")])
    # a column widens to half as wide again as its cell rather than wrap, and as far as its widest word needs
    slot_w = max([cell_w, min(whole, cell_w * 3 // 2)] + [_line_width(font, piece) + 4 for piece in pieces])
    col_lines = tuple(wrap_label(t, font, slot_w - 4) for t in col_labels)
    row_lines = tuple(wrap_label(t, font, max(cell_w, 10 * px)) for t in row_labels)
    slot_h = max([cell_h] + [len(lines) * line_h for lines in row_lines])
    top = 2 * margin + max(len(lines) for lines in col_lines) * line_h if col_lines else 0
    left = 2 * margin + max(_line_width(font, line) for lines in row_lines for line in lines) if row_lines else 0
    pad = 0 if n == 1 and not (top or left) else PAD
    return GridLayout(
        n=n,
        rows=rows,
        cols=cols,
        cell_h=cell_h,
        cell_w=cell_w,
        slot_h=slot_h,
        slot_w=slot_w,
        pad=pad,
        top=top,
        left=left,
        height=top + pad + rows * (slot_h + pad),
        width=left + pad + cols * (slot_w + pad),
        font_px=px,
        col_lines=col_lines,
        row_lines=row_lines,
        line_h=line_h,
        margin=margin,
    )


def draw_labels(pixels: Any, layout: GridLayout) -> Any:
    """Draw ``layout``'s labels into its bands, black on white; no pixel outside the bands changes.

    Each band is cut out of the image, drawn on, and pasted back, so a label cannot touch a
    cell. Column labels are centred over their slot, the block of lines resting on the band's
    bottom margin; row labels are right-aligned against the cells, centred on their row.

    Args:
        pixels: ``(H, W, 3)`` uint8 numpy array of the whole grid (``layout.height x layout.width``).
        layout: the grid's :class:`GridLayout`.

    Returns:
        A new ``(H, W, 3)`` uint8 numpy array.
    """
    import numpy as np
    from PIL import Image, ImageDraw

    out = np.array(pixels, dtype=np.uint8, copy=True)
    font = label_font(layout.font_px)

    def draw(band: np.ndarray, items: list[tuple[int, int, str]]) -> np.ndarray:
        img = Image.fromarray(band)
        pen = ImageDraw.Draw(img)
        for x, y, line in items:
            pen.text((x - min(0, math.floor(font.getbbox(line)[0])), y), line, font=font, fill=(0, 0, 0))
        return np.asarray(img)

    if layout.top:
        items = []
        for c, lines in enumerate(layout.col_lines):
            slot_x = layout.left + layout.pad + c * (layout.slot_w + layout.pad)
            y0 = layout.top - layout.margin - len(lines) * layout.line_h
            for i, line in enumerate(lines):
                items.append((slot_x + (layout.slot_w - _line_width(font, line)) // 2, y0 + i * layout.line_h, line))
        out[: layout.top] = draw(out[: layout.top], items)
    if layout.left:
        items = []
        for r, lines in enumerate(layout.row_lines):
            slot_y = layout.top + layout.pad + r * (layout.slot_h + layout.pad)
            y0 = slot_y + (layout.slot_h - len(lines) * layout.line_h) // 2
            for i, line in enumerate(lines):
                items.append((layout.left - layout.margin - _line_width(font, line), y0 + i * layout.line_h, line))
        out[:, : layout.left] = draw(np.ascontiguousarray(out[:, : layout.left]), items)
    return out
