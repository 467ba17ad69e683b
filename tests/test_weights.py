"""Tests for the weights layer: zoo/download.py (cache, offline, downloads, published
weights), zoo/state_dict.py (safe reading, loading into a model), zoo/checkpoint.py (zoo
checkpoints) and zoo/weights.py (the --weights decision).

Everything is offline: downloads go to a real HTTP server on 127.0.0.1 (stdlib
``http.server`` in a thread, with ``Range`` support written here), models are small
registry models built with random weights, seeds are fixed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach a model hub

import pytest
import torch

from zoo.errors import ZooError
from zoo.io import checkpoint, download, pretrained, state_dict
from zoo.models import weights
from zoo.registry.spec import WeightSource

# ---------------------------------------------------------------------------------
# a local HTTP server with Range support
# ---------------------------------------------------------------------------------


class _State:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[dict] = []
        self.ignore_range = False
        self.truncate_at: int | None = None  # send only this many body bytes, then hang up

    def reset(self) -> None:
        self.__init__()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection; the body ends when we close

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # http.server calls do_GET by this name
        st: _State = self.server.state  # type: ignore[attr-defined]
        rng = self.headers.get("Range")
        rec = {"path": self.path, "range": rng, "status": None}
        st.requests.append(rec)
        data = st.files.get(self.path)
        if data is None:
            rec["status"] = 404
            self.send_error(404, "Not Found")
            return
        status, body, extra = 200, data, {}
        if rng and not st.ignore_range:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            assert m, rng
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else len(data) - 1
            if start >= len(data):
                rec["status"] = 416
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            end = min(end, len(data) - 1)
            status, body = 206, data[start : end + 1]
            extra["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        rec["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        if st.truncate_at is not None:
            body = body[: st.truncate_at]
        self.wfile.write(body)


@pytest.fixture(scope="module")
def _httpd():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.state = _State()  # type: ignore[attr-defined]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def server(_httpd, monkeypatch):
    """The server with a clean state; offline switches are cleared for the loopback tests."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    _httpd.state.reset()
    _httpd.url = f"http://127.0.0.1:{_httpd.server_address[1]}"  # type: ignore[attr-defined]
    return _httpd


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread


@pytest.fixture(scope="module", autouse=True)
def _plugins():
    """Only the plugins these tests need (fast, and independent of the others)."""
    from zoo.registry import reset_registry

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZOO_PLUGINS", "resnet,mobilenet")
        reset_registry()
        yield
    reset_registry()


def _blob(n: int = 300_000, seed: int = 0) -> bytes:
    g = torch.Generator().manual_seed(seed)
    return bytes(torch.randint(0, 256, (n,), generator=g, dtype=torch.uint8).tolist())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------
# environment
# ---------------------------------------------------------------------------------
def test_cache_dir_order(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert download.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("ZOO_CACHE")
    assert download.cache_dir() == tmp_path / "x" / "zoo"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert download.cache_dir() == tmp_path / "home" / ".cache" / "zoo"


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("YES", True), ("0", False), ("", False), ("no", False)])
def test_offline_values(monkeypatch, value, expected):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("ZOO_OFFLINE", value)
    assert download.offline() is expected
    monkeypatch.delenv("ZOO_OFFLINE")
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert download.offline() is expected


# ---------------------------------------------------------------------------------
# download
# ---------------------------------------------------------------------------------
def test_download_full_sha_with_progress(server, tmp_path, capsys):
    data = _blob()
    server.state.files["/w.bin"] = data
    dest = tmp_path / "sub" / "w.bin"
    out = download.download(server.url + "/w.bin", dest, sha256=_sha(data), progress=True)
    assert out == dest and dest.read_bytes() == data
    err = capsys.readouterr().err  # zoo.utils.progress's "bytes" bar on stderr: name, bytes done/total
    assert "w.bin" in err and "300.0/300.0 kB" in err
    assert not dest.with_name("w.bin.part").exists()
    assert [r["range"] for r in server.state.requests] == [None]


