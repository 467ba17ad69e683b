"""``--model-kwargs KEY=VALUE ...`` on train, adapt and pretrain (issue 18, item 2): values typed by
the model's declared build options (``zoo_model_options``), unknown keys with did-you-mean, options
set from the data refused naming what sets them, ``zoo info`` listing every option; checked with a
third-party plugin that declares options, and with the backbones' own (timm / torchvision keywords)."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

from tests.cli_helpers import assert_user_error, run

PLUGIN = '''
"""optzoo: a third-party plugin whose tiny backbone declares build options."""
from zoo import hookimpl
from zoo.errors import ZooError
from zoo.pluginkit import BuildOption, options_hook
from zoo.registry.spec import ModelSpec

SPECS = [
    ModelSpec(name="optnet", family="opt", kind="backbone", plugin="optzoo", arch="optzoo:optnet", input_size=(3, 32, 32),
              min_size=8, stages=("stem", "body", "fc"), head="fc", description="declares options"),
    ModelSpec(name="plainnet", family="opt", kind="backbone", plugin="optzoo", arch="optzoo:plainnet", input_size=(3, 32, 32),
              min_size=8, stages=("stem", "body", "fc"), head="fc", description="declares none"),
]

OPTIONS = [
    BuildOption("width", "int", 8, "channels of the stem", minimum=2),
    BuildOption("act", "choice", "relu", "activation", choices=("relu", "gelu")),
    BuildOption("bias", "bool", True, "convolutions with a bias"),
    BuildOption("scale", "float", 1.0, "output scale", minimum=0),
    BuildOption("tag", "str", "x", "a free-text label"),
    BuildOption("image_size", "int", None, "input side in pixels", from_data=True),
]

@hookimpl
def zoo_model_specs():
    return SPECS

zoo_model_options = options_hook("optzoo", lambda spec: OPTIONS if spec.name == "optnet" else [])

@hookimpl
def zoo_build_model(spec, options):
    if spec.plugin != "optzoo":
        return None
    from torch import nn
    from zoo.models.adapters import BackboneAdapter, Stage

    width = options.get("width") or 8
    if width % 2:
        raise ZooError("optnet {param} must be even, got " + str(width), param="width", exit_code=2)
    act = nn.GELU() if options.get("act") == "gelu" else nn.ReLU()
    bias = options.get("bias", True) is not False

    class OptNet(nn.Module):
        def __init__(self, num_classes):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=bias), act)
            self.body = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.fc = nn.Linear(width, num_classes)

        def forward(self, x):
            return self.fc(self.body(self.stem(x)))

    stages = [Stage("stem", ("stem",)), Stage("body", ("body",)), Stage("fc", ("fc",))]
    adapter = BackboneAdapter(spec, OptNet(int(options.get("num_classes") or spec.num_classes)), stages, "fc")
    adapter.build_options = {k: options[k] for k in ("width", "act", "bias", "scale", "tag") if options.get(k) is not None}
    return adapter
'''


@pytest.fixture
def optzoo(tmp_path, monkeypatch, fresh_registry):
    site = tmp_path / "site"
    (site / "optzoo").mkdir(parents=True)
    (site / "optzoo" / "__init__.py").write_text(PLUGIN)
    dist = site / "optzoo-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: optzoo\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("[zoo]\noptzoo = optzoo\n"))
    monkeypatch.syspath_prepend(str(site))
    from zoo.registry import reset_registry

    reset_registry()
    yield site


def test_info_lists_each_option_with_type_default_meaning(optzoo):
    res = run("info", "optnet", "--json")
    assert res.exit_code == 0, res.output
    opts = {o["name"]: o for o in json.loads(res.stdout)["build_options"]}
    assert list(opts) == ["width", "act", "bias", "scale", "tag", "image_size"]
    assert opts["width"] == {
        "name": "width", "type": "int", "default": 8, "help": "channels of the stem", "choices": [], "minimum": 2,
        "from_data": False, "maximum": None,
    }  # fmt: skip
    assert opts["act"]["choices"] == ["relu", "gelu"] and opts["image_size"]["from_data"]
    res = run("info", "optnet")
    assert res.exit_code == 0, res.output
    lines = {ln.split()[0]: ln for ln in res.stdout.splitlines() if ln.split() and ln.split()[0] in opts}
    assert lines["width"].split()[1:4] == ["int", ">=", "2"] and " 8 " in lines["width"] and "channels of the stem" in lines["width"]
    assert "relu | gelu" in lines["act"] and "true" in lines["bias"] and "set by zoo" in lines["image_size"]
    res = run("info", "plainnet")
    assert "build options: none declared (plainnet takes no --model-kwargs)" in res.stdout


def test_train_types_each_value_and_builds_with_it(optzoo, tmp_path):
    out = tmp_path / "run"
    args = ["train", "optnet", "--data", "digits:0-2", "--epochs", "1", "--img-size", "8", "--out", out, "--json"]
    res = run(*args, "--model-kwargs", "width=4", "act=gelu", "bias=false", "scale=0.5", "tag=hello world")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    want = {"width": 4, "act": "gelu", "bias": False, "scale": 0.5, "tag": "hello world"}
    assert summary["model_kwargs"] == want
    meta = json.loads((out / "model.json").read_text())
    assert meta["model_kwargs"] == want and meta["config"]["width"] == 4 and meta["config"]["bias"] is False
    from safetensors.torch import load_file

    state = load_file(out / "model.safetensors")
    assert tuple(state["stem.0.weight"].shape) == (4, 3, 3, 3) and "stem.0.bias" not in state
    # resuming takes the run's options; other ones are refused naming --model-kwargs
    res = run("train", "optnet", "--resume", out, "--model-kwargs", "width=6")
    assert_user_error(res, "--model-kwargs", "differs from the run's")


@pytest.mark.parametrize(
    ("pairs", "needles"),
    [
        (["widht=4"], ["optnet has no build option 'widht' (did you mean: width?)", "--model-kwargs takes width, act, bias, scale, tag"]),
        (["image_size=64"], ["optnet's image_size is set by zoo from --img-size, not by --model-kwargs"]),
        (["width=abc"], ["optnet --model-kwargs width must be an int (channels of the stem), got 'abc'"]),
        (["width=1"], ["optnet --model-kwargs width must be an int >= 2"]),
        (["act=tanh"], ["optnet --model-kwargs act must be one of relu, gelu (activation), got 'tanh'"]),
        (["bias=maybe"], ["optnet --model-kwargs bias must be true or false"]),
        (["scale=nan"], ["optnet --model-kwargs scale must be a finite number"]),
        (["width"], ["--model-kwargs takes KEY=VALUE pairs", "'width'"]),
        (["width=4", "width=6"], ["--model-kwargs gives width twice"]),
        (["width=6 "[:-1] + "7"], ["optnet --model-kwargs width must be even, got 67"]),  # the plugin's own check, named as the flag
    ],
)
def test_bad_model_kwargs_are_one_line(optzoo, tmp_path, pairs, needles):
    out = tmp_path / "never"
    res = run("train", "optnet", "--data", "digits:0-2", "--epochs", "1", "--img-size", "8", "--out", out, "--model-kwargs", *pairs)
    assert_user_error(res, *needles)
    assert res.exit_code == 2
    if "even" not in needles[0]:  # refused before anything is written
        assert not out.exists()


def test_a_model_without_options_says_so(optzoo):
    res = run("train", "plainnet", "--data", "digits:0-2", "--model-kwargs", "width=4")
    assert_user_error(res, "plainnet declares no build options, so --model-kwargs has nothing to set", "zoo info plainnet")


def test_python_callers_pass_typed_values(optzoo):
    from zoo.errors import ZooError
    from zoo.tasks.model_kwargs import check_model_kwargs

    assert check_model_kwargs("optnet", {"width": 4, "bias": "false", "scale": 2}) == {"width": 4, "bias": False, "scale": 2.0}
    with pytest.raises(ZooError, match=r"^optnet width must be an int >= 2 \(channels of the stem\), got True$") as err:
        check_model_kwargs("optnet", {"width": True})
    assert err.value.for_cli() == "optnet --model-kwargs width must be an int >= 2 (channels of the stem), got True"
    with pytest.raises(ZooError, match=r"^optnet has no build option 'zzz'; model_kwargs takes width"):
        check_model_kwargs("optnet", {"zzz": 3})


def test_adapt_takes_model_kwargs(optzoo, tmp_path):
    res = run(
        "adapt", "optnet", "--head", "3", "--weights", "none", "--data", "digits:0-2", "--shots", "5", "--epochs", "1",
        "--img-size", "8", "--out", tmp_path / "b",
        "--model-kwargs", "width=6", "act=gelu", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["model_kwargs"] == {"width": 6, "act": "gelu"}
    assert_user_error(run("adapt", "optnet", "--head", "3", "--model-kwargs", "wdth=6"), "did you mean: width?")


def test_pretrain_takes_model_kwargs(optzoo, tmp_path):
    out = tmp_path / "pre"
    res = run(
        "pretrain", "optnet", "--method", "autoencoder", "--data", "digits:0-1", "--epochs", "1", "--img-size", "8", "--out", out,
        "--model-kwargs", "width=4", "bias=false", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["model_kwargs"] == {"width": 4, "bias": False}
    assert json.loads((out / "model.json").read_text())["training"]["model_kwargs"] == {"width": 4, "bias": False}
    res = run("pretrain", "optnet", "--method", "greedy", "--data", "digits", "--model-kwargs", "dropout=0.1")
    assert_user_error(res, "optnet has no build option 'dropout'")


def test_several_pairs_after_one_flag_and_the_joined_form():
    from zoo.cli.app import expand_multi_value

    assert expand_multi_value(["train", "x", "--model-kwargs", "a=1", "b=2", "--epochs", "3"]) == [
        "train", "x", "--model-kwargs", "a=1", "--model-kwargs", "b=2", "--epochs", "3",
    ]  # fmt: skip
    assert expand_multi_value(["--model-kwargs=a=1", "b=2", "digits"]) == ["--model-kwargs=a=1", "--model-kwargs", "b=2", "digits"]
    assert expand_multi_value(["--model-kwargs", "a=1", "--", "b=2"]) == ["--model-kwargs", "a=1", "--", "b=2"]


# ---- the backbones' declared options reach the network ------------------------------------------
def _module_ps(model, cls):
    return [m.p for m in model.modules() if isinstance(m, cls)]


def _head_drop(model):
    """timm's dropout before the classifier: the model's ``drop_rate``, or its head's ``Dropout``."""
    return getattr(model, "drop_rate", None) or _module_ps(model, torch.nn.Dropout)[-1]


