"""Measurements behind ``zoo bench``: size, parameters, depth, GFLOPs, latency, throughput, memory.

The functions on plain ``nn.Module`` objects (:func:`model_depth`, :func:`count_flops`,
:func:`count_params`, :func:`size_mb`, :func:`time_forward`, :func:`peak_memory_mb`) can
be used on any PyTorch model; :func:`bench_model` and :func:`bench_models` drive them over
registry names and return one JSON-ready row per model (:data:`ROW_KEYS`).

Units: milliseconds (ms), megabytes of ``2**20`` bytes (MB), GFLOPs (``1e9`` floating-point
operations, one multiply-add = 2 FLOPs), images per second (img/s).

Sources:

* timing: ``torch.utils.benchmark.Timer.blocked_autorange`` (warm-up, then repeat until a
  time budget is used and a minimum number of runs is reached; median and IQR) and timm's
  ``benchmark.py`` (CUDA synchronisation around each step, batch halving on CUDA OOM);
* FLOPs: ``torch.utils.flop_counter.FlopCounterMode``;
* size: torchvision's ``_file_size`` weights metadata (MB of the fp32 state dict);
* depth: the "depth" column of MATLAB's pretrained-network table (weight layers on the
  longest input-to-output path; VGG16 16, ResNet50 50, InceptionV3 48, Xception 71).

This module imports torch; the CLI imports it lazily.
"""

from __future__ import annotations

import contextlib
import gc
import math
import re
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from zoo.devices import amp_dtype, is_oom, resolve_device
from zoo.errors import ZooError

__all__ = [
    "ROW_KEYS",
    "TABLE_COLUMNS",
    "Timing",
    "model_depth",
    "count_flops",
    "count_params",
    "size_mb",
    "time_forward",
    "peak_memory_mb",
    "resolve_device",
    "default_batch_size",
    "bench_model",
    "bench_models",
    "expand_names",
    "rows_to_csv",
    "rows_to_markdown",
]

MB = 2**20

#: Keys of every row returned by :func:`bench_model`, in order (also the CSV columns).
ROW_KEYS: tuple[str, ...] = (
    "name",  # str: registry name
    "family",  # str
    "kind",  # "backbone" | "gan"
    "top1_ref",  # float | None: published ImageNet top-1 (%) of the default weights (registry.toml, source named there)
    "top5_ref",  # float | None: published ImageNet top-5 (%)
    "params",  # int | None: parameters of the benched module
    "size_mb",  # float | None: MB of fp32 weights (params + buffers)
    "depth",  # int | None: weight layers on the longest input-to-output path
    "gflops",  # float | None: GFLOPs of one forward at batch 1 (per image / sample)
    "gmacs",  # float | None: gflops / 2
    "latency_ms",  # float | None: median ms of one forward at batch 1
    "latency_p90_ms",  # float | None
    "latency_mean_ms",  # float | None
    "latency_reps",  # int | None: timed calls at batch 1
    "throughput_ips",  # float | None: images (GAN: samples) per second at batch_size
    "batch_size",  # int | None: batch actually used for throughput (after OOM halving)
    "peak_mem_mb",  # float | None: see mem_method
    "mem_method",  # str | None: how peak_mem_mb was measured
    "img_size",  # int | None: input height = width (GAN: generated image size)
    "input_shape",  # list[int] | None: shape of one input without the batch dim
    "device",  # str: "cpu", "cuda", "cuda:1", "mps"
    "threads",  # int: torch.get_num_threads()
    "dtype",  # "fp32" | "amp-bf16" | "amp-fp16"
    "channels_last",  # bool
    "compile",  # bool
    "torch",  # str: torch version
    "status",  # "ok" | "failed"
    "error",  # str | None: "ExceptionType: message" for failed rows
    "notes",  # list[str]: non-fatal problems (a measurement that could not be made)
)

#: ``(row key, header)`` of the human tables (rich table, ``--markdown``).
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "model"),
    ("top1_ref", "top-1*"),
    ("top5_ref", "top-5*"),
    ("params", "params (M)"),
    ("size_mb", "size MB"),
    ("depth", "depth"),
    ("gflops", "GFLOPs"),
    ("latency_ms", "ms p50"),
    ("latency_p90_ms", "ms p90"),
    ("throughput_ips", "img/s"),
    ("batch_size", "batch"),
    ("peak_mem_mb", "peak MB"),
    ("status", "status"),
)



