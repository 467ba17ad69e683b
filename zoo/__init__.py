"""zoo: a plugin-based model zoo for transfer learning and generative modelling.

Importing :mod:`zoo` is cheap: it never imports torch. Everything that needs torch
(building, training, benchmarking) is imported lazily by the function that needs it.

Third-party plugins implement hooks with :data:`hookimpl`::

    from zoo import hookimpl

    @hookimpl
    def zoo_model_specs():
        ...
"""

from zoo.errors import ZooError
from zoo.hookspecs import hookimpl

__all__ = ["ZooError", "__version__", "hookimpl"]
__version__ = "0.1.0"
