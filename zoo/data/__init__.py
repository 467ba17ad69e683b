"""Data for training and adaptation: user ImageFolders and built-in real data sets.

``--data`` is either a path or ``NAME[:CLASSES]`` of a built-in data set (contributed by
plugins through ``zoo_datasets``; ``digits`` and ``faces`` ship with zoo):

* an ImageFolder directory (one sub-folder per class, ``torchvision.datasets.ImageFolder``);
  if it has ``train/`` and ``val/`` sub-folders those are the splits, otherwise a seeded,
  stratified 80/20 split is made;
* ``digits``, ``digits:0-4``, ``digits:5,7,9``: classes are kept in the order given and
  renumbered from 0. A range ``a-b`` runs over digits (``0-4``) or single capital or small
  letters (``A-F``). A data set may declare named groups of classes
  (:attr:`zoo.registry.spec.DatasetSpec.groups`): ``glyphs:digits`` keeps the group's classes,
  ``glyphs:letters,0`` a group and a class.

Images are returned by the datasets as ``(C, H, W)`` uint8 tensors or PIL images and
turned into float32 by the adapter's ``transforms`` (``torchvision.transforms.v2``).

Modules: :mod:`~zoo.data.sources` (what ``--data`` names), :mod:`~zoo.data.splits` (class
filters, held-out split, few-shot), :mod:`~zoo.data.loaders` (batches, torchrun shards).
May import: :mod:`zoo.io`, :mod:`zoo.registry`, :mod:`zoo.utils`, :mod:`zoo.errors`.
"""

from zoo.data.loaders import Transformed, drops_last, iterations_per_epoch, make_loaders, shard_loaders
from zoo.data.sources import DataSource, resolve_data
from zoo.data.splits import few_shot, parse_classes, stratified_split

__all__ = [
    "DataSource",
    "Transformed",
    "drops_last",
    "few_shot",
    "iterations_per_epoch",
    "make_loaders",
    "parse_classes",
    "resolve_data",
    "shard_loaders",
    "stratified_split",
]
