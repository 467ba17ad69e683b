"""SRGAN networks whose official checkpoints load exactly: Lornatang's SRResNet and discriminator, leftthomas' generator.

Paper:
    Christian Ledig, Lucas Theis, Ferenc Huszár, Jose Caballero, Andrew Cunningham,
    Alejandro Acosta, Andrew Aitken, Alykhan Tejani, Johannes Totz, Zehan Wang, Wenzhe Shi,
    "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network",
    CVPR 2017, arXiv:1609.04802. Figure 4: the generator (SRResNet: 9x9 conv + PReLU, 16
    residual blocks conv-BN-PReLU-conv-BN, conv-BN and a skip over the trunk, two
    sub-pixel x2 stages, 9x9 conv) and the VGG-style discriminator (8 3x3 convs, 64 to
    512 channels, strides alternating 1 and 2, dense 1024, dense 1).

Reference implementations:
    * Lornatang/SRGAN-PyTorch ``model.py`` at 8842030 (https://github.com/Lornatang/SRGAN-PyTorch),
      Apache License 2.0, Copyright Larry: ``SRResNet`` (``srresnet_x4``: 16 residual blocks,
      BN, PReLU, two PixelShuffle x2 stages, output clamped to [0, 1]), ``DiscriminatorForVGG``
      (96x96 input, ``Linear(512 * 6 * 6, 1024)``), their weight initialisation, and
      ``train_gan.py`` / ``utils.py`` for the file format: a dict ``{'epoch', 'psnr', 'ssim',
      'state_dict', 'ema_state_dict', 'optimizer'}`` whose generator keys may carry
      ``_orig_mod.`` (torch.compile) and whose ``ema_state_dict`` is a
      ``torch.optim.swa_utils.AveragedModel`` (``module.`` keys plus ``n_averaged``). The
      official loader keeps only keys whose name and shape match, silently; ours is strict.
      Released: ``SRGAN_x4-ImageNet.pth.tar``, ``SRResNet_x4-ImageNet.pth.tar``,
      ``DiscriminatorForVGG_x4-ImageNet.pth.tar`` and the x2/x8 variants
      (https://huggingface.co/ChangyuLiu/SRGAN-PyTorch).
    * leftthomas/SRGAN ``model.py`` at b0323c6 (https://github.com/leftthomas/SRGAN), MIT
      licence (added 2020), Copyright (c) 2020 Hao Ren: ``Generator(scale_factor)`` with 5
      residual blocks, biased convs and output ``(tanh + 1) / 2``. Its released
      ``epochs/netG_epoch_{2,4,8}_100.pth`` (PyTorch 0.3, no ``num_batches_tracked``) exist
      only in git history; they fit this commit's architecture, not the current one (commit
      4ac3486 replaced ``block7``'s PReLU by a BatchNorm).

This file is an independent re-implementation with the same module names, so those files
load with ``strict=True``: 225 entries / 1,547,350 parameters (``srresnet_x4``), 48 /
23,563,649 (discriminator), 89 / 734,092 (leftthomas x4; 79 entries in the 0.3 file).
Inputs are RGB in [0, 1] (no [-1, 1] scaling); official inference runs in eval mode.

This module imports torch: plugin hook modules must import it lazily, inside functions.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo.errors import ZooError
from zoo.io.images import truncate_to_uint8
from zoo.io.official import check_choice, count_indexed, identify_official, load_strict, official_kind, read_official
from zoo.models.adapters import Step
from zoo.models.conditions import ConditionSpec
from zoo.models.gan import GANAdapter, StepContext, eval_mode
from zoo.models.gan_steps import adversarial_steps
from zoo.models.optim import OptimizerConfig
from zoo.registry.spec import ModelSpec

__all__ = [
    "CONTENT_LAYERS",
    "VGG_RESCALE",
    "DiscriminatorForVGG",
    "LeftthomasGenerator",
    "SRGANAdapter",
    "SRResNet",
    "VGGFeatures",
    "bicubic_resize",
    "generator_options",
    "icnr_",
    "load_content_network",
    "load_official_srgan",
    "read_generator",
]


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
        :class:`SRGANAdapter`)."""
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


def _infer(flavour: str, part: str, state: Mapping[str, torch.Tensor]) -> dict[str, int]:
    """The constructor arguments read from the shapes, or ``{}`` (defaults) when the keys are not there."""
    if flavour == "leftthomas":
        n_up = count_indexed(state, "block8.{}.conv.weight")
        return {"scale_factor": 2**n_up} if 1 <= n_up <= 3 else {}
    if part == "D":
        first, dense, last = state.get("features.0.weight"), state.get("classifier.0.weight"), state.get("classifier.2.weight")
        if first is None or dense is None or last is None or first.dim() != 4 or dense.dim() != 2 or last.dim() != 2:
            return {}
        config = {"in_channels": first.shape[1], "out_channels": last.shape[0], "channels": first.shape[0]}
        cells = dense.shape[1] // (8 * first.shape[0]) if first.shape[0] else 0
        side = math.isqrt(cells)
        if side >= 1 and side * side * 8 * first.shape[0] == dense.shape[1]:
            config["image_size"] = 16 * side  # 96 for the released files (512 * 6 * 6 inputs)
        return config
    first, last = state.get("conv1.0.weight"), state.get("conv3.weight")
    n_up = count_indexed(state, "upsampling.{}.upsample_block.0.weight")
    if first is None or last is None or first.dim() != 4 or last.dim() != 4 or not 1 <= n_up <= 3:
        return {}
    return {
        "in_channels": first.shape[1],
        "out_channels": last.shape[0],
        "channels": first.shape[0],
        "num_rcb": count_indexed(state, "trunk.{}.rcb.0.weight"),
        "upscale": 2**n_up,
    }


