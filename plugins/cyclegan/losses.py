"""CycleGAN's adversarial loss and the history of generated images the discriminators are trained on.

* :func:`lsgan_loss`: the least-squares GAN loss (Mao et al. 2017, arXiv:1611.04076), which
  CycleGAN uses in place of the negative log likelihood (Zhu et al. 2017, arXiv:1703.10593,
  section 4); junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py`` ``GANLoss('lsgan')``.
* :class:`ImagePool`: the discriminators see a history of 50 generated images rather than
  only the latest ones (Shrivastava et al. 2017, arXiv:1612.07828; Zhu et al. section 4);
  the official ``util/image_pool.py``.

The cycle and identity terms are plain L1 means, in :class:`zoo.plugins.cyclegan.adapter.CycleGANAdapter`.
Imports torch.
"""

from __future__ import annotations

import random

import torch
from torch.nn import functional as F

__all__ = ["ImagePool", "lsgan_loss"]


def lsgan_loss(prediction: torch.Tensor, target: float) -> torch.Tensor:
    """Least-squares GAN loss: ``mean((prediction - target)^2)`` in float32, ``target`` 1.0
    (real) or 0.0 (fake), for PatchGAN scores of any shape.

    Source: Mao et al. 2017 (arXiv:1611.04076), as CycleGAN uses it (Zhu et al. 2017,
    section 4, "we replace the negative log likelihood objective by a least-squares loss");
    junyanz/pytorch-CycleGAN-and-pix2pix ``networks.GANLoss('lsgan')`` (``nn.MSELoss``
    against a tensor of 1.0 / 0.0 shaped like the prediction). Returns a scalar float32 tensor.
    """
    prediction = prediction.float()
    return F.mse_loss(prediction, torch.full_like(prediction, target))


class ImagePool:
    """History of generated images for the discriminator updates (Shrivastava et al. 2017).

    Exactly ``util/image_pool.py`` ``ImagePool.query`` of the official code: each image of
    the batch is stored while the pool has fewer than ``pool_size`` images and returned as
    it is; once the pool is full, with probability 1/2 a random stored image is returned
    and the new one takes its place, otherwise the new image is returned. Python's
    ``random`` module draws the choices, as in the official code (the trainer seeds it).
    The pool is training state only: it is not saved in checkpoints (nor in the official code).

    Args:
        pool_size: images kept (50 in the paper, section 4); 0 returns every batch unchanged.
    """

    def __init__(self, pool_size: int = 50) -> None:
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` generated images (detached here) -> ``(N, C, H, W)`` float32, each
        row the input or a previously stored image, on ``images``' device."""
        images = images.detach().float()
        if self.pool_size == 0:
            return images
        out = []
        for image in images:
            image = image[None]
            if len(self.images) < self.pool_size:
                self.images.append(image)
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                i = random.randint(0, self.pool_size - 1)
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)
