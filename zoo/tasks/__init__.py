"""The jobs a user runs, usable from Python alone, one module each: :func:`train`
(:mod:`~zoo.tasks.fitting`), :func:`adapt` (:mod:`~zoo.tasks.adapting`; GANs:
:mod:`~zoo.tasks.gan_transfer`), ``pretrain`` (:mod:`~zoo.tasks.pretrain`), :func:`sample`
and :func:`load_gan` (:mod:`~zoo.tasks.sampling`, :mod:`~zoo.tasks.translate`), features and
the linear probe (:mod:`~zoo.tasks.features`, :mod:`~zoo.tasks.probe`), ``zoo eval`` and
``zoo predict`` (:mod:`~zoo.tasks.evaluate`), ``zoo export`` (:mod:`~zoo.tasks.export`),
``zoo bench`` (:mod:`~zoo.tasks.bench`), FID/KID (:mod:`~zoo.tasks.quality`); what they
share is in the package-private ``_common``. The CLI commands are thin shells over them.

Output policy (:func:`zoo.utils.outputs.claim_output`): an ``out`` that holds an earlier run is
refused unless ``overwrite``; the earlier run's files are removed only once the new run
has its first complete epoch (or its final model). Training saves ``out/last`` (and
``out/best`` for backbones) after every epoch; ``resume=out`` continues from ``out/last``
exactly (:mod:`zoo.training.resume`). When resuming, arguments left at ``None`` take the run's
values, and given ones must match them (``epochs`` may grow for GANs, ``amp`` may change).

May import every layer below (training, models, data, io, registry, utils); never a plugin or the CLI.
"""

from __future__ import annotations

__all__ = ["adapt", "fit", "load_gan", "preprocessing", "sample", "save_grid", "train"]

# The library's main jobs, one module each; `from zoo import tasks` is the documented entry point.
from zoo.io.grids import save_grid
from zoo.tasks._common import fit, preprocessing  # the loop behind train and adapt, and what a sidecar records
from zoo.tasks.adapting import adapt
from zoo.tasks.fitting import train
from zoo.tasks.sampling import load_gan, sample
