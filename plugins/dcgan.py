"""DCGAN: deep convolutional GAN, built-in ``zoo`` plugin.

Origin: Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", arXiv:1511.06434. Reference
implementation: pytorch/examples ``dcgan/main.py`` (BSD-3-Clause); with the default
configuration (64x64 RGB, latent 100, ngf = ndf = 64) the generator and discriminator
have exactly its state-dict layout, so checkpoints saved by that script
(``netG_epoch_N.pth``, ``netD_epoch_N.pth``; no pretrained weights are published) load
strictly with :meth:`DCGANAdapter.load_reference_state_dict`.

Contents, in order: the build options (pure Python), the networks and the adapter
(``Generator``, ``Discriminator``, ``DCGANAdapter``, ``weights_init``,
``infer_reference_config``: defined in the private module ``zoo.plugins._dcgan_impl`` and
re-exported here on first access, so that importing this plugin, as ``zoo list`` does,
never imports torch), then the hooks. It is written as a third-party plugin would be:
its model table lives in ``registry.toml`` (``[models.dcgan]``) and reaches the registry
through :func:`zoo_model_specs`.

Build options (``zoo.registry.build("dcgan", **options)``):

* ``image_size``: height and width in pixels, a power of two >= 16 (default
  ``spec.input_size[-1]``, 64). Each doubling adds one up-/down-sampling block.
* ``channels``: image channels, >= 1 (default ``spec.input_size[0]``, 3).
* ``latent_dim``, ``ngf``, ``ndf``: noise length and network widths, >= 1 (defaults from
  ``spec.config``: 100, 64, 64).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo import hookimpl
from zoo.errors import ZooError
from zoo.catalog import builtin_specs

if TYPE_CHECKING:  # pragma: no cover
    from zoo.plugins._dcgan_impl import DCGANAdapter
    from zoo.spec import ModelSpec

__all__ = [
    "Generator",
    "Discriminator",
    "DCGANAdapter",
    "weights_init",
    "infer_reference_config",
    "resolve_options",
    "zoo_model_specs",
    "zoo_build_model",
]

_DEFAULTS = {"latent_dim": 100, "ngf": 64, "ndf": 64}
_TORCH_NAMES = {"Generator", "Discriminator", "DCGANAdapter", "weights_init", "infer_reference_config"}


def __getattr__(name: str) -> Any:
    """Load the torch half (networks, adapter) on first access (PEP 562)."""
    if name in _TORCH_NAMES:
        from zoo.plugins import _dcgan_impl

        return getattr(_dcgan_impl, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _positive_int(name: str, value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ZooError(f"DCGAN {name} must be {what}, got {value!r}", exit_code=2)
    return int(value)


def resolve_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, int]:
    """Validate build options against ``spec`` and fill in the defaults (no torch).

    Args:
        spec: a spec of this plugin (``spec.config`` may set ``latent_dim``, ``ngf``, ``ndf``).
        options: ``image_size``, ``channels``, ``latent_dim``, ``ngf``, ``ndf`` (ints; a
            missing or ``None`` value takes the default); other keys are ignored.

    Returns:
        ``{"image_size", "channels", "latent_dim", "ngf", "ndf"}``, all ints.

    Raises:
        ZooError: a value is not a positive int, or ``image_size`` is not a power of two
            >= 16 (or below ``spec.min_size``).
    """

    def pick(key: str, default: Any) -> Any:
        value = options.get(key)
        return default if value is None else value

    cfg = {**_DEFAULTS, **{k: v for k, v in spec.config.items() if k in _DEFAULTS}}
    size = pick("image_size", spec.input_size[-1])
    min_size = max(16, spec.min_size)
    if isinstance(size, bool) or not isinstance(size, int) or size < min_size or size & (size - 1):
        valid = ", ".join(str(min_size * 2**i) for i in range(4))
        raise ZooError(f"DCGAN image_size must be a power of two >= {min_size} ({valid}, ...), got {size!r}", exit_code=2)
    return {
        "image_size": size,
        "channels": _positive_int("channels", pick("channels", spec.input_size[0]), "a positive int (1 grey, 3 RGB)"),
        "latent_dim": _positive_int("latent_dim", pick("latent_dim", cfg["latent_dim"]), "a positive int (100 in the paper)"),
        "ngf": _positive_int("ngf", pick("ngf", cfg["ngf"]), "a positive int (64 in the paper)"),
        "ndf": _positive_int("ndf", pick("ndf", cfg["ndf"]), "a positive int (64 in the paper)"),
    }


@hookimpl
def zoo_model_specs() -> list[ModelSpec]:
    """The ``[models.*]`` tables of ``registry.toml`` whose plugin is this module (``dcgan``)."""
    return builtin_specs(__name__)


@hookimpl
def zoo_build_model(spec: ModelSpec, options: dict[str, Any]) -> DCGANAdapter | None:
    """Build a randomly initialised :class:`DCGANAdapter` for a spec of this plugin.

    Weights are initialised as in the paper (:func:`weights_init`) from torch's global RNG;
    seed it first for reproducible builds.

    Returns:
        The adapter, or ``None`` when ``spec`` belongs to another plugin.

    Raises:
        ZooError: invalid options (see :func:`resolve_options`) or an unknown ``spec.arch``.
    """
    if spec.plugin != __name__:
        return None
    if spec.arch != "dcgan":
        raise ZooError(f"{spec.name}: the dcgan plugin builds arch 'dcgan', not {spec.arch!r}")
    cfg = resolve_options(spec, options)
    from zoo.plugins._dcgan_impl import DCGANAdapter

    return DCGANAdapter(spec, **cfg)
