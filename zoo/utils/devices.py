"""Device selection shared by the trainer and the bench: fail fast on a device this machine lacks."""

from __future__ import annotations

import torch

from zoo.errors import ZooError

__all__ = ["AMP_DTYPES", "amp_dtype", "is_oom", "resolve_device", "valid_devices"]

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def valid_devices() -> list[str]:
    """Devices usable here, for error messages: ``cpu``, plus ``cuda``/``cuda:0..N`` and ``mps`` when present."""
    valid = ["cpu"]
    if torch.cuda.is_available():
        valid.append("cuda" if torch.cuda.device_count() == 1 else f"cuda (cuda:0..cuda:{torch.cuda.device_count() - 1})")
    if _mps_available():
        valid.append("mps")
    return valid


def resolve_device(device: str | torch.device) -> torch.device:
    """Check that ``device`` exists here and return it as a ``torch.device``.

    Call it before building anything: a bad device fails in milliseconds.

    Raises:
        ZooError: unknown device type (exit code 2), ``cuda`` without CUDA, ``cuda:N`` past
            the device count, ``mps`` without MPS; the message lists the valid devices.
    """
    valid = ", ".join(valid_devices())
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ZooError(f"unknown device {device!r}; valid here: {valid}", exit_code=2) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            built = (
                f"torch {torch.__version__} built with CUDA {torch.version.cuda}"
                if torch.version.cuda
                else f"torch {torch.__version__} built without CUDA"
            )
            raise ZooError(
                f"{{param}} {device} requested but CUDA is not available ({built}; no usable GPU or driver); valid here: {valid}",
                param="device",
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ZooError(f"{{param}} {device}: only {torch.cuda.device_count()} CUDA device(s); valid here: {valid}", param="device")
    elif dev.type == "mps":
        if not _mps_available():
            raise ZooError(
                f"{{param}} {device} requested but MPS is not available (Apple-silicon macOS only); valid here: {valid}", param="device"
            )
    elif dev.type != "cpu":
        raise ZooError(f"unsupported device {device!r}; valid here: {valid}", exit_code=2)
    return dev


def amp_dtype(amp: str | None) -> torch.dtype | None:
    """The autocast dtype of ``--amp`` (``bf16`` or ``fp16``); ``None`` (or ``fp32``/``none``) means full precision.

    Raises:
        ZooError: any other value (exit code 2).
    """
    if amp in (None, "", "none", "fp32"):
        return None
    if amp not in AMP_DTYPES:
        raise ZooError(f"unknown {{param}} {amp!r}; valid: {', '.join(AMP_DTYPES)} (or leave it out for fp32)", param="amp", exit_code=2)
    return AMP_DTYPES[amp]


def is_oom(exc: BaseException) -> bool:
    """True for out-of-memory errors: ``torch.OutOfMemoryError`` (CUDA), ``MemoryError`` and the
    CPU allocator's ``RuntimeError`` ("can't allocate memory")."""
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)
