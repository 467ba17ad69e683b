"""A throwaway third-party plugin distribution, found through the ``zoo`` entry-point group,
is seen by ``zoo list``, ``zoo info``, ``zoo bench`` and ``zoo adapt``."""

from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

PLUGIN = '''
"""tinyzoo: a third-party zoo plugin with one tiny backbone."""
from zoo import hookimpl
from zoo.registry.spec import ModelSpec

SPEC = ModelSpec(
    name="tinynet", family="tiny", kind="backbone", plugin="tinyzoo", arch="tinyzoo:tinynet",
    input_size=(3, 32, 32), min_size=8, num_params={num_params}, stages=("stem", "body", "fc"), head="fc",
    description="a 3-stage toy CNN from a third-party plugin", paper="none",
)

@hookimpl
def zoo_model_specs():
    return [SPEC]

@hookimpl
def zoo_build_model(spec, options):
    if spec.plugin != "tinyzoo":
        return None
    from torch import nn
    from zoo.models.adapters import BackboneAdapter, Stage

    class TinyNet(nn.Module):
        def __init__(self, num_classes):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.body = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.fc = nn.Linear(16, num_classes)

        def forward(self, x):
            return self.fc(self.body(self.stem(x)))

    model = TinyNet(int(options.get("num_classes") or spec.num_classes))
    stages = [Stage("stem", ("stem",)), Stage("body", ("body",)), Stage("fc", ("fc",))]
    return BackboneAdapter(spec, model, stages, "fc")
'''
# conv 3*8*9+8, bn 16, conv 8*16*9+16, bn 32, fc 16*1000+1000
NUM_PARAMS = (3 * 8 * 9 + 8) + 16 + (8 * 16 * 9 + 16) + 32 + (16 * 1000 + 1000)


@pytest.fixture
def tinyzoo(tmp_path, monkeypatch, fresh_registry):
    site = tmp_path / "site"
    (site / "tinyzoo").mkdir(parents=True)
    (site / "tinyzoo" / "__init__.py").write_text(PLUGIN.replace("{num_params}", str(NUM_PARAMS)))
    dist = site / "tinyzoo-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tinyzoo\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent("""\
        [zoo]
        tinyzoo = tinyzoo
        """)
    )
    monkeypatch.syspath_prepend(str(site))
    from zoo.registry import reset_registry

    reset_registry()
    yield site


def _run(args):
    from zoo.cli.app import app

    return CliRunner().invoke(app, args)


def test_plugin_is_listed_and_described(tinyzoo):
    res = _run(["list", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["tinynet"]["family"] == "tiny" and "resnet50" in rows

    res = _run(["info", "tinynet", "--json", "--measure"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert [s["name"] for s in info["stages"]] == ["stem", "body", "fc"]
    assert sum(s["params"] for s in info["stages"]) == NUM_PARAMS

    res = _run(["plugins", "--json"])
    plugins = {p["name"]: p for p in json.loads(res.stdout)}
    assert plugins["tinyzoo"]["models"] == ["tinynet"] and not plugins["tinyzoo"]["builtin"]
    assert plugins["tinyzoo"]["distribution"] == "tinyzoo 0.1.0"


def test_plugin_bench_and_adapt(tinyzoo, tmp_path):
    res = _run(["bench", "tinynet", "--json", "--budget", "0.05", "--batch-size", "2"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)
    assert row["name"] == "tinynet" and row["params"] == NUM_PARAMS and row["depth"] == 3 and row["status"] == "ok"

    out = tmp_path / "adapted"
    res = _run(["adapt", "tinynet", "--head", "3", "--freeze-until", "stem", "--weights", "none", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    stem = 3 * 8 * 9 + 8 + 16
    assert summary["frozen_params"] == stem
    assert summary["trainable_params"] == NUM_PARAMS - stem - (16 * 1000 + 1000) + (16 * 3 + 3)
    assert (out / "model.safetensors").exists() and json.loads((out / "model.json").read_text())["model"] == "tinynet"


def test_zoo_plugins_env_limits_loading(tinyzoo, monkeypatch):
    from zoo.registry import list_models, reset_registry

    monkeypatch.setenv("ZOO_PLUGINS", "vgg,tinyzoo")
    reset_registry()
    assert {s.name for s in list_models()} == {"vgg16", "vgg19", "tinynet"}
