"""cGAN: the conditional MLP GAN, built-in ``zoo`` plugin (hook module; no torch import).

Origin: Mirza & Osindero 2014, "Conditional Generative Adversarial Nets",
arXiv:1411.1784, section 4.1 (MNIST): generator and discriminator both see the class
label ``y`` (one-hot). No reference code or weights were published; the networks follow
the paper's text (see :mod:`zoo.plugins.cgan.networks`). Two later additions, on by
default because the paper's networks ignore the noise within a class (measured in
``benchmarks/gans.md``): the mode-seeking regulariser of Mao et al. 2019 ("Mode Seeking
Generative Adversarial Networks for Diverse Image Synthesis", arXiv:1903.05628; official
HelenMao/MSGAN) and the projection discriminator term of Miyato & Koyama 2018 ("cGANs with
Projection Discriminator", arXiv:1802.05637); ``mode_seeking=0, projection=False`` is the paper's cGAN.

The package, as every GAN family's (see :mod:`zoo.pluginkit`):

* this module: the declared build options (:func:`build_options`), their validation
  (:func:`resolve_options`, pure Python) and the hooks;
* :mod:`zoo.plugins.cgan.networks`: ``Generator``, ``Discriminator``, ``one_hot`` (the
  maxout layers are the vanilla GAN's, :class:`zoo.plugins.vanilla_gan.networks.Maxout`);
* :mod:`zoo.plugins.cgan.losses`: the mode-seeking term;
* :mod:`zoo.plugins.cgan.adapter`: ``CGANAdapter``, imported only when a model is built;
* ``registry.toml``: the ``[models.cgan]`` table.

Build options (``zoo.registry.build("cgan", **options)``; :func:`build_options` declares them):

* ``image_size``, ``channels``, ``latent_dim``: as the vanilla GAN
  (:func:`zoo.plugins.vanilla_gan.image_options`; defaults 28, 1, 100).
* ``num_classes``: number of classes of the label, >= 1 (default: the number of
  ``class_names`` when given, else ``spec.config["num_classes"]``, 10).
* ``class_names``: the class names in label order (``zoo train`` passes the data's
  classes; a checkpoint's sidecar gives them back at sample time through
  ``config()``). Default ``"0"``, ``"1"``, ... so ``--label 7`` and ``--label seven``
  work on digits. ``condition`` (the sidecar's ``ConditionSpec.to_json()`` dict) is read
  for its ``names`` when ``class_names`` is absent.
* ``mode_seeking``: weight (>= 0, default 0.3) of the mode-seeking regulariser in the
  generator loss; 0 is the paper's plain cGAN (see ``CGANAdapter``).
* ``projection``: ``true`` (default) adds the projection term to the discriminator;
  ``false`` is the paper's discriminator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.pluginkit import BuildOption, gan_hooks, name_list, option_value, options_hook
from zoo.plugins.vanilla_gan import image_build_options, image_options

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = ["build_options", "resolve_options", "zoo_build_model", "zoo_model_options", "zoo_model_specs"]


def build_options(spec: ModelSpec) -> list[BuildOption]:
    """The cGAN's build options (``zoo info cgan``): the vanilla GAN's image options
    (:func:`zoo.plugins.vanilla_gan.image_build_options`), then ``num_classes``,
    ``class_names``, ``mode_seeking`` and ``projection``."""
    return [
        *image_build_options(spec),
        BuildOption(
            "num_classes",
            "int",
            None,
            f"classes of the label, 10 digits in the paper; default the number of class_names, else {spec.config.get('num_classes', 10)}",
            minimum=1,
        ),
        BuildOption("class_names", "str", None, "class names in label order, from the data; default 0, 1, ...", from_data=True),
        BuildOption(
            "mode_seeking", "float", 0.3, "weight of the mode-seeking term of Mao et al. 2019; 0: the paper's plain cGAN", minimum=0
        ),
        BuildOption("projection", "bool", True, "the projection term of Miyato & Koyama 2018; false: the paper's discriminator"),
    ]


def resolve_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, Any]:
    """Validate the build options against ``spec`` and fill in the defaults (no torch).

    Args:
        spec: a spec of this plugin with ``arch == "cgan"``.
        options: ``image_size``, ``channels``, ``latent_dim``, ``num_classes`` (ints),
            ``class_names`` (a list of str) or ``condition`` (a ``ConditionSpec.to_json()``
            dict), ``mode_seeking`` (float >= 0), ``projection`` (bool); missing or ``None``
            takes the default, other keys are ignored.

    Returns:
        ``{"image_size", "channels", "latent_dim", "num_classes", "class_names",
        "mode_seeking", "projection"}``: the keyword arguments of ``CGANAdapter(spec, ...)``;
        ``class_names`` is a tuple of ``num_classes`` strings.

    Raises:
        ZooError: an unknown ``spec.arch``; a value of another type or below its minimum;
            class names that are not distinct non-empty strings, or whose number differs
            from ``num_classes`` (exit code 2).
    """
    if spec.arch != "cgan":
        raise ZooError(f"{spec.name}: the cgan plugin builds arch 'cgan', not {spec.arch!r}")
    declared = {o.name: o for o in build_options(spec)}
    out: dict[str, Any] = image_options(spec, options)
    given = options.get("class_names")
    if given is None and isinstance(options.get("condition"), dict):
        given = options["condition"].get("names") or None
    names = name_list(spec.name, "class_names", given)
    k = option_value(spec.name, declared["num_classes"], options.get("num_classes"))
    if k is None:
        k = len(names) if names is not None else spec.config.get("num_classes", 10)
    if names is not None and len(names) != k:
        raise ZooError(
            f"{spec.name} {{param}} is {k} but {len(names)} class names were given; drop it or give {len(names)}",
            param="num_classes",
            exit_code=2,
        )
    out["num_classes"] = k
    out["class_names"] = names if names is not None else tuple(str(i) for i in range(k))
    for key in ("mode_seeking", "projection"):
        out[key] = option_value(spec.name, declared[key], options.get(key))
    return out


zoo_model_specs, zoo_build_model = gan_hooks(
    __name__,
    adapter="zoo.plugins.cgan.adapter:CGANAdapter",
    options=resolve_options,
)
zoo_model_options = options_hook(__name__, build_options)
