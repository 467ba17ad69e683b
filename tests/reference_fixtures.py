"""The official-checkpoint fixtures of ``tests/fixtures/reference`` (in the repository), shared by
the DCGAN and StarGAN/CycleGAN/SRGAN tests: loading them and the synthetic-weight recipe
of ``tests/fixtures/reference/README.md``. A missing fixture fails the tests; it never skips."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

REFERENCE = Path(__file__).resolve().parent / "fixtures" / "reference"


def load_reference(name: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(json metadata, io tensors)`` of ``tests/fixtures/reference/<name>.json``."""
    path = REFERENCE / f"{name}.json"
    if not path.is_file():
        pytest.fail(f"reference fixture {path} not found: it is part of the repository (tests/fixtures/reference); restore it with git")
    meta = json.loads(path.read_text())
    return meta, load_file(str(REFERENCE / meta["io_file"]))


def synthetic_state_dict(entries) -> OrderedDict[str, torch.Tensor]:
    """The synthetic weights of tests/fixtures/reference/README.md (seed 1000 + entry index, 0.02 * randn)."""
    dtypes = {"float32": torch.float32, "int64": torch.int64}
    sd = OrderedDict()
    for i, (key, shape, dtype) in enumerate(entries):
        dt = dtypes[dtype]
        if dt.is_floating_point:
            t = torch.randn(shape, generator=torch.Generator().manual_seed(1000 + i)) * 0.02
            if key.endswith("running_var"):
                t = torch.ones(shape) + t.abs()
            sd[key] = t.to(dt)
        else:
            sd[key] = torch.zeros(shape, dtype=dt)
    return sd


def weights_sha256(sd) -> str:
    """SHA-256 over each key's UTF-8 bytes then its tensor's raw bytes, in order (the README's ``weights_sha256``)."""
    h = hashlib.sha256()
    for key, t in sd.items():
        h.update(key.encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()
