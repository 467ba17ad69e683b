"""The weights supply chain against a real HTTP server on 127.0.0.1, started here.

Covers zoo/download.py, zoo/pretrained.py and zoo/pins.py: resume after a cut connection
(``Range`` + ``If-Range``), a server that ignores ``Range``, a file replaced upstream
between two attempts (restart, never splice), wrong digests (nothing left in the cache),
pins of unpublished digests, changed cache files, https only, zip archives of GAN weights,
the torch floor, ``--weights auto``'s fallback rules and two processes fetching the same
weights at once.

Offline handling: the suite runs with ``ZOO_OFFLINE=1 HF_HUB_OFFLINE=1`` (``make test``),
which forbids every download, loopback included. The ``_network`` fixture clears both
variables for each test here and replaces ``socket.create_connection`` (what
``http.client`` connects with) by a guard that refuses every host but 127.0.0.1, so only
the local server can be reached; the child processes install the same guard.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from zoo.errors import ZooError
from zoo.io import download, pins, pretrained, state_dict
from zoo.io.download import WeightsUnavailable
from zoo.models import weights
from zoo.registry.spec import ModelSpec, WeightSource

# ---------------------------------------------------------------------------------
# the server
# ---------------------------------------------------------------------------------


@dataclasses.dataclass
class _File:
    data: bytes
    etag: str = ""
    last_modified: str = ""


class _State:
    def __init__(self) -> None:
        self.files: dict[str, _File] = {}
        self.redirects: dict[str, str] = {}
        self.requests: list[dict] = []
        self.ignore_range = False  # answer 200 with the whole file to every Range request
        self.ignore_if_range = False  # honour Range even when If-Range names another version
        self.truncate_at: int | None = None  # send only this many body bytes, then hang up
        self.chunk_delay = 0.0  # seconds of sleep after each 16 kB of body
        self.hold = lambda: True  # the body is sent once this returns True (polled for up to 20 s)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection; the body ends when we close

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # http.server calls do_GET by this name
        st: _State = self.server.state  # type: ignore[attr-defined]
        rng, if_range = self.headers.get("Range"), self.headers.get("If-Range")
        rec = {"path": self.path, "range": rng, "if_range": if_range, "status": None}
        st.requests.append(rec)
        if self.path in st.redirects:
            rec["status"] = 302
            self.send_response(302)
            self.send_header("Location", st.redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        f = st.files.get(self.path)
        if f is None:
            rec["status"] = 404
            self.send_error(404, "Not Found")
            return
        current = if_range in (f.etag, f.last_modified) if if_range else True
        status, body, headers = 200, f.data, {}
        if rng and not st.ignore_range and (current or st.ignore_if_range):
            start = int(re.fullmatch(r"bytes=(\d+)-", rng.strip()).group(1))
            status, body = 206, f.data[start:]
            headers["Content-Range"] = f"bytes {start}-{len(f.data) - 1}/{len(f.data)}"
        rec["status"] = status
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if f.etag:
            headers["ETag"] = f.etag
        if f.last_modified:
            headers["Last-Modified"] = f.last_modified
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if st.truncate_at is not None:
            body = body[: st.truncate_at]
        deadline = time.monotonic() + 20
        while not st.hold() and time.monotonic() < deadline:
            time.sleep(0.01)
        for i in range(0, len(body), 16384):
            self.wfile.write(body[i : i + 16384])
            if st.chunk_delay:
                time.sleep(st.chunk_delay)


@pytest.fixture(scope="module")
def _httpd():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


_real_create_connection = socket.create_connection


def _loopback_only(address, *args, **kwargs):
    if address[0] not in ("127.0.0.1", "localhost", "::1"):
        raise OSError(f"the tests may not reach {address[0]}")
    return _real_create_connection(address, *args, **kwargs)


@pytest.fixture(autouse=True)
def _network(monkeypatch):
    """Downloads allowed (offline switches cleared), but only to loopback hosts."""
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(socket, "create_connection", _loopback_only)


@pytest.fixture
def server(_httpd):
    _httpd.state = _State()  # type: ignore[attr-defined]
    _httpd.url = f"http://127.0.0.1:{_httpd.server_address[1]}"  # type: ignore[attr-defined]
    return _httpd


def _blob(n: int = 300_000, seed: int = 0) -> bytes:
    g = torch.Generator().manual_seed(seed)
    return bytes(torch.randint(0, 256, (n,), generator=g, dtype=torch.uint8).tolist())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files(root: Path) -> list[str]:
    """Every file under ``root`` but lock files (which filelock may leave), relative, sorted."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.name.endswith(".lock"))


