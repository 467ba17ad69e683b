"""Faults injected while zoo writes (issue 10): a full disk (at ``write`` and at ``fsync``),
safetensors' own ``SafetensorError`` (not an ``OSError``), a read-only output directory and
a read-only weights cache, plus images PIL refuses or warns about.

Each fault must give one ``Error:`` line on stderr naming the path and what to do, leave no
partial or temporary file, and leave an earlier output (``--overwrite``) exactly as it was.

How the faults are made, without root or a real full disk:

* disk full at ``fsync`` (:func:`fail_fsync`): ``os.fsync`` raises ``ENOSPC`` for files under
  a directory, as NFS or a quota report a failed write only then;
* disk full at ``write`` (:func:`short_writes`): the file object ``zoo.utils.fileio`` opens writes
  half of what it is given, then raises ``ENOSPC``;
* safetensors' writer writes half of the file, then raises the error given;
* read-only (:func:`read_only`): ``chmod 0o555``, and, because root ignores that, the calls
  that create, rename, remove or open a path for writing raise ``EROFS`` under it.

:func:`test_a_real_full_disk` also fills a real 1 MiB tmpfs where the machine lets the test
mount one (root with ``CAP_SYS_ADMIN``), and is skipped elsewhere.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import io
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import safetensors
import safetensors.torch
from cli_helpers import assert_user_error, run

import zoo.utils.fileio

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread, for every test here

ADAPT = ("adapt", "resnet18", "--head", "2", "--weights", "none")
FULL = "No space left on device"
RO = "Read-only file system"


# ---------------------------------------------------------------------------------
# the faults
# ---------------------------------------------------------------------------------
def _inside(path, root: Path) -> bool:
    if isinstance(path, int):
        return False
    p = os.path.realpath(os.fsdecode(os.fspath(path)))
    r = os.path.realpath(root)
    return p == r or p.startswith(r + os.sep)


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pytest.skip("needs /proc/self/fd (Linux) to tell which file an fsync is for")


def fail_fsync(monkeypatch, root: Path, *, names: tuple[str, ...] = (), code: int = errno.ENOSPC) -> None:
    """``os.fsync`` raises ``OSError(code)`` for files under ``root`` (only those whose final
    name is in ``names``, temporary ``.NAME.XXXX.tmp`` files included, when given)."""
    real = os.fsync

    def fsync(fd):
        path = _fd_path(fd)
        name = Path(path).name
        if _inside(path, root) and (not names or any(name == n or name.startswith(f".{n}.") for n in names)):
            raise OSError(code, os.strerror(code))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


class _ShortFile:
    """A file object whose ``write`` writes half of what it is given, then raises ``ENOSPC``."""

    def __init__(self, fh) -> None:
        self._fh = fh

    def write(self, data):
        self._fh.write(data[: len(data) // 2])
        self._fh.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._fh.__exit__(*exc)


def short_writes(monkeypatch, *names: str) -> None:
    """Files ``zoo.utils.fileio`` opens for writing whose final name is in ``names`` fill the disk."""

    def fopen(file, mode="r", *args, **kwargs):
        fh = builtins.open(file, mode, *args, **kwargs)  # noqa: SIM115  (returned open)
        name = Path(file).name
        if "w" in mode and any(name == n or name.startswith(f".{n}.") for n in names):
            return _ShortFile(fh)
        return fh

    monkeypatch.setattr(zoo.utils.fileio, "open", fopen, raising=False)


def failing_writer(real, exc: BaseException):
    """A stand-in for a safetensors writer that writes half of the file, then fails with ``exc``."""

    def write(obj, filename, *args, **kwargs):
        real(obj, filename, *args, **kwargs)
        size = os.path.getsize(filename)
        with open(filename, "r+b") as fh:
            fh.truncate(size // 2)
        raise exc

    return write


_REAL_CHMOD = os.chmod


@contextlib.contextmanager
def read_only(root: Path, *, access: bool = True):
    """Make ``root`` read-only for the ``with`` block: ``chmod 0o555``, and, for root, whom
    the mode does not stop, ``EROFS`` from every call that would create, rename, remove or
    open for writing a path under it. ``access=False`` leaves ``os.access`` saying
    "writable", as it does for root on a read-only mount: the write itself must then fail
    cleanly."""
    mode = root.stat().st_mode
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    real_os_open, real_open, real_access = os.open, builtins.open, os.access

    def erofs(path):
        return OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(os.fspath(path)))

    def os_open(path, flags, *args, **kwargs):
        if flags & writing and _inside(path, root):
            raise erofs(path)
        return real_os_open(path, flags, *args, **kwargs)

    def any_open(file, mode="r", *args, **kwargs):
        if any(c in mode for c in "wax+") and _inside(file, root):
            raise erofs(file)
        return real_open(file, mode, *args, **kwargs)

    def writable(path, how, *args, **kwargs):
        if how & os.W_OK and _inside(path, root):
            return False
        return real_access(path, how, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "open", os_open)
        mp.setattr(builtins, "open", any_open)
        mp.setattr(io, "open", any_open)
        for name in ("mkdir", "unlink", "remove", "rmdir", "chmod"):
            real = getattr(os, name)

            def one(path, *args, _real=real, **kwargs):
                if _inside(path, root):
                    raise erofs(path)
                return _real(path, *args, **kwargs)

            mp.setattr(os, name, one)
        for name in ("replace", "rename", "link"):
            real = getattr(os, name)

            def two(src, dst, *args, _real=real, **kwargs):
                if _inside(src, root) or _inside(dst, root):
                    raise erofs(dst)
                return _real(src, dst, *args, **kwargs)

            mp.setattr(os, name, two)
        if access:
            mp.setattr(os, "access", writable)
        _REAL_CHMOD(root, 0o555)
        try:
            yield
        finally:
            _REAL_CHMOD(root, mode)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under ``root``: directories by name, files by (size, mtime_ns, inode), so a
    file replaced (a new inode) or rewritten (a new mtime) shows, without reading 100 MB."""
    out: dict[str, tuple] = {}
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            out[str((Path(dirpath) / d).relative_to(root)) + "/"] = ()
        for f in files:
            st = (Path(dirpath) / f).stat()
            out[str((Path(dirpath) / f).relative_to(root))] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return out


