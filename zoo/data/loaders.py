"""Batches: seeded ``DataLoader`` objects over a :class:`zoo.data.sources.DataSource` (few-shot
subsets included), and under torchrun each process's shard of them."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from zoo.data.sources import DataSource
from zoo.data.splits import few_shot
from zoo.utils.dist import check_batch_size, context

__all__ = ["Transformed", "drops_last", "iterations_per_epoch", "make_loaders", "shard_loaders"]


class Transformed(Dataset):
    """Applies ``transform`` to the image of each ``(image, label)`` item of ``base``."""

    def __init__(self, base: Any, transform: Any) -> None:
        self.base, self.transform = base, transform

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x, y = self.base[i]
        return self.transform(x), y


def drops_last(images: int, batch_size: int, drop_last: bool = False) -> bool:
    """Whether :func:`make_loaders` drops the final partial batch of ``images`` training images
    in batches of ``batch_size`` (already cut to ``images``): with ``drop_last``, or when it would
    hold one image (batch norm cannot train on one image: "Expected more than 1 value per
    channel"; timm and Lightning users drop it the same way), and only when there is more than
    one batch."""
    return (drop_last or images % batch_size == 1) and images > batch_size


def iterations_per_epoch(images: int, batch_size: int, *, drop_last: bool = False) -> int:
    """Batches in one pass over ``images`` training images, as :func:`make_loaders` batches them:
    the batch is ``min(batch_size, images)`` (at least 1), and the final partial batch is
    dropped as :func:`drops_last` says.

    Returns:
        At least 1 when ``images >= 1``; 0 for no images.
    """
    bs = max(1, min(batch_size, images))
    return images // bs if drops_last(images, bs, drop_last) else -(-images // bs)


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

    Batches are ``(images (B, C, S, S) float32, labels (B,) int64)``. A final training batch
    of one image is dropped, as is any final partial batch with ``drop_last`` (:func:`drops_last`);
    ``len(train_loader.sampler) - len(train_loader) * train_loader.batch_size`` images are
    then left out of each epoch (a different few each epoch, as the order is shuffled).

    Under torchrun (:mod:`zoo.training.distributed`) ``batch_size`` is the global batch: each of the
    N processes loads ``batch_size / N`` images of its ``DistributedSampler`` shard (seeded
    with ``seed``) and 1/N of the held-out split, so N processes see the batches one process
    launched by torchrun sees.

    Raises:
        ZooError: a class has fewer training images than ``shots``; under torchrun,
            ``batch_size`` is not a multiple of the number of processes.
    """
    from torch.utils.data import Subset

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
        drop_last=drops_last(len(train), bs, drop_last),
    )
    val_bs = max(1, min(max(batch_size, 64), len(source.val)))  # any --batch-size, however large, is one batch at most
    val_loader = DataLoader(Transformed(source.val, val_transform), batch_size=val_bs, shuffle=False, num_workers=num_workers)
    return train_loader, val_loader


def shard_loaders(train: Any, val: Any, *, batch_size: int, seed: int, num_workers: int = 0, drop_last: bool = False) -> tuple[Any, Any]:
    """Training and held-out ``DataLoader``s of this process's shards (under torchrun).

    ``batch_size`` is the global batch (each process loads ``batch_size / world_size``, fewer
    when its shard is smaller); ``seed`` shuffles the DistributedSampler (``seed + epoch``);
    ``num_workers`` and ``drop_last`` as :func:`zoo.data.make_loaders` (a last batch of one
    image per process is always dropped). The held-out shard is
    every ``world_size``-th image, not padded (DistributedSampler would count some twice);
    evaluation runs no collective per batch, so unequal shards are fine.

    Raises:
        ZooError: ``batch_size`` does not split evenly (:func:`check_batch_size`).
    """
    import torch
    from torch.utils.data import DataLoader, DistributedSampler

    ctx = context()
    per = check_batch_size(batch_size, ctx.world_size)
    sampler = DistributedSampler(train, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed, drop_last=False)
    bs = max(1, min(per, len(sampler)))
    train_loader = DataLoader(
        train,
        batch_size=bs,
        sampler=sampler,
        generator=torch.Generator().manual_seed(seed),  # worker seeds only; the order is the sampler's
        num_workers=num_workers,
        # a last batch of one image per process is dropped too: batch norm cannot train on it
        drop_last=drops_last(len(sampler), bs, drop_last),
    )
    # the held-out shard as a sampler (``range``), so ``val_loader.dataset`` is the whole split
    shard = range(ctx.rank, len(val), ctx.world_size)
    val_loader = DataLoader(val, batch_size=max(1, min(max(per, 64), len(shard))), sampler=shard, num_workers=num_workers)
    return train_loader, val_loader