def _leftovers(root: Path) -> list[str]:
    """Partial or temporary files under ``root`` (lock files are not partial files)."""
    return sorted(p.name for p in root.rglob("*") if p.is_file() and re.search(r"\.part(\.json)?$|\.tmp$", p.name))


def _pth(seed: int = 0) -> tuple[bytes, dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    sd = {
        "conv.weight": torch.randn(16, 3, 3, 3, generator=g),
        "fc.weight": torch.randn(10, 16, generator=g),
        "big": torch.randn(64, 400, generator=g),
    }
    buf = io.BytesIO()
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in sd.items()}}, buf)
    return buf.getvalue(), sd


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in b)


def _spec(url: str, *, sha256: str = "", fmt: str = "pth", kind: str = "backbone", member: str = "", name: str = "tiny") -> ModelSpec:
    src = WeightSource(tag="t", url=url, sha256=sha256, format=fmt, member=member)
    return ModelSpec(name=name, family="test", kind=kind, plugin="test", arch="test", weights=(src,))


# ---------------------------------------------------------------------------------
# resume, Range, If-Range
# ---------------------------------------------------------------------------------
def test_resume_after_cut_connection_sends_if_range(server, tmp_path):
    data = _blob()
    server.state.files["/w.bin"] = _File(data, etag='"v1"')
    server.state.truncate_at = 100_000
    dest = tmp_path / "w.bin"
    with pytest.raises(WeightsUnavailable, match=r"broke off after 100000 of 300000 bytes; run the command again to resume"):
        download.download(server.url + "/w.bin", dest, progress=False)
    assert not dest.exists() and (tmp_path / "w.bin.part").stat().st_size == 100_000
    assert json.loads((tmp_path / "w.bin.part.json").read_text()) == {"url": server.url + "/w.bin", "validator": '"v1"'}
    server.state.truncate_at = None
    download.download(server.url + "/w.bin", dest, progress=False)
    assert dest.read_bytes() == data and _leftovers(tmp_path) == []
    assert [(r["range"], r["if_range"], r["status"]) for r in server.state.requests] == [
        (None, None, 200),
        ("bytes=100000-", '"v1"', 206),
    ]
    assert pins.url_pin(download.cache_dir(), server.url + "/w.bin") == _sha(data)  # no published digest: pinned


def test_last_modified_is_the_validator_without_a_strong_etag(server, tmp_path):
    data = _blob(200_000)
    server.state.files["/w.bin"] = _File(data, etag='W/"weak"', last_modified="Tue, 01 Jul 2025 10:00:00 GMT")
    server.state.truncate_at = 50_000
    with pytest.raises(WeightsUnavailable):
        download.download(server.url + "/w.bin", tmp_path / "w.bin", progress=False)
    server.state.truncate_at = None
    download.download(server.url + "/w.bin", tmp_path / "w.bin", progress=False)
    assert (tmp_path / "w.bin").read_bytes() == data
    assert server.state.requests[-1]["if_range"] == "Tue, 01 Jul 2025 10:00:00 GMT" and server.state.requests[-1]["status"] == 206


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    data = _blob()
    server.state.files["/w.bin"] = _File(data, etag='"v1"')
    server.state.truncate_at = 120_000
    with pytest.raises(WeightsUnavailable):
        download.download(server.url + "/w.bin", tmp_path / "w.bin", sha256=_sha(data), progress=False)
    server.state.truncate_at, server.state.ignore_range = None, True
    download.download(server.url + "/w.bin", tmp_path / "w.bin", sha256=_sha(data), progress=False)
    assert (tmp_path / "w.bin").read_bytes() == data and _leftovers(tmp_path) == []
    assert [(r["range"], r["status"]) for r in server.state.requests] == [(None, 200), ("bytes=120000-", 200)]