# ---------------------------------------------------------------------------------
# every command that writes, each with an earlier output to keep
# ---------------------------------------------------------------------------------
def _writers(w: Path) -> dict[str, tuple[tuple, Path, str]]:
    """``{command: (argv, its output, the start of the error line after "Error: ")}``."""
    return {
        "adapt": ((*ADAPT, "--out", w / "run"), w / "run", f"cannot write the checkpoint in {w / 'run'} ("),
        "sample": (
            ("sample", "dcgan", "--checkpoint", w / "dc", "--n", "4", "--out", w / "grid.png"),
            w / "grid.png",
            f"cannot write {w / 'grid.png'} (",
        ),
        "features": (
            ("features", "resnet18", "--weights", "none", "--data", w / "data", "--img-size", "32", "--out", w / "f.safetensors"),
            w / "f.safetensors",
            f"cannot write {w / 'f.safetensors'} (",
        ),
        "export": (("export", w / "cls", "--format", "onnx", "--out", w / "m.onnx"), w / "m.onnx", f"cannot write {w / 'm.onnx'} ("),
        "eval": (
            ("eval", w / "cls", "--data", w / "data", "--out", w / "report"),
            w / "report",
            f"cannot write the report in {w / 'report'} (",
        ),
    }


@pytest.fixture(scope="module")
def earlier(tmp_path_factory):
    """A directory holding every command's earlier output, and the inputs: a tiny DCGAN, an
    ImageFolder of 2 x 5 images, and a two-class ResNet-18 trained one epoch on it."""
    import torch

    from zoo.io.checkpoint import save_checkpoint
    from zoo.registry import build

    w = tmp_path_factory.mktemp("earlier")
    torch.manual_seed(0)
    save_checkpoint(w / "dc", build("dcgan", image_size=16, channels=1, ngf=8, ndf=8), {})
    save_checkpoint(w / "srgan", build("srgan", image_size=16, ngf=8, n_blocks=1), {})
    _folder(w, n=5)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see conftest.one_thread
    try:
        res = run(*ADAPT, "--data", w / "data", "--epochs", "1", "--img-size", "32", "--batch-size", "4", "--out", w / "cls")
        assert res.exit_code == 0, res.output
        for argv, _, _ in _writers(w).values():
            res = run(*argv)
            assert res.exit_code == 0, res.output
    finally:
        torch.set_num_threads(threads)
    return w


