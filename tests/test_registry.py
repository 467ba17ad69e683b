"""The registry: TOML validated against the spec, and every model built, run and counted."""

from __future__ import annotations

import sys

import pytest

from zoo.errors import ZooError
from zoo.registry import build, get_spec, list_models, load_registry
from zoo.registry.catalog import specs_from_toml
from zoo.registry.spec import ModelSpec, spec_from_dict

ALL = [s.name for s in list_models()]
BACKBONES = [s.name for s in list_models(kind="backbone")]
GANS = [s.name for s in list_models(kind="gan")]

KERAS_TABLE = {  # every model of the Keras Applications table, by our name (issue 3)
    "xception",
    "vgg16",
    "vgg19",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnet50v2",
    "resnet101v2",
    "resnet152v2",
    "inception_v3",
    "inception_resnet_v2",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "densenet121",
    "densenet169",
    "densenet201",
    "nasnetmobile",
    "nasnetlarge",
}


def test_registry_has_every_family():
    assert set(BACKBONES) >= KERAS_TABLE
    assert {"resnet18", "resnext50_32x4d", "resnext101_32x8d"} <= set(BACKBONES)
    families = {s.family for s in list_models(kind="backbone")}
    assert families == {"xception", "vgg", "resnet", "inception", "mobilenet", "densenet", "nasnet"}
    assert {"vanilla_gan", "cgan", "dcgan", "lapgan"} <= set(GANS)


def test_toml_tables_validate(tmp_path):
    """zoo's catalogue and every built-in family package's own ``registry.toml``."""
    import importlib
    from importlib import resources

    from zoo.registry.manager import BUILTIN_PLUGINS

    packages = ["zoo.registry", *(p for p in BUILTIN_PLUGINS if hasattr(importlib.import_module(p), "__path__"))]
    specs = []
    for package in packages:
        if resources.files(package).joinpath("registry.toml").is_file():
            with resources.as_file(resources.files(package).joinpath("registry.toml")) as p:
                specs += specs_from_toml(p)
    assert {"srresnet", "srgan", "cyclegan", "lapgan"} <= {s.name for s in specs}
    assert [s.name for s in specs] and all(isinstance(s, ModelSpec) for s in specs)
    for s in specs:
        assert s.num_params > 0, s.name
        if s.kind == "backbone":
            assert s.stages and s.head and s.paper, s.name
            assert len(s.input_size) == 3 and s.input_size[0] == 3
            assert s.min_size <= s.input_size[-1]
            for w in s.weights:
                assert w.url.startswith(("https://", "http://")) and w.format in ("pth", "safetensors")
                assert w.top1 is None or 40 < w.top1 < 100
                assert w.top1 is None or w.metrics_source, f"{s.name}: top-1 without a source"


def test_spec_validation_errors():
    with pytest.raises(ZooError, match="unknown keys"):
        spec_from_dict("x", {"family": "f", "kind": "backbone", "plugin": "p", "arch": "a", "bogus": 1})
    with pytest.raises(ZooError, match="kind"):
        spec_from_dict("x", {"family": "f", "kind": "detector", "plugin": "p", "arch": "a"})
    with pytest.raises(ZooError, match="required key 'arch'"):
        spec_from_dict("x", {"family": "f", "kind": "gan", "plugin": "p"})


def test_unknown_model_suggests_close_names():
    with pytest.raises(ZooError, match="did you mean: resnet50"):
        get_spec("resnet5O")


def test_list_filters_and_natural_sort():
    names = [s.name for s in list_models("resnet*")]
    assert names.index("resnet18") < names.index("resnet50") < names.index("resnet101")
    assert all(s.family == "densenet" for s in list_models(family="densenet"))
    assert [s.name for s in list_models("vgg")] == ["vgg16", "vgg19"]


def test_listing_does_not_import_torch():
    import subprocess

    code = "import sys; from zoo.registry import list_models; list_models(); import zoo.cli.app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def _small_input(spec, batch=2):
    import torch

    size = max(spec.min_size, 32)
    return torch.randn(batch, spec.input_size[0], size, size)


