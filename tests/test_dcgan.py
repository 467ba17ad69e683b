"""Tests for plugins/dcgan.py (DCGAN, Radford et al. 2016, arXiv:1511.06434).

Reference compatibility: the default generator and discriminator must have exactly the
state-dict layout of pytorch/examples ``dcgan/main.py`` (commit 77f55b9) and, loaded with
the synthetic weights of ``shared/reference/README.md``, reproduce the stored outputs.
The fixtures live in ``shared/reference`` beside the repository (CI clones the repo with
``shared/`` next to it); those tests skip when it is absent. Offline, CPU, seeded.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from zoo.errors import ZooError
from zoo.plugins import dcgan
from zoo.catalog import builtin_specs

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
G_PARAMS = 3_576_704  # pytorch/examples Generator (nz=100, ngf=64, nc=3)
D_PARAMS = 2_765_568  # pytorch/examples Discriminator (ndf=64, nc=3)


@pytest.fixture(scope="module")
def spec():
    specs = {s.name: s for s in builtin_specs(dcgan.__name__)}
    assert "dcgan" in specs, "registry.toml has no [models.dcgan] table with plugin = 'zoo.plugins.dcgan'"
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
    code = (
        "import sys\n"
        "from zoo.registry import load_registry\n"
        "load_registry()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    env = {**os.environ, "ZOO_PLUGINS": "dcgan"}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)


def test_spec_matches_built_model(spec):
    assert (spec.family, spec.kind, spec.arch) == ("dcgan", "gan", "dcgan")
    adapter = build(spec)
    assert spec.num_params == nparams(adapter.model) == G_PARAMS + D_PARAMS
    assert adapter.condition == "none"
    assert adapter.lr_schedule == "constant"  # the trainer's default is cosine decay; DCGAN uses a constant lr
    assert adapter.config() == {"latent_dim": 100, "image_size": 64, "channels": 3, "ngf": 64, "ndf": 64}


def test_other_plugins_specs_are_declined(spec):
    import dataclasses

    assert dcgan.zoo_build_model(dataclasses.replace(spec, plugin="someone.else"), {}) is None


def test_build_through_plugin_manager(monkeypatch):
    from zoo.registry import reset_registry
    from zoo.registry import build as zoo_build

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
    assert info.value.exit_code == 2


def test_none_options_take_defaults(spec):
    assert dcgan.resolve_options(spec, {"image_size": None, "channels": None, "num_classes": 5}) == {
        "image_size": 64, "channels": 3, "latent_dim": 100, "ngf": 64, "ndf": 64,
    }


# -- pytorch/examples reference ----------------------------------------------------


def _reference(part: str):
    path = REFERENCE / f"dcgan_{part}.json"
    if not path.is_file():
        pytest.skip(f"reference fixtures not found at {REFERENCE} (clone shared/ beside the repository)")
    from safetensors.torch import load_file

    meta = json.loads(path.read_text())
    return meta, load_file(str(REFERENCE / meta["io_file"]))


def _synthetic_state_dict(entries):
    """The synthetic weights of shared/reference/README.md."""
    dtypes = {"float32": torch.float32, "int64": torch.int64}
    sd = OrderedDict()
    for i, (key, shape, dtype) in enumerate(entries):
        dt = dtypes[dtype]
        if dt.is_floating_point:
            t = torch.randn(shape, generator=torch.Generator().manual_seed(1000 + i)) * 0.02
            if key.endswith("running_var"):
                t = torch.ones(shape) + t.abs()
            sd[key] = t.to(dt)
        else:
            sd[key] = torch.zeros(shape, dtype=dt)
    return sd


def _sha256(sd) -> str:
    h = hashlib.sha256()
    for key, t in sd.items():
        h.update(key.encode())
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


def _layout(module):
    return [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in module.state_dict().items()]


def _assert_close(out, ref):
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


@pytest.mark.parametrize("part", ["generator", "discriminator"])
def test_reference_state_dict_layout_and_params(spec, part):
    meta, _ = _reference(part)
    module = getattr(build(spec), part)
    assert _layout(module) == meta["state_dict"]
    # layer types, kernels, strides, paddings, bias flags, norm eps/momentum, activations
    assert repr(module).splitlines() == meta["module_repr"]
    assert nparams(module) == meta["num_params"] == {"generator": G_PARAMS, "discriminator": D_PARAMS}[part]


def test_reference_generator_outputs(spec):
    meta, io = _reference("generator")
    sd = _synthetic_state_dict(meta["state_dict"])
    assert _sha256(sd) == meta["weights_sha256"]
    adapter = build(spec)
    adapter.load_reference_state_dict(generator_sd=sd)
    g = adapter.generator
    with torch.no_grad():
        _assert_close(g.eval()(io["input"]), io["output"])
    adapter.load_reference_state_dict(generator_sd=sd)  # fresh running stats, as the fixture
    with torch.no_grad():
        _assert_close(g.train()(io["input"]), io["output_trainmode"])


def test_reference_discriminator_output(spec):
    meta, io = _reference("discriminator")
    sd = _synthetic_state_dict(meta["state_dict"])
    assert _sha256(sd) == meta["weights_sha256"]
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
    for a, b in zip(src.model.parameters(), dst.model.parameters()):
        assert torch.equal(a, b)

    grey = build(spec, image_size=32, channels=1)
    with pytest.raises(ZooError, match=r"image_size=32.*channels=1"):
        dst.load_reference_state_dict(generator_sd=grey.generator.state_dict())
    with pytest.raises(ZooError, match="discriminator state dict"):
        dst.load_reference_state_dict(discriminator_sd={"main.0.weight": torch.zeros(1)})
    assert dcgan.infer_reference_config(grey.generator.state_dict(), grey.discriminator.state_dict()) == {
        "image_size": 32, "channels": 1, "latent_dim": 100, "ngf": 64, "ndf": 64,
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


def test_training_steps_on_digits(spec, digits):
    adapter = build(spec, image_size=32, channels=1, ngf=16, ndf=16)
    opts = adapter.configure_optimizers()
    g0 = [p.detach().clone() for p in adapter.generator.parameters()]
    d0 = [p.detach().clone() for p in adapter.discriminator.parameters()]
    d_calls = []  # discriminator forwards, seen by a hook as a DDP wrapper would see them
    adapter.discriminator.register_forward_pre_hook(lambda m, a: d_calls.append(len(a[0])))
    labels = torch.zeros(len(digits), dtype=torch.int64)
    gen = torch.Generator().manual_seed(0)
    for it in range(3):
        idx = torch.randperm(len(digits), generator=gen)[:32]
        names, logs = [], {}
        d_calls.clear()
        for step in adapter.training_step((digits[idx], labels[idx])):
            names.append(step.optimizer)
            if step.optimizer == "discriminator":
                # D saw the real then the fake batch; the generator loss is computed
                # lazily, after the trainer has stepped D
                assert d_calls == [32, 32]
            assert step.loss.dim() == 0 and torch.isfinite(step.loss)
            opt = opts[step.optimizer]
            opt.zero_grad(set_to_none=True)
            for p in adapter.discriminator.parameters():
                p.grad = None
            step.loss.backward()
            if step.optimizer == "generator":  # D is excluded from the generator step's graph
                assert all(p.grad is None for p in adapter.discriminator.parameters())
            opt.step()
            logs.update(step.logs)
        assert names == ["discriminator", "generator"]
        assert d_calls == [32, 32, 32]
        assert set(logs) == {"d_loss", "g_loss", "d_real", "d_fake"}
        assert all(isinstance(v, float) and v == v for v in logs.values())
        assert 0 < logs["d_real"] < 1 and 0 < logs["d_fake"] < 1
    assert all(not torch.equal(a, b) for a, b in zip(g0, adapter.generator.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(d0, adapter.discriminator.parameters()))


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
