"""NASNet-A Mobile (4 @ 1056) for PyTorch.

Paper:
    Barret Zoph, Vijay Vasudevan, Jonathon Shlens, Quoc V. Le,
    "Learning Transferable Architectures for Scalable Image Recognition", CVPR 2018,
    arXiv:1707.07012. Table 2 lists "NASNet-A (4 @ 1056)": 5.3M parameters,
    564M mult-adds at 224x224, 74.0% top-1 on ImageNet.

Reference implementation:
    Remi Cadene, ``pretrained-models.pytorch``, ``pretrainedmodels/models/nasnet_mobile.py``
    (https://github.com/Cadene/pretrained-models.pytorch), BSD 3-Clause licence,
    Copyright (c) 2017 Remi Cadene. That port of the TensorFlow-Slim model publishes the
    ImageNet checkpoint ``http://data.lip6.fr/cadene/pretrainedmodels/nasnetamobile-7e03cead.pth``
    (top-1 74.08 / top-5 91.74, 1000 classes, inputs in [-1, 1]: mean = std = 0.5).
    Code style (``forward_features`` / ``forward_head`` / ``reset_classifier``) follows
    ``timm/models/nasnet.py`` (NASNet-A Large, Apache-2.0, Ross Wightman), which is itself
    derived from Cadene's code.

This file is an independent re-implementation. Module and parameter names are the same
as Cadene's (``conv0.conv``, ``cell_stem_0``, ``cell_0`` ... ``cell_15``,
``reduction_cell_0/1``, ``comb_iter_*_left/right``, ``separable_1``, ``bn_sep_1``,
``path_1``, ``path_2``, ``final_path_bn``, ``last_linear`` ...), so Cadene's checkpoint
loads with ``strict=True``: 1318 state-dict entries, 5,289,978 parameters.

Differences from Cadene's code, none of which changes a parameter name or shape:

* Global pooling is ``nn.AdaptiveAvgPool2d(1)`` (Cadene: ``nn.AvgPool2d(7)``), so any input
  size works; at 224x224 the two are identical.
* Cadene pads the stride-2 operations of ``cell_stem_1`` and the reduction cells by
  zero-padding one row/column at the top/left, running a symmetrically padded op and
  cropping the first output row/column. For even feature maps (every map at 224x224)
  this is exactly TensorFlow "SAME" padding (pad 0/1 for 3x3, 1/2 for 5x5, 2/3 for 7x7,
  pads excluded from pooling), which is what this file computes, per input size, with
  timm's layers as timm's ``nasnet.py`` does (``create_conv2d`` / ``create_pool2d`` with
  ``padding='same'``: ``Conv2dSame``, ``MaxPool2dSame``), except for the stride-2 average
  pools: timm's ``AvgPool2dSame`` zero-pads before pooling, so its pads count in the mean
  (``count_include_pad=False`` has no effect there), unlike Cadene's ``AvgPoolPad`` and
  TensorFlow; :class:`AvgPool2dSameExcludePad` keeps Cadene's numbers.
  For odd feature maps Cadene's code fails (its branches disagree in size by one);
  "SAME" padding gives ceil(n / 2) like the factorized-reduction paths, so here every
  input of 32x32 or more works (down to about 8x8 in fact).
* ``cell_stem_0`` and the normal cells use symmetric padding exactly as Cadene does
  (timm's default ``padding=''``, i.e. ``k // 2``; at stride 1 ``'same'`` is the same).
* ``dropout`` defaults to ``p=0.0`` (``drop_rate``); Cadene uses ``nn.Dropout()``
  (p = 0.5, as in the paper's training setup). It has no parameters.
* The final ReLU is applied at the end of ``forward_features`` (as in timm), not in
  the head; ``forward`` computes the same function as Cadene's ``forward``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import create_conv2d, create_pool2d, pad_same

__all__ = [
    "AvgPool2dSameExcludePad",
    "BranchSeparables",
    "CellStem0",
    "CellStem1",
    "FirstCell",
    "NASNetAMobile",
    "NormalCell",
    "ReductionCell",
    "SeparableConv2d",
]

_BN_EPS = 1e-3
_BN_MOMENTUM = 0.1


def _bn(channels: int) -> nn.BatchNorm2d:
    """BatchNorm2d with the TF-ported epsilon (1e-3) used throughout Cadene's NASNet."""
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


