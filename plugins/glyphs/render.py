"""The renderer of the built-in ``glyphs`` data set (see :mod:`zoo.plugins.glyphs`; its cache file: :mod:`zoo.plugins.glyphs.cache`).

Only numpy, Pillow and matplotlib (for its bundled fonts): no torch, no global RNG. Every
random choice comes from one :class:`numpy.random.Generator` seeded with ``seed``, so a
seed gives byte-identical arrays on one installation (FreeType's rasteriser and the fonts
are the installation's: another Pillow/FreeType/matplotlib may move pixels, which is why
the cache records the fonts' digests and the versions, :func:`fingerprint`).

How one image is made (``S`` = ``image_size``, 32 by default):

1. *Masters*: each character of each font is drawn once at :data:`MASTER_PX` px (the
   font size) with each stroke width of :data:`STROKES` (Pillow ``ImageDraw.text`` with
   ``stroke_width``: the outline thickened by that many master pixels on every side) and
   cropped to its ink.
2. *Affine*: a master is mapped onto a ``2S x 2S`` canvas by one affine transform
   (Pillow ``Image.transform(AFFINE, BILINEAR)``): scaled so that its height is
   ``scale * 0.68 * 2S`` with ``scale`` in :data:`RANGES` ``scale`` and its width by a
   further ``aspect`` factor (wide glyphs such as ``W`` are shrunk to fit 85 % of the
   canvas width), sheared horizontally by ``shear`` (x += shear * y), rotated by
   ``rotation`` degrees, and its ink box centred at the canvas centre plus a
   translation of ``translate * S`` pixels on each axis.
3. The canvas is averaged down 2x2 to ``S x S`` (``Image.reduce(2)``: anti-aliasing),
   blurred with a Gaussian of radius ``blur`` px (none below 0.1), and Gaussian noise of
   standard deviation ``noise`` grey levels (per image) is added, then rounded and
   clipped to 0..255. White glyphs on black (0), as the handwritten ``digits``.

Sources: the MNIST normalisation (LeCun et al. 1998: the glyph fitted in a box and
centred) and the synthetic-text augmentations of Jaderberg et al. 2014 (arXiv:1406.2227:
fonts, projective distortion, blur and noise), here reduced to what a 32 px glyph needs.
"""

from __future__ import annotations

import io
import math
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

__all__ = [
    "CLASSES",
    "FONT_FILES",
    "MASTER_PX",
    "PIL_DEFAULT",
    "RANGES",
    "SKIPPED_FONT_FILES",
    "STROKES",
    "FontSource",
    "check_font",
    "fingerprint",
    "font_sources",
    "generate",
    "render_masters",
]

#: Class names, index = label: the ten digits, then the 26 capital letters.
CLASSES: tuple[str, ...] = tuple(string.digits + string.ascii_uppercase)

#: matplotlib's bundled TrueType faces that are used (``mpl-data/fonts/ttf/``), with their family.
FONT_FILES: tuple[tuple[str, str], ...] = (
    ("DejaVuSans.ttf", "DejaVu"),
    ("DejaVuSans-Bold.ttf", "DejaVu"),
    ("DejaVuSans-Oblique.ttf", "DejaVu"),
    ("DejaVuSans-BoldOblique.ttf", "DejaVu"),
    ("DejaVuSansMono.ttf", "DejaVu"),
    ("DejaVuSansMono-Bold.ttf", "DejaVu"),
    ("DejaVuSansMono-Oblique.ttf", "DejaVu"),
    ("DejaVuSansMono-BoldOblique.ttf", "DejaVu"),
    ("DejaVuSerif.ttf", "DejaVu"),
    ("DejaVuSerif-Bold.ttf", "DejaVu"),
    ("DejaVuSerif-Italic.ttf", "DejaVu"),
    ("DejaVuSerif-BoldItalic.ttf", "DejaVu"),
    ("STIXGeneral.ttf", "STIX"),
    ("STIXGeneralBol.ttf", "STIX"),
    ("STIXGeneralItalic.ttf", "STIX"),
    ("STIXGeneralBolIta.ttf", "STIX"),
    ("cmr10.ttf", "Computer Modern"),
    ("cmb10.ttf", "Computer Modern"),
    ("cmti10.ttf", "Computer Modern"),
    ("cmss10.ttf", "Computer Modern"),
    ("cmtt10.ttf", "Computer Modern"),
    ("cmmi10.ttf", "Computer Modern"),
)

