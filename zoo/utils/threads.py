"""CPU threads: how many this process may use, and torch's intra-op thread count.

Why it matters: PyTorch's CPU kernels run on an OpenMP pool of ``torch.get_num_threads()``
threads, which by default waits for work by spinning (GNU libgomp spins about 3 ms at each
barrier before it sleeps). Several zoo processes on the same cores then spin against each
other: on a 2-core machine, four concurrent DCGAN trainings ran a step 21x slower than one
alone instead of about 2x (``benchmarks/threads.md``). Two defaults fix it, both set by the
``zoo`` command before torch is imported (:func:`configure_process`):

* ``OMP_WAIT_POLICY=PASSIVE`` (OpenMP 4.5 spec, section 4.8; libgomp's ``GOMP_SPINCOUNT``
  notes): a waiting thread sleeps at once instead of spinning, so an oversubscribed
  machine shares its cores instead of burning them. A value the user set is kept.
* the intra-op thread count is the number of CPUs this process may use
  (:func:`available_cpus`: the scheduler affinity mask and the cgroup CPU quota, as in a
  container started with ``--cpus 2`` on a 64-core host), not the host's core count.
  ``--threads N`` (or ``ZOO_THREADS=N``) chooses it; under torchrun, where torchrun sets
  ``OMP_NUM_THREADS`` for each process, that value is kept.

No torch import at module level: :func:`configure_process` must run before torch loads.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from zoo.errors import ZooError

__all__ = ["available_cpus", "configure_process", "set_threads"]

#: cgroup v2 (``cpu.max``: "QUOTA PERIOD" or "max PERIOD") and v1 (``cfs_quota_us`` / ``cfs_period_us``) files.
CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1 = (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def _cgroup_cpus() -> float | None:
    """The cgroup CPU quota in CPUs (``quota / period``), or ``None`` when unlimited or unreadable."""
    try:
        quota, period = CGROUP_V2.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us, period_us = (int(p.read_text()) for p in CGROUP_V1)
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def available_cpus() -> int:
    """The number of CPUs this process may use: the smaller of its scheduler affinity mask
    (``os.sched_getaffinity``; ``os.cpu_count()`` where there is none) and its cgroup CPU
    quota rounded up (``/sys/fs/cgroup/cpu.max``, or cgroup v1's ``cpu.cfs_quota_us``).

    Returns:
        At least 1.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpus()
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


#: The most threads zoo asks for (``--threads``, ``ZOO_THREADS``): 4 times the 256 cores of the
#: largest common machines. torch's OpenMP and OpenBLAS start that many threads at once, and a
#: typo such as ``--threads 1000000`` exhausts the process limit (``RLIMIT_NPROC``) and aborts
#: the interpreter with no error line.
MAX_THREADS = 1024


def _threads_from_env() -> int | None:
    """``ZOO_THREADS`` as a positive int, or ``None`` when unset.

    Raises:
        ZooError: ``ZOO_THREADS`` is set to something else (exit code 2).
    """
    text = os.environ.get("ZOO_THREADS", "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_THREADS:
        raise ZooError(
            f"ZOO_THREADS must be a whole number from 1 to {MAX_THREADS}, got {text!r}; unset it to use every available CPU", exit_code=2
        )
    return value


def set_threads(threads: int) -> int:
    """Set torch's intra-op thread count for this process (``--threads``) and return it.

    Args:
        threads: the count, at least 1.

    Returns:
        ``torch.get_num_threads()`` after the change.

    Raises:
        ZooError: ``threads`` below 1 or above :data:`MAX_THREADS` (exit code 2).
    """
    import torch

    if threads < 1:
        raise ZooError(
            f"{{param}} must be at least 1, got {threads}; leave it out to use every available CPU", param="threads", exit_code=2
        )
    if threads > MAX_THREADS:
        raise ZooError(
            f"{{param}} must be at most {MAX_THREADS}, got {threads}; leave it out to use every available CPU ({available_cpus()} here)",
            param="threads",
            exit_code=2,
        )
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def configure_process() -> None:
    """Process-wide defaults for the ``zoo`` command, set in the environment before torch is
    imported (torch's OpenMP runtime reads both variables once, when it loads):

    * ``OMP_WAIT_POLICY=PASSIVE``, unless the user set ``OMP_WAIT_POLICY``;
    * ``OMP_NUM_THREADS``: ``ZOO_THREADS`` when set, else :func:`available_cpus`, unless
      ``OMP_NUM_THREADS`` is already set (by the user, or by torchrun for each process).

    A command's ``--threads N`` then sets the count with :func:`set_threads`. Python callers
    of the library keep whatever they chose (``torch.set_num_threads``).

    Raises:
        ZooError: ``ZOO_THREADS`` is not a whole number of at least 1 (exit code 2).
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if not os.environ.get("OMP_NUM_THREADS", "").strip():
        os.environ["OMP_NUM_THREADS"] = str(_threads_from_env() or available_cpus())