@pytest.mark.parametrize("name", BACKBONES)
def test_backbone_builds_runs_and_counts(name):
    """Every backbone: param count equals the registry, forward + backward on a small input,
    stages cover every parameter exactly once, head reset and freezing work."""
    import torch

    spec = get_spec(name)
    adapter = build(name)
    model = adapter.model
    assert sum(p.numel() for p in model.parameters()) == spec.num_params
    assert adapter.stage_names() == list(spec.stages)

    owners: dict[str, str] = {}
    for stage in adapter.stages():
        for pname, _ in adapter.stage_parameters(stage):
            assert pname not in owners, f"{pname} in {owners.get(pname)} and {stage.name}"
            owners[pname] = stage.name
    assert set(owners) == {n for n, _ in model.named_parameters()}

    # exact trainable counts of every strategy at every stage (issue 9)
    from zoo.models.transfer import check_strategy, gradual_frozen_until

    names = list(spec.stages)
    per_stage = adapter.stage_param_counts()
    for i, stage in enumerate(names):  # freeze-until STAGE
        trainable, frozen = adapter.freeze_until(stage)
        adapter.train()
        assert (trainable, frozen) == (sum(per_stage[s] for s in names[i + 1 :]), sum(per_stage[s] for s in names[: i + 1]))
    _, probe = check_strategy("linear-probe", None, names, name)
    assert adapter.freeze_until(probe)[0] == per_stage[names[-1]]  # linear probe: the head alone
    for epoch in range(1, len(names) + 1):  # gradual: the head, then one more stage per epoch
        assert adapter.freeze_until(gradual_frozen_until(names, epoch))[0] == sum(per_stage[s] for s in names[-epoch:])
    assert adapter.freeze_until(None) == (spec.num_params, 0)  # full
    adapter.reset_head(7)
    adapter.freeze_until(spec.stages[1])
    frozen_roots = [m for s in adapter.stages()[:2] for m in s.modules]
    frozen_bn = [m for r in frozen_roots for m in model.get_submodule(r).modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert frozen_bn == []  # structurally frozen: FrozenBatchNorm2d, not BatchNorm2d
    model.train()  # even nn.Module.train(), not the adapter's
    buffers = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(tuple(r + "." for r in frozen_roots))}
    x = _small_input(spec)
    logits = model(x)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in buffers.items())
    assert logits.shape == (2, 7) and logits.dtype == torch.float32
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 3]))
    loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None and torch.isfinite(p.grad).all() for p in trainable)
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)


# Narrow test builds of the families whose defaults are too wide for a fast test (same layer structure).
_SMALL_GAN = {
    "stargan": {"class_names": ["0", "1"], "g_conv_dim": 4, "d_conv_dim": 4, "g_repeat_num": 1},
    "cyclegan": {"ngf": 4, "ndf": 4},
    "srgan": {"channels_g": 8, "channels_d": 8, "num_rcb": 1, "content_loss": "pixel"},
    "srresnet": {"channels_g": 8, "num_rcb": 1},
}


@pytest.mark.parametrize("name", GANS)
def test_gan_builds_trains_one_step_and_samples(name):
    """Every GAN family: param count equals the registry, one training iteration (n_critic
    iterations for WGAN-GP families) through the real Trainer changes every trained network,
    and the output has the right shape and range, the same for the same seed: samples of
    noise-to-image families, translations of image-to-image ones."""
    import torch

    from zoo.tasks.sampling import translates
    from zoo.training.trainer import Trainer

    spec = get_spec(name)
    assert sum(p.numel() for p in build(name).model.parameters()) == spec.num_params
    torch.manual_seed(0)
    adapter = build(name, image_size=16, channels=1, **_SMALL_GAN.get(name, {}))
    size = adapter.image_size
    x = torch.rand(8, adapter.channels, size, size) * 2 - 1
    y = torch.arange(8) % 2
    if name != "srresnet":  # FreezeD (issue 9): the lowest discriminator layer of every discriminator frozen
        from zoo.tasks.gan_transfer import discriminator_layers, freeze_discriminator

        lowest = tuple(p + "." for layers in discriminator_layers(adapter).values() for p in layers[0])
        freeze_discriminator(adapter, 1)
    before = {k: v.clone() for k, v in adapter.model.state_dict().items()}
    Trainer(epochs=1, progress=False).fit(adapter, [(x, y)] * adapter.n_critic)
    for net_name, net in adapter.model.items():
        changed = [k for k, v in net.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[f"{net_name}.{k}"])]
        assert changed, f"{name}: {net_name} did not change in one training iteration"
    if name != "srresnet":
        kept = [k for k in before if k.startswith(lowest)]
        assert kept and all(torch.equal(before[k], adapter.model.state_dict()[k]) for k in kept), name
    adapter.eval()
    if translates(adapter):
        lo, hi = getattr(adapter, "input_range", (-1.0, 1.0))
        inp = torch.rand(2, adapter.channels, size, size, generator=torch.Generator().manual_seed(1)) * (hi - lo) + lo
        target = adapter.condition.names[-1] if adapter.condition.kind == "attribute" else None  # StarGAN needs one
        a, b = adapter.translate(inp, target), adapter.translate(inp, target)
        assert a.dim() == 4 and a.shape[0] == 2 and a.dtype == torch.float32
    else:
        a, b = adapter.sample(4, seed=3), adapter.sample(4, seed=3)
        assert a.shape == (4, 1, 16, 16) and a.dtype == torch.float32
        assert not torch.equal(a, adapter.sample(4, seed=4))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1


