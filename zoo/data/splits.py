"""Choosing images: the ``NAME:CLASSES`` filter (:func:`parse_classes`), the seeded stratified
held-out split (:func:`stratified_split`) and the few-shot subset (:func:`few_shot`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from zoo.errors import ZooError, did_you_mean

__all__ = ["few_shot", "parse_classes", "stratified_split"]


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
    :attr:`zoo.registry.spec.DatasetSpec.groups`: ``digits`` for ``glyphs:digits``), which stands for
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
