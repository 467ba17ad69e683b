"""The one training loop and what surrounds it: :mod:`~zoo.training.trainer` (AMP, n_critic,
callbacks, logs), :mod:`~zoo.training.optim` (optimizers and schedules built from the adapters'
configs), :mod:`~zoo.training.runs` (run directories, ``last/`` and ``best/``, ``--resume``),
:mod:`~zoo.training.resume` (RNG states, Ctrl-C, divergence) and :mod:`~zoo.training.distributed`
(torchrun: DDP wrapping, rank 0 writes).

May import: :mod:`zoo.models`, :mod:`zoo.data`, :mod:`zoo.io`, :mod:`zoo.registry`,
:mod:`zoo.utils`, :mod:`zoo.errors`; never :mod:`zoo.tasks` or a plugin.
"""
