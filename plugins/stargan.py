"""StarGAN: multi-domain image-to-image translation, built-in ``zoo`` plugin (hook module; no torch import).

Origin: Choi, Choi, Kim, Ha, Kim & Choo, "StarGAN: Unified Generative Adversarial Networks
for Multi-Domain Image-to-Image Translation", CVPR 2018, arXiv:1711.09020. Reference
implementation: yunjey/stargan (MIT licence) ``main.py`` (the defaults below),
``solver.py`` (losses, schedule, inference), ``data_loader.py`` (preprocessing),
``model.py`` (the networks). The networks, the adapter and the official-checkpoint loader
live in :mod:`zoo.plugins.stargan_model`, imported only when a model is built; the CelebA
attribute-file data source in :mod:`zoo.plugins.stargan_data`. The model table is
``[models.stargan]`` in ``registry.toml``.

Two modes, as the official repo (``--dataset CelebA`` / ``--dataset RaFD``):

* ``mode="attribute"`` (CelebA): multi-label 0/1 attribute vectors (``attrs``, default the
  released model's ``Black_Hair, Blond_Hair, Brown_Hair, Male, Young``), binary
  cross-entropy for the auxiliary classifier, hair colours exclusive.
* ``mode="domain"`` (RaFD, or any ImageFolder whose class folders are the domains): one
  class index per image, cross-entropy, the domains form one exclusive group.

Build options (``zoo.registry.build("stargan", **options)``):

* ``image_size``: height = width in pixels, a multiple of 4 and of ``2**d_repeat_num``,
  >= ``spec.min_size`` (default ``spec.input_size[-1]``, 128, ``main.py --image_size``).
* ``channels``: 3, or 1 for grey data: the networks are RGB as in the official
  ``model.py`` (the generator's first conv takes 3 + c_dim channels) and grey images are
  repeated to RGB, as the official RaFD loader (``torchvision.datasets.ImageFolder``, PIL
  ``convert("RGB")``) does. The model always has 3 channels.
* ``g_conv_dim``, ``d_conv_dim`` (64), ``g_repeat_num`` (6): ``main.py`` defaults.
* ``d_repeat_num``: stride-2 convs of the discriminator (``main.py``: 6 at 128 px). Default
  ``min(6, log2(image_size) - 1)``, which keeps the official 2x2 final map at 128 px and
  6 at 256 px (the released 256 x 256 model), and lets small images (32 px: 4) build.
* ``mode``: ``"attribute"`` or ``"domain"``; default ``"attribute"`` unless class names
  come without ``attrs`` (``zoo train`` on an ImageFolder or ``digits`` passes its class
  names: domains).
* ``attrs``: the attribute or domain names in label order (a list or comma-separated
  text); ``class_names`` (what ``zoo train`` passes) is the same; a checkpoint sidecar's
  ``condition`` names are read when both are absent.
* ``crop_size``: centre crop before resizing (``main.py --celeba_crop_size 178``; default
  178 in attribute mode, none in domain mode; 0 = none: resize and centre-crop to
  ``image_size`` as zoo does for folders).
* ``lambda_cls`` (1), ``lambda_rec`` (10), ``lambda_gp`` (10): loss weights (``main.py``).
* ``official_weights``: path of an official ``*-G.ckpt`` (or its ``.safetensors``
  conversion). The generator's configuration is read from its shapes and it loads
  strictly; a ``*-D.ckpt`` beside it (same iteration) is loaded as the discriminator, or
  give ``official_discriminator``. The names default to the released 5 attributes.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from zoo import hookimpl
from zoo.errors import ZooError
from zoo.pluginkit import OfficialKind, gan_hooks, positive_int

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = ["MODES", "resolve_options", "zoo_build_model", "zoo_model_specs"]

MODES = ("attribute", "domain")
_DEFAULTS = {"g_conv_dim": 64, "d_conv_dim": 64, "g_repeat_num": 6, "lambda_cls": 1.0, "lambda_rec": 10.0, "lambda_gp": 10.0}
#: main.py --celeba_crop_size
CELEBA_CROP_SIZE = 178


def _names(spec: ModelSpec, options: dict[str, Any]) -> tuple[str, ...] | None:
    """``attrs`` / ``class_names`` / the sidecar ``condition`` names, validated (``None`` if absent)."""
    attrs, classes = options.get("attrs"), options.get("class_names")
    if isinstance(attrs, str):
        attrs = [a.strip() for a in attrs.split(",") if a.strip()]
    for key, names in (("attrs", attrs), ("class_names", classes)):
        if names is None:
            continue
        if isinstance(names, str) or not names or not all(isinstance(n, str) and n.strip() for n in names):
            raise ZooError(f"{spec.name} {{param}} must be a non-empty list of names, got {names!r}", param=key, exit_code=2)
        repeated = sorted({n for n in names if list(names).count(n) > 1})
        if repeated:
            raise ZooError(f"{spec.name} {{param}} repeats {', '.join(repeated)}; give each name once", param=key, exit_code=2)
    if attrs is not None and classes is not None and list(attrs) != list(classes):
        raise ZooError(
            f"{spec.name} {{param}} {', '.join(attrs)} differ from the data's classes {', '.join(classes)}; give the same names or drop one",
            param="attrs",
            exit_code=2,
        )
    names = attrs if attrs is not None else classes
    if names is None and isinstance(options.get("condition"), dict):
        names = options["condition"].get("names") or None
    return tuple(names) if names is not None else None


def resolve_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, Any]:
    """Validate the build options against ``spec`` and fill in the defaults (no torch).

    Args:
        spec: a spec of this plugin with ``arch == "stargan"``.
        options: the build options of the module docstring; missing or ``None`` takes the
            default, other keys are ignored.

    Returns:
        The keyword arguments of ``StarGANAdapter(spec, ...)``: ``image_size``,
        ``g_conv_dim``, ``d_conv_dim``, ``g_repeat_num``, ``d_repeat_num`` (ints), ``mode``,
        ``attrs`` (tuple of names or ``None`` = the released 5 attributes), ``crop_size``
        (int, 0 = none), ``lambda_cls``, ``lambda_rec``, ``lambda_gp`` (floats),
        ``official_weights``, ``official_discriminator`` (str or ``None``).

    Raises:
        ZooError: an unknown ``spec.arch``; a bad value (one line naming the option and
            what is valid; exit code 2).
    """
    if spec.arch != "stargan":
        raise ZooError(f"{spec.name}: the stargan plugin builds arch 'stargan', not {spec.arch!r}")

    def pick(key: str, default: Any) -> Any:
        value = options.get(key)
        return default if value is None else value

    cfg = {**_DEFAULTS, **{k: v for k, v in spec.config.items() if k in _DEFAULTS}}
    min_size = max(16, spec.min_size)
    size = positive_int(
        spec.name, "image_size", pick("image_size", spec.input_size[-1]), f"an int >= {min_size} (pixels)", minimum=min_size
    )
    channels = pick("channels", 3)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ZooError(
            f"{spec.name} {{param}} must be 3 (RGB) or 1 (grey, repeated to RGB as the official loader does), got {channels!r}",
            param="channels",
            exit_code=2,
        )
    out: dict[str, Any] = {"image_size": size}
    for key in ("g_conv_dim", "d_conv_dim", "g_repeat_num"):
        out[key] = positive_int(spec.name, key, pick(key, cfg[key]), f"a positive int ({cfg[key]} in main.py)")
    d_default = max(1, min(6, int(math.log2(size)) - 1))
    out["d_repeat_num"] = d = positive_int(spec.name, "d_repeat_num", pick("d_repeat_num", d_default), "a positive int (6 in main.py)")
    if size % 4 or size % 2**d:
        raise ZooError(
            f"{spec.name} {{param}} {size} must be a multiple of 4 (generator) and of 2**d_repeat_num = {2**d} (discriminator); "
            f"use {max(4, 2**d) * max(1, round(size / max(4, 2**d)))} or lower d_repeat_num",
            param="image_size",
            exit_code=2,
        )
    names = _names(spec, options)
    mode = pick(
        "mode", "domain" if names is not None and options.get("attrs") is None and options.get("class_names") is not None else "attribute"
    )
    if options.get("official_weights") is not None and options.get("mode") is None:
        mode = "attribute"
    if mode not in MODES:
        raise ZooError(f"{spec.name} {{param}} must be one of {', '.join(MODES)}, got {mode!r}", param="mode", exit_code=2)
    if mode == "domain" and names is not None and len(names) < 2:
        raise ZooError(f"{spec.name} in domain mode needs at least 2 domains, got {len(names)}: {', '.join(names)}", exit_code=2)
    out["mode"], out["attrs"] = mode, names
    crop = pick("crop_size", CELEBA_CROP_SIZE if mode == "attribute" else 0)
    if isinstance(crop, bool) or not isinstance(crop, int) or crop < 0:
        raise ZooError(
            f"{spec.name} {{param}} must be an int >= 0 (178 for CelebA, 0 = no crop), got {crop!r}", param="crop_size", exit_code=2
        )
    out["crop_size"] = crop
    for key in ("lambda_cls", "lambda_rec", "lambda_gp"):
        value = pick(key, cfg[key])
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ZooError(f"{spec.name} {{param}} must be a number >= 0 ({cfg[key]:g} in main.py), got {value!r}", param=key, exit_code=2)
        out[key] = float(value)
    for key in ("official_weights", "official_discriminator"):
        value = options.get(key)
        if value is not None and not isinstance(value, str):
            value = str(value)  # a pathlib.Path
        out[key] = value
    return out


@hookimpl
def zoo_data_sources() -> dict[str, Any]:
    """``--data celeba:DIR``: CelebA-style attribute data (:func:`zoo.plugins.stargan_data.resolve_celeba`)."""

    def celeba(location: str, **options: Any) -> Any:
        from zoo.plugins.stargan_data import resolve_celeba

        return resolve_celeba(location, **options)

    return {"celeba": celeba}


@hookimpl
def zoo_official_kinds() -> list[OfficialKind]:
    """The official checkpoint files this family's loaders read, each recognised by keys only it has."""
    return [
        OfficialKind(
            "stargan.G",
            "StarGAN generator (yunjey/stargan *-G.ckpt)",
            frozenset({"main.0.weight", "main.1.running_mean", "main.9.main.0.weight"}),
            "load_official_stargan(path, part='G')",
        ),
        OfficialKind(
            "stargan.D",
            "StarGAN discriminator (yunjey/stargan *-D.ckpt)",
            frozenset({"main.0.weight", "main.0.bias", "conv1.weight", "conv2.weight"}),
            "load_official_stargan(path, part='D')",
        ),
    ]


zoo_model_specs, zoo_build_model = gan_hooks(__name__, adapter="zoo.plugins.stargan_model:StarGANAdapter", options=resolve_options)
