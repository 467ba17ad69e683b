"""``zoo bench`` and :mod:`zoo.bench`: depth, FLOPs, size, timing, memory, rows, the CLI.

Depth is checked against the numbers in the models' names and MATLAB's table, with the
networks built on the ``meta`` device (no memory, no compute) straight from
torchvision/timm, so the check does not depend on the registry. Offline and seeded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from zoo import bench  # noqa: E402
from zoo.errors import ZooError  # noqa: E402
from zoo.spec import ModelSpec  # noqa: E402

# ----------------------------------------------------------------------------------------
# depth
# ----------------------------------------------------------------------------------------
DEPTHS = [
    # (name, builder, smallest convenient input, expected depth)
    ("vgg16", "torchvision:vgg16", 32, 16),
    ("vgg19", "torchvision:vgg19", 32, 19),
    ("resnet50", "torchvision:resnet50", 32, 50),
    ("resnet101", "torchvision:resnet101", 32, 101),
    ("resnet152", "torchvision:resnet152", 32, 152),
    ("densenet121", "torchvision:densenet121", 32, 121),
    ("densenet169", "torchvision:densenet169", 32, 169),
    ("densenet201", "torchvision:densenet201", 32, 201),
    ("inception_v3", "timm:inception_v3", 75, 48),
    ("mobilenet_v2", "torchvision:mobilenet_v2", 32, 53),
    ("xception", "timm:legacy_xception", 71, 71),
]


def _build(arch: str) -> nn.Module:
    lib, name = arch.split(":")
    if lib == "timm":
        import timm

        return timm.create_model(name, pretrained=False)
    import torchvision

    return getattr(torchvision.models, name)(weights=None)


@pytest.mark.parametrize("name,arch,size,expected", DEPTHS, ids=[d[0] for d in DEPTHS])
def test_depth_matches_published(name, arch, size, expected):
    with torch.device("meta"):
        model = _build(arch)
    assert bench.model_depth(model, (1, 3, size, size)) == expected


def test_depth_on_cpu_restores_state():
    import torchvision

    model = torchvision.models.mobilenet_v2(weights=None).train()
    model.features[0].requires_grad_(False)
    flags = [p.requires_grad for p in model.parameters()]
    assert bench.model_depth(model, (1, 3, 32, 32)) == 53  # frozen layers still count
    assert model.training and [p.requires_grad for p in model.parameters()] == flags
    with torch.inference_mode():  # callers inside inference mode still get a graph
        assert bench.model_depth(model, inputs=torch.randn(1, 3, 32, 32)) == 53


class _Attention(nn.Module):
    """Linear -> q @ k^T (two activations: not a weight layer) -> @ v -> Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(8, 24)
        self.proj = nn.Linear(8, 8)

    def forward(self, x):  # (B, T, 8)
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        a = (q @ k.transpose(1, 2)).softmax(-1)
        return self.proj(a @ v)