# ----------------------------------------------------------------------------------------
# depth
# ----------------------------------------------------------------------------------------
# Autograd node names of convolutions (any variant: transposed, depthwise, backend-specific
# names of older releases) and of matrix products (nn.Linear records AddmmBackward0 for 2-D
# input and MmBackward0 / UnsafeViewBackward0 for more dims; attention uses BmmBackward0).
_CONV_RE = re.compile(r"Conv.*Backward")
_MATMUL_RE = re.compile(r"^(Addmm|Mm|Linear|MkldnnLinear|Bmm|Baddbmm|Addbmm)Backward")


def _is_weight_op(node: Any) -> bool:
    name = type(node).__name__
    return bool(_CONV_RE.search(name) or _MATMUL_RE.match(name))


def _as_inputs(model: nn.Module, input_shape: Any, inputs: Any) -> tuple[torch.Tensor, ...]:
    if inputs is not None:
        return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    if isinstance(input_shape, torch.Tensor):
        return (input_shape,)
    if input_shape is None:
        raise ValueError("model_depth needs input_shape (e.g. (1, 3, 224, 224)) or inputs")
    ref = next(iter(model.parameters()), None)
    device = ref.device if ref is not None else torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    return (torch.randn(*input_shape, generator=gen).to(device),)


def _first_tensor(out: Any) -> torch.Tensor:
    while isinstance(out, (tuple, list)):
        if not out:
            break
        out = out[0]
    if isinstance(out, dict):
        out = next(iter(out.values()))
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"the model returned {type(out).__name__}, expected a tensor (or a tuple/list whose first item is one)")
    return out


def model_depth(model: nn.Module, input_shape: Sequence[int] | torch.Tensor | None = None, *, inputs: Any = None) -> int:
    """Number of weight layers on the longest path from the input to the output.

    Weight layers are convolutions (any kind: grouped, depthwise, transposed, 1-D/2-D/3-D)
    and fully-connected layers (matrix products). The graph is the autograd graph
    recorded by one forward pass in eval mode with grad enabled on an input that requires
    grad (so it works on models ``torch.fx`` cannot trace, such as NASNet). The graph is
    walked from ``output.grad_fn`` through ``next_functions`` iteratively (no recursion;
    DenseNet201's graph has thousands of nodes), and the longest path is found by dynamic
    programming over the DAG; nodes not connected to the input count as ``-inf``, so a
    path that does not start at the input (a weight read, a constant branch) never counts.

    A node counts as a weight layer when it is a convolution (``ConvolutionBackward*``) or
    a matrix product (``AddmmBackward*``, ``MmBackward*``, ``LinearBackward*``,
    ``BmmBackward*``, ``BaddbmmBackward*``), it is reachable from the input, and one of its
    operands is computed from parameters only: a parameter leaf (``AccumulateGrad``),
    possibly behind ``TBackward``/``PermuteBackward``/``ViewBackward``, or a
    re-parametrised weight (weight norm, spectral norm, equalised learning rate). A product
    of two activations (attention's ``q @ k``) is not a weight layer. Normalisation,
    activations, pooling and element-wise ops do not count.

    This reproduces the numbers in the models' names and MATLAB's pretrained-network
    table: VGG16 16, VGG19 19, ResNet50/101/152 50/101/152, DenseNet121/169/201
    121/169/201, InceptionV3 48 (timm ``inception_v3``), MobileNetV2 53, Xception 71
    (timm ``legacy_xception``: depthwise and pointwise convolutions count separately;
    ResNet projection shortcuts are not on the longest path).

    Args:
        model: any module; its train/eval mode and ``requires_grad`` flags are restored
            afterwards. Works on the ``meta`` device too (no memory, no compute).
        input_shape: shape of a random float32 input, batch included (``(1, 3, 224, 224)``),
            created on the device of the model's first parameter; or a tensor.
        inputs: instead of ``input_shape``, the input tensor(s) (a tensor or a tuple);
            floating-point ones are the "input" the paths start from.

    Returns:
        The depth (int >= 0).

    Raises:
        ValueError: no input given, the model returned no tensor, or the output does not
            depend (differentiably) on the input.
    """
    xs = _as_inputs(model, input_shape, inputs)
    was_training = model.training
    params = [p for p in model.parameters()]
    flags = [p.requires_grad for p in params]
    param_ids = {id(p) for p in params}
    try:
        model.eval()
        with torch.inference_mode(False), torch.enable_grad():
            leaves = []
            for x in xs:
                if isinstance(x, torch.Tensor) and x.is_floating_point():
                    x = x.detach().clone().requires_grad_(True)
                leaves.append(x)
            input_ids = {id(x) for x in leaves if isinstance(x, torch.Tensor) and x.requires_grad}
            if not input_ids:
                raise ValueError("model_depth needs a floating-point input to follow")
            for p in params:
                if p.is_floating_point():
                    p.requires_grad_(True)
            out = _first_tensor(model(*leaves))
        root = out.grad_fn
        if root is None:
            raise ValueError("the model output does not depend on its input through differentiable ops; depth is undefined")
        depth = _longest_weight_path(root, input_ids, param_ids)
        del out, root
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)
        model.train(was_training)
    if depth is None:
        raise ValueError("no path from the input to the output in the autograd graph; depth is undefined")
    return depth


