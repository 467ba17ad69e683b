"""``zoo bench`` as a library: measure registry models, one :class:`BenchRow` each.

The measurements live in :mod:`zoo.measure` (any ``nn.Module``); this module builds each
registry model with random weights, feeds it, and turns a model that fails into a
``failed`` row. Units: ms, MB of ``2**20`` bytes, GFLOPs (multiply-add = 2), img/s.
Source: timm's ``benchmark.py`` (cuDNN benchmark mode, batch halving on OOM). Rows are
formatted by :mod:`zoo.cli.bench_format`. Imports torch; the CLI imports it lazily.
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.measure import count_flops, count_params, model_depth, peak_memory_mb, size_mb, time_forward
from zoo.utils.devices import amp_dtype, is_oom, resolve_device

__all__ = ["MAX_BATCH", "BenchRow", "bench_model", "bench_models", "default_batch_size"]


@dataclass(kw_only=True)
class BenchRow:
    """One model's measurements: the row of ``zoo bench`` (JSON object, CSV line, table row).

    The field order is the CSV column order and the key order of :meth:`to_dict`. Values
    that could not be measured are ``None``, with the reason in ``notes``.

    Attributes:
        name, family: registry name and family.
        kind: ``"backbone"`` or ``"gan"``.
        top1_ref, top5_ref: published ImageNet top-1 / top-5 (%) of the default weights
            (``registry.toml``, which names the source); ``None`` without weights.
        params: parameters of all the model's networks (a GAN's generator + discriminator),
            as ``zoo list`` and the registry's ``num_params`` count them.
        size_mb: MB of their fp32 weights (parameters + buffers), torchvision's ``_file_size``.
            The other figures are of the forward pass that is timed (a GAN's generator).
        depth: weight layers on the longest input-to-output path (:func:`zoo.measure.model_depth`).
        gflops: GFLOPs of one forward at batch 1 (per image / sample); ``gmacs`` is half of it.
        latency_ms, latency_p90_ms, latency_mean_ms: median, 90th percentile and mean ms of
            one forward at batch 1, over ``latency_reps`` timed calls.
        throughput_ips: images (GAN: samples) per second at ``batch_size``.
        batch_size: batch actually used for throughput (after out-of-memory halving).
        peak_mem_mb: MB at the peak of one forward at ``batch_size``; ``mem_method`` says
            how (``"cuda.max_memory_allocated"`` or ``"tensor-peak"``).
        img_size: input height = width in pixels (GAN: generated image size).
        input_shape: shape of one input without the batch dimension.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
        threads: ``torch.get_num_threads()``.
        dtype: ``"fp32"``, ``"amp-bf16"`` or ``"amp-fp16"``.
        channels_last, compile: whether NHWC memory format / ``torch.compile`` were used.
        torch: torch version.
        status: ``"ok"`` or ``"failed"``; ``error`` then says why (``"ExceptionType: message"``).
        notes: non-fatal problems (a measurement that could not be made, a halved batch).
    """

    name: str
    family: str
    kind: Literal["backbone", "gan"]
    top1_ref: float | None = None
    top5_ref: float | None = None
    params: int | None = None
    size_mb: float | None = None
    depth: int | None = None
    gflops: float | None = None
    gmacs: float | None = None
    latency_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_mean_ms: float | None = None
    latency_reps: int | None = None
    throughput_ips: float | None = None
    batch_size: int | None = None
    peak_mem_mb: float | None = None
    mem_method: str | None = None
    img_size: int | None = None
    input_shape: list[int] | None = None
    device: str
    threads: int
    dtype: Literal["fp32", "amp-bf16", "amp-fp16"] = "fp32"
    channels_last: bool = False
    compile: bool = False
    torch: str
    status: Literal["ok", "failed"] = "ok"
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, keys in field order (what ``zoo bench --json`` prints)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchRow:
        """The row back from :meth:`to_dict` output (e.g. ``zoo bench --json`` read from a file).

        Raises:
            TypeError: a key that is not a field, or a missing required one.
        """
        return cls(**data)


#: The largest ``--batch-size`` bench allocates: 65,536 images, the largest batch of published
#: ImageNet training (LARS, You et al. 2017). Its inputs alone are 39 GB at 224 px; a larger value
#: is a typo, refused in one line rather than failing inside ``torch.randn``.
MAX_BATCH = 65_536


def default_batch_size(device: str | torch.device) -> int:
    """Throughput batch size used when none is given: 8 on CPU, 32 on CUDA and MPS."""
    return 8 if torch.device(device).type == "cpu" else 32


def _check_request(
    device: str | torch.device, *, batch_size: int | None, img_size: int | None, amp: str | None, budget_s: float
) -> torch.device:
    """The device, checked with the other options before anything is built."""
    dev = resolve_device(device)
    amp_dtype(amp)
    if batch_size is not None and batch_size < 1:
        raise ZooError(f"{{param}} must be at least 1, got {batch_size}", param="batch_size", exit_code=2)
    if batch_size is not None and batch_size > MAX_BATCH:
        raise ZooError(f"{{param}} must be at most {MAX_BATCH:,} images, got {batch_size}", param="batch_size", exit_code=2)
    if img_size is not None and img_size < 1:
        raise ZooError(f"{{param}} must be at least 1 pixel, got {img_size}", param="img_size", exit_code=2)
    if img_size is not None:
        from zoo.registry.spec import check_img_size

        check_img_size(img_size)
    if not 0 < budget_s < math.inf:
        raise ZooError(f"{{param}} must be a positive number of seconds, got {budget_s}", param="budget_s", exit_code=2)
    return dev


def _error_text(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    text = first if isinstance(exc, ZooError) else f"{type(exc).__name__}: {first}".rstrip(": ")
    return text if len(text) <= 300 else text[:297] + "..."


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
) -> BenchRow:
    """Measure one registry model; never raises for a model that fails to build or run.

    The model is built with random weights through :func:`zoo.registry.build` (no
    download). A backbone (``kind == "backbone"``) is fed ``(N, C, S, S)`` float32 noise
    with ``(C, S, S)`` from ``spec.input_size`` (or ``img_size``); a GAN (``kind ==
    "gan"``) benches its generator on ``adapter.generator_inputs(N)`` (per-sample figures;
    ``img_size`` is passed as the ``image_size`` build option). Steps, in order:

    1. params (:func:`zoo.measure.count_params`) and fp32 size (:func:`zoo.measure.size_mb`);
    2. depth (:func:`zoo.measure.model_depth`, fp32, batch 1) and GFLOPs / GMACs per image
       (:func:`zoo.measure.count_flops`, batch 1), both on the eager model;
    3. latency at batch 1 (:func:`zoo.measure.time_forward`, half of ``budget_s``): median, p90, mean;
    4. throughput at ``batch_size`` (the other half): ``batch / median seconds``; on an
       out-of-memory error the batch is halved until it fits (timm ``benchmark.py``),
       and ``batch_size`` records the batch used;
    5. peak memory of one forward at that batch (:func:`zoo.measure.peak_memory_mb`; on
       CUDA of the timed module, compiled or not; on CPU/MPS of the eager module, since the
       tensor bookkeeping needs eager ATen calls).

    ``amp`` runs steps 3-5 under ``torch.autocast(device_type, dtype)``; ``channels_last``
    converts model and input to ``torch.channels_last``; ``compile`` times
    ``torch.compile(model)`` (compilation happens during warm-up). On CUDA,
    ``torch.backends.cudnn.benchmark`` is on while the model is measured (restored after).

    Args:
        name_or_spec: registry name or :class:`zoo.registry.spec.ModelSpec`.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        batch_size: throughput batch (default :func:`default_batch_size`).
        img_size: input height = width in pixels (default from the spec); below the
            model's ``min_size`` the row fails.
        amp: ``None`` (fp32), ``"bf16"`` or ``"fp16"``.
        channels_last: use the NHWC memory format.
        compile: time ``torch.compile(model)``.
        budget_s: timing budget per model in seconds, split evenly between latency and
            throughput (each may overrun to reach its minimum number of calls).
        depth, flops: compute depth / FLOPs (skip to save time).
        seed: seeds the weights' random init and the inputs.

    Returns:
        A :class:`BenchRow`; ``status`` is ``"ok"`` or ``"failed"`` (``error`` then says
        why, e.g. ``"OutOfMemoryError: ..."`` or ``"cannot compile: ..."``).

    Raises:
        ZooError: unknown model name, unavailable device, bad ``amp``, ``batch_size``,
            ``img_size`` or ``budget_s`` (problems with the request, not with the model).
    """
    from zoo import registry

    dev = _check_request(device, batch_size=batch_size, img_size=img_size, amp=amp, budget_s=budget_s)
    spec = registry.get_spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    ref = spec.weights[0] if spec.weights else None
    row = BenchRow(
        name=spec.name,
        family=spec.family,
        kind=spec.kind,
        top1_ref=ref.top1 if ref else None,
        top5_ref=ref.top5 if ref else None,
        device=str(dev),
        threads=torch.get_num_threads(),
        dtype=f"amp-{amp}" if amp else "fp32",
        channels_last=bool(channels_last),
        compile=bool(compile),
        torch=torch.__version__,
    )
    bs = batch_size or default_batch_size(dev)
    cudnn_benchmark = torch.backends.cudnn.benchmark
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # pick the fastest kernels, as timm's benchmark.py
    try:
        model, make_inputs = _build(row, spec, registry, dev, img_size, seed)
        x1 = make_inputs(1)
        _static_figures(row, model, x1, depth, flops)
        _timed_figures(row, model, x1, make_inputs, dev, bs, amp, channels_last, compile, budget_s)
    except Exception as exc:  # a failing model is a row, not a crash
        row.status = "failed"
        row.error = _error_text(exc)
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark
        if compile:
            with contextlib.suppress(Exception):
                torch._dynamo.reset()
        _free_memory(dev)
    return row


def _build(
    row: BenchRow, spec: Any, registry: Any, dev: torch.device, img_size: int | None, seed: int
) -> tuple[nn.Module, Callable[[int], tuple[torch.Tensor, ...]]]:
    """Build the model in eval mode on ``dev``; return it and ``make_inputs(n)`` (seeded)."""
    if img_size is not None and img_size < getattr(spec, "min_size", 1):
        raise ZooError(f"{{param}} {img_size} is below the minimum {spec.min_size} of {spec.name}", param="img_size")
    torch.manual_seed(seed)
    if spec.kind == "gan":
        adapter = registry.build(spec, **({"image_size": img_size} if img_size else {}))
        model: nn.Module = adapter.generator
        row.img_size = int(getattr(adapter, "image_size", 0) or spec.input_size[-1])

        def make_inputs(n: int) -> tuple[torch.Tensor, ...]:
            g = torch.Generator().manual_seed(seed)
            return tuple(adapter.generator_inputs(n, generator=g, device=dev))
    else:
        adapter = registry.build(spec)
        model = adapter.model
        c, h, w = spec.input_size
        if img_size:
            h = w = int(img_size)
        row.img_size = int(h)

        def make_inputs(n: int) -> tuple[torch.Tensor, ...]:
            g = torch.Generator().manual_seed(seed)
            return (torch.randn(n, c, h, w, generator=g).to(dev),)

    model.eval()
    whole = getattr(adapter, "model", None)  # every network (a GAN's G + D), as the registry's num_params
    whole = model if whole is None else whole
    row.params = count_params(whole)
    row.size_mb = size_mb(whole)
    model.to(dev)
    return model, make_inputs


def _static_figures(row: BenchRow, model: nn.Module, x1: tuple[torch.Tensor, ...], want_depth: bool, want_flops: bool) -> None:
    """Input shape, depth and GFLOPs at batch 1; a failure is a note, not a failed row."""
    row.input_shape = list(x1[0].shape[1:])
    if want_depth:
        try:
            row.depth = model_depth(model, inputs=x1)
        except Exception as exc:
            row.notes.append(f"depth: {_error_text(exc)}")
    if want_flops:
        try:
            row.gflops = count_flops(model, x1)
            row.gmacs = row.gflops / 2
        except Exception as exc:
            row.notes.append(f"gflops: {_error_text(exc)}")
        if row.gflops is not None and row.gflops == 0:
            row.notes.append("gflops: no convolution or matrix product counted")


def _timed_figures(
    row: BenchRow,
    model: nn.Module,
    x1: tuple[torch.Tensor, ...],
    make_inputs: Callable[[int], tuple[torch.Tensor, ...]],
    dev: torch.device,
    bs: int,
    amp: str | None,
    channels_last: bool,
    compile: bool,
    budget_s: float,
) -> None:
    """Latency at batch 1, throughput at ``bs`` (halved on OOM), then peak memory."""

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
    dtype = amp_dtype(amp)

    def amp_ctx() -> Any:
        return torch.autocast(device_type=dev.type, dtype=dtype) if dtype else contextlib.nullcontext()

    def forward_fn(xs: tuple[torch.Tensor, ...], module: Callable[..., Any] = runner) -> Callable[[], Any]:
        def call() -> Any:
            with amp_ctx():
                return module(*xs)

        return call

    half = budget_s / 2
    x1 = prep(x1)
    try:
        lat = time_forward(forward_fn(x1), device=dev, budget_s=half, warmup=2, min_reps=5)
    except Exception as exc:
        if compile and not is_oom(exc):
            raise RuntimeError(f"cannot compile: {_error_text(exc)}") from exc
        raise
    row.latency_ms, row.latency_p90_ms, row.latency_mean_ms = lat.median_ms, lat.p90_ms, lat.mean_ms
    row.latency_reps = lat.reps
    row.threads = lat.threads

    while True:
        try:
            xb = prep(make_inputs(bs))
            thr = time_forward(forward_fn(xb), device=dev, budget_s=half, warmup=1, min_reps=3)
            break
        except Exception as exc:
            if not is_oom(exc) or bs == 1:
                raise
        # outside the except block: the traceback no longer pins the failed batch's tensors
        row.notes.append(f"batch {bs} ran out of memory; halved")
        xb = None  # type: ignore[assignment]
        bs = bs // 2
        _free_memory(dev)
    row.batch_size = bs
    row.throughput_ips = bs / (thr.median_ms / 1e3) if thr.median_ms > 0 else None

    # CUDA measures the module that was timed; the CPU/MPS bookkeeping needs eager ops.
    one = forward_fn(xb) if dev.type == "cuda" else forward_fn(xb, model)
    try:
        row.peak_mem_mb, row.mem_method = peak_memory_mb(one, device=dev, model=model, inputs=xb)
    except Exception as exc:
        row.notes.append(f"peak_mem_mb: {_error_text(exc)}")


def bench_models(
    names_or_patterns: str | Iterable[Any] | None = None,
    *,
    kind: str | None = None,
    family: str | None = None,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int, str, BenchRow | None], None] | None = None,
    **options: Any,
) -> list[BenchRow]:
    """Run :func:`bench_model` over names, bare words and wildcards (no names: the whole registry).

    Names are expanded by :func:`zoo.registry.expand_names`, the rule of every command:
    an exact name, a wildcard (``resnet*``) or a bare word matching as a substring
    (``vgg`` gives ``vgg16`` and ``vgg19``). The device, the options and the names are
    checked before anything is built; a model that fails gives a ``status == "failed"``
    row and the run goes on.

    Args:
        names_or_patterns: registry names, wildcards, bare words or specs.
        kind, family: filters (``"backbone"`` / ``"gan"``; a family name).
        device: as in :func:`bench_model`.
        progress: called as ``progress(i, n, name, None)`` before model ``i`` (0-based) of
            ``n`` and ``progress(i, n, name, row)`` after it.
        **options: the other keyword arguments of :func:`bench_model` (``batch_size``,
            ``img_size``, ``amp``, ``channels_last``, ``compile``, ``budget_s``, ``depth``,
            ``flops``, ``seed``), for every model.

    Returns:
        One :class:`BenchRow` per model, in order.

    Raises:
        ZooError: as :func:`zoo.registry.expand_names` and :func:`bench_model` (bad device
            or options).
        TypeError: an option :func:`bench_model` does not take.
    """
    from zoo.registry import expand_names

    dev = _check_request(device, **{k: options.get(k) for k in ("batch_size", "img_size", "amp")}, budget_s=options.get("budget_s", 2.0))
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