def test_download_sha_prefix_and_unchecked(server, tmp_path, caplog):
    data = _blob(1000)
    server.state.files["/resnet-abc.pth"] = data
    server.state.files["/other.pth"] = data[::-1]
    dest = tmp_path / "resnet.pth"
    download.download(server.url + "/resnet-abc.pth", dest, sha256=_sha(data)[:8].upper(), progress=False)
    assert dest.read_bytes() == data
    with caplog.at_level(logging.INFO, logger="zoo.io.download"):  # no published digest: pinned, and said so
        download.download(server.url + "/other.pth", tmp_path / "again.pth", progress=False)
    assert _sha(data[::-1]) in caplog.text and "pinned" in caplog.text
    pinned = json.loads((download.cache_dir() / "pins.json").read_text())["urls"]
    assert pinned == {server.url + "/resnet-abc.pth": {"sha256": _sha(data)}, server.url + "/other.pth": {"sha256": _sha(data[::-1])}}


def test_download_sha_mismatch_deletes(server, tmp_path):
    data = _blob(5000)
    server.state.files["/w.bin"] = data
    dest = tmp_path / "w.bin"
    wrong = "0" * 64 if not _sha(data).startswith("0") else "f" * 64
    with pytest.raises(ZooError) as ei:
        download.download(server.url + "/w.bin", dest, sha256=wrong, progress=False)
    msg = str(ei.value)
    assert wrong in msg and _sha(data) in msg and "\n" not in msg
    assert not dest.exists() and not dest.with_name("w.bin.part").exists()


def test_download_resumes_from_part(server, tmp_path):
    data = _blob()
    server.state.files["/w.bin"] = data
    dest = tmp_path / "w.bin"
    n = 123_457
    dest.with_name("w.bin.part").write_bytes(data[:n])
    download.download(server.url + "/w.bin", dest, sha256=_sha(data), progress=False)
    assert dest.read_bytes() == data
    assert server.state.requests == [{"path": "/w.bin", "range": f"bytes={n}-", "status": 206}]


def test_broken_download_keeps_part_then_resumes(server, tmp_path):
    data = _blob()
    server.state.files["/w.bin"] = data
    dest = tmp_path / "w.bin"
    server.state.truncate_at = 100_000
    with pytest.raises(ZooError, match=r"broke off after 100000 of 300000 bytes.*resume"):
        download.download(server.url + "/w.bin", dest, sha256=_sha(data), progress=False)
    assert not dest.exists()
    assert dest.with_name("w.bin.part").stat().st_size == 100_000
    server.state.truncate_at = None
    download.download(server.url + "/w.bin", dest, sha256=_sha(data), progress=False)
    assert dest.read_bytes() == data
    assert server.state.requests[-1]["range"] == "bytes=100000-"


def test_server_ignoring_range_restarts(server, tmp_path):
    data = _blob()
    server.state.files["/w.bin"] = data
    server.state.ignore_range = True
    dest = tmp_path / "w.bin"
    dest.with_name("w.bin.part").write_bytes(b"garbage that must not survive" * 100)
    download.download(server.url + "/w.bin", dest, sha256=_sha(data), progress=False)
    assert dest.read_bytes() == data
    assert server.state.requests[0]["range"] is not None and server.state.requests[0]["status"] == 200


def test_range_not_satisfiable_restarts(server, tmp_path):
    data = _blob(1000)
    server.state.files["/w.bin"] = data
    dest = tmp_path / "w.bin"
    dest.with_name("w.bin.part").write_bytes(b"x" * 5000)  # longer than the file
    download.download(server.url + "/w.bin", dest, sha256=_sha(data), progress=False)
    assert dest.read_bytes() == data
    assert [r["status"] for r in server.state.requests] == [416, 200]


def test_http_404(server, tmp_path):
    with pytest.raises(ZooError, match=r"HTTP 404 .*127\.0\.0\.1.*--weights FILE"):
        download.download(server.url + "/missing.pth", tmp_path / "m.pth", progress=False)
    assert not (tmp_path / "m.pth").exists()


