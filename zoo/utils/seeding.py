"""Seeding: one call seeds every generator a run draws from, below the trainer and the
distributed wrapper, so that neither imports the other (Lightning Fabric keeps
``seed_everything`` in ``utilities/seed.py`` for the same reason)."""

from __future__ import annotations

from zoo.errors import ZooError

__all__ = ["SEED_MAX", "check_seed", "seed_everything"]

#: The largest seed: NumPy's legacy generator and scikit-learn's ``random_state`` take
#: 32-bit unsigned seeds, so every zoo seed is in ``0 .. 2**32 - 1``.
SEED_MAX = 2**32 - 1


def check_seed(seed: int | None, param: str = "seed") -> int | None:
    """The one seed rule of every command (``--seed`` of train, adapt, pretrain, sample,
    features, eval, demo...): ``None`` or an integer in ``0 .. SEED_MAX``. Returns ``seed``.

    Raises:
        ZooError: (exit code 2) another value, naming ``param`` (``{param}`` template).
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX):
        raise ZooError(f"{{param}} must be between 0 and {SEED_MAX}, got {seed}", param=param, exit_code=2)
    return seed


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's (``seed % 2**32``) and torch's generators (every device).

    Args:
        seed: any int; the runs use 0 .. 2**32 - 1.
    """
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