def _expect(res, start: str, reason: str, *advice: str) -> None:
    assert_user_error(res, reason, *advice)
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: " + start), line


@pytest.mark.parametrize(
    ("command", "names"),
    [
        ("adapt", ()),
        ("adapt", ("model.json",)),  # the sidecar fails after the weights were written: the earlier pair stays a pair
        ("sample", ()),
        ("features", ()),
        ("export", ()),
        ("eval", ()),
        pytest.param("eval", ("confusion.png",)),
    ],
    ids=["adapt", "adapt-sidecar", "sample", "features", "export", "eval", "eval-second-file"],
)
def test_disk_full_at_fsync_keeps_the_earlier_output(earlier, monkeypatch, command, names):
    argv, _, start = _writers(earlier)[command]
    before = snapshot(earlier)
    fail_fsync(monkeypatch, earlier, names=names)
    res = run(*argv, "--overwrite")
    _expect(res, start, FULL, "choose another")
    assert snapshot(earlier) == before  # the earlier output, untouched, and no temporary file


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.ENOSPC, FULL),
        # what safetensors 0.8 raises on a full disk (measured on a full tmpfs)
        safetensors.SafetensorError(f"Error while serializing: I/O error: {FULL} (os error 28)"),
        safetensors.SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull })"),
    ],
    ids=["OSError", "SafetensorError", "SafetensorError-older"],
)
def test_a_failed_model_write_keeps_the_earlier_run(earlier, monkeypatch, exc):
    before = snapshot(earlier)
    monkeypatch.setattr(safetensors.torch, "save_model", failing_writer(safetensors.torch.save_model, exc))
    res = run(*ADAPT[:3], "3", *ADAPT[4:], "--out", earlier / "run", "--overwrite")
    _expect(res, f"cannot write the checkpoint in {earlier / 'run'} (", FULL, "free some space or choose another --out")
    assert res.exit_code == 1
    assert snapshot(earlier) == before


def test_safetensors_error_writing_features_is_one_line(earlier, monkeypatch):
    """``SafetensorError`` is no ``OSError``: zoo.utils.fileio turns it into one for every writer."""
    before = snapshot(earlier)
    exc = safetensors.SafetensorError(f"Error while serializing: I/O error: {FULL} (os error 28)")
    monkeypatch.setattr(safetensors.torch, "save_file", failing_writer(safetensors.torch.save_file, exc))
    argv, _, start = _writers(earlier)["features"]
    _expect(run(*argv, "--overwrite"), start, FULL, "choose another --out")
    assert snapshot(earlier) == before


def test_as_os_error_reads_the_errno_of_a_safetensors_error():
    from zoo.utils.fileio import as_os_error

    new = as_os_error(safetensors.SafetensorError("Error while serializing: I/O error: Read-only file system (os error 30)"))
    assert (new.errno, new.strerror) == (errno.EROFS, RO)
    other = as_os_error(safetensors.SafetensorError("Error while serializing: HeaderTooLarge"))
    assert (other.errno, other.strerror) == (errno.EIO, "Error while serializing: HeaderTooLarge")


@pytest.mark.parametrize("access", [True, False], ids=["refused-before-work", "write-fails"])
@pytest.mark.parametrize("command", ["adapt", "sample", "features", "export", "eval"])
def test_read_only_output_directory_is_one_line(earlier, command, access):
    argv, _, start = _writers(earlier)[command]
    before = snapshot(earlier)
    with read_only(earlier, access=access):
        res = run(*argv, "--overwrite")
    if access:  # zoo.utils.outputs.claim_output checks the directory before any work
        parent = argv[-1].parent if command in ("sample", "features", "export") else argv[-1]
        _expect(res, f"cannot write {argv[-1]}: {parent} is not a writable directory; choose another --out", "")
    else:
        _expect(res, start, RO, "choose another")
    assert snapshot(earlier) == before


