"""Bytes on disk and on the network: weight files read safely (:mod:`~zoo.io.state_dict`,
:mod:`~zoo.io.official`, :mod:`~zoo.io.filekind`), zoo's checkpoints (:mod:`~zoo.io.checkpoint`,
:mod:`~zoo.io.train_state`), downloads, the cache and its pins (:mod:`~zoo.io.download`,
:mod:`~zoo.io.pretrained`, :mod:`~zoo.io.cache`, :mod:`~zoo.io.pins`), and images in and out
(:mod:`~zoo.io.images`; the labels and layout of its grids, :mod:`~zoo.io.grid_text`).

May import: :mod:`zoo.registry`, :mod:`zoo.utils`, :mod:`zoo.errors`. Adapters are only
passed in (typed with :mod:`zoo.models.protocols` under ``TYPE_CHECKING``).
"""
