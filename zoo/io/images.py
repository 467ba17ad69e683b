"""Images in: the one image reader of zoo (:func:`read_image`), and the 8-bit quantisation
rules the writers use (:func:`round_to_uint8`, torchvision's; :func:`truncate_to_uint8`, the
official CycleGAN and SRGAN test code's). Grids out: :mod:`zoo.io.grids`.

Reading is the same for every command that takes a picture: the ImageFolders of ``--data``,
``zoo predict IMAGE...``, ``zoo sample --image`` and the unlabelled folders of ``zoo
pretrain``. One policy for all of them:

* the file is decoded whole, so a truncated file fails here, naming it, not mid-epoch;
* size: PIL's ``Image.MAX_IMAGE_PIXELS`` (about 89 million pixels) is a warning, one line
  per file and process; twice that is refused as a decompression bomb (PIL's own rule);
* 16-bit greyscale (PNG ``I;16``, and PIL's 32-bit ``I`` mode, which is how PIL opens 16-bit
  PNGs) is scaled to 8 bits (``value >> 8``), not clipped at 255 as ``Image.convert("L")``
  does; 32-bit float (``F``) images are refused with what to do;
* every other mode PIL decodes (palette, CMYK, alpha...) becomes ``L`` or ``RGB``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

from zoo.errors import ZooError, first_line, warn

__all__ = ["load_rgb", "read_image", "round_to_uint8", "truncate_to_uint8"]

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