def _relu_conv_bn(in_channels: int, out_channels: int) -> nn.Sequential:
    """ReLU -> 1x1 conv (no bias) -> BN, named ``relu`` / ``conv`` / ``bn`` as in Cadene.

    Maps ``(N, in_channels, H, W)`` to ``(N, out_channels, H, W)``, same dtype.
    """
    return nn.Sequential(
        OrderedDict(
            [
                ("relu", nn.ReLU()),
                ("conv", nn.Conv2d(in_channels, out_channels, 1, stride=1, bias=False)),
                ("bn", _bn(out_channels)),
            ]
        )
    )


def _factorized_paths(in_channels: int, out_channels: int) -> tuple[nn.Sequential, nn.Sequential]:
    """The two stride-2 1x1-conv paths of NASNet's factorized reduction.

    ``path_1`` samples the even pixels, ``path_2`` the odd ones (shifted by one pixel with a
    zero column/row appended, via a negative/positive ``ZeroPad2d``), each mapping
    ``(N, in_channels, H, W)`` to ``(N, out_channels, ceil(H/2), ceil(W/2))``.
    Names (``avgpool``, ``pad``, ``conv``) follow Cadene; the ``ZeroPad2d((-1, 1, -1, 1))``
    form of Cadene's pad-then-crop is the one timm uses.
    """
    path_1 = nn.Sequential(
        OrderedDict(
            [
                ("avgpool", nn.AvgPool2d(1, stride=2, count_include_pad=False)),
                ("conv", nn.Conv2d(in_channels, out_channels, 1, stride=1, bias=False)),
            ]
        )
    )
    path_2 = nn.Sequential(
        OrderedDict(
            [
                ("pad", nn.ZeroPad2d((-1, 1, -1, 1))),
                ("avgpool", nn.AvgPool2d(1, stride=2, count_include_pad=False)),
                ("conv", nn.Conv2d(in_channels, out_channels, 1, stride=1, bias=False)),
            ]
        )
    )
    return path_1, path_2


