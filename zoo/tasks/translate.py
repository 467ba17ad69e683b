"""Image-to-image sampling: read the input photographs, translate them, write the result.

``zoo sample stargan --attr blond``, ``zoo sample cyclegan --weights horse2zebra.pth
--image x.jpg`` and ``zoo sample srgan --image small.png`` end here
(:func:`zoo.tasks.sampling.sample` dispatches families whose adapter overrides
:meth:`zoo.models.gan.GANAdapter.translate`). The family's adapter owns the official test
preprocessing (:meth:`~zoo.models.gan.GANAdapter.preprocess`) and the translation; this module
owns the files: decoding the inputs with one-line errors, the built-in portrait, and the
output PNG, quantised to 8 bits as the family's official test code does
(:meth:`~zoo.models.gan.GANAdapter.quantise`: CycleGAN and SRGAN truncate, StarGAN rounds).
One translation alone is written at the generator's own resolution, exactly its pixels; a
grid shows each input beside its translations, rows and columns labelled
(:func:`translate_images`).

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


def _input_header(x: Any, y: Any) -> str:
    """The header of the input column: ``"input"``, or ``"bicubic x4"`` when the shown input was
    enlarged 4 times (bicubic) to the output's size, or ``"input (bicubic to WxH)"`` otherwise."""
    (h, w), (oh, ow) = x.shape[-2:], y.shape[-2:]
    if (h, w) == (oh, ow):
        return "input"
    if oh % h == 0 and ow % w == 0 and oh // h == ow // w:
        return f"bicubic x{oh // h}"
    return f"input (bicubic to {ow}x{oh})"


def _translate_all(adapter: GAN, inputs: list[Any], condition: Any, source: Any) -> list[tuple[str, Any]]:
    """``adapter.translations`` of every input: one batch when the inputs share a size, else
    one at a time (then every translation must have one size).

    Raises:
        ZooError: the inputs translate to different sizes.
    """
    import torch

    if len({tuple(x.shape) for x in inputs}) == 1:
        return adapter.translations(torch.stack(inputs), condition, source=source)
    each = [adapter.translations(x[None], condition, source=source) for x in inputs]
    shapes = {tuple(cols[0][1].shape[1:]) for cols in each}
    if len(shapes) > 1:
        raise ZooError(
            f"the {len(inputs)} --image inputs translate to different sizes ({', '.join(str(list(s)) for s in sorted(shapes))}); "
            f"give them one at a time or resize them to one size",
            exit_code=2,
        )
    return [(header, torch.cat([cols[j][1] for cols in each])) for j, (header, _) in enumerate(each[0])]


def translate_images(
    adapter: GAN,
    images: list[str | os.PathLike[str]] | None,
    *,
    out: str | Path,
    condition: Any = None,
    source: Any = None,
    side_by_side: bool | None = None,
    scale: int | None = None,
) -> dict[str, Any]:
    """Translate input images with an image-to-image GAN and write one PNG.

    What is written:

    * **one translation alone** (one input, one target, not side by side): exactly the
      translated pixels, ``adapter.quantise`` of them, at the generator's own resolution
      (``scale`` > 1 enlarges it by nearest neighbour only when asked);
    * **a grid** otherwise: one row per input, labelled with its file name; side by side, the
      input first (column ``"input"``, or ``"bicubic x4"`` when it is enlarged bicubically to
      the output's size, as for SRGAN), then one column per target, headed by
      ``adapter.translations`` (``"Blond_Hair"``, ``"A -> B"``, ``"SRResNet x4"``; StarGAN
      without a condition: every target of the official ``create_labels``, as its ``x_concat``).
      Cells are written at their own size unless ``scale`` asks otherwise or they are 32 px or
      less (:func:`zoo.io.grids.grid_scale`); labels are in bands outside the cells.

    Args:
        adapter: a built :class:`zoo.models.gan.GANAdapter` that overrides ``translate`` (in eval mode).
        images: input image files; ``None`` or empty: the built-in :func:`portrait`.
        out: the PNG file (written atomically; its directory must exist or be creatable).
        condition: the target (``--attr`` text for StarGAN, a direction or domain for
            CycleGAN), passed to ``adapter.translations``.
        source: the inputs' own attributes (``--from``); for the built-in portrait the
            default is :data:`PORTRAIT_ATTRIBUTES`.
        side_by_side: show each input beside its translations; default: on for
            attribute-conditioned families (StarGAN), for several inputs and for several
            targets; off for one input of the other families (the file is then the translation itself).
        scale: integer nearest-neighbour enlargement (1 to 16), or ``None`` (the rule above).

    Returns:
        ``{"inputs": [file names or "portrait"], "out": str, "shape": [N, C, H, W],
        "targets": [column headers]}``: ``shape`` of each target's translations (``[0, 1]``
        float32 before PNG quantisation). The PNG's cells are ``adapter.quantise`` of the
        translations (and of the displayed inputs).

    Raises:
        ZooError: an input as :func:`read_image`, inputs that translate to different sizes
            (give them one at a time), a bad ``scale``, or a bad condition (from ``translate``).
    """
    import torch
    from torch.nn import functional as F

    from zoo.io.grids import grid_scale, save_grid
    from zoo.models.gan import SampleGrid

    if scale is not None:
        grid_scale(scale, 1, 1)  # a bad scale fails before any work
    names = [str(p) for p in images] if images else ["portrait (skimage astronaut)"]
    rows = [Path(p).name for p in images] if images else ["portrait"]
    pil = [read_image(p) for p in images] if images else [portrait()]
    if not images:
        source = _default_source(adapter, source)
    inputs = [adapter.preprocess(img) for img in pil]
    columns = _translate_all(adapter, inputs, condition, source)
    result, targets = columns[0][1], [header for header, _ in columns]
    if side_by_side is None:
        side_by_side = adapter.condition.kind == "attribute" or len(inputs) > 1 or len(columns) > 1
    if side_by_side:
        h, w = result.shape[-2:]
        shown = []
        for x in inputs:
            s = _display(x, adapter)[None].float()
            if tuple(s.shape[-2:]) != (h, w):
                s = F.interpolate(s, size=(h, w), mode="bicubic", align_corners=False)
            if s.shape[1] != result.shape[1]:
                s = s.expand(-1, result.shape[1], -1, -1) if s.shape[1] == 1 else s.mean(1, keepdim=True)
            shown.append(s[0].clamp(0, 1))
        columns = [(_input_header(inputs[0], result), torch.stack(shown)), *columns]
    if len(columns) == 1 and len(inputs) == 1:
        save_grid(result, out, scale=1 if scale is None else scale, quantise=adapter.quantise)
    else:
        grid = SampleGrid.side_by_side(columns, per_row=1, row_labels=rows)
        kwargs = {"row_labels": grid.row_labels, "col_labels": grid.col_labels, "scale": scale}
        save_grid(grid.images, out, nrow=grid.cols, quantise=adapter.quantise, **kwargs)
    return {"inputs": names, "out": str(out), "shape": list(result.shape), "targets": targets}