class _Branches(nn.Module):
    """A long branch that does not start at the input must not count; tuple output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.tconv = nn.ConvTranspose2d(4, 4, 2, stride=2)
        self.dw = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.const = nn.Parameter(torch.randn(1, 4, 1, 1))
        self.mlp = nn.Sequential(*[nn.Linear(4, 4) for _ in range(5)])

    def forward(self, x):
        y = self.dw(self.tconv(self.conv(x)))  # 3 weight layers on the input path
        bias = self.mlp(self.const.flatten(1)).view(1, 4, 1, 1)  # 5 layers, no input
        return (y + bias, "aux")


def test_depth_definition_details():
    assert bench.model_depth(_Attention(), (2, 5, 8)) == 2
    assert bench.model_depth(_Branches(), (1, 3, 8, 8)) == 3
    conv = nn.utils.parametrizations.weight_norm(nn.Conv2d(3, 4, 3))  # re-parametrised weight
    lin = nn.utils.parametrizations.spectral_norm(nn.Linear(4 * 6 * 6, 2))
    assert bench.model_depth(nn.Sequential(conv, nn.Flatten(), lin), (1, 3, 8, 8)) == 2
    with pytest.raises(ValueError):
        bench.model_depth(nn.Linear(3, 3))  # no input given


# ----------------------------------------------------------------------------------------
# FLOPs, params, size
# ----------------------------------------------------------------------------------------
def test_count_flops_by_hand():
    conv = nn.Conv2d(3, 8, 3)  # 1x3x10x10 -> 1x8x8x8; each output: 3*3*3 multiply-adds
    assert bench.count_flops(conv, torch.randn(1, 3, 10, 10)) == pytest.approx(2 * 8 * 8 * 8 * 3 * 3 * 3 / 1e9)
    lin = nn.Linear(100, 10)
    assert bench.count_flops(lin, (torch.randn(4, 100),)) == pytest.approx(2 * 4 * 100 * 10 / 1e9)
    assert bench.count_flops(nn.ReLU(), torch.randn(4, 100)) == 0  # element-wise ops are not counted


def test_params_and_size_by_hand():
    m = nn.Sequential(nn.Linear(10, 5), nn.BatchNorm1d(4))
    assert bench.count_params(m) == 10 * 5 + 5 + 4 + 4
    # parameters + buffers (running mean, var, num_batches_tracked) as fp32
    assert bench.size_mb(m) == pytest.approx((55 + 8 + 4 + 4 + 1) * 4 / 2**20)
    assert bench.size_mb(m.half()) == bench.size_mb(m.float())


# ----------------------------------------------------------------------------------------
# timing and memory
# ----------------------------------------------------------------------------------------
def test_time_forward_tiny_model():
    model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
    x = torch.randn(2, 16)
    t = bench.time_forward(lambda: model(x), budget_s=0.2, warmup=3, min_reps=10)
    assert t.reps >= 10 and t.warmup_reps >= 3
    assert 0 < t.min_ms <= t.median_ms <= t.p90_ms and t.mean_ms > 0
    assert 0.15 < t.total_s < 5
    assert t.threads == torch.get_num_threads() and t.device == "cpu"
    assert len(t.times_ms) == t.reps and "times_ms" not in t.to_dict()


def test_time_forward_measures_sleep_and_minimum_reps():
    t = bench.time_forward(lambda: time.sleep(0.002), budget_s=0.0, warmup=1, min_reps=4)
    assert t.reps == 4 and t.warmup_reps == 1
    assert t.median_ms >= 2.0
    import numpy as np

    vals = sorted([5.0, 1.0, 3.0, 2.0, 4.0, 10.0])
    assert bench._percentile(vals, 90) == pytest.approx(np.percentile(vals, 90))
    with pytest.raises(ValueError):
        bench.time_forward(lambda: None, min_reps=0)


def test_peak_memory_by_hand():
    model = nn.Sequential(nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1024))
    x = torch.randn(256, 1024)  # 1 MB
    mb, method = bench.peak_memory_mb(lambda: model(x), model=model, inputs=(x,))
    # weights 2 x (4 MB + 4 KB) + input 1 MB + two live 1 MB activations at the peak
    # (ReLU's output and the last Linear's; Sequential drops each output once the next exists)
    assert method == "tensor-peak"
    assert mb == pytest.approx(2 * (4 + 4 / 1024) + 1 + 2)


# ----------------------------------------------------------------------------------------
# rows (fake registry: independent of the plugins being written)
# ----------------------------------------------------------------------------------------
TINY = ModelSpec(name="tiny", family="tiny", kind="backbone", plugin="test", arch="test:tiny", input_size=(3, 32, 32), min_size=8)
TINY_GAN = ModelSpec(name="tinygan", family="tinygan", kind="gan", plugin="test", arch="test:tinygan", input_size=(3, 16, 16), min_size=8)
BROKEN = ModelSpec(name="broken", family="tiny", kind="backbone", plugin="test", arch="test:broken")
SPECS = {s.name: s for s in (TINY, TINY_GAN, BROKEN)}

ROW_TYPES = {
    "name": str,
    "family": str,
    "kind": str,
    "params": int,
    "size_mb": float,
    "depth": int,
    "gflops": float,
    "gmacs": float,
    "latency_ms": float,
    "latency_p90_ms": float,
    "latency_mean_ms": float,
    "latency_reps": int,
    "throughput_ips": float,
    "batch_size": int,
    "peak_mem_mb": float,
    "mem_method": str,
    "img_size": int,
    "input_shape": list,
    "device": str,
    "threads": int,
    "dtype": str,
    "channels_last": bool,
    "compile": bool,
    "torch": str,
    "status": str,
    "error": type(None),
    "notes": list,
}


class _OOMAbove(nn.Module):
    """A conv net that raises an out-of-memory error for batches larger than ``limit``."""

    def __init__(self, limit: int | None = None) -> None:
        super().__init__()
        self.limit = limit
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))

    def forward(self, x):
        if self.limit is not None and x.shape[0] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return self.net(x)


def _fake_build(limit=None):
    def build(spec, **options):
        if spec.name == "broken":
            raise RuntimeError("this model cannot be built\nsecond line")
        if spec.kind == "gan":
            size = options.get("image_size") or spec.input_size[-1]
            gen = nn.Sequential(nn.ConvTranspose2d(4, 8, size // 2), nn.ReLU(), nn.ConvTranspose2d(8, 3, 2, stride=2 if size > 2 else 1), nn.Tanh())

            def generator_inputs(n, *, generator=None, device="cpu"):
                return (torch.randn(n, 4, 1, 1, generator=generator).to(device),)

            return types.SimpleNamespace(kind="gan", spec=spec, generator=gen, model=nn.ModuleDict({"generator": gen}), image_size=size, generator_inputs=generator_inputs)
        return types.SimpleNamespace(kind="backbone", spec=spec, model=_OOMAbove(limit))

    return build


@pytest.fixture
def fake_registry(monkeypatch):
    """``tiny``, ``tinygan`` and ``broken`` as the only registry models."""
    from zoo import registry

    def get_spec(name):
        if name not in SPECS:
            raise ZooError(f"unknown model {name!r}")
        return SPECS[name]

    def list_models(pattern=None, *, kind=None, family=None):
        import fnmatch

        out = [s for s in SPECS.values() if (not pattern or fnmatch.fnmatchcase(s.name, pattern))]
        return [s for s in out if (kind is None or s.kind == kind) and (family is None or s.family == family)]

    monkeypatch.setattr(registry, "get_spec", get_spec)
    monkeypatch.setattr(registry, "list_models", list_models)
    monkeypatch.setattr(registry, "build", _fake_build())
    return monkeypatch


def _check_row(row):
    assert tuple(row) == bench.ROW_KEYS
    for key, typ in ROW_TYPES.items():
        assert isinstance(row[key], typ), (key, row[key])
    json.dumps(row)


def test_row_schema_fake_backbone_and_gan(fake_registry):
    row = bench.bench_model("tiny", batch_size=4, budget_s=0.1)
    _check_row(row)
    assert row["status"] == "ok" and row["depth"] == 2 and row["params"] == 3 * 8 * 9 + 8 + 16 + 90
    assert row["input_shape"] == [3, 32, 32] and row["batch_size"] == 4 and row["gmacs"] == pytest.approx(row["gflops"] / 2)
    assert row["latency_reps"] >= 5 and row["latency_p90_ms"] >= row["latency_ms"] > 0
    gan = bench.bench_model("tinygan", batch_size=2, budget_s=0.1, img_size=8)
    _check_row(gan)
    assert gan["kind"] == "gan" and gan["img_size"] == 8 and gan["input_shape"] == [4, 1, 1] and gan["depth"] == 2
    amp = bench.bench_model("tiny", batch_size=2, budget_s=0.1, amp="bf16", channels_last=True, img_size=16)
    assert amp["status"] == "ok" and amp["dtype"] == "amp-bf16" and amp["channels_last"] and amp["img_size"] == 16


def test_failed_row_and_run_goes_on(fake_registry):
    seen = []
    rows = bench.bench_models(["broken", "tiny"], batch_size=2, budget_s=0.05, progress=lambda i, n, name, row: seen.append((i, n, name, row is None)))
    assert [r["status"] for r in rows] == ["failed", "ok"]
    assert rows[0]["error"] == "RuntimeError: this model cannot be built" and rows[0]["params"] is None
    assert set(rows[0]) == set(bench.ROW_KEYS)
    assert seen == [(0, 2, "broken", True), (0, 2, "broken", False), (1, 2, "tiny", True), (1, 2, "tiny", False)]
    small = bench.bench_model("tiny", img_size=4, budget_s=0.05)  # below min_size 8
    assert small["status"] == "failed" and "minimum 8" in small["error"]


def test_oom_halves_the_batch(fake_registry):
    fake_registry.setattr("zoo.registry.build", _fake_build(limit=3))
    row = bench.bench_model("tiny", batch_size=16, budget_s=0.05)
    assert row["status"] == "ok" and row["batch_size"] == 2
    assert any("out of memory" in n for n in row["notes"])


def test_expand_names(fake_registry):
    assert [s.name for s in bench.expand_names(None)] == ["tiny", "tinygan", "broken"]
    assert [s.name for s in bench.expand_names(["tiny*", "tiny"], kind="backbone")] == ["tiny"]
    with pytest.raises(ZooError, match="no model matches"):
        bench.expand_names(["nothing*"])
    with pytest.raises(ZooError, match="unknown model"):
        bench.expand_names(["nothing"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised when CUDA is missing")
def test_cuda_missing_fails_before_building(fake_registry):
    fake_registry.setattr("zoo.registry.build", lambda *a, **k: pytest.fail("built a model"))
    with pytest.raises(ZooError, match=r"--device cuda requested but CUDA is not available.*valid here: cpu"):
        bench.bench_models(["tiny"], device="cuda")
    with pytest.raises(ZooError) as err:
        bench.resolve_device("tpu")
    assert err.value.exit_code == 2
    with pytest.raises(ZooError, match="amp"):
        bench.bench_models(["tiny"], amp="int8")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path(fake_registry):
    model = nn.Linear(64, 64).cuda()
    x = torch.randn(8, 64, device="cuda")
    t = bench.time_forward(lambda: model(x), device="cuda", budget_s=0.1)
    assert t.reps >= 5 and t.median_ms > 0 and t.device.startswith("cuda")
    mb, method = bench.peak_memory_mb(lambda: model(x), device="cuda")
    assert method == "cuda.max_memory_allocated" and mb > 0
    row = bench.bench_model("tiny", device="cuda", batch_size=4, budget_s=0.1, amp="fp16", channels_last=True)
    _check_row(row)
    assert row["device"].startswith("cuda") and row["mem_method"] == "cuda.max_memory_allocated"


# ----------------------------------------------------------------------------------------
# registry models (skipped until the plugins that build them are in place)
# ----------------------------------------------------------------------------------------
def _registry_has(name: str) -> bool:
    try:
        from zoo.registry import get_spec

        get_spec(name)
        return True
    except Exception:
        return False


@pytest.mark.skipif(not _registry_has("resnet18"), reason="resnet18 is not registered (or the registry does not load) yet")
def test_row_schema_registry_resnet18():
    row = bench.bench_model("resnet18", img_size=32, batch_size=2, budget_s=0.1)
    _check_row(row)
    assert row["status"] == "ok" and row["depth"] == 18 and row["params"] == 11_689_512


@pytest.mark.skipif(not _registry_has("dcgan"), reason="dcgan is not registered (or the registry does not load) yet")
def test_row_registry_gan():
    row = bench.bench_model("dcgan", batch_size=2, budget_s=0.1)
    _check_row(row)
    assert row["kind"] == "gan" and row["depth"] == 5 and row["img_size"] == 64


# ----------------------------------------------------------------------------------------
# the CLI
# ----------------------------------------------------------------------------------------
def _invoke(*args):
    from zoo.cli.app import app

    return CliRunner().invoke(app, ["bench", *map(str, args)])


def _user_error_text(res) -> str:
    """The error text wherever the app put it (one 'Error:' line, or the raised exception)."""
    return (res.stderr if hasattr(res, "stderr") else "") + res.output + str(res.exception or "")


def test_cli_json_csv_markdown_table(fake_registry):
    res = _invoke("tiny", "tinygan", "--json", "--budget", "0.05", "--batch-size", "2")
    assert res.exit_code == 0, _user_error_text(res)
    rows = json.loads(res.stdout)
    assert [r["name"] for r in rows] == ["tiny", "tinygan"] and all(r["status"] == "ok" for r in rows)
    assert set(rows[0]) == set(bench.ROW_KEYS)
    res = _invoke("tiny", "--csv", "--budget", "0.05")
    assert res.exit_code == 0 and res.stdout.splitlines()[0].startswith("name,family,kind,top1_ref,top5_ref,params")
    res = _invoke("tiny*", "--kind", "backbone", "--markdown", "--budget", "0.05")
    assert res.exit_code == 0 and res.stdout.startswith("| model | top-1* | top-5* | params (M)") and "| tiny |" in res.stdout
    res = _invoke("tiny", "--budget", "0.05")
    assert res.exit_code == 0 and "tiny" in res.stdout and "GFLOPs" in res.stdout


def test_cli_errors(fake_registry):
    res = _invoke("broken", "tiny", "--json", "--budget", "0.05")
    assert res.exit_code != 0 and "1 of 2 model(s) failed: broken" in _user_error_text(res)
    assert [r["status"] for r in json.loads(res.stdout)] == ["failed", "ok"]  # the run went on
    for args, needle in [
        (("tiny", "--device", "tpu"), "unknown device"),
        (("tiny", "--amp", "int8"), "unknown --amp"),
        (("tiny", "--json", "--csv"), "choose one"),
        (("nothing*",), "no model matches"),
        (("nothing",), "unknown model"),
    ]:
        res = _invoke(*args)
        assert res.exit_code != 0 and needle in _user_error_text(res), (args, _user_error_text(res))
    if not torch.cuda.is_available():
        res = _invoke("tiny", "--device", "cuda")
        assert res.exit_code != 0 and "CUDA is not available" in _user_error_text(res)


@pytest.mark.skipif(not _registry_has("resnet18"), reason="resnet18 is not registered (or the registry does not load) yet")
def test_cli_registry_json():
    res = _invoke("resnet18", "--img-size", "32", "--batch-size", "2", "--budget", "0.1", "--json")
    assert res.exit_code == 0, _user_error_text(res)
    (row,) = json.loads(res.stdout)
    assert row["name"] == "resnet18" and row["status"] == "ok" and row["depth"] == 18


def test_cli_module_does_not_import_torch():
    code = "import sys, zoo.cli.bench; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
