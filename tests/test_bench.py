"""``zoo bench``: the measurements of :mod:`zoo.measure`, the rows of :mod:`zoo.tasks.bench`, the CLI.

Depth is checked against the numbers in the models' names and MATLAB's table, with the
networks built on the ``meta`` device (no memory, no compute) straight from
torchvision/timm. Rows are checked against the types :class:`zoo.tasks.bench.BenchRow`
declares, on a fake registry (fast) and on real registry models. Offline and seeded.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import time
import types
import typing

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from zoo.errors import ZooError
from zoo.measure import count_flops, count_params, model_depth, peak_memory_mb, size_mb, time_forward
from zoo.registry.spec import ModelSpec
from zoo.tasks import bench
from zoo.tasks.bench import BenchRow

# ---- depth -------------------------------------------------------------------------------
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
    assert model_depth(model, (1, 3, size, size)) == expected


def test_depth_on_cpu_restores_state():
    import torchvision

    model = torchvision.models.mobilenet_v2(weights=None).train()
    model.features[0].requires_grad_(False)
    flags = [p.requires_grad for p in model.parameters()]
    assert model_depth(model, (1, 3, 32, 32)) == 53  # frozen layers still count
    assert model.training and [p.requires_grad for p in model.parameters()] == flags
    with torch.inference_mode():  # callers inside inference mode still get a graph
        assert model_depth(model, inputs=torch.randn(1, 3, 32, 32)) == 53


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
    assert model_depth(_Attention(), (2, 5, 8)) == 2
    assert model_depth(_Branches(), (1, 3, 8, 8)) == 3
    conv = nn.utils.parametrizations.weight_norm(nn.Conv2d(3, 4, 3))  # re-parametrised weight
    lin = nn.utils.parametrizations.spectral_norm(nn.Linear(4 * 6 * 6, 2))
    assert model_depth(nn.Sequential(conv, nn.Flatten(), lin), (1, 3, 8, 8)) == 2
    with pytest.raises(ValueError):
        model_depth(nn.Linear(3, 3))  # no input given


# ---- FLOPs, params, size -----------------------------------------------------------------
def test_flops_params_size_by_hand():
    conv = nn.Conv2d(3, 8, 3)  # 1x3x10x10 -> 1x8x8x8; each output: 3*3*3 multiply-adds
    assert count_flops(conv, torch.randn(1, 3, 10, 10)) == pytest.approx(2 * 8 * 8 * 8 * 3 * 3 * 3 / 1e9)
    lin = nn.Linear(100, 10)
    assert count_flops(lin, (torch.randn(4, 100),)) == pytest.approx(2 * 4 * 100 * 10 / 1e9)
    assert count_flops(nn.ReLU(), torch.randn(4, 100)) == 0  # element-wise ops are not counted
    m = nn.Sequential(nn.Linear(10, 5), nn.BatchNorm1d(4))
    assert count_params(m) == 10 * 5 + 5 + 4 + 4
    # parameters + buffers (running mean, var, num_batches_tracked) as fp32
    assert size_mb(m) == pytest.approx((55 + 8 + 4 + 4 + 1) * 4 / 2**20)
    assert size_mb(m.half()) == size_mb(m.float())


# ---- timing and memory -------------------------------------------------------------------
def test_time_forward():
    model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4)).eval()
    x = torch.randn(2, 16)
    t = time_forward(lambda: model(x), budget_s=0.2, warmup=3, min_reps=10)
    assert t.reps >= 10 and t.warmup_reps >= 3
    assert 0 < t.min_ms <= t.median_ms <= t.p90_ms and t.mean_ms > 0
    assert 0.15 < t.total_s < 5
    assert t.threads == torch.get_num_threads() and t.device == "cpu"
    assert len(t.times_ms) == t.reps and "times_ms" not in t.to_dict()
    t = time_forward(lambda: time.sleep(0.002), budget_s=0.0, warmup=1, min_reps=4)
    assert t.reps == 4 and t.warmup_reps == 1 and t.median_ms >= 2.0
    # the summary figures are numpy's percentiles of the recorded calls, as plain floats (JSON, CSV repr)
    q25, q50, q75, q90 = np.percentile(t.times_ms, [25, 50, 75, 90])
    assert (t.median_ms, t.p90_ms, t.iqr_ms) == pytest.approx((q50, q90, q75 - q25))
    assert t.mean_ms == pytest.approx(np.mean(t.times_ms)) and t.min_ms == min(t.times_ms)
    assert all(type(v) is float for v in (t.median_ms, t.p90_ms, t.iqr_ms, t.mean_ms))
    with pytest.raises(ValueError):
        time_forward(lambda: None, min_reps=0)


def test_peak_memory_by_hand():
    model = nn.Sequential(nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1024))
    x = torch.randn(256, 1024)  # 1 MB
    mb, method = peak_memory_mb(lambda: model(x), model=model, inputs=(x,))
    # weights 2 x (4 MB + 4 KB) + input 1 MB + two live 1 MB activations at the peak
    # (ReLU's output and the last Linear's; Sequential drops each output once the next exists)
    assert method == "tensor-peak"
    assert mb == pytest.approx(2 * (4 + 4 / 1024) + 1 + 2)


def test_each_measure_module_alone_on_a_plain_module():
    """Every measure module works on a plain nn.Module without the bench, the registry or the CLI."""
    code = """
