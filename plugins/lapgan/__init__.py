"""LAPGAN: a Laplacian pyramid of adversarial networks, built-in ``zoo`` plugin (hook module; no torch import).

The story. In 2015 one GAN could not yet draw a convincing image of more than a few pixels.
Denton, Chintala, Szlam & Fergus ("Deep Generative Image Models using a Laplacian Pyramid
of Adversarial Networks", arXiv:1506.05751) split the job along an image's Laplacian
pyramid: a base GAN (fully connected) generates the coarsest image from noise; every finer
level ``k`` has a conditional generator that draws the band-pass residual ``h_k`` given the
upsampled coarser image ``l_k``, and a discriminator that scores ``h_k`` with ``l_k``. Each
level is trained on the real data's Laplacian pyramid independently, as in the paper;
sampling runs the pyramid from the coarsest level up. No weights were released.

Sources. The paper; facebook/eyescream (Torch/Lua, BSD-3-Clause, commit
ad6f484dda9bbc79724e80a35cd94225a7694de9), ``cifar/scripts/train_cifar.lua`` (the fully
connected coarsest GAN) and ``cifar/scripts/train_cifar_coarse_to_fine.lua`` (the
conditional conv GANs of the finer levels). The package, the same files as every GAN family
(no official files, no losses of its own: each level is a plain BCE GAN, no data code):

* this module: the torch-free hooks (the model's spec in ``registry.toml``, build options);
* :mod:`~zoo.plugins.lapgan.networks`: the pyramid operations and each level's networks;
* :mod:`~zoo.plugins.lapgan.adapter`: ``LAPGANAdapter``, imported only when a model is
  built, so ``zoo list`` never imports torch.

Build options (``zoo.registry.build("lapgan", **options)``; :func:`declared_options` gives each
with its type and default; ``zoo info lapgan`` lists them):

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
from zoo.pluginkit import BuildOption, gan_hooks, option_value, options_hook

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = ["declared_options", "resolve_options", "zoo_build_model", "zoo_model_options", "zoo_model_specs"]

#: How the messages name the family (``LAPGAN ngf must be ...``).
_MODEL = "LAPGAN"


def declared_options(spec: ModelSpec) -> list[BuildOption]:
    """The build options of ``lapgan``, with the defaults of ``spec`` (``input_size`` and ``config``)."""
    cfg = spec.config
    return [
        BuildOption("levels", "int", cfg.get("levels", 3), "pyramid levels; 3 makes the 16 -> 8 -> 4 pyramid", minimum=2),
        BuildOption(
            "image_size",
            "int",
            spec.input_size[-1],
            "the finest height = width in pixels, a multiple of 2**(levels - 1) whose coarsest level has at least 4 pixels",
            minimum=8,
            from_data=True,
        ),
        BuildOption("channels", "choice", spec.input_size[0], "1 for grey or 3 for RGB", choices=(1, 3), from_data=True),
        BuildOption("latent_dim", "int", cfg.get("latent_dim", 100), "noise length of the base generator; 100 in the paper", minimum=1),
        BuildOption(
            "base_hidden_g",
            "int",
            cfg.get("base_hidden_g", 600),
            "hidden units of the fully connected base generator; 1200 in the paper's 8x8 CIFAR base generator",
            minimum=1,
        ),
        BuildOption(
            "base_hidden_d",
            "int",
            cfg.get("base_hidden_d", 300),
            "hidden units of the fully connected base discriminator; 600 in the paper's 8x8 CIFAR base discriminator",
            minimum=1,
        ),
        BuildOption(
            "ngf", "int", cfg.get("ngf", 64), "convolution planes of the finer levels' generators; 64 in facebook/eyescream", minimum=1
        ),
        BuildOption(
            "ndf", "int", cfg.get("ndf", 64), "convolution planes of the finer levels' discriminators; 64 in facebook/eyescream", minimum=1
        ),
    ]


def resolve_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, int]:
    """Validate LAPGAN build options against ``spec`` and fill in the defaults (no torch).

    Args:
        spec: a spec of this plugin with ``arch == "lapgan"``.
        options: the options of :func:`declared_options` (ints; a missing or ``None`` value
            takes the default); other keys are ignored.

    Returns:
        ``{"levels", "image_size", "channels", "latent_dim", "base_hidden_g", "base_hidden_d",
        "ngf", "ndf"}``, all ints: the keyword arguments of ``LAPGANAdapter(spec, ...)``.

    Raises:
        ZooError: an unknown ``spec.arch``; ``levels < 2``; ``image_size`` not a multiple of
            ``2**(levels - 1)`` or with a coarsest level under 4 pixels; ``channels`` not 1
            or 3; another option not a positive int. One line naming the parameter, exit code 2.
    """
    if spec.arch != "lapgan":
        raise ZooError(f"{spec.name}: the lapgan plugin builds arch 'lapgan', not {spec.arch!r}")
    out = {option.name: option_value(_MODEL, option, options.get(option.name)) for option in declared_options(spec)}
    levels, size = out["levels"], out["image_size"]
    step = 2 ** (levels - 1)
    if size % step or size // step < 4:
        valid = ", ".join(str(step * (4 + i)) for i in range(4))
        raise ZooError(
            f"{_MODEL} {{param}} must be a multiple of {step} of at least {4 * step} for levels={levels} "
            f"(the coarsest level needs 4 pixels): {valid}, ...; got {size!r}",
            param="image_size",
            exit_code=2,
        )
    return out


zoo_model_options = options_hook(__name__, declared_options)
zoo_model_specs, zoo_build_model = gan_hooks(
    __name__,
    adapter="zoo.plugins.lapgan.adapter:LAPGANAdapter",
    options=resolve_options,
)