def _longest_weight_path(root: Any, input_ids: set[int], param_ids: set[int]) -> int | None:
    """Longest-path DP over the autograd DAG below ``root`` (iterative post-order DFS)."""
    neg = -math.inf
    dist: dict[int, float] = {}  # weight layers on the longest input path ending here
    has_param: dict[int, bool] = {}  # some parameter leaf is reachable below this node
    keep: list[Any] = []  # hold node references: ids must stay unique during the walk
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if expanded:
            children = [c for c, _ in node.next_functions if c is not None]
            if type(node).__name__ == "AccumulateGrad":
                var_id = id(node.variable)
                dist[key] = 0.0 if var_id in input_ids else neg
                has_param[key] = var_id in param_ids
                continue
            best = max((dist[id(c)] for c in children), default=neg)
            if best > neg and _is_weight_op(node):
                # an operand that comes from parameters only (not from the input)
                if any(has_param[id(c)] and dist[id(c)] == neg for c in children):
                    best += 1
            dist[key] = best
            has_param[key] = any(has_param[id(c)] for c in children)
            continue
        if key in dist:
            continue
        if key in has_param:  # already expanded once and waiting: skip duplicates
            continue
        has_param[key] = False  # mark as "in progress"
        keep.append(node)
        stack.append((node, True))
        for child, _ in node.next_functions:
            if child is not None and id(child) not in dist and id(child) not in has_param:
                stack.append((child, False))
    d = dist[id(root)]
    return None if d == neg else int(d)


# ----------------------------------------------------------------------------------------
# FLOPs, parameters, size
# ----------------------------------------------------------------------------------------
def count_flops(model: nn.Module | Callable[..., Any], inputs: Any) -> float:
    """GFLOPs of one forward pass: ``1e9`` floating-point operations, a multiply-add = 2.

    Counted with ``torch.utils.flop_counter.FlopCounterMode(display=False)`` under
    ``torch.no_grad()``, which counts matrix products (``mm``, ``addmm``, ``bmm``,
    ``baddbmm``), convolutions (incl. transposed) and scaled-dot-product attention;
    element-wise ops, normalisation and pooling are not counted (the same ops fvcore and
    ptflops count). Beware the factor when comparing: fvcore, ptflops and torchvision's
    ``_ops`` metadata ("GFLOPS" 1.81 for ResNet18, 4.09 for ResNet50) count one
    multiply-add as one, i.e. they report GMACs (``count_flops(...) / 2``; ResNet18 gives
    3.63 GFLOPs here). The count is for the whole batch of ``inputs``: divide by the batch
    size for a per-image figure.

    Args:
        model: a module or any callable.
        inputs: a tensor or a tuple of tensors (positional arguments), e.g.
            ``(1, 3, 224, 224)`` float32.

    Returns:
        GFLOPs as a float.
    """
    from torch.utils.flop_counter import FlopCounterMode

    args = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(*args)
    return counter.get_total_flops() / 1e9


