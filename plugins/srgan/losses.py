"""SRGAN's content loss: MSE between VGG19 feature maps of the super-resolved and the real image (or pixel MSE).

Ledig et al. 2017, arXiv:1609.04802, section 2.2.1 (equation 5, the VGG loss on phi_{i,j},
the j-th convolution's activation before the i-th max-pool of the ImageNet VGG19) and
section 3.2 (the 1/12.75 rescaling); Table 1 names the variants SRGAN-MSE, SRGAN-VGG22
and SRGAN-VGG54. Lornatang/SRGAN-PyTorch ``model.py`` ``ContentLoss`` (Apache-2.0)
normalises the input with ImageNet's mean and std, as here. The feature network is frozen
and never saved with the model; its weights are the user's (``content_weights``), never
random. The adversarial term is zoo's shared BCE (:func:`zoo.models.gan_steps.adversarial_steps`).
Imports torch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo.errors import ZooError

__all__ = ["CONTENT_LAYERS", "VGG_RESCALE", "VGGFeatures", "content_loss", "load_content_network", "missing_content_weights"]

#: VGG19 content layers: how many modules of torchvision's ``vgg19().features`` to keep. The
#: paper's phi_{i,j} is the j-th convolution's activation before the i-th max-pool (section
#: 2.2.1): relu2_2 is ``features[8]`` (SRGAN-VGG22), relu5_4 ``features[35]`` (SRGAN-VGG54;
#: Lornatang's ``FEATURE_NODES: ["features.35"]``).
CONTENT_LAYERS = {"vgg22": 9, "vgg54": 36}
#: The paper rescales the VGG feature maps by 1/12.75 "to obtain VGG losses of a scale that is
#: comparable to the MSE loss" (section 3.2; a factor of about 0.006 on the loss).
VGG_RESCALE = 12.75


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


def missing_content_weights(model: str, layer: str) -> ZooError:
    """The one-line error (not raised here) for a VGG content loss without weights: how to give them
    (``{param}`` is ``content_weights``, exit code 2), or how to opt in to the pixel loss instead."""
    return ZooError(
        f"{model}'s {layer} content loss needs ImageNet VGG19 weights for its feature network and none were given: "
        "give {param}=imagenet (zoo's published vgg19 weights, cached or downloaded) or {param}=FILE "
        "(torchvision's vgg19-dcbb9e9d.pth, a .safetensors or a zoo vgg19 checkpoint), "
        "or opt in to the pixel-MSE content loss with content_loss=pixel (on the command line: --model-kwargs content_loss=pixel)",
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
                "pass {param}=FILE (torchvision's vgg19-dcbb9e9d.pth) or use content_loss=pixel (--model-kwargs content_loss=pixel)",
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


def content_loss(net: VGGFeatures | None, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """The content loss of ``srgan`` (scalar float32): VGG feature MSE / 12.75**2, or 4 x pixel MSE.

    Args:
        net: the frozen feature network (``vgg22`` / ``vgg54``), or ``None`` for SRGAN-MSE,
            the pixel MSE on the paper's ``[-1, 1]`` scale (4 x the MSE on ``[0, 1]``, so the
            1e-3 adversarial weight keeps the paper's balance).
        sr: ``(N, C, H, W)`` generator output in ``[0, 1]`` (with its graph).
        hr: ``(N, C, H, W)`` target in ``[0, 1]``.
    """
    if net is None:
        return 4.0 * F.mse_loss(sr.float(), hr.float())
    with torch.no_grad():
        target = net(hr).float()
    return F.mse_loss(net(sr).float() / VGG_RESCALE, target / VGG_RESCALE)
