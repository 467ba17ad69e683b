"""Tests for the DCGAN plugin (Radford et al. 2016, arXiv:1511.06434): the package plugins/dcgan,
its torch-free hook module (__init__.py, made by zoo.pluginkit.gan_hooks), networks, official
(pytorch/examples checkpoints) and adapter.

Reference compatibility: the default generator and discriminator must have exactly the
state-dict layout of pytorch/examples ``dcgan/main.py`` (commit 77f55b9) and, loaded with
the synthetic weights of ``tests/fixtures/reference/README.md``, reproduce the stored outputs.
The fixtures live in ``tests/fixtures/reference``; a missing one fails the test. Offline, CPU, seeded.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from reference_fixtures import load_reference, synthetic_state_dict, weights_sha256
from torch.utils.data import DataLoader, TensorDataset

from zoo.errors import ZooError
from zoo.pluginkit import gan_hooks
from zoo.plugins import dcgan
from zoo.plugins.dcgan.adapter import DCGANAdapter
from zoo.plugins.dcgan.official import infer_reference_config
from zoo.training.trainer import Trainer

G_PARAMS = 3_576_704  # pytorch/examples Generator (nz=100, ngf=64, nc=3)
D_PARAMS = 2_765_568  # pytorch/examples Discriminator (ndf=64, nc=3)


@pytest.fixture(scope="module")
def spec():
    specs = {s.name: s for s in dcgan.zoo_model_specs()}
    assert "dcgan" in specs, "plugins/dcgan/registry.toml has no [models.dcgan] table"
    return specs["dcgan"]


def build(spec, seed: int = 0, **options):
    torch.manual_seed(seed)
    adapter = dcgan.zoo_build_model(spec, options)
    assert adapter is not None
    return adapter


def nparams(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# -- plugin and registry ------------------------------------------------------------


def test_registering_and_listing_do_not_import_torch():
    code = "import sys\nfrom zoo.registry import load_registry\nload_registry()\nassert 'torch' not in sys.modules, 'torch was imported'\n"
    env = {**os.environ, "ZOO_PLUGINS": "dcgan"}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)


def test_hook_module_is_made_by_gan_hooks():
    assert not hasattr(dcgan, "__getattr__")  # no PEP 562 shim: the networks live in zoo.plugins.dcgan.networks
    assert dcgan.zoo_build_model.__module__ == "zoo.pluginkit"


def test_gan_hooks_without_options_passes_what_the_adapter_takes(spec):
    specs, build_hook = gan_hooks("zoo.plugins.dcgan", adapter="zoo.plugins.dcgan.adapter:DCGANAdapter", specs=lambda: [spec])
    assert specs() == [spec]
    torch.manual_seed(0)
    # num_classes is not an argument of DCGANAdapter and is ignored; None takes the default
    adapter = build_hook(spec, {"image_size": 16, "channels": 1, "ngf": 4, "ndf": 4, "latent_dim": None, "num_classes": 3})
    assert isinstance(adapter, DCGANAdapter)
    assert adapter.config() == {"latent_dim": 100, "image_size": 16, "channels": 1, "ngf": 4, "ndf": 4}
    assert build_hook(dataclasses.replace(spec, plugin="someone.else"), {}) is None


def test_gan_hooks_errors(spec):
    with pytest.raises(ValueError, match=re.escape("'package.module:ClassName', got 'zoo.plugins.dcgan.adapter.DCGANAdapter'")):
        gan_hooks("zoo.plugins.dcgan", adapter="zoo.plugins.dcgan.adapter.DCGANAdapter")
    _, missing_module = gan_hooks("zoo.plugins.dcgan", adapter="zoo.plugins.no_such_model:X")
    with pytest.raises(ZooError) as info:
        missing_module(spec, {})
    assert str(info.value).startswith("plugin zoo.plugins.dcgan: cannot import its adapter module 'zoo.plugins.no_such_model' (")
    assert str(info.value).endswith("); reinstall the plugin")
    _, missing_class = gan_hooks("zoo.plugins.dcgan", adapter="zoo.plugins.dcgan.adapter:NoSuchAdapter")
    with pytest.raises(ZooError) as info:
        missing_class(spec, {})
    assert str(info.value) == (
        "plugin zoo.plugins.dcgan: module 'zoo.plugins.dcgan.adapter' has no adapter class 'NoSuchAdapter'; check the adapter= path"
    )


def test_adapter_is_imported_only_when_a_model_is_built():
    code = (
        "import sys\n"
        "from zoo.pluginkit import gan_hooks\n"
        "from zoo.plugins import dcgan\n"
        "specs = dcgan.zoo_model_specs()\n"
        "assert [s.name for s in specs] == ['dcgan'], specs\n"
        "assert 'torch' not in sys.modules and 'zoo.plugins.dcgan.adapter' not in sys.modules\n"
        "adapter = dcgan.zoo_build_model(specs[0], {'image_size': 16, 'ngf': 4, 'ndf': 4})\n"
        "assert type(adapter).__module__ == 'zoo.plugins.dcgan.adapter' and 'torch' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_spec_matches_built_model(spec):
    assert (spec.family, spec.kind, spec.arch) == ("dcgan", "gan", "dcgan")
    adapter = build(spec)
    assert spec.num_params == nparams(adapter.model) == G_PARAMS + D_PARAMS
    assert adapter.condition.kind == "none" and adapter.n_critic == 1
    assert list(adapter.model) == ["generator", "discriminator"]  # checkpoints hold both networks by name
    configs = adapter.configure_optimizers()  # Adam(2e-4, betas (0.5, 0.999)) per network, constant lr (the paper)
    assert sorted(configs) == ["discriminator", "generator"]
    assert all(c.lr == 2e-4 and c.betas == (0.5, 0.999) and c.schedule.kind == "constant" for c in configs.values())
    assert adapter.config() == {"latent_dim": 100, "image_size": 64, "channels": 3, "ngf": 64, "ndf": 64}


def test_other_plugins_specs_are_declined(spec):
    assert dcgan.zoo_build_model(dataclasses.replace(spec, plugin="someone.else"), {}) is None


def test_build_through_plugin_manager(monkeypatch):
    from zoo.registry import build as zoo_build
    from zoo.registry import reset_registry

    monkeypatch.setenv("ZOO_PLUGINS", "dcgan")
    reset_registry()
    try:
        torch.manual_seed(0)
        adapter = zoo_build("dcgan", image_size=32, channels=1, num_classes=10)  # num_classes is ignored
        assert type(adapter).__name__ == "DCGANAdapter"
        assert (adapter.image_size, adapter.channels) == (32, 1)
    finally:
        monkeypatch.delenv("ZOO_PLUGINS")
        reset_registry()


@pytest.mark.parametrize(
    "options, words",
    [
        ({"image_size": 48}, "power of two"),
        ({"image_size": 8}, "power of two >= 16"),
        ({"image_size": "64"}, "image_size"),
        ({"channels": 0}, "channels"),
        ({"channels": True}, "channels"),
        ({"latent_dim": -1}, "latent_dim"),
        ({"ngf": 0}, "ngf"),
        ({"ndf": 2.5}, "ndf"),
    ],
)
def test_bad_options_raise_zoo_error(spec, options, words):
    with pytest.raises(ZooError, match=words) as info:
        dcgan.zoo_build_model(spec, options)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2 and info.value.param == next(iter(options))


def test_none_options_take_defaults(spec):
    assert dcgan.resolve_options(spec, {"image_size": None, "channels": None, "num_classes": 5}) == {
        "image_size": 64,
        "channels": 3,
        "latent_dim": 100,
        "ngf": 64,
        "ndf": 64,
    }


# -- pytorch/examples reference ----------------------------------------------------


def _layout(module):
    return [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in module.state_dict().items()]


def _assert_close(out, ref):
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


@pytest.mark.parametrize("part", ["generator", "discriminator"])
def test_reference_state_dict_layout_and_params(spec, part):
    meta, _ = load_reference(f"dcgan_{part}")
    module = getattr(build(spec), part)
    assert _layout(module) == meta["state_dict"]
    # layer types, kernels, strides, paddings, bias flags, norm eps/momentum, activations
    assert repr(module).splitlines() == meta["module_repr"]
    assert nparams(module) == meta["num_params"] == {"generator": G_PARAMS, "discriminator": D_PARAMS}[part]


def test_reference_generator_outputs(spec):
    meta, io = load_reference("dcgan_generator")
    sd = synthetic_state_dict(meta["state_dict"])
    assert weights_sha256(sd) == meta["weights_sha256"]
    adapter = build(spec)
    adapter.load_reference_state_dict(generator_sd=sd)
    g = adapter.generator
    with torch.no_grad():
        _assert_close(g.eval()(io["input"]), io["output"])
    adapter.load_reference_state_dict(generator_sd=sd)  # fresh running stats, as the fixture
    with torch.no_grad():
        _assert_close(g.train()(io["input"]), io["output_trainmode"])


def test_reference_discriminator_output(spec):
    meta, io = load_reference("dcgan_discriminator")
    sd = synthetic_state_dict(meta["state_dict"])
    assert weights_sha256(sd) == meta["weights_sha256"]
    adapter = build(spec)
    adapter.load_reference_state_dict(discriminator_sd=sd)
    with torch.no_grad():
        out = adapter.discriminator.eval()(io["input"])
        logits = adapter.discriminator(io["input"], logits=True)
    assert out.shape == io["output"].shape == (2,)
    _assert_close(out, io["output"])
    # The sigmoid squashes differences (the stored output is ~0.507); compare the scores too.
    _assert_close(logits, torch.logit(io["output"].double()).float())


def test_load_reference_state_dict_prefix_old_format_and_errors(spec):
    src = build(spec, seed=1)
    dst = build(spec, seed=2)
    g_sd = {f"module.{k}": v for k, v in src.generator.state_dict().items()}  # DataParallel-wrapped
    d_sd = {k: v for k, v in src.discriminator.state_dict().items() if not k.endswith("num_batches_tracked")}  # PyTorch < 0.4
    dst.load_reference_state_dict(generator_sd=g_sd, discriminator_sd=d_sd)
    for a, b in zip(src.model.parameters(), dst.model.parameters(), strict=True):
        assert torch.equal(a, b)

    grey = build(spec, image_size=32, channels=1)
    with pytest.raises(ZooError, match=r"image_size=32.*channels=1"):
        dst.load_reference_state_dict(generator_sd=grey.generator.state_dict())
    with pytest.raises(ZooError, match="discriminator state dict"):
        dst.load_reference_state_dict(discriminator_sd={"main.0.weight": torch.zeros(1)})
    assert infer_reference_config(grey.generator.state_dict(), grey.discriminator.state_dict()) == {
        "image_size": 32,
        "channels": 1,
        "latent_dim": 100,
        "ngf": 64,
        "ndf": 64,
    }


# -- shapes, training and sampling ------------------------------------------------


@pytest.mark.parametrize("image_size", [16, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_forward_backward(spec, image_size, channels):
    adapter = build(spec, image_size=image_size, channels=channels, ngf=16, ndf=16)
    g, d = adapter.generator, adapter.discriminator
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules()) == image_size.bit_length() - 2
    z = torch.randn(4, 100, 1, 1)
    x = g(z)
    assert x.shape == (4, channels, image_size, image_size) and x.dtype == torch.float32
    assert x.abs().max() <= 1
    p = d(x)
    assert p.shape == (4,) and ((p > 0) & (p < 1)).all()
    p.sum().backward()
    assert all(q.grad is not None and torch.isfinite(q.grad).all() for q in adapter.model.parameters())


def test_image_size_128_adds_a_block(spec):
    default, big = build(spec), build(spec, image_size=128, ngf=8, ndf=8)
    assert len(big.generator.main) == len(default.generator.main) + 3
    assert len(big.discriminator.main) == len(default.discriminator.main) + 3
    assert big.generator(torch.randn(2, 100, 1, 1)).shape == (2, 3, 128, 128)


def test_weights_init_follows_the_paper(spec):
    adapter = build(spec)
    w = adapter.generator.main[0].weight.detach()
    assert abs(float(w.std()) - 0.02) < 0.001 and abs(float(w.mean())) < 0.001
    bn = adapter.discriminator.main[3]
    assert abs(float(bn.weight.detach().mean()) - 1) < 0.01 and float(bn.bias.detach().abs().max()) == 0
    assert torch.equal(build(spec, seed=3).generator.main[0].weight, build(spec, seed=3).generator.main[0].weight)


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 digits, bilinearly upsampled to 32x32, in [-1, 1]: (1797, 1, 32, 32) float32."""
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    x = torch.from_numpy(sklearn_datasets.load_digits().images).float()[:, None] / 16.0
    x = F.interpolate(x, size=32, mode="bilinear", align_corners=False)
    return x.clamp(0, 1) * 2 - 1


