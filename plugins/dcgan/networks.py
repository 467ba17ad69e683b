"""DCGAN's networks: the transposed-conv generator and strided-conv discriminator (imports torch).

Origin: Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", arXiv:1511.06434. The layer layout and
initialisation follow the reference implementation pytorch/examples ``dcgan/main.py``
(BSD-3-Clause, commit 77f55b912142e11fcfdf5b530231fb9c52f181e8): with the default
configuration the state dicts are key-for-key those of its ``Generator`` and
``Discriminator`` (:mod:`zoo.plugins.dcgan.official` reads its files), generalised over
image size and channels as in the paper's figure 1.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.errors import ZooError

__all__ = ["Discriminator", "Generator", "weights_init"]


def _num_upsamplings(image_size: int) -> int:
    """Stride-2 layers between 4x4 and ``image_size`` (power of two >= 16): 64 -> 4."""
    n = image_size.bit_length() - 3  # log2(image_size) - 2
    if image_size < 16 or image_size & (image_size - 1) or n < 2:
        raise ZooError(f"DCGAN image_size must be a power of two >= 16 (16, 32, 64, 128, ...), got {image_size}", exit_code=2)
    return n


def weights_init(m: nn.Module) -> None:
    """DCGAN initialisation of one module, for ``model.apply(weights_init)``.

    Convolutions (``Conv*``): weight ~ N(0, 0.02). Batch norms: weight ~ N(1, 0.02),
    bias = 0. Other modules are left alone. Draws from torch's global RNG, so
    ``torch.manual_seed`` before building makes the weights reproducible.

    Source: Radford et al. 2016, section 4 ("All weights were initialized from a
    zero-centered Normal distribution with standard deviation 0.02"); the code is
    pytorch/examples ``dcgan/main.py`` ``weights_init``.
    """
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Generator(nn.Module):
    """DCGAN generator: latent noise to an image through transposed convolutions.

    ``main`` is an ``nn.Sequential`` of a 4x4 ``ConvTranspose2d(latent_dim, ngf * 2**(n-1),
    4, 1, 0)`` projection, then ``n - 1`` blocks ``ConvTranspose2d(4, 2, 1) + BatchNorm2d +
    ReLU`` halving the width and doubling the resolution, then ``ConvTranspose2d(ngf,
    channels, 4, 2, 1)`` and ``Tanh``, where ``n = log2(image_size) - 2``. All convolutions
    have ``bias=False``. With the defaults (64x64, 3 channels, latent 100, ngf 64) the
    ``state_dict`` is exactly pytorch/examples' ``Generator`` (25 entries, 3,576,704
    parameters); 32x32 has one block fewer, 128x128 one more.

    Args:
        latent_dim: length of the noise vector ``z`` (pytorch/examples ``nz``).
        ngf: width of the last hidden layer; earlier layers are multiples of it.
        channels: image channels (pytorch/examples ``nc``).
        image_size: output height and width, a power of two >= 16.

    Forward:
        ``z``: ``(N, latent_dim, 1, 1)`` (or ``(N, latent_dim)``) float tensor, usually
        ``N(0, 1)``. Returns ``(N, channels, image_size, image_size)`` of the same dtype,
        in ``[-1, 1]`` (tanh).

    Raises:
        ZooError: ``image_size`` is not a power of two >= 16.

    Source: pytorch/examples ``dcgan/main.py`` ``Generator`` (BSD-3-Clause), generalised
    over image size and channels as in Radford et al. 2016, figure 1.
    """

    def __init__(self, latent_dim: int = 100, ngf: int = 64, channels: int = 3, image_size: int = 64) -> None:
        super().__init__()
        n = _num_upsamplings(image_size)
        self.latent_dim, self.ngf, self.channels, self.image_size = latent_dim, ngf, channels, image_size
        width = ngf * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, width, 4, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.apply(weights_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, latent_dim, 1, 1)`` noise -> ``(N, channels, S, S)`` image in ``[-1, 1]``."""
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.main(z)


class Discriminator(nn.Module):
    """DCGAN discriminator: an image to the probability that it is real.

    ``main`` is an ``nn.Sequential`` of ``Conv2d(channels, ndf, 4, 2, 1) + LeakyReLU(0.2)``,
    ``n - 1`` blocks ``Conv2d(4, 2, 1) + BatchNorm2d + LeakyReLU(0.2)`` doubling the width
    and halving the resolution down to 4x4, then ``Conv2d(ndf * 2**(n-1), 1, 4, 1, 0)`` and
    ``Sigmoid``, where ``n = log2(image_size) - 2``. All convolutions have ``bias=False``.
    With the defaults the ``state_dict`` is exactly pytorch/examples' ``Discriminator``
    (20 entries, 2,765,568 parameters).

    Args:
        ndf: width of the first layer; later layers are multiples of it.
        channels: image channels.
        image_size: input height and width, a power of two >= 16.

    Forward:
        ``x``: ``(N, channels, image_size, image_size)`` float tensor in ``[-1, 1]``.
        Returns ``(N,)`` probabilities in ``(0, 1)`` of the same dtype
        (``output.view(-1, 1).squeeze(1)`` as in pytorch/examples).
        ``forward(x, logits=True)`` returns the scores before the sigmoid instead, for
        numerically stable (and autocast-safe) losses.

    Raises:
        ZooError: ``image_size`` is not a power of two >= 16.

    Source: pytorch/examples ``dcgan/main.py`` ``Discriminator`` (BSD-3-Clause).
    """

    def __init__(self, ndf: int = 64, channels: int = 3, image_size: int = 64) -> None:
        super().__init__()
        n = _num_upsamplings(image_size)
        self.ndf, self.channels, self.image_size = ndf, channels, image_size
        layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        width = ndf
        for _ in range(n - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, inplace=True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)
        self.apply(weights_init)

    def forward(self, x: torch.Tensor, *, logits: bool = False) -> torch.Tensor:
        """``(N, C, S, S)`` images -> ``(N,)`` probabilities of being real (``logits=True``:
        the scores before the final sigmoid)."""
        layers = list(self.main)
        for layer in layers[:-1]:
            x = layer(x)
        if not logits:
            x = layers[-1](x)
        return x.view(-1, 1).squeeze(1)
