"""zoo.io.filekind: a file that is not a checkpoint is named by its content, never by its suffix (issue 16).

Every kind :func:`zoo.io.filekind.describe_file` names, from files written here (the names all
end in ``.pth``, the suffix users give weights, so nothing can come from it); then the two
state-dict readers (:func:`zoo.io.state_dict.load_state_file` and
:func:`zoo.io.official.read_official`) and the download of a zip that turned out to be a web
page, all through the one sniffer. The CLI side is in tests/test_bad_inputs.py.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import io
import json
import lzma
import pickle
import tarfile
import warnings
import zipfile

import numpy as np
import pytest
import safetensors.torch as st
import torch
from PIL import Image

from zoo.errors import ZooError
from zoo.io.filekind import EXPECTED_WEIGHTS, describe_file, identify_file, weights_format
from zoo.io.official import read_official
from zoo.io.state_dict import load_state_file, read_weights_file

WEIGHTS = {"conv.weight": torch.ones(8, 8), "conv.bias": torch.zeros(8)}


def _image(fmt: str, size=(12, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buf, format=fmt)
    return buf.getvalue()


def _torch(obj, **kwargs) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, **kwargs)
    return buf.getvalue()


def _tar(compression: str = "") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}") as tar:
        info = tarfile.TarInfo("model.pth")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ones(3))
    return buf.getvalue()


def _torchscript() -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():  # torch.jit is deprecated; zoo export still writes TorchScript
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), buf)
    return buf.getvalue()


SAFE = st.save(WEIGHTS)
ZIP_CKPT = _torch(WEIGHTS)
LEGACY = _torch(WEIGHTS, _use_new_zipfile_serialization=False)

# content -> what describe_file says (a prefix), whatever the file is called
KINDS = {
    "empty": (b"", "an empty file (0 bytes)"),
    "text": (b"hello\nworld\n", "a text file ('hello')"),
    "blank": (b"\n\n  \n", "a text file of blank lines"),
    "json": (b'{"lr": 0.1}', "a JSON text file"),
    "sidecar": (json.dumps({"model": "resnet18", "config": {}}).encode(), "a JSON text file (the sidecar of a zoo checkpoint of resnet18)"),
    "yaml": (b"---\nlr: 0.1\n", "a YAML-like text file"),
    "html": (b"<!doctype html><html><head><title>Sign in - Dropbox</title></head></html>", "an HTML page ('Sign in - Dropbox')"),
    "xml": (b'<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>', "an XML document"),
    "lfs": (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 1234\n", "a Git LFS pointer for a 1,234-byte file"),
    "png": (_image("PNG"), "a PNG image (12 x 10)"),
    "jpeg": (_image("JPEG"), "a JPEG image (12 x 10)"),
    "gif": (_image("GIF"), "a GIF image (12 x 10)"),
    "bmp": (_image("BMP"), "a BMP image (12 x 10)"),
    "webp": (_image("WEBP"), "a WebP image (12 x 10)"),
    "tiff": (_image("TIFF"), "a TIFF image (12 x 10)"),
    "gzip": (gzip.compress(b"abc"), "a gzip-compressed file"),
    "tgz": (_tar("gz"), "a gzip-compressed tar archive"),
    "tar": (_tar(), "a tar archive"),
    "bzip2": (bz2.compress(b"abc"), "a bzip2-compressed file"),
    "xz": (lzma.compress(b"abc"), "an xz-compressed file"),
    "pdf": (b"%PDF-1.7\n...", "a PDF document"),
    "hdf5": (b"\x89HDF\r\n\x1a\n" + bytes(100), "an HDF5 file"),
    "npy": (_npy(), "a NumPy .npy array"),
    "npz": (_zip({"a.npy": _npy()}), "a NumPy .npz archive (a.npy)"),
    "zip": (
        _zip({"readme.txt": b"hi", "w/model.bin": b"x"}),
        "a zip archive that is not a torch checkpoint (it holds readme.txt, w/model.bin)",
    ),
    "empty zip": (_zip({}), "an empty zip archive"),
    "cut zip": (_zip({"readme.txt": b"hi" * 100})[:60], "a truncated or corrupt zip archive (60 bytes)"),
    "cut torch": (ZIP_CKPT[:700], "a torch.save checkpoint cut short (700 bytes; the end of its zip archive is missing)"),
    "torchscript": (_torchscript(), "a TorchScript model (torch.jit.save, such as zoo export's model.pt), not a checkpoint of weights"),
    "code": (_torch({"w": WEIGHTS, "args": argparse.Namespace(lr=1)}), "a torch.save checkpoint that pickles code (argparse.Namespace)"),
    "legacy code": (
        _torch(torch.nn.Linear(2, 2), _use_new_zipfile_serialization=False),
        "a legacy torch.save checkpoint (PyTorch < 1.6 format) that pickles code (torch.nn.modules.linear.Linear)",
    ),
    "cut legacy": (LEGACY[:60], "a legacy torch.save checkpoint cut short (60 bytes)"),
    "pickle": (pickle.dumps({"x": np.ones(2)}), "a Python pickle that is not a torch checkpoint (it refers to numpy."),
    "cut safetensors": (SAFE[:-10], f"a truncated safetensors file ({len(SAFE) - 10:,} of the {len(SAFE):,} bytes its header describes)"),
    "cut header": (SAFE[:20], "a truncated safetensors file (20 bytes: it ends inside its "),
    "bad header": (SAFE[:8] + b"{" + b"x" * (len(SAFE) - 9), "a safetensors file with a corrupt header"),
    "long safetensors": (SAFE + b"xx", "a corrupt safetensors file (2 bytes more than its header describes)"),
    # the first bytes of torch.onnx.export's file: ir_version 9, producer_name "pytorch", producer_version
    "onnx": (b"\x08\x09\x12\x07pytorch\x1a\x062.14.1:" + bytes(64), "an ONNX model (such as zoo export's model.onnx)"),
    "binary": (bytes(range(256)), "binary data of an unknown format (256 bytes, starting 00 01 02 03 04 05 06 07)"),
    # what reads fine
    "safetensors": (SAFE, "a safetensors file (2 tensors)"),
    "torch zip": (ZIP_CKPT, "a torch.save checkpoint (zip format)"),
    "legacy": (LEGACY, "a legacy torch.save checkpoint (PyTorch < 1.6 format)"),
}
READABLE = {"safetensors": "safetensors", "torch zip": "torch", "legacy": "torch"}


@pytest.mark.parametrize("kind", KINDS)
def test_describe_file_names_the_content(tmp_path, kind):
    data, description = KINDS[kind]
    path = tmp_path / "model.pth"
    path.write_bytes(data)
    found = identify_file(path)
    assert found.description.startswith(description), found.description
    assert found.description == describe_file(path) and "\n" not in found.description + found.hint
    assert found.weights == READABLE.get(kind)
    assert found.hint == "" or found.hint.startswith("; ")


def test_weights_format_reads_the_first_bytes_only(tmp_path):
    cases = {"a.pth": (SAFE, "safetensors"), "b.safetensors": (ZIP_CKPT, "torch"), "c.bin": (LEGACY, "torch")}
    cases.update({"d.pth": (KINDS["pickle"][0], None), "e.safetensors": (b"{}", None), "f.pth": (_image("PNG"), None)})
    for name, (data, fmt) in cases.items():
        (tmp_path / name).write_bytes(data)
        assert weights_format(tmp_path / name) == fmt, name


def test_paths_that_are_not_files(tmp_path):
    assert describe_file(tmp_path / "missing.pth") == "a path that does not exist"
    assert describe_file(tmp_path) == "a directory"


def test_both_readers_name_what_the_file_is(tmp_path):
    page = tmp_path / "horse2zebra.pth"
    page.write_bytes(KINDS["html"][0])
    expected = f"is an HTML page ('Sign in - Dropbox'); expected {EXPECTED_WEIGHTS}; the download saved a web page"
    with pytest.raises(ZooError) as info:
        load_state_file(page)
    assert str(info.value).startswith(f"weights file {page} {expected}")
    with pytest.raises(ZooError) as info:
        read_official(page)
    assert str(info.value).startswith(f"checkpoint {page} {expected}")


def test_the_content_not_the_suffix_picks_the_reader(tmp_path):
    swapped = {"a.safetensors": ZIP_CKPT, "b.pth": SAFE, "c.txt": LEGACY}
    for name, data in swapped.items():
        (tmp_path / name).write_bytes(data)
        state = load_state_file(tmp_path / name)
        assert set(state) == set(WEIGHTS) and all(torch.equal(state[k], WEIGHTS[k]) for k in WEIGHTS), name
        state, _ = read_official(tmp_path / name)
        assert set(state) == set(WEIGHTS), name
    content, meta, fmt = read_weights_file(tmp_path / "b.pth")
    assert fmt == "safetensors" and meta == {} and set(content) == set(WEIGHTS)


def test_a_whole_file_that_fails_to_read_says_why(tmp_path):
    path = tmp_path / "old.pth"
    path.write_bytes(LEGACY[: len(LEGACY) - 100])  # the pickles whole, the tensor data cut short
    assert describe_file(path) == "a legacy torch.save checkpoint (PyTorch < 1.6 format)"
    with pytest.raises(ZooError) as info:
        load_state_file(path)
    assert str(info.value).startswith(
        f"weights file {path} is a legacy torch.save checkpoint (PyTorch < 1.6 format) that cannot be read (unexpected EOF, expected "
    )
    assert str(info.value).endswith(f" more bytes); expected {EXPECTED_WEIGHTS}; the file is damaged: download or save it again")


def test_a_refused_global_that_the_sniffer_missed_is_named_from_the_error(tmp_path):
    path = tmp_path / "legacy.pth"
    path.write_bytes(LEGACY)
    refused = RuntimeError("Weights only load failed.\n\tWeightsUnpickler error: Unsupported global: GLOBAL mylib.Config was not allowed")
    found = identify_file(path, error=refused)
    assert (
        found.description == "a legacy torch.save checkpoint (PyTorch < 1.6 format) that pickles code (mylib.Config), which zoo never runs"
    )
    assert found.weights is None and "state_dict()" in found.hint
    assert identify_file(tmp_path / "legacy.pth", error=None).weights == "torch"


def test_a_damaged_training_state_is_named(tmp_path):
    from zoo.io.train_state import read_training_state, write_training_checkpoint
    from zoo.registry import build

    last = write_training_checkpoint(tmp_path / "last", build("resnet18", num_classes=2), {}, {"step": torch.tensor(3)})
    data = (last / "train_state.safetensors").read_bytes()
    (last / "train_state.safetensors").write_bytes(data[: len(data) - 4])
    with pytest.raises(ZooError) as info:
        read_training_state(last)
    assert str(info.value).startswith(f"cannot read the training state {last / 'train_state.safetensors'} (")
    assert str(info.value).endswith(
        f"): it is a truncated safetensors file ({len(data) - 4:,} of the {len(data):,} bytes its header describes); start a new run"
    )
