"""CycleGAN: unpaired image-to-image translation, built-in ``zoo`` plugin (hook module; no torch import).

The story. Translating horses into zebras, or photographs into Monet paintings, would take
pairs of the same scene in both styles, which do not exist. Zhu, Park, Isola & Efros
("Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks", ICCV
2017, arXiv:1703.10593) trained two generators, A -> B and B -> A, each against a PatchGAN
discriminator of its target domain (least-squares GAN loss), and tied them together with a
cycle-consistency loss: translating there and back must give the input again. An image
history pool steadies the discriminators, an identity loss keeps colours. The authors
released A -> B generators for a dozen pairs (``registry.toml``: horse2zebra, monet2photo...),
which load exactly.

Sources. The paper; junyanz/pytorch-CycleGAN-and-pix2pix (BSD-2-Clause style licence,
Copyright (c) 2017 Jun-Yan Zhu and Taesung Park): ``models/cycle_gan_model.py``,
``models/networks.py``, ``util/image_pool.py``, ``data/base_dataset.py``. The package, the
same files as every GAN family:

* this module: the torch-free hooks (the model's spec, build options, official checkpoint kinds);
* :mod:`~zoo.plugins.cyclegan.networks`: the ResNet generator and the PatchGAN discriminator;
* :mod:`~zoo.plugins.cyclegan.official`: reading the released files strictly;
* :mod:`~zoo.plugins.cyclegan.losses`: the LSGAN loss and the image history pool;
* :mod:`~zoo.plugins.cyclegan.data`: the two domains of a batch, directions, the official preprocessing;
* :mod:`~zoo.plugins.cyclegan.sampling`: translations of images seen in training, and the labelled per-epoch grids;
* :mod:`~zoo.plugins.cyclegan.adapter`: ``CycleGANAdapter``, imported only when a model is built.

Build options (``zoo.registry.build("cyclegan", **options)``; :func:`declared_options` gives each
with its type, default and the official value; ``zoo info cyclegan`` lists them):

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

from typing import TYPE_CHECKING, Any

from zoo import hookimpl
from zoo.errors import ZooError
from zoo.pluginkit import BuildOption, OfficialKind, gan_hooks, option_value, options_hook, path_value

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = [
    "declared_options",
    "default_blocks",
    "domain_names",
    "max_layers_d",
    "resolve_options",
    "zoo_build_model",
    "zoo_model_options",
    "zoo_model_specs",
    "zoo_official_kinds",
]

_OFFICIAL_LAYOUT = ("testA", "testB", "trainA", "trainB")
#: The generator's options that a released file fixes (left out: the file's).
_FROM_FILE = ("channels", "ngf", "n_blocks", "use_dropout")


def default_blocks(image_size: int) -> int:
    """Residual blocks of the generator for ``image_size``: 9 at 256 px and above, else 6
    (Zhu et al. 2017, section 4 / appendix 7.2; official ``resnet_9blocks`` / ``resnet_6blocks``)."""
    return 9 if image_size >= 256 else 6


def max_layers_d(image_size: int) -> int:
    """The largest PatchGAN depth ``n_layers_d`` <= 3 whose last feature map is at least 3 x 3
    (``image_size >= 3 * 2**n_layers_d``): 3 from 24 px, 2 from 12 px, else 1."""
    return next((n for n in (3, 2, 1) if image_size >= 3 * 2**n), 1)


def declared_options(spec: ModelSpec) -> list[BuildOption]:
    """The build options of ``cyclegan``, with the defaults of ``spec`` (``input_size`` and ``config``).

    ``n_blocks``, ``n_layers_d`` and ``decay_after_epochs`` default to ``None``: derived from
    ``image_size`` and the number of epochs; ``class_names`` (two names, not one string) to
    ``None``: ``("A", "B")``.
    """
    cfg = spec.config
    file = "; with official_weights: the file's"
    return [
        BuildOption(
            "image_size",
            "int",
            spec.input_size[-1],
            "height = width in pixels, a multiple of 4; 256 in the released models",
            minimum=8,
            from_data=True,
        ),
        BuildOption(
            "channels", "int", spec.input_size[0], f"image channels of both domains: 1 grey, 3 RGB{file}", minimum=1, from_data=True
        ),
        BuildOption("ngf", "int", cfg.get("ngf", 64), f"generator width; 64 in the paper{file}", minimum=1),
        BuildOption("ndf", "int", cfg.get("ndf", 64), "discriminator width; 64 in the paper", minimum=1),
        BuildOption(
            "n_blocks", "int", None, f"residual blocks of each generator; left out: 9 from 256 px, else 6, as in the paper{file}", minimum=1
        ),
        BuildOption(
            "n_layers_d",
            "int",
            None,
            "stride-2 convolutions of the PatchGAN; left out: 3, the 70x70 PatchGAN, or the most that fit image_size",
            minimum=1,
        ),
        BuildOption("use_dropout", "bool", False, f"Dropout 0.5 in the residual blocks; off in the paper{file}"),
        BuildOption("lambda_a", "float", cfg.get("lambda_a", 10.0), "weight of the A -> B -> A cycle loss; 10 in the paper", minimum=0),
        BuildOption("lambda_b", "float", cfg.get("lambda_b", 10.0), "weight of the B -> A -> B cycle loss; 10 in the paper", minimum=0),
        BuildOption(
            "lambda_identity",
            "float",
            cfg.get("lambda_identity", 0.5),
            "weight of the identity loss relative to the cycle loss; 0.5 in the official code",
            minimum=0,
        ),
        BuildOption(
            "pool_size",
            "int",
            cfg.get("pool_size", 50),
            "generated images kept per domain for the discriminators; 50 in the paper; 0: no pool",
            minimum=0,
        ),
        BuildOption(
            "decay_after_epochs",
            "int",
            None,
            "epochs before the linear decay of the learning rate, official --n_epochs; left out: half the epochs",
            minimum=0,
        ),
        BuildOption("class_names", "str", None, "the two domain names A, B: the data's two classes; left out: A and B", from_data=True),
        BuildOption(
            "official_weights",
            "str",
            None,
            "a released generator file, horse2zebra.pth or its .safetensors, loaded into generator_ab",
            from_data=True,
        ),
    ]


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
        spec: a spec of this plugin with ``arch == "cyclegan"``.
        options: the options of :func:`declared_options`; a missing or ``None`` value takes the
            default, other keys are ignored (a sidecar's ``condition`` dict gives ``class_names``).

    Returns:
        The keyword arguments of ``CycleGANAdapter(spec, ...)``: every declared option, with
        ``n_blocks`` and ``n_layers_d`` derived from ``image_size`` when left out,
        ``class_names`` as two str, ``official_weights`` as a path string or ``None``. With
        ``official_weights``, ``channels``, ``ngf``, ``n_blocks`` and ``use_dropout`` are ``None``
        unless given (the file decides).

    Raises:
        ZooError: an unknown ``spec.arch``; an ``image_size`` that is not a multiple of 4 of
            at least 8; a value of the wrong type or range; an ``n_layers_d`` too deep for
            ``image_size``; class names that are not two distinct names (exit code 2).
    """
    if spec.arch != "cyclegan":
        raise ZooError(f"{spec.name}: the cyclegan plugin builds arch 'cyclegan', not {spec.arch!r}")
    name = spec.name
    official = path_value(name, "official_weights", options.get("official_weights"), exists=False)
    out: dict[str, Any] = {}
    for option in declared_options(spec):
        key, value = option.name, options.get(option.name)
        if key in ("class_names", "official_weights") or (value is None and official is not None and key in _FROM_FILE):
            out[key] = value  # the names are checked below; the official file decides its generator's shape
        else:
            out[key] = option_value(name, option, value)
    size = out["image_size"]
    if size % 4:
        raise ZooError(
            f"{name} {{param}} must be a multiple of 4 of at least 8 pixels (the generator down-samples twice; "
            f"the released models use 256), got {size!r}",
            param="image_size",
            exit_code=2,
        )
    if out["n_blocks"] is None and official is None:
        out["n_blocks"] = default_blocks(size)
    deepest = max_layers_d(size)
    layers = out["n_layers_d"] = min(3, deepest) if out["n_layers_d"] is None else out["n_layers_d"]
    if layers > deepest:
        raise ZooError(
            f"{name} {{param}} {layers} does not fit image_size {size}: the PatchGAN needs image_size >= "
            f"{3 * 2**layers} (3 * 2**n_layers_d); use n_layers_d <= {deepest} or larger images",
            param="n_layers_d",
            exit_code=2,
        )
    names = out["class_names"]
    if names is None:
        condition = options.get("condition")
        names = (condition.get("names") if isinstance(condition, dict) else None) or None
    out["class_names"] = ("A", "B") if names is None else domain_names(name, names)
    out["official_weights"] = official
    return out


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


zoo_model_options = options_hook(__name__, declared_options)
zoo_model_specs, zoo_build_model = gan_hooks(
    __name__,
    adapter="zoo.plugins.cyclegan.adapter:CycleGANAdapter",
    options=resolve_options,
)
