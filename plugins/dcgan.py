"""DCGAN: deep convolutional GAN, built-in ``zoo`` plugin (the hook module; no torch import).

Origin: Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", arXiv:1511.06434. Reference
implementation: pytorch/examples ``dcgan/main.py`` (BSD-3-Clause); with the default
configuration (64x64 RGB, latent 100, ngf = ndf = 64) the generator and discriminator
have exactly its state-dict layout, so checkpoints saved by that script
(``netG_epoch_N.pth``, ``netD_epoch_N.pth``; no pretrained weights are published) load
strictly with ``DCGANAdapter.load_reference_state_dict``.

The plugin is two files, written as a third party would write theirs (see
:mod:`zoo.pluginkit`): this module holds the build options (pure Python) and the hooks
made by :func:`zoo.pluginkit.gan_hooks`; the networks and the adapter (``Generator``,
``Discriminator``, ``DCGANAdapter``, ``weights_init``, ``infer_reference_config``) live in
:mod:`zoo.plugins.dcgan_model`, imported only when a model is built, so that ``zoo list``
never imports torch. The model table lives in ``registry.toml`` (``[models.dcgan]``).

Build options (``zoo.registry.build("dcgan", **options)``):

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
from zoo.pluginkit import gan_hooks, positive_int

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = ["resolve_options", "zoo_build_model", "zoo_model_specs"]

_DEFAULTS = {"latent_dim": 100, "ngf": 64, "ndf": 64}


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
        ZooError: an unknown ``spec.arch``; a value is not a positive int, or ``image_size``
            is not a power of two >= 16 (or below ``spec.min_size``); exit code 2.
    """
    if spec.arch != "dcgan":
        raise ZooError(f"{spec.name}: the dcgan plugin builds arch 'dcgan', not {spec.arch!r}")

    def pick(key: str, default: Any) -> Any:
        value = options.get(key)
        return default if value is None else value

    cfg = {**_DEFAULTS, **{k: v for k, v in spec.config.items() if k in _DEFAULTS}}
    size = pick("image_size", spec.input_size[-1])
    min_size = max(16, spec.min_size)
    if isinstance(size, bool) or not isinstance(size, int) or size < min_size or size & (size - 1):
        valid = ", ".join(str(min_size * 2**i) for i in range(4))
        raise ZooError(
            f"DCGAN {{param}} must be a power of two >= {min_size} ({valid}, ...), got {size!r}", param="image_size", exit_code=2
        )
    return {
        "image_size": size,
        "channels": positive_int("DCGAN", "channels", pick("channels", spec.input_size[0]), "a positive int (1 grey, 3 RGB)"),
        "latent_dim": positive_int("DCGAN", "latent_dim", pick("latent_dim", cfg["latent_dim"]), "a positive int (100 in the paper)"),
        "ngf": positive_int("DCGAN", "ngf", pick("ngf", cfg["ngf"]), "a positive int (64 in the paper)"),
        "ndf": positive_int("DCGAN", "ndf", pick("ndf", cfg["ndf"]), "a positive int (64 in the paper)"),
    }


zoo_model_specs, zoo_build_model = gan_hooks(__name__, adapter="zoo.plugins.dcgan_model:DCGANAdapter", options=resolve_options)
