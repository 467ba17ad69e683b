"""cGAN: the conditional MLP GAN, built-in ``zoo`` plugin (hook module; no torch import).

Origin: Mirza & Osindero 2014, "Conditional Generative Adversarial Nets",
arXiv:1411.1784, section 4.1 (MNIST): generator and discriminator both see the class
label ``y`` (one-hot). No reference code or weights were published; the networks follow
the paper's text (see :mod:`zoo.plugins.cgan_model`).

Two files, as for every GAN family (see :mod:`zoo.pluginkit`): this module validates
the build options in pure Python and makes the hooks with :func:`zoo.pluginkit.gan_hooks`;
the networks and ``CGANAdapter`` live in :mod:`zoo.plugins.cgan_model`, imported only when a
model is built. The model table is ``[models.cgan]`` in ``registry.toml``.

Build options (``zoo.registry.build("cgan", **options)``):

* ``image_size``, ``channels``, ``latent_dim``: as the vanilla GAN
  (:func:`zoo.plugins.vanilla_gan.image_options`; defaults 28, 1, 100).
* ``num_classes``: number of classes of the label, >= 1 (default: the number of
  ``class_names`` when given, else ``spec.config["num_classes"]``, 10).
* ``class_names``: the class names in label order (``zoo train`` passes the data's
  classes; a checkpoint's sidecar gives them back at sample time through
  ``config()``). Default ``"0"``, ``"1"``, ... so ``--label 7`` and ``--label seven``
  work on digits. ``condition`` (the sidecar's ``ConditionSpec.to_json()`` dict) is read
  for its ``names`` when ``class_names`` is absent.
* ``mode_seeking``: weight (>= 0, default 0.3) of the mode-seeking regulariser of Mao et
  al. 2019 in the generator loss; 0 is the paper's plain cGAN (see ``CGANAdapter``).
* ``projection``: ``true`` (default) adds the projection term of Miyato & Koyama 2018 to
  the discriminator; ``false`` is the paper's discriminator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.pluginkit import boolean, gan_hooks, positive_int
from zoo.plugins.vanilla_gan import image_options

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = ["resolve_options", "zoo_build_model", "zoo_model_specs"]


def _class_names(spec: ModelSpec, options: dict[str, Any]) -> tuple[str, ...] | None:
    names = options.get("class_names")
    if names is None:
        condition = options.get("condition")
        names = condition.get("names") if isinstance(condition, dict) else None
        names = names or None
    if names is None:
        return None
    if isinstance(names, str) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ZooError(f"{spec.name} {{param}} must be a list of non-empty class names, got {names!r}", param="class_names", exit_code=2)
    names = tuple(names)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ZooError(f"{spec.name} {{param}} repeats {', '.join(repeated)}; give each class once", param="class_names", exit_code=2)
    return names


def resolve_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, Any]:
    """Validate the build options against ``spec`` and fill in the defaults (no torch).

    Args:
        spec: a spec of this plugin with ``arch == "cgan"``.
        options: ``image_size``, ``channels``, ``latent_dim``, ``num_classes`` (ints),
            ``class_names`` (a list of str) or ``condition`` (a ``ConditionSpec.to_json()``
            dict), ``mode_seeking`` (float >= 0), ``projection`` (bool); missing or ``None`` takes the default,
            other keys are ignored.

    Returns:
        ``{"image_size", "channels", "latent_dim", "num_classes", "class_names"}`` (plus ``"mode_seeking"`` and
        ``"projection"`` when given): the
        keyword arguments of ``CGANAdapter(spec, ...)``; ``class_names`` is a tuple of
        ``num_classes`` strings.

    Raises:
        ZooError: an unknown ``spec.arch``; a value that is not a positive int; class
            names that are not distinct non-empty strings, or whose number differs from
            ``num_classes`` (exit code 2).
    """
    if spec.arch != "cgan":
        raise ZooError(f"{spec.name}: the cgan plugin builds arch 'cgan', not {spec.arch!r}")
    out: dict[str, Any] = image_options(spec, options)
    names = _class_names(spec, options)
    k = options.get("num_classes")
    if k is None:
        k = len(names) if names is not None else spec.config.get("num_classes", 10)
    k = positive_int(spec.name, "num_classes", k, "a positive int (10 digit classes in the paper)")
    if names is not None and len(names) != k:
        raise ZooError(
            f"{spec.name} {{param}} is {k} but {len(names)} class names were given; drop it or give {len(names)}",
            param="num_classes",
            exit_code=2,
        )
    out["num_classes"] = k
    out["class_names"] = names if names is not None else tuple(str(i) for i in range(k))
    ms = options.get("mode_seeking")
    if ms is not None:
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not ms >= 0:
            raise ZooError(
                f"{spec.name} {{param}} must be a number >= 0 (0: the paper's plain cGAN), got {ms!r}", param="mode_seeking", exit_code=2
            )
        out["mode_seeking"] = float(ms)
    projection = options.get("projection")
    if projection is not None:
        out["projection"] = boolean(spec.name, "projection", projection, "true or false (false: the paper's discriminator)")
    return out


zoo_model_specs, zoo_build_model = gan_hooks(__name__, adapter="zoo.plugins.cgan_model:CGANAdapter", options=resolve_options)
