"""SRGAN networks whose official checkpoints load exactly: Lornatang's SRResNet and discriminator, leftthomas' generator.

Paper:
    Christian Ledig, Lucas Theis, Ferenc Huszár, Jose Caballero, Andrew Cunningham,
    Alejandro Acosta, Andrew Aitken, Alykhan Tejani, Johannes Totz, Zehan Wang, Wenzhe Shi,
    "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network",
    CVPR 2017, arXiv:1609.04802. Figure 4: the generator (SRResNet: 9x9 conv + PReLU, 16
    residual blocks conv-BN-PReLU-conv-BN, conv-BN and a skip over the trunk, two
    sub-pixel x2 stages, 9x9 conv) and the VGG-style discriminator (8 3x3 convs, 64 to
    512 channels, strides alternating 1 and 2, dense 1024, dense 1).

Reference implementations (their files and how they load: :mod:`zoo.plugins.srgan.official`):
    * Lornatang/SRGAN-PyTorch ``model.py`` at 8842030 (https://github.com/Lornatang/SRGAN-PyTorch),
      Apache License 2.0, Copyright Larry: ``SRResNet`` (``srresnet_x4``: 16 residual blocks,
      BN, PReLU, two PixelShuffle x2 stages, output clamped to [0, 1]), ``DiscriminatorForVGG``
      (96x96 input, ``Linear(512 * 6 * 6, 1024)``) and their weight initialisation.
    * leftthomas/SRGAN ``model.py`` at b0323c6 (https://github.com/leftthomas/SRGAN), MIT
      licence (added 2020), Copyright (c) 2020 Hao Ren: ``Generator(scale_factor)`` with 5
      residual blocks, biased convs and output ``(tanh + 1) / 2``, the architecture of its
      released ``epochs/netG_epoch_{2,4,8}_100.pth`` (commit 4ac3486 later replaced
      ``block7``'s PReLU by a BatchNorm).

This file is an independent re-implementation with the same module names, so those files
load with ``strict=True``: 225 entries / 1,547,350 parameters (``srresnet_x4``), 48 /
23,563,649 (discriminator), 89 / 734,092 (leftthomas x4; 79 entries in the 0.3 file).
Inputs are RGB in [0, 1] (no [-1, 1] scaling); official inference runs in eval mode.

This module imports torch: the hook module :mod:`zoo.plugins.srgan` never imports it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zoo.errors import ZooError

__all__ = ["DiscriminatorForVGG", "LeftthomasGenerator", "SRResNet", "icnr_"]


class _ResidualConvBlock(nn.Module):
    """conv3x3-BN-PReLU-conv3x3-BN (bias-free convs) plus the identity (Lornatang ``_ResidualConvBlock``).

    Shapes: ``(N, channels, H, W)`` float32 -> same.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.rcb = nn.Sequential(
            nn.Conv2d(channels, channels, (3, 3), (1, 1), (1, 1), bias=False),
            nn.BatchNorm2d(channels),
            nn.PReLU(),
            nn.Conv2d(channels, channels, (3, 3), (1, 1), (1, 1), bias=False),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x + rcb(x)``: ``(N, channels, H, W)`` float32 -> same."""
        return x + self.rcb(x)


class _UpsampleBlock(nn.Module):
    """conv3x3 to ``channels * factor**2``, PixelShuffle(factor), PReLU (Lornatang ``_UpsampleBlock``).

    Shapes: ``(N, channels, H, W)`` float32 -> ``(N, channels, factor * H, factor * W)``.
    """

    def __init__(self, channels: int, upscale_factor: int) -> None:
        super().__init__()
        self.upsample_block = nn.Sequential(
            nn.Conv2d(channels, channels * upscale_factor * upscale_factor, (3, 3), (1, 1), (1, 1)),
            nn.PixelShuffle(upscale_factor),
            nn.PReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, channels, H, W)`` float32 -> ``(N, channels, factor * H, factor * W)``."""
        return self.upsample_block(x)


@torch.no_grad()
def icnr_(weight: torch.Tensor, factor: int) -> torch.Tensor:
    """ICNR init, in place, of a convolution feeding ``PixelShuffle(factor)``.

    A Kaiming-normal kernel for ``out / factor**2`` channels, each repeated for the
    ``factor**2`` sub-pixel positions that PixelShuffle takes from consecutive channels, so the
    conv + shuffle starts as that kernel followed by nearest-neighbour upsampling.

    Args:
        weight: ``(C * factor**2, C_in, kh, kw)`` float convolution weight.
        factor: the PixelShuffle upscale factor (>= 1).

    Returns:
        ``weight``, modified.

    Source: Aitken et al. 2017, "Checkerboard artifact free sub-pixel convolution",
    arXiv:1707.02937; fastai ``layers.icnr_init``.
    """
    out, *rest = weight.shape
    base = nn.init.kaiming_normal_(weight.new_empty(out // factor**2, *rest))
    return weight.copy_(base.repeat_interleave(factor**2, dim=0))


class SRResNet(nn.Module):
    """The SRGAN generator, SRResNet (Lornatang's ``srresnet_x4`` and its x2/x8 siblings).

    9x9 conv + PReLU; ``num_rcb`` residual blocks; 3x3 conv + BN, added to the first conv's
    output; log2(``upscale``) sub-pixel x2 stages; 9x9 conv; clamp to [0, 1]. Weights are
    initialised as the official code does (Kaiming normal convs, zero biases, BN weights 1);
    ``zero_init_residual=True`` then zeroes the weight of each residual block's last BN, so
    every block starts as the identity (Goyal et al. 2017, arXiv:1706.02677, section 5.1;
    torchvision ``resnet(zero_init_residual=True)``, timm ``zero_init_last``); ``icnr=True``
    initialises each sub-pixel convolution with ICNR, so each PixelShuffle stage starts as a
    nearest-neighbour upsampling of a Kaiming-initialised convolution, free of checkerboard
    artifacts (Aitken et al. 2017, arXiv:1707.02937; fastai ``PixelShuffle_ICNR``).

    Args:
        in_channels: input channels (3).
        out_channels: output channels (3).
        channels: width of the trunk (64).
        num_rcb: residual blocks (16, as in the paper).
        upscale: 2, 4 or 8.
        zero_init_residual: start each residual block as the identity (off: the official init).
        icnr: ICNR init of the sub-pixel convolutions (off: the official init).

    Shapes:
        ``(N, in_channels, H, W)`` float32 RGB in [0, 1] -> ``(N, out_channels, upscale * H,
        upscale * W)`` float32 in [0, 1] (clamped; the official clamps in place, same values).

    Raises:
        ZooError: ``upscale`` is not 2, 4 or 8 (exit code 2).

    Source: Lornatang/SRGAN-PyTorch ``model.py`` ``SRResNet`` (see the module docstring).
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        channels: int = 64,
        num_rcb: int = 16,
        upscale: int = 4,
        *,
        zero_init_residual: bool = False,
        icnr: bool = False,
    ) -> None:
        super().__init__()
        if upscale not in (2, 4, 8):
            raise ZooError(f"{{param}} must be 2, 4 or 8, got {upscale!r}", param="upscale", exit_code=2)
        self.in_channels, self.out_channels, self.channels, self.num_rcb, self.upscale = (
            in_channels,
            out_channels,
            channels,
            num_rcb,
            upscale,
        )
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, channels, (9, 9), (1, 1), (4, 4)), nn.PReLU())
        self.trunk = nn.Sequential(*[_ResidualConvBlock(channels) for _ in range(num_rcb)])
        self.conv2 = nn.Sequential(nn.Conv2d(channels, channels, (3, 3), (1, 1), (1, 1), bias=False), nn.BatchNorm2d(channels))
        self.upsampling = nn.Sequential(*[_UpsampleBlock(channels, 2) for _ in range(int(math.log2(upscale)))])
        self.conv3 = nn.Conv2d(channels, out_channels, (9, 9), (1, 1), (4, 4))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight)
                if module.bias is not None:
                    nn.init.constant_(module.bias, 0)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
        if zero_init_residual:
            for block in self.trunk:
                nn.init.zeros_(block.rcb[-1].weight)
        if icnr:
            for stage in self.upsampling:
                conv, shuffle = stage.upsample_block[0], stage.upsample_block[1]
                icnr_(conv.weight, shuffle.upscale_factor)

    def config(self) -> dict[str, int]:
        """The constructor arguments: ``{"in_channels", "out_channels", "channels", "num_rcb", "upscale"}``."""
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "channels": self.channels,
            "num_rcb": self.num_rcb,
            "upscale": self.upscale,
        }

    def forward(self, x: torch.Tensor, *, clamp: bool = True) -> torch.Tensor:
        """Upscale ``x``: ``(N, in_channels, H, W)`` float32 in [0, 1] -> ``(N, out_channels, upscale * H, upscale * W)``
        in [0, 1]; ``clamp=False`` returns the last convolution's output before Lornatang's clamp
        (the paper's generator, Figure 4, has no output clamp; zoo's training losses use it, see
        :class:`~zoo.plugins.srgan.adapter.SRGANAdapter`)."""
        first = self.conv1(x)
        x = self.conv2(self.trunk(first)) + first
        out = self.conv3(self.upsampling(x))
        return out.clamp(0.0, 1.0) if clamp else out


class DiscriminatorForVGG(nn.Module):
    """The SRGAN discriminator (Lornatang's ``discriminator_for_vgg``): one real/fake logit per 96x96 image.

    3x3 conv + LeakyReLU(0.2); seven bias-free 3x3 convs + BN + LeakyReLU(0.2) with strides
    2, 1, 2, 1, 2, 1, 2 and widths ``channels`` x 1, 2, 2, 4, 4, 8, 8; flatten;
    ``Linear(8 * channels * (image_size / 16) ** 2, 1024)`` (``512 * 6 * 6`` at the official
    96x96), LeakyReLU(0.2), ``Linear(1024, out_channels)``.

    Args:
        in_channels: input channels (3).
        out_channels: logits per image (1).
        channels: width of the first conv (64).
        image_size: side of the square input, a multiple of 16 (96, the paper's HR patches;
            other sizes only change the first dense layer's input, for smaller patches).

    Shapes:
        ``(N, in_channels, image_size, image_size)`` float32 RGB in [0, 1] -> ``(N, out_channels)`` float32 logits.

    Raises:
        ZooError: ``image_size`` is not a positive multiple of 16 (exit code 2).

    Source: Lornatang/SRGAN-PyTorch ``model.py`` ``DiscriminatorForVGG`` (see the module docstring).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 1, channels: int = 64, image_size: int = 96) -> None:
        super().__init__()
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 16 or image_size % 16:
            raise ZooError(
                f"{{param}} of the SRGAN discriminator must be a positive multiple of 16, got {image_size!r}",
                param="image_size",
                exit_code=2,
            )
        self.in_channels, self.out_channels, self.channels, self.image_size = in_channels, out_channels, channels, image_size
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, (3, 3), (1, 1), (1, 1), bias=True), nn.LeakyReLU(0.2, True)]
        widths = [channels * m for m in (1, 1, 2, 2, 4, 4, 8, 8)]
        for i in range(1, 8):
            stride = 2 if i % 2 == 1 else 1
            layers += [
                nn.Conv2d(widths[i - 1], widths[i], (3, 3), (stride, stride), (1, 1), bias=False),
                nn.BatchNorm2d(widths[i]),
                nn.LeakyReLU(0.2, True),
            ]
        self.features = nn.Sequential(*layers)
        cells = (image_size // 16) ** 2
        self.classifier = nn.Sequential(nn.Linear(8 * channels * cells, 1024), nn.LeakyReLU(0.2, True), nn.Linear(1024, out_channels))

    def config(self) -> dict[str, int]:
        """The constructor arguments: ``{"in_channels", "out_channels", "channels", "image_size"}``."""
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "channels": self.channels,
            "image_size": self.image_size,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score ``x``; see the class docstring for shapes.

        Raises:
            ZooError: ``x`` is not ``image_size`` square (the official code asserts 96x96).
        """
        s = self.image_size
        if x.shape[-2:] != (s, s):
            raise ZooError(
                f"the SRGAN discriminator takes {s}x{s} images, got {x.shape[-2]}x{x.shape[-1]}; crop {s}x{s} patches", exit_code=2
            )
        return self.classifier(torch.flatten(self.features(x), 1))


class _LTResidualBlock(nn.Module):
    """conv3x3-BN-PReLU-conv3x3-BN (biased convs) plus the identity (leftthomas ``ResidualBlock``).

    Shapes: ``(N, channels, H, W)`` float32 -> same.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.prelu = nn.PReLU()
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` plus the block: ``(N, channels, H, W)`` float32 -> same."""
        return x + self.bn2(self.conv2(self.prelu(self.bn1(self.conv1(x)))))


class _LTUpsampleBlock(nn.Module):
    """conv3x3 to ``channels * factor**2``, PixelShuffle(factor), PReLU (leftthomas ``UpsampleBLock``).

    Shapes: ``(N, channels, H, W)`` float32 -> ``(N, channels, factor * H, factor * W)``.
    """

    def __init__(self, in_channels: int, up_scale: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, in_channels * up_scale**2, kernel_size=3, padding=1)
        self.pixel_shuffle = nn.PixelShuffle(up_scale)
        self.prelu = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, channels, H, W)`` float32 -> ``(N, channels, factor * H, factor * W)``."""
        return self.prelu(self.pixel_shuffle(self.conv(x)))


class LeftthomasGenerator(nn.Module):
    """leftthomas/SRGAN's generator at b0323c6, the architecture of its released ``netG_epoch_*_100.pth``.

    ``block1`` 9x9 conv + PReLU; ``block2``..``block6`` residual blocks; ``block7`` 3x3 conv
    + PReLU (no BatchNorm: that came later, in 4ac3486), added to ``block1``'s output;
    ``block8`` log2(``scale_factor``) sub-pixel x2 stages and a 9x9 conv; ``(tanh + 1) / 2``.
    All convs have a bias. Differs from the paper's SRResNet: 5 residual blocks, not 16.

    Args:
        scale_factor: 2, 4 or 8 (the released files: ``netG_epoch_{2,4,8}_100.pth``).

    Shapes:
        ``(N, 3, H, W)`` float32 RGB in [0, 1] -> ``(N, 3, scale_factor * H, scale_factor * W)``
        float32 in [0, 1].

    Raises:
        ZooError: ``scale_factor`` is not 2, 4 or 8 (exit code 2).

    Source: leftthomas/SRGAN ``model.py`` ``Generator`` at b0323c6 (see the module docstring).
    """

    def __init__(self, scale_factor: int = 4) -> None:
        super().__init__()
        if scale_factor not in (2, 4, 8):
            raise ZooError(f"{{param}} must be 2, 4 or 8, got {scale_factor!r}", param="scale_factor", exit_code=2)
        self.scale_factor = scale_factor
        self.block1 = nn.Sequential(nn.Conv2d(3, 64, kernel_size=9, padding=4), nn.PReLU())
        self.block2 = _LTResidualBlock(64)
        self.block3 = _LTResidualBlock(64)
        self.block4 = _LTResidualBlock(64)
        self.block5 = _LTResidualBlock(64)
        self.block6 = _LTResidualBlock(64)
        self.block7 = nn.Sequential(nn.Conv2d(64, 64, kernel_size=3, padding=1), nn.PReLU())
        up: list[nn.Module] = [_LTUpsampleBlock(64, 2) for _ in range(int(math.log2(scale_factor)))]
        self.block8 = nn.Sequential(*up, nn.Conv2d(64, 3, kernel_size=9, padding=4))

    def config(self) -> dict[str, int]:
        """The constructor arguments: ``{"scale_factor"}``."""
        return {"scale_factor": self.scale_factor}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Upscale ``x``: ``(N, 3, H, W)`` float32 in [0, 1] -> ``(N, 3, scale_factor * H, scale_factor * W)`` in [0, 1]."""
        first = self.block1(x)
        x = self.block6(self.block5(self.block4(self.block3(self.block2(first)))))
        return (torch.tanh(self.block8(first + self.block7(x))) + 1) / 2