def count_params(model: nn.Module) -> int:
    """Number of parameters: ``sum(p.numel() for p in model.parameters())`` (shared ones once; buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


def size_mb(model: nn.Module) -> float:
    """MB of the weights stored as fp32: 4 bytes x (parameters + buffers) / ``2**20``.

    This is torchvision's ``_file_size`` convention (size of the fp32 state dict in MB of
    ``2**20`` bytes), independent of the dtype the model currently has; shared tensors
    count once.
    """
    n = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    return n * 4 / MB


# ----------------------------------------------------------------------------------------
# timing
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timing:
    """Per-call wall-clock times of one timed function (see :func:`time_forward`).

    Attributes:
        median_ms: median of the per-call times, milliseconds.
        p90_ms: 90th percentile (linear interpolation, as ``numpy.percentile``), ms.
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


def _percentile(sorted_vals: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile of pre-sorted values (``numpy.percentile`` default)."""
    if not sorted_vals:
        return math.nan
    pos = (len(sorted_vals) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


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
    srt = sorted(times)
    return Timing(
        median_ms=_percentile(srt, 50),
        p90_ms=_percentile(srt, 90),
        mean_ms=sum(times) / len(times),
        min_ms=srt[0],
        iqr_ms=_percentile(srt, 75) - _percentile(srt, 25),
        reps=len(times),
        warmup_reps=n_warm,
        total_s=total,
        threads=torch.get_num_threads(),
        device=str(dev),
        times_ms=tuple(times),
    )


# ----------------------------------------------------------------------------------------
# memory
# ----------------------------------------------------------------------------------------
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
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
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


def peak_memory_mb(fn: Callable[[], Any], *, device: str | torch.device = "cpu", model: nn.Module | None = None, inputs: Any = ()) -> tuple[float | None, str]:
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


# ----------------------------------------------------------------------------------------
# devices
# ----------------------------------------------------------------------------------------
def default_batch_size(device: str | torch.device) -> int:
    """Throughput batch size used when none is given: 8 on CPU, 32 on CUDA and MPS."""
    return 8 if torch.device(device).type == "cpu" else 32


# ----------------------------------------------------------------------------------------
# one model
# ----------------------------------------------------------------------------------------
def _error_text(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    text = first if isinstance(exc, ZooError) else f"{type(exc).__name__}: {first}".rstrip(": ")
    return text if len(text) <= 300 else text[:297] + "..."


def _empty_row(spec: Any, *, device: torch.device, amp: str | None, channels_last: bool, compile: bool) -> dict[str, Any]:
    row: dict[str, Any] = {k: None for k in ROW_KEYS}
    row.update(
        name=spec.name,
        family=spec.family,
        kind=spec.kind,
        top1_ref=spec.weights[0].top1 if spec.weights else None,
        top5_ref=spec.weights[0].top5 if spec.weights else None,
        device=str(device),
        threads=torch.get_num_threads(),
        dtype=f"amp-{amp}" if amp else "fp32",
        channels_last=bool(channels_last),
        compile=bool(compile),
        torch=torch.__version__,
        status="ok",
        notes=[],
    )
    return row


def _free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


def bench_model(
    name_or_spec: Any,
    *,
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
    img_size: int | None = None,
    amp: str | None = None,
    channels_last: bool = False,
    compile: bool = False,
    budget_s: float = 2.0,
    depth: bool = True,
    flops: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Measure one registry model; never raises for a model that fails to build or run.

    The model is built with random weights through :func:`zoo.registry.build` (no
    download). A backbone (``kind == "backbone"``) is fed ``(N, C, S, S)`` float32 noise
    with ``(C, S, S)`` from ``spec.input_size`` (or ``img_size``); a GAN (``kind ==
    "gan"``) benches its generator on ``adapter.generator_inputs(N)`` (per-sample figures;
    ``img_size`` is passed as the ``image_size`` build option). Steps, in order:

    1. params (:func:`count_params`) and fp32 size (:func:`size_mb`);
    2. depth (:func:`model_depth`, fp32, batch 1) and GFLOPs / GMACs per image
       (:func:`count_flops`, batch 1), both on the eager model;
    3. latency at batch 1 (:func:`time_forward`, half of ``budget_s``): median, p90, mean;
    4. throughput at ``batch_size`` (the other half): ``batch / median seconds``; on an
       out-of-memory error the batch is halved until it fits (timm ``benchmark.py``),
       and ``batch_size`` records the batch used;
    5. peak memory of one forward at that batch (:func:`peak_memory_mb`; on CUDA of the
       timed module, compiled or not; on CPU/MPS of the eager module, since the tensor
       bookkeeping needs eager ATen calls).

    ``amp`` runs steps 3-5 under ``torch.autocast(device_type, dtype)``; ``channels_last``
    converts model and input to ``torch.channels_last``; ``compile`` times
    ``torch.compile(model)`` (compilation happens during warm-up). On CUDA,
    ``torch.backends.cudnn.benchmark`` is on while the model is measured (restored after).

    Args:
        name_or_spec: registry name or :class:`zoo.spec.ModelSpec`.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        batch_size: throughput batch (default :func:`default_batch_size`).
        img_size: input height = width in pixels (default from the spec).
        amp: ``None`` (fp32), ``"bf16"`` or ``"fp16"``.
        channels_last: use the NHWC memory format.
        compile: time ``torch.compile(model)``.
        budget_s: timing budget per model in seconds, split evenly between latency and
            throughput (each may overrun to reach its minimum number of calls).
        depth, flops: compute depth / FLOPs (skip to save time).
        seed: seeds the weights' random init and the inputs.

    Returns:
        A dict with exactly the keys of :data:`ROW_KEYS` (see the comments there for
        types and units). ``status`` is ``"ok"`` or ``"failed"`` (``error`` then says
        why, e.g. ``"OutOfMemoryError: ..."`` or ``"cannot compile: ..."``); values that
        could not be measured are ``None``, with the reason in ``notes``.

    Raises:
        ZooError: unknown model name, unavailable device, bad ``amp`` / ``batch_size`` /
            ``budget_s`` (problems with the request, not with the model).
    """
    from zoo import registry

    dev = resolve_device(device)
    amp_dtype(amp)
    if batch_size is not None and batch_size < 1:
        raise ZooError(f"--batch-size must be at least 1, got {batch_size}", exit_code=2)
    if budget_s <= 0:
        raise ZooError(f"--budget must be positive seconds, got {budget_s}", exit_code=2)
    spec = registry.get_spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    row = _empty_row(spec, device=dev, amp=amp, channels_last=channels_last, compile=compile)
    bs = batch_size or default_batch_size(dev)
    cudnn_benchmark = torch.backends.cudnn.benchmark
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # pick the fastest kernels, as timm's benchmark.py
    try:
        _bench_into(row, spec, registry, dev, bs, img_size, amp, channels_last, compile, budget_s, depth, flops, seed)
    except Exception as exc:  # a failing model is a row, not a crash
        row["status"] = "failed"
        row["error"] = _error_text(exc)
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark
        if compile:
            with contextlib.suppress(Exception):
                torch._dynamo.reset()
        _free_memory(dev)
    return row


def _bench_into(
    row: dict[str, Any],
    spec: Any,
    registry: Any,
    dev: torch.device,
    bs: int,
    img_size: int | None,
    amp: str | None,
    channels_last: bool,
    compile: bool,
    budget_s: float,
    want_depth: bool,
    want_flops: bool,
    seed: int,
) -> None:
    if img_size is not None and img_size < getattr(spec, "min_size", 1):
        raise ZooError(f"img_size {img_size} is below the minimum {spec.min_size} of {spec.name}")
    torch.manual_seed(seed)
    if spec.kind == "gan":
        adapter = registry.build(spec, **({"image_size": img_size} if img_size else {}))
        model: nn.Module = adapter.generator
        size = int(getattr(adapter, "image_size", 0) or spec.input_size[-1])

        def make_inputs(n: int) -> tuple[torch.Tensor, ...]:
            g = torch.Generator().manual_seed(seed)
            return tuple(adapter.generator_inputs(n, generator=g, device=dev))
    else:
        adapter = registry.build(spec)
        model = adapter.model
        c, h, w = spec.input_size
        if img_size:
            h = w = int(img_size)
        size = int(h)

        def make_inputs(n: int) -> tuple[torch.Tensor, ...]:
            g = torch.Generator().manual_seed(seed)
            return (torch.randn(n, c, h, w, generator=g).to(dev),)

    row["img_size"] = size
    model.eval()
    row["params"] = count_params(model)
    row["size_mb"] = size_mb(model)
    model.to(dev)
    x1 = make_inputs(1)
    row["input_shape"] = list(x1[0].shape[1:])
    notes: list[str] = row["notes"]
    if want_depth:
        try:
            row["depth"] = model_depth(model, inputs=x1)
        except Exception as exc:
            notes.append(f"depth: {_error_text(exc)}")
    if want_flops:
        try:
            row["gflops"] = count_flops(model, x1)
            row["gmacs"] = row["gflops"] / 2
        except Exception as exc:
            notes.append(f"gflops: {_error_text(exc)}")
        if row["gflops"] is not None and row["gflops"] == 0:
            notes.append("gflops: no convolution or matrix product counted")

    def prep(xs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        if channels_last:
            return tuple(t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in xs)
        return xs

    if channels_last:
        model.to(memory_format=torch.channels_last)
    runner: Callable[..., Any] = model
    if compile:
        try:
            runner = torch.compile(model)
        except Exception as exc:
            raise RuntimeError(f"cannot compile: {_error_text(exc)}") from exc
    amp_ctx = (lambda: torch.autocast(device_type=dev.type, dtype=amp_dtype(amp))) if amp_dtype(amp) else contextlib.nullcontext

    def forward_fn(xs: tuple[torch.Tensor, ...]) -> Callable[[], Any]:
        def call() -> Any:
            with amp_ctx():
                return runner(*xs)

        return call

    half = budget_s / 2
    x1 = prep(x1)
    try:
        lat = time_forward(forward_fn(x1), device=dev, budget_s=half, warmup=2, min_reps=5)
    except Exception as exc:
        if compile and not is_oom(exc):
            raise RuntimeError(f"cannot compile: {_error_text(exc)}") from exc
        raise
    row["latency_ms"] = lat.median_ms
    row["latency_p90_ms"] = lat.p90_ms
    row["latency_mean_ms"] = lat.mean_ms
    row["latency_reps"] = lat.reps
    row["threads"] = lat.threads

    while True:
        try:
            xb = prep(make_inputs(bs))
            thr = time_forward(forward_fn(xb), device=dev, budget_s=half, warmup=1, min_reps=3)
            break
        except Exception as exc:
            if not is_oom(exc) or bs == 1:
                raise
        # outside the except block: the traceback no longer pins the failed batch's tensors
        notes.append(f"batch {bs} ran out of memory; halved")
        xb = None  # type: ignore[assignment]
        bs = bs // 2
        _free_memory(dev)
    row["batch_size"] = bs
    row["throughput_ips"] = bs / (thr.median_ms / 1e3) if thr.median_ms > 0 else None

    # CUDA measures the module that was timed; the CPU/MPS bookkeeping needs eager ops.
    one = forward_fn(xb) if dev.type == "cuda" else (lambda: _eager_call(model, xb, amp_ctx))
    try:
        row["peak_mem_mb"], row["mem_method"] = peak_memory_mb(one, device=dev, model=model, inputs=xb)
    except Exception as exc:
        notes.append(f"peak_mem_mb: {_error_text(exc)}")


def _eager_call(model: nn.Module, xs: tuple[torch.Tensor, ...], amp_ctx: Callable[[], Any]) -> Any:
    with amp_ctx():
        return model(*xs)


# ----------------------------------------------------------------------------------------
# many models
# ----------------------------------------------------------------------------------------
def expand_names(names_or_patterns: Iterable[Any] | None = None, *, kind: str | None = None, family: str | None = None) -> list[Any]:
    """Resolve names, wildcards (``resnet*``, ``*v2``) and specs to a list of specs, in order, without duplicates.

    An exact name must exist (:func:`zoo.registry.get_spec`); a wildcard expands with
    :func:`zoo.registry.list_models` (``kind`` and ``family`` filter both). No names means
    the whole registry (filtered).

    Raises:
        ZooError: unknown name (with suggestions), bad ``kind``, or nothing matched.
    """
    from zoo import registry

    items = [n for n in (names_or_patterns or []) if n not in ("", None)]
    specs: list[Any] = []
    if not items:
        specs = list(registry.list_models(None, kind=kind, family=family))
    for item in items:
        if not isinstance(item, str):
            specs.append(item)
        elif any(ch in item for ch in "*?["):
            specs.extend(registry.list_models(item, kind=kind, family=family))
        else:
            spec = registry.get_spec(item)
            if (kind is None or spec.kind == kind) and (family is None or spec.family == family):
                specs.append(spec)
    out, seen = [], set()
    for s in specs:
        if s.name not in seen:
            seen.add(s.name)
            out.append(s)
    if not out:
        what = " ".join(str(i) for i in items) or "the registry"
        filt = "".join(f" --{k} {v}" for k, v in (("kind", kind), ("family", family)) if v)
        raise ZooError(f"no model matches {what}{filt}; run 'zoo list' to see the names (wildcards: 'resnet*')")
    return out


def bench_models(
    names_or_patterns: Iterable[Any] | None = None,
    *,
    kind: str | None = None,
    family: str | None = None,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int, str, dict[str, Any] | None], None] | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """Run :func:`bench_model` over names and wildcards (no names: the whole registry).

    The device, ``amp`` and the names are checked before anything is built; a model that
    fails gives a ``status == "failed"`` row and the run goes on.

    Args:
        names_or_patterns: registry names, wildcards or specs (see :func:`expand_names`).
        kind, family: filters (``"backbone"`` / ``"gan"``; a family name).
        device: as in :func:`bench_model`.
        progress: called as ``progress(i, n, name, None)`` before model ``i`` (0-based) of
            ``n`` and ``progress(i, n, name, row)`` after it.
        **options: the keyword arguments of :func:`bench_model`.

    Returns:
        One row per model, in order.

    Raises:
        ZooError: as :func:`expand_names` and :func:`resolve_device`.
    """
    dev = resolve_device(device)
    amp_dtype(options.get("amp"))
    specs = expand_names(names_or_patterns, kind=kind, family=family)
    rows = []
    for i, spec in enumerate(specs):
        if progress:
            progress(i, len(specs), spec.name, None)
        row = bench_model(spec, device=dev, **options)
        rows.append(row)
        if progress:
            progress(i, len(specs), spec.name, row)
    return rows


# ----------------------------------------------------------------------------------------
# formatting
# ----------------------------------------------------------------------------------------
def format_cell(key: str, value: Any) -> str:
    """Human text of one row value for tables: params in millions, 1-2 decimals, ``-`` for None."""
    if value is None:
        return "-"
    if key == "params":
        return f"{value / 1e6:.2f}"
    if key in ("top1_ref", "top5_ref"):
        return f"{value:.1f}"
    if key in ("size_mb", "peak_mem_mb", "throughput_ips"):
        return f"{value:.1f}"
    if key in ("gflops", "gmacs", "latency_ms", "latency_p90_ms", "latency_mean_ms"):
        return f"{value:.3f}" if value < 1 else f"{value:.2f}"
    return str(value)


def rows_to_markdown(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]] = TABLE_COLUMNS) -> str:
    """A GitHub-flavoured markdown table of ``rows`` (failed rows show their error below)."""
    lines = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "|".join("---" if k == "name" or k == "status" else "---:" for k, _ in columns) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(format_cell(k, r.get(k)).replace("|", "\\|") for k, _ in columns) + " |")
    failed = [r for r in rows if r.get("status") != "ok"]
    if failed:
        lines.append("")
        lines += [f"- {r['name']} failed: {r.get('error')}" for r in failed]
    return "\n".join(lines) + "\n"


def rows_to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """CSV text with a header of :data:`ROW_KEYS`; lists become ``;``-joined text, None is empty."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ROW_KEYS)
    for r in rows:
        cells = []
        for k in ROW_KEYS:
            v = r.get(k)
            if v is None:
                cells.append("")
            elif isinstance(v, (list, tuple)):
                cells.append(";".join(str(x) for x in v))
            elif isinstance(v, float):
                cells.append(repr(round(v, 6)))
            else:
                cells.append(str(v))
        w.writerow(cells)
    return buf.getvalue()
