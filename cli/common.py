"""Shared CLI helpers: the stderr console, JSON output, and error reporting.

Data goes to stdout (a rich table, or ``--json``); errors, warnings and progress go to
stderr so ``--json`` output stays parseable.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from zoo.errors import ZooError, warn  # noqa: F401  (re-exported for CLI modules)

__all__ = [
    "CLI_FLAGS",
    "PARAMS_COUNTED",
    "THREADS_HELP",
    "apply_threads",
    "debug_enabled",
    "err_console",
    "out_console",
    "print_json",
    "warn",
]

#: Python parameter -> CLI flag, where the flag is not ``--`` + the parameter with ``-`` for ``_``
#: (see :meth:`zoo.errors.ZooError.for_cli`).
CLI_FLAGS: dict[str, str] = {
    "num_classes": "--head",
    "budget_s": "--budget",
    "image_size": "--img-size",
    "n": "--n",
    "official_weights": "--weights",
}


#: What every parameter count of the CLI counts (``zoo list``, ``zoo info``, ``zoo bench``: one definition).
PARAMS_COUNTED = "parameters of all the model's networks (a GAN: generator + discriminator)"

#: ``--model-kwargs`` of train, adapt and pretrain (timm's name for it).
MODEL_KWARGS_HELP = (
    "The model's build options, KEY=VALUE ... (e.g. --model-kwargs ngf=32 projection=false): "
    "'zoo info NAME' lists each with its type, default and meaning."
)

#: ``--threads`` of the commands that compute (train, adapt, pretrain, demo, bench).
THREADS_HELP = (
    "CPU threads for torch's kernels (default: the CPUs this process may use, from its affinity "
    "and cgroup quota; or ZOO_THREADS). Lower it when several zoo processes share the machine."
)


def apply_threads(threads: int | None) -> None:
    """``--threads N``: set torch's intra-op thread count (:func:`zoo.utils.threads.set_threads`);
    ``None`` keeps the process default (:func:`zoo.utils.threads.configure_process`).

    Raises:
        ZooError: ``threads`` below 1 (exit code 2).
    """
    if threads is not None:
        from zoo.utils.threads import set_threads

        set_threads(threads)


def debug_enabled() -> bool:
    """True when ``ZOO_DEBUG`` is set to a non-empty, non-zero value (show tracebacks)."""
    return os.environ.get("ZOO_DEBUG", "") not in ("", "0")


def _console(stderr: bool):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


class _Lazy:
    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._c = None

    def __getattr__(self, name: str) -> Any:
        if self._c is None:
            self._c = _console(self._stderr)
        return getattr(self._c, name)


err_console = _Lazy(stderr=True)
out_console = _Lazy(stderr=False)


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON to stdout (non-finite floats become ``null``)."""
    sys.stdout.write(json.dumps(_clean(data), indent=2) + "\n")
    sys.stdout.flush()


def _clean(obj: Any) -> Any:
    import math

    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj
