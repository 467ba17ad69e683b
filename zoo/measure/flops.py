"""Cost of a network: GFLOPs of one forward, parameter count, fp32 size in MB.

Units: GFLOPs are ``1e9`` floating-point operations with one multiply-add = 2 FLOPs
(GMACs = GFLOPs / 2); MB are ``2**20`` bytes.

Sources: FLOPs from ``torch.utils.flop_counter.FlopCounterMode``; size as torchvision's
``_file_size`` weights metadata (MB of the fp32 state dict).

Imports torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["MB", "count_flops", "count_params", "size_mb"]

#: Bytes in one MB (``2**20``), the unit of every memory and size figure.
MB = 2**20


def count_flops(model: nn.Module | Callable[..., Any], inputs: Any) -> float:
    """GFLOPs of one forward pass: ``1e9`` floating-point operations, a multiply-add = 2.

    Counted with ``torch.utils.flop_counter.FlopCounterMode(display=False)`` under
    ``torch.no_grad()``, which counts matrix products (``mm``, ``addmm``, ``bmm``,
    ``baddbmm``), convolutions (incl. transposed) and scaled-dot-product attention;
    element-wise ops, normalisation and pooling are not counted (the same ops fvcore and
    ptflops count). Beware the factor when comparing: fvcore, ptflops and torchvision's
    ``_ops`` metadata ("GFLOPS" 1.81 for ResNet18, 4.09 for ResNet50) count one
    multiply-add as one, i.e. they report GMACs (``count_flops(...) / 2``; ResNet18 gives
    3.63 GFLOPs here). The count is for the whole batch of ``inputs``: divide by the batch
    size for a per-image figure.

    Args:
        model: a module or any callable.
        inputs: a tensor or a tuple of tensors (positional arguments), e.g.
            ``(1, 3, 224, 224)`` float32.

    Returns:
        GFLOPs as a float.
    """
    from torch.utils.flop_counter import FlopCounterMode

    args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*args)
    return counter.get_total_flops() / 1e9


def count_params(model: nn.Module) -> int:
    """Number of parameters: ``sum(p.numel() for p in model.parameters())`` (shared ones once; buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


def size_mb(model: nn.Module) -> float:
    """MB of the weights stored as fp32: 4 bytes x (parameters + buffers) / ``2**20``.

    This is torchvision's ``_file_size`` convention (size of the fp32 state dict in MB of
    ``2**20`` bytes), independent of the dtype the model currently has; shared tensors
    count once.
    """
    n = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    return n * 4 / MB