#: matplotlib's faces left out, and why (none holds the Latin digits and capitals as ordinary glyphs).
SKIPPED_FONT_FILES: dict[str, str] = {
    "cmex10.ttf": "TeX math extension: big delimiters, radicals and operators at the ASCII positions",
    "cmsy10.ttf": "TeX math symbols: operators at the digit positions, calligraphic capitals",
    "DejaVuSansDisplay.ttf": "a few display-math glyphs, no digits or letters",
    "DejaVuSerifDisplay.ttf": "a few display-math glyphs, no digits or letters",
    "LastResortHE-Regular.ttf": "one placeholder box per Unicode block, not letters",
    "STIXNonUni*.ttf": "STIX variants outside Unicode (private-use code points only)",
    "STIXSiz*.ttf": "STIX size variants of delimiters and operators only",
}

#: The name of Pillow's built-in font (``ImageFont.load_default(size=...)``: Aileron Regular).
PIL_DEFAULT = "Pillow default (Aileron Regular)"

#: Font size (px) at which the masters are drawn.
MASTER_PX = 48
#: Stroke widths of the masters, in master pixels added on every side of the outline.
STROKES: tuple[int, ...] = (0, 1, 2, 3)
#: Uniform ranges of the per-image random parameters (see the module docstring).
RANGES: dict[str, tuple[float, float]] = {
    "rotation": (-12.0, 12.0),  # degrees, anticlockwise
    "shear": (-0.25, 0.25),  # x += shear * y
    "scale": (0.8, 1.15),  # glyph height / (0.68 * image side)
    "aspect": (0.85, 1.15),  # extra horizontal scale
    "translate": (-0.08, 0.08),  # fraction of the image side, each axis
    "blur": (0.0, 1.0),  # Gaussian radius, output pixels
    "noise": (0.0, 12.0),  # standard deviation, grey levels of 255
}
_HEIGHT = 0.68  # glyph height at scale 1, as a fraction of the image side
_MAX_WIDTH = 0.85
_MIN_INK = 20  # master pixels a glyph needs to count as drawn


@dataclass(frozen=True)
class FontSource:
    """One font the data set renders.

    Attributes:
        name: the font file name (``DejaVuSans.ttf``) or :data:`PIL_DEFAULT`.
        family: ``DejaVu``, ``STIX``, ``Computer Modern`` or ``Aileron``.
        path: the TrueType file, or ``None`` for Pillow's built-in font (its bytes live in
            ``PIL.ImageFont``).
    """

    name: str
    family: str
    path: Path | None

    def load(self, px: int) -> Any:
        """The font as a ``PIL.ImageFont.FreeTypeFont`` of size ``px`` pixels.

        Raises:
            ZooError: Pillow has no FreeType support, or the file cannot be read.
        """
        from PIL import ImageFont, features

        if not features.check("freetype2"):
            raise ZooError("Pillow was built without FreeType, which the glyphs data set needs; install Pillow's wheel from PyPI")
        try:
            return ImageFont.truetype(str(self.path), px) if self.path is not None else ImageFont.load_default(size=px)
        except OSError as exc:
            raise ZooError(f"cannot read font {self.path} ({exc}); reinstall matplotlib") from exc

    def data(self) -> bytes:
        """The font file's bytes (for its digest). Raises ``OSError`` if the file cannot be read."""
        if self.path is not None:
            return self.path.read_bytes()
        return bytes(self.load(MASTER_PX).font_bytes)


def font_sources() -> list[FontSource]:
    """Every font of the data set: :data:`FONT_FILES` from matplotlib's ``mpl-data/fonts/ttf``,
    then Pillow's default font. No font is read here.

    Raises:
        ZooError: one of :data:`FONT_FILES` is missing from the installed matplotlib.
    """
    import matplotlib

    root = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    out = []
    for name, family in FONT_FILES:
        path = root / name
        if not path.is_file():
            raise ZooError(
                f"matplotlib {matplotlib.__version__} has no font {name} in {root}; the glyphs data set needs the fonts of matplotlib >= 3.7"
            )
        out.append(FontSource(name, family, path))
    out.append(FontSource(PIL_DEFAULT, "Aileron", None))
    return out


