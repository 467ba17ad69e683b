"""Peak memory of one forward pass, in MB (``2**20`` bytes).

On CUDA the caching allocator's own peak (``torch.cuda.max_memory_allocated``); on CPU
and MPS the same quantity by bookkeeping: every tensor storage created by an ATen op is
tracked with a ``TorchDispatchMode`` from creation until it is freed. Not a resident-set
(RSS) figure: the allocator's reuse of freed pages makes RSS unreliable for one call.

Imports torch.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from zoo.measure.flops import MB

__all__ = ["peak_memory_mb"]


class _TensorMemoryTracker:
    """Peak bytes of live tensor storages while active (a ``TorchDispatchMode``).

    Every storage an ATen op creates is counted from its creation until it is freed
    (a ``weakref.finalize`` on the storage); storages that exist before (weights, inputs)
    form the baseline passed in. Views and in-place results share an existing storage and
    are not counted twice. Memory that kernels allocate without creating a tensor
    (oneDNN scratch pads) and allocator overhead are not seen.
    """

    def __init__(self, baseline_bytes: int, known: Iterable[Any]) -> None:
        from torch.utils._python_dispatch import TorchDispatchMode

        tracker = self
        self.current = baseline_bytes
        self.peak = baseline_bytes
        self._keep_known = list(known)  # ids must stay valid while we compare them
        self._known: set[int] = {id(s) for s in self._keep_known}

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                tracker._record(out)
                return out

        self.mode = _Mode()

    def _free(self, key: int, nbytes: int) -> None:
        self.current -= nbytes
        self._known.discard(key)

    def _record(self, out: Any) -> None:
        from torch.utils._pytree import tree_leaves

        for t in tree_leaves(out):
            if not isinstance(t, torch.Tensor):
                continue
            st = t.untyped_storage()
            key = id(st)
            if key in self._known:
                continue
            nbytes = st.nbytes()
            self._known.add(key)
            self.current += nbytes
            self.peak = max(self.peak, self.current)
            weakref.finalize(st, self._free, key, nbytes)

    def __enter__(self) -> _TensorMemoryTracker:
        self.mode.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.mode.__exit__(*exc)


def _storages(tensors: Iterable[torch.Tensor]) -> list[Any]:
    seen: dict[int, Any] = {}
    for t in tensors:
        if isinstance(t, torch.Tensor):
            st = t.untyped_storage()
            seen.setdefault(id(st), st)
    return list(seen.values())


def peak_memory_mb(
    fn: Callable[[], Any], *, device: str | torch.device = "cpu", model: nn.Module | None = None, inputs: Any = ()
) -> tuple[float | None, str]:
    """Peak memory of one call of ``fn()`` under ``torch.inference_mode()``, in MB (``2**20`` bytes).

    * CUDA: ``torch.cuda.max_memory_allocated(device)`` after
      ``torch.cuda.reset_peak_memory_stats(device)``: every tensor the caching allocator
      holds at the peak, i.e. weights + inputs + activations + workspaces (method
      ``"cuda.max_memory_allocated"``).
    * CPU and MPS: the same quantity computed by bookkeeping: bytes of ``model``'s
      parameters and buffers and of ``inputs``, plus the peak of live tensors created by
      ATen ops during the call, tracked with a ``TorchDispatchMode`` (method
      ``"tensor-peak"``). It excludes allocator overhead, library scratch memory
      (oneDNN/MKL) and the process's other memory; it is not a resident-set (RSS) figure,
      which the allocator's reuse of freed pages makes unreliable for one call.

    Args:
        fn: zero-argument callable doing one forward.
        device: where ``fn`` runs.
        model: the module (its weights form the CPU baseline).
        inputs: the input tensors (part of the CPU baseline).

    Returns:
        ``(megabytes or None, method)``; ``None`` when it cannot be measured.
    """
    dev = torch.device(device)
    ins = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        with torch.inference_mode():
            fn()
        torch.cuda.synchronize(dev)
        return torch.cuda.max_memory_allocated(dev) / MB, "cuda.max_memory_allocated"
    tensors: list[torch.Tensor] = [t for t in ins if isinstance(t, torch.Tensor)]
    if model is not None:
        tensors += list(model.parameters()) + list(model.buffers())
    known = _storages(tensors)
    baseline = sum(s.nbytes() for s in known)
    tracker = _TensorMemoryTracker(baseline, known)
    with torch.inference_mode(), tracker:
        out = fn()
    del out
    return tracker.peak / MB, "tensor-peak"
