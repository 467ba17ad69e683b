"""StarGAN: multi-domain image-to-image translation, built-in ``zoo`` plugin (hook module; no torch import).

Origin: Choi, Choi, Kim, Ha, Kim & Choo, "StarGAN: Unified Generative Adversarial Networks
for Multi-Domain Image-to-Image Translation", CVPR 2018, arXiv:1711.09020. Reference
implementation: yunjey/stargan at 94dd002 (MIT licence): ``main.py`` (the defaults below),
``solver.py`` (losses, schedule, inference), ``data_loader.py`` (preprocessing),
``model.py`` (the networks). The released CelebA generators and discriminators
(``200000-G.ckpt`` / ``200000-D.ckpt``, 128 and 256 px, 5 attributes) load exactly.

The package, as every GAN family's (see :mod:`zoo.pluginkit`):

* this module: the declared build options (:func:`build_options`), their validation
  (:func:`resolve_options`, pure Python), the official checkpoint kinds
  (``zoo_official_kinds``), the ``celeba:`` data source (``zoo_data_sources``) and the hooks;
* :mod:`zoo.plugins.stargan.networks`: ``Generator``, ``Discriminator``, ``ResidualBlock``;
* :mod:`zoo.plugins.stargan.official`: ``load_official_stargan`` and the official inference mode;
* :mod:`zoo.plugins.stargan.losses`: the losses of ``solver.py``;
* :mod:`zoo.plugins.stargan.conditions`: the ``--attr`` / ``--from`` labels and ``create_labels``;
* :mod:`zoo.plugins.stargan.data`: CelebA attribute files (``--data celeba:DIR``), the
  released attributes, the official preprocessing;
* :mod:`zoo.plugins.stargan.sampling`: the official debug grid and the translation grids, columns headed by the targets;
* :mod:`zoo.plugins.stargan.adapter`: ``StarGANAdapter``, imported only when a model is built;
* ``registry.toml``: the ``[models.stargan]`` table, with the released weights.

Two modes, as the official repo (``--dataset CelebA`` / ``--dataset RaFD``):

* ``mode="attribute"`` (CelebA): multi-label 0/1 attribute vectors (``attrs``, default the
  released model's ``Black_Hair, Blond_Hair, Brown_Hair, Male, Young``), binary
  cross-entropy for the auxiliary classifier, hair colours exclusive.
* ``mode="domain"`` (RaFD, or any ImageFolder whose class folders are the domains): one
  class index per image, cross-entropy, the domains form one exclusive group.

Build options (``zoo.registry.build("stargan", **options)``; :func:`build_options` declares them):

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
import os
from typing import TYPE_CHECKING, Any

from zoo import hookimpl
from zoo.errors import ZooError
from zoo.pluginkit import BuildOption, OfficialKind, gan_hooks, name_list, option_value, options_hook

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = [
    "CELEBA_CROP_SIZE",
    "MODES",
    "build_options",
    "resolve_options",
    "zoo_build_model",
    "zoo_data_sources",
    "zoo_model_options",
    "zoo_model_specs",
    "zoo_official_kinds",
]

MODES = ("attribute", "domain")
#: main.py --celeba_crop_size
CELEBA_CROP_SIZE = 178
#: main.py defaults of the options a spec's ``config`` may change.
MAIN_PY = {"g_conv_dim": 64, "d_conv_dim": 64, "g_repeat_num": 6, "lambda_cls": 1.0, "lambda_rec": 10.0, "lambda_gp": 10.0}


def build_options(spec: ModelSpec) -> list[BuildOption]:
    """StarGAN's build options (``zoo info stargan``), in the order of the module docstring; the
    defaults are ``main.py``'s (:data:`MAIN_PY`), or the spec's ``config`` where it sets them."""
    cfg = {**MAIN_PY, **{k: v for k, v in spec.config.items() if k in MAIN_PY}}
    return [
        BuildOption(
            "image_size",
            "int",
            spec.input_size[-1],
            "height = width in pixels, a multiple of 4 and of 2**d_repeat_num; 128 in main.py",
            minimum=max(16, spec.min_size),
            from_data=True,
        ),
        BuildOption(
            "channels", "choice", 3, "3 RGB, or 1 grey: repeated to RGB as the official loader does", choices=(3, 1), from_data=True
        ),
        BuildOption("g_conv_dim", "int", cfg["g_conv_dim"], "generator width, 64 in main.py", minimum=1),
        BuildOption("d_conv_dim", "int", cfg["d_conv_dim"], "discriminator width, 64 in main.py", minimum=1),
        BuildOption("g_repeat_num", "int", cfg["g_repeat_num"], "generator residual blocks, 6 in main.py", minimum=1),
        BuildOption(
            "d_repeat_num", "int", None, "discriminator stride-2 convs, 6 in main.py; default min(6, log2(image_size) - 1)", minimum=1
        ),
        BuildOption(
            "mode",
            "choice",
            None,
            "attribute: 0/1 attribute vectors, CelebA; domain: one label per image, RaFD or class folders; "
            "default domain for class names without attrs",
            choices=MODES,
        ),
        BuildOption(
            "attrs", "str", None, "attribute or domain names in label order; default the released 5 CelebA attributes", from_data=True
        ),
        BuildOption("class_names", "str", None, "the data's class names: the domains, or the same names as attrs", from_data=True),
        BuildOption(
            "crop_size",
            "int",
            None,
            "centre crop before resizing, 178 in main.py for CelebA; default 178 in attribute mode, 0 = none in domain mode",
            minimum=0,
        ),
        BuildOption("lambda_cls", "float", cfg["lambda_cls"], "weight of the classification loss, 1 in main.py", minimum=0),
        BuildOption("lambda_rec", "float", cfg["lambda_rec"], "weight of the reconstruction loss, 10 in main.py", minimum=0),
        BuildOption("lambda_gp", "float", cfg["lambda_gp"], "weight of the gradient penalty, 10 in main.py", minimum=0),
        BuildOption("official_weights", "str", None, "an official *-G.ckpt: its configuration is read from the shapes", from_data=True),
        BuildOption(
            "official_discriminator", "str", None, "an official *-D.ckpt; default the -D file beside official_weights", from_data=True
        ),
    ]


def _names(spec: ModelSpec, options: dict[str, Any]) -> tuple[str, ...] | None:
    """``attrs`` / ``class_names`` / the sidecar ``condition`` names, validated (``None`` if absent)."""
    attrs = options.get("attrs")
    if isinstance(attrs, str):
        attrs = [a.strip() for a in attrs.split(",") if a.strip()]
    attrs, classes = name_list(spec.name, "attrs", attrs), name_list(spec.name, "class_names", options.get("class_names"))
    if attrs is not None and classes is not None and attrs != classes:
        raise ZooError(
            f"{spec.name} {{param}} {', '.join(attrs)} differ from the data's classes {', '.join(classes)}; give the same names or drop one",
            param="attrs",
            exit_code=2,
        )
    names = attrs if attrs is not None else classes
    if names is None and isinstance(options.get("condition"), dict):
        names = name_list(spec.name, "attrs", options["condition"].get("names") or None)
    return names


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
    declared = {o.name: o for o in build_options(spec)}

    def value(key: str) -> Any:
        """The option ``key`` as given, checked against its declaration; its default when left out."""
        return option_value(spec.name, declared[key], options.get(key))

    size = value("image_size")
    value("channels")  # checked; the networks are RGB whatever the data
    out: dict[str, Any] = {"image_size": size, **{key: value(key) for key in ("g_conv_dim", "d_conv_dim", "g_repeat_num")}}
    d = value("d_repeat_num")
    out["d_repeat_num"] = d = max(1, min(6, int(math.log2(size)) - 1)) if d is None else d
    if size % 4 or size % 2**d:
        raise ZooError(
            f"{spec.name} {{param}} {size} must be a multiple of 4 (generator) and of 2**d_repeat_num = {2**d} (discriminator); "
            f"use {max(4, 2**d) * max(1, round(size / max(4, 2**d)))} or lower d_repeat_num",
            param="image_size",
            exit_code=2,
        )
    names = _names(spec, options)
    mode = value("mode")
    if mode is None:
        domains = names is not None and options.get("attrs") is None and options.get("class_names") is not None
        mode = "attribute" if options.get("official_weights") is not None or not domains else "domain"
    if mode == "domain" and names is not None and len(names) < 2:
        raise ZooError(f"{spec.name} in domain mode needs at least 2 domains, got {len(names)}: {', '.join(names)}", exit_code=2)
    out["mode"], out["attrs"] = mode, names
    crop = value("crop_size")
    out["crop_size"] = (CELEBA_CROP_SIZE if mode == "attribute" else 0) if crop is None else crop
    out.update({key: value(key) for key in ("lambda_cls", "lambda_rec", "lambda_gp")})
    for key in ("official_weights", "official_discriminator"):
        path = options.get(key)
        out[key] = option_value(spec.name, declared[key], os.fspath(path) if isinstance(path, os.PathLike) else path)
    return out


@hookimpl
def zoo_data_sources() -> dict[str, Any]:
    """``--data celeba:DIR``: CelebA-style attribute data (:func:`zoo.plugins.stargan.data.resolve_celeba`)."""

    def celeba(location: str, **options: Any) -> Any:
        from zoo.plugins.stargan.data import resolve_celeba

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


zoo_model_specs, zoo_build_model = gan_hooks(
    __name__,
    adapter="zoo.plugins.stargan.adapter:StarGANAdapter",
    options=resolve_options,
)
zoo_model_options = options_hook(__name__, build_options)