import sys, torch
from zoo.measure import depth, flops, memory, timing
m, x = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.Linear(144, 2)), torch.randn(1, 3, 8, 8)
assert depth.model_depth(m, (1, 3, 8, 8)) == 2 and flops.count_params(m) == 402 and flops.size_mb(m) == 402 * 4 / 2**20
assert abs(flops.count_flops(m, x) - 2 * (4 * 6 * 6 * 27 + 144 * 2) / 1e9) < 1e-15
assert timing.time_forward(lambda: m(x), budget_s=0.01, min_reps=3).reps >= 3
assert memory.peak_memory_mb(lambda: m(x), model=m, inputs=(x,))[0] > flops.size_mb(m)
loaded = [k for k in ("zoo.tasks.bench", "zoo.registry", "zoo.cli") if k in sys.modules]
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- rows (fake registry: three specs, tiny networks, the real name expansion) -----------
TINY = ModelSpec(name="tiny", family="tiny", kind="backbone", plugin="test", arch="test:tiny", input_size=(3, 32, 32), min_size=8)
TINY_GAN = ModelSpec(name="tinygan", family="tinygan", kind="gan", plugin="test", arch="test:tinygan", input_size=(3, 16, 16), min_size=8)
BROKEN = ModelSpec(name="broken", family="tiny", kind="backbone", plugin="test", arch="test:broken")
SPECS = {s.name: s for s in (TINY, TINY_GAN, BROKEN)}

#: The JSON keys and CSV columns, in order: the contract with scripts that read them.
ROW_KEYS = [
    "name", "family", "kind", "top1_ref", "top5_ref", "params", "size_mb", "depth", "gflops", "gmacs", "latency_ms",
    "latency_p90_ms", "latency_mean_ms", "latency_reps", "throughput_ips", "batch_size", "peak_mem_mb", "mem_method",
    "img_size", "input_shape", "device", "threads", "dtype", "channels_last", "compile", "torch", "status", "error", "notes",
]  # fmt: skip