@pytest.mark.parametrize(
    ("name", "kwargs", "check"),
    [
        ("resnet18", {"zero_init_residual": True}, lambda m: float(m.layer1[0].bn2.weight.abs().sum()) == 0),
        ("resnet50v2", {"drop_rate": 0.3, "drop_path_rate": 0.2}, lambda m: m.drop_rate == 0.3 and m.stages[3].blocks[-1].drop_path.drop_prob == pytest.approx(0.2)),
        ("mobilenet_v1", {"drop_rate": 0.25, "drop_path_rate": 0.1}, lambda m: m.drop_rate == 0.25),
        ("mobilenet_v2", {"dropout": 0.4}, lambda m: _module_ps(m, torch.nn.Dropout) == [0.4]),
        ("mobilenet_v3_small", {"dropout": 0.35}, lambda m: _module_ps(m, torch.nn.Dropout) == [0.35]),
        ("vgg16", {"dropout": 0.1}, lambda m: _module_ps(m, torch.nn.Dropout) == [0.1, 0.1]),
        ("densenet121", {"drop_rate": 0.25}, lambda m: m.features.denseblock1.denselayer1.drop_rate == 0.25),
        ("xception", {"drop_rate": 0.2}, lambda m: _head_drop(m) == 0.2),
        ("inception_v3", {"drop_rate": 0.2}, lambda m: _head_drop(m) == 0.2),
        ("nasnetmobile", {"drop_rate": 0.3}, lambda m: _head_drop(m) == 0.3),
    ],
)  # fmt: skip
def test_backbone_options_reach_the_network(name, kwargs, check):
    from zoo.registry import build, model_options
    from zoo.tasks.model_kwargs import check_model_kwargs

    declared = {o.name for o in model_options(name)}
    assert set(kwargs) <= declared
    typed = check_model_kwargs(name, {k: str(v).lower() for k, v in kwargs.items()})  # as the command line gives them
    adapter = build(name, num_classes=3, **typed)
    assert check(adapter.model)
    assert {k: adapter.config()[k] for k in kwargs} == kwargs


def test_every_backbone_declares_options_and_a_bad_rate_is_one_line():
    from zoo.registry import list_models, model_options

    for spec in list_models(kind="backbone"):
        assert model_options(spec.name), spec.name
    assert_user_error(
        run("adapt", "resnet50v2", "--head", "2", "--model-kwargs", "drop_rate=1.5"), "--model-kwargs drop_rate must be at most 1"
    )