def test_refused_connection_fails_fast(server, tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    t0 = time.perf_counter()
    with pytest.raises(ZooError) as ei:
        download.download(f"http://127.0.0.1:{port}/w.pth", tmp_path / "w.pth", progress=False, timeout=5)
    assert time.perf_counter() - t0 < 3
    msg = str(ei.value)
    assert "127.0.0.1" in msg and "refused" in msg and "--weights FILE" in msg and "ZOO_OFFLINE=1" in msg


def test_silent_server_times_out(server, tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)  # the kernel accepts the connection; nobody ever answers
    try:
        t0 = time.perf_counter()
        with pytest.raises(ZooError, match=r"cannot reach 127\.0\.0\.1 .*\(timed out\).*--weights FILE"):
            download.download(f"http://127.0.0.1:{s.getsockname()[1]}/w.pth", tmp_path / "w.pth", progress=False, timeout=0.3)
        assert time.perf_counter() - t0 < 3
    finally:
        s.close()


@pytest.mark.parametrize("var", ["ZOO_OFFLINE", "HF_HUB_OFFLINE"])
def test_offline_makes_no_request(server, tmp_path, monkeypatch, var):
    server.state.files["/w.bin"] = b"abc"
    monkeypatch.setenv(var, "1")
    dest = tmp_path / "w.bin"
    with pytest.raises(ZooError) as ei:
        download.download(server.url + "/w.bin", dest, progress=False)
    assert str(ei.value) == f"{var} is set: cannot download {server.url}/w.bin; put the file at {dest} or pass --weights FILE"
    assert server.state.requests == []


def test_concurrent_download_waits_for_the_lock(server, tmp_path, monkeypatch, capsys):
    fcntl = pytest.importorskip("fcntl")
    from zoo.io import pins

    monkeypatch.setattr(pins, "LOCK_MESSAGE_EVERY", 0.1)
    server.state.files["/w.bin"] = b"abc"
    dest = tmp_path / "w.bin"
    fh = open(tmp_path / "w.bin.lock", "a+b")  # noqa: SIM115 (released by the timer)
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # another process holds it (flock locks are per open file)
    t0 = time.perf_counter()
    timer = threading.Timer(0.5, fh.close)  # closing the file releases the lock
    timer.start()
    download.download(server.url + "/w.bin", dest, progress=False)
    timer.join()
    assert time.perf_counter() - t0 >= 0.45 and dest.read_bytes() == b"abc"
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 3 and set(lines) == {f"waiting for another zoo process downloading w.bin (lock {tmp_path / 'w.bin.lock'})"}


def test_bad_sha_argument(tmp_path):
    with pytest.raises(ZooError, match="not a hex digest") as ei:
        download.download("http://127.0.0.1:9/x", tmp_path / "x", sha256="xyz", progress=False)
    assert str(ei.value) == "sha256 'xyz' is not a hex digest or a prefix of one; pass 1 to 64 hex digits or ''"
    assert ei.value.param == "sha256" and ei.value.exit_code == 2


# ---------------------------------------------------------------------------------
# published weights
# ---------------------------------------------------------------------------------
_BUILT: dict = {}


def _build(name_or_spec, seed: int = 0, **options):
    """A model built with ``zoo.registry.build``, in eval mode, with weights drawn from ``seed``.

    Each (model, options) is built once; later calls deep-copy it and perturb every float
    tensor by ``0.01 * seed`` (building takes seconds on a busy 2-core machine).
    """
    import copy

    from zoo.registry import build, get_spec

    spec = get_spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    key = (spec.name, tuple(sorted(options.items())))
    if key not in _BUILT:
        torch.manual_seed(0)
        _BUILT[key] = build(spec, **options)
    adapter = copy.deepcopy(_BUILT[key])
    adapter.spec = spec
    with torch.no_grad():
        for t in adapter.model.state_dict().values():
            if t.is_floating_point():
                t.add_(0.01 * seed)
    return adapter.eval()


@pytest.fixture(scope="module")
def small_pth():
    """A torchvision-style ``.pth`` of a small registry model (wrapped as a training script would save it)."""
    a = _build(MODEL, seed=1)
    with torch.no_grad():  # make BN statistics non-trivial so buffers matter too
        for m in a.model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    sd = {k: v.clone() for k, v in a.model.state_dict().items()}
    buf = io.BytesIO()
    torch.save({"epoch": 90, "state_dict": {f"module.{k}": v for k, v in sd.items()}}, buf)
    return buf.getvalue(), sd


MODEL, HEAD = "mobilenet_v3_small", "classifier.3"  # a small registry model and its head


def _spec_with_source(name: str, url: str, sha256: str = "", fmt: str = "pth"):
    from zoo.registry import get_spec

    return dataclasses.replace(get_spec(name), weights=(WeightSource(tag="imagenet", url=url, sha256=sha256, format=fmt),))


def _same_state(model: torch.nn.Module, ref: dict, skip: str = "") -> None:
    got = model.state_dict()
    for k, v in ref.items():
        if skip and k.startswith(skip):
            continue
        assert torch.equal(got[k], v), k


def test_fetch_pretrained_converts_caches_and_loads(server, small_pth, monkeypatch):
    data, sd = small_pth
    sha = _sha(data)
    fname = f"{MODEL}-{sha[:8]}.pth"
    server.state.files["/models/" + fname] = data
    spec = _spec_with_source(MODEL, f"{server.url}/models/{fname}", sha[:8])

    path = pretrained.fetch_pretrained(spec, progress=False)
    assert path == download.cache_dir() / MODEL / "imagenet.safetensors"
    assert not (download.cache_dir() / "downloads" / fname).exists()  # original converted, then removed
    assert not list(path.parent.glob("*.tmp"))
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    assert meta["zoo_model"] == MODEL and meta["sha256"] == sha
    state = state_dict.load_state_file(path)
    assert set(state) == set(sd) and all(torch.equal(state[k], sd[k]) for k in sd)
    assert len(server.state.requests) == 1

    # cached: no request at all, even offline
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert pretrained.fetch_pretrained(spec, "imagenet", progress=False) == path
    adapter = _build(spec, seed=123)
    assert weights.load_weights(adapter, "imagenet", progress=False) == "imagenet"
    _same_state(adapter.model, sd)
    assert len(server.state.requests) == 1

    # another head: ImageNet body, the new head is kept
    small = _build(spec, seed=5, num_classes=10)
    head = small.model.get_submodule(HEAD)
    head_before = head.weight.clone()
    weights.load_weights(small, "imagenet", progress=False)
    _same_state(small.model, sd, skip=HEAD + ".")
    assert head.weight.shape == (10, 1024) and torch.equal(head.weight, head_before)
    assert len(server.state.requests) == 1


def test_fetch_pretrained_offline_uses_a_file_put_in_downloads(small_pth, monkeypatch):
    data, sd = small_pth
    spec = _spec_with_source(MODEL, "http://127.0.0.1:9/models/small-x.pth", _sha(data))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    dest = download.cache_dir() / "downloads" / "small-x.pth"
    with pytest.raises(ZooError, match=f"put the file at {re.escape(str(dest))}"):
        pretrained.fetch_pretrained(spec, progress=False)
    dest.parent.mkdir(parents=True)
    dest.write_bytes(data)
    state = state_dict.load_state_file(pretrained.fetch_pretrained(spec, progress=False))
    assert all(torch.equal(state[k], sd[k]) for k in sd)


def test_fetch_pretrained_safetensors_source(server, small_pth):
    import safetensors.torch as st

    _, sd = small_pth
    blob = st.save(sd)
    server.state.files["/timm/model.safetensors"] = blob
    spec = _spec_with_source(MODEL, f"{server.url}/timm/model.safetensors", _sha(blob), fmt="safetensors")
    path = pretrained.fetch_pretrained(spec, progress=False)
    assert path == download.cache_dir() / MODEL / "imagenet.safetensors" and path.read_bytes() == blob

    # a corrupt download (checksum unknown) is not cached
    server.state.files["/bad/model.safetensors"] = _blob(4000)
    bad = dataclasses.replace(_spec_with_source(MODEL, f"{server.url}/bad/model.safetensors", fmt="safetensors"), name="bad_model")
    with pytest.raises(
        ZooError, match=r"is binary data of an unknown format \(4,000 bytes, starting [0-9a-f ]+\); expected a \.safetensors file"
    ):
        pretrained.fetch_pretrained(bad, progress=False)
    assert not (download.cache_dir() / "bad_model" / "imagenet.safetensors").exists()


# ---------------------------------------------------------------------------------
# safe reading
# ---------------------------------------------------------------------------------
_MARKER: list[str] = []


def _side_effect(path: str) -> str:  # what a malicious pickle would call
    Path(path).write_text("pwned")
    _MARKER.append(path)
    return path


class _Evil:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (_side_effect, (self.path,))


def test_pickle_with_objects_is_rejected(tmp_path, server):
    marker = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.pth"
    torch.save({"conv.weight": torch.ones(2), "extra": _Evil(str(marker))}, evil)
    with pytest.raises(ZooError) as ei:
        state_dict.load_state_file(evil)
    msg = str(ei.value)
    assert "weights_only" in msg and "_side_effect" in msg and "\n" not in msg
    assert f"weights file {evil} is a torch.save checkpoint that pickles code (test_weights._side_effect), which zoo never runs; " in msg
    adapter = _build(MODEL)
    with pytest.raises(ZooError, match=r"pickles code \(test_weights\._side_effect\)"):
        weights.load_weights(adapter, str(evil))
    # through the download path as well
    server.state.files["/evil-00.pth"] = evil.read_bytes()
    spec = _spec_with_source(MODEL, f"{server.url}/evil-00.pth")
    with pytest.raises(ZooError, match=r"pickles code \(test_weights\._side_effect\)"):
        pretrained.fetch_pretrained(spec, progress=False)
    assert not (download.cache_dir() / MODEL / "imagenet.safetensors").exists()
    assert not marker.exists() and not _MARKER


def test_unwrapping_of_pickled_state_dicts(tmp_path):
    t = torch.arange(4.0)
    cases = {
        "plain.pth": {"a.weight": t},
        "wrapped.pt": {"model": {"module.a.weight": t}, "optimizer": {"lr": 0.1}},
        "compiled.ckpt": {"state_dict": {"_orig_mod.a.weight": t}},
        "nested.bin": {"a": {"weight": t}},
    }
    for name, obj in cases.items():
        torch.save(obj, tmp_path / name)
        assert list(state_dict.load_state_file(tmp_path / name)) == ["a.weight"], name
    torch.save({"features.denseblock1.denselayer1.norm.1.weight": t}, tmp_path / "densenet.pth")  # a family's keys stay as saved
    assert list(state_dict.load_state_file(tmp_path / "densenet.pth")) == ["features.denseblock1.denselayer1.norm.1.weight"]
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "nostate.pth")
    with pytest.raises(ZooError, match="non-tensor entries"):
        state_dict.load_state_file(tmp_path / "nostate.pth")
    torch.save([t], tmp_path / "list.pth")
    with pytest.raises(ZooError, match="holds a list, not a state dict"):
        state_dict.load_state_file(tmp_path / "list.pth")