@pytest.mark.parametrize("ignores_if_range", [False, True], ids=["if-range", "etag-check"])
def test_upstream_change_between_attempts_restarts_not_splices(server, tmp_path, ignores_if_range):
    """The file changes upstream after a cut: a 200 (If-Range) or a 206 with another ETag restarts from byte 0."""
    old, new = _blob(seed=1), _blob(seed=2)
    server.state.files["/w.bin"] = _File(old, etag='"old"')
    server.state.truncate_at = 100_000
    with pytest.raises(WeightsUnavailable):
        download.download(server.url + "/w.bin", tmp_path / "w.bin", progress=False)
    server.state.files["/w.bin"] = _File(new, etag='"new"')
    server.state.truncate_at, server.state.ignore_if_range = None, ignores_if_range
    download.download(server.url + "/w.bin", tmp_path / "w.bin", progress=False)
    assert (tmp_path / "w.bin").read_bytes() == new and _leftovers(tmp_path) == []
    statuses = [(r["range"], r["if_range"], r["status"]) for r in server.state.requests[1:]]
    if ignores_if_range:  # the 206 carried ETag "new": dropped, then a fresh GET
        assert statuses == [("bytes=100000-", '"old"', 206), (None, None, 200)]
    else:
        assert statuses == [("bytes=100000-", '"old"', 200)]
    assert pins.url_pin(download.cache_dir(), server.url + "/w.bin") == _sha(new)


def test_partial_file_without_validator_or_digest_is_not_resumed(server, tmp_path):
    data = _blob(50_000)
    server.state.files["/w.bin"] = _File(data)  # no ETag, no Last-Modified
    (tmp_path / "w.bin.part").write_bytes(b"stale bytes of some other file")
    download.download(server.url + "/w.bin", tmp_path / "w.bin", progress=False)
    assert (tmp_path / "w.bin").read_bytes() == data
    assert [r["range"] for r in server.state.requests] == [None]


# ---------------------------------------------------------------------------------
# digests and pins
# ---------------------------------------------------------------------------------
def test_wrong_digest_is_refused_and_nothing_is_cached(server):
    data, _ = _pth()
    server.state.files["/w.pth"] = _File(data, etag='"v1"')
    wrong = ("f" if not _sha(data).startswith("f") else "0") * 64
    spec = _spec(server.url + "/w.pth", sha256=wrong)
    with pytest.raises(ZooError) as ei:
        pretrained.fetch_pretrained(spec, progress=False)
    assert str(ei.value) == (
        f"sha256 mismatch for {server.url}/w.pth: expected {wrong}, got {_sha(data)}; the file was deleted, "
        "try again or download it yourself and pass --weights FILE"
    )
    assert not isinstance(ei.value, WeightsUnavailable)
    root = download.cache_dir()
    assert _files(root) == []


def test_pinned_url_that_changes_upstream_is_refused(server, tmp_path):
    server.state.files["/w.bin"] = _File(b"first version")
    download.download(server.url + "/w.bin", tmp_path / "a.bin", progress=False)
    server.state.files["/w.bin"] = _File(b"second version")
    with pytest.raises(ZooError) as ei:
        download.download(server.url + "/w.bin", tmp_path / "b.bin", progress=False)
    where = download.cache_dir() / "pins.json"
    assert str(ei.value) == (
        f"sha256 mismatch for {server.url}/w.bin: expected {_sha(b'first version')} (pinned at its first download in {where}), "
        f"got {_sha(b'second version')}; the file changed upstream or in transit and was deleted; "
        f"if the change is expected, delete its entry in {where}"
    )
    assert not (tmp_path / "b.bin").exists() and _leftovers(tmp_path) == []


