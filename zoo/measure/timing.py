"""Wall-clock timing of a forward pass, call by call, on cpu, cuda or mps.

Units: milliseconds (ms) per call; the budget in seconds.

Sources: ``torch.utils.benchmark.Timer.blocked_autorange`` (warm-up, then repeat until a
time budget is used and a minimum number of runs is reached; median and IQR) and timm's
``benchmark.py`` (CUDA synchronisation around each step). ``benchmarks/fidelity.py``
compares :func:`time_forward` with ``blocked_autorange`` on the same models.

Imports torch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["Timing", "time_forward"]


@dataclass(frozen=True)
class Timing:
    """Per-call wall-clock times of one timed function (see :func:`time_forward`).

    Attributes:
        median_ms: median of the per-call times, milliseconds.
        p90_ms: 90th percentile (``numpy.percentile``, linear interpolation), ms.
        mean_ms: mean, ms.
        min_ms: fastest call, ms.
        iqr_ms: interquartile range (p75 - p25), ms (what ``blocked_autorange`` reports).
        reps: timed calls (warm-up excluded).
        warmup_reps: warm-up calls.
        total_s: wall time of warm-up plus timed calls, seconds.
        threads: ``torch.get_num_threads()`` during the measurement.
        device: the device the calls ran on (``"cpu"``, ``"cuda:0"``...).
        times_ms: every timed call, ms, in order.
    """

    median_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    iqr_ms: float
    reps: int
    warmup_reps: int
    total_s: float
    threads: int
    device: str
    times_ms: tuple[float, ...] = field(default=(), repr=False)

    def to_dict(self, *, with_times: bool = False) -> dict[str, Any]:
        """JSON-ready dict (``times_ms`` only if ``with_times``)."""
        d = asdict(self)
        if not with_times:
            d.pop("times_ms")
        else:
            d["times_ms"] = list(self.times_ms)
        return d


def _synchronizer(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    if device.type == "mps":
        return torch.mps.synchronize
    return lambda: None


def time_forward(
    fn: Callable[[], Any],
    *,
    device: str | torch.device = "cpu",
    budget_s: float = 1.0,
    warmup: int = 2,
    min_reps: int = 5,
    max_reps: int = 100_000,
) -> Timing:
    """Time ``fn()`` call by call: warm up, then repeat until the budget is used.

    Method (after ``torch.utils.benchmark.Timer.blocked_autorange`` and timm's
    ``benchmark.py``): warm-up calls until at least ``warmup`` calls were made and at least
    10% of ``budget_s`` has passed (this absorbs lazy initialisation, cuDNN/oneDNN
    autotuning, ``torch.compile``); then timed calls until the total time (warm-up
    included) reaches ``budget_s`` and at least ``min_reps`` timed calls were made. Every
    call runs under ``torch.inference_mode()``. Each call is timed on its own:

    * CPU: ``time.perf_counter()`` around the call;
    * CUDA: ``torch.cuda.Event(enable_timing=True)`` recorded before and after the call,
      then ``end.synchronize()``, so each call starts on an idle device and the time is
      the device-side span of the call (launch gaps included);
    * MPS: ``perf_counter()`` around the call followed by ``torch.mps.synchronize()``.

    Args:
        fn: a zero-argument callable, e.g. ``lambda: model(x)``.
        device: where ``fn`` runs (decides how to synchronise).
        budget_s: time budget in seconds (warm-up included); may be exceeded to reach
            ``warmup`` + ``min_reps`` calls.
        warmup: minimum warm-up calls (>= 0).
        min_reps: minimum timed calls (>= 1).
        max_reps: stop after this many timed calls even if budget is left.

    Returns:
        A :class:`Timing` (ms); ``threads`` is ``torch.get_num_threads()``.

    Raises:
        ValueError: ``budget_s < 0`` or ``min_reps < 1``. Whatever ``fn`` raises
        propagates (e.g. ``torch.OutOfMemoryError``).
    """
    if budget_s < 0 or min_reps < 1 or warmup < 0:
        raise ValueError(f"time_forward needs budget_s >= 0, min_reps >= 1, warmup >= 0 (got {budget_s}, {min_reps}, {warmup})")
    dev = torch.device(device)
    sync = _synchronizer(dev)
    use_events = dev.type == "cuda"
    times: list[float] = []
    with torch.inference_mode():
        sync()
        t0 = time.perf_counter()
        n_warm = 0
        while n_warm < warmup or time.perf_counter() - t0 < 0.1 * budget_s:
            fn()
            sync()
            n_warm += 1
        while len(times) < min_reps or (time.perf_counter() - t0 < budget_s and len(times) < max_reps):
            if use_events:
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            else:
                s = time.perf_counter()
                fn()
                sync()
                times.append((time.perf_counter() - s) * 1e3)
        total = time.perf_counter() - t0
    # numpy's default linear interpolation, as blocked_autorange's median and IQR; plain floats (JSON, repr)
    p25, p50, p75, p90 = (float(v) for v in np.percentile(times, [25, 50, 75, 90]))
    return Timing(
        median_ms=p50,
        p90_ms=p90,
        mean_ms=sum(times) / len(times),
        min_ms=min(times),
        iqr_ms=p75 - p25,
        reps=len(times),
        warmup_reps=n_warm,
        total_s=total,
        threads=torch.get_num_threads(),
        device=str(dev),
        times_ms=tuple(times),
    )
