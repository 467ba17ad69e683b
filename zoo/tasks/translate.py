"""Image-to-image sampling: read the input photographs, translate them, write the result.

``zoo sample stargan --attr blond``, ``zoo sample cyclegan --weights horse2zebra.pth
--image x.jpg`` and ``zoo sample srgan --image small.png`` end here
(:func:`zoo.tasks.sampling.sample` dispatches families whose adapter overrides
:meth:`zoo.models.gan.GANAdapter.translate`). The family's adapter owns the official test
preprocessing (:meth:`~zoo.models.gan.GANAdapter.preprocess`) and the translation; this module
owns the files: decoding the inputs with one-line errors, the built-in portrait, and the
output PNG, quantised to 8 bits as the family's official test code does
(:meth:`~zoo.models.gan.GANAdapter.quantise`: CycleGAN and SRGAN truncate, StarGAN rounds).

The built-in portrait (used when no ``--image`` is given) is scikit-image's
``astronaut`` photograph (Eileen Collins, NASA, public domain), cut to the frame of a
CelebA aligned face (178 x 218, eyes about 40 % from the top) so StarGAN's official
preprocessing (centre crop 178, resize 128) sees a face as in its training data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.io.images import read_image

if TYPE_CHECKING:
    from zoo.models.protocols import GAN

__all__ = ["PORTRAIT_ATTRIBUTES", "portrait", "translate_images"]

#: ``astronaut`` pixels (left, top, right, bottom) holding a CelebA-like aligned face
#: (eye centre at about (222, 112), eye distance 45 px; CelebA: 40 px in 178 x 218).
PORTRAIT_BOX = (122, 0, 322, 245)
#: The portrait's own CelebA attributes (our labelling: light-brown hair, a woman in her
#: thirties), the default ``--from`` of attribute models that know these names.
PORTRAIT_ATTRIBUTES = {"Brown_Hair": 1, "Male": 0, "Young": 1}


def portrait() -> Any:
    """The built-in input photograph: ``skimage.data.astronaut()`` cut to ``PORTRAIT_BOX``
    and resized to 178 x 218 (width x height, CelebA's aligned size) with bicubic filtering.

    Returns:
        A PIL ``RGB`` image of 178 x 218 pixels.
    """
    from PIL import Image
    from skimage import data

    return Image.fromarray(data.astronaut()).crop(PORTRAIT_BOX).resize((178, 218), Image.Resampling.BICUBIC)


def _display(x: Any, adapter: GAN) -> Any:
    """A preprocessed input ``(C, H, W)`` back to ``[0, 1]`` for display (``input_range`` of the adapter)."""
    lo, hi = getattr(adapter, "input_range", (-1.0, 1.0))
    return ((x - lo) / (hi - lo)).clamp(0, 1)


def _default_source(adapter: GAN, source: Any) -> Any:
    """``source`` unchanged, or for the built-in portrait the :data:`PORTRAIT_ATTRIBUTES`
    that the adapter's attribute names know (as ``Name=0/1`` text)."""
    if source is not None or adapter.condition.kind != "attribute":
        return source
    known = [f"{k}={v}" for k, v in PORTRAIT_ATTRIBUTES.items() if k in adapter.condition.names]
    return ",".join(known) or None


def translate_images(
    adapter: GAN,
    images: list[str | os.PathLike[str]] | None,
    *,
    out: str | Path,
    condition: Any = None,
    source: Any = None,
    side_by_side: bool | None = None,
) -> dict[str, Any]:
    """Translate input images with an image-to-image GAN and write one PNG.

    Args:
        adapter: a built :class:`zoo.models.gan.GANAdapter` that overrides ``translate`` (in eval mode).
        images: input image files; ``None`` or empty: the built-in :func:`portrait`.
        out: the PNG file (written atomically; its directory must exist or be creatable).
        condition: the target (``--attr`` text for StarGAN), passed to ``translate``.
        source: the inputs' own attributes (``--from``); for the built-in portrait the
            default is :data:`PORTRAIT_ATTRIBUTES`.
        side_by_side: write each input beside its translation (rows: input | output,
            the input enlarged bicubically to the output's size); default: on for
            attribute-conditioned families (StarGAN), off for the others, whose file is
            then exactly the translated pixels (one input) or a grid of them.

    Returns:
        ``{"inputs": [file names or "portrait"], "out": str, "shape": [N, C, H, W]}`` of the
        translations (``[0, 1]`` float32 before PNG quantisation). The PNG's pixels are
        ``adapter.quantise`` of the translations (and of the displayed inputs).

    Raises:
        ZooError: an input as :func:`read_image`, inputs that translate to different
            sizes (give them one at a time), or a bad condition (from ``translate``).
    """
    import torch
    from torch.nn import functional as F

    from zoo.io.images import save_grid

    names = [str(p) for p in images] if images else ["portrait (skimage astronaut)"]
    pil = [read_image(p) for p in images] if images else [portrait()]
    if not images:
        source = _default_source(adapter, source)
    if side_by_side is None:
        side_by_side = adapter.condition.kind == "attribute"
    inputs, outputs = [], []
    for img in pil:
        x = adapter.preprocess(img)
        y = adapter.translate(x[None], condition, source=source)
        inputs.append(x)
        outputs.append(y[0])
    shapes = {tuple(y.shape) for y in outputs}
    if len(shapes) > 1:
        raise ZooError(
            f"the {len(outputs)} --image inputs translate to different sizes ({', '.join(str(list(s)) for s in sorted(shapes))}); "
            f"give them one at a time or resize them to one size",
            exit_code=2,
        )
    result = torch.stack(outputs)
    if side_by_side:
        h, w = result.shape[-2:]
        cells = []
        for x, y in zip(inputs, outputs, strict=True):
            shown = F.interpolate(_display(x, adapter)[None].float(), size=(h, w), mode="bicubic", align_corners=False)[0]
            if shown.shape[0] != y.shape[0]:
                shown = shown.expand(y.shape[0], -1, -1) if shown.shape[0] == 1 else shown.mean(0, keepdim=True)
            cells += [shown.clamp(0, 1), y]
        save_grid(torch.stack(cells), out, nrow=2, min_cell=1, quantise=adapter.quantise)
    else:
        save_grid(result, out, nrow=max(1, int(len(outputs) ** 0.5 + 0.999)), min_cell=1, quantise=adapter.quantise)
    return {"inputs": names, "out": str(out), "shape": list(result.shape)}
