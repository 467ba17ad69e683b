"""StarGAN's losses: the objectives of yunjey/stargan ``solver.py Solver.train`` (imports torch).

Reference implementation: yunjey/stargan ``solver.py`` at 94dd002 (MIT licence), the
CelebA / RaFD branch of ``train``: a WGAN-GP critic with an auxiliary classifier
(``classification_loss``), the generator's adversarial, classification and reconstruction
terms (Choi et al. 2018, arXiv:1711.09020, eqs. 1-7). The loss weights are the build
options ``lambda_cls``, ``lambda_rec``, ``lambda_gp`` (1, 10, 10 in ``main.py``); the
gradient penalty is the trainer's (:meth:`zoo.models.gan.StepContext.gradient_penalty`).
Every loss is a float32 scalar, whatever the networks' dtype (autocast).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from zoo.models.gan_steps import without_param_grads

__all__ = ["classification_loss", "discriminator_loss", "generator_loss"]


def classification_loss(logit: torch.Tensor, target: torch.Tensor, mode: str = "attribute") -> torch.Tensor:
    """The auxiliary classifier's loss, float32 (yunjey/stargan ``solver.py classification_loss``).

    Attribute mode: ``binary_cross_entropy_with_logits(logit, target, size_average=False) /
    N``, i.e. summed over the attributes and averaged over the batch. Domain mode:
    ``cross_entropy(logit, target)`` (mean over the batch).

    Args:
        logit: ``(N, c_dim)`` logits (any float dtype; computed in float32).
        target: ``(N, c_dim)`` float 0/1 (attribute) or ``(N,)`` int64 domain indices.
        mode: ``"attribute"`` or ``"domain"``.

    Returns:
        A scalar float32 tensor.
    """
    logit = logit.float()
    if mode == "attribute":
        return F.binary_cross_entropy_with_logits(logit, target.float(), reduction="sum") / logit.shape[0]
    return F.cross_entropy(logit, target.long())


def discriminator_loss(
    G: nn.Module,
    D: nn.Module,
    x_real: torch.Tensor,
    label_org: torch.Tensor,
    c_trg: torch.Tensor,
    *,
    mode: str,
    gradient_penalty: Callable[[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor],
    lambda_cls: float,
    lambda_gp: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """The discriminator's loss of one iteration (``solver.py``: "2. Train the discriminator").

    ``d_loss = -mean(D_src(x)) + mean(D_src(G(x, c_trg))) + lambda_cls * cls(D_cls(x), label_org)
    + lambda_gp * GP``, the fake batch detached from the generator.

    Args:
        G, D: the generator and the discriminator (``out_src, out_cls = D(x)``).
        x_real: ``(N, 3, S, S)`` real images in ``[-1, 1]``.
        label_org: the images' own labels (``(N, c_dim)`` 0/1, or ``(N,)`` domain indices).
        c_trg: ``(N, c_dim)`` float target labels.
        mode: ``"attribute"`` or ``"domain"`` (:func:`classification_loss`).
        gradient_penalty: ``gradient_penalty(critic, real, fake)``, the trainer's.
        lambda_cls, lambda_gp: the loss weights.

    Returns:
        ``(d_loss, logs, x_fake)``: the loss; ``{"d_loss_real", "d_loss_fake", "d_loss_cls",
        "d_loss_gp"}`` (not detached); and ``G(x_real, c_trg)`` with its graph, for the
        generator's step of the same iteration.
    """
    out_src, out_cls = D(x_real)
    d_loss_real = -out_src.float().mean()
    d_loss_cls = classification_loss(out_cls, label_org, mode)
    x_fake = G(x_real, c_trg)
    out_src, _ = D(x_fake.detach())
    d_loss_fake = out_src.float().mean()
    d_loss_gp = gradient_penalty(lambda x: D(x)[0], x_real, x_fake)
    d_loss = d_loss_real + d_loss_fake + lambda_cls * d_loss_cls + lambda_gp * d_loss_gp
    return d_loss, {"d_loss_real": d_loss_real, "d_loss_fake": d_loss_fake, "d_loss_cls": d_loss_cls, "d_loss_gp": d_loss_gp}, x_fake


def generator_loss(
    G: nn.Module,
    D: nn.Module,
    x_real: torch.Tensor,
    x_fake: torch.Tensor,
    c_org: torch.Tensor,
    label_trg: torch.Tensor,
    *,
    mode: str,
    lambda_cls: float,
    lambda_rec: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The generator's loss of one iteration (``solver.py``: "3. Train the generator").

    ``g_loss = -mean(D_src(x_fake)) + lambda_rec * mean|x_real - G(x_fake, c_org)| + lambda_cls
    * cls(D_cls(x_fake), label_trg)``; the discriminator's parameters get no gradient
    (:func:`zoo.models.gan_steps.without_param_grads`).

    Args:
        G, D: the generator and the discriminator.
        x_real: ``(N, 3, S, S)`` real images in ``[-1, 1]``.
        x_fake: ``G(x_real, c_trg)`` with its graph (the generator has not stepped since).
        c_org: ``(N, c_dim)`` float labels of ``x_real``, the reconstruction's target.
        label_trg: the target labels (``(N, c_dim)`` 0/1, or ``(N,)`` domain indices).
        mode: ``"attribute"`` or ``"domain"``.
        lambda_cls, lambda_rec: the loss weights.

    Returns:
        ``(g_loss, logs)``: the loss and ``{"g_loss_fake", "g_loss_rec", "g_loss_cls"}`` (not detached).
    """
    with without_param_grads(D):
        out_src, out_cls = D(x_fake)
    g_loss_fake = -out_src.float().mean()
    g_loss_cls = classification_loss(out_cls, label_trg, mode)
    x_reconst = G(x_fake, c_org)  # target-to-original domain
    g_loss_rec = (x_real.float() - x_reconst.float()).abs().mean()
    g_loss = g_loss_fake + lambda_rec * g_loss_rec + lambda_cls * g_loss_cls
    return g_loss, {"g_loss_fake": g_loss_fake, "g_loss_rec": g_loss_rec, "g_loss_cls": g_loss_cls}
