"""Reading the checkpoints of DCGAN's reference implementation, pytorch/examples ``dcgan/main.py`` (imports torch).

pytorch/examples (BSD-3-Clause, commit 77f55b912142e11fcfdf5b530231fb9c52f181e8) publishes
no weights; its script saves plain state dicts ``netG_epoch_N.pth`` / ``netD_epoch_N.pth``
with keys ``main.<i>.*``, which :mod:`zoo.plugins.dcgan.networks` reproduces key for key
at the default configuration (64x64 RGB, latent 100, ngf = ndf = 64).
:func:`infer_reference_config` reads the build options of a file trained with other
settings from its shapes; :func:`load_reference_state_dict` loads the files strictly
(``DCGANAdapter.load_reference_state_dict``). The prefixes of wrapped models
(``module.``, ``_orig_mod.``) are stripped by zoo's one reader of official files,
:func:`zoo.io.official.read_official`. The paper's own code (Newmu/dcgan_code, Theano)
is not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch

from zoo.errors import ZooError
from zoo.io.official import read_official

if TYPE_CHECKING:  # pragma: no cover
    from zoo.plugins.dcgan.adapter import DCGANAdapter

__all__ = ["infer_reference_config", "load_reference_state_dict"]


def infer_reference_config(
    generator_sd: Mapping[str, torch.Tensor] | None = None, discriminator_sd: Mapping[str, torch.Tensor] | None = None
) -> dict[str, int]:
    """Guess the build options of pytorch/examples-layout DCGAN state dicts.

    Reads only weight shapes: the generator's first ``ConvTranspose2d`` is ``(latent_dim,
    ngf * 2**(n-1), 4, 4)`` and its last is ``(ngf, channels, 4, 4)``; the discriminator's
    first ``Conv2d`` is ``(ndf, channels, 4, 4)``; ``n + 1`` convolutions make
    ``image_size = 4 * 2**n``. Useful to rebuild a model for a ``netG_epoch_N.pth`` trained
    with other settings (for example ``--dataset mnist``, one channel).

    Args:
        generator_sd, discriminator_sd: state dicts (``{key: tensor}``), either may be
            ``None``; ``module.`` / ``_orig_mod.`` prefixes are ignored.

    Returns:
        A subset of ``{"image_size", "channels", "latent_dim", "ngf", "ndf"}`` (ints).

    Raises:
        ZooError: a dict holds anything but tensors, or does not have the pytorch/examples
            ``main.<i>.weight`` layout.
    """
    cfg: dict[str, int] = {}
    for part, sd in (("generator", generator_sd), ("discriminator", discriminator_sd)):
        if sd is None:
            continue
        sd = read_official(sd)[0]
        convs = sorted(
            (int(k.split(".")[1]), v)
            for k, v in sd.items()
            if k.startswith("main.") and k.split(".")[1].isdigit() and k.endswith(".weight") and getattr(v, "dim", lambda: 0)() == 4
        )
        if len(convs) < 3:
            raise ZooError(
                f"the {part} state dict does not have the pytorch/examples DCGAN layout (main.<i>.weight convolutions); keys start with {list(sd)[:3]}"
            )
        n = len(convs) - 1
        first, last = convs[0][1].shape, convs[-1][1].shape
        if part == "generator":
            found = {"latent_dim": int(first[0]), "ngf": int(last[0]), "channels": int(last[1])}
            consistent = first[1] == found["ngf"] * 2 ** (n - 1)
        else:
            found = {"ndf": int(first[0]), "channels": int(first[1])}
            consistent = last[0] == 1 and last[1] == found["ndf"] * 2 ** (n - 1)
        indices = [int(k.split(".")[1]) for k in sd if k.startswith("main.") and k.split(".")[1].isdigit()]
        consistent = consistent and max(indices) == convs[-1][0]  # ends with a convolution
        if not consistent:
            raise ZooError(
                f"the {part} state dict does not have the pytorch/examples DCGAN layout (its layer widths do not double per block)"
            )
        cfg.update(image_size=4 * 2**n, **found)
    return cfg


def load_reference_state_dict(
    adapter: DCGANAdapter,
    generator_sd: Mapping[str, torch.Tensor] | None = None,
    discriminator_sd: Mapping[str, torch.Tensor] | None = None,
) -> None:
    """Load pytorch/examples ``dcgan/main.py`` checkpoints into ``adapter``'s networks, strictly.

    pytorch/examples publishes no weights; its script saves plain state dicts
    ``netG_epoch_N.pth`` / ``netD_epoch_N.pth``. Read them with
    ``torch.load(path, map_location="cpu", weights_only=True)`` and pass the dicts here.
    Keys are ``main.<i>.*``; ``module.`` (``DataParallel``) and ``_orig_mod.``
    (``torch.compile``) prefixes are stripped (:func:`zoo.io.official.read_official`).
    Dicts without ``num_batches_tracked`` (old PyTorch) load too. Tensors are copied into
    the adapter's parameters (dtype and device of the adapter).

    Args:
        adapter: a :class:`zoo.plugins.dcgan.adapter.DCGANAdapter`.
        generator_sd: the generator's state dict, or ``None`` to leave it.
        discriminator_sd: the discriminator's state dict, or ``None`` to leave it.

    Raises:
        ZooError: a dict of anything but tensors; missing, unexpected or mis-shaped keys (the
            message gives the build options the checkpoint needs when they can be inferred).
    """
    for part, sd, module in (("generator", generator_sd, adapter.generator), ("discriminator", discriminator_sd, adapter.discriminator)):
        if sd is None:
            continue
        sd = read_official(sd)[0]
        try:
            module.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            try:
                need = infer_reference_config(**{f"{part}_sd": sd})
            except ZooError:
                need = {}
            have = adapter.config()
            diff = {k: v for k, v in need.items() if have.get(k) != v}
            hint = (
                "; the checkpoint needs " + ", ".join(f"{k}={v}" for k, v in diff.items()) + " (rebuild with those options)" if diff else ""
            )
            lines = str(exc).strip().splitlines()
            detail = " ".join(line.strip() for line in lines[1:] or lines)
            detail = detail if len(detail) <= 300 else detail[:297] + "..."
            raise ZooError(f"the {part} state dict does not match {adapter.spec.name} as built{hint}: {detail}") from exc
