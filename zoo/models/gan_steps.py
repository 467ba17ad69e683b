"""The building blocks of a GAN training step, shared by the families: the gradient penalty
(WGAN-GP), binary cross-entropy on logits, taking a network's parameters out of the graph
for the other player's step, and the standard discriminator-then-generator step sequence
(Goodfellow et al. 2014; Radford et al. 2016's DCGAN recipe).

Imports torch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo.errors import ZooError
from zoo.models.adapters import Step

if TYPE_CHECKING:
    from zoo.models.gan import StepContext

__all__ = ["adversarial_steps", "bce_logits", "gradient_penalty", "without_param_grads"]


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    scaler: Any = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty ``E[(||grad_x D(x_hat)||_2 - 1)^2]`` on random interpolates, float32.

    ``x_hat = a * real + (1 - a) * fake`` with ``a ~ U(0, 1)`` per sample (Gulrajani et al.
    2017, arXiv:1704.00028, Algorithm 1; yunjey/stargan ``solver.py gradient_penalty``).
    The gradient is taken with ``torch.autograd.grad(..., create_graph=True)`` so the
    penalty back-propagates into the critic.

    Mixed precision follows PyTorch's AMP gradient-penalty recipe (``torch.amp`` examples,
    "Gradient penalty"): with an fp16 ``scaler`` the critic output is scaled before
    ``autograd.grad`` (so small fp16 gradients do not flush to zero) and the gradients are
    unscaled (``1 / scaler.get_scale()``) before the norm, which is computed in float32
    outside autocast. If the scaled gradients overflowed, the penalty is non-finite and the
    scaler skips that optimizer step, as it does for any other overflow.

    Args:
        critic: maps images ``(N, C, H, W)`` to scores ``(N, ...)`` (summed per sample).
        real, fake: ``(N, C, H, W)`` float tensors of the same shape (detached here).
        scaler: the trainer's ``torch.amp.GradScaler`` when training in fp16, else ``None``.
        generator: RNG for the interpolation weights (default: the global RNG on ``real``'s device).

    Returns:
        A scalar float32 tensor with a graph back to the critic's parameters.

    Raises:
        ZooError: ``real`` and ``fake`` differ in shape.
    """
    if real.shape != fake.shape:
        raise ZooError(f"gradient penalty needs real and fake batches of one shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    n = real.shape[0]
    alpha = torch.rand((n,) + (1,) * (real.dim() - 1), generator=generator, device=real.device if generator is None else "cpu")
    alpha = alpha.to(device=real.device, dtype=torch.float32)
    x_hat = (alpha * real.detach().float() + (1.0 - alpha) * fake.detach().float()).requires_grad_(True)
    out = critic(x_hat)
    total = out.float().sum()
    if scaler is not None:
        total = scaler.scale(total)
    (grad,) = torch.autograd.grad(total, x_hat, create_graph=True)
    if scaler is not None:
        grad = grad * (1.0 / scaler.get_scale())
    with torch.autocast(device_type=real.device.type, enabled=False):
        norm = grad.float().flatten(1).norm(2, dim=1)
        return ((norm - 1.0) ** 2).mean()


def bce_logits(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Mean binary cross-entropy of ``logits`` (any shape) against a constant ``target``
    (1.0 real, 0.0 fake), in float32: ``BCELoss(sigmoid(x))`` without its overflow, safe
    under autocast. Returns a scalar float32 tensor."""
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


@contextlib.contextmanager
def without_param_grads(net: nn.Module) -> Iterator[None]:
    """Inside the block ``net``'s parameters are left out of new graphs (gradients still
    flow through ``net`` into its inputs): the generator step's ``backward`` then leaves no
    gradient on the discriminator. The ``requires_grad`` flags are restored afterwards."""
    params = list(net.parameters())
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


def adversarial_steps(
    discriminator: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    ctx: StepContext | None,
    *,
    score: Callable[[torch.Tensor], torch.Tensor] | None = None,
    d_scale: float = 1.0,
    names: tuple[str, str] = ("discriminator", "generator"),
    suffix: str = "",
) -> Iterator[Step]:
    """The standard GAN iteration: a discriminator step, then the non-saturating generator step.

    1. ``Step(names[0], d_scale * (BCE(D(real), 1) + BCE(D(fake.detach()), 0)))`` with
       logs ``d_loss``, ``d_real``, ``d_fake`` (mean probabilities D(x), D(G(z)), detached);
    2. when ``ctx.update_generator`` (or without a ``ctx``): ``Step(names[1], BCE(D(fake), 1))``
       (maximise log D(G(z)): Goodfellow et al. 2014, section 3), computed only when the
       trainer asks for it, i.e. against the discriminator it has just stepped, with the
       discriminator's parameters out of the graph (:func:`without_param_grads`); log ``g_loss``.

    Args:
        discriminator: the network whose parameters the generator step must not touch.
        real, fake: ``(N, ...)`` real and generated batches (``fake`` keeps its graph to G).
        ctx: the trainer's step context.
        score: maps a batch to logits (default ``discriminator``): conditional families
            close over their condition (``lambda x: D(x, y)``).
        d_scale: factor of the discriminator loss (0.5 in goodfeli/adversarial's ``AdversaryCost2``).
        names: the two optimizers' names.
        suffix: appended to the log names (LAPGAN's level: ``d_loss0``).

    Yields:
        :class:`zoo.models.adapters.Step` objects, logs as detached float32 scalar tensors.
    """
    score = score or discriminator
    real_logits = score(real).float()
    fake_logits = score(fake.detach()).float()
    d_loss = d_scale * (bce_logits(real_logits, 1.0) + bce_logits(fake_logits, 0.0))
    yield Step(
        names[0],
        d_loss,
        {
            f"d_loss{suffix}": d_loss.detach(),
            f"d_real{suffix}": torch.sigmoid(real_logits.detach()).mean(),
            f"d_fake{suffix}": torch.sigmoid(fake_logits.detach()).mean(),
        },
    )
    if ctx is not None and not ctx.update_generator:
        return
    with without_param_grads(discriminator):
        gen_logits = score(fake).float()
    g_loss = bce_logits(gen_logits, 1.0)
    yield Step(names[1], g_loss, {f"g_loss{suffix}": g_loss.detach()})
