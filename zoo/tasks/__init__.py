"""The library's main jobs, usable from Python alone: train, adapt (transfer learning), sample.

Sampling itself (:func:`sample`, :func:`load_gan`, :func:`save_grid`) is in
:mod:`zoo.tasks.sampling` and re-exported here.

The CLI commands ``zoo train``, ``zoo adapt`` and ``zoo sample`` are thin shells over
these functions; ``zoo demo`` chains them.

Output policy (:func:`zoo.utils.outputs.claim_output`): an ``out`` that holds an earlier run is
refused unless ``overwrite``; the earlier run's files are removed only once the new run
has its first complete epoch (or its final model). Training saves ``out/last`` (and
``out/best`` for backbones) after every epoch; ``resume=out`` continues from ``out/last``
exactly (:mod:`zoo.training.resume`). When resuming, arguments left at ``None`` take the run's
values, and given ones must match them (``epochs`` may grow for GANs, ``amp`` may change).
"""

from __future__ import annotations

__all__ = ["adapt", "fit", "load_gan", "preprocessing", "sample", "save_grid", "train"]

# The library's main jobs, one module each; `from zoo import tasks` is the documented entry point.
from zoo.io.images import save_grid
from zoo.tasks._common import fit, preprocessing  # the loop behind train and adapt, and what a sidecar records
from zoo.tasks.adapting import adapt
from zoo.tasks.fitting import train
from zoo.tasks.sampling import load_gan, sample