def fingerprint(fonts: list[FontSource]) -> dict[str, Any]:
    """What the rendering depends on besides the seed: each font's SHA-256 and the versions of
    Pillow, FreeType and numpy. Stored in the cache; a cache made under another fingerprint is
    regenerated.

    Raises:
        OSError: a font file cannot be read.
    """
    import hashlib

    import numpy as np
    import PIL
    from PIL import features

    return {
        "fonts": {f.name: hashlib.sha256(f.data()).hexdigest() for f in fonts},
        "pillow": PIL.__version__,
        "freetype": features.version("freetype2"),
        "numpy": np.__version__,
    }


def _draw(font: Any, char: str, stroke: int) -> Any:
    """``char`` in white on black, cropped to its ink; ``None`` when nothing is drawn."""
    from PIL import Image, ImageDraw

    side = MASTER_PX * 3
    img = Image.new("L", (side, side), 0)
    ImageDraw.Draw(img).text((MASTER_PX, MASTER_PX), char, fill=255, font=font, stroke_width=stroke, stroke_fill=255)
    box = img.getbbox()
    return img.crop(box) if box else None


def _cmap_has(char: str, cmap: dict[int, int] | None) -> bool:
    return cmap is None or cmap.get(ord(char), 0) != 0


def _charmap(font: FontSource) -> dict[int, int] | None:
    """``{code point: glyph index}`` of the font (matplotlib's FreeType wrapper)."""
    from matplotlib.ft2font import FT2Font

    try:
        return FT2Font(str(font.path) if font.path is not None else io.BytesIO(font.data())).get_charmap()
    except (OSError, RuntimeError, TypeError):  # a wrapper that cannot read it: the drawing checks remain
        return None


def check_font(font: FontSource, classes: tuple[str, ...] = CLASSES) -> None:
    """Check that ``font`` draws every class as its own non-empty glyph.

    Each character must be in the font's character map (not its ``.notdef`` box), draw at
    least a few pixels of ink at :data:`MASTER_PX`, differ from what the font draws for an
    unassigned code point (U+E000, where the ``.notdef`` box goes), and differ from every
    other class's glyph, pixel for pixel.

    Raises:
        ZooError: the first failure, naming the font and the character.
    """
    import numpy as np

    pil_font = font.load(MASTER_PX)
    cmap = _charmap(font)
    notdef = _draw(pil_font, "\ue000", 0)
    seen: dict[bytes, str] = {}
    for char in classes:
        glyph = _draw(pil_font, char, 0)
        why = ""
        if not _cmap_has(char, cmap):
            why = "is not in its character map"
        elif glyph is None or int((np.asarray(glyph) > 127).sum()) < _MIN_INK:
            why = "draws no ink"
        elif notdef is not None and glyph.size == notdef.size and glyph.tobytes() == notdef.tobytes():
            why = "draws the font's missing-glyph box"
        else:
            key = glyph.size[0].to_bytes(2, "little") + glyph.size[1].to_bytes(2, "little") + glyph.tobytes()
            if key in seen:
                why = f"draws the same glyph as {seen[key]!r}"
            seen[key] = char
        if why:
            raise ZooError(f"font {font.name} cannot be used for the glyphs data set: {char!r} {why}")


def render_masters(fonts: list[FontSource], classes: tuple[str, ...] = CLASSES) -> list[list[list[Any]]]:
    """The master glyphs: ``masters[font][class][stroke]``, each a cropped ``"L"`` PIL image
    (white on black, :data:`MASTER_PX` px font size, stroke :data:`STROKES` ``[stroke]``).

    Raises:
        ZooError: a font fails :func:`check_font`.
    """
    masters = []
    for font in fonts:
        check_font(font, classes)
        pil_font = font.load(MASTER_PX)
        masters.append([[_draw(pil_font, c, s) for s in STROKES] for c in classes])
    return masters


def _params(rng: Any, n: int) -> dict[str, Any]:
    return {k: rng.uniform(lo, hi, size=n) for k, (lo, hi) in RANGES.items()}


