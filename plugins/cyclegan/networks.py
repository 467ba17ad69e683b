"""CycleGAN networks whose official checkpoints load exactly: the ResNet generator and the PatchGAN discriminator.

Paper:
    Jun-Yan Zhu, Taesung Park, Phillip Isola, Alexei A. Efros, "Unpaired Image-to-Image
    Translation using Cycle-Consistent Adversarial Networks", ICCV 2017, arXiv:1703.10593.
    The generator follows Johnson et al. 2016 (arXiv:1603.08155): 9 residual blocks for
    256x256 images, 6 for 128x128; the discriminator is the 70x70 PatchGAN of pix2pix
    (Isola et al. 2017, arXiv:1611.07004).

Reference implementation:
    junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py`` (``ResnetGenerator``,
    ``ResnetBlock``, ``NLayerDiscriminator``, ``get_norm_layer('instance')``,
    ``init_weights``), BSD licence, Copyright (c) 2017 Jun-Yan Zhu and Taesung Park;
    architecture unchanged from 00d5574 (2021) to 2a7afba (2025). Followed for the layer
    order, reflection padding, kernel sizes, strides, ``output_padding=1`` of the transposed
    convs, InstanceNorm without affine parameters or running statistics (hence a bias on
    every conv), LeakyReLU(0.2) and the PatchGAN widths ``ndf * min(2**n, 8)``. This file is
    an independent re-implementation with the same module names, so the released
    ``latest_net_G.pth`` files (horse2zebra, monet2photo, ...) load with ``strict=True``
    (:mod:`zoo.plugins.cyclegan.official`): 48 state-dict entries, 11,378,179 parameters
    for resnet_9blocks.

This module imports torch: the hook module :mod:`zoo.plugins.cyclegan` never imports it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import torch
from torch import nn

__all__ = ["NLayerDiscriminator", "ResnetBlock", "ResnetGenerator", "init_weights"]


def _norm(channels: int) -> nn.InstanceNorm2d:
    # get_norm_layer('instance'): no affine parameters, no running statistics, so no
    # state-dict entries; train and eval mode compute the same function.
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    """pad-conv3x3-IN-ReLU[-Dropout(0.5)]-pad-conv3x3-IN plus the identity (official ``ResnetBlock``, reflect padding).

    Args:
        dim: channels in and out.
        use_dropout: insert ``Dropout(0.5)`` after the first ReLU (off in every released CycleGAN model).

    Shapes: ``(N, dim, H, W)`` float32 -> ``(N, dim, H, W)``.
    """

    def __init__(self, dim: int, use_dropout: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True),
            _norm(dim),
            nn.ReLU(True),
        ]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True), _norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + conv_block(x)``: ``(N, dim, H, W)`` float32 -> same."""
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """The CycleGAN generator: ResNet blocks between two down- and two up-sampling stages.

    Reflect-pad 3 + 7x7 conv, two stride-2 3x3 convs (down), ``n_blocks`` residual blocks
    at ``4 * ngf`` channels, two stride-2 3x3 transposed convs (up, ``output_padding=1``),
    reflect-pad 3 + 7x7 conv, tanh. InstanceNorm (no affine, no running statistics) and
    ReLU after every conv but the last; every conv has a bias.

    Args:
        input_nc: input channels (3).
        output_nc: output channels (3).
        ngf: channels of the first conv (64).
        n_blocks: residual blocks: 9 for 256x256 images (``resnet_9blocks``, the released
            models), 6 for 128x128 (``resnet_6blocks``).
        use_dropout: ``Dropout(0.5)`` inside the blocks (the released models use ``--no_dropout``).

    Shapes:
        ``(N, input_nc, H, W)`` float32 in [-1, 1] (H, W multiples of 4; 256 at test time)
        -> ``(N, output_nc, H, W)`` float32 in [-1, 1] (tanh).

    Source: junyanz/pytorch-CycleGAN-and-pix2pix ``ResnetGenerator`` (see the module docstring).
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9, use_dropout: bool = False) -> None:
        super().__init__()
        self.input_nc, self.output_nc, self.ngf, self.n_blocks, self.use_dropout = input_nc, output_nc, ngf, n_blocks, use_dropout
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=True),
            _norm(ngf),
            nn.ReLU(True),
        ]
        dim = ngf
        for _ in range(2):  # down-sampling
            layers += [nn.Conv2d(dim, dim * 2, kernel_size=3, stride=2, padding=1, bias=True), _norm(dim * 2), nn.ReLU(True)]
            dim *= 2
        layers += [ResnetBlock(dim, use_dropout=use_dropout) for _ in range(n_blocks)]
        for _ in range(2):  # up-sampling
            layers += [
                nn.ConvTranspose2d(dim, dim // 2, kernel_size=3, stride=2, padding=1, output_padding=1, bias=True),
                _norm(dim // 2),
                nn.ReLU(True),
            ]
            dim //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(dim, output_nc, kernel_size=7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def config(self) -> dict[str, Any]:
        """The constructor arguments: ``{"input_nc", "output_nc", "ngf", "n_blocks", "use_dropout"}``."""
        return {
            "input_nc": self.input_nc,
            "output_nc": self.output_nc,
            "ngf": self.ngf,
            "n_blocks": self.n_blocks,
            "use_dropout": self.use_dropout,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate ``x``: ``(N, input_nc, H, W)`` float32 in [-1, 1] -> ``(N, output_nc, H, W)`` in [-1, 1]."""
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """The PatchGAN discriminator (70x70 receptive field with ``n_layers=3``): a real/fake score per patch.

    4x4 conv stride 2 + LeakyReLU(0.2); ``n_layers - 1`` convs stride 2 and one stride 1,
    each with InstanceNorm and LeakyReLU(0.2), widths ``ndf * min(2**n, 8)``; a final 4x4
    conv to 1 channel. No sigmoid: CycleGAN trains it with the least-squares loss.

    Args:
        input_nc: input channels (3).
        ndf: channels of the first conv (64).
        n_layers: stride-2 convs (3: the ``basic`` discriminator).

    Shapes:
        ``(N, input_nc, H, W)`` float32 in [-1, 1] -> ``(N, 1, H', W')`` float32 scores
        (30x30 for 256x256 inputs).

    Source: junyanz/pytorch-CycleGAN-and-pix2pix ``NLayerDiscriminator`` (see the module docstring).
    """

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        self.input_nc, self.ndf, self.n_layers = input_nc, ndf, n_layers
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=stride, padding=1, bias=True),
                _norm(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def config(self) -> dict[str, int]:
        """The constructor arguments: ``{"input_nc", "ndf", "n_layers"}``."""
        return {"input_nc": self.input_nc, "ndf": self.ndf, "n_layers": self.n_layers}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score each patch of ``x``: ``(N, input_nc, H, W)`` float32 -> ``(N, 1, H', W')`` float32 (30x30 at 256x256)."""
        return self.model(x)


_Net = TypeVar("_Net", bound=nn.Module)


def init_weights(net: _Net, gain: float = 0.02) -> _Net:
    """The official ``init_weights(net, init_type='normal', init_gain=0.02)``: every conv and
    transposed conv (and linear) weight ~ N(0, ``gain``), biases 0 (InstanceNorm has no
    parameters here). Draws from torch's global RNG; returns ``net``.

    Source: junyanz/pytorch-CycleGAN-and-pix2pix ``models/networks.py`` ``init_weights``
    (``--init_type normal --init_gain 0.02``, the defaults of ``options/base_options.py``).
    """
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net