def test_read_only_output_directory_for_a_new_run_creates_nothing(tmp_path):
    with read_only(tmp_path, access=False):
        res = run(*ADAPT, "--out", tmp_path / "new" / "run")
    _expect(res, f"cannot create the checkpoint directory {tmp_path / 'new' / 'run'} (", RO, "choose another --out")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------
# training: the state, the log, and the directory of a new run
# ---------------------------------------------------------------------------------
TRAIN = ("--data", "digits:0-1", "--shots", "4", "--img-size", "32", "--batch-size", "8")


def test_disk_full_at_the_first_checkpoint_of_a_new_run_leaves_nothing(tmp_path, monkeypatch, one_thread):
    out = tmp_path / "run"
    short_writes(monkeypatch, "train_state.json")
    res = run(*ADAPT, *TRAIN, "--epochs", "1", "--out", out)
    _expect(res, f"cannot write the checkpoint {out / 'last'} (", FULL, "free some space or choose another --out")
    assert not out.exists()  # not even the empty directory of the new run


def test_disk_full_writing_the_metrics_log_is_one_line(tmp_path, monkeypatch, one_thread):
    out = tmp_path / "run"
    short_writes(monkeypatch, "metrics.jsonl")
    res = run(*ADAPT, *TRAIN, "--epochs", "1", "--out", out)
    _expect(res, f"cannot write {out / 'metrics.jsonl'} (", FULL, "free some space or choose another --out")
    assert not [p for p in out.rglob("*") if ".tmp" in p.name or p.name == "metrics.jsonl"]


