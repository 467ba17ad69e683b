"""Vanilla GAN: the original MLP generative adversarial net, built-in ``zoo`` plugin (hook module; no torch import).

Origin: Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville & Bengio
2014, "Generative Adversarial Nets", arXiv:1406.2661. Reference configuration: the
paper's MNIST model as released in goodfeli/adversarial ``mnist.yaml`` (pylearn2, BSD-3-Clause,
commit 068bb0375f571f066f58ec208e72e8a9b203650e): a generator of two 1200-unit ReLU
layers and a sigmoid output, a discriminator of two maxout layers (240 units, 5 pieces)
with dropout and a sigmoid output. No weights are published.

The plugin is two files, written as a third party would write theirs (see
:mod:`zoo.pluginkit`): this module holds the build options (pure Python) and the hooks
made by :func:`zoo.pluginkit.gan_hooks`; the networks and the adapter (``Generator``,
``Discriminator``, ``Maxout``, ``VanillaGANAdapter``) live in
:mod:`zoo.plugins.vanilla_gan_model`, imported only when a model is built, so that
``zoo list`` never imports torch. The model table is ``[models.vanilla_gan]`` in
``registry.toml``.

Build options (``zoo.registry.build("vanilla_gan", **options)``):

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
from zoo.pluginkit import gan_hooks, positive_int

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = ["image_options", "resolve_options", "zoo_build_model", "zoo_model_specs"]


def image_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, int]:
    """``image_size``, ``channels`` and ``latent_dim`` of an MLP GAN, validated, defaults filled in.

    Shared by the vanilla GAN and cGAN hook modules (no torch).

    Args:
        spec: the model's spec (``input_size``, ``min_size``, ``config["latent_dim"]``).
        options: the build options; a missing or ``None`` value takes the default.

    Returns:
        ``{"image_size", "channels", "latent_dim"}``, all ints.

    Raises:
        ZooError: a value is not a positive int, or ``image_size < spec.min_size`` (exit code 2).
    """

    def pick(key: str, default: Any) -> Any:
        value = options.get(key)
        return default if value is None else value

    min_size = max(1, spec.min_size)
    size_what = "a positive int (pixels)" if min_size == 1 else f"an int >= {min_size} (pixels)"
    return {
        "image_size": positive_int(spec.name, "image_size", pick("image_size", spec.input_size[-1]), size_what, minimum=min_size),
        "channels": positive_int(spec.name, "channels", pick("channels", spec.input_size[0]), "a positive int (1 grey, 3 RGB)"),
        "latent_dim": positive_int(
            spec.name, "latent_dim", pick("latent_dim", spec.config.get("latent_dim", 100)), "a positive int (100 in the paper)"
        ),
    }


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
        ZooError: an unknown ``spec.arch``; a value that is not a positive int, or an
            ``image_size`` below ``spec.min_size`` (exit code 2).
    """
    if spec.arch != "vanilla_gan":
        raise ZooError(f"{spec.name}: the vanilla_gan plugin builds arch 'vanilla_gan', not {spec.arch!r}")
    return image_options(spec, options)


zoo_model_specs, zoo_build_model = gan_hooks(__name__, adapter="zoo.plugins.vanilla_gan_model:VanillaGANAdapter", options=resolve_options)
