"""Tests for the LAPGAN plugin (Denton et al. 2015, arXiv:1506.05751; facebook/eyescream).

Offline, CPU, seeded: the registry build and its parameter count, the Laplacian pyramid
operations, one training step with the trainer's own optimizers, sampling, bad build
options, and a short training run on scikit-learn's real digits.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch

from zoo.errors import ZooError
from zoo.models.gan import StepContext
from zoo.registry import build, get_spec
from zoo.training.optim import build_optimizer

# Default build (16x16x1, levels 3, latent 100, base MLP 600/300, ngf = ndf = 64), by hand:
BASE_G = (100 * 600 + 2 * 600) + (600 * 600 + 2 * 600) + (600 * 16 + 16)  # 432,016: Linear (no bias) + BatchNorm1d
BASE_D = (16 * 300 + 300) + (300 * 300 + 300) + (300 + 1)  # 95,701
LEVEL_G = (2 * 64 * 49 + 64) + (64 * 64 * 49 + 64) + (64 * 25 + 1)  # 208,705 at any size
LEVEL_D = {16: (25 * 64 + 64) + (64 * 64 * 25 + 64) + (64 * 8 * 8 + 1), 8: (25 * 64 + 64) + (64 * 64 * 25 + 64) + (64 * 4 * 4 + 1)}
ORDER = ["discriminator2", "generator2", "discriminator1", "generator1", "discriminator0", "generator0"]


def nparams(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def lapgan(seed: int = 0, **options):
    torch.manual_seed(seed)
    return build("lapgan", **options)


# -- plugin and registry ------------------------------------------------------------


def test_listing_does_not_import_torch():
    code = "import sys\nfrom zoo.registry import list_models\nassert [s.name for s in list_models('lapgan')] == ['lapgan']\nprint('torch' in sys.modules)\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ, "ZOO_PLUGINS": "lapgan"}
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_build_matches_registry():
    spec = get_spec("lapgan")
    assert (spec.family, spec.kind, spec.arch, spec.input_size) == ("lapgan", "gan", "lapgan", (1, 16, 16))
    a = lapgan()
    counts = {name: nparams(net) for name, net in a.model.items()}
    assert counts == {
        "generator0": LEVEL_G,
        "discriminator0": LEVEL_D[16],
        "generator1": LEVEL_G,
        "discriminator1": LEVEL_D[8],
        "generator2": BASE_G,
        "discriminator2": BASE_D,
    }
    assert spec.num_params == nparams(a.model) == 1_158_505
    assert a.condition.kind == "none"
    assert a.config() == {
        "latent_dim": 100,
        "image_size": 16,
        "channels": 1,
        "levels": 3,
        "base_hidden_g": 600,
        "base_hidden_d": 300,
        "ngf": 64,
        "ndf": 64,
    }
    # the sampling pyramid shares the generators' parameters and is not registered twice
    model_ids = {id(p) for p in a.model.parameters()}
    assert {id(p) for p in a.generator.parameters()} <= model_ids
    assert nparams(a.generator) == 2 * LEVEL_G + BASE_G
    assert all(k.split(".")[0] in counts for k in a.model.state_dict())
    assert list(a.discriminator) == ["discriminator2", "discriminator1", "discriminator0"]


def test_every_build_option_is_declared_with_its_default():
    """zoo_model_options declares what resolve_options fills in, and nothing else."""
    from zoo.plugins import lapgan as hooks
    from zoo.registry import model_options

    declared = {o.name: o for o in model_options("lapgan")}
    assert hooks.resolve_options(get_spec("lapgan"), {}) == {k: o.default for k, o in declared.items()}
    assert {k for k, o in declared.items() if o.from_data} == {"image_size", "channels"}


def test_other_plugins_specs_are_declined():
    import dataclasses

    from zoo.plugins import lapgan as hooks

    assert hooks.zoo_build_model(dataclasses.replace(get_spec("lapgan"), plugin="someone.else"), {}) is None


# -- pyramid operations -------------------------------------------------------------


def test_pyramid_reconstructs_exactly():
    from zoo.plugins.lapgan.networks import downsample, gaussian_pyramid, laplacian_pyramid, reconstruct, upsample

    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    pyr = laplacian_pyramid(x, 3)
    assert [tuple(t.shape) for t in pyr] == [(4, 3, 16, 16), (4, 3, 8, 8), (4, 3, 4, 4)]
    # one level: I = up(down(I)) + h
    torch.testing.assert_close(upsample(downsample(x)) + pyr[0], x, rtol=0, atol=1e-6)
    torch.testing.assert_close(reconstruct(pyr), x, rtol=0, atol=1e-6)
    gauss = gaussian_pyramid(x, 3)
    torch.testing.assert_close(pyr[-1], gauss[-1], rtol=0, atol=0)
    # down is the 2x2 mean; up keeps a constant image constant (bilinear)
    torch.testing.assert_close(downsample(x)[0, 0, 0, 0], x[0, 0, :2, :2].mean(), rtol=0, atol=1e-7)
    torch.testing.assert_close(upsample(torch.full((1, 1, 4, 4), 0.3)), torch.full((1, 1, 8, 8), 0.3))


# -- training -----------------------------------------------------------------------


def test_one_step_updates_every_level():
    a = lapgan()
    opts = {name: build_optimizer(name, cfg) for name, cfg in a.configure_optimizers().items()}
    assert sorted(opts) == sorted(a.model.keys())
    before = {name: [p.detach().clone() for p in net.parameters()] for name, net in a.model.items()}
    x = torch.rand(8, 1, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1
    a.train()
    seen = []
    for step in a.training_step((x, torch.zeros(8, dtype=torch.int64)), StepContext()):
        seen.append(step.optimizer)
        assert step.loss.dtype == torch.float32 and step.loss.dim() == 0 and math.isfinite(float(step.loss.detach()))
        assert all(isinstance(v, torch.Tensor) and not v.requires_grad for v in step.logs.values())
        disc = a.model["discriminator" + step.optimizer[-1]]
        d_grads = [p.grad.clone() for p in disc.parameters()] if step.optimizer.startswith("generator") else []
        opts[step.optimizer].zero_grad(set_to_none=True)
        step.loss.backward()
        # the discriminator stays out of the generator's graph: its gradients are left as they were
        assert all(torch.equal(g, p.grad) for g, p in zip(d_grads, disc.parameters(), strict=False))
        opts[step.optimizer].step()
    assert seen == ORDER
    for name, net in a.model.items():
        changed = [not torch.equal(p0, p1) for p0, p1 in zip(before[name], net.parameters(), strict=True)]
        assert all(changed), f"{name}: {changed.count(False)} tensors unchanged"


def test_discriminator_only_iteration():
    a = lapgan()
    steps = list(a.training_step(torch.zeros(2, 1, 16, 16), StepContext(update_generator=False)))
    assert [s.optimizer for s in steps] == ["discriminator2", "discriminator1", "discriminator0"]
    # a last batch of one image trains too (the base generator's batch norm gets 2 samples)
    assert [s.optimizer for s in a.training_step(torch.zeros(1, 1, 16, 16), StepContext())] == ORDER


def test_wrong_image_shape_is_one_line():
    with pytest.raises(ZooError) as err:
        next(lapgan().training_step(torch.zeros(2, 3, 32, 32), StepContext()))
    assert str(err.value) == (
        "lapgan was built for float images (N, 1, 16, 16), got shape (2, 3, 32, 32) torch.float32; "
        "rebuild with image_size=32, channels=3 or resize the data"
    )


# -- sampling -----------------------------------------------------------------------


def test_sampling_shape_range_and_determinism():
    a = lapgan()
    state = torch.get_rng_state()
    x = a.sample(5, seed=3)
    assert torch.equal(torch.get_rng_state(), state), "sampling must not touch the global RNG"
    assert x.shape == (5, 1, 16, 16) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0 and float(x.std()) > 0
    assert torch.equal(x, a.sample(5, seed=3))
    assert not torch.equal(x, a.sample(5, seed=4))
    levels = a.sample_levels(5, seed=3)
    assert [tuple(t.shape) for t in levels] == [(5, 1, 4, 4), (5, 1, 8, 8), (5, 1, 16, 16)]
    assert all(t.dtype == torch.float32 and float(t.min()) >= 0.0 and float(t.max()) <= 1.0 for t in levels)
    assert torch.equal(levels[-1], x)
    # zoo bench runs adapter.generator on generator_inputs: the same pyramid as sample()
    inputs = a.generator_inputs(5, generator=torch.Generator().manual_seed(3))
    assert [tuple(t.shape) for t in inputs] == [(5, 100), (5, 1, 8, 8), (5, 1, 16, 16)]
    assert all(float(t.min()) >= -1.0 and float(t.max()) <= 1.0 for t in inputs)
    assert a.model["generator2"].training, "sampling leaves the networks' train/eval mode as it was"
    with torch.no_grad():
        torch.testing.assert_close(((a.eval().generator(*inputs) + 1) / 2).clamp(0, 1), x)


def test_other_builds_sample_their_pyramid():
    a = lapgan(levels=2, image_size=8, channels=3, ngf=8, ndf=8, base_hidden_g=16, base_hidden_d=8, latent_dim=4)
    assert [tuple(t.shape) for t in a.sample_levels(2, seed=0)] == [(2, 3, 4, 4), (2, 3, 8, 8)]
    b = lapgan(image_size=20, ngf=8, ndf=8, base_hidden_g=16, base_hidden_d=8)  # 20 -> 10 -> 5
    assert [tuple(t.shape) for t in b.sample_levels(2, seed=0)] == [(2, 1, 5, 5), (2, 1, 10, 10), (2, 1, 20, 20)]
    assert len(list(b.training_step(torch.zeros(2, 1, 20, 20), StepContext()))) == 6


def test_step_and_pyramid_under_bf16_autocast():
    a = lapgan(ngf=8, ndf=8, base_hidden_g=16, base_hidden_d=8)
    x = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(5)) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        steps = list(a.training_step(x, StepContext()))
        image = a.generator(*a.generator_inputs(4, generator=torch.Generator().manual_seed(0)))
    assert [s.optimizer for s in steps] == ORDER
    assert all(s.loss.dtype == torch.float32 and torch.isfinite(s.loss).item() for s in steps)
    assert image.shape == (4, 1, 16, 16) and image.dtype == torch.bfloat16


def test_sampling_errors_are_one_line():
    a = lapgan()
    with pytest.raises(ZooError) as err:
        a.sample(0)
    assert str(err.value) == "n must be at least 1 sample, got 0" and err.value.exit_code == 2
    with pytest.raises(ZooError) as err:
        a.sample_levels(2, condition=7)
    assert str(err.value) == "lapgan is unconditional; sample it without a condition (got int)"


# -- bad build options ----------------------------------------------------------------

BAD = [
    ({"levels": 1}, "levels", "LAPGAN levels must be an int >= 2 (pyramid levels; 3 makes the 16 -> 8 -> 4 pyramid), got 1"),
    (
        {"image_size": 12},
        "image_size",
        "LAPGAN image_size must be a multiple of 4 of at least 16 for levels=3 (the coarsest level needs 4 pixels): 16, 20, 24, 28, ...; got 12",
    ),
    (
        {"image_size": 18},
        "image_size",
        "LAPGAN image_size must be a multiple of 4 of at least 16 for levels=3 (the coarsest level needs 4 pixels): 16, 20, 24, 28, ...; got 18",
    ),
    (
        {"levels": 4, "image_size": 24},
        "image_size",
        "LAPGAN image_size must be a multiple of 8 of at least 32 for levels=4 (the coarsest level needs 4 pixels): 32, 40, 48, 56, ...; got 24",
    ),
    ({"channels": 2}, "channels", "LAPGAN channels must be one of 1, 3 (1 for grey or 3 for RGB), got 2"),
    ({"channels": True}, "channels", "LAPGAN channels must be one of 1, 3 (1 for grey or 3 for RGB), got True"),
    (
        {"latent_dim": True},
        "latent_dim",
        "LAPGAN latent_dim must be an int >= 1 (noise length of the base generator; 100 in the paper), got True",
    ),
    (
        {"ngf": 0},
        "ngf",
        "LAPGAN ngf must be an int >= 1 (convolution planes of the finer levels' generators; 64 in facebook/eyescream), got 0",
    ),
]


@pytest.mark.parametrize(("options", "param", "message"), BAD, ids=[m[1] + "-" + str(list(m[0].values())[-1]) for m in BAD])
def test_bad_options_are_one_line(options, param, message):
    with pytest.raises(ZooError) as err:
        build("lapgan", **options)
    assert str(err.value) == message and "\n" not in message
    assert (err.value.param, err.value.exit_code) == (param, 2)
    assert err.value.for_cli().startswith("LAPGAN --" + param.replace("_", "-") + " must be")


# -- a short run on real data -----------------------------------------------------------


def test_short_training_run_on_digits_keeps_losses_finite(one_thread):
    """Seeded: two epochs (22 batches of 64 each, about 17 s on one CPU thread) of scikit-learn's digits upsampled to 16x16."""
    from zoo.data import make_loaders, resolve_data

    a = lapgan()
    source = resolve_data("digits", seed=0)
    tf = a.transforms(train=True, resize_only=True)
    train, _ = make_loaders(source, train_transform=tf, val_transform=tf, batch_size=64, seed=0, drop_last=True)
    opts = {name: build_optimizer(name, cfg) for name, cfg in a.configure_optimizers().items()}
    a.train()
    history: list[dict[str, float]] = []
    for epoch in (1, 2):
        for batch in train:
            assert batch[0].shape == (64, 1, 16, 16) and float(batch[0].min()) >= -1.0 and float(batch[0].max()) <= 1.0
            logs: dict[str, float] = {}
            for step in a.training_step(batch, StepContext(iteration=len(history), epoch=epoch)):
                opts[step.optimizer].zero_grad(set_to_none=True)
                step.loss.backward()
                opts[step.optimizer].step()
                logs.update({k: float(v) for k, v in step.logs.items()})
            history.append(logs)
    assert len(history) == 2 * len(train) == 44
    assert all(len(h) == 12 and all(math.isfinite(v) for v in h.values()) for h in history)
    x = a.sample(16, seed=0)
    assert torch.isfinite(x).all() and float(x.std()) > 0