class AvgPool2dSameExcludePad(nn.AvgPool2d):
    """Average pooling with TensorFlow "SAME" padding, padded cells excluded from the mean.

    Input ``(N, C, H, W)`` float, output ``(N, C, ceil(H/stride), ceil(W/stride))``, same
    dtype. Equals Cadene's ``AvgPoolPad`` (``count_include_pad=False``) on even ``H`` and
    ``W``, and TensorFlow's ``avg_pool(padding='SAME')`` on any size.

    Kept instead of timm's ``AvgPool2dSame`` (what ``create_pool2d('avg', ...,
    padding='same')`` returns): timm zero-pads the input with ``pad_same`` and then pools
    without padding, so the pads are averaged in and the border outputs differ from
    Cadene's (on a map of ones timm gives 6/9 along the padded edge and 4/9 at the
    corner instead of 1; checked in ``tests/test_nasnet_mobile.py``).
    The padding amounts are timm's ``pad_same``; the mean divides by the pooled count of
    real cells. Source: Cadene ``AvgPoolPad``; timm ``layers/pool2d_same.py``.
    """

    def __init__(self, kernel_size: int = 3, stride: int = 2):
        super().__init__(kernel_size, stride, padding=0, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = (self.kernel_size,) * 2, (self.stride,) * 2
        summed = F.avg_pool2d(pad_same(x, k, s), k, s)
        ones = x.new_ones((1, 1, *x.shape[-2:]))
        valid = F.avg_pool2d(pad_same(ones, k, s), k, s)
        return summed / valid


def _max_pool(stride: int, pad_type: str) -> nn.Module:
    """3x3 max pool, timm ``create_pool2d``: ``pad_type`` ``''`` (symmetric, 1) or ``'same'``.

    At stride 2 ``'same'`` gives timm's ``MaxPool2dSame`` (pads of ``-inf``, equal to
    Cadene's ``MaxPoolPad`` on even maps); at stride 1 both are ``nn.MaxPool2d(3, 1, 1)``.
    """
    return create_pool2d("max", 3, stride, padding=pad_type)


def _avg_pool(stride: int, pad_type: str) -> nn.Module:
    """3x3 average pool excluding pads: ``pad_type`` ``''`` (symmetric, 1) or ``'same'``.

    Stride 2 with ``'same'`` is :class:`AvgPool2dSameExcludePad` (see there why not
    timm's); otherwise timm ``create_pool2d`` gives ``nn.AvgPool2d(3, stride, 1,
    count_include_pad=False)``, as in Cadene.
    """
    if pad_type == "same" and stride > 1:
        return AvgPool2dSameExcludePad(3, stride)
    return create_pool2d("avg", 3, stride, padding=pad_type, count_include_pad=False)


class SeparableConv2d(nn.Module):
    """Depthwise ``k x k`` conv followed by a pointwise 1x1 conv, both without bias.

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: depthwise kernel size ``k`` (odd).
        stride: depthwise stride.
        padding: timm ``create_conv2d`` padding: ``''`` for symmetric ``k // 2`` zero
            padding, ``'same'`` for TensorFlow "SAME" padding computed from each input's
            size (timm's ``Conv2dSame`` at stride 2, used in ``cell_stem_1`` and the
            reduction cells, where it reproduces Cadene's pad-and-crop; plain symmetric at
            stride 1), or an int.

    Shapes: ``(N, in_channels, H, W)`` float -> ``(N, out_channels, H', W')``, with
    ``H' = ceil(H / stride)`` for ``'same'``. Parameters ``depthwise_conv2d.weight``
    ``(in, 1, k, k)`` and ``pointwise_conv2d.weight`` ``(out, in, 1, 1)``, as in Cadene.
    Source: Cadene ``SeparableConv2d``; timm ``nasnet.py`` ``SeparableConv2d``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: Union[int, str] = ""):
        super().__init__()
        self.depthwise_conv2d = create_conv2d(in_channels, in_channels, kernel_size, stride=stride, padding=padding, groups=in_channels)
        self.pointwise_conv2d = create_conv2d(in_channels, out_channels, 1, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv2d(self.depthwise_conv2d(x))


class BranchSeparables(nn.Module):
    """NASNet's separable-conv branch: (ReLU -> SepConv -> BN) twice.

    The first separable conv carries the stride and ``pad_type`` (``''`` symmetric or
    ``'same'``, see :class:`SeparableConv2d`); the second is stride 1, where both pad
    types are symmetric ``k // 2``. With ``stem_cell=True`` the first conv already maps
    to ``out_channels`` (Cadene's ``BranchSeparablesStem``); otherwise it keeps
    ``in_channels`` (Cadene's ``BranchSeparables`` / ``BranchSeparablesReduction``).

    Shapes: ``(N, in_channels, H, W)`` float -> ``(N, out_channels, H', W')``.
    Source: Cadene ``nasnet_mobile.py``; timm ``nasnet.py`` ``BranchSeparables``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, pad_type: str = "", stem_cell: bool = False):
        super().__init__()
        mid_channels = out_channels if stem_cell else in_channels
        self.relu = nn.ReLU()
        self.separable_1 = SeparableConv2d(in_channels, mid_channels, kernel_size, stride, pad_type)
        self.bn_sep_1 = _bn(mid_channels)
        self.relu1 = nn.ReLU()
        self.separable_2 = SeparableConv2d(mid_channels, out_channels, kernel_size, 1, pad_type)
        self.bn_sep_2 = _bn(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn_sep_1(self.separable_1(self.relu(x)))
        return self.bn_sep_2(self.separable_2(self.relu1(x)))


class _ReductionOps(nn.Module):
    """The NASNet-A reduction-cell combination shared by both stem cells and reduction cells.

    ``comb_iter_*_left`` ops act on the cell's current (1x1-projected) input ``x_cur``,
    ``comb_iter_*_right`` separable branches on the previous-cell input ``x_prev``:

    * c0 = sep5x5/2(x_cur) + sep7x7/2(x_prev)
    * c1 = max3x3/2(x_cur) + sep7x7/2(x_prev)
    * c2 = avg3x3/2(x_cur) + sep5x5/2(x_prev)
    * c3 = avg3x3/1(c0) + c1
    * c4 = sep3x3/1(c0) + max3x3/2(x_cur)
    * out = concat(c1, c2, c3, c4) -> ``4 * channels`` channels at half resolution.

    ``pad_type`` is ``''`` (symmetric, ``cell_stem_0``) or ``'same'`` (``cell_stem_1`` and
    the reduction cells), passed to timm's ``create_conv2d`` / ``create_pool2d``.
    Source: paper Fig. 4 (right); Cadene ``CellStem0`` / ``ReductionCell0`` forward.
    """

    def _build_ops(self, channels: int, right_in_channels: int, pad_type: str, stem_cell: bool = False) -> None:
        rin, pad = right_in_channels, pad_type
        self.comb_iter_0_left = BranchSeparables(channels, channels, 5, 2, pad)
        self.comb_iter_0_right = BranchSeparables(rin, channels, 7, 2, pad, stem_cell)
        self.comb_iter_1_left = _max_pool(2, pad)
        self.comb_iter_1_right = BranchSeparables(rin, channels, 7, 2, pad, stem_cell)
        self.comb_iter_2_left = _avg_pool(2, pad)
        self.comb_iter_2_right = BranchSeparables(rin, channels, 5, 2, pad, stem_cell)
        self.comb_iter_3_right = _avg_pool(1, pad)
        self.comb_iter_4_left = BranchSeparables(channels, channels, 3, 1, pad)
        self.comb_iter_4_right = _max_pool(2, pad)

    def _combine(self, x_cur: torch.Tensor, x_prev: torch.Tensor) -> torch.Tensor:
        c0 = self.comb_iter_0_left(x_cur) + self.comb_iter_0_right(x_prev)
        c1 = self.comb_iter_1_left(x_cur) + self.comb_iter_1_right(x_prev)
        c2 = self.comb_iter_2_left(x_cur) + self.comb_iter_2_right(x_prev)
        c3 = self.comb_iter_3_right(c0) + c1
        c4 = self.comb_iter_4_left(c0) + self.comb_iter_4_right(x_cur)
        return torch.cat([c1, c2, c3, c4], 1)


class _NormalOps(nn.Module):
    """The NASNet-A normal-cell combination shared by ``FirstCell`` and ``NormalCell``.

    With ``x_right`` the 1x1-projected current input and ``x_left`` the (projected or
    factorized-reduced) previous input, both of ``channels`` channels:

    * c0 = sep5x5(x_right) + sep3x3(x_left)
    * c1 = sep5x5(x_left) + sep3x3(x_left)
    * c2 = avg3x3(x_right) + x_left
    * c3 = avg3x3(x_left) + avg3x3(x_left)
    * c4 = sep3x3(x_right) + x_right
    * out = concat(x_left, c0, c1, c2, c3, c4) -> ``6 * channels`` channels, same size.

    Source: paper Fig. 4 (left); Cadene ``NormalCell`` forward.
    """

    def _build_ops(self, channels_left: int, channels_right: int) -> None:
        self.comb_iter_0_left = BranchSeparables(channels_right, channels_right, 5, 1)
        self.comb_iter_0_right = BranchSeparables(channels_left, channels_left, 3, 1)
        self.comb_iter_1_left = BranchSeparables(channels_left, channels_left, 5, 1)
        self.comb_iter_1_right = BranchSeparables(channels_left, channels_left, 3, 1)
        self.comb_iter_2_left = _avg_pool(1, "")
        self.comb_iter_3_left = _avg_pool(1, "")
        self.comb_iter_3_right = _avg_pool(1, "")
        self.comb_iter_4_left = BranchSeparables(channels_right, channels_right, 3, 1)

    def _combine(self, x_left: torch.Tensor, x_right: torch.Tensor) -> torch.Tensor:
        c0 = self.comb_iter_0_left(x_right) + self.comb_iter_0_right(x_left)
        c1 = self.comb_iter_1_left(x_left) + self.comb_iter_1_right(x_left)
        c2 = self.comb_iter_2_left(x_right) + x_left
        c3 = self.comb_iter_3_left(x_left) + self.comb_iter_3_right(x_left)
        c4 = self.comb_iter_4_left(x_right) + x_right
        return torch.cat([x_left, c0, c1, c2, c3, c4], 1)


class CellStem0(_ReductionOps):
    """First stem reduction cell; its "previous" input is the stem conv output itself.

    Input ``(N, stem_filters, H, W)`` float (output of ``conv0``), output
    ``(N, 4 * num_filters, ceil(H/2), ceil(W/2))``. Symmetric padding, as in Cadene.
    Source: Cadene ``CellStem0``.
    """

    def __init__(self, stem_filters: int, num_filters: int):
        super().__init__()
        self.num_filters = num_filters
        self.stem_filters = stem_filters
        self.conv_1x1 = _relu_conv_bn(stem_filters, num_filters)
        # right branches read the raw stem output (stem_filters channels)
        self._build_ops(num_filters, stem_filters, pad_type="", stem_cell=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, stem_filters, H, W)`` -> ``(N, 4 * num_filters, ceil(H/2), ceil(W/2))``."""
        return self._combine(self.conv_1x1(x), x)


class CellStem1(_ReductionOps):
    """Second stem reduction cell, fed by ``conv0`` (via factorized reduction) and ``cell_stem_0``.

    Inputs: ``x_conv0`` ``(N, stem_filters, H, W)`` and ``x_stem_0``
    ``(N, in_channels, ceil(H/2), ceil(W/2))`` where ``in_channels`` is
    ``cell_stem_0``'s output width (``2 * num_filters`` in the standard config).
    Output ``(N, 4 * num_filters, ceil(H/4), ceil(W/4))``. Stride-2 ops use TF "SAME"
    padding (Cadene's pad-and-crop on even sizes). Source: Cadene ``CellStem1``.
    """

    def __init__(self, stem_filters: int, num_filters: int, in_channels: Optional[int] = None):
        super().__init__()
        self.num_filters = num_filters
        self.stem_filters = stem_filters
        in_channels = 2 * num_filters if in_channels is None else in_channels
        self.conv_1x1 = _relu_conv_bn(in_channels, num_filters)
        self.relu = nn.ReLU()
        self.path_1, self.path_2 = _factorized_paths(stem_filters, num_filters // 2)
        self.final_path_bn = _bn(2 * (num_filters // 2))
        self._build_ops(num_filters, num_filters, pad_type="same")

    def forward(self, x_conv0: torch.Tensor, x_stem_0: torch.Tensor) -> torch.Tensor:
        """See the class docstring for shapes."""
        x_left = self.conv_1x1(x_stem_0)
        x_relu = self.relu(x_conv0)
        x_right = self.final_path_bn(torch.cat([self.path_1(x_relu), self.path_2(x_relu)], 1))
        return self._combine(x_left, x_right)


class FirstCell(_NormalOps):
    """Normal cell whose previous input has twice the resolution (follows a reduction).

    Inputs: ``x`` ``(N, in_channels_right, H, W)`` and ``x_prev``
    ``(N, in_channels_left, 2H or 2H-1, 2W or 2W-1)``; ``x_prev`` goes through ReLU and
    the factorized reduction (``path_1`` / ``path_2``, ``out_channels_left`` each) and
    ``final_path_bn``. Output ``(N, 2 * out_channels_left + 5 * out_channels_right, H, W)``.
    Requires ``2 * out_channels_left == out_channels_right``. Source: Cadene ``FirstCell``.
    """

    def __init__(self, in_channels_left: int, out_channels_left: int, in_channels_right: int, out_channels_right: int):
        super().__init__()
        if 2 * out_channels_left != out_channels_right:
            raise ValueError("FirstCell needs 2 * out_channels_left == out_channels_right")
        self.conv_1x1 = _relu_conv_bn(in_channels_right, out_channels_right)
        self.relu = nn.ReLU()
        self.path_1, self.path_2 = _factorized_paths(in_channels_left, out_channels_left)
        self.final_path_bn = _bn(2 * out_channels_left)
        self._build_ops(2 * out_channels_left, out_channels_right)

    def forward(self, x: torch.Tensor, x_prev: torch.Tensor) -> torch.Tensor:
        """See the class docstring for shapes."""
        x_relu = self.relu(x_prev)
        x_left = self.final_path_bn(torch.cat([self.path_1(x_relu), self.path_2(x_relu)], 1))
        x_right = self.conv_1x1(x)
        return self._combine(x_left, x_right)


class NormalCell(_NormalOps):
    """Standard NASNet-A normal cell: both inputs at the same resolution.

    Inputs: ``x`` ``(N, in_channels_right, H, W)``, ``x_prev`` ``(N, in_channels_left, H, W)``.
    Output ``(N, out_channels_left + 5 * out_channels_right, H, W)``.
    Source: Cadene ``NormalCell``.
    """

    def __init__(self, in_channels_left: int, out_channels_left: int, in_channels_right: int, out_channels_right: int):
        super().__init__()
        self.conv_prev_1x1 = _relu_conv_bn(in_channels_left, out_channels_left)
        self.conv_1x1 = _relu_conv_bn(in_channels_right, out_channels_right)
        self._build_ops(out_channels_left, out_channels_right)

    def forward(self, x: torch.Tensor, x_prev: torch.Tensor) -> torch.Tensor:
        """See the class docstring for shapes."""
        return self._combine(self.conv_prev_1x1(x_prev), self.conv_1x1(x))


class ReductionCell(_ReductionOps):
    """NASNet-A reduction cell (Cadene's ``ReductionCell0`` and ``ReductionCell1``).

    Cadene's two classes differ only in how they spell the same asymmetric padding; here
    one class with TF "SAME" padding at stride 2 serves both.
    Inputs: ``x`` ``(N, in_channels_right, H, W)``, ``x_prev`` ``(N, in_channels_left, H, W)``.
    Output ``(N, 4 * out_channels_right, ceil(H/2), ceil(W/2))``.
    Requires ``out_channels_left == out_channels_right``.
    """

    def __init__(self, in_channels_left: int, out_channels_left: int, in_channels_right: int, out_channels_right: int):
        super().__init__()
        if out_channels_left != out_channels_right:
            raise ValueError("ReductionCell needs out_channels_left == out_channels_right")
        self.conv_prev_1x1 = _relu_conv_bn(in_channels_left, out_channels_left)
        self.conv_1x1 = _relu_conv_bn(in_channels_right, out_channels_right)
        self._build_ops(out_channels_right, out_channels_left, pad_type="same")

    def forward(self, x: torch.Tensor, x_prev: torch.Tensor) -> torch.Tensor:
        """See the class docstring for shapes."""
        return self._combine(self.conv_1x1(x), self.conv_prev_1x1(x_prev))


class NASNetAMobile(nn.Module):
    """NASNet-A Mobile (4 @ 1056): 4 normal cells per stage, 1056 penultimate filters.

    Args:
        num_classes: classifier outputs; 0 replaces ``last_linear`` with ``nn.Identity``
            (``forward`` then returns pooled features).
        in_chans: input image channels.
        drop_rate: dropout before ``last_linear`` (Cadene / paper training: 0.5).
        stem_size: filters of the 3x3/2 stem conv ``conv0`` (Cadene ``stem_filters``).
        num_features: penultimate filters, the width of the final cell (Cadene
            ``penultimate_filters``); must be a multiple of 48. ``penultimate_filters`` is
            accepted as an alias. Default 1056.
        channel_multiplier: filter growth per reduction (Cadene ``filters_multiplier``).

    Input ``(N, in_chans, H, W)`` float32 (ImageNet weights expect RGB scaled to [-1, 1]),
    any ``H, W >= 32`` (smaller works down to about 8). Output ``(N, num_classes)`` float32
    logits. ``forward_features`` gives ``(N, num_features, ~H/32, ~W/32)``
    (``7 x 7`` at 224).

    Parameter names and shapes equal Cadene's ``pretrainedmodels.NASNetAMobile``, so its
    ImageNet checkpoint ``nasnetamobile-7e03cead.pth`` loads with ``strict=True``.
    Source: Zoph et al., arXiv:1707.07012 (Table 2: 5.3M params, 564M mult-adds);
    Cadene ``pretrained-models.pytorch`` (BSD-3-Clause).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        stem_size: int = 32,
        num_features: Optional[int] = None,
        channel_multiplier: int = 2,
        penultimate_filters: Optional[int] = None,
    ):
        super().__init__()
        if num_features is None:
            num_features = 1056 if penultimate_filters is None else penultimate_filters
        elif penultimate_filters is not None and penultimate_filters != num_features:
            raise ValueError(f"num_features and penultimate_filters are aliases but differ: {num_features} != {penultimate_filters}")
        if num_features % 48:
            raise ValueError(f"num_features must be a multiple of 48, got {num_features}")
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.stem_size = stem_size
        self.num_features = self.penultimate_filters = num_features
        self.channel_multiplier = channel_multiplier

        f = num_features // 24  # per-branch filters of the first stage (44)
        m = channel_multiplier
        f0, f1 = f // (m * m), f // m  # stem cell filters (11, 22)

        self.conv0 = nn.Sequential(
            OrderedDict(
                [
                    ("conv", nn.Conv2d(in_chans, stem_size, 3, stride=2, padding=0, bias=False)),
                    ("bn", _bn(stem_size)),
                ]
            )
        )
        self.cell_stem_0 = CellStem0(stem_size, f0)
        self.cell_stem_1 = CellStem1(stem_size, f1, in_channels=4 * f0)
        c_prev, c = 4 * f0, 4 * f1  # channels of the two most recent outputs

        def normal_stage(prefix: int, filters: int) -> None:
            nonlocal c_prev, c
            setattr(self, f"cell_{prefix}", FirstCell(c_prev, filters // 2, c, filters))
            c_prev, c = c, 6 * filters
            for i in range(1, 4):
                setattr(self, f"cell_{prefix + i}", NormalCell(c_prev, filters, c, filters))
                c_prev, c = c, 6 * filters

        normal_stage(0, f)
        self.reduction_cell_0 = ReductionCell(c_prev, 2 * f, c, 2 * f)
        c_prev, c = c, 8 * f
        normal_stage(6, 2 * f)
        self.reduction_cell_1 = ReductionCell(c_prev, 4 * f, c, 4 * f)
        c_prev, c = c, 16 * f
        normal_stage(12, 4 * f)
        assert c == num_features

        self.relu = nn.ReLU()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(drop_rate)
        self.last_linear = self._make_classifier(num_classes)

    def _make_classifier(self, num_classes: int) -> nn.Module:
        if num_classes <= 0:
            return nn.Identity()
        ref = self.conv0.conv.weight
        return nn.Linear(self.num_features, num_classes, device=ref.device, dtype=ref.dtype)

    def get_classifier(self) -> nn.Module:
        """The classifier module, ``last_linear`` (``nn.Linear`` or ``nn.Identity``)."""
        return self.last_linear

    def reset_classifier(self, num_classes: int) -> None:
        """Replace ``last_linear`` by a freshly initialised ``Linear(num_features, num_classes)``.

        ``num_classes=0`` installs ``nn.Identity`` (``forward`` returns ``(N, num_features)``).
        The new layer takes the device and dtype of the model's parameters.
        """
        self.num_classes = num_classes
        self.last_linear = self._make_classifier(num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Image ``(N, in_chans, H, W)`` float -> final cell map ``(N, num_features, h, w)``, ReLU'd.

        ``h = w = 7`` at 224x224; cell order and wiring as in Cadene's ``features``.
        """
        x_conv0 = self.conv0(x)
        x_stem_0 = self.cell_stem_0(x_conv0)
        x_stem_1 = self.cell_stem_1(x_conv0, x_stem_0)

        prev, cur = x_stem_0, x_stem_1
        for name in (
            "cell_0",
            "cell_1",
            "cell_2",
            "cell_3",
            "reduction_cell_0",
            "cell_6",
            "cell_7",
            "cell_8",
            "cell_9",
            "reduction_cell_1",
            "cell_12",
            "cell_13",
            "cell_14",
            "cell_15",
        ):
            prev, cur = cur, getattr(self, name)(cur, prev)
        return self.relu(cur)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Features ``(N, num_features, h, w)`` -> logits ``(N, num_classes)``.

        Global average pool, flatten, dropout, ``last_linear``; with ``pre_logits=True``
        returns the pooled ``(N, num_features)`` vector instead.
        """
        x = self.avg_pool(x).flatten(1)
        x = self.dropout(x)
        return x if pre_logits else self.last_linear(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Image ``(N, in_chans, H, W)`` float32 -> logits ``(N, num_classes)`` float32."""
        return self.forward_head(self.forward_features(x))
