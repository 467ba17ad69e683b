"""``zoo export``: a classifier checkpoint as ONNX or TorchScript, verified before it is kept.

The exported network is the checkpoint's model as trained: input ``input`` ``(batch, 3, S,
S)`` float32, already normalised with the sidecar's ``mean``/``std``; output ``logits``
``(batch, classes)`` float32. The batch axis is dynamic. The class names and preprocessing
travel with the file: ONNX ``metadata_props`` (``zoo_model``, ``class_names``,
``preprocessing``, JSON strings), TorchScript ``_extra_files["zoo.json"]``.

Verification, in the command itself: the exported file is loaded back (onnxruntime's
``CPUExecutionProvider`` for ONNX, ``torch.jit.load`` for TorchScript) and run on a seeded
``torch.randn`` batch of another size than the export example (3 vs 2, so the dynamic
batch axis is exercised too); its outputs are compared with PyTorch's. The file is kept
only when ``max |exported - pytorch| <= rtol * max(1, max |pytorch|)`` (``rtol = 1e-4``);
otherwise nothing is left behind.

Exporters (measured on torch 2.14.1, onnx 1.23.2, onnxruntime 1.31.1, 2 CPU cores):

* ONNX uses ``torch.onnx.export(..., dynamo=False)``, the TorchScript-based exporter, at
  opset 17. It is deprecated since torch 2.9 but present in 2.14, needs only ``onnx``, and
  exported resnet18 in 1.2 s and mobilenet_v2 in 1.4 s (max abs diff 4.5e-7), and every
  other registry backbone tried (densenet121, inception_v3, inception_resnet_v2, xception,
  nasnetmobile, mobilenet_v1, mobilenet_v3_small, resnet50v2) within 2-26 s. The
  ``dynamo=True`` exporter (torch's default) needs ``onnxscript`` and ``onnx_ir`` besides
  and took 8.3 s and 14.0 s for the same two models with the same outputs; it is used
  when the TorchScript-based one is gone from torch (or asked for with ``onnx_exporter``).
* TorchScript uses ``torch.jit.trace`` (deprecated in favour of ``torch.export`` but
  working in 2.14; tracing, unlike scripting, handles timm's and torchvision's models alike).

GAN checkpoints are refused: a generator's inputs (latent, condition, source image) differ
by family; ``zoo sample`` uses them.

This module imports torch; import it lazily.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.tasks.classifier import load_run, removing_new_dirs
from zoo.utils.outputs import releasing_claims

__all__ = ["FORMATS", "ONNX_OPSET", "RTOL", "export"]

FORMATS = ("onnx", "torchscript")
_SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}
#: Relative tolerance of the verification (relative to the largest PyTorch output, at least 1).
RTOL = 1e-4
ONNX_OPSET = 17
_EXPORTERS = ("auto", "torchscript", "dynamo")
_EXPORT_BATCH, _VERIFY_BATCH = 2, 3


def _need(module: str, fmt: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ZooError(f"--format {fmt} needs the {module} package; install it with pip install 'zoo[export]'")


def _legacy_onnx_available() -> bool:
    """Whether this torch still has the TorchScript-based ONNX exporter (``dynamo=False``)."""
    try:
        return importlib.util.find_spec("torch.onnx._internal.torchscript_exporter") is not None
    except ModuleNotFoundError:
        return False


@contextlib.contextmanager
def _quiet() -> Any:
    """Silence the exporters' deprecation and tracer warnings: the choice is deliberate and documented above."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _export_onnx(model: torch.nn.Module, example: torch.Tensor, path: Path, meta: dict[str, str], exporter: str) -> str:
    """Write ``model`` as ONNX to ``path`` with a dynamic batch axis and ``meta`` as metadata props; returns the exporter used."""
    import onnx

    if exporter == "auto":
        exporter = "torchscript" if _legacy_onnx_available() else "dynamo"
    with _quiet():
        if exporter == "torchscript":
            torch.onnx.export(
                model,
                (example,),
                str(path),
                dynamo=False,
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=ONNX_OPSET,
            )
        else:
            _need("onnxscript", "onnx (torch's dynamo exporter)")
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                input_names=["input"],
                output_names=["logits"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                verbose=False,
                opset_version=max(ONNX_OPSET, 18),
            )
            program.save(str(path), external_data=False)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    onnx.helper.set_model_props(proto, meta)
    onnx.save(proto, str(path))
    return "torch.onnx.export(dynamo=False)" if exporter == "torchscript" else "torch.onnx.export(dynamo=True)"


