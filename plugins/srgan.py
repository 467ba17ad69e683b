"""SRResNet and SRGAN: 4x photo super-resolution, built-in ``zoo`` plugin (hook module; no torch import).

Origin: Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network", CVPR 2017, arXiv:1609.04802. Reference implementations whose
checkpoints load exactly: Lornatang/SRGAN-PyTorch (Apache-2.0) and leftthomas/SRGAN (MIT);
see :mod:`zoo.plugins.srgan_model`, which holds the networks, the official-file loader and
``SRGANAdapter`` (imported only when a model is built, so ``zoo list`` never imports torch).

Two registry entries, one family (``[models.srresnet]`` and ``[models.srgan]`` in
``registry.toml``), because the paper trains and reports them as two models (Table 2:
SRResNet and SRGAN) and their authors publish one weights file each:

* ``srresnet``: the generator alone, trained with pixel MSE (the paper's SRResNet, also the
  initialisation of SRGAN): ``zoo train srresnet --data DIR``.
* ``srgan``: the same generator plus the VGG-style discriminator, trained with the
  perceptual loss (content loss on VGG19 features + 1e-3 adversarial loss), usually started
  from a trained SRResNet (build option ``official_weights=``).

Build options (``zoo.registry.build("srgan", **options)``):

* ``image_size``: side of the high-resolution training patches in pixels (default 96, the
  paper's 96x96 HR crops); a multiple of ``upscale``, and of 16 for ``srgan`` (the
  discriminator halves it four times); ``channels``: 3 (RGB) or 1 (grey).
* ``upscale`` (2, 4, 8; default 4), ``ngf`` (generator width, 64), ``n_blocks`` (residual
  blocks, 16), ``ndf`` (discriminator width, 64; ``srgan`` only).
* ``flavour``: ``"lornatang"`` (the paper's SRResNet, Lornatang's layout; default) or
  ``"leftthomas"`` (leftthomas' 5-block generator of its released ``netG_epoch_4_100.pth``).
* ``official_weights``: a generator file to start from: Lornatang's
  ``SRResNet_x4-ImageNet.pth.tar`` / ``SRGAN_x4-ImageNet.pth.tar``, leftthomas'
  ``netG_epoch_4_100.pth``, their ``.safetensors`` conversions, or a ``zoo train srresnet``
  / ``zoo train srgan`` checkpoint (directory or ``model.safetensors``). The generator's
  configuration (``channels``, ``ngf``, ``n_blocks``, ``upscale``, ``flavour``) is read from
  the file; an explicit value that disagrees is an error.
* ``srgan`` only: ``content_loss``: ``"vgg54"`` (default, the paper's SRGAN-VGG54: VGG19
  relu5_4 features), ``"vgg22"`` (relu2_2) or ``"pixel"`` (the paper's SRGAN-MSE: pixel
  MSE as the content loss; the explicit opt-in when no VGG19 weights are at hand);
  ``content_weights``: the VGG19 weights of the feature network, ``"imagenet"`` (zoo's
  published ``vgg19`` weights, cached or downloaded) or a file (torchvision's
  ``vgg19-dcbb9e9d.pth``, a ``.safetensors``, a zoo ``vgg19`` checkpoint); required by the
  VGG content losses: training without them is a one-line error, never random features;
  ``adversarial_weight`` (1e-3, the paper's) and ``pixel_weight`` (0: the paper's; 1.0 in
  Lornatang's configs) weigh the generator's loss terms.
* ``zero_init_residual`` and ``icnr`` (both default ``True``): a generator built from scratch
  starts each residual block as the identity (its last BatchNorm weight zeroed; Goyal et al.
  2017, torchvision's ``zero_init_residual``, timm's ``zero_init_last``) and each sub-pixel
  convolution with ICNR (Aitken et al. 2017, fastai's ``PixelShuffle_ICNR``: no checkerboard
  at init). ``False`` keeps Lornatang's init for that part; ``benchmarks/sr.py`` measures the
  difference. Ignored when ``official_weights`` are loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo import hookimpl
from zoo.errors import ZooError
from zoo.pluginkit import OfficialKind, boolean, gan_hooks, positive_int

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = ["CONTENT_LOSSES", "FLAVOURS", "resolve_options", "zoo_build_model", "zoo_model_specs"]

FLAVOURS = ("lornatang", "leftthomas")
CONTENT_LOSSES = ("vgg54", "vgg22", "pixel")
_DEFAULTS: dict[str, Any] = {"ndf": 64, "adversarial_weight": 1e-3, "pixel_weight": 0.0}


def _choice(model: str, name: str, value: Any, choices: tuple[Any, ...]) -> Any:
    if value not in choices:
        raise ZooError(f"{model} {{param}} must be one of {', '.join(map(repr, choices))}, got {value!r}", param=name, exit_code=2)
    return value


def _weight(model: str, name: str, value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ZooError(f"{model} {{param}} must be a number >= 0 ({what}), got {value!r}", param=name, exit_code=2)
    return float(value)


def _path(model: str, name: str, value: Any, words: tuple[str, ...] = ()) -> str | None:
    """``value`` as a path string (or one of ``words``), checked to exist; ``None`` stays ``None``."""
    if value is None or value in words:
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise ZooError(f"{model} {{param}} must be a file path, got {type(value).__name__}", param=name, exit_code=2)
    path = Path(value).expanduser()
    if not path.exists():
        valid = f"{' or '.join(repr(w) for w in words)} or " if words else ""
        raise ZooError(f"{model} {{param}} {value} does not exist; give {valid}an existing file", param=name, exit_code=2)
    return os.fspath(path)


def resolve_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, Any]:
    """Validate the build options against ``spec`` and fill in the defaults (no torch).

    Args:
        spec: a spec of this plugin, ``arch`` ``"srresnet"`` or ``"srgan"``.
        options: see the module docstring; a missing or ``None`` value takes the default,
            other keys (``class_names``, ``latent_dim``...) are ignored.

    Returns:
        The keyword arguments of ``SRGANAdapter(spec, ...)``: ``image_size``, ``ndf``,
        ``official_weights``, ``content_loss``, ``content_weights``, ``adversarial_weight``,
        ``pixel_weight``, ``zero_init_residual``, ``icnr`` with their defaults; the generator's ``channels``, ``ngf``,
        ``n_blocks``, ``upscale`` and ``flavour`` as given or ``None`` (the adapter then takes
        the ``official_weights`` file's, leftthomas' fixed ones, or the defaults 3, 64, 16, 4,
        ``"lornatang"``).

    Raises:
        ZooError: an unknown ``spec.arch``; a value of the wrong type or range, a patch size
            below 16 (or not a multiple of 16 for ``srgan``), a file that does not exist, a
            VGG option on ``srresnet`` (exit code 2). The adapter checks that ``image_size``
            is a multiple of ``upscale``.
    """
    if spec.arch not in ("srresnet", "srgan"):
        raise ZooError(f"{spec.name}: the srgan plugin builds arch 'srresnet' or 'srgan', not {spec.arch!r}")
    name, gan = spec.name, spec.arch == "srgan"

    def pick(key: str, default: Any) -> Any:
        value = options.get(key)
        return default if value is None else value

    out: dict[str, Any] = {"official_weights": _path(name, "official_weights", options.get("official_weights"))}
    cfg = {**_DEFAULTS, **{k: v for k, v in spec.config.items() if k in _DEFAULTS}}
    # The generator's shape: validated when given, else None (the adapter takes the file's
    # with official_weights, leftthomas' fixed one, or the spec's defaults).
    for key, what in (("ngf", "a positive int (64 in the paper)"), ("n_blocks", "a positive int (16 in the paper)")):
        value = options.get(key)
        out[key] = None if value is None else positive_int(name, key, value, what)
    for key, choices in (("upscale", (2, 4, 8)), ("flavour", FLAVOURS), ("channels", (1, 3))):
        value = options.get(key)
        out[key] = None if value is None else _choice(name, key, value, choices)
    size = pick("image_size", spec.input_size[-1])
    low = max(16, spec.min_size)
    if isinstance(size, bool) or not isinstance(size, int) or size < low or (gan and size % 16):
        rule = f"a multiple of 16 and >= {low} (the discriminator halves it four times)" if gan else f"an int >= {low}"
        raise ZooError(f"{name} {{param}} (the high-resolution patch side) must be {rule}, got {size!r}", param="image_size", exit_code=2)
    out["image_size"] = size
    out["ndf"] = positive_int(name, "ndf", pick("ndf", cfg["ndf"]), "a positive int (64 in the paper)")
    content = pick("content_loss", "vgg54")
    if not gan:
        for key in ("content_loss", "content_weights"):
            if options.get(key) is not None:
                raise ZooError(
                    f"{name} trains with pixel MSE only; {{param}} is an option of srgan (build srgan for the perceptual loss)",
                    param=key,
                    exit_code=2,
                )
    out["content_loss"] = _choice(name, "content_loss", content, CONTENT_LOSSES)
    out["content_weights"] = _path(name, "content_weights", options.get("content_weights"), ("imagenet",))
    out["adversarial_weight"] = _weight(
        name, "adversarial_weight", pick("adversarial_weight", cfg["adversarial_weight"]), "1e-3 in the paper"
    )
    out["pixel_weight"] = _weight(
        name, "pixel_weight", pick("pixel_weight", cfg["pixel_weight"]), "0 in the paper, 1 in Lornatang's configs"
    )
    for key in ("zero_init_residual", "icnr"):
        out[key] = boolean(name, key, pick(key, True))
    return out


@hookimpl
def zoo_official_kinds() -> list[OfficialKind]:
    """The official checkpoint files this family's loaders read, each recognised by keys only it has."""
    return [
        OfficialKind(
            "srgan.G",
            "SRGAN SRResNet generator (Lornatang/SRGAN-PyTorch SRGAN_x4-ImageNet.pth.tar)",
            frozenset({"conv1.0.weight", "trunk.0.rcb.0.weight", "conv3.weight"}),
            "load_official_srgan(path, part='G', flavour='lornatang')",
        ),
        OfficialKind(
            "srgan.D",
            "SRGAN discriminator (Lornatang/SRGAN-PyTorch DiscriminatorForVGG_x4-ImageNet.pth.tar)",
            frozenset({"features.0.weight", "classifier.0.weight", "classifier.2.weight"}),
            "load_official_srgan(path, part='D', flavour='lornatang')",
        ),
        OfficialKind(
            "srgan-leftthomas.G",
            "SRGAN generator (leftthomas/SRGAN netG_epoch_4_100.pth)",
            frozenset({"block1.0.weight", "block7.0.weight", "block8.0.conv.weight"}),
            "load_official_srgan(path, part='G', flavour='leftthomas')",
        ),
    ]


zoo_model_specs, zoo_build_model = gan_hooks(__name__, adapter="zoo.plugins.srgan_model:SRGANAdapter", options=resolve_options)
