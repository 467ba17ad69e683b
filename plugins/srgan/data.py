"""SRGAN's data: the low-resolution input made from a high-resolution patch by bicubic downscaling.

Ledig et al. 2017, arXiv:1609.04802, section 3.2: "obtained the LR images by downsampling
the HR images (BGR, C = 3) using bicubic kernel with downsampling factor r = 4". The SR
data sets' LR images are MATLAB ``imresize(hr, 1/4)``; Lornatang/SRGAN-PyTorch
``imgproc.image_resize`` is a port of it. The same resize is the bicubic baseline that
``benchmarks/sr.py`` measures SRResNet against. Imports torch.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["bicubic_resize"]


def bicubic_resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize with antialiasing, clamped to ``[0, 1]``: the SR literature's degradation and baseline.

    ``F.interpolate(mode="bicubic", antialias=True)`` uses the Keys kernel with a = -0.5 and,
    when shrinking, widens it by the scale factor, as PIL's ``BICUBIC`` and MATLAB's
    ``imresize`` do (the SR data sets' LR images are MATLAB ``imresize(hr, 1/4)``; Lornatang's
    ``imgproc.image_resize`` is a port of it). Without ``antialias`` torch would use a = -0.75
    and no widening, which aliases when shrinking.

    Args:
        images: ``(N, C, H, W)`` float in ``[0, 1]``.
        size: the output ``(height, width)`` in pixels.

    Returns:
        ``(N, C, *size)`` float32 in ``[0, 1]``.
    """
    out = F.interpolate(images.float(), size=size, mode="bicubic", align_corners=False, antialias=True)
    return out.clamp_(0.0, 1.0)