def test_disk_full_during_training_keeps_the_last_complete_epoch(tmp_path, monkeypatch, one_thread):
    """The training-state write of epoch 2 fails: one line, and ``last/`` still holds epoch 1, whole."""
    out = tmp_path / "run"
    real = safetensors.torch.save_file
    calls = {"n": 0}

    def save_file(tensors, filename, *args, **kwargs):
        if Path(filename).name.startswith(".train_state"):
            calls["n"] += 1
            if calls["n"] == 2:
                return failing_writer(real, OSError(errno.ENOSPC, FULL))(tensors, filename, *args, **kwargs)
        return real(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", save_file)
    res = run(*ADAPT, *TRAIN, "--epochs", "3", "--out", out)
    *watched, error = res.stderr.strip().splitlines()
    assert [line.split()[:2] for line in watched] == [["epoch", "1/3"]]  # epoch 1's line, printed when it ended
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert error.startswith(f"Error: cannot write the checkpoint {out / 'last'} (") and error.endswith(
        "free some space or choose another --out"
    )
    assert FULL in error
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    monkeypatch.setattr(safetensors.torch, "save_file", real)
    resumed = run("adapt", "resnet18", "--head", "2", "--resume", out)  # epoch 1 was complete: training goes on from it
    assert resumed.exit_code == 0, resumed.output
    assert (out / "model.safetensors").exists()


# ---------------------------------------------------------------------------------
# the weights cache
# ---------------------------------------------------------------------------------
@pytest.fixture
def online(monkeypatch):
    """Downloads allowed (the offline switches cleared), to no host at all: a test that
    reached the network would fail with "cannot reach", never hang."""
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def refuse(address, *args, **kwargs):
        raise OSError(f"the tests may not reach {address[0]}")

    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize(
    ("args", "lock", "prefix"),
    [
        (("adapt", "resnet18", "--head", "2", "--weights", "imagenet"), "resnet18/imagenet.safetensors.lock", ""),
        (("adapt", "resnet18", "--head", "2"), "resnet18/imagenet.safetensors.lock", ""),  # --weights auto: a lock error is no "offline"
        (
            ("sample", "stargan", "--attr", "blond"),
            "stargan/celeba128.ckpt.lock",
            "zoo sample stargan needs the official weights 'celeba128' (200000-G.ckpt inside the published archive): ",
        ),
    ],
    ids=["adapt-imagenet", "adapt-auto", "sample-stargan"],
)
@pytest.mark.parametrize("access", [True, False], ids=["access", "no-access-check"])
def test_read_only_cache_is_one_line(tmp_path, monkeypatch, online, args, lock, prefix, access):
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("ZOO_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)
    with read_only(cache, access=access):
        res = run(*args, "--out", tmp_path / "out.png" if args[0] == "sample" else tmp_path / "out")
    _expect(
        res,
        f"{prefix}cannot lock {cache / lock} ({RO}); make the cache writable or set ZOO_CACHE to a writable local directory",
        "",
    )
    assert [p.name for p in tmp_path.iterdir()] == ["cache"] and list(cache.iterdir()) == []


def test_read_only_cache_with_the_weights_in_it_is_used(tmp_path, monkeypatch):
    """A team's shared, read-only cache: verified cached weights are read without a lock or a write."""
    from zoo.io import pins
    from zoo.io.pretrained import fetch_pretrained, pretrained_path
    from zoo.io.state_dict import save_state_file
    from zoo.registry import get_spec

    cache = tmp_path / "cache"
    monkeypatch.setenv("ZOO_CACHE", str(cache))
    spec = get_spec("resnet18")
    path = pretrained_path(spec, "imagenet")
    save_state_file({}, path)
    pins.record(cache, path=path, file_sha=pins.sha256_file(path), source="test")
    before = snapshot(cache)
    with read_only(cache):
        assert fetch_pretrained(spec, "imagenet", progress=False) == path
    assert snapshot(cache) == before


def test_disk_full_during_a_download_deletes_the_partial_file(tmp_path, monkeypatch):
    """The bytes of a download fill the disk: one line naming the partial file, which is
    deleted (it would hold the space the user must free), and nothing else in the cache."""
    import test_download_http as http

    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "create_connection", http._loopback_only)
    from http.server import ThreadingHTTPServer

    import zoo.io.download as download
    from zoo.errors import ZooError

    srv = ThreadingHTTPServer(("127.0.0.1", 0), http._Handler)
    srv.daemon_threads = True
    srv.state = http._State()  # type: ignore[attr-defined]
    srv.state.files["/w.bin"] = http._File(http._blob(), etag='"v1"')  # type: ignore[attr-defined]
    import threading

    threading.Thread(target=srv.serve_forever, daemon=True).start()
    dest = tmp_path / "w.bin"
    real_open = builtins.open

    def fopen(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        return _ShortFile(fh) if str(file).endswith(".part") and "b" in mode and ("w" in mode or "a" in mode) else fh

    monkeypatch.setattr(download, "open", fopen, raising=False)
    try:
        with pytest.raises(ZooError) as err:
            download.download(f"http://127.0.0.1:{srv.server_address[1]}/w.bin", dest, progress=False)
    finally:
        srv.shutdown()
        srv.server_close()
    assert str(err.value) == (
        f"cannot write {dest}.part ({FULL}); the partial download was deleted; free some space or set ZOO_CACHE elsewhere"
    )
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == []


# ---------------------------------------------------------------------------------
# images PIL refuses or warns about
# ---------------------------------------------------------------------------------
def _folder(root: Path, size: int = 40, n: int = 2) -> Path:
    """An ImageFolder ``root/data`` of two classes, ``n`` plain ``size`` x ``size`` images each."""
    from PIL import Image

    for c in ("a", "b"):
        (root / "data" / c).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (size, size), (i * 90, 0, 0)).save(root / "data" / c / f"{i}.png")
    return root / "data"


def test_a_decompression_bomb_in_the_training_folder_is_one_line_naming_it(tmp_path, monkeypatch):
    from PIL import Image

    data = _folder(tmp_path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1,600 px: over twice the limit
    res = run("train", "resnet18", "--data", data, "--epochs", "1", "--img-size", "32", "--out", tmp_path / "run")
    _expect(res, f"image {data}", "is refused as a decompression bomb (Image size (1600 pixels) exceeds limit of 200 pixels")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        (
            ("predict", "{w}/cls", "{img}"),
            "image {img} is refused as a decompression bomb (Image size (1600 pixels) exceeds limit of 200 pixels",
        ),
        (
            ("sample", "srgan", "--checkpoint", "{w}/srgan", "--image", "{img}", "--out", "{tmp}/o.png"),
            "image {img} is refused as a decompression bomb (",
        ),
    ],
    ids=["predict", "sample-image"],
)
def test_a_decompression_bomb_given_as_an_image_is_one_line(earlier, tmp_path, monkeypatch, argv, start):
    from PIL import Image

    img = tmp_path / "big.png"
    Image.new("RGB", (40, 40)).save(img)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    res = run(*[a.format(w=earlier, img=img, tmp=tmp_path) for a in argv])
    _expect(res, start.format(img=img), "")
    assert [p.name for p in tmp_path.iterdir()] == ["big.png"]


