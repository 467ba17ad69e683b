"""LAPGAN: a Laplacian pyramid of adversarial networks, built-in ``zoo`` plugin (hook module; no torch import).

Origin: Denton, Chintala, Szlam & Fergus 2015, "Deep Generative Image Models using a
Laplacian Pyramid of Adversarial Networks", arXiv:1506.05751. Reference implementation:
facebook/eyescream (Torch/Lua, BSD-3-Clause, commit ad6f484dda9bbc79724e80a35cd94225a7694de9),
``cifar/scripts/train_cifar.lua`` (the fully connected coarsest GAN) and
``cifar/scripts/train_cifar_coarse_to_fine.lua`` (the conditional conv GANs of the finer levels).

A base GAN (fully connected) generates the coarsest image from noise; every finer level
``k`` has a conditional generator that draws the band-pass residual ``h_k`` given the
upsampled coarser image ``l_k``, and a discriminator that scores ``h_k`` with ``l_k``.
Each level is trained on the real data's Laplacian pyramid independently, as in the paper.

The plugin is two files, as a third party would write it (:mod:`zoo.pluginkit`): this
module validates the build options in pure Python and makes the hooks with
:func:`zoo.pluginkit.gan_hooks`; the networks, the pyramid operations and the adapter
live in :mod:`zoo.plugins.lapgan_model`, imported only when a model is built, so
``zoo list`` never imports torch. The model table is ``[models.lapgan]`` in ``registry.toml``.

Build options (``zoo.registry.build("lapgan", **options)``):

* ``levels``: pyramid levels, >= 2 (default 3: 16 -> 8 -> 4 pixels).
* ``image_size``: the finest height = width in pixels (default ``spec.input_size[-1]``, 16);
  a multiple of ``2**(levels - 1)`` whose coarsest level is at least 4 pixels.
* ``channels``: 1 (grey) or 3 (RGB) (default ``spec.input_size[0]``, 1).
* ``latent_dim``: noise length of the base generator (paper: 100).
* ``base_hidden_g``, ``base_hidden_d``: hidden units of the fully connected base generator
  and discriminator (paper: 1200 and 600 for 8x8 CIFAR; defaults 600 and 300 for 4x4).
* ``ngf``, ``ndf``: convolution planes of the finer levels' generators and
  discriminators (eyescream ``--hidden_G 64 --hidden_D 64``).

Builds are randomly initialised from torch's global RNG: seed it first for reproducible builds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.pluginkit import gan_hooks

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = ["resolve_options", "zoo_build_model", "zoo_model_specs"]

_DEFAULTS = {"levels": 3, "latent_dim": 100, "base_hidden_g": 600, "base_hidden_d": 300, "ngf": 64, "ndf": 64}
_WHAT = {
    "latent_dim": "a positive int (100 in the paper)",
    "base_hidden_g": "a positive int (1200 in the paper's 8x8 CIFAR base generator)",
    "base_hidden_d": "a positive int (600 in the paper's 8x8 CIFAR base discriminator)",
    "ngf": "a positive int (64 in facebook/eyescream)",
    "ndf": "a positive int (64 in facebook/eyescream)",
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def resolve_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, int]:
    """Validate LAPGAN build options against ``spec`` and fill in the defaults (no torch).

    Args:
        spec: a spec of this plugin with ``arch == "lapgan"`` (``spec.config`` may set any of
            ``levels``, ``latent_dim``, ``base_hidden_g``, ``base_hidden_d``, ``ngf``, ``ndf``).
        options: ``image_size``, ``channels``, ``levels``, ``latent_dim``, ``base_hidden_g``,
            ``base_hidden_d``, ``ngf``, ``ndf`` (ints; a missing or ``None`` value takes the
            default); other keys are ignored.

    Returns:
        ``{"image_size", "channels", "levels", "latent_dim", "base_hidden_g", "base_hidden_d",
        "ngf", "ndf"}``, all ints: the keyword arguments of ``LAPGANAdapter(spec, ...)``.

    Raises:
        ZooError: an unknown ``spec.arch``; ``levels < 2``; ``image_size`` not a multiple of
            ``2**(levels - 1)`` or with a coarsest level under 4 pixels; ``channels`` not 1
            or 3; another option not a positive int. One line naming the parameter, exit code 2.
    """
    if spec.arch != "lapgan":
        raise ZooError(f"{spec.name}: the lapgan plugin builds arch 'lapgan', not {spec.arch!r}")

    def pick(key: str, default: Any) -> Any:
        value = options.get(key)
        return default if value is None else value

    cfg = {**_DEFAULTS, **{k: v for k, v in spec.config.items() if k in _DEFAULTS}}
    levels = pick("levels", cfg["levels"])
    if not _is_int(levels) or levels < 2:
        raise ZooError(
            f"LAPGAN {{param}} must be an int >= 2 (3 makes the 16 -> 8 -> 4 pyramid), got {levels!r}", param="levels", exit_code=2
        )
    step = 2 ** (levels - 1)
    size = pick("image_size", spec.input_size[-1])
    if not _is_int(size) or size % step or size // step < 4:
        valid = ", ".join(str(step * (4 + i)) for i in range(4))
        raise ZooError(
            f"LAPGAN {{param}} must be a multiple of {step} of at least {4 * step} for levels={levels} "
            f"(the coarsest level needs 4 pixels): {valid}, ...; got {size!r}",
            param="image_size",
            exit_code=2,
        )
    channels = pick("channels", spec.input_size[0])
    if not _is_int(channels) or channels not in (1, 3):
        raise ZooError(f"LAPGAN {{param}} must be 1 (grey) or 3 (RGB), got {channels!r}", param="channels", exit_code=2)
    out = {"image_size": size, "channels": channels, "levels": levels}
    for key, what in _WHAT.items():
        value = pick(key, cfg[key])
        if not _is_int(value) or value < 1:
            raise ZooError(f"LAPGAN {{param}} must be {what}, got {value!r}", param=key, exit_code=2)
        out[key] = value
    return out


zoo_model_specs, zoo_build_model = gan_hooks(__name__, adapter="zoo.plugins.lapgan_model:LAPGANAdapter", options=resolve_options)
