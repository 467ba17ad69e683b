"""Built-in data set ``glyphs``: printed digits and capital letters rendered offline from the
fonts that ship inside installed Python packages (hook module; no torch, nothing rendered at import).

``--data glyphs`` has 36 classes named ``0`` .. ``9``, ``A`` .. ``Z`` (label = index);
``glyphs:digits`` keeps the ten digits (named ``0`` .. ``9`` as ``digits``' classes),
``glyphs:letters`` the 26 letters, and ``glyphs:0-4``, ``glyphs:A-F``, ``glyphs:7,A`` work
as for ``digits``. A large source task similar to the handwritten ``digits`` (white on
black, grey, one glyph per image), for transfer learning (``benchmarks/transfer.py``).

**Size.** :data:`PER_CLASS` = 1,400 images per class, 50,400 in all, 1 x 32 x 32 uint8
(0 background, 255 ink), made once with seed :data:`SEED` = 0 and cached as
``$ZOO_CACHE/glyphs/glyphs-v1-32px-1400-seed0.npz`` (:func:`cache_path`; ``$ZOO_CACHE`` as
:func:`zoo.io.cache.cache_dir`), a compressed ``.npz`` of 32 MB (the noise keeps it from
compressing further: 18 MB without). Generating it took 4.6 s and writing it 4.1 s on one
core of the 2-core development machine (Pillow 13.0, FreeType 2.14.3; 14.6 s and 12.4 s
while other jobs loaded the machine); a second process waits for the first and reads its
file. The same seed gives
byte-identical arrays; the cache records the fonts' SHA-256 and the Pillow, FreeType and
numpy versions, and is made again when they change
(:func:`zoo.plugins.glyphs.cache.load_cached`).

**Fonts** (23; each is checked to draw all 36 characters from its character map, each its
own non-empty glyph and not the missing-glyph box, :func:`zoo.plugins.glyphs.render.check_font`):

* matplotlib's ``mpl-data/fonts/ttf``: DejaVu Sans, Sans Bold, Sans Oblique, Sans Bold
  Oblique, Sans Mono (the same four faces), Serif, Serif Bold, Serif Italic, Serif Bold
  Italic (12); STIXGeneral Regular, Bold, Italic, Bold Italic (4); Computer Modern (the
  BaKoMa TrueType conversion) cmr10, cmb10, cmti10, cmss10, cmtt10, cmmi10 (6; cmmi10 has
  old-style digits and italic capitals).
* Pillow's default font, ``PIL.ImageFont.load_default(size=...)``: Aileron Regular 1.102
  (Sora Sagano, dotcolon.net), embedded in ``PIL/ImageFont.py`` since Pillow 10.1 with a
  limited character set (used when Pillow has FreeType; without it, Pillow's old bitmap
  font, which this data set does not use).
* Left out (:data:`zoo.plugins.glyphs.render.SKIPPED_FONT_FILES`): cmex10 and cmsy10 (TeX's
  math extension and symbol faces: delimiters, operators and calligraphic capitals at the
  ASCII positions), DejaVu Sans/Serif Display (a few math glyphs), STIXNonUnicode (private
  use code points only), STIXSize* (big delimiters only), LastResortHE (one placeholder box
  per Unicode block): none holds the Latin digits and capitals as ordinary glyphs.

**Licences of the fonts** (the rendered images are derived from them):

* DejaVu: the Bitstream Vera Fonts licence (Bitstream, Inc. 2003; free use, modification
  and redistribution, modified fonts renamed), with DejaVu's changes in the public domain
  and the Arev glyphs under Tavmjong Bah's licence of the same terms
  (``mpl-data/fonts/ttf/LICENSE_DEJAVU``).
* STIX: the SIL Open Font License 1.1 (STI Pub Companies 2001-2010; matplotlib converted the
  OTF files to TTF; ``mpl-data/fonts/ttf/LICENSE_STIX``).
* Computer Modern (BaKoMa fonts, Basil K. Malyshev 1994-1995): the BaKoMa Fonts Licence of
  matplotlib's ``LICENSE/LICENSE_BAKOMA`` (in matplotlib's source tree, not in its wheel):
  copying and distribution for any purpose without fee with the copyright and permission
  notice; modified fonts with the notice and the location of the originals; use (embedding,
  printing) free without notices.
* Aileron: released by dotcolon into the public domain (CC0 1.0); the font's own copyright
  field reads "No Rights Reserved." Pillow itself is under the MIT-CMU licence.

**Transforms** (per image, uniform in the range; :data:`zoo.plugins.glyphs.render.RANGES`):
a master drawn at 48 px with stroke width 0, 1, 2 or 3 px (uniform; about 0-1 px at the
output size), then one affine map: height ``0.68 * 32 * scale`` px with scale 0.8-1.15,
width a further x0.85-1.15 (wide letters shrunk to fit 85 % of the width), shear -0.25 to
0.25 (x += shear * y), rotation -12 to +12 degrees, translation -8 % to +8 % of the side
(about 2.6 px) on each axis; drawn at 64 px and averaged down 2x2 to 32 px; Gaussian blur of
radius 0-1 px (none below 0.1); Gaussian noise of standard deviation 0-12 grey levels. Each
class's images are dealt evenly over the 23 fonts (60 or 61 each).
"""

