"""The cGAN's own loss: the mode-seeking regulariser of Mao et al. 2019 (imports torch).

The adversarial losses are zoo's shared ones (:func:`zoo.models.gan_steps.adversarial_steps`).
"""

from __future__ import annotations

import torch

__all__ = ["mode_seeking_loss"]


def mode_seeking_loss(z: torch.Tensor, fake: torch.Tensor, z2: torch.Tensor, fake2: torch.Tensor) -> torch.Tensor:
    """Mode-seeking regulariser ``1 / (mean|G(z1, y) - G(z2, y)| / mean|z1 - z2| + 1e-5)``.

    Mao et al. 2019, "Mode Seeking Generative Adversarial Networks for Diverse Image
    Synthesis", arXiv:1903.05628, eq. 3 (official HelenMao/MSGAN, ``DRIT/model.py``
    ``lz = mean|fake1 - fake2| / mean|z1 - z2|``, ``loss_lz = 1 / (lz + 1e-5)``): minimising
    it pushes two images of the same class apart when their noise differs.

    Args:
        z, z2: ``(N, latent_dim)`` two draws of noise.
        fake, fake2: ``(N, C, S, S)`` ``G(z, y)`` and ``G(z2, y)`` with the same labels ``y``
            (with their graphs).

    Returns:
        A float32 scalar (>= 0): the ratios of each pair (image distance over noise
        distance, each a mean over its elements) averaged over the batch, inverted.
    """
    lz = (fake - fake2).abs().flatten(1).mean(1).float() / (z - z2).abs().mean(1).float()
    return 1.0 / (lz.mean() + 1e-5)
