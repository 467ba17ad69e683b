"""CycleGAN: unpaired image-to-image translation, built-in ``zoo`` plugin (hook module; no torch import).

Origin: Jun-Yan Zhu, Taesung Park, Phillip Isola & Alexei A. Efros, "Unpaired
Image-to-Image Translation using Cycle-Consistent Adversarial Networks", ICCV 2017,
arXiv:1703.10593. Reference implementation: junyanz/pytorch-CycleGAN-and-pix2pix
(BSD-2-Clause style licence, Copyright (c) 2017 Jun-Yan Zhu and Taesung Park):
``models/cycle_gan_model.py``, ``models/networks.py``, ``util/image_pool.py``.

Two files, as for every GAN family (see :mod:`zoo.pluginkit`): this module validates the
build options in pure Python and makes the hooks with :func:`zoo.pluginkit.gan_hooks`; the
networks, the official-file loader and ``CycleGANAdapter`` live in
:mod:`zoo.plugins.cyclegan_model`, imported only when a model is built. The model table
(with the released generators as ``[[models.cyclegan.weights]]``) is ``[models.cyclegan]``
in ``registry.toml``.

Build options (``zoo.registry.build("cyclegan", **options)``):

* ``image_size``: height = width in pixels, a multiple of 4, >= 8 (default 256, the
  released models' ``--crop_size``); ``channels``: >= 1 (default 3).
* ``ngf``, ``ndf``: widths of the generators and discriminators (official ``--ngf 64 --ndf 64``).
* ``n_blocks``: residual blocks of each generator: 9 for ``image_size >= 256``
  (``--netG resnet_9blocks``), 6 below (``resnet_6blocks``), as the paper's section 4 says.
* ``n_layers_d``: stride-2 convs of the PatchGAN (official ``--n_layers_D``, 3 = the 70x70
  ``basic`` discriminator); default 3, or the largest value that fits ``image_size``
  (the last feature map must be at least 3 x 3: ``image_size >= 3 * 2**n_layers_d``, so 2
  at 16 px and 1 at 8 px).
* ``use_dropout``: ``Dropout(0.5)`` in the residual blocks (CycleGAN's default ``--no_dropout``: off).
* ``lambda_a``, ``lambda_b``: cycle-loss weights (official ``--lambda_A 10 --lambda_B 10``);
  ``lambda_identity``: identity-loss weight relative to them (``--lambda_identity 0.5``);
  ``pool_size``: image history pool per domain (``--pool_size 50``; 0 = no pool).
* ``decay_after_epochs``: epochs at the initial learning rate before the linear decay to 0
  (official ``--n_epochs``); default ``None`` = half the epochs, the official 100 + 100 split.
* ``class_names``: the two domain names ``(A, B)`` (``zoo train`` passes the data's two class
  names; a sidecar's ``condition`` dict gives them back); default ``("A", "B")``.
* ``official_weights``: a released generator file (``horse2zebra.pth``, or the cached
  ``.safetensors`` conversion) loaded into ``generator_ab``; ``channels``, ``ngf``,
  ``n_blocks`` and ``use_dropout`` are then read from the file (an explicit value that
  disagrees is an error).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from zoo import hookimpl
from zoo.errors import ZooError
from zoo.pluginkit import OfficialKind, boolean, gan_hooks, positive_int

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = ["default_blocks", "domain_names", "max_layers_d", "resolve_options", "zoo_build_model", "zoo_model_specs"]

_DEFAULTS: dict[str, Any] = {"ngf": 64, "ndf": 64, "lambda_a": 10.0, "lambda_b": 10.0, "lambda_identity": 0.5, "pool_size": 50}
_OFFICIAL_LAYOUT = ("testA", "testB", "trainA", "trainB")


def default_blocks(image_size: int) -> int:
    """Residual blocks of the generator for ``image_size``: 9 at 256 px and above, else 6
    (Zhu et al. 2017, section 4 / appendix 7.2; official ``resnet_9blocks`` / ``resnet_6blocks``)."""
    return 9 if image_size >= 256 else 6


def max_layers_d(image_size: int) -> int:
    """The largest PatchGAN depth ``n_layers_d`` <= 3 whose last feature map is at least 3 x 3
    (``image_size >= 3 * 2**n_layers_d``): 3 from 24 px, 2 from 12 px, else 1."""
    return next((n for n in (3, 2, 1) if image_size >= 3 * 2**n), 1)


def _number(model: str, name: str, value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ZooError(f"{model} {{param}} must be {what}, got {value!r}", param=name, exit_code=2)
    return float(value)


def domain_names(model: str, names: Any) -> tuple[str, str]:
    """The two domain names ``(A, B)`` from the data's class names.

    Raises:
        ZooError: not exactly two distinct non-empty names; one line saying what the data
            must look like (the official ``trainA/ trainB/ testA/ testB/`` folder layout gets
            its own hint), exit code 2.
    """
    if isinstance(names, str) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ZooError(f"{model} {{param}} must be the two domain names (A, B), got {names!r}", param="class_names", exit_code=2)
    names = tuple(names)
    if tuple(sorted(names)) == _OFFICIAL_LAYOUT:
        raise ZooError(
            f"{model}: the data has the official CycleGAN layout (trainA/, trainB/, testA/, testB/), read as 4 classes; "
            "give --data a folder holding only trainA/ and trainB/, or train/{A,B}/ beside val/{A,B}/",
            exit_code=2,
        )
    if len(names) != 2:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise ZooError(
            f"{model} translates between two domains: the data must have exactly 2 classes (A, B), got {len(names)} ({shown}); "
            "choose two, e.g. --data digits:3,8, or a folder with two sub-folders such as trainA/ and trainB/",
            exit_code=2,
        )
    if names[0] == names[1]:
        raise ZooError(f"{model} {{param}} repeats {names[0]!r}; give two different domain names", param="class_names", exit_code=2)
    return names[0], names[1]


def resolve_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, Any]:
    """Validate the build options against ``spec`` and fill in the defaults (no torch).

    Args:
        spec: a spec of this plugin with ``arch == "cyclegan"`` (``spec.config`` may set the
            defaults of ``ngf``, ``ndf``, ``lambda_a``, ``lambda_b``, ``lambda_identity``, ``pool_size``).
        options: the build options of the module docstring; a missing or ``None`` value takes
            the default, other keys are ignored.

    Returns:
        The keyword arguments of ``CycleGANAdapter(spec, ...)``: ``image_size``,
        ``channels``, ``ngf``, ``ndf``, ``n_blocks``, ``n_layers_d`` (ints), ``use_dropout``
        (bool), ``lambda_a``, ``lambda_b``, ``lambda_identity`` (floats), ``pool_size`` (int),
        ``decay_after_epochs`` (int or ``None``), ``class_names`` (two str) and
        ``official_weights`` (str or ``None``). With ``official_weights``, ``channels``,
        ``ngf``, ``n_blocks`` and ``use_dropout`` are ``None`` unless given (the file decides).

    Raises:
        ZooError: an unknown ``spec.arch``; an ``image_size`` that is not a multiple of 4 of
            at least 8; a width, depth or size that is not a positive int; an ``n_layers_d``
            too deep for ``image_size``; a negative loss weight or pool size; class names that
            are not two distinct names (exit code 2).
    """
    if spec.arch != "cyclegan":
        raise ZooError(f"{spec.name}: the cyclegan plugin builds arch 'cyclegan', not {spec.arch!r}")
    name = spec.name

    def pick(key: str, default: Any) -> Any:
        value = options.get(key)
        return default if value is None else value

    cfg = {**_DEFAULTS, **{k: v for k, v in spec.config.items() if k in _DEFAULTS}}
    size = pick("image_size", spec.input_size[-1])
    if isinstance(size, bool) or not isinstance(size, int) or size < 8 or size % 4:
        raise ZooError(
            f"{name} {{param}} must be a multiple of 4 of at least 8 pixels (the generator down-samples twice; "
            f"the released models use 256), got {size!r}",
            param="image_size",
            exit_code=2,
        )
    weights = options.get("official_weights")
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise ZooError(f"{name} {{param}} must be a file path, got {type(weights).__name__}", param="official_weights", exit_code=2)
    official = weights is not None

    def from_file(key: str, default: Any) -> Any:  # the official file decides unless the caller insists
        return options.get(key) if official else pick(key, default)

    channels = from_file("channels", spec.input_size[0])
    ngf = from_file("ngf", cfg["ngf"])
    blocks = from_file("n_blocks", default_blocks(size))
    dropout = from_file("use_dropout", False)
    if channels is not None:
        channels = positive_int(name, "channels", channels, "a positive int (1 grey, 3 RGB)")
    if ngf is not None:
        ngf = positive_int(name, "ngf", ngf, "a positive int (64 in the paper)")
    if blocks is not None:
        blocks = positive_int(name, "n_blocks", blocks, "a positive int (9 at 256 px, 6 at 128 px in the paper)")
    if dropout is not None:
        boolean(name, "use_dropout", dropout)
    deepest = max_layers_d(size)
    layers = positive_int(name, "n_layers_d", pick("n_layers_d", min(3, deepest)), "a positive int (3: the 70x70 PatchGAN)")
    if layers > deepest:
        raise ZooError(
            f"{name} {{param}} {layers} does not fit image_size {size}: the PatchGAN needs image_size >= "
            f"{3 * 2**layers} (3 * 2**n_layers_d); use n_layers_d <= {deepest} or larger images",
            param="n_layers_d",
            exit_code=2,
        )
    decay = options.get("decay_after_epochs")
    if decay is not None and (isinstance(decay, bool) or not isinstance(decay, int) or decay < 0):
        raise ZooError(
            f"{name} {{param}} must be 0 or more epochs (official --n_epochs), got {decay!r}", param="decay_after_epochs", exit_code=2
        )
    pool = options.get("pool_size", cfg["pool_size"])
    pool = cfg["pool_size"] if pool is None else pool
    if isinstance(pool, bool) or not isinstance(pool, int) or pool < 0:
        raise ZooError(f"{name} {{param}} must be 0 or more images (50 in the paper), got {pool!r}", param="pool_size", exit_code=2)
    names = options.get("class_names")
    if names is None:
        condition = options.get("condition")
        names = (condition.get("names") if isinstance(condition, dict) else None) or None
    return {
        "image_size": size,
        "channels": channels,
        "ngf": ngf,
        "ndf": positive_int(name, "ndf", pick("ndf", cfg["ndf"]), "a positive int (64 in the paper)"),
        "n_blocks": blocks,
        "n_layers_d": layers,
        "use_dropout": dropout,
        "lambda_a": _number(name, "lambda_a", pick("lambda_a", cfg["lambda_a"]), "a number >= 0 (10 in the paper)"),
        "lambda_b": _number(name, "lambda_b", pick("lambda_b", cfg["lambda_b"]), "a number >= 0 (10 in the paper)"),
        "lambda_identity": _number(
            name, "lambda_identity", pick("lambda_identity", cfg["lambda_identity"]), "a number >= 0 (0.5 in the official code)"
        ),
        "pool_size": pool,
        "decay_after_epochs": decay,
        "class_names": ("A", "B") if names is None else domain_names(name, names),
        "official_weights": None if weights is None else os.fspath(weights),
    }


@hookimpl
def zoo_official_kinds() -> list[OfficialKind]:
    """The official checkpoint files this family's loaders read, each recognised by keys only it has."""
    return [
        OfficialKind(
            "cyclegan.G",
            "CycleGAN ResnetGenerator (latest_net_G.pth)",
            frozenset({"model.1.weight", "model.10.conv_block.1.weight"}),
            "load_official_cyclegan(path, part='G')",
        ),
        OfficialKind(
            "cyclegan.D",
            "CycleGAN NLayerDiscriminator (latest_net_D_A.pth)",
            frozenset({"model.0.weight", "model.0.bias", "model.2.weight"}),
            "load_official_cyclegan(path, part='D')",
        ),
    ]


zoo_model_specs, zoo_build_model = gan_hooks(__name__, adapter="zoo.plugins.cyclegan_model:CycleGANAdapter", options=resolve_options)
