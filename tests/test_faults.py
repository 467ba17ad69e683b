"""Faults injected while zoo writes (issue 10): disk full, a read-only file system, and
safetensors' own ``SafetensorError`` (not an ``OSError``). Each is one line on stderr, and no
file is left half-written or lost: an earlier run in ``--out`` stays exactly as it was.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
from cli_helpers import assert_user_error, run
from test_resume import one_thread  # noqa: F401  (fixture)

ADAPT = ("adapt", "resnet18", "--head", "2", "--weights", "none")


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def failing_writer(real, exc: BaseException):
    """A stand-in for a safetensors writer that writes half of the file, then fails with ``exc``."""

    def write(obj, filename, *args, **kwargs):
        real(obj, filename, *args, **kwargs)
        size = os.path.getsize(filename)
        with open(filename, "r+b") as fh:
            fh.truncate(size // 2)
        raise exc

    return write


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (safetensors.SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull })"), "Error while serializing"),
    ],
    ids=["disk-full", "SafetensorError"],
)
def test_a_failed_model_write_keeps_the_earlier_run(tmp_path, monkeypatch, exc, reason):
    out = tmp_path / "run"
    assert run(*ADAPT, "--out", out).exit_code == 0
    before = tree(out)
    monkeypatch.setattr(safetensors.torch, "save_model", failing_writer(safetensors.torch.save_model, exc))
    res = run(*ADAPT[:3], "3", *ADAPT[4:], "--out", out, "--overwrite")
    assert_user_error(res, f"cannot write the checkpoint in {out} (", reason, "free some space or choose another --out")
    assert res.exit_code == 1
    assert tree(out) == before  # the earlier run, byte for byte, and no temporary file


def test_read_only_output_directory_is_one_line_and_creates_nothing(tmp_path, monkeypatch):
    import tempfile

    real = tempfile.mkstemp

    def read_only(*args, dir=None, **kwargs):
        if dir is not None and str(dir).startswith(str(tmp_path)):
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    res = run(*ADAPT, "--out", tmp_path / "new")
    assert_user_error(res, "Read-only file system")
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_disk_full_during_training_keeps_the_last_complete_epoch(tmp_path, monkeypatch):
    """The training-state write of epoch 2 fails: one line, and ``last/`` still holds epoch 1, whole."""
    out = tmp_path / "run"
    real = safetensors.torch.save_file
    calls = {"n": 0}

    def save_file(tensors, filename, *args, **kwargs):
        if Path(filename).name.startswith(".train_state"):
            calls["n"] += 1
            if calls["n"] == 2:
                return failing_writer(real, OSError(errno.ENOSPC, "No space left on device"))(tensors, filename, *args, **kwargs)
        return real(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", save_file)
    args = ("--data", "digits:0-1", "--shots", "4", "--epochs", "3", "--img-size", "32", "--batch-size", "8")
    res = run(*ADAPT, *args, "--out", out)
    assert_user_error(res, f"cannot write the checkpoint {out / 'last'} (", "No space left on device")
    monkeypatch.setattr(safetensors.torch, "save_file", real)
    resumed = run("adapt", "resnet18", "--head", "2", "--resume", out)  # epoch 1 was complete: training goes on from it
    assert resumed.exit_code == 0, resumed.output
    assert "Resuming" in resumed.stderr or (out / "model.safetensors").exists()


def test_a_decompression_bomb_in_the_training_folder_is_one_line_naming_it(tmp_path, monkeypatch):
    from PIL import Image

    for c in ("a", "b"):
        (tmp_path / "data" / c).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (40, 40), (i * 90, 0, 0)).save(tmp_path / "data" / c / f"{i}.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1,600 px: over twice the limit
    res = run("train", "resnet18", "--data", tmp_path / "data", "--epochs", "1", "--img-size", "32", "--out", tmp_path / "run")
    assert_user_error(
        res, f"image {tmp_path / 'data'}", "has more pixels than PIL's decompression-bomb limit (200); shrink or remove that file"
    )
    assert not (tmp_path / "run" / "model.safetensors").exists()
