"""SRResNet and SRGAN: 4x photo super-resolution, built-in ``zoo`` plugin (hook module; no torch import).

The story. Ledig et al. 2017 ("Photo-Realistic Single Image Super-Resolution Using a
Generative Adversarial Network", CVPR 2017, arXiv:1609.04802) trained a deep residual
generator, SRResNet, to upscale photographs 4x. Trained on pixel MSE it reaches the best
PSNR of its day but draws smooth, blurry textures; the same generator trained against a
VGG-style discriminator with a perceptual loss (MSE between VGG19 feature maps plus 1e-3 of
the adversarial loss) is SRGAN, lower in PSNR and far sharper to the eye (the paper's mean
opinion scores). The paper reports them as two models (Table 2), and their authors publish
one weights file each, so the family has two registry entries (this package's
``registry.toml``):

* ``srresnet``: the generator alone, trained with pixel MSE (the paper's SRResNet, also the
  initialisation of SRGAN): ``zoo train srresnet --data DIR``.
* ``srgan``: the same generator plus the VGG-style discriminator, trained with the
  perceptual loss (content loss on VGG19 features + 1e-3 adversarial loss), usually started
  from a trained SRResNet (build option ``official_weights=``).

Sources. The paper (above); Lornatang/SRGAN-PyTorch at 8842030 (Apache-2.0), whose
``SRResNet_x4-ImageNet.pth.tar`` / ``SRGAN_x4-ImageNet.pth.tar`` / discriminator files load
exactly, and leftthomas/SRGAN at b0323c6 (MIT), whose 5-block ``netG_epoch_4_100.pth``
loads as ``flavour="leftthomas"``. The package, the same files as every GAN family:

* this module: the torch-free hooks (specs, build options, official checkpoint kinds);
* :mod:`~zoo.plugins.srgan.networks`: SRResNet, the discriminator, leftthomas' generator;
* :mod:`~zoo.plugins.srgan.official`: reading the official files (and zoo's) strictly;
* :mod:`~zoo.plugins.srgan.losses`: the VGG19 content loss;
* :mod:`~zoo.plugins.srgan.data`: the bicubic degradation that makes the low-resolution input;
* :mod:`~zoo.plugins.srgan.sampling`: super-resolved patches, and the labelled per-epoch grids;
* :mod:`~zoo.plugins.srgan.adapter`: ``SRGANAdapter`` (training, super-resolution, config),
  imported only when a model is built, so ``zoo list`` never imports torch.

Build options (``zoo.registry.build("srgan", **options)``; :func:`declared_options` gives each
with its type, default and the paper's value; ``zoo info srgan`` lists them):

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
  Lornatang's configs) weigh the generator's loss terms. Given to ``srresnet``,
  ``content_loss`` and ``content_weights`` are refused (it trains on pixel MSE alone).
* ``zero_init_residual`` and ``icnr`` (both default ``True``): a generator built from scratch
  starts each residual block as the identity (its last BatchNorm weight zeroed; Goyal et al.
  2017, torchvision's ``zero_init_residual``, timm's ``zero_init_last``) and each sub-pixel
  convolution with ICNR (Aitken et al. 2017, fastai's ``PixelShuffle_ICNR``: no checkerboard
  at init). ``False`` keeps Lornatang's init for that part; ``benchmarks/sr.py`` measures the
  difference. Ignored when ``official_weights`` are loaded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo import hookimpl
from zoo.errors import ZooError
from zoo.pluginkit import BuildOption, OfficialKind, gan_hooks, option_value, options_hook, path_value

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import ModelSpec

__all__ = [
    "CONTENT_LOSSES",
    "FLAVOURS",
    "declared_options",
    "resolve_options",
    "zoo_build_model",
    "zoo_model_options",
    "zoo_model_specs",
    "zoo_official_kinds",
]

FLAVOURS = ("lornatang", "leftthomas")
CONTENT_LOSSES = ("vgg54", "vgg22", "pixel")
#: The options of ``srgan`` that ``srresnet`` (pixel MSE alone) refuses rather than ignores.
_PERCEPTUAL = ("content_loss", "content_weights")
_FROM_FILE = "left out: the official_weights file's"


def declared_options(spec: ModelSpec) -> list[BuildOption]:
    """The build options of ``srresnet`` or (with the discriminator and the losses) ``srgan``.

    Defaults come from ``spec`` (``input_size``, ``min_size`` and ``config``); the generator's
    shape (``channels``, ``ngf``, ``n_blocks``, ``upscale``, ``flavour``) defaults to ``None``:
    the ``official_weights`` file's, else the spec's (3, 64, 16, 4, ``"lornatang"``).
    """
    cfg = spec.config
    out = [
        BuildOption(
            "image_size",
            "int",
            spec.input_size[-1],
            "side of the high-resolution training patches in pixels, a multiple of upscale and, for srgan, of 16; 96 in the paper",
            minimum=max(16, spec.min_size),
            from_data=True,
        ),
        BuildOption("channels", "choice", None, f"3 for RGB or 1 for grey; {_FROM_FILE}, else 3", choices=(1, 3), from_data=True),
        BuildOption("ngf", "int", None, f"generator width; 64 in the paper; {_FROM_FILE}, else {cfg.get('ngf', 64)}", minimum=1),
        BuildOption(
            "n_blocks",
            "int",
            None,
            f"residual blocks of the generator; 16 in the paper; {_FROM_FILE}, else {cfg.get('n_blocks', 16)}",
            minimum=1,
        ),
        BuildOption(
            "upscale", "choice", None, f"upscaling factor; 4 in the paper; {_FROM_FILE}, else {cfg.get('upscale', 4)}", choices=(2, 4, 8)
        ),
        BuildOption(
            "flavour",
            "choice",
            None,
            f"generator layout: lornatang, the paper's SRResNet, or leftthomas, the 5-block generator of its netG_epoch_4_100.pth; {_FROM_FILE}, else lornatang",
            choices=FLAVOURS,
        ),
        BuildOption(
            "official_weights",
            "str",
            None,
            "a generator file to start from: SRResNet_x4-ImageNet.pth.tar, SRGAN_x4-ImageNet.pth.tar, netG_epoch_4_100.pth "
            "or a zoo train srresnet/srgan checkpoint; the generator's configuration is read from it",
            from_data=True,
        ),
        BuildOption("zero_init_residual", "bool", True, "start each residual block as the identity; false: Lornatang's init"),
        BuildOption("icnr", "bool", True, "ICNR init of the sub-pixel convolutions; false: Lornatang's init"),
    ]
    if spec.arch != "srgan":
        return out
    return [
        *out,
        BuildOption("ndf", "int", cfg.get("ndf", 64), "discriminator width; 64 in the paper", minimum=1),
        BuildOption(
            "content_loss",
            "choice",
            "vgg54",
            "vgg54: VGG19 relu5_4 features, the paper's SRGAN-VGG54; vgg22: relu2_2; pixel: pixel MSE, the paper's SRGAN-MSE",
            choices=CONTENT_LOSSES,
        ),
        BuildOption(
            "content_weights",
            "str",
            None,
            "VGG19 weights of the content loss: imagenet, zoo's vgg19 cached or downloaded, or a file; required by vgg54 and vgg22",
        ),
        BuildOption(
            "adversarial_weight",
            "float",
            cfg.get("adversarial_weight", 1e-3),
            "weight of the adversarial loss; 1e-3 in the paper",
            minimum=0,
        ),
        BuildOption(
            "pixel_weight",
            "float",
            cfg.get("pixel_weight", 0.0),
            "weight of a pixel MSE term; 0 in the paper, 1 in Lornatang's configs",
            minimum=0,
        ),
    ]


def resolve_options(spec: ModelSpec, options: dict[str, Any]) -> dict[str, Any]:
    """Validate the build options against ``spec`` and fill in the defaults (no torch).

    Args:
        spec: a spec of this plugin, ``arch`` ``"srresnet"`` or ``"srgan"``.
        options: see :func:`declared_options`; a missing or ``None`` value takes the default,
            other keys (``class_names``, ``latent_dim``...) are ignored.

    Returns:
        The keyword arguments of ``SRGANAdapter(spec, ...)``: every declared option, with
        ``official_weights`` and ``content_weights`` as path strings (``~`` expanded) or
        ``None``; the generator's ``channels``, ``ngf``, ``n_blocks``, ``upscale`` and ``flavour``
        as given or ``None`` (the adapter then takes the ``official_weights`` file's,
        leftthomas' fixed ones, or the defaults 3, 64, 16, 4, ``"lornatang"``). ``srresnet``
        gets no discriminator or loss options (the adapter's defaults, unused).

    Raises:
        ZooError: an unknown ``spec.arch``; a value of the wrong type or range, a patch size
            below 16 (or not a multiple of 16 for ``srgan``), a file that does not exist, a
            content-loss option on ``srresnet`` (exit code 2). The adapter checks that
            ``image_size`` is a multiple of ``upscale``.
    """
    if spec.arch not in ("srresnet", "srgan"):
        raise ZooError(f"{spec.name}: the srgan plugin builds arch 'srresnet' or 'srgan', not {spec.arch!r}")
    name, gan = spec.name, spec.arch == "srgan"
    if not gan:
        for key in _PERCEPTUAL:
            if options.get(key) is not None:
                raise ZooError(
                    f"{name} trains with pixel MSE only; {{param}} is an option of srgan (build srgan for the perceptual loss)",
                    param=key,
                    exit_code=2,
                )
    paths = {"official_weights": (), "content_weights": ("imagenet",)}
    out: dict[str, Any] = {}
    for option in declared_options(spec):
        key = option.name
        if key in paths:
            out[key] = path_value(name, key, options.get(key), words=paths[key])
        else:
            out[key] = option_value(name, option, options.get(key))
    if gan and out["image_size"] % 16:
        raise ZooError(
            f"{name} {{param}} (the high-resolution patch side) must be a multiple of 16 and >= 16 "
            f"(the discriminator halves it four times), got {out['image_size']!r}",
            param="image_size",
            exit_code=2,
        )
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


zoo_model_options = options_hook(__name__, declared_options)
zoo_model_specs, zoo_build_model = gan_hooks(
    __name__,
    adapter="zoo.plugins.srgan.adapter:SRGANAdapter",
    options=resolve_options,
)
