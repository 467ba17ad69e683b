"""Where a command may write: the one ``--out`` policy of every command that writes
(:func:`claim_output`). An earlier run or file is never replaced without ``--overwrite``; a
default output is a new numbered name (:func:`numbered_dir`); no output is ever one of the
command's own inputs or a file of another run; and an output is *claimed* for the life of
the command, so two commands started at the same instant never share one.

**Claims.** Claiming an output takes an exclusive ``flock`` on a small lock file beside it
(``PARENT/.NAME.zoo-lock``, holding the owner's pid), made without waiting: a second zoo
process that wants the same output is refused in one line (an explicit ``--out``), or moves
on to the next numbered name (a default). The existence and ``--overwrite`` checks are made
only once the lock is held, so they cannot race. The claim is released (the lock file
removed, with any empty directories made for it) when the command ends: by
:func:`claims_scope` (the CLI wraps every command in one, and the tasks of
:mod:`zoo.tasks` each use one), or at the latest at interpreter exit. A process that is
killed (``kill -9``, a crash, a lost machine) holds no claim any more: the kernel drops a
``flock`` with the last file descriptor of its holder, so the next command takes the stale
lock file over at once (and removes it when it is done); nothing ever blocks a user. Under
torchrun only rank 0 claims; a default name is rank 0's, sent to the other ranks
(:func:`zoo.utils.dist.broadcast_from_main`). On a file system without ``flock`` (some
network mounts), or where no lock file can be created beside the output (a read-only parent),
the claim is best effort: the checks still run, the lock is skipped, and the write itself
reports what fails.

Reentrant within one process: the CLI claims a default run directory and the task it calls
claims the same path again; a claim already held by this process is simply kept.
The lock files themselves are :mod:`zoo.utils.claims`.

No torch import.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from zoo.errors import ZooError
from zoo.utils.claims import (
    LOCK_SUFFIX,
    claims_scope,
    held_claims,
    holder,
    is_held,
    release_output,
    releasing_claims,
    resolved,
    try_hold,
)
from zoo.utils.fileio import nearest_existing

__all__ = [
    "LOCK_SUFFIX",
    "RUN_ENTRIES",
    "RUN_MARKERS",
    "claim_output",
    "claims_scope",
    "held_claims",
    "hold_output",
    "numbered_dir",
    "release_output",
    "releasing_claims",
]


# ---------------------------------------------------------------------------------
# --out: one policy for every command that writes
# ---------------------------------------------------------------------------------
#: What marks a directory as holding a ``zoo train`` / ``zoo adapt`` run.
RUN_MARKERS = ("model.safetensors", "model.json", "last", "last.old", "best", "best.old")
#: The entries of a run directory that belong to the run: no other command writes over them,
#: even with ``--overwrite`` (only a new run in that directory replaces them).
RUN_ENTRIES = (*RUN_MARKERS, "metrics.jsonl", "samples")


def _stamp(path: Path) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime))


def numbered_dir(default: str | os.PathLike[str]) -> Path:
    """``default`` if it does not exist, else the first of ``default-2``, ``default-3``...
    that does not (timm's ``train.py`` ``get_outdir(inc=True)``, ultralytics'
    ``increment_path``). A name only: nothing is created or claimed (:func:`claim_output`
    claims a default name atomically)."""
    return next(_numbered(Path(default), "directory"))


def _numbered(base: Path, kind: str) -> Iterator[Path]:
    """``base``, then ``base-2``, ``base-3``... (files: ``grid-2.png``), skipping names that exist."""
    n = 1
    while True:
        if n == 1:
            candidate = base
        elif kind == "directory":
            candidate = base.with_name(f"{base.name}-{n}")
        else:
            candidate = base.with_name(f"{base.stem}-{n}{base.suffix}")
        if not (candidate.exists() or candidate.is_symlink()):
            yield candidate
        n += 1


def claim_output(
    path: str | os.PathLike[str] | None,
    *,
    overwrite: bool = False,
    kind: str = "directory",
    default: str | os.PathLike[str] | None = None,
    resumable: bool = False,
    markers: tuple[str, ...] = RUN_MARKERS,
    param: str = "out",
    reads: Iterable[str | os.PathLike[str] | None] = (),
    example: str | None = None,
) -> Path:
    """Where a command may write its output: the one ``--out`` policy of zoo; the output is
    claimed for this process until the command ends (see the module docstring).

    * ``path`` given (``--out``): refused when it names an earlier output, a directory
      holding one of ``markers`` (a run: ``model.safetensors``, ``model.json``, ``last/``...)
      or, for ``kind="file"``, an existing file, unless ``overwrite``; refused, whatever
      ``overwrite`` says, while another zoo process holds it. With ``overwrite`` the old
      files stay until the new ones are complete (every file is renamed into place whole,
      :func:`atomic_path`; checkpoint directories are swapped in, :func:`swap_in_dir`).
    * ``path`` is ``None``: a new numbered directory (or file) from ``default``
      (``runs/train/NAME``, ``NAME-2``, ``NAME-3``...), the first one that neither exists
      nor is claimed by another process, so a default never replaces anything and two
      commands never get the same one. ``overwrite`` is refused then (nothing to replace).
    * Never, even with ``overwrite``: an output that is one of ``reads`` (the files and
      folders the command reads: ``--data``, ``--weights``, ``--checkpoint``, ``--image``),
      lies inside a folder of ``reads``, or (a directory) would replace one of ``reads``
      through one of ``markers``; a file of a run (``RUN/model.safetensors``,
      ``RUN/model.json``, ``RUN/metrics.jsonl``, anything under ``RUN/last``, ``RUN/best``,
      ``RUN/samples``); a run's ``last``/``best`` directory.

    Nothing but the claim's lock file (and the directories it needs) is created here, and
    they go when the claim is released, so a command that fails on a later check leaves
    nothing behind; the checks only make a bad ``--out`` fail before any work.

    Args:
        path: the ``--out`` value, or ``None``.
        overwrite: ``--overwrite`` was given.
        kind: ``"directory"`` (a run directory) or ``"file"`` (a PNG grid, a JSON summary).
        default: the default output when ``path`` is ``None`` (required then).
        resumable: the command takes ``--resume DIR`` (the refusal suggests it).
        markers: entries that mark a directory as an earlier output.
        param: the parameter named in errors (``{param}`` template; ``--out`` in the CLI).
        reads: what the command reads (files or folders; ``None`` and missing paths are skipped).
        example: the file name suggested when a directory is given for a file
            (default: the name of ``default``, else ``output``).

    Returns:
        The path to write to.

    Raises:
        ZooError: (exit code 2) the output holds an earlier run/file and no ``overwrite``;
            another zoo process holds it; it is an input of the command or a file of a run;
            a file where a directory is wanted or the reverse; the nearest existing parent is
            not a writable directory; ``overwrite`` without ``path``.
        ValueError: unknown ``kind``, or neither ``path`` nor ``default``.
    """
    from zoo.utils.dist import broadcast_from_main, context

    if kind not in ("directory", "file"):
        raise ValueError(f"kind must be 'directory' or 'file', got {kind!r}")
    reads = [Path(r).expanduser() for r in reads if r is not None]
    ctx = context()
    if path is None:
        if default is None:
            raise ValueError("claim_output needs a path or a default")
        if overwrite:
            raise ZooError(
                "--overwrite replaces an earlier {param}; without {param} the output is a new numbered name, so there is "
                "nothing to replace: give {param} or leave --overwrite out",
                param=param,
                exit_code=2,
            )
        if ctx.world_size < 2:
            return _claim_default(Path(default), kind, reads, markers, param)
        # torchrun: rank 0 claims, every rank writes (rank 0) or names (the others) rank 0's choice
        decided: tuple[str | None, tuple[str, str | None, int] | None] = (None, None)
        if ctx.is_main:
            try:
                decided = (str(_claim_default(Path(default), kind, reads, markers, param)), None)
            except ZooError as exc:
                decided = (None, (exc.template, exc.param, exc.exit_code))
        path_text, error = broadcast_from_main(decided)
        if error is not None:
            raise ZooError(error[0], param=error[1], exit_code=error[2])
        return Path(path_text)
    target = Path(path)
    if kind == "directory":
        if target.exists() and not target.is_dir():
            raise ZooError(f"{{param}} {target} is a file, not a directory; choose another {{param}}", param=param, exit_code=2)
    elif target.is_dir():
        name = example or (Path(default).name if default is not None else "output")
        raise ZooError(f"{{param}} {target} is a directory; give a file name such as {target / name}", param=param, exit_code=2)
    _protect(target, kind, reads, markers, param)
    _check_writable(target, kind, param)
    if ctx.is_main and not try_hold(target, param):
        raise ZooError(f"{{param}} {target} is being written by {holder(target)}; wait for it to finish or choose another {{param}}",
                       param=param, exit_code=2)  # fmt: skip
    try:
        _check_earlier(target, kind, overwrite, resumable, markers, param)
    except ZooError:
        release_output(target)
        raise
    return target


def hold_output(path: str | os.PathLike[str], *, param: str = "resume") -> Path:
    """Claim an existing output that this process is about to continue writing (``--resume
    DIR``), without :func:`claim_output`'s checks: refused while another zoo process holds it.
    Under torchrun only rank 0 claims. Released as :func:`claim_output`'s claims are.

    Raises:
        ZooError: (exit code 2) another zoo process holds ``path``.
    """
    from zoo.utils.dist import context

    target = Path(path)
    if context().is_main and not try_hold(target, param):
        raise ZooError(f"{{param}} {target} is being written by {holder(target)}; wait for it to finish", param=param, exit_code=2)
    return target


def _claim_default(base: Path, kind: str, reads: list[Path], markers: tuple[str, ...], param: str) -> Path:
    """The first numbered name from ``base`` that neither exists nor is claimed, claimed."""
    for candidate in _numbered(base, kind):
        _protect(candidate, kind, reads, markers, param)
        _check_writable(candidate, kind, param)
        if is_held(candidate) or not try_hold(candidate, param):
            continue  # this process or another one writes there: the next name
        if candidate.exists() or candidate.is_symlink():  # made between the look and the lock
            release_output(candidate)
            continue
        return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _check_writable(target: Path, kind: str, param: str) -> None:
    parent = nearest_existing(target if kind == "directory" else target.parent)
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ZooError(f"cannot write {target}: {parent} is not a writable directory; choose another {{param}}", param=param, exit_code=2)


def _check_earlier(target: Path, kind: str, overwrite: bool, resumable: bool, markers: tuple[str, ...], param: str) -> None:
    if kind == "directory":
        found = next((target / m for m in markers if (target / m).exists()), None) if target.is_dir() else None
        if found is not None and not overwrite:
            resume = f", --resume {target} to continue it," if resumable else ""
            raise ZooError(
                f"{{param}} {target} already holds a run ({found.name}, {_stamp(found)}); pass --overwrite to replace it"
                f"{resume} or choose another {{param}}",
                param=param,
                exit_code=2,
            )
    elif target.exists() and not overwrite:
        raise ZooError(
            f"{{param}} {target} already exists ({_stamp(target)}); pass --overwrite to replace it or choose another {{param}}",
            param=param,
            exit_code=2,
        )


# ---------------------------------------------------------------------------------
# inputs and other runs' files are never outputs
# ---------------------------------------------------------------------------------
def _is_run(directory: Path) -> bool:
    return directory.is_dir() and any((directory / m).exists() for m in RUN_MARKERS)


def _protect(target: Path, kind: str, reads: list[Path], markers: tuple[str, ...], param: str) -> None:
    """Refuse an output that is an input of the command or a file of a run (see :func:`claim_output`)."""
    t = resolved(target)
    for r in reads:
        if not (r.exists() or r.is_symlink()):
            continue
        rr = resolved(r)
        same = t == rr or (kind == "file" and target.is_file() and r.is_file() and os.path.samefile(target, r))
        if same:
            which = "" if str(r) == str(target) else f" ({r})"
            raise ZooError(
                f"{{param}} {target} is an input of this command{which}; an output never replaces its own input, "
                "even with --overwrite: choose another {param}",
                param=param,
                exit_code=2,
            )
        if r.is_dir() and rr in t.parents:
            raise ZooError(
                f"{{param}} {target} is inside {r}, which this command reads; write outside its input folders: choose another {{param}}",
                param=param,
                exit_code=2,
            )
        if kind == "directory" and t in rr.parents and rr.relative_to(t).parts[0] in markers:
            raise ZooError(
                f"{{param}} {target} holds {r}, which this command reads, and would replace it; choose another {{param}}",
                param=param,
                exit_code=2,
            )
    parent = t.parent
    if t.name in RUN_ENTRIES and _is_run(parent):
        owner = parent
    else:
        owner = next((a.parent for a in t.parents if a.name in RUN_ENTRIES and _is_run(a.parent)), None)
    if owner is not None:
        raise ZooError(
            f"{{param}} {target} belongs to the run in {owner}; no command writes over a run's files, even with --overwrite "
            "(only a new run in that directory replaces them): choose another {param}",
            param=param,
            exit_code=2,
        )