def _affine(master_size: tuple[int, int], canvas: int, p: dict[str, float]) -> tuple[float, ...]:
    """Pillow's AFFINE data (output -> master coordinates) for one image's parameters."""
    w, h = master_size
    sy = p["scale"] * _HEIGHT * canvas / h
    sx = sy * p["aspect"]
    if w * sx > _MAX_WIDTH * canvas:  # wide glyphs (W, M) fit the canvas
        shrink = _MAX_WIDTH * canvas / (w * sx)
        sx, sy = sx * shrink, sy * shrink
    t = math.radians(p["rotation"])
    c, s = math.cos(t), math.sin(t)
    k = p["shear"]
    # forward: centre the master at 0, scale, shear (x += k y), rotate (anticlockwise on screen), move to the canvas centre
    a, b = c * sx, c * k * sy + s * sy
    d, e = -s * sx, -s * k * sy + c * sy
    cx = canvas / 2 + p["translate_x"] * canvas
    cy = canvas / 2 + p["translate_y"] * canvas
    det = a * e - b * d
    ia, ib, id_, ie = e / det, -b / det, -d / det, a / det
    # master = inverse * (out - centre) + master centre
    return (ia, ib, w / 2 - ia * cx - ib * cy, id_, ie, h / 2 - id_ * cx - ie * cy)


def generate(
    per_class: int,
    *,
    seed: int = 0,
    image_size: int = 32,
    fonts: list[FontSource] | None = None,
    classes: tuple[str, ...] = CLASSES,
    masters: list[list[list[Any]]] | None = None,
) -> tuple[Any, Any, Any]:
    """Render ``per_class`` images of every class.

    The fonts are dealt out evenly within each class (each font draws ``per_class /
    fonts`` images of a class, give or take one), in a seeded random order; every other
    parameter is drawn per image from :data:`RANGES` and :data:`STROKES`. Images are in
    class order (all ``"0"``, then all ``"1"``...).

    Args:
        per_class: images per class, >= 1.
        seed: the seed of the one ``numpy.random.Generator`` used.
        image_size: output side ``S`` in pixels, >= 8.
        fonts: the fonts (default :func:`font_sources`).
        classes: the characters to draw (default :data:`CLASSES`).
        masters: the fonts' masters from :func:`render_masters` (drawn here when ``None``).

    Returns:
        ``(images, labels, font_index)``: uint8 ``(N, 1, S, S)`` (0 background, 255 ink),
        int64 ``(N,)`` indices into ``classes``, int16 ``(N,)`` indices into ``fonts``;
        ``N = per_class * len(classes)``.

    Raises:
        ZooError: ``per_class < 1`` or ``image_size < 8``; a font fails :func:`check_font`.
    """
    import numpy as np
    from PIL import Image, ImageFilter

    if per_class < 1:
        raise ZooError(f"{{param}} must be at least 1, got {per_class}", param="per_class", exit_code=2)
    if image_size < 8:
        raise ZooError(f"{{param}} must be at least 8 pixels, got {image_size}", param="image_size", exit_code=2)
    fonts = font_sources() if fonts is None else fonts
    masters = render_masters(fonts, classes) if masters is None else masters
    rng = np.random.default_rng(seed)
    n_classes, n_fonts = len(classes), len(fonts)
    n = per_class * n_classes
    labels = np.repeat(np.arange(n_classes, dtype=np.int64), per_class)
    font_idx = np.concatenate([rng.permutation(np.arange(per_class) % n_fonts) for _ in range(n_classes)]).astype(np.int16)
    stroke = rng.integers(0, len(STROKES), size=n)
    params = _params(rng, n)
    params["translate_x"] = params.pop("translate")
    params["translate_y"] = rng.uniform(*RANGES["translate"], size=n)
    canvas = 2 * image_size
    out = np.empty((n, 1, image_size, image_size), dtype=np.uint8)
    for i in range(n):
        p = {k: float(v[i]) for k, v in params.items()}
        master = masters[font_idx[i]][labels[i]][stroke[i]]
        img = master.transform((canvas, canvas), Image.Transform.AFFINE, _affine(master.size, canvas, p), Image.Resampling.BILINEAR)
        img = img.reduce(2)
        if p["blur"] >= 0.1:
            img = img.filter(ImageFilter.GaussianBlur(p["blur"]))
        out[i, 0] = np.frombuffer(img.tobytes(), dtype=np.uint8).reshape(image_size, image_size)
    chunk = 4096  # noise in blocks: bounded memory, the same numbers as in one go
    for start in range(0, n, chunk):
        block = out[start : start + chunk].astype(np.float32)
        sd = params["noise"][start : start + chunk].astype(np.float32)[:, None, None, None]
        block += rng.standard_normal(block.shape, dtype=np.float32) * sd
        out[start : start + chunk] = np.clip(np.rint(block), 0, 255).astype(np.uint8)
    return out, labels, font_idx