def test_converted_weights_are_pinned_and_checked_on_every_use(server, monkeypatch, capsys):
    data, sd = _pth()
    server.state.files["/w.pth"] = _File(data)
    spec = _spec(server.url + "/w.pth")  # no published digest
    path = pretrained.fetch_pretrained(spec, progress=False)
    root = download.cache_dir()
    assert path == root / "tiny" / "t.safetensors" and not (root / "downloads" / "w.pth").exists()
    assert pins.file_pin(root, path) == {"sha256": pins.sha256_file(path), "size": path.stat().st_size, "source": server.url + "/w.pth"}
    assert pins.url_pin(root, server.url + "/w.pth") == _sha(data)
    assert pretrained.fetch_pretrained(spec, progress=False) == path and len(server.state.requests) == 1  # verified, no request

    good = path.read_bytes()
    path.write_bytes(good[:-4] + b"\0\0\0\0")  # a changed cache file
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(ZooError) as ei:
        pretrained.fetch_pretrained(spec, progress=False)
    assert str(ei.value) == (
        f"cached {path} changed since zoo wrote it (sha256 {pins.sha256_file(path)}, pinned {_sha(good)}); "
        "refusing it (ZOO_OFFLINE is set): go online so zoo fetches it again, or delete it"
    )
    monkeypatch.delenv("ZOO_OFFLINE")
    capsys.readouterr()
    assert pretrained.fetch_pretrained(spec, progress=False) == path  # online: fetched again, verified by the URL's pin
    assert _same(state_dict.load_state_file(path), sd) and len(server.state.requests) == 2
    assert pins.file_pin(root, path)["sha256"] == pins.sha256_file(path)
    assert capsys.readouterr().err.startswith(f"Warning: cached {path} changed since zoo wrote it")

    path.unlink()  # an unpinned file put in its place is not trusted either
    pins.forget_file(root, path)
    state_dict.save_state_file({k: v + 1 for k, v in sd.items()}, path)
    assert pretrained.fetch_pretrained(spec, progress=False) == path and _same(state_dict.load_state_file(path), sd)
    assert capsys.readouterr().err == f"Warning: cached {path} is not pinned in {root / 'pins.json'}; fetching it again\n"


def test_corrupt_pin_file_is_one_line(server, tmp_path):
    server.state.files["/w.bin"] = _File(b"payload")
    pin_file = download.cache_dir() / "pins.json"
    pin_file.parent.mkdir(parents=True, exist_ok=True)
    pin_file.write_text("{not json")
    with pytest.raises(ZooError) as ei:
        download.download(server.url + "/w.bin", tmp_path / "w.bin", progress=False)
    assert re.fullmatch(
        rf"pin file {re.escape(str(pin_file))} is not readable JSON \(.+\); delete it \(every cached weights file is then fetched again\)",
        str(ei.value),
    )
    assert server.state.requests == [] and not (tmp_path / "w.bin").exists()


def test_torch_before_2_6_refuses_pickles(monkeypatch, tmp_path):
    data, sd = _pth()
    (tmp_path / "w.pth").write_bytes(data)
    state_dict.save_state_file(sd, tmp_path / "w.safetensors")
    monkeypatch.setattr(torch, "__version__", "2.5.1+cu124")
    with pytest.raises(ZooError) as ei:
        state_dict.load_state_file(tmp_path / "w.pth")
    assert str(ei.value) == (
        "torch 2.5.1+cu124 cannot read pickled weights safely: before 2.6, torch.load(weights_only=True) can run code "
        "(CVE-2025-32434); upgrade torch (pip install 'torch>=2.6') or use a .safetensors file"
    )
    assert set(state_dict.load_state_file(tmp_path / "w.safetensors")) == set(sd)  # safetensors need no pickle
    monkeypatch.setattr(torch, "__version__", "2.6.0")
    assert set(state_dict.load_state_file(tmp_path / "w.pth")) == set(sd)


# ---------------------------------------------------------------------------------
# https only
# ---------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://example.com/w.pth", "ftp://example.com/w.pth", "file:///etc/passwd", "w.pth"])
def test_only_https_urls(url, tmp_path):
    with pytest.raises(WeightsUnavailable) as ei:
        download.download(url, tmp_path / "w.pth", progress=False)
    assert str(ei.value) == (
        f"refusing to download weights from {url}: zoo fetches weights over https only (plain http only from localhost); "
        "use the file's https:// address, or download it yourself and pass --weights FILE"
    )
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(WeightsUnavailable, match="over https only"):
        pretrained.fetch_pretrained(_spec(url), progress=False)