def load_official_srgan(
    path_or_state: str | os.PathLike[str] | Mapping[str, Any],
    part: str = "G",
    flavour: str = "lornatang",
    *,
    ema: bool = False,
) -> SRResNet | DiscriminatorForVGG | LeftthomasGenerator:
    """Load an official SRGAN checkpoint: Lornatang's ``*.pth.tar`` or leftthomas' ``netG_epoch_*_100.pth``.

    Lornatang files are training dicts: the weights are their ``state_dict`` entry (or
    ``ema_state_dict`` with ``ema=True``); ``_orig_mod.`` and ``module.`` prefixes are
    stripped, as is ``AveragedModel``'s ``n_averaged``. A bare state dict is accepted too.
    The configuration is read from the shapes (channels, residual blocks, upscale factor),
    then the load is ``strict=True``, never the official loader's silent skipping.

    Args:
        path_or_state: the file (pickles read with ``torch.load(weights_only=True)``), a
            ``.safetensors`` file, or an already-loaded dict.
        part: ``"G"`` (generator) or ``"D"`` (discriminator; Lornatang only).
        flavour: ``"lornatang"`` (Lornatang/SRGAN-PyTorch: :class:`SRResNet`,
            :class:`DiscriminatorForVGG`) or ``"leftthomas"`` (leftthomas/SRGAN at b0323c6:
            :class:`LeftthomasGenerator`).
        ema: load the generator's exponential moving average (``ema_state_dict``) instead
            of its weights (Lornatang generator files only).

    Returns:
        The network on the CPU, float32, in eval mode (the official inference mode).

    Raises:
        ZooError: a bad ``part``/``flavour``/``ema`` combination; the file is missing,
            unreadable or pickles other objects than tensors; it has no EMA weights when
            ``ema=True``; it holds another part or family (one line naming a few keys and
            what the file looks like), or shapes that do not fit (exit code 2).
    """
    check_choice(part, ("G", "D"), "part")
    check_choice(flavour, ("lornatang", "leftthomas"), "flavour")
    if flavour == "leftthomas" and part == "D":
        raise ZooError("leftthomas/SRGAN released generators only (netG_epoch_*_100.pth): {param} must be 'G'", param="part", exit_code=2)
    if ema and (flavour, part) != ("lornatang", "G"):
        raise ZooError(
            "{param}=True needs a Lornatang generator file (part='G', flavour='lornatang'): only they carry ema_state_dict",
            param="ema",
            exit_code=2,
        )
    container = "ema_state_dict" if ema else "state_dict"
    state, source = read_official(path_or_state, container=container, required=ema, drop=("n_averaged",) if ema else ())
    expected = official_kind(f"srgan.{part}" if flavour == "lornatang" else "srgan-leftthomas.G")
    if flavour == "leftthomas" and "block7.1.running_mean" in state:
        raise ZooError(
            f"{source} comes from leftthomas/SRGAN code after commit 4ac3486 (block7 has a BatchNorm); "
            "only the b0323c6 architecture of the released netG_epoch_*_100.pth files is supported",
            exit_code=2,
        )
    config = _infer(flavour, part, state)
    model: SRResNet | DiscriminatorForVGG | LeftthomasGenerator
    if flavour == "leftthomas":
        model = LeftthomasGenerator(**config)
    else:
        model = SRResNet(**config) if part == "G" else DiscriminatorForVGG(**config)
    load_strict(model, state, expected=expected, source=source)
    return model


# -- training and inference: the zoo adapter ------------------------------------------------------

#: VGG19 content layers: how many modules of torchvision's ``vgg19().features`` to keep. The
#: paper's phi_{i,j} is the j-th convolution's activation before the i-th max-pool (section
#: 2.2.1): relu2_2 is ``features[8]`` (SRGAN-VGG22), relu5_4 ``features[35]`` (SRGAN-VGG54;
#: Lornatang's ``FEATURE_NODES: ["features.35"]``).
CONTENT_LAYERS = {"vgg22": 9, "vgg54": 36}
#: The paper rescales the VGG feature maps by 1/12.75 "to obtain VGG losses of a scale that is
#: comparable to the MSE loss" (section 3.2; a factor of about 0.006 on the loss).
VGG_RESCALE = 12.75


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