def test_duplicate_model_name_across_plugins_is_an_error(fresh_registry):
    import types

    from zoo import hookimpl
    from zoo.registry.manager import get_plugin_manager

    clash = types.ModuleType("clashzoo")
    clash.zoo_model_specs = hookimpl(
        lambda: [spec_from_dict("resnet50", {"family": "x", "kind": "backbone", "plugin": "clashzoo", "arch": "x"})]
    )
    get_plugin_manager().register(clash, name="clashzoo")
    load_registry.cache_clear()
    with pytest.raises(
        ZooError, match=r"'resnet50' is contributed by both (zoo.plugins.resnet and clashzoo|clashzoo and zoo.plugins.resnet)"
    ):
        load_registry()


# Published parameter counts, independent of our registry: torchvision's Weights.meta
# ("num_params"), timm's results-imagenet.csv (param_count, millions, 2 decimals) and
# Cadene's NASNet-A Mobile checkpoint.
TORCHVISION_WEIGHTS = {
    "vgg16": "VGG16_Weights",
    "vgg19": "VGG19_Weights",
    "resnet18": "ResNet18_Weights",
    "resnet50": "ResNet50_Weights",
    "resnet101": "ResNet101_Weights",
    "resnet152": "ResNet152_Weights",
    "resnext50_32x4d": "ResNeXt50_32X4D_Weights",
    "resnext101_32x8d": "ResNeXt101_32X8D_Weights",
    "mobilenet_v2": "MobileNet_V2_Weights",
    "mobilenet_v3_small": "MobileNet_V3_Small_Weights",
    "mobilenet_v3_large": "MobileNet_V3_Large_Weights",
    "densenet121": "DenseNet121_Weights",
    "densenet169": "DenseNet169_Weights",
    "densenet201": "DenseNet201_Weights",
}
TIMM_PUBLISHED_M = {  # huggingface/pytorch-image-models results/results-imagenet.csv @ 7479d451
    "xception": 22.86,
    "inception_v3": 23.83,
    "inception_resnet_v2": 55.84,
    "mobilenet_v1": 4.23,
    "nasnetlarge": 88.75,
    "resnet50v2": 25.55,
    "resnet101v2": 44.54,
}


@pytest.mark.parametrize("name", sorted(TORCHVISION_WEIGHTS))
def test_param_count_equals_torchvision_metadata(name):
    import torchvision

    weights = getattr(torchvision.models, TORCHVISION_WEIGHTS[name]).DEFAULT
    assert get_spec(name).num_params == weights.meta["num_params"]


@pytest.mark.parametrize("name", sorted(TIMM_PUBLISHED_M))
def test_param_count_matches_timm_published(name):
    assert round(get_spec(name).num_params / 1e6, 2) == TIMM_PUBLISHED_M[name]


def test_nasnetmobile_param_count_equals_cadene_checkpoint():
    assert get_spec("nasnetmobile").num_params == 5_289_978  # Cadene nasnetamobile-7e03cead.pth, 1000 classes


def test_densenet_renames_the_old_keys_of_torchvisions_published_files(tmp_path):
    """The DenseNet plugin's own renaming (torchvision ``_load_state_dict``: ``norm.1`` -> ``norm1``)
    applies wherever weights are loaded into a DenseNet, and nowhere else."""
    import re

    import torch

    from zoo.models.weights import load_weights
    from zoo.registry import build

    torch.manual_seed(0)
    source = build("densenet121", num_classes=3)
    old = {
        re.sub(r"(denselayer\d+\.(?:norm|relu|conv))(\d)\.", r"\1.\2.", k): v
        for k, v in source.model.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }  # fmt: skip  (files from before PyTorch 0.4 have none)
    assert any(".norm.1." in k for k in old) and not any(".norm1." in k for k in old)
    torch.save(old, tmp_path / "old.pth")
    target = build("densenet121", num_classes=3)
    load_weights(target, str(tmp_path / "old.pth"), progress=False)
    assert all(torch.equal(v, source.model.state_dict()[k]) for k, v in target.model.state_dict().items())
    resnet = build("resnet18", num_classes=3)
    assert resnet.convert_state_dict({"layer1.0.norm.1.weight": 1}) == {"layer1.0.norm.1.weight": 1}