def test_corrupt_and_missing_files(tmp_path):
    import safetensors.torch as st

    good = tmp_path / "good.safetensors"
    st.save_file({"a": torch.randn(64, 64), "b": torch.randn(10)}, str(good))
    raw = good.read_bytes()
    (tmp_path / "random.safetensors").write_bytes(_blob(2048))
    (tmp_path / "truncated.safetensors").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "empty.safetensors").write_bytes(b"")
    found = {
        "random": r"binary data of an unknown format \(2,048 bytes, starting [0-9a-f ]+\)",
        "truncated": rf"a truncated safetensors file \({len(raw) // 2:,} of the {len(raw):,} bytes its header describes\)",
        "empty": r"an empty file \(0 bytes\)",
    }
    for name, what in found.items():
        with pytest.raises(ZooError, match=rf"^weights file .*{name}\.safetensors is {what}; expected a \.safetensors file or a torch"):
            state_dict.load_state_file(tmp_path / f"{name}.safetensors")
        with pytest.raises(ZooError):
            checkpoint.read_checkpoint(tmp_path / f"{name}.safetensors")
    torch.save({"a": torch.randn(100, 100)}, tmp_path / "good.pth")
    pth = (tmp_path / "good.pth").read_bytes()
    (tmp_path / "truncated.pth").write_bytes(pth[: len(pth) // 2])
    with pytest.raises(
        ZooError, match=r"truncated\.pth is a torch\.save checkpoint cut short \([\d,]+ bytes; the end of its zip archive is missing\)"
    ):
        state_dict.load_state_file(tmp_path / "truncated.pth")
    with pytest.raises(ZooError, match="does not exist"):
        state_dict.load_state_file(tmp_path / "nope.safetensors")
    with pytest.raises(ZooError, match=r"has no model\.safetensors"):
        checkpoint.read_checkpoint(tmp_path)  # a directory without model.safetensors (but with other files)


# ---------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------
def _perturb(adapter) -> None:
    """Make every tensor (BN buffers included) differ from a fresh build."""
    with torch.no_grad():
        for t in adapter.model.state_dict().values():
            if t.is_floating_point():
                t.add_(torch.randn_like(t) * 0.01)
            else:
                t.add_(3)


def test_checkpoint_round_trip_reproduces_outputs(tmp_path):
    a = _build(MODEL, seed=2, num_classes=7)
    _perturb(a)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = a.model(x)
    out = tmp_path / "run" / "ckpt"
    path = checkpoint.save_checkpoint(out, a, {"epochs": 2, "val_accuracy": 0.5, "data": tmp_path, "model": "ignored"})
    assert path == out / "model.safetensors"
    assert sorted(p.name for p in out.iterdir()) == ["model.json", "model.safetensors"]
    side = json.loads((out / "model.json").read_text())
    assert side["model"] == MODEL and side["family"] == "mobilenet" and side["kind"] == "backbone"
    assert side["format"] == "zoo-1" and side["config"]["num_classes"] == 7 and side["epochs"] == 2 and side["data"] == str(tmp_path)

    state, meta = checkpoint.read_checkpoint(out)
    assert meta == side
    assert set(state) == set(a.model.state_dict())
    state2, meta2 = checkpoint.read_checkpoint(path)
    assert meta2 == side and all(torch.equal(state[k], state2[k]) for k in state)

    b = _build(MODEL, seed=3, num_classes=7)
    assert weights.load_weights(b, str(out)) == f"file:{out.absolute()}"
    with torch.no_grad():
        assert torch.equal(b.model(x), ref)

    # a 1000-class model: the head is reset to the checkpoint's 7 classes, then loaded strictly
    c = _build(MODEL, seed=4)
    weights.load_weights(c, str(path))
    assert c.num_classes == 7
    with torch.no_grad():
        assert torch.equal(c.model(x), ref)


def test_sidecar_beside_a_renamed_file_and_embedded_name(tmp_path):
    a = _build(MODEL, seed=2)
    checkpoint.save_checkpoint(tmp_path / "c", a, {})
    f = tmp_path / "best.safetensors"
    os.replace(tmp_path / "c" / "model.safetensors", f)
    _, meta = checkpoint.read_checkpoint(f)  # no sidecar: the file's own metadata names the model
    assert meta == {"model": MODEL, "format": "zoo-1"}
    (tmp_path / "best.json").write_text(json.dumps({"model": MODEL, "note": "mine"}))
    assert checkpoint.read_checkpoint(f)[1] == {"model": MODEL, "note": "mine"}
    (tmp_path / "best.json").write_text("{not json")
    with pytest.raises(ZooError, match=r"best\.json is not readable JSON"):
        checkpoint.read_checkpoint(f)
    (tmp_path / "best.json").write_text("[1, 2]")
    with pytest.raises(ZooError, match="expected an object"):
        checkpoint.read_checkpoint(f)


def test_checkpoint_of_another_architecture(tmp_path):
    r18 = _build("resnet18", seed=2)
    checkpoint.save_checkpoint(tmp_path / "r18", r18, {})
    mob = _build("mobilenet_v2", seed=2)
    before = {k: v.clone() for k, v in mob.model.state_dict().items()}
    with pytest.raises(ZooError) as ei:
        weights.load_weights(mob, str(tmp_path / "r18"))
    assert str(ei.value) == (
        f"weights file {tmp_path / 'r18'} was written for resnet18, not mobilenet_v2; build resnet18 or pass a mobilenet_v2 checkpoint"
    )
    # a bare pickled state dict, no sidecar: the mismatch is described
    torch.save(r18.model.state_dict(), tmp_path / "r18.pth")
    with pytest.raises(ZooError) as ei:
        weights.load_weights(mob, str(tmp_path / "r18.pth"))
    msg = str(ei.value)
    assert msg.startswith(f"cannot load weights file {tmp_path / 'r18.pth'} into mobilenet_v2: ")
    assert re.search(r"\d+ missing keys \(features\.0\.0\.weight, ", msg) and re.search(r"\d+ unexpected \(conv1\.weight, ", msg)
    assert "\n" not in msg
    # load_into with the sidecar says whose weights they are
    state, meta = checkpoint.read_checkpoint(tmp_path / "r18")
    with pytest.raises(ZooError, match="they belong to resnet18"):
        state_dict.load_into(mob, state, source="r18", meta=meta)
    _same_state(mob.model, before)  # nothing was copied


def test_load_into_shapes_and_ignore_head():
    src = _build(MODEL, seed=2, num_classes=10)
    state = src.model.state_dict()
    dst = _build(MODEL, seed=3)
    with pytest.raises(
        ZooError,
        match=r"0 missing keys, 0 unexpected, 2 of the wrong shape \(classifier\.3\.weight: file \(10, 1024\) vs model \(1000, 1024\).*--head",
    ):
        state_dict.load_into(dst, state, source="x")
    with pytest.raises(ZooError, match=r"saved with num_classes=10 \(this model: 1000\); build mobilenet_v3_small with the same options"):
        state_dict.load_into(dst, state, source="x", meta={"model": MODEL, "config": {"num_classes": 10}})
    state_dict.load_into(dst, state, source="x", ignore_head=True)
    _same_state(dst.model, state, skip=HEAD + ".")
    # ignore_head still demands every other key
    partial = {k: v for k, v in state.items() if not k.startswith("features.12.")}
    with pytest.raises(ZooError, match=r"missing keys \(features\.12\."):
        state_dict.load_into(dst, partial, source="x", ignore_head=True)


def test_save_is_atomic(tmp_path, monkeypatch):
    import safetensors.torch as st

    a = _build(MODEL, seed=2)
    real = st.save_file

    def broken(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(b"half a file")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(st, "save_file", broken)
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError, match="disk on fire"):
        checkpoint.save_checkpoint(fresh, a, {})
    assert list(fresh.iterdir()) == []

    monkeypatch.setattr(st, "save_file", real)
    out = tmp_path / "ckpt"
    checkpoint.save_checkpoint(out, a, {"epoch": 1})
    old = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(st, "save_file", broken)
    _perturb(a)
    with pytest.raises(RuntimeError):
        checkpoint.save_checkpoint(out, a, {"epoch": 2})
    assert {p.name: p.read_bytes() for p in out.iterdir()} == old


# ---------------------------------------------------------------------------------
# load_weights argument handling
# ---------------------------------------------------------------------------------
def test_load_weights_random_and_unknown(tmp_path, monkeypatch):
    a = _build(MODEL)
    before = {k: v.clone() for k, v in a.model.state_dict().items()}
    for w in (None, "none", "random", "Random"):
        assert weights.load_weights(a, w) == "random"
    _same_state(a.model, before)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ZooError) as ei:
        weights.load_weights(a, "imagenet21k")
    msg = str(ei.value)
    assert "valid: none, random, imagenet" in msg and "not found" in msg and str(tmp_path / "imagenet21k") in msg
    assert ei.value.param == "weights" and ei.value.exit_code == 2
    assert ei.value.for_cli() == (
        f"--weights 'imagenet21k' is neither a published tag of {MODEL} (valid: none, random, imagenet, auto) nor an existing file "
        f"({tmp_path / 'imagenet21k'} not found); pass a tag, a checkpoint directory or a .safetensors/.pth file"
    )


def test_load_weights_auto(server, small_pth, monkeypatch, capsys):
    """``auto``: the published weights when cached or downloadable, else one warning line and random init."""
    from zoo.registry import get_spec

    data, sd = small_pth
    sha = _sha(data)
    server.state.files["/auto.pth"] = data
    spec = _spec_with_source(MODEL, f"{server.url}/auto.pth", sha)
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    a = _build(spec, seed=7)
    before = {k: v.clone() for k, v in a.model.state_dict().items()}
    assert weights.load_weights(a, "auto", progress=False) == "random"
    assert capsys.readouterr().err == (
        f"Warning: offline: {MODEL}'s published weights are not cached, starting from random init; "
        "pass --weights FILE, or go online and use --weights imagenet\n"
    )
    _same_state(a.model, before)
    assert server.state.requests == []

    bare = _build(dataclasses.replace(get_spec(MODEL), weights=()), seed=7)
    assert weights.load_weights(bare, "Auto") == "random"
    assert capsys.readouterr().err == (
        f"Warning: {MODEL} has no published weights; starting from random init (pass --weights FILE to load a checkpoint)\n"
    )

    monkeypatch.delenv("ZOO_OFFLINE")
    broken = _spec_with_source(MODEL, f"{server.url}/missing.pth")
    assert weights.load_weights(_build(broken, seed=7), "auto", progress=False) == "random"
    err = capsys.readouterr().err
    assert err.startswith(f"Warning: could not get {MODEL}'s published weights (HTTP 404 ") and err.endswith(
        "; starting from random init\n"
    )

    assert weights.load_weights(a, "auto", progress=False) == "imagenet"  # downloaded, converted, loaded
    _same_state(a.model, sd)
    monkeypatch.setenv("ZOO_OFFLINE", "1")  # now cached: offline is fine
    b = _build(spec, seed=8)
    assert weights.load_weights(b, "auto", progress=False) == "imagenet"
    _same_state(b.model, sd)
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------------
# shared tensors, argument errors, module boundaries
# ---------------------------------------------------------------------------------
class _Tied(torch.nn.Module):
    """Two linear layers sharing one weight (as a tied embedding/decoder would)."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = torch.nn.Linear(4, 4, bias=False)
        self.dec = torch.nn.Linear(4, 4)
        self.dec.weight = self.enc.weight


def _tied_adapter(seed: int):
    from types import SimpleNamespace

    torch.manual_seed(seed)
    spec = SimpleNamespace(name="tied", family="test", kind="backbone")
    return SimpleNamespace(model=_Tied(), spec=spec, head="", config=lambda: {})


def test_checkpoint_stores_tied_tensors_once(tmp_path):
    import safetensors.torch as st

    a, b = _tied_adapter(0), _tied_adapter(1)
    path = checkpoint.save_checkpoint(tmp_path / "tied", a, {})
    with st.safe_open(str(path), framework="pt") as f:
        assert sorted(f.keys()) == ["dec.bias", "dec.weight"]  # enc.weight is dec.weight: saved once
        assert f.metadata()["enc.weight"] == "dec.weight"
    state, meta = checkpoint.read_checkpoint(tmp_path / "tied")
    assert meta["model"] == "tied" and set(state) == {"dec.bias", "dec.weight"}
    state_dict.load_into(b, state, source="tied checkpoint")
    assert b.model.dec.weight is b.model.enc.weight  # still tied
    _same_state(b.model, a.model.state_dict())
    c = _tied_adapter(2)
    assert st.load_model(c.model, str(path)) == (set(), [])  # readable by safetensors' own loader
    _same_state(c.model, a.model.state_dict())


def test_argument_errors_name_the_parameter(tmp_path):
    with pytest.raises(ZooError) as ei:
        state_dict.load_into(_tied_adapter(0), {}, source="x", ignore_head=True)
    assert str(ei.value) == "tied has no classifier head to ignore; load its weights without ignore_head"
    assert ei.value.param == "ignore_head" and ei.value.exit_code == 2

    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "ckpt"
    with pytest.raises(ZooError) as ei:
        checkpoint.save_checkpoint(out, _tied_adapter(0), {})
    assert re.fullmatch(
        rf"cannot create the checkpoint directory {re.escape(str(out))} \(.*Not a directory.*\); choose another out", str(ei.value)
    )
    assert ei.value.param == "out" and ei.value.for_cli().endswith("; choose another --out")


def test_module_boundaries():
    """download/state_dict/checkpoint never import zoo.models.weights (no cycles); zoo.io.download needs no torch."""
    import subprocess
    import sys

    code = (
        "import sys, zoo.io.download; assert 'torch' not in sys.modules, 'torch'; "
        "import zoo.io.checkpoint, zoo.io.state_dict; assert 'zoo.models.weights' not in sys.modules, 'zoo.models.weights'"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