def test_a_large_image_under_twice_the_limit_is_one_warning_naming_it_once(tmp_path, monkeypatch, capsys):
    import warnings

    from PIL import Image

    from zoo.io.images import load_rgb

    data = _folder(tmp_path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1,600 px: over the limit, under twice it
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PIL's own two-line DecompressionBombWarning must not escape
        for _ in range(3):  # three epochs
            assert load_rgb(str(data / "a" / "0.png")).size == (40, 40)
    assert capsys.readouterr().err.splitlines() == [
        f"Warning: image {data / 'a' / '0.png'} has 1,600 pixels, over PIL's decompression-bomb warning limit (1,000); loading it anyway"
    ]


# ---------------------------------------------------------------------------------
# a real full disk, where the machine lets the test mount one
# ---------------------------------------------------------------------------------
@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs at ``tmp_path/disk`` (skipped where mounting is not allowed)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if not (mount and umount) or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    proc = subprocess.run([mount, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run([umount, str(disk)], check=False)


@pytest.mark.parametrize(
    ("argv", "start"),
    [
        ((*ADAPT, "--out", "{disk}/run"), "cannot write the checkpoint in {disk}/run ("),
        pytest.param(("export", "{cls}", "--format", "torchscript", "--out", "{disk}/m.pt"), "cannot write {disk}/m.pt ("),
    ],
    ids=["adapt", "export-torchscript"],
)
def test_a_real_full_disk(earlier, tiny_disk, argv, start):
    """ResNet-18 (45 MB) onto a 1 MiB disk, in a child process (a C++ abort must not end the tests)."""
    args = [str(a).format(disk=tiny_disk, cls=earlier / "cls") for a in argv]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "-c", "from zoo.cli.app import run; run()", *args], env=env, capture_output=True, text=True, timeout=300
    )
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("Error: " + start.format(disk=tiny_disk)), proc.stderr[-2000:]
    assert FULL in lines[0]
    assert list(tiny_disk.iterdir()) == []


def test_the_fault_helpers_do_fault(tmp_path, monkeypatch):
    """The injected faults are real failures of the calls zoo makes (a helper that faulted
    nothing would let every test above pass)."""
    from zoo.utils.fileio import atomic_write_text

    fail_fsync(monkeypatch, tmp_path)
    with pytest.raises(OSError) as err:
        atomic_write_text(tmp_path / "a.txt", "x")
    assert err.value.errno == errno.ENOSPC and list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    short_writes(monkeypatch, "b.txt")
    with pytest.raises(OSError):
        atomic_write_text(tmp_path / "b.txt", "xy")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    with read_only(tmp_path, access=False):
        for attempt in (lambda: atomic_write_text(tmp_path / "c.txt", "x"), lambda: (tmp_path / "d").mkdir()):
            with pytest.raises(OSError) as err:
                attempt()
            assert err.value.errno == errno.EROFS
    assert list(tmp_path.iterdir()) == []
