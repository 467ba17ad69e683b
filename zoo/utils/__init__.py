"""Utilities below everything else: atomic files (:mod:`~zoo.utils.fileio`), the ``--out`` policy
(:mod:`~zoo.utils.outputs`), devices and mixed precision (:mod:`~zoo.utils.devices`), CPU threads
(:mod:`~zoo.utils.threads`), the torchrun process context (:mod:`~zoo.utils.dist`), seeding
(:mod:`~zoo.utils.seeding`) and the progress bar (:mod:`~zoo.utils.progress`).

May import: :mod:`zoo.errors` only (and third-party libraries).
"""
