"""Where images come from: :func:`resolve_data` turns a ``--data`` value into a :class:`DataSource`
(an ImageFolder directory, a built-in data set of a plugin, or a plugin's ``PREFIX:LOCATION``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from zoo.data.splits import parse_classes, stratified_split
from zoo.errors import ZooError, did_you_mean
from zoo.io.images import load_rgb

__all__ = ["DataSource", "resolve_data"]


@dataclass
class DataSource:
    """A labelled image collection with its train/val split.

    Attributes:
        name: what the user passed to ``--data``.
        classes: class names, index = label.
        channels: channels of the stored images (1 for digits, 3 for RGB folders).
        native_size: side of the stored images in pixels (8 for digits), or ``None`` for folders.
        builtin: True for built-in data sets (small images: resized straight to the model size).
        train, val: ``torch.utils.data.Dataset`` objects returning ``(image, label)``
            without transforms (images as uint8 ``(C, H, W)`` tensors or PIL images).
    """

    name: str
    classes: list[str]
    channels: int
    native_size: int | None
    builtin: bool
    train: Any = None
    val: Any = None
    targets_train: list[int] = field(default_factory=list)
    targets_val: list[int] = field(default_factory=list)


class _ArrayImages(Dataset):
    """``(uint8 (C, H, W) tensor, int label)`` items from in-memory numpy arrays."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = [int(v) for v in labels]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], self.labels[i]


def _builtin(name: str, class_filter: str | None, seed: int, val_fraction: float) -> DataSource:
    from zoo.registry import dataset_spec, load_dataset, load_datasets

    loaders = load_datasets()  # {name: (plugin, loader)}; a name given by two plugins is an error
    if name not in loaders:
        valid = ", ".join(sorted(loaders)) or "none"
        raise ZooError(
            f"--data {name!r} is neither an existing directory nor a built-in data set{did_you_mean(name, loaders)}; "
            f"built-in: {valid}; or pass an ImageFolder path",
            exit_code=2,
        )
    images, labels, classes = load_dataset(name)  # a failing plugin loader is one line naming it
    if class_filter:
        keep = parse_classes(class_filter, classes, name, dataset_spec(name).groups)
        remap = {old: new for new, old in enumerate(keep)}
        mask = np.isin(labels, keep)
        images, labels = images[mask], np.array([remap[int(v)] for v in labels[mask]], dtype="int64")
        classes = [classes[i] for i in keep]
    tr, va = stratified_split(labels, val_fraction, seed)
    ds = _ArrayImages(images, labels)
    from torch.utils.data import Subset

    return DataSource(
        name=name if not class_filter else f"{name}:{class_filter}",
        classes=list(classes),
        channels=int(images.shape[1]),
        native_size=int(images.shape[-1]),
        builtin=True,
        train=Subset(ds, tr),
        val=Subset(ds, va),
        targets_train=[int(labels[i]) for i in tr],
        targets_val=[int(labels[i]) for i in va],
    )


def _image_folder(root: Path) -> Any:
    from torchvision.datasets import ImageFolder

    try:
        return ImageFolder(str(root), loader=load_rgb)
    except FileNotFoundError as exc:
        raise ZooError(f"{root}: {exc}; an ImageFolder needs one sub-folder per class, each with .jpg/.png images") from None
    except PermissionError as exc:
        raise ZooError(f"cannot read data directory {root}: {exc.strerror}") from None


def _folder(path: Path, seed: int, val_fraction: float, min_classes: int) -> DataSource:
    if not path.is_dir():
        raise ZooError(
            f"--data {path} is not a directory; pass an ImageFolder directory (one sub-folder per class) or a built-in data set such as digits",
            exit_code=2,
        )
    from torch.utils.data import Subset

    if (path / "train").is_dir() and (path / "val").is_dir():
        train, val = _image_folder(path / "train"), _image_folder(path / "val")
        if train.classes != val.classes:
            raise ZooError(f"{path}: train/ and val/ have different class folders ({train.classes} vs {val.classes})")
        return DataSource(str(path), list(train.classes), 3, None, False, train, val, list(train.targets), list(val.targets))
    full = _image_folder(path)
    if len(full.classes) < min_classes:
        raise ZooError(f"{path} has {len(full.classes)} class folder(s); a classifier needs at least {min_classes}")
    tr, va = stratified_split(full.targets, val_fraction, seed)
    return DataSource(
        str(path),
        list(full.classes),
        3,
        None,
        False,
        Subset(full, tr),
        Subset(full, va),
        [full.targets[i] for i in tr],
        [full.targets[i] for i in va],
    )


def resolve_data(data: str, *, seed: int = 0, val_fraction: float = 0.2, attrs: Any = None, min_classes: int = 2) -> DataSource:
    """Turn a ``--data`` value into a :class:`DataSource` (no transforms applied yet).

    ``PREFIX:LOCATION`` with a prefix that a plugin contributes (hook ``zoo_data_sources``)
    is that plugin's data source: ``celeba:DIR``, a CelebA-style attribute data set (the
    StarGAN plugin), whose labels are the ``attrs`` vectors (``--attrs Black_Hair,...``);
    such a source may carry ``build_options`` for the model.

    ``min_classes``: class folders an ImageFolder directory needs: 2 for a classifier (the
    default), 1 for a GAN that draws one folder of photographs (``zoo train srresnet``,
    ``dcgan``...); families that need more (CycleGAN's two domains) check it themselves.

    Raises:
        ZooError: missing/unreadable directory, empty class folder, unknown data set or class;
            ``attrs`` given for data that is not a plugin's attribute source; whatever a
            plugin's resolver raises.
    """
    from zoo.registry import load_data_sources

    sources = load_data_sources()
    prefix, sep, location = data.partition(":")
    if sep and prefix in sources:
        attrs = attrs.split(",") if isinstance(attrs, str) else attrs
        return sources[prefix][1](location, seed=seed, val_fraction=val_fraction, attrs=attrs)
    if attrs is not None:
        valid = ", ".join(f"{p}:DIR" for p in sources) or "none is installed"
        raise ZooError(f"--attrs selects the attributes of attribute data ({valid}); {data} has class folders", exit_code=2)
    path = Path(data).expanduser()
    if path.exists() or "/" in data or data.startswith("."):
        if not path.exists():
            raise ZooError(
                f"data directory {data} does not exist; pass an ImageFolder directory or a built-in data set such as digits", exit_code=2
            )
        return _folder(path, seed, val_fraction, min_classes)
    name, _, class_filter = data.partition(":")
    return _builtin(name, class_filter or None, seed, val_fraction)
