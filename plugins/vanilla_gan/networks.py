"""The vanilla GAN's networks: the paper's MNIST generator and maxout discriminator (imports torch).

Origin: Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv:1406.2661. The
networks are the paper's MNIST model as released in goodfeli/adversarial ``mnist.yaml``
(pylearn2, BSD-3-Clause, commit 068bb0375f571f066f58ec208e72e8a9b203650e), with the
reference's ``irange`` initialisation. One difference, forced by zoo's conventions: images
are in ``[-1, 1]``, so the generator's sigmoid output layer becomes ``tanh``, the same
function rescaled (``tanh(a) = 2 * sigmoid(2a) - 1``). The reference initialises that
layer's bias from the data's pixel marginals (``init_sigmoid_bias_from_marginals``); the
build sees no data, so the bias starts at 0 (mid-grey). The discriminator returns logits
(the sigmoid is in the loss).

The cGAN (:mod:`zoo.plugins.cgan.networks`) builds its discriminator from :class:`Maxout`.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["D_IRANGE", "G_IRANGE", "Discriminator", "Generator", "Maxout", "uniform_init_"]

G_IRANGE = 0.05  # mnist.yaml: generator layers ``irange: .05``
D_IRANGE = 0.005  # mnist.yaml: discriminator layers ``irange: .005``


def uniform_init_(module: nn.Module, irange: float) -> None:
    """pylearn2's ``irange`` initialisation of every ``nn.Linear`` in ``module``:
    weights ~ U(-irange, irange), biases 0 (pylearn2 ``mlp.Linear`` / ``maxout.Maxout``
    defaults). Draws from torch's global RNG."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -irange, irange)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class Maxout(nn.Module):
    """A maxout layer (Goodfellow et al. 2013, arXiv:1302.4389): ``units`` outputs, each the
    maximum of ``pieces`` affine pieces.

    ``linear`` is ``nn.Linear(in_features, units * pieces)``; unit ``j`` is the maximum of
    outputs ``j * pieces ... j * pieces + pieces - 1``, the contiguous grouping of pylearn2's
    ``maxout.Maxout`` (``pool_stride == num_pieces``).

    Args:
        in_features: input length.
        units: output length (pylearn2 ``num_units``).
        pieces: affine pieces per unit (pylearn2 ``num_pieces``).

    Forward:
        ``(N, in_features)`` float tensor -> ``(N, units)`` of the same dtype.
    """

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_features)`` -> ``(N, units)``."""
        return self.linear(x).unflatten(-1, (self.units, self.pieces)).amax(-1)


class Generator(nn.Module):
    """Vanilla GAN generator: ``z`` -> 1200 ReLU -> 1200 ReLU -> ``C * S * S`` tanh, reshaped.

    ``main`` is ``nn.Sequential(Linear(latent_dim, 1200), ReLU, Linear(1200, 1200), ReLU,
    Linear(1200, C*S*S), Tanh)``: goodfeli/adversarial ``mnist.yaml`` layers ``h0``, ``h1``
    (``RectifiedLinear``, dim 1200) and ``y`` (``Sigmoid``, here ``tanh``; see the module
    docstring), initialised with ``irange`` 0.05. 2,503,984 parameters at 28x28x1, latent 100.

    Args:
        latent_dim: length of ``z`` (``nvis: 100``).
        channels: image channels.
        image_size: output height and width in pixels.
        hidden: width of the two hidden layers (1200).

    Forward:
        ``z``: ``(N, latent_dim)`` (or ``(N, latent_dim, 1, 1)``) float tensor, ``N(0, 1)``
        (the reference ``Generator``'s default ``noise="gaussian"``). Returns ``(N, channels,
        image_size, image_size)`` of the same dtype, in ``[-1, 1]``.
    """

    def __init__(self, latent_dim: int = 100, channels: int = 1, image_size: int = 28, hidden: int = 1200) -> None:
        super().__init__()
        self.latent_dim, self.channels, self.image_size = latent_dim, channels, image_size
        self.main = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, channels * image_size * image_size),
            nn.Tanh(),
        )
        uniform_init_(self, G_IRANGE)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, latent_dim)`` noise -> ``(N, C, S, S)`` images in ``[-1, 1]``."""
        return self.main(z.flatten(1)).view(-1, self.channels, self.image_size, self.image_size)


class Discriminator(nn.Module):
    """Vanilla GAN discriminator: an image to the logit of its being real.

    ``main`` is ``nn.Sequential(Flatten, Dropout(0.2), Maxout(C*S*S, 240, 5), Dropout(0.5),
    Maxout(240, 240, 5), Dropout(0.5), Linear(240, 1))``: goodfeli/adversarial
    ``mnist.yaml`` layers ``h0``, ``h1`` (``Maxout``, 240 units, 5 pieces) and ``y``
    (``Sigmoid``, dim 1; the sigmoid is in the loss), initialised with ``irange`` 0.005.
    The dropout is the config's ``AdversaryCost2``: input include probability 0.8 for
    ``h0`` (scale 1.25) and 0.5 for the other layers (scale 2), which is ``nn.Dropout(0.2)``
    and ``nn.Dropout(0.5)`` (inverted dropout). 1,231,441 parameters at 28x28x1.

    Args:
        channels: image channels.
        image_size: input height and width in pixels.
        units: maxout units per layer (240).
        pieces: pieces per maxout unit (5).

    Forward:
        ``x``: ``(N, channels, image_size, image_size)`` float tensor in ``[-1, 1]``.
        Returns ``(N,)`` logits of the same dtype.
    """

    def __init__(self, channels: int = 1, image_size: int = 28, units: int = 240, pieces: int = 5) -> None:
        super().__init__()
        self.channels, self.image_size = channels, image_size
        self.main = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.2),
            Maxout(channels * image_size * image_size, units, pieces),
            nn.Dropout(0.5),
            Maxout(units, units, pieces),
            nn.Dropout(0.5),
            nn.Linear(units, 1),
        )
        uniform_init_(self, D_IRANGE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, S, S)`` images -> ``(N,)`` logits."""
        return self.main(x).squeeze(1)
