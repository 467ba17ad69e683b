"""DCGAN: deep convolutional GAN, built-in ``zoo`` plugin (the hook module; no torch import).

Origin: Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", arXiv:1511.06434. Reference
implementation: pytorch/examples ``dcgan/main.py`` (BSD-3-Clause, commit
77f55b912142e11fcfdf5b530231fb9c52f181e8); with the default configuration (64x64 RGB,
latent 100, ngf = ndf = 64) the generator and discriminator have exactly its state-dict
layout, so checkpoints saved by that script (``netG_epoch_N.pth``, ``netD_epoch_N.pth``;
no pretrained weights are published) load strictly with
``DCGANAdapter.load_reference_state_dict``.

The package, as every GAN family's, written as a third party would write theirs (see
:mod:`zoo.pluginkit`):

* this module: the declared build options (:func:`build_options`), their validation
  (:func:`resolve_options`, pure Python) and the hooks made by :func:`zoo.pluginkit.gan_hooks`
  and :func:`zoo.pluginkit.options_hook`, so that ``zoo list`` never imports torch;
* :mod:`zoo.plugins.dcgan.networks`: ``Generator``, ``Discriminator``, ``weights_init``;
* :mod:`zoo.plugins.dcgan.official`: pytorch/examples checkpoints (``infer_reference_config``,
  ``load_reference_state_dict``);
* :mod:`zoo.plugins.dcgan.adapter`: ``DCGANAdapter``, imported only when a model is built;
* ``registry.toml``: the ``[models.dcgan]`` table.

Build options (``zoo.registry.build("dcgan", **options)``; :func:`build_options` declares them):

* ``image_size``: height and width in pixels, a power of two >= 16 (default
  ``spec.input_size[-1]``, 64). Each doubling adds one up-/down-sampling block.
* ``channels``: image channels, >= 1 (default ``spec.input_size[0]``, 3).
* ``latent_dim``, ``ngf``, ``ndf``: noise length and network widths, >= 1 (defaults from
  ``spec.config``: 100, 64, 64).

Builds are randomly initialised as in the paper (``weights_init``) from torch's global
RNG: seed it first for reproducible builds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.pluginkit import BuildOption, gan_hooks, option_value, options_hook

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = ["build_options", "resolve_options", "zoo_build_model", "zoo_model_options", "zoo_model_specs"]


def build_options(spec: ModelSpec) -> list[BuildOption]:
    """DCGAN's build options (``zoo info dcgan``): ``image_size``, ``channels``, ``latent_dim``,
    ``ngf``, ``ndf``, with defaults from ``spec`` (``input_size``, ``config``: 64, 3, 100, 64, 64)."""
    cfg = spec.config
    min_size = max(16, spec.min_size)
    return [
        BuildOption(
            "image_size",
            "int",
            spec.input_size[-1],
            f"height = width in pixels, a power of two >= {min_size}; 64 in pytorch/examples",
            minimum=min_size,
            from_data=True,
        ),
        BuildOption("channels", "int", spec.input_size[0], "image channels: 1 grey, 3 RGB", minimum=1, from_data=True),
        BuildOption("latent_dim", "int", cfg.get("latent_dim", 100), "noise length nz, 100 in the paper", minimum=1),
        BuildOption("ngf", "int", cfg.get("ngf", 64), "generator width, 64 in the paper", minimum=1),
        BuildOption("ndf", "int", cfg.get("ndf", 64), "discriminator width, 64 in the paper", minimum=1),
    ]


def resolve_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, int]:
    """Validate build options against ``spec`` and fill in the defaults (no torch).

    Args:
        spec: a spec of this plugin with ``arch == "dcgan"`` (``spec.config`` may set
            ``latent_dim``, ``ngf``, ``ndf``).
        options: ``image_size``, ``channels``, ``latent_dim``, ``ngf``, ``ndf`` (ints; a
            missing or ``None`` value takes the default); other keys are ignored.

    Returns:
        ``{"image_size", "channels", "latent_dim", "ngf", "ndf"}``, all ints: the keyword
        arguments of ``DCGANAdapter(spec, ...)``.

    Raises:
        ZooError: an unknown ``spec.arch``; a value is not an int or below its minimum, or
            ``image_size`` is not a power of two >= 16 (or below ``spec.min_size``); exit code 2.
    """
    if spec.arch != "dcgan":
        raise ZooError(f"{spec.name}: the dcgan plugin builds arch 'dcgan', not {spec.arch!r}")
    out = {o.name: option_value(spec.name, o, options.get(o.name)) for o in build_options(spec)}
    size, min_size = out["image_size"], max(16, spec.min_size)
    if size & (size - 1):
        valid = ", ".join(str(min_size * 2**i) for i in range(4))
        raise ZooError(
            f"{spec.name} {{param}} must be a power of two >= {min_size} ({valid}, ...), got {size!r}", param="image_size", exit_code=2
        )
    return out


zoo_model_specs, zoo_build_model = gan_hooks(
    __name__,
    adapter="zoo.plugins.dcgan.adapter:DCGANAdapter",
    options=resolve_options,
)
zoo_model_options = options_hook(__name__, build_options)
