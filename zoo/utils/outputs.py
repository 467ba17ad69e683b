"""Where a command may write: the one ``--out`` policy of every command that writes
(:func:`claim_output`). An earlier run or file is never replaced without ``--overwrite``, and a
default output is a new numbered directory (:func:`numbered_dir`).

No torch import.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from zoo.errors import ZooError
from zoo.utils.fileio import nearest_existing

__all__ = ["RUN_MARKERS", "claim_output", "numbered_dir"]


# ---------------------------------------------------------------------------------
# --out: one policy for every command that writes
# ---------------------------------------------------------------------------------
#: What marks a directory as holding a ``zoo train`` / ``zoo adapt`` run.
RUN_MARKERS = ("model.safetensors", "model.json", "last", "last.old", "best")


def _stamp(path: Path) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))


def numbered_dir(default: str | os.PathLike[str]) -> Path:
    """``default`` if it does not exist, else the first of ``default-2``, ``default-3``...
    that does not (timm's ``train.py`` ``get_outdir(inc=True)``, ultralytics'
    ``increment_path``). Nothing is created: two runs started in the same instant may pick
    the same name."""
    base = Path(default)
    candidate, n = base, 1
    while candidate.exists() or candidate.is_symlink():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def claim_output(
    path: str | os.PathLike[str] | None,
    *,
    overwrite: bool = False,
    kind: str = "directory",
    default: str | os.PathLike[str] | None = None,
    resumable: bool = False,
    markers: tuple[str, ...] = RUN_MARKERS,
    param: str = "out",
) -> Path:
    """Where a command may write its output: the one ``--out`` policy of zoo.

    * ``path`` given (``--out``): refused when it names an earlier output, a directory
      holding one of ``markers`` (a run: ``model.safetensors``, ``model.json``, ``last/``...)
      or, for ``kind="file"``, an existing file, unless ``overwrite``. With ``overwrite``
      the old files stay until the new ones are complete (every file is renamed into place
      whole, :func:`atomic_path`; checkpoint directories are swapped in, :func:`swap_in_dir`).
    * ``path`` is ``None``: a new numbered directory (or file) from ``default``
      (:func:`numbered_dir`: ``runs/train/NAME``, ``NAME-2``, ``NAME-3``...), so a default
      never replaces anything.

    Nothing is created here, so a command that fails on a later check leaves nothing behind;
    the checks only make a bad ``--out`` fail before any work.

    Args:
        path: the ``--out`` value, or ``None``.
        overwrite: ``--overwrite`` was given.
        kind: ``"directory"`` (a run directory) or ``"file"`` (a PNG grid, a JSON summary).
        default: the default output when ``path`` is ``None`` (required then).
        resumable: the command takes ``--resume DIR`` (the refusal suggests it).
        markers: entries that mark a directory as an earlier output.
        param: the parameter named in errors (``{param}`` template; ``--out`` in the CLI).

    Returns:
        The path to write to.

    Raises:
        ZooError: (exit code 2) the output holds an earlier run/file and no ``overwrite``;
            a file where a directory is wanted or the reverse; the nearest existing parent is
            not a writable directory.
        ValueError: unknown ``kind``, or neither ``path`` nor ``default``.
    """

    if kind not in ("directory", "file"):
        raise ValueError(f"kind must be 'directory' or 'file', got {kind!r}")
    if path is None:
        if default is None:
            raise ValueError("claim_output needs a path or a default")
        target = numbered_dir(default) if kind == "directory" else _numbered_file(Path(default))
    else:
        target = Path(path)
        if kind == "directory":
            if target.exists() and not target.is_dir():
                raise ZooError(f"{{param}} {target} is a file, not a directory; choose another {{param}}", param=param, exit_code=2)
            found = next((target / m for m in markers if (target / m).exists()), None) if target.is_dir() else None
            if found is not None and not overwrite:
                resume = f", --resume {target} to continue it," if resumable else ""
                raise ZooError(
                    f"{{param}} {target} already holds a run ({found.name}, {_stamp(found)}); pass --overwrite to replace it"
                    f"{resume} or choose another {{param}}",
                    param=param,
                    exit_code=2,
                )
        else:
            if target.is_dir():
                raise ZooError(
                    f"{{param}} {target} is a directory; give a file name such as {target / 'grid.png'}", param=param, exit_code=2
                )
            if target.exists() and not overwrite:
                raise ZooError(
                    f"{{param}} {target} already exists ({_stamp(target)}); pass --overwrite to replace it or choose another {{param}}",
                    param=param,
                    exit_code=2,
                )
    parent = nearest_existing(target if kind == "directory" else target.parent)
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ZooError(f"cannot write {target}: {parent} is not a writable directory; choose another {{param}}", param=param, exit_code=2)
    return target


def _numbered_file(base: Path) -> Path:
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.stem}-{n}{base.suffix}")
    return candidate
