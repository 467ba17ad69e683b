"""Seeding: one call seeds every generator a run draws from, below the trainer and the
distributed wrapper, so that neither imports the other (Lightning Fabric keeps
``seed_everything`` in ``utilities/seed.py`` for the same reason)."""

from __future__ import annotations

__all__ = ["seed_everything"]


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