class _OOMAbove(nn.Module):
    """A conv net that raises an out-of-memory error for batches larger than ``limit``."""

    def __init__(self, limit: int | None = None) -> None:
        super().__init__()
        self.limit = limit
        self.net = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10)
        )

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
            gen = nn.Sequential(
                nn.ConvTranspose2d(4, 8, size // 2), nn.ReLU(), nn.ConvTranspose2d(8, 3, 2, stride=2 if size > 2 else 1), nn.Tanh()
            )

            def generator_inputs(n, *, generator=None, device="cpu"):
                return (torch.randn(n, 4, 1, 1, generator=generator).to(device),)

            return types.SimpleNamespace(kind="gan", spec=spec, generator=gen, image_size=size, generator_inputs=generator_inputs)
        return types.SimpleNamespace(kind="backbone", spec=spec, model=_OOMAbove(limit))

    return build


@pytest.fixture
def fake_registry(monkeypatch):
    """``tiny``, ``tinygan`` and ``broken`` as the only registry models; lookup and expansion stay real."""
    from zoo import registry

    monkeypatch.setattr(registry, "load_registry", lambda: SPECS)
    monkeypatch.setattr(registry, "build", _fake_build())
    return monkeypatch


def _has_type(value, tp) -> bool:
    """``isinstance`` for the annotations BenchRow uses: ``X | None``, ``Literal[...]``, ``list[X]``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin is list:
        return isinstance(value, list) and all(_has_type(v, args[0]) for v in value)
    if tp is type(None):
        return value is None
    if tp in (int, float):  # bool is an int to Python, not to a reader of the JSON
        return isinstance(value, tp) and not isinstance(value, bool)
    return isinstance(value, tp)


def _check_row(row, *, ok=True):
    """Every field has the type BenchRow declares; an ok row measured everything; the dict is JSON."""
    assert isinstance(row, BenchRow)
    hints = typing.get_type_hints(BenchRow)
    for f in dataclasses.fields(BenchRow):
        assert _has_type(getattr(row, f.name), hints[f.name]), (f.name, getattr(row, f.name), hints[f.name])
    if ok:
        assert row.status == "ok" and row.error is None, row.error
        missing = [k for k in ROW_KEYS if getattr(row, k) is None and k not in ("top1_ref", "top5_ref", "error")]
        assert not missing, missing
    d = row.to_dict()
    assert list(d) == ROW_KEYS and json.loads(json.dumps(d)) == d
    assert BenchRow.from_dict(d) == row


def test_row_schema_fake_backbone_and_gan(fake_registry):
    row = bench.bench_model("tiny", batch_size=4, budget_s=0.1)
    _check_row(row)
    assert row.depth == 2 and row.params == 3 * 8 * 9 + 8 + 16 + 90
    assert row.input_shape == [3, 32, 32] and row.batch_size == 4 and row.gmacs == pytest.approx(row.gflops / 2)
    assert row.latency_reps >= 5 and row.latency_p90_ms >= row.latency_ms > 0
    gan = bench.bench_model("tinygan", batch_size=2, budget_s=0.1, img_size=8)
    _check_row(gan)
    assert gan.kind == "gan" and gan.img_size == 8 and gan.input_shape == [4, 1, 1] and gan.depth == 2
    amp = bench.bench_model("tiny", batch_size=2, budget_s=0.1, amp="bf16", channels_last=True, img_size=16)
    _check_row(amp)
    assert amp.dtype == "amp-bf16" and amp.channels_last and amp.img_size == 16


def test_failed_row_and_run_goes_on(fake_registry):
    seen = []
    rows = bench.bench_models(
        ["broken", "tiny"], batch_size=2, budget_s=0.05, progress=lambda i, n, name, row: seen.append((i, n, name, row is None))
    )
    assert [r.status for r in rows] == ["failed", "ok"]
    _check_row(rows[0], ok=False)
    assert rows[0].error == "RuntimeError: this model cannot be built" and rows[0].params is None
    assert seen == [(0, 2, "broken", True), (0, 2, "broken", False), (1, 2, "tiny", True), (1, 2, "tiny", False)]
    small = bench.bench_model("tiny", img_size=4, budget_s=0.05)  # below min_size 8
    assert small.status == "failed" and small.error == "img_size 4 is below the minimum 8 of tiny"


def test_oom_halves_the_batch(fake_registry):
    fake_registry.setattr("zoo.registry.build", _fake_build(limit=3))
    row = bench.bench_model("tiny", batch_size=16, budget_s=0.05)
    _check_row(row)
    assert row.batch_size == 2
    assert row.notes == ["batch 16 ran out of memory; halved", "batch 8 ran out of memory; halved", "batch 4 ran out of memory; halved"]


@pytest.mark.parametrize(
    "option,value,text",
    [
        ("batch_size", 0, "batch_size must be at least 1, got 0"),
        ("img_size", 0, "img_size must be at least 1 pixel, got 0"),
        ("budget_s", 0, "budget_s must be a positive number of seconds, got 0"),
        ("budget_s", math.inf, "budget_s must be a positive number of seconds, got inf"),
        ("amp", "int8", "unknown amp 'int8'; valid: bf16, fp16"),
        ("device", "tpu", "unknown device 'tpu'; valid here: cpu"),
    ],
)
def test_bad_request_fails_before_building(fake_registry, option, value, text):
    """Python callers read the parameter's name (the CLI's flags are checked in test_cli_errors)."""
    fake_registry.setattr("zoo.registry.build", lambda *a, **k: pytest.fail("built a model"))
    for call in (bench.bench_model, bench.bench_models):
        with pytest.raises(ZooError) as err:
            call("tiny", **{option: value})
        assert str(err.value).startswith(text) and err.value.exit_code == 2 and err.value.param in (option, None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path(fake_registry):
    model = nn.Linear(64, 64).cuda()
    x = torch.randn(8, 64, device="cuda")
    t = time_forward(lambda: model(x), device="cuda", budget_s=0.1)
    assert t.reps >= 5 and t.median_ms > 0 and t.device.startswith("cuda")
    mb, method = peak_memory_mb(lambda: model(x), device="cuda")
    assert method == "cuda.max_memory_allocated" and mb > 0
    row = bench.bench_model("tiny", device="cuda", batch_size=4, budget_s=0.1, amp="fp16", channels_last=True)
    _check_row(row)
    assert row.device.startswith("cuda") and row.mem_method == "cuda.max_memory_allocated"


# ---- registry models (the registry must load: a broken one fails here) -------------------
def test_row_registry_gan():
    row = bench.bench_model("dcgan", batch_size=2, budget_s=0.1)
    _check_row(row)
    assert row.kind == "gan" and row.depth == 5 and row.img_size == 64


# ---- the CLI -----------------------------------------------------------------------------
def _invoke(*args):
    from zoo.cli.app import app

    return CliRunner().invoke(app, ["bench", *map(str, args)])


def _assert_user_error(res, text, exit_code):
    """The exit code, exactly one non-empty stderr line, ``Error: `` + a message containing ``text``, no traceback."""
    assert res.exit_code == exit_code, (res.exit_code, res.output)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert text in lines[0], lines[0]
    assert "Traceback" not in res.output


def test_cli_json_csv_markdown_table(fake_registry):
    res = _invoke("tiny", "tinygan", "--json", "--budget", "0.05", "--batch-size", "2")
    assert res.exit_code == 0, res.output
    rows = [BenchRow.from_dict(d) for d in json.loads(res.stdout)]
    assert [r.name for r in rows] == ["tiny", "tinygan"]
    for r in rows:
        _check_row(r)
    res = _invoke("tiny", "--csv", "--budget", "0.05")
    assert res.exit_code == 0, res.output
    header, line = res.stdout.splitlines()
    assert header == ",".join(ROW_KEYS) and line.startswith("tiny,tiny,backbone,,,330,0.001324,2,") and line.endswith(",ok,,")
    res = _invoke("tiny*", "--kind", "backbone", "--markdown", "--budget", "0.05")
    assert res.exit_code == 0, res.output
    head, rule, row = res.stdout.splitlines()
    assert (
        head == "| model | top-1* | top-5* | params (M) | size MB | depth | GFLOPs | ms p50 | ms p90 | img/s | batch | peak MB | status |"
    )
    assert rule == "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    assert row.startswith("| tiny | - | - | 0.00 | 0.0 | 2 | ") and row.endswith(" | 8 | 0.6 | ok |")
    res = _invoke("tiny", "--budget", "0.05")
    assert res.exit_code == 0, res.output
    assert "zoo bench: cpu" in res.stdout and "\ntiny " in res.stdout and "GFLOPs" in res.stdout and "peak MB: tensor-peak" in res.stdout


def test_cli_bare_word_benches_both_vggs(monkeypatch):
    """``zoo bench vgg``: the real registry and expansion; the networks are stand-ins to stay fast."""
    monkeypatch.setattr("zoo.registry.build", _fake_build())
    res = _invoke("vgg", "--budget", "0.05", "--img-size", "32", "--batch-size", "2", "--json")
    assert res.exit_code == 0, res.output
    rows = [BenchRow.from_dict(d) for d in json.loads(res.stdout)]
    assert [r.name for r in rows] == ["vgg16", "vgg19"]
    assert [r.top1_ref for r in rows] == [71.592, 72.376]  # the registry's published figures
    for r in rows:
        _check_row(r)


def test_cli_failed_model(fake_registry):
    res = _invoke("broken", "tiny", "--json", "--budget", "0.05")
    assert res.exit_code == 1
    assert [r["status"] for r in json.loads(res.stdout)] == ["failed", "ok"]  # the run went on
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert lines == ["failed broken: RuntimeError: this model cannot be built", "Error: 1 of 2 model(s) failed: broken"]


@pytest.mark.parametrize(
    "args,text,exit_code",
    [
        (("tiny", "--device", "tpu"), "unknown device 'tpu'; valid here: cpu", 2),
        (("tiny", "--amp", "int8"), "unknown --amp 'int8'; valid: bf16, fp16", 2),
        (("tiny", "--json", "--csv"), "choose one of --json, --csv, --markdown", 2),
        (("nothing*",), "no model matches 'nothing*'", 2),
        (("nothing",), "unknown model 'nothing'", 2),
        (("tiny", "--kind", "gan"), "no model matches tiny --kind gan", 2),
        (("tiny", "--batch-size", "0"), "--batch-size must be at least 1, got 0", 2),
        (("tiny", "--img-size", "0"), "--img-size must be at least 1 pixel, got 0", 2),
        (("tiny", "--budget", "0"), "--budget must be a positive number of seconds, got 0.0", 2),
        *([] if torch.cuda.is_available() else [(("tiny", "--device", "cuda"), "--device cuda requested but CUDA is not available", 1)]),
    ],
)
def test_cli_errors(fake_registry, args, text, exit_code):
    fake_registry.setattr("zoo.registry.build", lambda *a, **k: pytest.fail("built a model"))  # checked before anything is built
    _assert_user_error(_invoke(*args), text, exit_code)


def test_cli_registry_resnet18():
    res = _invoke("resnet18", "--img-size", "32", "--batch-size", "2", "--budget", "0.1", "--json")
    assert res.exit_code == 0, res.output
    (row,) = [BenchRow.from_dict(d) for d in json.loads(res.stdout)]
    _check_row(row)
    assert row.name == "resnet18" and row.depth == 18 and row.params == 11_689_512 and row.top1_ref == 69.758


def test_cli_modules_do_not_import_torch():
    code = "import sys, zoo.cli.bench, zoo.cli.bench_format; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_one_parameter_count_everywhere():
    """``zoo list``, ``zoo info`` and ``zoo bench`` count the same parameters: all of the model's
    networks (a GAN's generator + discriminator), the registry's ``num_params`` (issue 18)."""
    from zoo.cli.app import app
    from zoo.registry import get_spec

    listed = json.loads(CliRunner().invoke(app, ["list", "dcgan", "--json"]).stdout)[0]["params"]
    info = json.loads(CliRunner().invoke(app, ["info", "dcgan", "--json"]).stdout)
    res = _invoke("dcgan", "--json", "--budget", "0.05", "--batch-size", "2")
    assert res.exit_code == 0, res.output
    benched = json.loads(res.stdout)[0]["params"]
    assert listed == benched == info["num_params"] == get_spec("dcgan").num_params
    assert "generator + discriminator" in info["params_counted"]
    text = CliRunner().invoke(app, ["list", "dcgan"]).stdout
    assert f"{listed / 1e6:.2f}M" in text.split() and "generator + discriminator" in text