def test_training_through_the_trainer_on_digits(spec, digits):
    """Three iterations of zoo.training.trainer.Trainer: per iteration the discriminator sees the real
    then the fake batch, is stepped, and only then is the generator loss computed, through a
    discriminator excluded from the generator step's graph (pytorch/examples' order)."""
    adapter = build(spec, image_size=32, channels=1, ngf=16, ndf=16)
    g0 = [p.detach().clone() for p in adapter.generator.parameters()]
    d0 = [p.detach().clone() for p in adapter.discriminator.parameters()]
    first = adapter.discriminator.main[0].weight
    seen = []  # per discriminator forward, as a DDP wrapper would see it: batch, D weights, grad flag

    def record(module, args):
        seen.append((len(args[0]), first.detach().clone(), first.requires_grad))

    adapter.discriminator.register_forward_pre_hook(record)
    labels = torch.zeros(96, dtype=torch.int64)
    loader = DataLoader(TensorDataset(digits[:96], labels), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    result = Trainer(epochs=1, progress=False).fit(adapter, loader)

    assert result["steps"] == 3 and len(seen) == 9
    for it in range(3):
        real, fake, gen = seen[3 * it : 3 * it + 3]
        assert (real[0], fake[0], gen[0]) == (32, 32, 32)
        assert torch.equal(real[1], fake[1]) and not torch.equal(fake[1], gen[1])  # D stepped before the generator loss
        assert (real[2], fake[2], gen[2]) == (True, True, False)  # D frozen inside the generator step
    assert first.requires_grad  # and unfrozen afterwards
    assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(result)
    assert all(isinstance(result[k], float) and math.isfinite(result[k]) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    assert 0 < result["d_real"] < 1 and 0 < result["d_fake"] < 1
    assert all(not torch.equal(a, b) for a, b in zip(g0, adapter.generator.parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(d0, adapter.discriminator.parameters(), strict=True))


def test_generator_step_leaves_no_gradients_on_the_discriminator(spec, digits):
    adapter = build(spec, image_size=32, channels=1, ngf=8, ndf=8)
    steps = adapter.training_step((digits[:8], torch.zeros(8, dtype=torch.int64)))
    d_step, g_step = next(steps), next(steps)
    assert (d_step.optimizer, g_step.optimizer) == ("discriminator", "generator")
    assert d_step.loss.dim() == 0 and g_step.loss.dim() == 0
    g_step.loss.backward()
    assert all(p.grad is None for p in adapter.discriminator.parameters())
    assert all(p.grad is not None for p in adapter.generator.parameters())
    assert next(steps, None) is None


def test_training_step_rejects_wrong_image_shape(spec):
    adapter = build(spec, image_size=32, channels=1, ngf=8, ndf=8)
    with pytest.raises(ZooError, match=r"\(N, 1, 32, 32\)"):
        next(adapter.training_step((torch.zeros(2, 3, 32, 32), torch.zeros(2))))


def test_sample_is_deterministic_in_range_and_keeps_modes(spec):
    adapter = build(spec, image_size=32, channels=1, ngf=16, ndf=16)
    adapter.train()
    x = adapter.sample(6, seed=5)
    assert x.shape == (6, 1, 32, 32) and x.dtype == torch.float32 and x.device.type == "cpu"
    assert x.min() >= 0 and x.max() <= 1
    assert torch.equal(x, adapter.sample(6, seed=5))
    assert not torch.equal(x, adapter.sample(6, seed=6))
    assert adapter.generator.training and adapter.discriminator.training

    before = {k: v.clone() for k, v in adapter.generator.state_dict().items()}
    y = adapter.sample(6, seed=5, batch_stats=True)  # pytorch/examples' way: batch statistics
    assert torch.equal(y, adapter.sample(6, seed=5, batch_stats=True)) and not torch.equal(x, y)
    assert all(torch.equal(v, adapter.generator.state_dict()[k]) for k, v in before.items())
    adapter.eval()
    assert torch.equal(adapter.sample(6, seed=5), x) and not adapter.generator.training
    with pytest.raises(ZooError, match="unconditional"):
        adapter.sample(2, condition=torch.tensor([1]))
    with pytest.raises(ZooError):
        adapter.sample(0)


# -- zoo.tasks: train, metrics log, sample grid ---------------------------------------------


def test_train_writes_the_metrics_log_beside_the_checkpoint(tmp_path):
    from zoo import tasks

    out = tmp_path / "run"
    summary = tasks.train(
        "dcgan",
        "digits:0-1",
        epochs=2,
        out=out,
        img_size=16,
        batch_size=64,
        progress=False,
        build_options={"ngf": 4, "ndf": 4, "latent_dim": 8},
    )
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [1, 2] and log == summary["history"]
    assert (out / "metrics.jsonl").stat().st_mode & 0o777 == 0o644 & ~_umask()
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no partial or temporary file


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_save_grid_writes_one_png_atomically(tmp_path):
    from PIL import Image

    from zoo.io.grids import save_grid

    images = torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    path = save_grid(images, tmp_path / "sub" / "grid.png")
    assert path == tmp_path / "sub" / "grid.png" and os.listdir(path.parent) == ["grid.png"]
    assert path.stat().st_mode & 0o777 == 0o644 & ~_umask()
    with Image.open(path) as im:
        # 3 x 2 cells of 64 px (16 px enlarged 4 times) with 2-px borders, RGB as make_grid makes it
        assert (im.format, im.mode, im.size) == ("PNG", "RGB", (3 * 66 + 2, 2 * 66 + 2))
        first = torch.from_numpy(np.asarray(im)[2:66, 2:66, 0].copy()).float() / 255
    expected = F.interpolate(images[:1], scale_factor=4, mode="nearest")[0, 0]
    assert (first - expected).abs().max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ZooError) as info:
        save_grid(images, tmp_path)
    assert str(info.value) == f"path {tmp_path} is a directory; give a file name such as {tmp_path / 'grid.png'}"


def test_sample_checks_out_before_reading_the_checkpoint(tmp_path):
    from zoo import tasks

    with pytest.raises(ZooError) as info:
        tasks.sample("dcgan", checkpoint=tmp_path / "missing", out=tmp_path)
    err = info.value
    assert str(err) == f"out {tmp_path} is a directory; give a file name such as {tmp_path / 'grid.png'}"
    assert err.for_cli() == f"--out {tmp_path} is a directory; give a file name such as {tmp_path / 'grid.png'}"
    assert err.exit_code == 2
    with pytest.raises(ZooError) as info:
        tasks.sample("dcgan", checkpoint=tmp_path / "missing", n=0)
    assert str(info.value) == "n must be at least 1, got 0" and info.value.for_cli({"n": "--n"}) == "--n must be at least 1, got 0"


MYGAN_MODEL = '''
"""mygan: a third-party GAN family (the model module; imports torch)."""
from zoo.plugins.dcgan.adapter import DCGANAdapter


class MyGANAdapter(DCGANAdapter):
    """A narrow DCGAN: latent 8, ngf = ndf = 4."""

    def __init__(self, spec, *, image_size, channels):
        super().__init__(spec, image_size=image_size, channels=channels, latent_dim=8, ngf=4, ndf=4)
'''

MYGAN_TOML = """
[models.mygan]
family = "mygan"
kind = "gan"
arch = "mygan"
input_size = [1, 16, 16]
min_size = 16
mean = [0.5]
std = [0.5]
num_params = 1
description = "a third-party GAN"
paper = "none"
"""


def test_pluginkit_recipe_for_a_third_party_gan_works(tmp_path):
    """The two files documented in zoo.pluginkit make a working, torch-free-to-list GAN plugin."""
    import textwrap

    from zoo import pluginkit

    doc = pluginkit.__doc__
    start = doc.index("    # mygan/plugin.py")
    plugin_code = textwrap.dedent(doc[start : doc.index("    # mygan/model.py", start)])
    pkg = tmp_path / "mygan"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text(plugin_code)
    (pkg / "model.py").write_text(MYGAN_MODEL)
    (pkg / "models.toml").write_text(MYGAN_TOML)
    code = (
        "import sys\n"
        "import mygan.plugin as plugin\n"
        "(spec,) = plugin.zoo_model_specs()\n"
        "assert (spec.name, spec.plugin) == ('mygan', 'mygan'), spec\n"
        "assert 'torch' not in sys.modules, 'listing imported torch'\n"
        "from zoo.errors import ZooError\n"
        "try:\n"
        "    plugin.zoo_build_model(spec, {'image_size': 20})\n"
        "except ZooError as exc:\n"
        "    assert str(exc) == 'image_size must be a multiple of 8, got 20' and exc.for_cli() == '--image-size must be a multiple of 8, got 20'\n"
        "else:\n"
        "    raise AssertionError('no error for image_size=20')\n"
        "assert 'torch' not in sys.modules, 'a bad option imported torch'\n"
        "adapter = plugin.zoo_build_model(spec, {'num_classes': 3})\n"
        "assert type(adapter).__name__ == 'MyGANAdapter' and adapter.config() == "
        "{'latent_dim': 8, 'image_size': 16, 'channels': 1, 'ngf': 4, 'ndf': 4}, adapter.config()\n"
        "assert adapter.sample(2, seed=0).shape == (2, 1, 16, 16)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)
