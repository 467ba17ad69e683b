"""Claims on outputs: a ``flock`` on ``PARENT/.NAME.zoo-lock``, held by this process until released.

The mechanism behind :func:`zoo.utils.outputs.claim_output` (which decides *what* may be
claimed; see its module docstring for the policy): :func:`try_hold` takes an exclusive,
non-blocking ``flock`` on a lock file beside the output and records it for this process;
:func:`release_output`, :func:`claims_scope` and :func:`releasing_claims` give it back (the
lock file, and the directories made for it, go); at interpreter exit every claim is
released. The kernel drops a ``flock`` when its holder dies, even by ``kill -9``, so a stale
lock file never blocks anyone: the next claim takes it over at once.

No torch import.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec, TypeVar

from zoo.errors import ZooError

P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "LOCK_SUFFIX",
    "claims_scope",
    "held_claims",
    "holder",
    "is_held",
    "lock_path",
    "release_output",
    "releasing_claims",
    "resolved",
    "try_hold",
]

#: The suffix of the lock files of claimed outputs (``.NAME.zoo-lock`` beside ``NAME``).
LOCK_SUFFIX = ".zoo-lock"


def resolved(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute with its symbolic links resolved (as written, for a link loop): the
    one name of an output, whatever path reached it."""
    p = Path(path).expanduser()
    try:
        return p.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(p))


# ---------------------------------------------------------------------------------
# claims: a flock on PARENT/.NAME.zoo-lock, held until released
# ---------------------------------------------------------------------------------
@dataclass
class _Held:
    fd: int
    lock: Path
    made: list[Path] = field(default_factory=list)  # directories created for the lock file, outermost first


_HELD: dict[str, _Held] = {}
#: Errors creating a lock file that leave the claim to the checks (a read-only or unwritable parent).
_UNWRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def _key(target: Path) -> str:
    return str(resolved(target))


def lock_path(target: str | os.PathLike[str]) -> Path:
    """The lock file of ``target``'s claim: ``PARENT/.NAME.zoo-lock`` beside its resolved path."""
    t = resolved(target)
    return t.parent / f".{t.name or 'root'}{LOCK_SUFFIX}"


def _make_dirs(directory: Path) -> list[Path]:
    """Create ``directory`` and missing parents; the ones created, outermost first."""
    missing = []
    d = directory
    while not d.exists() and d != d.parent:
        missing.append(d)
        d = d.parent
    made = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        made.append(d)
    return made


def _remove_dirs(made: list[Path]) -> None:
    for d in reversed(made):
        try:
            d.rmdir()
        except OSError:
            return


def try_hold(target: Path, param: str = "out") -> bool:
    """Claim ``target`` for this process, without waiting; ``False`` when another process holds
    it. Reentrant: a claim this process holds is kept. Where no lock file can be created (a
    read-only parent) or the file system has no ``flock``, ``True`` without a lock (best effort).

    Raises:
        ZooError: the lock file cannot be created (an unwritable directory).
    """
    key = _key(target)
    if key in _HELD:
        return True
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no flock on this platform: checks only
        return True
    lock = lock_path(target)
    try:
        made = _make_dirs(lock.parent)
    except OSError as exc:
        if exc.errno in _UNWRITABLE:  # the write itself will say so, naming what failed
            return True
        raise ZooError(f"cannot write {target} ({exc.strerror or exc}); choose another {{param}}", param=param, exit_code=2) from exc
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as exc:
            _remove_dirs(made)
            if exc.errno in _UNWRITABLE:  # no lock file possible here: checks only (best effort), as without flock
                return True
            raise ZooError(f"cannot write {target} ({exc.strerror or exc}); choose another {{param}}", param=param, exit_code=2) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)
                _remove_dirs(made)
                return False
            # no locks on this file system (ENOLCK, EOPNOTSUPP...): keep the file, check only
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the holder removed it as we opened it: take the new one
            os.close(fd)
            continue
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()} {time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode())
        _HELD[key] = _Held(fd, lock, made)
        return True


def holder(target: Path) -> str:
    """``another zoo process (pid 123 on host, since ...)``: who holds ``target``, from its lock file."""
    try:
        pid, host, *since = lock_path(target).read_text(encoding="utf-8").split()
    except (OSError, ValueError):
        return "another zoo process"
    return f"another zoo process (pid {pid} on {host}, since {' '.join(since)})"


def is_held(target: str | os.PathLike[str]) -> bool:
    """Whether this process holds a claim on ``target``."""
    return _key(Path(target)) in _HELD


def release_output(path: str | os.PathLike[str]) -> None:
    """Release this process's claim on ``path`` (nothing when it holds none): the lock file
    and the directories made for it go. Raises nothing."""
    held = _HELD.pop(_key(Path(path)), None)
    if held is None:
        return
    with contextlib.suppress(OSError):
        held.lock.unlink()  # while still locked: a process waiting on the old file sees it gone and retries
    with contextlib.suppress(OSError):
        os.close(held.fd)
    _remove_dirs(held.made)


def held_claims() -> list[Path]:
    """The outputs this process holds claims on (resolved paths)."""
    return [Path(k) for k in _HELD]


@contextlib.contextmanager
def claims_scope() -> Iterator[None]:
    """Release, on leaving, every claim taken inside (claims held before are kept): what one
    command or task claims lasts as long as it runs."""
    before = set(_HELD)
    try:
        yield
    finally:
        for key in [k for k in _HELD if k not in before]:
            release_output(key)


def releasing_claims(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator: ``fn`` runs in its own :func:`claims_scope`, so the outputs it claims are
    released when it returns or raises (every task of :mod:`zoo.tasks` that writes)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with claims_scope():
            return fn(*args, **kwargs)

    return wrapper


@atexit.register
def _release_all() -> None:
    for key in list(_HELD):
        release_output(key)