def test_redirects_only_to_https(server, tmp_path):
    server.state.files["/real.bin"] = _File(b"payload")
    server.state.redirects["/here"] = "/real.bin"  # same loopback host: followed
    server.state.redirects["/away"] = "http://example.com/real.bin"  # a downgrade: refused before connecting
    download.download(server.url + "/here", tmp_path / "a.bin", progress=False)
    assert (tmp_path / "a.bin").read_bytes() == b"payload"
    with pytest.raises(WeightsUnavailable, match=r"^refusing to download weights from http://example\.com/real\.bin: "):
        download.download(server.url + "/away", tmp_path / "b.bin", progress=False)
    assert not (tmp_path / "b.bin").exists()


# ---------------------------------------------------------------------------------
# zip archives and GAN weights
# ---------------------------------------------------------------------------------
MEMBER = "stargan_celeba_128/models/200000-G.ckpt"


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _gan_ckpt() -> tuple[bytes, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """A Lornatang-style training dict: ``state_dict`` and ``ema_state_dict``, ``_orig_mod.`` prefixed."""
    g = torch.Generator().manual_seed(3)
    raw = {"conv1.0.weight": torch.randn(8, 3, 3, 3, generator=g), "conv1.0.bias": torch.randn(8, generator=g)}
    ema = {k: v * 0.5 for k, v in raw.items()}
    obj = {
        "epoch": 10,
        "state_dict": {f"_orig_mod.{k}": v for k, v in raw.items()},
        "ema_state_dict": {**{f"_orig_mod.{k}": v for k, v in ema.items()}, "n_averaged": torch.tensor(5)},
    }
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue(), raw, ema


def test_gan_weights_from_a_zip_are_cached_as_published(server):
    from zoo.io.official import read_official

    ckpt, raw, ema = _gan_ckpt()
    archive = _zip({"stargan_celeba_128/models/200000-D.ckpt": b"the discriminator", MEMBER: ckpt})
    server.state.files["/celeba-128x128-5attrs.zip"] = _File(archive, etag='"z"')
    spec = _spec(server.url + "/celeba-128x128-5attrs.zip", sha256=_sha(archive), fmt="zip", kind="gan", member=MEMBER)
    path = pretrained.fetch_pretrained(spec, progress=False)
    root = download.cache_dir()
    assert path == root / "tiny" / "t.ckpt" == pretrained.pretrained_path(spec)
    assert path.read_bytes() == ckpt  # the official file, unconverted
    assert _files(root) == ["pins.json", "tiny/t.ckpt"]
    assert pins.file_pin(root, path)["source"] == f"{spec.weights[0].url}#{MEMBER}"
    # what the official loader needs is all there: the EMA weights, prefixes stripped
    state, _ = read_official(path, container="ema_state_dict", required=True, drop=("n_averaged",))
    assert set(state) == set(ema) and all(torch.equal(state[k], ema[k]) for k in ema)
    # a converted file would have kept the plain 'state_dict' only
    assert all(torch.equal(state_dict.load_state_file(path)[k], raw[k]) for k in raw)
    assert pretrained.fetch_pretrained(spec, progress=False) == path and len(server.state.requests) == 1


def test_backbone_weights_from_a_zip_are_converted(server):
    data, sd = _pth()
    archive = _zip({"weights/w.pth": data})
    server.state.files["/w.zip"] = _File(archive)
    path = pretrained.fetch_pretrained(_spec(server.url + "/w.zip", fmt="zip", member="weights/w.pth"), progress=False)
    assert path.suffix == ".safetensors"
    state = state_dict.load_state_file(path)
    assert set(state) == set(sd) and all(torch.equal(state[k], sd[k]) for k in sd)
    assert _files(download.cache_dir()) == ["pins.json", "tiny/t.safetensors"]


@pytest.mark.parametrize(
    "member, message",
    [
        (
            "models/200000-G.ckpt",
            "w.zip from {url} has no member 'models/200000-G.ckpt'; it holds 5 files (a/0.ckpt, a/1.ckpt, a/2.ckpt, a/3.ckpt, ...); fix 'member' in the registry",
        ),
        ("../evil.ckpt", "zip member '../evil.ckpt' of {url} is not a relative path inside the archive; fix 'member' in the registry"),
        ("/abs/evil.ckpt", "zip member '/abs/evil.ckpt' of {url} is not a relative path inside the archive; fix 'member' in the registry"),
    ],
)
def test_bad_zip_members_are_refused(server, member, message):
    server.state.files["/w.zip"] = _File(_zip({f"a/{i}.ckpt": b"x" for i in range(5)}))
    url = server.url + "/w.zip"
    with pytest.raises(ZooError) as ei:
        pretrained.fetch_pretrained(_spec(url, fmt="zip", kind="gan", member=member), progress=False)
    assert str(ei.value) == message.format(url=url)
    assert not pretrained.pretrained_path(_spec(url, fmt="zip", kind="gan", member=member)).exists()
    assert not (download.cache_dir() / "downloads" / "w.zip").exists()


def test_a_web_page_where_weights_were_published_is_named_and_deleted(server):
    """A link that now serves an error page (issue 16): the message says what came, nothing is cached."""
    page = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>log in first</body></html>"
    server.state.files["/w.zip"] = _File(page)
    server.state.files["/w.pth"] = _File(page)
    url = server.url + "/w.zip"
    with pytest.raises(ZooError) as ei:
        pretrained.fetch_pretrained(_spec(url, fmt="zip", kind="gan", member="G.ckpt"), progress=False)
    assert str(ei.value) == f"w.zip from {url} is an HTML page ('Sign in'), not the zip archive published there; it was deleted, try again"
    with pytest.raises(ZooError) as ei:
        pretrained.fetch_pretrained(_spec(server.url + "/w.pth"), progress=False)
    assert "w.pth is an HTML page ('Sign in'); expected a .safetensors file or a torch.save checkpoint of a state dict; " in str(ei.value)
    assert "the download saved a web page" in str(ei.value) and "\n" not in str(ei.value)
    assert _files(download.cache_dir()) in ([], ["pins.json"])


# ---------------------------------------------------------------------------------
# --weights auto
# ---------------------------------------------------------------------------------
class _Adapter:
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.model = torch.nn.Module()
        self.model.conv = torch.nn.Conv2d(3, 16, 3, bias=False)
        self.model.fc = torch.nn.Linear(16, 10)
        self.head, self.num_classes = "fc", 1000


def test_auto_falls_back_only_when_the_weights_cannot_be_had(server, capsys):
    data, _ = _pth()
    server.state.files["/w.pth"] = _File(data)
    # unreachable: random init with one warning
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    assert weights.load_weights(_Adapter(_spec(f"http://127.0.0.1:{port}/w.pth")), "auto", progress=False) == "random"
    err = capsys.readouterr().err
    assert err.startswith("Warning: could not get tiny's published weights (cannot reach 127.0.0.1") and err.count("\n") == 1
    # a wrong digest is an error
    with pytest.raises(ZooError, match=r"^sha256 mismatch for "):
        weights.load_weights(_Adapter(_spec(server.url + "/w.pth", sha256="0" * 64)), "auto", progress=False)
    # a lock that cannot be taken is an error
    lock = download.cache_dir() / "tiny" / "t.safetensors.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir(parents=True)  # a directory where the lock file goes
    with pytest.raises(ZooError, match=r"^cannot lock .*t\.safetensors\.lock \(.*\); make the cache writable"):
        weights.load_weights(_Adapter(_spec(server.url + "/w.pth")), "auto", progress=False)


# ---------------------------------------------------------------------------------
# two fetches at once
# ---------------------------------------------------------------------------------
class _Lines:
    """A stand-in for ``sys.stderr`` in :mod:`zoo.io.pins` that keeps what is written."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        self.lines.append(text)

    def flush(self) -> None:
        pass


def test_two_threads_convert_once_inside_the_lock(server, monkeypatch):
    """The second caller waits for the lock, then finds the converted file: one download, one conversion."""
    err = _Lines()
    monkeypatch.setattr(pins, "sys", type("S", (), {"stderr": err}))
    monkeypatch.setattr(pins, "LOCK_MESSAGE_EVERY", 0.1)
    data, sd = _pth()
    server.state.files["/w.pth"] = _File(data)
    server.state.hold = lambda: bool(err.lines)  # the body comes once the other caller waits for the lock
    conversions = []
    real_save = state_dict.save_state_file
    monkeypatch.setattr(state_dict, "save_state_file", lambda *a, **k: conversions.append(1) or real_save(*a, **k))
    spec, start, results = _spec(server.url + "/w.pth"), threading.Barrier(2), []

    def fetch() -> None:
        start.wait()
        results.append(pretrained.fetch_pretrained(spec, progress=False))

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    path = download.cache_dir() / "tiny" / "t.safetensors"
    assert results == [path, path] and len(conversions) == 1 and len(server.state.requests) == 1
    assert _same(state_dict.load_state_file(path), sd) and pins.check_file(download.cache_dir(), path) == ""
    assert set(err.lines) == {f"waiting for another zoo process downloading tiny's t weights (lock {path}.lock)\n"}
    assert _files(download.cache_dir()) == ["pins.json", "tiny/t.safetensors"]


_CHILD = r"""
import json, socket, sys, time
from pathlib import Path
real = socket.create_connection
def guard(address, *a, **k):
    if address[0] != "127.0.0.1":
        raise OSError("the tests may not reach " + str(address[0]))
    return real(address, *a, **k)
socket.create_connection = guard
from zoo.io import pins
from zoo.io.pretrained import fetch_pretrained
from zoo.registry.spec import ModelSpec, WeightSource
url, who, ready = sys.argv[1], sys.argv[2], Path(sys.argv[3])
class Tee:  # stderr, and a file that tells the server this process waits for the lock
    def write(self, text):
        sys.stderr.write(text)
        (ready.parent / "waiting").touch()
    def flush(self):
        sys.stderr.flush()
pins.sys = type("S", (), {"stderr": Tee()})
pins.LOCK_MESSAGE_EVERY = 0.2
spec = ModelSpec(name="tiny", family="test", kind="gan", plugin="test", arch="test", weights=(WeightSource(tag="t", url=url),))
(ready / who).touch()
while len(list(ready.iterdir())) < 2:  # both ready: start together
    time.sleep(0.005)
path = fetch_pretrained(spec, progress=False)
print(json.dumps({"path": str(path), "sha256": pins.sha256_file(path), "torch": "torch" in sys.modules}))
"""


def test_two_processes_fetch_the_same_weights_once(server, tmp_path):
    """Two zoo processes (GAN weights: cached as published, so the children need no torch and start fast)."""
    data = _blob(300_000, seed=5)
    server.state.files["/200000-G.ckpt"] = _File(data, etag='"v1"')
    ready = tmp_path / "ready"
    ready.mkdir()
    server.state.hold = (tmp_path / "waiting").exists  # the body comes once the other process waits for the lock
    env = {k: v for k, v in os.environ.items() if k not in ("ZOO_OFFLINE", "HF_HUB_OFFLINE")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, server.url + "/200000-G.ckpt", who, str(ready)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("a", "b")
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    root = download.cache_dir()
    path = root / "tiny" / "t.ckpt"
    expected = {"path": str(path), "sha256": _sha(data), "torch": False}
    assert [json.loads(o[0]) for o in outs] == [expected, expected] and path.read_bytes() == data
    assert pins.file_pin(root, path)["sha256"] == pins.url_pin(root, server.url + "/200000-G.ckpt") == _sha(data)
    assert len(server.state.requests) == 1  # one download
    waiting = [o[1] for o in outs if "waiting for another zoo process" in o[1]]
    assert len(waiting) == 1 and f"waiting for another zoo process downloading tiny's t weights (lock {path}.lock)" in waiting[0]
    assert _leftovers(root) == [] and _files(root) == ["pins.json", "tiny/t.ckpt"]
