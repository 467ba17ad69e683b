"""Where images come from: :func:`resolve_data` turns a ``--data`` value into a :class:`DataSource`
(an ImageFolder directory, a built-in data set of a plugin, or a plugin's ``PREFIX:LOCATION``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from zoo.data.splits import parse_classes, stratified_split
from zoo.errors import ZooError, did_you_mean, warn
from zoo.io.images import load_rgb

__all__ = ["DataSource", "folder_images", "resolve_data"]


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


def folder_images(
    directory: str | os.PathLike[str], class_to_idx: dict[str, int], extensions: tuple[str, ...] | None = None, *, allow_empty: bool = False
) -> list[tuple[str, int]]:
    """``(path, class index)`` of every image under the class folders of ``directory``, each
    real file once: torchvision's ``ImageFolder`` listing (symbolic links followed, folders
    and files in sorted order), except that a link back up the tree (a loop such as
    ``a/up -> ..``) or to a folder of the class already walked is not followed, and a file
    reached by a second path (a link to an image already listed) is skipped, with one
    warning line saying how many. Without this, a loop lists every image up to 40 times
    (the kernel's limit of links in a path), in the training and held-out splits alike.

    Args:
        directory: the ImageFolder root.
        class_to_idx: ``{class folder: index}`` (``{"": 0}``: every image under ``directory``).
        extensions: file name endings of images (torchvision's ``IMG_EXTENSIONS`` by default).
        allow_empty: a class folder without images is allowed.

    Raises:
        ZooError: one real file is reached from two class folders (its class is ambiguous).
        FileNotFoundError: a class folder without images (as torchvision's ``make_dataset``).
    """
    from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

    extensions = extensions or IMG_EXTENSIONS
    instances: list[tuple[str, int]] = []
    owner: dict[str, str] = {}  # real file -> class
    skipped_dirs: list[str] = []
    skipped_files = 0
    for target_class in sorted(class_to_idx):
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        top, walked, listing = os.path.realpath(target_dir), set(), []
        for root, dirs, fnames in os.walk(target_dir, followlinks=True):
            real = os.path.realpath(root)
            if real in walked or top.startswith(real.rstrip(os.sep) + os.sep):  # seen, or a way back up (a loop)
                skipped_dirs.append(root)
                dirs[:] = []
                continue
            walked.add(real)
            listing.append((root, fnames))
        for root, fnames in sorted(listing):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if not has_file_allowed_extension(path, extensions):
                    continue
                real = os.path.realpath(path)
                if real in owner:
                    if owner[real] != target_class:
                        raise ZooError(
                            f"{path} and an image of class {owner[real]!r} are the same file ({real}); "
                            "an image belongs to one class: remove one of the links"
                        )
                    skipped_files += 1
                    continue
                owner[real] = target_class
                instances.append((path, class_to_idx[target_class]))
    empty = sorted(set(class_to_idx) - {c for c in owner.values()})
    if empty and not allow_empty:
        raise FileNotFoundError(
            f"Found no valid file for the classes {', '.join(empty)}. Supported extensions are: {', '.join(extensions)}"
        )
    if skipped_dirs or skipped_files:
        what = f"{len(skipped_dirs)} folder(s) reached twice through symbolic links (such as {skipped_dirs[0]})" if skipped_dirs else ""
        what += (" and " if what else "") + (f"{skipped_files} link(s) to images already listed" if skipped_files else "")
        warn(f"{directory}: {what}; each image is counted once")
    return instances


def _image_folder(root: Path) -> Any:
    from torchvision.datasets import ImageFolder

    class Folder(ImageFolder):
        """``ImageFolder`` listing each real image once (:func:`folder_images`)."""

        @staticmethod
        def make_dataset(
            directory: Any, class_to_idx: Any, extensions: Any = None, is_valid_file: Any = None, allow_empty: bool = False
        ) -> Any:
            """torchvision's hook for the listing: :func:`folder_images` (``is_valid_file`` unused: zoo passes none)."""
            return folder_images(directory, class_to_idx, extensions, allow_empty=allow_empty)

    try:
        return Folder(str(root), loader=load_rgb)
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
        both = {os.path.realpath(p) for p, _ in train.samples} & {os.path.realpath(p) for p, _ in val.samples}
        if both:
            raise ZooError(
                f"{path}: {len(both)} image(s) are in both train/ and val/ (such as {sorted(both)[0]}, through links); "
                "a held-out image must not be trained on: remove them from one of the two"
            )
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
        ZooError: ``seed`` outside 0 .. 2**32 - 1 (exit code 2); missing/unreadable directory,
            empty class folder, unknown data set or class;
            ``attrs`` given for data that is not a plugin's attribute source; whatever a
            plugin's resolver raises.
    """
    from zoo.registry import load_data_sources
    from zoo.utils.seeding import check_seed

    check_seed(seed)  # the split's seed: scikit-learn's random_state takes 0 .. 2**32 - 1
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