def _run_onnx(path: Path, x: torch.Tensor) -> tuple[torch.Tensor, str]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings are not the user's business
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    return torch.from_numpy(out), f"onnxruntime {ort.__version__} (CPUExecutionProvider)"


def _export_torchscript(model: torch.nn.Module, example: torch.Tensor, path: Path, meta: dict[str, str]) -> str:
    import io

    from zoo.utils.fileio import atomic_write

    with _quiet():
        traced = torch.jit.trace(model, example, check_trace=False)
        buf = io.BytesIO()  # serialised in memory: torch's file writer aborts the process on a full disk
        torch.jit.save(traced, buf, _extra_files={"zoo.json": json.dumps(meta)})
    with atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    return "torch.jit.trace"


def _run_torchscript(path: Path, x: torch.Tensor) -> tuple[torch.Tensor, str]:
    with _quiet():
        loaded = torch.jit.load(str(path), map_location="cpu")
    with torch.no_grad():
        return loaded(x), f"torch.jit.load (torch {torch.__version__})"


@releasing_claims
def export(
    checkpoint: str | os.PathLike[str],
    fmt: str,
    *,
    out: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    img_size: int | None = None,
    seed: int = 0,
    rtol: float = RTOL,
    onnx_exporter: str = "auto",
) -> dict[str, Any]:
    """Export a classifier checkpoint to ONNX or TorchScript and verify it (see the module docstring).

    Args:
        checkpoint: a ``zoo train``/``zoo adapt`` run directory of a backbone.
        fmt: ``"onnx"`` or ``"torchscript"``.
        out: the file to write (default ``CHECKPOINT/model.onnx`` or ``CHECKPOINT/model.pt``,
            numbered if it exists; for a run's ``last``/``best`` checkpoint, ``RUN/model-last.onnx``...,
            as nothing but the trainer writes inside those; :func:`zoo.utils.outputs.claim_output`).
            Never the checkpoint's own files or another run's.
        overwrite: replace an existing ``out``.
        img_size: the example input's side in pixels (default: the checkpoint's training
            size); only the batch axis is dynamic, so this is the size the file takes.
        seed: seeds the example and verification batches (0 .. 2**32 - 1).
        rtol: verification tolerance, relative to ``max(1, max |pytorch output|)``.
        onnx_exporter: ``auto`` (TorchScript-based when this torch has it, else dynamo),
            ``torchscript`` or ``dynamo`` (needs ``onnxscript``).

    Returns:
        ``model``, ``checkpoint``, ``format``, ``out``, ``exporter``, ``runtime``,
        ``input_shape`` (``["batch", 3, S, S]``), ``classes``, ``max_abs_diff``,
        ``tolerance``, ``verified_batch``, ``megabytes`` (file size, MB = 1e6 bytes), ``seconds``.

    Raises:
        ZooError: unknown format (exit code 2), ``onnx``/``onnxruntime`` missing, a GAN or
            bad checkpoint, ``img_size`` below the model's minimum or above
            :data:`zoo.registry.spec.MAX_IMG_SIZE`, a bad ``seed`` (exit code 2), a bad or taken
            ``out`` (one of the checkpoint's files, another run's, being written by another process),
            outputs that differ beyond the tolerance (the file is not kept).
    """
    from zoo.io.checkpoint import checkpoint_files
    from zoo.registry.spec import check_img_size
    from zoo.utils.fileio import atomic_path
    from zoo.utils.outputs import RUN_ENTRIES, claim_output
    from zoo.utils.seeding import check_seed

    if fmt not in FORMATS:
        raise ZooError(f"{{param}} {fmt!r} is not known; valid: {', '.join(FORMATS)}", param="format", exit_code=2)
    if onnx_exporter not in _EXPORTERS:
        raise ZooError(f"{{param}} {onnx_exporter!r} is not known; valid: {', '.join(_EXPORTERS)}", param="onnx_exporter", exit_code=2)
    if fmt == "onnx":
        _need("onnx", fmt)
        _need("onnxruntime", fmt)
    check_seed(seed)
    if img_size is not None:
        check_img_size(img_size)
    ckpt = Path(checkpoint).expanduser()
    if not ckpt.exists():
        raise ZooError(f"checkpoint directory {ckpt} does not exist; pass a directory written by 'zoo train' or 'zoo adapt'", exit_code=2)
    default_dir = ckpt if ckpt.is_dir() else ckpt.parent
    default = default_dir / f"model{_SUFFIX[fmt]}"
    if default_dir.name in RUN_ENTRIES:  # RUN/last, RUN/best: the trainer's alone
        default = default_dir.parent / f"model-{default_dir.name.replace('.', '-')}{_SUFFIX[fmt]}"
    target = claim_output(out, kind="file", default=default, overwrite=overwrite, reads=checkpoint_files(ckpt))
    run = load_run(ckpt, command="zoo export")
    spec = run.adapter.spec
    size = run.preprocessing["img_size"] if img_size is None else img_size
    check_img_size(size, minimum=spec.min_size, model=spec.name)
    model = run.adapter.model.eval()
    g = torch.Generator().manual_seed(seed)
    example = torch.randn(_EXPORT_BATCH, 3, size, size, generator=g)
    check = torch.randn(_VERIFY_BATCH, 3, size, size, generator=g)
    meta = {
        "zoo_model": run.model,
        "class_names": json.dumps(run.class_names),
        "preprocessing": json.dumps({**run.preprocessing, "img_size": size}),
    }
    start = time.perf_counter()
    with torch.no_grad():
        expected = model(check).float()
    try:
        with removing_new_dirs(target), atomic_path(target) as tmp:
            if fmt == "onnx":
                exporter = _export_onnx(model, example, tmp, meta, onnx_exporter)
                got, runtime = _run_onnx(tmp, check)
            else:
                exporter = _export_torchscript(model, example, tmp, meta)
                got, runtime = _run_torchscript(tmp, check)
            diff = float((got.float() - expected).abs().max())
            tolerance = rtol * max(1.0, float(expected.abs().max()))
            if not diff <= tolerance:  # also catches NaN
                raise ZooError(
                    f"the {fmt} export of {run.model} does not match PyTorch: max abs diff {diff:.3g} > tolerance {tolerance:.3g} "
                    f"on a seeded ({_VERIFY_BATCH}, 3, {size}, {size}) batch; nothing was written (ZOO_DEBUG=1 for details)"
                )
            megabytes = tmp.stat().st_size / 1e6
    except OSError as exc:
        raise ZooError(f"cannot write {target} ({exc.strerror or exc}); choose another {{param}}", param="out") from exc
    return {
        "model": run.model,
        "checkpoint": str(ckpt),
        "format": fmt,
        "out": str(target),
        "exporter": exporter,
        "runtime": runtime,
        "input_shape": ["batch", 3, size, size],
        "classes": run.class_names,
        "max_abs_diff": diff,
        "tolerance": tolerance,
        "verified_batch": _VERIFY_BATCH,
        "megabytes": round(megabytes, 3),
        "seconds": round(time.perf_counter() - start, 3),
    }