class VGGFeatures(nn.Module):
    """The frozen feature network of SRGAN's content loss: VGG19 ``features`` up to ``layer``.

    The modules are torchvision's ``vgg19().features`` (``torchvision.models.vgg.make_layers``
    on configuration ``"E"``), i.e. the ``features`` of zoo's ``vgg19`` backbone, cut after
    relu2_2 (``vgg22``) or relu5_4 (``vgg54``); the 120M-parameter classifier is never built.
    Inputs are normalised with the ``vgg19`` spec's ImageNet mean and std, as Lornatang's
    ``ContentLoss`` does (``FEATURE_NORMALIZE_MEAN/STD``); one-channel images are repeated to RGB.

    Args:
        layer: ``"vgg22"`` or ``"vgg54"`` (:data:`CONTENT_LAYERS`).
        mean, std: per-channel normalisation of ``[0, 1]`` RGB (ImageNet's).

    Shapes:
        ``(N, 1 or 3, H, W)`` float in ``[0, 1]`` -> ``(N, 128, H/2, W/2)`` (vgg22) or
        ``(N, 512, H/16, W/16)`` (vgg54) float32 activations (after the ReLU).

    Source: Ledig et al. 2017, section 2.2.1; Lornatang/SRGAN-PyTorch ``model.py`` ``ContentLoss``.
    """

    def __init__(self, layer: str, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        self.layer = layer
        self.features = make_layers(cfgs["E"], batch_norm=False)[: CONTENT_LAYERS[layer]]
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` in ``[0, 1]`` -> the content layer's activations (see the class docstring)."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.features((x - self.mean) / self.std)


def _missing_content_weights(model: str, layer: str) -> ZooError:
    return ZooError(
        f"{model}'s {layer} content loss needs ImageNet VGG19 weights for its feature network and none were given: "
        "build it with {param}='imagenet' (zoo's published vgg19 weights, cached or downloaded) or {param}=FILE "
        "(torchvision's vgg19-dcbb9e9d.pth, a .safetensors or a zoo vgg19 checkpoint), "
        "or opt in to the pixel-MSE content loss with content_loss='pixel'",
        param="content_weights",
        exit_code=2,
    )


def load_content_network(layer: str, weights: str, *, model: str = "srgan") -> VGGFeatures:
    """Build the content loss's :class:`VGGFeatures` and load the user's VGG19 weights into it.

    Only the convolutions up to ``layer`` are read from the file (``features.N.weight`` /
    ``features.N.bias``, torchvision's layout); deeper layers and the classifier are ignored,
    so a file holding just those tensors is enough. Every tensor that is read must be there
    with its shape: nothing is left at random init.

    Args:
        layer: ``"vgg22"`` or ``"vgg54"``.
        weights: ``"imagenet"`` (zoo's published ``vgg19`` weights through
            :func:`zoo.io.pretrained.fetch_pretrained`: the cache, else a download) or a file or
            zoo checkpoint directory (read by :func:`zoo.io.checkpoint.read_checkpoint`:
            safetensors, or pickles with ``torch.load(weights_only=True)`` only).
        model: the model's name, for messages.

    Returns:
        The network, float32 on the CPU, in eval mode with ``requires_grad=False``.

    Raises:
        ZooError: ``imagenet`` cannot be had (offline and not cached...); the file is
            unreadable, is a zoo checkpoint of another model, or lacks a tensor or has one of
            another shape (one line each; ``{param}`` is ``content_weights``).
    """
    from zoo.io.checkpoint import read_checkpoint
    from zoo.registry import get_spec

    spec = get_spec("vgg19")
    net = VGGFeatures(layer, spec.mean, spec.std)
    path: Any = weights
    if weights == "imagenet":
        from zoo.io.pretrained import fetch_pretrained

        try:
            path = fetch_pretrained(spec, "imagenet")
        except ZooError as exc:
            raise ZooError(
                f"{model}'s {layer} content loss: cannot get the vgg19 'imagenet' weights ({exc}); "
                "pass {param}=FILE (torchvision's vgg19-dcbb9e9d.pth) or use content_loss='pixel'",
                param="content_weights",
                exit_code=exc.exit_code,
            ) from exc
    state, meta = read_checkpoint(path)
    owner = meta.get("model")
    if owner not in (None, "vgg19"):
        raise ZooError(
            f"{{param}} {path} is a checkpoint of {owner}, not of vgg19; give VGG19 weights", param="content_weights", exit_code=2
        )
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    if missing:
        have = ", ".join(list(state)[:3]) + (", ..." if len(state) > 3 else "")
        raise ZooError(
            f"{{param}} {path} lacks {len(missing)} VGG19 tensors of the {layer} feature network ({', '.join(missing[:2])}, ...); "
            f"it holds {have}: give torchvision's vgg19 weights (features.N.weight / features.N.bias)",
            param="content_weights",
            exit_code=2,
        )
    wrong = [f"{k} {tuple(state[k].shape)} (VGG19: {tuple(v.shape)})" for k, v in own.items() if state[k].shape != v.shape]
    if wrong:
        raise ZooError(
            f"{{param}} {path} is not VGG19: {', '.join(wrong[:2])}; give torchvision's vgg19 weights", param="content_weights", exit_code=2
        )
    net.load_state_dict({k: state[k] for k in own}, strict=True)
    return net.requires_grad_(False).eval()


_GENERATOR_FILES = "SRResNet_x4-ImageNet.pth.tar, SRGAN_x4-ImageNet.pth.tar, netG_epoch_4_100.pth or a zoo train srresnet/srgan checkpoint"


def read_generator(path: str | os.PathLike[str], model: str) -> SRResNet | LeftthomasGenerator:
    """The generator of an official SRGAN file or of a zoo checkpoint, loaded strictly.

    Accepted: Lornatang's ``SRResNet_x*-ImageNet.pth.tar`` / ``SRGAN_x*-ImageNet.pth.tar``
    (their ``state_dict``), leftthomas' ``netG_epoch_*_100.pth``, their ``.safetensors``
    conversions, and ``zoo train srresnet`` / ``zoo train srgan`` checkpoints (a run
    directory or its ``model.safetensors``: the ``generator.*`` tensors). The flavour
    (Lornatang or leftthomas) and the configuration are read from the keys and shapes
    (:func:`load_official_srgan`).

    Args:
        path: the file or checkpoint directory.
        model: the model's name, for messages.

    Returns:
        :class:`SRResNet` or :class:`LeftthomasGenerator`, on the CPU, in eval mode.

    Raises:
        ZooError: unreadable file; a zoo checkpoint of another model; Lornatang's
            discriminator file (one line naming what it is and what is needed); a file of
            another family or shape (see :func:`load_official_srgan`); ``{param}`` is
            ``official_weights``, exit code 2.
    """
    from zoo.io.checkpoint import read_checkpoint

    p = Path(path).expanduser()
    source: Any = p
    if p.is_dir():
        state, meta = read_checkpoint(p)
    else:
        state, _ = read_official(p)
        meta = read_checkpoint(p)[1] if any(k.startswith("generator.") for k in state) else {}
    owner = meta.get("model")
    if owner not in (None, "srresnet", "srgan"):
        raise ZooError(
            f"{{param}} {p} is a zoo checkpoint of {owner}; {model} starts from a generator: {_GENERATOR_FILES}",
            param="official_weights",
            exit_code=2,
        )
    if any(k.startswith("generator.") for k in state):  # a zoo checkpoint: its generator's tensors
        state = {k.removeprefix("generator."): v for k, v in state.items() if k.startswith("generator.")}
        source = state
    kind = identify_official(state)
    if kind is not None and kind.key == "srgan.D":
        raise ZooError(
            f"{{param}} {p} holds the {kind.name}; {model} needs a generator file: {_GENERATOR_FILES}",
            param="official_weights",
            exit_code=2,
        )
    flavour = "leftthomas" if kind is not None and kind.key == "srgan-leftthomas.G" else "lornatang"
    net = load_official_srgan(source, part="G", flavour=flavour)
    assert isinstance(net, (SRResNet, LeftthomasGenerator))
    return net


def generator_options(net: nn.Module) -> dict[str, Any]:
    """The build options of a generator: ``{"channels", "ngf", "n_blocks", "upscale", "flavour"}``.

    Raises:
        ZooError: an :class:`SRResNet` whose input and output channels differ (exit code 2).
    """
    if isinstance(net, LeftthomasGenerator):
        return {"channels": 3, "ngf": 64, "n_blocks": 5, "upscale": net.scale_factor, "flavour": "leftthomas"}
    assert isinstance(net, SRResNet)
    if net.in_channels != net.out_channels:
        raise ZooError(
            f"this SRResNet maps {net.in_channels} to {net.out_channels} channels; zoo's SRGAN models keep the image's channels",
            exit_code=2,
        )
    return {"channels": net.in_channels, "ngf": net.channels, "n_blocks": net.num_rcb, "upscale": net.upscale, "flavour": "lornatang"}


_LEFTTHOMAS = {"channels": 3, "ngf": 64, "n_blocks": 5}


class SRGANAdapter(GANAdapter):
    """SRResNet (``srresnet``: pixel MSE) and SRGAN (``srgan``: perceptual loss): 4x super-resolution.

    Networks (``adapter.model``): ``generator`` (:class:`SRResNet`, or leftthomas'
    :class:`LeftthomasGenerator`), plus for ``srgan`` the ``discriminator``
    (:class:`DiscriminatorForVGG` at ``image_size``). Frozen (not trained, not saved):
    ``content``, the :class:`VGGFeatures` of the content loss, when it has weights.

    Data: batches of high-resolution patches ``(N, channels, image_size, image_size)``
    float32 in ``[0, 1]`` (:meth:`transforms`: random crops of an ImageFolder's photographs,
    as the paper's "16 random 96x96 HR sub images"); each step makes the low-resolution
    input itself with :func:`bicubic_resize` (``image_size / upscale``, antialiased, as the
    paper's "bicubic kernel with downsampling factor r"). Images are ``[0, 1]`` throughout,
    as in Lornatang's code (its SRResNet clamps its output to ``[0, 1]``); the paper scaled
    HR images to ``[-1, 1]`` (section 3.2).

    Losses (Ledig et al. 2017, arXiv:1609.04802):

    * ``srresnet``: pixel MSE (equation 4); Adam lr 1e-4, beta1 0.9 (section 3.2; Lornatang's
      ``configs/train/SRResNet_x4-ImageNet.yaml``: Adam 1e-4, betas (0.9, 0.999)).
    * ``srgan``, one discriminator step then one generator step per batch (k = 1, section 3.2):
      discriminator ``BCE(D(HR), 1) + BCE(D(SR), 0)`` (equation 2); generator
      ``content + adversarial_weight * BCE(D(SR), 1) + pixel_weight * MSE``: the perceptual
      loss of equation 3 with the adversarial term ``-log D(G(LR))`` (equation 6) weighted
      1e-3. Content (``content_loss``): ``vgg54`` / ``vgg22``, MSE between
      :class:`VGGFeatures` of SR and HR divided by 12.75 (equation 5 with the paper's
      rescaling, :data:`VGG_RESCALE`); ``pixel`` (SRGAN-MSE, Table 1), MSE on the ``[-1, 1]``
      scale the paper used (4 x the ``[0, 1]`` MSE), so the 1e-3 adversarial weight keeps
      the paper's balance. Lornatang's ``configs/train/SRGAN_x4-ImageNet.yaml`` adds pixel MSE
      (weight 1) to an unscaled VGG54 loss, whose ``ContentLoss.forward`` returns
      ``torch.Tensor([losses])``, a copy without gradient: its SRGAN generator is in effect
      trained on pixel MSE + 1e-3 adversarial. The paper then lowers the rate to 1e-5 for a
      second 10^5 iterations; here the rate is constant (pass ``--lr``).

    Starting SRGAN from SRResNet (the paper's initialisation, "to avoid undesired local
    optima"): ``build("srgan", official_weights="runs/srresnet")`` (a ``zoo train srresnet``
    run) or ``official_weights="SRResNet_x4-ImageNet.pth.tar"``: the generator is loaded,
    the discriminator starts from random init.

    Inference (:meth:`preprocess`, :meth:`translate`): the official test input is the
    whole RGB image in ``[0, 1]``, no resizing (Lornatang ``inference.py``); the output is
    ``upscale`` times larger, in ``[0, 1]``.

    Args:
        spec: the model's spec (``arch`` ``"srresnet"`` or ``"srgan"``).
        image_size: HR patch side in pixels (multiple of ``upscale``; of 16 for ``srgan``).
        channels, ngf, n_blocks, upscale, flavour: the generator (``None``: the file's with
            ``official_weights``, else 3, 64, 16, 4, ``"lornatang"``; leftthomas' is fixed
            at 3 channels, width 64, 5 blocks).
        ndf: discriminator width (64).
        official_weights: a generator file or zoo checkpoint (:func:`read_generator`).
        content_loss, content_weights, adversarial_weight, pixel_weight: see above and
            :func:`load_content_network`.
        zero_init_residual, icnr: a new (Lornatang-layout) generator starts each residual
            block as the identity and each sub-pixel stage as ICNR (:class:`SRResNet`; default
            on; ``False``: the official init). Ignored when weights are loaded.

    Raises:
        ZooError: options that disagree with ``official_weights`` or with leftthomas' fixed
            generator; an unreadable or wrong ``official_weights`` / ``content_weights``
            file; ``image_size`` not a multiple of ``upscale`` (exit code 2).
    """

    default_lr = 1e-4
    betas = (0.9, 0.999)
    #: the range of :meth:`preprocess` output (``zoo.tasks.translate`` shows inputs with it)
    input_range = (0.0, 1.0)

    def __init__(
        self,
        spec: ModelSpec,
        *,
        image_size: int = 96,
        channels: int | None = None,
        ngf: int | None = None,
        ndf: int = 64,
        n_blocks: int | None = None,
        upscale: int | None = None,
        flavour: str | None = None,
        official_weights: str | os.PathLike[str] | None = None,
        content_loss: str = "vgg54",
        content_weights: str | None = None,
        adversarial_weight: float = 1e-3,
        pixel_weight: float = 0.0,
        zero_init_residual: bool = True,
        icnr: bool = True,
    ) -> None:
        given = {"channels": channels, "ngf": ngf, "n_blocks": n_blocks, "upscale": upscale, "flavour": flavour}
        generator: SRResNet | LeftthomasGenerator
        if official_weights is not None:
            generator = read_generator(official_weights, spec.name)
            found = generator_options(generator)
            where = f"the generator in {os.fspath(official_weights)}"
        elif flavour == "leftthomas":
            found = {**_LEFTTHOMAS, "upscale": upscale or spec.config.get("upscale", 4), "flavour": "leftthomas"}
            where = "leftthomas' generator (3 channels, ngf 64, 5 blocks)"
            generator = LeftthomasGenerator(scale_factor=found["upscale"])
        else:
            found = {
                "channels": channels or spec.input_size[0],
                "ngf": ngf or spec.config.get("ngf", 64),
                "n_blocks": n_blocks or spec.config.get("n_blocks", 16),
                "upscale": upscale or spec.config.get("upscale", 4),
                "flavour": "lornatang",
            }
            where = "the generator"  # built from these very options: never disagrees
            generator = SRResNet(
                found["channels"],
                found["channels"],
                found["ngf"],
                found["n_blocks"],
                found["upscale"],
                zero_init_residual=zero_init_residual,
                icnr=icnr,
            )
        for key, value in given.items():
            if value is not None and value != found[key]:
                raise ZooError(
                    f"{spec.name} {{param}}={value!r} disagrees with {where} ({key}={found[key]!r}); leave it out or give {found[key]!r}",
                    param=key,
                    exit_code=2,
                )
        generator.train()
        if image_size % found["upscale"]:
            raise ZooError(
                f"{spec.name} {{param}} {image_size} is not a multiple of upscale {found['upscale']}; the LR input is image_size / upscale",
                param="image_size",
                exit_code=2,
            )
        self.mode = "gan" if spec.arch == "srgan" else "mse"
        self.flavour, self.ngf, self.n_blocks, self.upscale = found["flavour"], found["ngf"], found["n_blocks"], found["upscale"]
        self.ndf = ndf
        self.content_loss, self.adversarial_weight, self.pixel_weight = content_loss, float(adversarial_weight), float(pixel_weight)
        networks: dict[str, nn.Module] = {"generator": generator}
        frozen: dict[str, nn.Module] = {}
        if self.mode == "gan" and content_loss == "pixel" and content_weights is not None:
            raise ZooError(
                "{param} are unused by content_loss='pixel'; leave them out or pick vgg22 / vgg54", param="content_weights", exit_code=2
            )
        if self.mode == "gan":
            networks["discriminator"] = DiscriminatorForVGG(found["channels"], 1, ndf, image_size=image_size)
            if content_loss != "pixel" and content_weights is not None:
                frozen["content"] = load_content_network(content_loss, content_weights, model=spec.name)
        super().__init__(
            spec, networks, frozen=frozen, image_size=image_size, channels=found["channels"], condition=ConditionSpec(kind="image")
        )

    # -- data ------------------------------------------------------------------------
    def transforms(self, *, img_size: int | None = None, train: bool = False, resize_only: bool = False) -> Any:
        """``torchvision.transforms.v2`` pipeline to an HR patch ``(channels, S, S)`` float32 in ``[0, 1]``.

        ``train``: a random ``S x S`` crop (reflection-padded when the photograph is
        smaller), as the paper's random 96x96 HR sub-images; otherwise a centre crop.
        ``resize_only`` (built-in small data such as ``digits``): resized to ``S x S``
        instead. RGB is converted to grey for one channel and grey to RGB for three. No
        normalisation: SRGAN works in ``[0, 1]``.
        """
        from torchvision.transforms import v2

        size = img_size or self.image_size
        ops: list[Any] = [v2.ToImage(), v2.Grayscale(1) if self.channels == 1 else v2.RGB()]
        if resize_only:
            ops.append(v2.Resize((size, size), antialias=True))
        elif train:
            ops.append(v2.RandomCrop(size, pad_if_needed=True, padding_mode="reflect"))
        else:
            ops.append(v2.CenterCrop(size))
        ops.append(v2.ToDtype(torch.float32, scale=True))
        return v2.Compose(ops)

    def downscale(self, images: torch.Tensor) -> torch.Tensor:
        """HR ``(N, C, H, W)`` in ``[0, 1]`` -> the LR input ``(N, C, H / upscale, W / upscale)``
        float32 by :func:`bicubic_resize` (antialiased bicubic, as MATLAB's ``imresize``)."""
        h, w = images.shape[-2:]
        return bicubic_resize(images, (h // self.upscale, w // self.upscale))

    # -- training ----------------------------------------------------------------------
    def _content_network(self) -> VGGFeatures | None:
        """The frozen feature network (``None`` for the pixel content loss).

        Raises:
            ZooError: a VGG content loss without weights (one line saying how to give them).
        """
        if self.mode != "gan" or self.content_loss == "pixel":
            return None
        net = self.frozen.get("content")
        if net is None:
            raise _missing_content_weights(self.spec.name, self.content_loss)
        assert isinstance(net, VGGFeatures)
        return net

    def configure_optimizers(self, lr: float | None = None) -> dict[str, OptimizerConfig]:
        """One Adam per network (lr 1e-4, betas (0.9, 0.999), constant; see the class docstring).

        Raises:
            ZooError: ``srgan`` with a VGG content loss and no ``content_weights``: training
                would need random VGG features, which are never used silently.
        """
        self._content_network()
        return super().configure_optimizers(lr)

    def content(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """The content loss of ``srgan`` (scalar float32): VGG feature MSE / 12.75**2, or 4 x pixel MSE.

        Args:
            sr: ``(N, C, H, W)`` generator output in ``[0, 1]`` (with its graph).
            hr: ``(N, C, H, W)`` target in ``[0, 1]``.

        Raises:
            ZooError: a VGG content loss without weights.
        """
        net = self._content_network()
        if net is None:  # SRGAN-MSE: MSE on the paper's [-1, 1] scale
            return 4.0 * F.mse_loss(sr.float(), hr.float())
        with torch.no_grad():
            target = net(hr).float()
        return F.mse_loss(net(sr).float() / VGG_RESCALE, target / VGG_RESCALE)

    def training_step(self, batch: Any, ctx: StepContext) -> Iterator[Step]:
        """One iteration on a batch of HR patches (see the class docstring for the losses).

        ``srresnet`` yields ``Step("generator", mse, {"mse", "psnr"})`` (PSNR in dB on the
        ``[0, 1]`` RGB patches, no border crop). ``srgan`` yields ``Step("discriminator",
        ..., {"d_loss", "d_real", "d_fake"})`` (:func:`zoo.models.gan_steps.adversarial_steps`), then,
        when ``ctx.update_generator``, ``Step("generator", loss, {"g_loss", "content_loss",
        "adversarial_loss", "mse"})`` against the discriminator just stepped, with the
        discriminator's parameters out of the graph.

        Raises:
            ZooError: the batch is not ``(N, channels, image_size, image_size)`` float
                images; a VGG content loss without weights.
        """
        hr = self.check_images(batch).float()
        content_net = self._content_network()  # fails before any step when weights are missing
        lr = self.downscale(hr)
        # the loss sees SRResNet's output before Lornatang's clamp: the clamp zeroes the gradient of
        # every pixel out of [0, 1] (about 3/4 of them at the official initialisation), and the
        # paper's generator has none (inference still clamps)
        bare = getattr(self.generator, "module", self.generator)  # DistributedDataParallel under torchrun
        sr = self.generator(lr, clamp=False) if isinstance(bare, SRResNet) else self.generator(lr)
        mse = F.mse_loss(sr.float(), hr)
        if self.mode == "mse":
            yield Step("generator", mse, {"mse": mse.detach(), "psnr": -10.0 * torch.log10(mse.detach().clamp_min(1e-10))})
            return
        del content_net
        steps = adversarial_steps(self.discriminator, hr, sr, ctx)
        yield next(steps)
        adversarial = next(steps, None)
        if adversarial is None:  # the trainer skips the generator this iteration
            return
        content = self.content(sr, hr)
        loss = content + self.adversarial_weight * adversarial.loss + self.pixel_weight * mse
        logs = {
            "g_loss": loss.detach(),
            "content_loss": content.detach(),
            "adversarial_loss": adversarial.loss.detach(),
            "mse": mse.detach(),
        }
        yield Step("generator", loss, logs)

    # -- inference ---------------------------------------------------------------------
    def preprocess(self, image: Any) -> torch.Tensor:
        """The official test input of one image: the whole image, RGB (grey for one channel), ``[0, 1]``.

        Lornatang's ``inference.py`` reads the image with OpenCV, converts BGR to RGB and
        divides by 255, without resizing; PIL's ``convert`` handles palette, alpha (dropped)
        and grey images first.

        Args:
            image: a PIL image (any mode PIL can convert to RGB/L) or a ``(C, H, W)`` uint8 tensor.

        Returns:
            ``(channels, H, W)`` float32 in ``[0, 1]``.
        """
        from PIL import Image
        from torchvision.transforms import v2

        if isinstance(image, Image.Image):
            image = image.convert("L" if self.channels == 1 else "RGB")
        ops = [v2.ToImage(), v2.Grayscale(1) if self.channels == 1 else v2.RGB(), v2.ToDtype(torch.float32, scale=True)]
        return v2.Compose(ops)(image)

    @torch.no_grad()
    def translate(self, images: torch.Tensor, condition: Any = None, *, source: Any = None) -> torch.Tensor:
        """Super-resolve preprocessed images with the generator in eval mode (BatchNorm running statistics).

        Args:
            images: ``(N, channels, H, W)`` float in ``[0, 1]`` (:meth:`preprocess`), any device.
            condition: must be ``None`` (SRGAN is not conditioned on anything else).
            source: ignored (it is StarGAN's).

        Returns:
            ``(N, channels, upscale * H, upscale * W)`` float32 CPU tensor in ``[0, 1]``.

        Raises:
            ZooError: a condition was given; ``images`` is not a 4-D float tensor with
                ``channels`` channels (exit code 2).
        """
        if condition is not None:
            raise ZooError(f"{self.spec.name} upscales the input image {self.upscale}x and takes no --attr or --label", exit_code=2)
        ok = isinstance(images, torch.Tensor) and images.dim() == 4 and images.is_floating_point() and images.shape[1] == self.channels
        if not ok:
            got = f"shape {tuple(images.shape)} {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
            raise ZooError(f"{self.spec.name} translates float images (N, {self.channels}, H, W) in [0, 1], got {got}", exit_code=2)
        param = next(self.generator.parameters())
        with eval_mode(self.generator):
            out = self.generator(images.to(param.device, param.dtype))
        return out.float().clamp(0.0, 1.0).cpu()

    def quantise(self, images: torch.Tensor) -> torch.Tensor:
        """SRGAN's 8-bit images: truncation, the convention of both official inference scripts.

        One convention for the family (``srresnet`` and ``srgan``, either generator flavour,
        official or trained by zoo), :func:`zoo.models.gan.truncate_to_uint8`:

        * Lornatang/SRGAN-PyTorch at 8842030: ``inference.py`` line 41 ``tensor_to_image(sr_tensor,
          False, args.half)``, ``imgproc.py`` line 182 ``tensor.squeeze(0).permute(1, 2,
          0).mul(255).clamp(0, 255).cpu().numpy().astype("uint8")`` (the ``SRResNet`` output
          is already clamped to ``[0, 1]``, ``model.py`` line 167), written with ``cv2.imwrite``;
        * leftthomas/SRGAN at b0323c6 (unchanged at 7ddfdf2): ``test_image.py`` line 39
          ``ToPILImage()(out[0].data.cpu())``; torchvision's ``to_pil_image`` quantises a
          float image with ``(npimg * 255).astype(np.uint8)`` (0.29.1; ``pic.mul(255).byte()``
          in the torchvision of 2018), a truncation too.

        :meth:`translate` returns the generator's ``[0, 1]`` output unchanged, so ``255 x``
        in float32 is the official value.

        Args:
            images: float images in ``[0, 1]`` (:meth:`translate`, :meth:`sample`), any shape.

        Returns:
            ``uint8`` CPU tensor of the same shape.
        """
        return truncate_to_uint8(images)

    def generator_inputs(
        self, n: int, *, generator: torch.Generator | None = None, device: Any = "cpu", condition: Any = None
    ) -> tuple[torch.Tensor, ...]:
        """``(lr,)``: ``n`` uniform random LR inputs ``(n, channels, S / upscale, S / upscale)``
        float32 in ``[0, 1]`` (``S = image_size``), drawn on the CPU from ``generator``, on ``device`` (``zoo bench``)."""
        side = self.image_size // self.upscale
        return (torch.rand(n, self.channels, side, side, generator=generator).to(device),)

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, condition: Any = None) -> torch.Tensor:
        """Super-resolutions of ``n`` seeded patches of a built-in photograph (``zoo train``'s per-epoch grids).

        The photograph is scikit-image's ``astronaut`` (NASA, public domain), preprocessed as
        :meth:`preprocess` does; ``n`` ``image_size`` crops are placed with a local
        ``torch.Generator`` seeded with ``seed`` (the global RNG is untouched), bicubically
        downscaled by ``upscale`` and super-resolved. To upscale your own images use
        :meth:`translate` (``zoo sample srgan --image small.png``).

        Args:
            n: number of patches, >= 1.
            seed: seed of the crop positions.
            condition: must be ``None``.

        Returns:
            ``(n, channels, image_size, image_size)`` float32 CPU tensor in ``[0, 1]``.

        Raises:
            ZooError: ``n < 1`` or a condition was given (exit code 2).
        """
        from PIL import Image
        from skimage import data

        n = self.check_n(n)
        if condition is not None:
            raise ZooError(f"{self.spec.name} upscales images and takes no condition; sample it without one", exit_code=2)
        photo = self.preprocess(Image.fromarray(data.astronaut()))
        size = self.image_size
        if min(photo.shape[-2:]) < size:  # patches larger than the 512x512 photograph
            photo = bicubic_resize(photo[None], (size, size))[0]
        g = torch.Generator().manual_seed(int(seed))
        ys = torch.randint(0, photo.shape[-2] - size + 1, (n,), generator=g).tolist()
        xs = torch.randint(0, photo.shape[-1] - size + 1, (n,), generator=g).tolist()
        hr = torch.stack([photo[:, y : y + size, x : x + size] for y, x in zip(ys, xs, strict=True)])
        return self.translate(self.downscale(hr))

    def config(self) -> dict[str, Any]:
        """Build options that rebuild these networks without ``official_weights`` (the
        checkpoint sidecar's ``config``): ``image_size``, ``channels``, ``ngf``, ``n_blocks``,
        ``upscale``, ``flavour``, and for ``srgan`` ``ndf``, ``content_loss``,
        ``adversarial_weight``, ``pixel_weight``. ``content_weights`` is left out: the
        feature network is not part of the model."""
        out: dict[str, Any] = {
            "image_size": self.image_size,
            "channels": self.channels,
            "ngf": self.ngf,
            "n_blocks": self.n_blocks,
            "upscale": self.upscale,
            "flavour": self.flavour,
        }
        if self.mode == "gan":
            out.update(
                ndf=self.ndf, content_loss=self.content_loss, adversarial_weight=self.adversarial_weight, pixel_weight=self.pixel_weight
            )
        return out
