"""Depth of a network: weight layers (convolutions, fully-connected) on the longest input-to-output path.

Works on any ``nn.Module`` (the ``meta`` device included), found from the autograd graph
of one forward pass, so it needs no ``torch.fx`` trace.

Source: the "depth" column of MATLAB's pretrained-network table
(https://www.mathworks.com/help/deeplearning/ug/pretrained-convolutional-neural-networks.html):
VGG16 16, ResNet50 50, DenseNet121 121, InceptionV3 48, MobileNetV2 53, Xception 71.

Imports torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["model_depth"]

# Autograd node names of convolutions (any variant: transposed, depthwise, backend-specific
# names of older releases) and of matrix products (nn.Linear records AddmmBackward0 for 2-D
# input and MmBackward0 / UnsafeViewBackward0 for more dims; attention uses BmmBackward0).
_CONV_RE = re.compile(r"Conv.*Backward")
_MATMUL_RE = re.compile(r"^(Addmm|Mm|Linear|MkldnnLinear|Bmm|Baddbmm|Addbmm)Backward")


def _is_weight_op(node: Any) -> bool:
    name = type(node).__name__
    return bool(_CONV_RE.search(name) or _MATMUL_RE.match(name))


def _as_inputs(model: nn.Module, input_shape: Any, inputs: Any) -> tuple[torch.Tensor, ...]:
    if inputs is not None:
        return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    if isinstance(input_shape, torch.Tensor):
        return (input_shape,)
    if input_shape is None:
        raise ValueError("model_depth needs input_shape (e.g. (1, 3, 224, 224)) or inputs")
    ref = next(iter(model.parameters()), None)
    device = ref.device if ref is not None else torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    return (torch.randn(*input_shape, generator=gen).to(device),)


def _first_tensor(out: Any) -> torch.Tensor:
    while isinstance(out, (tuple, list)):
        if not out:
            break
        out = out[0]
    if isinstance(out, dict):
        out = next(iter(out.values()))
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"the model returned {type(out).__name__}, expected a tensor (or a tuple/list whose first item is one)")
    return out


def model_depth(model: nn.Module, input_shape: Sequence[int] | torch.Tensor | None = None, *, inputs: Any = None) -> int:
    """Number of weight layers on the longest path from the input to the output.

    Weight layers are convolutions (any kind: grouped, depthwise, transposed, 1-D/2-D/3-D)
    and fully-connected layers (matrix products). The graph is the autograd graph
    recorded by one forward pass in eval mode with grad enabled on an input that requires
    grad (so it works on models ``torch.fx`` cannot trace, such as NASNet). The graph is
    walked from ``output.grad_fn`` through ``next_functions`` iteratively (no recursion;
    DenseNet201's graph has thousands of nodes), and the longest path is found by dynamic
    programming over the DAG; nodes not connected to the input count as ``-inf``, so a
    path that does not start at the input (a weight read, a constant branch) never counts.

    A node counts as a weight layer when it is a convolution (``ConvolutionBackward*``) or
    a matrix product (``AddmmBackward*``, ``MmBackward*``, ``LinearBackward*``,
    ``BmmBackward*``, ``BaddbmmBackward*``), it is reachable from the input, and one of its
    operands is computed from parameters only: a parameter leaf (``AccumulateGrad``),
    possibly behind ``TBackward``/``PermuteBackward``/``ViewBackward``, or a
    re-parametrised weight (weight norm, spectral norm, equalised learning rate). A product
    of two activations (attention's ``q @ k``) is not a weight layer. Normalisation,
    activations, pooling and element-wise ops do not count.

    This reproduces the numbers in the models' names and MATLAB's pretrained-network
    table: VGG16 16, VGG19 19, ResNet50/101/152 50/101/152, DenseNet121/169/201
    121/169/201, InceptionV3 48 (timm ``inception_v3``), MobileNetV2 53, Xception 71
    (timm ``legacy_xception``: depthwise and pointwise convolutions count separately;
    ResNet projection shortcuts are not on the longest path).

    Args:
        model: any module; its train/eval mode and ``requires_grad`` flags are restored
            afterwards. Works on the ``meta`` device too (no memory, no compute).
        input_shape: shape of a random float32 input, batch included (``(1, 3, 224, 224)``),
            created on the device of the model's first parameter; or a tensor.
        inputs: instead of ``input_shape``, the input tensor(s) (a tensor or a tuple);
            floating-point ones are the "input" the paths start from.

    Returns:
        The depth (int >= 0).

    Raises:
        ValueError: no input given, the model returned no tensor, or the output does not
            depend (differentiably) on the input.
    """
    xs = _as_inputs(model, input_shape, inputs)
    was_training = model.training
    params = [p for p in model.parameters()]
    flags = [p.requires_grad for p in params]
    param_ids = {id(p) for p in params}
    try:
        model.eval()
        with torch.inference_mode(False), torch.enable_grad():
            leaves = []
            for x in xs:
                if isinstance(x, torch.Tensor) and x.is_floating_point():
                    x = x.detach().clone().requires_grad_(True)
                leaves.append(x)
            input_ids = {id(x) for x in leaves if isinstance(x, torch.Tensor) and x.requires_grad}
            if not input_ids:
                raise ValueError("model_depth needs a floating-point input to follow")
            for p in params:
                if p.is_floating_point():
                    p.requires_grad_(True)
            out = _first_tensor(model(*leaves))
        root = out.grad_fn
        if root is None:
            raise ValueError("the model output does not depend on its input through differentiable ops; depth is undefined")
        depth = _longest_weight_path(root, input_ids, param_ids)
        del out, root
    finally:
        for p, f in zip(params, flags, strict=True):
            p.requires_grad_(f)
        model.train(was_training)
    if depth is None:
        raise ValueError("no path from the input to the output in the autograd graph; depth is undefined")
    return depth


def _longest_weight_path(root: Any, input_ids: set[int], param_ids: set[int]) -> int | None:
    """Longest-path DP over the autograd DAG below ``root`` (iterative post-order DFS)."""
    neg = -math.inf
    dist: dict[int, float] = {}  # weight layers on the longest input path ending here
    has_param: dict[int, bool] = {}  # some parameter leaf is reachable below this node
    keep: list[Any] = []  # hold node references: ids must stay unique during the walk
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if expanded:
            children = [c for c, _ in node.next_functions if c is not None]
            if type(node).__name__ == "AccumulateGrad":
                var_id = id(node.variable)
                dist[key] = 0.0 if var_id in input_ids else neg
                has_param[key] = var_id in param_ids
                continue
            best = max((dist[id(c)] for c in children), default=neg)
            # a weight layer: one operand comes from parameters only (not from the input)
            if best > neg and _is_weight_op(node) and any(has_param[id(c)] and dist[id(c)] == neg for c in children):
                best += 1
            dist[key] = best
            has_param[key] = any(has_param[id(c)] for c in children)
            continue
        if key in dist:
            continue
        if key in has_param:  # already expanded once and waiting: skip duplicates
            continue
        has_param[key] = False  # mark as "in progress"
        keep.append(node)
        stack.append((node, True))
        for child, _ in node.next_functions:
            if child is not None and id(child) not in dist and id(child) not in has_param:
                stack.append((child, False))
    d = dist[id(root)]
    return None if d == neg else int(d)
