"""StarGAN's data: CelebA-style attribute data (an image folder plus ``list_attr_celeba.txt``) and its preprocessing.

The attribute file is read exactly as yunjey/stargan ``data_loader.py CelebA.preprocess``
reads it: line 1 is the number of images (not used, as there), line 2 the attribute
names, then one line per image, ``filename v1 v2 ...`` with ``1`` / ``-1`` values; an
attribute is on when its value is the text ``1``. The lines are shuffled with Python's
``random`` seeded 1234 and the first 1,999 are the test split (``(i+1) < 2000``), the
rest the training split; here the held-out count is ``min(1999, ceil(val_fraction * N))``,
which is the official split for CelebA itself (202,599 images) and still leaves training
images in a small folder.

The result is a :class:`zoo.data.DataSource` (:class:`AttributeSource`) whose datasets
return ``(PIL RGB image, float32 (k,) 0/1 attribute tensor)`` and whose ``classes`` are the
selected attributes, so ``zoo.data.make_loaders`` batches it as ``(images, (B, k) float
labels)``, what :class:`zoo.plugins.stargan.adapter.StarGANAdapter` trains on in attribute
mode. ``build_options`` holds the build options this data needs (``mode="attribute"``,
``attrs``).

The built-in data-set hook (``zoo_datasets``) cannot carry it: its loaders take no
argument (no directory) and return every image in memory as one numpy array with integer
class labels (CelebA is 202,599 images of 178 x 218, multi-label). ``zoo train`` reaches
it through :func:`resolve_celeba`, the resolver of the ``celeba:`` prefix that the
``zoo_data_sources`` hook of :mod:`zoo.plugins.stargan` declares (``--data celeba:DIR --attrs ...``).
:func:`celeba_transforms` is the official CelebA preprocessing (``data_loader.get_loader``).

The hook module :mod:`zoo.plugins.stargan` imports this module only when a ``celeba:`` location is
resolved; torchvision is imported inside :func:`celeba_transforms`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.data import DataSource
from zoo.errors import ZooError, did_you_mean
from zoo.io.images import load_rgb

__all__ = [
    "ATTR_FILE",
    "CELEBA_ATTRIBUTES",
    "OFFICIAL_TEST_IMAGES",
    "AttributeImages",
    "AttributeSource",
    "as_rgb",
    "celeba_source",
    "celeba_transforms",
    "find_layout",
    "read_attributes",
    "resolve_celeba",
    "translation_inputs",
]

ATTR_FILE = "list_attr_celeba.txt"
#: The attributes of the released CelebA models, in label order (``main.py`` ``--selected_attrs``).
CELEBA_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
#: data_loader.py: ``if (i+1) < 2000`` -> the first 1,999 shuffled lines are the test split.
OFFICIAL_TEST_IMAGES = 1999
#: data_loader.py: ``random.seed(1234)`` before shuffling the lines.
OFFICIAL_SPLIT_SEED = 1234


def read_attributes(attr_path: str | Path, selected_attrs: list[str] | tuple[str, ...]) -> tuple[list[str], list[list[float]], list[str]]:
    """Read a CelebA attribute file (``list_attr_celeba.txt``) as ``CelebA.preprocess`` does.

    Args:
        attr_path: the attribute file.
        selected_attrs: the attributes to keep, in label order (``main.py --selected_attrs``).

    Returns:
        ``(filenames, labels, all_names)``: the image file names in file order, one list of
        ``len(selected_attrs)`` floats (1.0 where the value is ``1``, else 0.0) per image,
        and every attribute name of line 2.

    Raises:
        ZooError: the file is missing or unreadable, line 1 is not the image count, no
            attribute names, an unknown selected attribute (the valid names are listed), a
            repeated one, or an image line with another number of values (line number given).
    """
    path = Path(attr_path)
    try:
        lines = [line.rstrip() for line in path.read_text(encoding="utf-8").splitlines()]
    except FileNotFoundError:
        raise ZooError(
            f"attribute file {path} does not exist; give the CelebA {ATTR_FILE} (or a file in its format)", exit_code=2
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ZooError(f"cannot read attribute file {path} ({type(exc).__name__}); give a text file in the {ATTR_FILE} format") from None
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise ZooError(
            f"{path} is not in the {ATTR_FILE} format: line 1 must be the number of images and line 2 the attribute names", exit_code=2
        )
    all_names = lines[1].split()
    if not all_names:
        raise ZooError(f"{path} line 2 has no attribute names; it must list them (5_o_Clock_Shadow Arched_Eyebrows ...)", exit_code=2)
    if not selected_attrs:
        raise ZooError(f"{{param}} must name at least one attribute; valid: {' '.join(all_names)}", param="attrs", exit_code=2)
    index = {name: i for i, name in enumerate(all_names)}
    for name in selected_attrs:
        if name not in index:
            raise ZooError(
                f"{{param}} {name!r} is not an attribute of {path}{did_you_mean(name, all_names)}; valid: {', '.join(all_names)}",
                param="attrs",
                exit_code=2,
            )
    repeated = sorted({n for n in selected_attrs if list(selected_attrs).count(n) > 1})
    if repeated:
        raise ZooError(f"{{param}} repeats {', '.join(repeated)}; give each attribute once", param="attrs", exit_code=2)
    columns = [index[name] for name in selected_attrs]
    filenames: list[str] = []
    labels: list[list[float]] = []
    for number, line in enumerate(lines[2:], start=3):
        split = line.split()
        if not split:
            continue  # a blank line (the official reader would fail on it)
        values = split[1:]
        if len(values) != len(all_names):
            raise ZooError(
                f"{path} line {number} has {len(values)} values for {len(all_names)} attributes; each line is 'FILE v1 v2 ...' with 1/-1 values",
                exit_code=2,
            )
        filenames.append(split[0])
        labels.append([1.0 if values[c] == "1" else 0.0 for c in columns])
    if not filenames:
        raise ZooError(f"{path} lists no images (after line 2); it needs one 'FILE v1 v2 ...' line per image", exit_code=2)
    return filenames, labels, all_names


class AttributeImages:
    """``(PIL RGB image, float32 (k,) tensor)`` items from an image folder and attribute rows.

    Args:
        image_dir: the folder holding the files.
        filenames: file names relative to ``image_dir``.
        labels: one ``k``-float 0/1 row per file.

    ``__getitem__`` raises :class:`ZooError` (one line naming the file) for a missing or
    unreadable image (:func:`zoo.data.load_rgb`).
    """

    def __init__(self, image_dir: Path, filenames: list[str], labels: list[list[float]]) -> None:
        self.image_dir, self.filenames, self.labels = Path(image_dir), list(filenames), [list(r) for r in labels]

    def __len__(self) -> int:
        return len(self.filenames)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        import torch

        return load_rgb(str(self.image_dir / self.filenames[i])), torch.tensor(self.labels[i], dtype=torch.float32)


@dataclass
class AttributeSource(DataSource):
    """A :class:`zoo.data.DataSource` of multi-label attribute data.

    Attributes (beyond :class:`~zoo.data.DataSource`'s):
        attr_path: the attribute file read.
        image_dir: the image folder.
        build_options: the build options a model trained on it needs:
            ``{"mode": "attribute", "attrs": [...]}`` (StarGAN's attribute mode).

    ``classes`` are the selected attributes; ``targets_train`` / ``targets_val`` encode each
    image's attribute vector as an integer (bit ``i`` = attribute ``i``), so code that
    counts classes sees each combination as one.
    """

    attr_path: str = ""
    image_dir: str = ""
    build_options: dict[str, Any] = field(default_factory=dict)


def find_layout(root: str | Path) -> tuple[Path, Path]:
    """The attribute file and image folder under ``root``.

    Accepted layouts: ``root/list_attr_celeba.txt`` with the images in ``root/images/``
    (yunjey/stargan ``data/celeba``), ``root/img_align_celeba/`` or ``root`` itself; or the
    CelebA download's ``root/Anno/list_attr_celeba.txt`` with ``root/Img/img_align_celeba/``.

    Raises:
        ZooError: ``root`` is not a directory, or no attribute file or image folder is found.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ZooError(f"--data celeba:{root}: {root} is not a directory; give the folder holding {ATTR_FILE} and the images", exit_code=2)
    attr = next((p for p in (root / ATTR_FILE, root / "Anno" / ATTR_FILE) if p.is_file()), None)
    if attr is None:
        raise ZooError(f"--data celeba:{root}: no {ATTR_FILE} in {root} or {root / 'Anno'}; put the attribute file there", exit_code=2)
    candidates = (root / "images", root / "img_align_celeba", root / "Img" / "img_align_celeba", root)
    images = next(p for p in candidates if p.is_dir())
    return attr, images


def celeba_source(
    root: str | Path | None = None,
    attrs: list[str] | tuple[str, ...] | str = CELEBA_ATTRIBUTES,
    *,
    attr_path: str | Path | None = None,
    image_dir: str | Path | None = None,
    val_fraction: float = 0.2,
) -> AttributeSource:
    """A CelebA-style attribute data source (training and held-out splits as the official loader).

    Args:
        root: folder with the attribute file and the images (:func:`find_layout`); or give
            ``attr_path`` and ``image_dir``.
        attrs: the selected attributes in label order, a list or comma-separated text
            (default: the released models' 5, :data:`CELEBA_ATTRIBUTES`).
        attr_path, image_dir: explicit locations (override ``root``'s).
        val_fraction: held-out share; ``min(1999, ceil(val_fraction * N))`` images are held
            out (the official test split for CelebA), in ``[0, 1)``.

    Returns:
        An :class:`AttributeSource` named ``celeba:ROOT``, ``classes`` = ``attrs``,
        ``channels`` 3; its ``train`` / ``val`` return ``(PIL image, (k,) float32)``.

    Raises:
        ZooError: a bad folder or attribute file (:func:`find_layout`, :func:`read_attributes`),
            no image folder, ``val_fraction`` outside ``[0, 1)``, or the first listed image
            missing from the image folder (a wrong ``image_dir``).
    """
    if isinstance(attrs, str):
        attrs = [a.strip() for a in attrs.split(",") if a.strip()]
    attrs = list(attrs)
    if not 0 <= val_fraction < 1:
        raise ZooError(f"{{param}} must be in [0, 1), got {val_fraction}", param="val_fraction", exit_code=2)
    found_attr = found_images = None
    if root is not None and (attr_path is None or image_dir is None):
        found_attr, found_images = find_layout(root)
    attr = Path(attr_path) if attr_path is not None else found_attr
    images = Path(image_dir) if image_dir is not None else found_images
    if attr is None or images is None:
        raise ZooError("celeba_source needs root, or both attr_path and image_dir", exit_code=2)
    if not images.is_dir():
        raise ZooError(f"image folder {images} is not a directory; give the folder of the CelebA images", exit_code=2)
    filenames, labels, _ = read_attributes(attr, attrs)
    if not (images / filenames[0]).is_file():
        raise ZooError(
            f"{attr} lists {filenames[0]}, which is not in {images}; give the image folder that holds the listed files", exit_code=2
        )
    order = list(range(len(filenames)))
    random.Random(OFFICIAL_SPLIT_SEED).shuffle(order)  # = random.seed(1234); random.shuffle(lines)
    n_val = min(OFFICIAL_TEST_IMAGES, math.ceil(val_fraction * len(order)))
    if n_val >= len(order):
        n_val = len(order) - 1
    val_idx, train_idx = order[:n_val], order[n_val:]

    def subset(idx: list[int]) -> AttributeImages:
        return AttributeImages(images, [filenames[i] for i in idx], [labels[i] for i in idx])

    def code(row: list[float]) -> int:
        return sum(1 << i for i, v in enumerate(row) if v)

    name = f"celeba:{root}" if root is not None else f"celeba:{images}"
    return AttributeSource(
        name=name,
        classes=list(attrs),
        channels=3,
        native_size=None,
        builtin=False,
        train=subset(train_idx),
        val=subset(val_idx),
        targets_train=[code(labels[i]) for i in train_idx],
        targets_val=[code(labels[i]) for i in val_idx],
        attr_path=str(attr),
        image_dir=str(images),
        build_options={"mode": "attribute", "attrs": list(attrs)},
    )


def resolve_celeba(
    location: str, *, seed: int = 0, val_fraction: float = 0.2, attrs: list[str] | tuple[str, ...] | str | None = None
) -> AttributeSource:
    """``--data celeba:DIR [--attrs A,B,...]``: the ``zoo_data_sources`` resolver of the ``celeba``
    prefix, :func:`celeba_source` ``(DIR, attrs)``.

    Args:
        location: ``DIR``, the text after ``celeba:`` (the folder with ``list_attr_celeba.txt``).
        seed: unused (the split is CelebA's own ``list_eval_partition.txt`` when present,
            else :func:`celeba_source`'s); accepted as every resolver is called with it.
        val_fraction: as :func:`celeba_source`.
        attrs: the selected attributes (default: the released models' 5).

    Raises:
        ZooError: ``location`` is empty; as :func:`celeba_source`.
    """
    del seed
    if not location:
        raise ZooError(
            f"--data celeba: names no folder; CelebA attribute data is given as celeba:DIR (the folder with {ATTR_FILE})", exit_code=2
        )
    if attrs is None:
        return celeba_source(location, val_fraction=val_fraction)
    return celeba_source(location, attrs, val_fraction=val_fraction)


def celeba_transforms(image_size: int, crop_size: int, *, train: bool = False) -> Any:
    """The official CelebA preprocessing, as a ``torchvision.transforms.v2`` pipeline.

    yunjey/stargan ``data_loader.get_loader``: ``RandomHorizontalFlip`` (training only),
    ``CenterCrop(crop_size)``, ``Resize(image_size)``, ``ToTensor``, ``Normalize(0.5, 0.5)``;
    on a PIL image the crop and resize run in PIL (bilinear), as the official
    ``torchvision.transforms`` do. Grey images become RGB.

    Args:
        image_size: the output height = width in pixels (``main.py --image_size``, 128).
        crop_size: the centre crop before resizing (``main.py --celeba_crop_size``, 178).
        train: add the random horizontal flip.

    Returns:
        A callable: a PIL image (any mode) or an image tensor -> ``(3, image_size,
        image_size)`` float32 in ``[-1, 1]``.
    """
    import torch
    from torchvision.transforms import v2

    ops: list[Any] = [v2.RGB()]
    if train:
        ops.append(v2.RandomHorizontalFlip())
    ops += [
        v2.CenterCrop(crop_size),
        v2.Resize(image_size, antialias=True),
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize([0.5] * 3, [0.5] * 3),
    ]
    return v2.Compose(ops)


def as_rgb(images: Any) -> Any:
    """Grey images repeated to RGB, as the official RaFD loader does (``torchvision.datasets.ImageFolder``
    opens every file with PIL ``convert("RGB")``): an ``(N, 1, H, W)`` tensor becomes ``(N, 3, H, W)``
    (a view); anything else is returned as it is."""
    import torch

    if isinstance(images, torch.Tensor) and images.dim() == 4 and images.shape[1] == 1:
        return images.expand(-1, 3, -1, -1)
    return images


def translation_inputs(model: str, images: Any, image_size: int) -> Any:
    """The images to translate, checked: float ``(N, 3, image_size, image_size)`` (grey ``(N, 1, ...)``
    repeated to RGB, :func:`as_rgb`), as the official test preprocessing (:func:`celeba_transforms`,
    the adapter's ``preprocess``) makes them.

    Raises:
        ZooError: not a non-empty 4-D float tensor, or of another shape (exit code 2).
    """
    import torch

    if not isinstance(images, torch.Tensor) or images.dim() != 4 or not images.is_floating_point() or images.shape[0] == 0:
        got = f"shape {tuple(images.shape)} {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ZooError(f"{model} translates float images (N, 3, {image_size}, {image_size}) from preprocess(), got {got}", exit_code=2)
    images = as_rgb(images)
    if tuple(images.shape[1:]) != (3, image_size, image_size):
        raise ZooError(
            f"{model} translates images of shape (N, 3, {image_size}, {image_size}), got "
            f"{tuple(images.shape)}; use preprocess() (official test preprocessing) first",
            exit_code=2,
        )
    return images
