"""Vanilla GAN: the original MLP generative adversarial net, built-in ``zoo`` plugin (hook module; no torch import).

Origin: Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville & Bengio
2014, "Generative Adversarial Nets", arXiv:1406.2661. Reference configuration: the
paper's MNIST model as released in goodfeli/adversarial ``mnist.yaml`` (pylearn2, BSD-3-Clause,
commit 068bb0375f571f066f58ec208e72e8a9b203650e): a generator of two 1200-unit ReLU
layers and a sigmoid output, a discriminator of two maxout layers (240 units, 5 pieces)
with dropout and a sigmoid output; the losses are its ``AdversaryCost2`` with the
non-saturating generator objective of the paper's section 3. No weights are published.

The package, as every GAN family's (see :mod:`zoo.pluginkit`):

* this module: the declared build options (:func:`build_options`), their validation
  (:func:`resolve_options`, pure Python) and the hooks made by :func:`zoo.pluginkit.gan_hooks`
  and :func:`zoo.pluginkit.options_hook`, so that ``zoo list`` never imports torch;
* :mod:`zoo.plugins.vanilla_gan.networks`: ``Generator``, ``Discriminator``, ``Maxout``
  (the cGAN reuses ``Maxout``);
* :mod:`zoo.plugins.vanilla_gan.adapter`: ``VanillaGANAdapter``, imported only when a model is built;
* ``registry.toml``: the ``[models.vanilla_gan]`` table.

Build options (``zoo.registry.build("vanilla_gan", **options)``; :func:`build_options` declares them):

* ``image_size``: height and width in pixels, an int >= ``spec.min_size`` (default
  ``spec.input_size[-1]``, 28 as MNIST in the paper); an MLP takes any size.
* ``channels``: image channels, >= 1 (default ``spec.input_size[0]``, 1).
* ``latent_dim``: noise length, >= 1 (default ``spec.config["latent_dim"]``, 100 as ``nvis: 100``).

Other options are ignored. Builds are randomly initialised as the reference config does
(``irange``) from torch's global RNG: seed it first for reproducible builds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.pluginkit import BuildOption, gan_hooks, option_value, options_hook

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = [
    "build_options",
    "image_build_options",
    "image_options",
    "resolve_options",
    "zoo_build_model",
    "zoo_model_options",
    "zoo_model_specs",
]


def image_build_options(spec: ModelSpec) -> list[BuildOption]:
    """The ``image_size``, ``channels`` and ``latent_dim`` options of an MLP GAN (vanilla GAN and cGAN).

    Args:
        spec: the model's spec: the defaults are ``spec.input_size[-1]``, ``spec.input_size[0]``
            and ``spec.config["latent_dim"]`` (100 when absent); ``image_size`` is at least
            ``spec.min_size`` (and 1).
    """
    return [
        BuildOption(
            "image_size",
            "int",
            spec.input_size[-1],
            "height = width in pixels, any size for an MLP; 28 as MNIST in the paper",
            minimum=max(1, spec.min_size),
            from_data=True,
        ),
        BuildOption(
            "channels", "int", spec.input_size[0], "image channels, 1 grey or 3 RGB; 1 as MNIST in the paper", minimum=1, from_data=True
        ),
        BuildOption("latent_dim", "int", spec.config.get("latent_dim", 100), "noise length, 100 in the paper", minimum=1),
    ]


def image_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, int]:
    """``image_size``, ``channels`` and ``latent_dim`` of an MLP GAN, validated, defaults filled in.

    Shared by the vanilla GAN and cGAN hook modules (no torch).

    Args:
        spec: the model's spec (see :func:`image_build_options`).
        options: the build options; a missing or ``None`` value takes the default.

    Returns:
        ``{"image_size", "channels", "latent_dim"}``, all ints.

    Raises:
        ZooError: a value is not an int, or is below its minimum (``image_size`` below
            ``spec.min_size``, the others below 1); exit code 2.
    """
    return {o.name: option_value(spec.name, o, options.get(o.name)) for o in image_build_options(spec)}


def build_options(spec: ModelSpec) -> list[BuildOption]:
    """The vanilla GAN's build options (``zoo info vanilla_gan``): :func:`image_build_options`."""
    return image_build_options(spec)


def resolve_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, int]:
    """Validate the build options against ``spec`` and fill in the defaults (no torch).

    Args:
        spec: a spec of this plugin with ``arch == "vanilla_gan"``.
        options: ``image_size``, ``channels``, ``latent_dim`` (ints; missing or ``None``
            takes the default); other keys are ignored.

    Returns:
        ``{"image_size", "channels", "latent_dim"}``: the keyword arguments of
        ``VanillaGANAdapter(spec, ...)``.

    Raises:
        ZooError: an unknown ``spec.arch``; a value that is not an int, or below its
            minimum (:func:`image_options`; exit code 2).
    """
    if spec.arch != "vanilla_gan":
        raise ZooError(f"{spec.name}: the vanilla_gan plugin builds arch 'vanilla_gan', not {spec.arch!r}")
    return image_options(spec, options)


zoo_model_specs, zoo_build_model = gan_hooks(
    __name__,
    adapter="zoo.plugins.vanilla_gan.adapter:VanillaGANAdapter",
    options=resolve_options,
)
zoo_model_options = options_hook(__name__, build_options)
