"""The cGAN's networks: the MLP generator and maxout discriminator of Mirza & Osindero 2014 (imports torch).

Origin: Mirza & Osindero 2014, "Conditional Generative Adversarial Nets",
arXiv:1411.1784, section 4.1 (MNIST). No code or configuration was released; the
networks follow the paper's text:

* generator: ``z`` (100, uniform in the unit hypercube) -> 200 ReLU units and ``y``
  (one-hot) -> 1000 ReLU units, concatenated and mapped to a combined 1200-unit ReLU
  layer, then the image (the paper's sigmoid output is ``tanh`` here, since zoo's images
  are in ``[-1, 1]``: ``tanh(a) = 2 * sigmoid(2a) - 1``);
* discriminator: ``x`` -> maxout 240 units x 5 pieces and ``y`` -> maxout 50 units x 5
  pieces, joined into a maxout layer of 240 units x 4 pieces, then the logit; dropout 0.5;
  optionally the projection term of Miyato & Koyama 2018.

Choices the paper leaves open: dropout on the discriminator's hidden layers, as the
vanilla GAN's released configuration (goodfeli/adversarial ``mnist.yaml``) has it (the
paper also mentions dropout in the generator; it is not used here), and PyTorch's default
``nn.Linear`` initialisation. The vanilla config's ``irange`` initialisation (0.05
generator, 0.005 discriminator) was measured and rejected: with Adam on the 8x8 digits
(batch 64, lr 2e-4, seed 0) the discriminator won outright (D(G(z)) 0.04 after 3,000
steps) and the generator collapsed to one image whatever the label, while the default
initialisation drew the requested class on 80% of samples (nearest class-mean check) after
the same 3,000 steps. The maxout layer is the vanilla GAN's
(:class:`zoo.plugins.vanilla_gan.networks.Maxout`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from zoo.errors import ZooError
from zoo.plugins.vanilla_gan.networks import Maxout

__all__ = ["Discriminator", "Generator", "one_hot"]


def one_hot(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class labels as float32 one-hot rows.

    Args:
        y: ``(N,)`` integer class indices, or ``(N, num_classes)`` float one-hot rows
            (returned as float32 unchanged).
        num_classes: number of classes.

    Returns:
        ``(N, num_classes)`` float32 on ``y``'s device.

    Raises:
        ZooError: a label outside ``[0, num_classes)`` (checked for CPU labels, which costs
            no device sync; on an accelerator ``F.one_hot`` raises a device-side assert
            instead), or ``y`` of another shape.
    """
    if y.is_floating_point() and y.dim() == 2 and y.shape[1] == num_classes:
        return y.float()
    if y.dim() != 1 or y.is_floating_point():
        raise ZooError(f"class labels must be (N,) integers or (N, {num_classes}) one-hot rows, got shape {tuple(y.shape)} {y.dtype}")
    if y.device.type == "cpu" and y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ZooError(
            f"class labels must be in 0..{num_classes - 1}, got {int(y.min())}..{int(y.max())}; "
            f"build the model with num_classes equal to the data's number of classes"
        )
    return F.one_hot(y.long(), num_classes).float()


class Generator(nn.Module):
    """cGAN generator: ``(z, y)`` -> image (Mirza & Osindero 2014, section 4.1).

    ``z_branch = Sequential(Linear(latent_dim, 200), ReLU)``, ``y_branch =
    Sequential(Linear(num_classes, 1000), ReLU)``, and ``main = Sequential(Linear(1200,
    1200), ReLU, Linear(1200, C*S*S), Tanh)`` on their concatenation. 2,413,984 parameters
    at 28x28x1, latent 100, 10 classes.

    Args:
        latent_dim: length of ``z`` (100).
        num_classes: number of classes.
        channels: image channels.
        image_size: output height and width in pixels.

    Forward:
        ``z``: ``(N, latent_dim)`` float tensor (uniform in ``[0, 1)``); ``y``: ``(N,
        num_classes)`` float one-hot rows or ``(N,)`` integer labels. Returns ``(N,
        channels, image_size, image_size)`` in ``[-1, 1]``, ``z``'s dtype.
    """

    def __init__(self, latent_dim: int = 100, num_classes: int = 10, channels: int = 1, image_size: int = 28) -> None:
        super().__init__()
        self.latent_dim, self.num_classes, self.channels, self.image_size = latent_dim, num_classes, channels, image_size
        self.z_branch = nn.Sequential(nn.Linear(latent_dim, 200), nn.ReLU())
        self.y_branch = nn.Sequential(nn.Linear(num_classes, 1000), nn.ReLU())
        self.main = nn.Sequential(nn.Linear(1200, 1200), nn.ReLU(), nn.Linear(1200, channels * image_size * image_size), nn.Tanh())

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``(N, latent_dim)`` noise and ``(N, K)`` one-hot labels -> ``(N, C, S, S)`` images."""
        y = one_hot(y, self.num_classes).to(z.dtype)
        h = torch.cat([self.z_branch(z.flatten(1)), self.y_branch(y)], dim=1)
        return self.main(h).view(-1, self.channels, self.image_size, self.image_size)


class Discriminator(nn.Module):
    """cGAN discriminator: ``(x, y)`` -> the logit of ``x`` being a real image of class ``y``.

    ``x_branch = Sequential(Flatten, Maxout(C*S*S, 240, 5))``, ``y_branch =
    Maxout(num_classes, 50, 5)``, and ``main = Sequential(Dropout(0.5), Maxout(290, 240, 4),
    Dropout(0.5), Linear(240, 1))`` on their concatenation (Mirza & Osindero 2014, section
    4.1; the sigmoid is in the loss). 1,224,351 parameters at 28x28x1, 10 classes.

    With ``projection`` the logit also gets the projection term of Miyato & Koyama 2018
    ("cGANs with Projection Discriminator", eq. 3): ``<embed(y), h(x)>``, ``h`` the image
    branch's 240 maxout units and ``embed = nn.Embedding(num_classes, 240)`` initialised
    N(0, 0.02) (2,400 more parameters at 10 classes).

    Args:
        num_classes: number of classes.
        channels: image channels.
        image_size: input height and width in pixels.
        projection: add the projection term.

    Forward:
        ``x``: ``(N, channels, image_size, image_size)`` float in ``[-1, 1]``; ``y``: ``(N,
        num_classes)`` float one-hot rows or ``(N,)`` integer labels. Returns ``(N,)``
        logits, ``x``'s dtype.
    """

    def __init__(self, num_classes: int = 10, channels: int = 1, image_size: int = 28, projection: bool = False) -> None:
        super().__init__()
        self.num_classes, self.channels, self.image_size = num_classes, channels, image_size
        self.x_branch = nn.Sequential(nn.Flatten(), Maxout(channels * image_size * image_size, 240, 5))
        self.y_branch = Maxout(num_classes, 50, 5)
        self.main = nn.Sequential(nn.Dropout(0.5), Maxout(290, 240, 4), nn.Dropout(0.5), nn.Linear(240, 1))
        self.embed: nn.Embedding | None = None
        if projection:
            self.embed = nn.Embedding(num_classes, 240)
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``(N, C, S, S)`` images and ``(N, K)`` one-hot labels -> ``(N,)`` logits."""
        y = one_hot(y, self.num_classes).to(x.dtype)
        h = self.x_branch(x)
        logit = self.main(torch.cat([h, self.y_branch(y)], dim=1)).squeeze(1)
        if self.embed is not None:
            logit = logit + ((y @ self.embed.weight.to(h.dtype)) * h).sum(1)
        return logit
