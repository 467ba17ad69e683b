"""Data for training and adaptation: user ImageFolders and built-in real data sets.

``--data`` is either a path or ``NAME[:CLASSES]`` of a built-in data set (contributed by
plugins through ``zoo_datasets``; ``digits`` and ``faces`` ship with zoo):

* an ImageFolder directory (one sub-folder per class, ``torchvision.datasets.ImageFolder``);
  if it has ``train/`` and ``val/`` sub-folders those are the splits, otherwise a seeded,
  stratified 80/20 split is made;
* ``digits``, ``digits:0-4``, ``digits:5,7,9``: classes are kept in the order given and
  renumbered from 0. A range ``a-b`` runs over digits (``0-4``) or single capital or small
  letters (``A-F``). A data set may declare named groups of classes
  (:attr:`zoo.spec.DatasetSpec.groups`): ``glyphs:digits`` keeps the group's classes,
  ``glyphs:letters,0`` a group and a class.

Images are returned by the datasets as ``(C, H, W)`` uint8 tensors or PIL images and
turned into float32 by the adapter's ``transforms`` (``torchvision.transforms.v2``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from zoo.errors import ZooError, did_you_mean, warn

__all__ = ["DataSource", "few_shot", "iterations_per_epoch", "make_loaders", "parse_classes", "resolve_data", "stratified_split"]


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


class Transformed(Dataset):
    """Applies ``transform`` to the image of each ``(image, label)`` item of ``base``."""

    def __init__(self, base: Any, transform: Any) -> None:
        self.base, self.transform = base, transform

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x, y = self.base[i]
        return self.transform(x), y


def _range_names(part: str) -> list[str] | None:
    """The class names of a range ``"0-4"`` (numbers) or ``"A-F"`` (single letters, one case); ``None`` if ``part`` is no range."""
    lo, sep, hi = part.partition("-")
    if not sep or "-" in hi:
        return None
    if lo.isdigit() and hi.isdigit():
        a, b = int(lo), int(hi)
        return [str(v) for v in range(a, b + 1)]
    if len(lo) == len(hi) == 1 and lo.isascii() and hi.isascii() and lo.isalpha() and hi.isalpha() and lo.isupper() == hi.isupper():
        return [chr(v) for v in range(ord(lo), ord(hi) + 1)]
    return None


def parse_classes(spec: str, available: list[str], data_name: str, groups: Mapping[str, Sequence[str]] | None = None) -> list[int]:
    """Parse ``"0-4"``, ``"5,7,9"``, ``"A-F"`` or a group name into class indices of ``available`` (in the order given).

    Each comma-separated part is a class name, a range (``0-4``: digits; ``A-F``: single
    letters of one case), or the name of one of ``groups`` (a data set's named groups,
    :attr:`zoo.spec.DatasetSpec.groups`: ``digits`` for ``glyphs:digits``), which stands for
    its classes in order. A class name is looked up before a group or a range, so a class
    called ``non-face`` stays one class.

    Args:
        spec: the filter after ``NAME:``.
        available: the data set's class names (index = label).
        data_name: the data set's name, for messages.
        groups: ``{group name: class names}``; ``None`` when the data set declares none.

    Returns:
        Indices into ``available``, in the order given, without repeats.

    Raises:
        ZooError: malformed or empty range, unknown class or group, a class selected twice,
            nothing selected (exit code 2).
    """
    groups = dict(groups or {})
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        rng = None if part in available else _range_names(part)
        if part in available:
            names = [part]
        elif part in groups:
            names = list(groups[part])
        elif rng is not None:
            names = rng
            if not names:
                raise ZooError(f"empty class range {part!r} in --data {data_name}:{spec}; write it low-high, e.g. 0-4", exit_code=2)
        else:
            names = [part]
        for n in names:
            if n not in available:
                valid = ", ".join(available) + (f"; groups: {', '.join(groups)}" if groups else "")
                raise ZooError(
                    f"--data {data_name} has no class {n!r}{did_you_mean(n, [*available, *groups])}; valid: {valid}", exit_code=2
                )
            idx = available.index(n)
            if idx in out:
                raise ZooError(f"class {n!r} is repeated in --data {data_name}:{spec}", exit_code=2)
            out.append(idx)
    if not out:
        raise ZooError(f"--data {data_name}:{spec} selects no class; valid classes: {', '.join(available)}", exit_code=2)
    return out


def stratified_split(labels: list[int] | np.ndarray, val_fraction: float = 0.2, seed: int = 0) -> tuple[list[int], list[int]]:
    """Seeded stratified split: ``(train_indices, val_indices)``; each class keeps
    ``ceil(val_fraction * n)`` items for validation (at least one item stays in train).

    The split is ``sklearn.model_selection.train_test_split(stratify=labels,
    random_state=seed)`` with ``test_size`` the sum of those per-class counts: scikit-learn
    then gives every class its share, rounded, so each class keeps ``ceil(val_fraction *
    n)`` items give or take one and the total is exact. Classes with a single item stay in
    train (scikit-learn cannot stratify them). Both index lists are sorted.

    Args:
        labels: ``(N,)`` integer class labels.
        val_fraction: share of each class held out, ``0 <= val_fraction < 1``.
        seed: the split's seed (same seed and labels, same split).

    Raises:
        ZooError: ``val_fraction`` outside ``[0, 1)`` (exit code 2).
    """
    from sklearn.model_selection import train_test_split

    if not 0 <= val_fraction < 1:
        raise ZooError(
            f"{{param}} must be in [0, 1), got {val_fraction}; 0.2 holds out 20% of each class", param="val_fraction", exit_code=2
        )
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    splittable = np.isin(labels, classes[counts > 1])
    idx = np.flatnonzero(splittable)
    n_val = sum(min(math.ceil(val_fraction * c), c - 1) for c in counts[counts > 1])
    if n_val == 0:
        return list(range(len(labels))), []
    train, val = train_test_split(idx, test_size=int(n_val), stratify=labels[idx], random_state=seed)
    train = np.concatenate([train, np.flatnonzero(~splittable)])
    return sorted(train.tolist()), sorted(val.tolist())


def few_shot(indices: list[int], labels: list[int] | np.ndarray, shots: int, seed: int = 0, classes: list[str] | None = None) -> list[int]:
    """Keep ``shots`` items per class from ``indices`` (seeded).

    Raises:
        ZooError: ``shots < 1`` or a class has fewer than ``shots`` training items (exit code 2).
    """
    if shots < 1:
        raise ZooError(f"{{param}} must be at least 1, got {shots}", param="shots", exit_code=2)
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed + 1)
    picked: list[int] = []
    idx = np.asarray(indices)
    for c in np.unique(labels[idx]):
        members = idx[labels[idx] == c]
        if len(members) < shots:
            cname = classes[int(c)] if classes else str(c)
            raise ZooError(
                f"class {cname!r} has only {len(members)} training images, fewer than {{param}} {shots}; lower {{param}}",
                param="shots",
                exit_code=2,
            )
        picked += rng.choice(members, size=shots, replace=False).tolist()
    return sorted(picked)


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


#: Files already warned about as large (between 1x and 2x PIL's decompression-bomb limit).
_WARNED_LARGE: set[str] = set()


def load_rgb(path: str) -> Any:
    """Open an image file as an RGB PIL image (the ImageFolder loader).

    An image over ``PIL.Image.MAX_IMAGE_PIXELS`` but within twice that is loaded, with one
    ``Warning:`` line naming it (once per file and process) instead of PIL's two-line
    ``DecompressionBombWarning`` at every epoch.

    Raises:
        ZooError: the file is not a readable image, or PIL refuses it as a decompression bomb
            (more than ``2 * PIL.Image.MAX_IMAGE_PIXELS`` pixels); names the file and
            suggests removing or shrinking it.
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with open(path, "rb") as fh, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            img = Image.open(fh)
            rgb = img.convert("RGB")
        for w in caught:
            if issubclass(w.category, Image.DecompressionBombWarning):
                if str(path) not in _WARNED_LARGE:
                    _WARNED_LARGE.add(str(path))
                    warn(
                        f"image {path} has {img.width * img.height:,} pixels, over PIL's decompression-bomb "
                        f"warning limit ({Image.MAX_IMAGE_PIXELS:,}); loading it anyway"
                    )
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return rgb
    except Image.DecompressionBombError:
        raise ZooError(
            f"image {path} has more pixels than PIL's decompression-bomb limit ({2 * (Image.MAX_IMAGE_PIXELS or 0):,}); "
            "shrink or remove that file"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ZooError(f"cannot read image {path} ({type(exc).__name__}); remove or re-save that file") from None


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

    ``celeba:DIR`` is a CelebA-style attribute data set (a folder of images plus
    ``list_attr_celeba.txt``, :func:`zoo.plugins.stargan_data.resolve_celeba`) whose labels
    are the ``attrs`` vectors (``--attrs Black_Hair,Blond_Hair,...``; default the released
    StarGAN models' 5); its source carries ``build_options`` for the model.

    ``min_classes``: class folders an ImageFolder directory needs: 2 for a classifier (the
    default), 1 for a GAN that draws one folder of photographs (``zoo train srresnet``,
    ``dcgan``...); families that need more (CycleGAN's two domains) check it themselves.

    Raises:
        ZooError: missing/unreadable directory, empty class folder, unknown data set or class;
            ``attrs`` given for data that is not ``celeba:DIR``.
    """
    if data.startswith("celeba:"):
        from zoo.plugins.stargan_data import resolve_celeba

        return resolve_celeba(data, attrs.split(",") if isinstance(attrs, str) else attrs, val_fraction=val_fraction)
    if attrs is not None:
        raise ZooError(f"--attrs selects CelebA attributes and needs --data celeba:DIR; {data} has class folders", exit_code=2)
    path = Path(data).expanduser()
    if path.exists() or "/" in data or data.startswith("."):
        if not path.exists():
            raise ZooError(
                f"data directory {data} does not exist; pass an ImageFolder directory or a built-in data set such as digits", exit_code=2
            )
        return _folder(path, seed, val_fraction, min_classes)
    name, _, class_filter = data.partition(":")
    return _builtin(name, class_filter or None, seed, val_fraction)


def iterations_per_epoch(images: int, batch_size: int, *, drop_last: bool = False) -> int:
    """Batches in one pass over ``images`` training images, as :func:`make_loaders` batches them:
    the batch is ``min(batch_size, images)`` (at least 1), and ``drop_last`` drops a final
    partial batch only when there is more than one batch.

    Returns:
        At least 1 when ``images >= 1``; 0 for no images.
    """
    bs = max(1, min(batch_size, images))
    return images // bs if drop_last and images > bs else -(-images // bs)


def make_loaders(
    source: DataSource,
    *,
    train_transform: Any,
    val_transform: Any,
    batch_size: int,
    shots: int | None = None,
    seed: int = 0,
    num_workers: int = 0,
    drop_last: bool = False,
) -> tuple[DataLoader, DataLoader]:
    """Seeded ``DataLoader``s over ``source`` (few-shot subset of the training split when ``shots``).

    Batches are ``(images (B, C, S, S) float32, labels (B,) int64)``.

    Under torchrun (:mod:`zoo.distributed`) ``batch_size`` is the global batch: each of the
    N processes loads ``batch_size / N`` images of its ``DistributedSampler`` shard (seeded
    with ``seed``) and 1/N of the held-out split, so N processes see the batches one process
    launched by torchrun sees.

    Raises:
        ZooError: a class has fewer training images than ``shots``; under torchrun,
            ``batch_size`` is not a multiple of the number of processes.
    """
    from torch.utils.data import Subset

    from zoo.distributed import context, shard_loaders

    train = source.train
    if shots is not None:
        keep = few_shot(list(range(len(train))), source.targets_train, shots, seed, classes=source.classes)
        train = Subset(train, keep)
    if context().launched:
        opts = {"batch_size": batch_size, "seed": seed, "num_workers": num_workers, "drop_last": drop_last}
        return shard_loaders(Transformed(train, train_transform), Transformed(source.val, val_transform), **opts)
    g = torch.Generator().manual_seed(seed)
    bs = max(1, min(batch_size, len(train)))
    # iterations_per_epoch(len(train), batch_size, drop_last=drop_last) is len(train_loader)
    train_loader = DataLoader(
        Transformed(train, train_transform),
        batch_size=bs,
        shuffle=True,
        generator=g,
        num_workers=num_workers,
        drop_last=drop_last and len(train) > bs,
    )
    val_loader = DataLoader(Transformed(source.val, val_transform), batch_size=max(batch_size, 64), shuffle=False, num_workers=num_workers)
    return train_loader, val_loader