from __future__ import annotations

from pathlib import Path

from zoo import hookimpl
from zoo.plugins.glyphs.render import CLASSES  # the class names, label = index (that module imports numpy/PIL lazily)

__all__ = ["CLASSES", "GROUPS", "IMAGE_SIZE", "PER_CLASS", "SEED", "VERSION", "cache_path", "load", "zoo_datasets"]

#: Named groups of classes: ``--data glyphs:digits``, ``glyphs:letters``.
GROUPS: dict[str, tuple[str, ...]] = {"digits": CLASSES[:10], "letters": CLASSES[10:]}
PER_CLASS = 1400
IMAGE_SIZE = 32
SEED = 0
#: The cache file's version: raise it when the rendering changes.
VERSION = 1


def cache_path() -> Path:
    """The cache file of the data set: ``<zoo cache>/glyphs/glyphs-v1-32px-1400-seed0.npz``
    (:func:`zoo.io.download.cache_dir`, i.e. ``$ZOO_CACHE``). Nothing is created. Raises nothing."""
    from zoo.io.download import cache_dir

    return cache_dir() / "glyphs" / f"glyphs-v{VERSION}-{IMAGE_SIZE}px-{PER_CLASS}-seed{SEED}.npz"


def load() -> tuple[object, object, list[str]]:
    """The data set, from the cache or generated into it first.

    Returns:
        ``(images uint8 (50400, 1, 32, 32), labels int64 (50400,), class names)`` (numpy).

    Raises:
        ZooError: the cache cannot be locked or written; a font is missing or fails its check.
    """
    from zoo.plugins.glyphs.cache import load_cached

    images, labels = load_cached(cache_path(), per_class=PER_CLASS, seed=SEED, image_size=IMAGE_SIZE)
    return images, labels, list(CLASSES)


@hookimpl
def zoo_datasets():
    """``{"glyphs": DatasetSpec}``: the loader :func:`load` with its classes, groups, size,
    image shape and cache file declared (nothing is loaded or generated here)."""
    from zoo.registry.spec import DatasetSpec

    return {
        "glyphs": DatasetSpec(
            loader=load,
            classes=CLASSES,
            size=PER_CLASS * len(CLASSES),
            image_shape=(1, IMAGE_SIZE, IMAGE_SIZE),
            groups=GROUPS,
            description="printed digits and capitals from 23 fonts, seeded affine, stroke, blur and noise (generated once)",
            cache=cache_path,
            licence="derived from DejaVu (Bitstream Vera), STIX (OFL 1.1), BaKoMa CM, Aileron (CC0) fonts",
        )
    }
