"""Model and data-set metadata as frozen dataclasses: :class:`ModelSpec`, :class:`WeightSource`, :class:`DatasetSpec`.

Metadata is data, not code (as in timm's ``PretrainedCfg`` and torchvision's ``Weights``):
built-in models are declared in ``registry.toml`` and validated against these classes;
plugins may also construct specs directly. Nothing here imports torch.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from zoo.errors import ZooError, did_you_mean

__all__ = [
    "KINDS",
    "OPTION_TYPES",
    "BuildOption",
    "DatasetSpec",
    "ModelSpec",
    "OfficialKind",
    "WeightSource",
    "check_num_classes",
    "check_stage",
    "spec_from_dict",
]

KINDS = ("backbone", "gan")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class WeightSource:
    """Where one set of published weights comes from, and what it scores.

    Attributes:
        tag: short name used on the command line (``--weights imagenet``).
        url: download address (https).
        sha256: full SHA-256 hex digest of the file, or a prefix of it (torchvision
            publishes 8 hex digits in the file name); ``""`` when unknown.
        format: ``"pth"`` (pickled state dict, read with ``torch.load(weights_only=True)``)
            or ``"safetensors"``.
        license: licence of the weights (SPDX id or the publisher's words).
        top1, top5: published ImageNet-1k validation accuracy in percent, or ``None``.
        metrics_source: where ``top1``/``top5`` were published.
        num_classes: classes of the head the weights were trained with.
        member: for ``format = "zip"``: the path of the weights file inside the archive
            (StarGAN publishes ``stargan_celeba_128/models/200000-G.ckpt`` in a zip).
        dataset: what the weights were trained on (``"CelebA, 5 attributes, 128x128"``).
        notes: what the file is when no digest is published (saving code, keys, quirks).
    """

    tag: str
    url: str
    sha256: str = ""
    format: Literal["pth", "safetensors", "zip"] = "pth"
    license: str = ""
    top1: float | None = None
    top5: float | None = None
    metrics_source: str = ""
    num_classes: int = 1000
    member: str = ""
    dataset: str = ""
    notes: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """Everything known about a model before it is built (no torch needed).

    Attributes:
        name: registry name, unique (``resnet50``).
        family: architecture family (``resnet``); one built-in plugin per family.
        kind: ``"backbone"`` (image classifier) or ``"gan"``.
        plugin: name of the plugin that builds it (module name for built-ins).
        arch: the plugin's own architecture id (``"torchvision:resnet50"``, ``"timm:inception_v3"``).
        input_size: default input as ``(channels, height, width)``, pixels.
        min_size: smallest height/width (pixels) the architecture accepts.
        mean, std: per-channel normalisation of ``[0, 1]`` RGB input.
        interpolation: resize interpolation of the default transforms (``bilinear``/``bicubic``).
        crop_pct: centre-crop fraction used at evaluation (timm convention).
        num_classes: classes of the default head (1000 for ImageNet backbones).
        num_params: parameters of the default model (``sum(p.numel())``, buffers excluded).
        stages: named stages from stem to head, usable with ``--freeze-until``.
        head: dotted module path of the final classifier layer (replaced by ``reset_head``).
        weights: published weights, the first one is the default.
        paper: the source of the architecture (citation).
        description: one line for ``zoo list``.
        config: plugin-specific construction options (GAN latent size, ...).
        train_batch_size: the batch size ``zoo train`` uses when ``--batch-size`` is not given:
            the paper's, where it is clear (CycleGAN: 1, Zhu et al. 2017, section 4); ``None``:
            zoo's default (64).
    """

    name: str
    family: str
    kind: Literal["backbone", "gan"]
    plugin: str
    arch: str
    input_size: tuple[int, int, int] = (3, 224, 224)
    min_size: int = 32
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    interpolation: str = "bilinear"
    crop_pct: float = 0.875
    num_classes: int = 1000
    num_params: int = 0
    stages: tuple[str, ...] = ()
    head: str = ""
    weights: tuple[WeightSource, ...] = ()
    paper: str = ""
    description: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    train_batch_size: int | None = None

    def weight_source(self, tag: str | None = None) -> WeightSource:
        """Return the published weights named ``tag`` (default: the first).

        Raises:
            ZooError: if the model has no published weights or none with that tag.
        """
        if not self.weights:
            raise ZooError(f"{self.name} has no published weights; train it with 'zoo train' or pass --weights FILE")
        if tag in (None, "", "default"):
            return self.weights[0]
        for w in self.weights:
            if w.tag == tag:
                return w
        tags = ", ".join(w.tag for w in self.weights)
        raise ZooError(f"{self.name} has no weights tagged {tag!r}; valid: {tags}")

    def check_stage(self, stage: str | None) -> None:
        """Check that ``stage`` (``None`` = nothing frozen) is one of :attr:`stages`.

        Raises:
            ZooError: unknown stage (exit code 2); the message lists the valid ones.
        """
        check_stage(self.name, stage, self.stages)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (tuples become lists)."""
        return dataclasses.asdict(self)


def check_stage(model: str, stage: str | None, stages: tuple[str, ...] | list[str]) -> None:
    """Check that ``stage`` (``None`` = nothing frozen) is one of ``stages`` of ``model``.

    Raises:
        ZooError: unknown stage (exit code 2); the message lists the valid ones.
    """
    if stage is not None and stage not in stages:
        raise ZooError(f"unknown stage {stage!r} for {model}{did_you_mean(stage, stages)}; valid stages: {' '.join(stages)}", exit_code=2)


#: The largest input side zoo takes (``--img-size``), in pixels: 12 times the largest size a
#: registry model is trained at (331 px, NASNet-Large). One 3 x 4096 x 4096 float32 image is
#: 201 MB before any activation (a ResNet-50 forward at that size needs about 30 GB), so a
#: larger value is a typo (``--img-size 100000``), refused before anything is allocated.
MAX_IMG_SIZE = 4096


def check_img_size(img_size: int, *, minimum: int = 1, model: str | None = None) -> int:
    """Check an input side (``img_size``; ``--img-size`` on the command line): at least
    ``minimum`` (the model's ``min_size``), at most :data:`MAX_IMG_SIZE`. Returns ``img_size``.

    Raises:
        ZooError: (exit code 2) ``img_size`` outside that range, naming the model when given.
    """
    if img_size < minimum:
        of = f"{model}'s minimum input of {minimum} px" if model else f"the minimum of {minimum} px"
        raise ZooError(f"{{param}} {img_size} is below {of}; use {{param}} {minimum} or more", param="img_size", exit_code=2)
    if img_size > MAX_IMG_SIZE:
        raise ZooError(
            f"{{param}} {img_size} is above {MAX_IMG_SIZE} px, the largest input zoo takes (one 3 x {MAX_IMG_SIZE} x {MAX_IMG_SIZE} "
            f"float32 image is 201 MB before any activation); use {{param}} {MAX_IMG_SIZE} or less",
            param="img_size",
            exit_code=2,
        )
    return img_size


#: The most classes a head may have (``--head``): about 4.6 times ImageNet-21k's 21,841. A
#: head is ``features x classes`` float32 weights (819 MB for ResNet-50's 2,048 features at this
#: limit), so a larger value is a typo (``--head 1000000000``: 8 TB), refused before anything is built.
MAX_CLASSES = 100_000


def check_num_classes(num_classes: int) -> None:
    """Check a head size (``num_classes``; ``--head`` on the command line): 1 .. :data:`MAX_CLASSES`.

    Raises:
        ZooError: ``num_classes`` outside that range (exit code 2).
    """
    if num_classes < 1:
        raise ZooError(f"{{param}} must be at least 1 class, got {num_classes}", param="num_classes", exit_code=2)
    if num_classes > MAX_CLASSES:
        raise ZooError(
            f"{{param}} must be at most {MAX_CLASSES:,} classes (a head of that many is already 819 MB for ResNet-50), got {num_classes}",
            param="num_classes",
            exit_code=2,
        )


@dataclass(frozen=True)
class DatasetSpec:
    """A built-in data set's loader and what is known about it before it is loaded (no torch).

    A plugin's ``zoo_datasets`` hook may give one of these instead of a bare loader
    function (:func:`zoo.hookspecs.zoo_datasets`): it is called like the loader, and its
    metadata lets ``zoo plugins`` describe the data set, and ``--data NAME:GROUP`` select
    named groups of classes, without loading (or generating) any image.

    Attributes:
        loader: ``loader()`` returns ``(images uint8 (N, C, H, W), labels int64 (N,), class names)``
            as numpy arrays and a list.
        classes: the class names in label order (what ``loader`` returns); ``()`` when unknown.
        size: the number of images N; ``None`` when unknown.
        image_shape: ``(C, H, W)`` of one stored image in pixels; ``None`` when unknown.
        groups: named groups of classes, ``{"digits": ("0", ..., "9")}``: ``--data NAME:digits``
            selects them, in the order given; a group name may not be a class name.
        description: one line for listings.
        cache: a function returning the file the loader caches the data in (not created by
            calling it), for data sets generated or converted on first use; ``None`` otherwise.
        licence: the data's licence, in a few words.

    Raises:
        ZooError: (on construction) a group that names an unknown class, is empty, or has a
            class's name; ``size`` below 0; ``loader`` not callable.
    """

    loader: Callable[[], Any]
    classes: tuple[str, ...] = ()
    size: int | None = None
    image_shape: tuple[int, int, int] | None = None
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    cache: Callable[[], Any] | None = None
    licence: str = ""

    def __post_init__(self) -> None:
        if not callable(self.loader):
            raise ZooError(f"DatasetSpec.loader must be callable, got {type(self.loader).__name__}")
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        object.__setattr__(self, "groups", {str(k): tuple(str(c) for c in v) for k, v in dict(self.groups).items()})
        if self.size is not None and self.size < 0:
            raise ZooError(f"DatasetSpec.size must be at least 0, got {self.size}")
        for name, members in self.groups.items():
            if not members:
                raise ZooError(f"data-set group {name!r} is empty; give it at least one class")
            if name in self.classes:
                raise ZooError(f"data-set group {name!r} has the name of a class; rename the group")
            unknown = [c for c in members if self.classes and c not in self.classes]
            if unknown:
                raise ZooError(f"data-set group {name!r} names unknown classes {unknown}; valid: {', '.join(self.classes)}")

    def __call__(self) -> Any:
        """``self.loader()``: a :class:`DatasetSpec` is used wherever a bare loader is."""
        return self.loader()

    def cache_path(self) -> str | None:
        """Where the loader caches the data (``cache()`` as a string), or ``None``. Creates nothing."""
        return None if self.cache is None else str(self.cache())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: ``images``, ``image_shape``, ``classes``, ``groups``,
        ``description``, ``licence``, ``cache`` (the path or ``None``) and ``cached`` (whether
        that file exists; ``None`` without a cache). Nothing is loaded."""
        path = self.cache_path()
        return {
            "images": self.size,
            "image_shape": list(self.image_shape) if self.image_shape else None,
            "classes": list(self.classes),
            "groups": {k: list(v) for k, v in self.groups.items()},
            "description": self.description,
            "licence": self.licence,
            "cache": path,
            "cached": None if path is None else os.path.isfile(path),
        }


_SPEC_FIELDS = {f.name for f in dataclasses.fields(ModelSpec)}
_WEIGHT_FIELDS = {f.name for f in dataclasses.fields(WeightSource)}


def spec_from_dict(name: str, table: dict[str, Any], *, plugin: str | None = None) -> ModelSpec:
    """Validate one ``[models.NAME]`` table of a registry TOML and return its spec.

    Args:
        name: the table's name (becomes ``ModelSpec.name``).
        table: the parsed TOML table.
        plugin: fills ``plugin`` when the table does not name one.

    Raises:
        ZooError: unknown or missing keys, wrong kind, malformed sizes.
    """
    unknown = set(table) - _SPEC_FIELDS
    if unknown:
        raise ZooError(f"registry entry {name!r} has unknown keys {sorted(unknown)}; valid: {sorted(_SPEC_FIELDS)}")
    data = dict(table)
    data["name"] = name
    if plugin and "plugin" not in data:
        data["plugin"] = plugin
    for req in ("family", "kind", "plugin", "arch"):
        if req not in data:
            raise ZooError(f"registry entry {name!r} misses the required key {req!r}")
    if data["kind"] not in KINDS:
        raise ZooError(f"registry entry {name!r} has kind {data['kind']!r}; valid: {', '.join(KINDS)}")
    weights = []
    for w in data.pop("weights", []):
        bad = set(w) - _WEIGHT_FIELDS
        if bad:
            raise ZooError(f"registry entry {name!r} has weights with unknown keys {sorted(bad)}")
        try:
            weights.append(WeightSource(**w))
        except TypeError as exc:
            raise ZooError(
                f"registry entry {name!r} has a weights table without a required key ({exc}); 'tag' and 'url' are required"
            ) from None
    data["weights"] = tuple(weights)
    for key in ("input_size", "mean", "std", "stages"):
        if key in data:
            data[key] = tuple(data[key])
    if len(data.get("input_size", (3, 1, 1))) != 3:
        raise ZooError(f"registry entry {name!r}: input_size must be [channels, height, width]")
    batch = data.get("train_batch_size")
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ZooError(f"registry entry {name!r}: train_batch_size must be a whole number of at least 1, got {batch!r}")
    return ModelSpec(**data)


#: The value types a :class:`BuildOption` may declare.
OPTION_TYPES = ("int", "float", "bool", "str", "choice")


@dataclass(frozen=True)
class BuildOption:
    """One build option a family declares (``zoo info NAME`` lists them; ``--model-kwargs
    KEY=VALUE`` sets them; :func:`zoo.pluginkit.option_value` checks a value against it).

    Attributes:
        name: the keyword (``ngf``, ``content_loss``).
        type: one of :data:`OPTION_TYPES`; ``choice`` takes one of ``choices``.
        default: the value used when the option is not given, or ``None`` when the family
            derives it (from the image size, the data, the weights file: ``help`` says how).
        help: what it means, with the paper's value where there is one.
        choices: the valid values of a ``choice``.
        minimum: the smallest valid ``int``/``float`` (``None``: no bound).
        from_data: set by zoo itself from other flags or the data (``image_size`` from
            ``--img-size``, ``channels`` and ``class_names`` from ``--data``), so not a
            ``--model-kwargs`` key.
        maximum: the largest valid ``int``/``float`` (``None``: no bound; a dropout rate's is 1).
    """

    name: str
    type: str
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    from_data: bool = False
    maximum: float | None = None

    def __post_init__(self) -> None:
        if self.type not in OPTION_TYPES:
            raise ValueError(f"BuildOption {self.name!r}: type must be one of {', '.join(OPTION_TYPES)}, got {self.type!r}")
        if (self.type == "choice") != bool(self.choices):
            raise ValueError(f"BuildOption {self.name!r}: a choice needs choices, and only a choice has them")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``zoo info --json``): every attribute, ``choices`` as a list."""
        return {**asdict(self), "choices": list(self.choices)}


@dataclass(frozen=True)
class OfficialKind:
    """One kind of official checkpoint file, recognised by keys only it has (a family declares
    its kinds with the ``zoo_official_kinds`` hook; :func:`zoo.io.official.identify_official`
    names a file by them).

    Attributes:
        key: short identifier, ``"<family>.<part>"`` (``"stargan.G"``, ``"srgan-leftthomas.G"``).
        name: what the file holds, with the official file name (``"StarGAN generator (yunjey/stargan *-G.ckpt)"``).
        keys: state-dict keys that every file of this kind has (after prefix stripping).
        how: how to load it (``"load_official_stargan(path, part='G')"``).
    """

    key: str
    name: str
    keys: frozenset[str]
    how: str
