"""Tests for the vanilla GAN (Goodfellow et al. 2014, arXiv:1406.2661) and cGAN (Mirza &
Osindero 2014, arXiv:1411.1784) plugins: the packages plugins/vanilla_gan and plugins/cgan
(torch-free hook modules in their __init__.py, networks, losses and adapters beside them), on the
GAN contract of zoo/models/gan.py. Offline, CPU, seeded.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from zoo.errors import ZooError
from zoo.models.gan import GANAdapter, StepContext
from zoo.plugins import cgan, vanilla_gan
from zoo.registry import build, get_spec
from zoo.training.optim import build_optimizer

NAMES = ["vanilla_gan", "cgan"]
STEPS = 300  # digits training steps (batch 64): ~10 s on 2 idle CPU cores
# Per-network parameters of the default builds (28x28x1, latent 100, 10 classes), from the
# layer sizes of goodfeli/adversarial mnist.yaml and Mirza & Osindero 2014, section 4.1.
NETWORK_PARAMS = {
    # G: 100*1200+1200 + 1200*1200+1200 + 1200*784+784; D: 784*1200+1200 + 240*1200+1200 + 240+1
    "vanilla_gan": {"generator": 2_503_984, "discriminator": 1_231_441},
    # G: 100*200+200 + 10*1000+1000 + 1200*1200+1200 + 1200*784+784
    # D: 784*1200+1200 + 10*250+250 + 290*960+960 + 240+1, + the projection embedding 10*240
    "cgan": {"generator": 2_413_984, "discriminator": 1_226_751},
}


def small(name: str, seed: int = 0, **options):
    """An 8x8 build (the digits' native size): fast, same layer widths as the paper."""
    torch.manual_seed(seed)
    return build(name, image_size=8, channels=1, **options)


def batch_for(name: str, n: int = 6, size: int = 8, channels: int = 1, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, channels, size, size, generator=g) * 2 - 1
    return images, torch.arange(n) % 10


def optimizers(adapter):
    return {name: build_optimizer(name, cfg) for name, cfg in adapter.configure_optimizers().items()}


def run_iteration(adapter, opts, batch, ctx=None):
    """What the trainer does with one iteration: back-propagate and step each yielded step."""
    logs = {}
    for step in adapter.training_step(batch, ctx or StepContext()):
        opt = opts[step.optimizer]
        opt.zero_grad(set_to_none=True)
        step.loss.backward()
        opt.step()
        logs.update(step.logs)
    return logs


# -- plugin and registry ------------------------------------------------------------------


def test_listing_does_not_import_torch():
    code = (
        "import sys\n"
        "from zoo.registry import load_registry\n"
        "reg = load_registry()\n"
        "assert {'vanilla_gan', 'cgan'} <= set(reg), sorted(reg)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    env = {**os.environ, "ZOO_PLUGINS": "vanilla_gan,cgan"}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)


@pytest.mark.parametrize("module", [vanilla_gan, cgan])
def test_hook_modules_are_made_by_gan_hooks(module):
    assert module.zoo_build_model.__module__ == "zoo.pluginkit"
    assert [s.name for s in module.zoo_model_specs()] == [module.__name__.rsplit(".", 1)[-1]]


@pytest.mark.parametrize("name", NAMES)
def test_default_build_counts_and_runs_forward_backward(name):
    spec = get_spec(name)
    assert (spec.family, spec.kind, spec.arch, spec.plugin) == (name, "gan", name, f"zoo.plugins.{name}")
    adapter = build(name)
    assert isinstance(adapter, GANAdapter)
    assert list(adapter.networks) == ["generator", "discriminator"]
    assert {k: sum(p.numel() for p in net.parameters()) for k, net in adapter.networks.items()} == NETWORK_PARAMS[name]
    assert sum(p.numel() for p in adapter.model.parameters()) == spec.num_params
    inputs = adapter.generator_inputs(2)
    assert inputs[0].shape == (2, 100) and inputs[0].dtype == torch.float32
    fake = adapter.generator(*inputs)
    assert fake.shape == (2, *spec.input_size) and fake.dtype == torch.float32
    assert fake.min() >= -1 and fake.max() <= 1
    logits = adapter.discriminator(fake, *inputs[1:])
    assert logits.shape == (2,) and logits.dtype == torch.float32
    logits.sum().backward()
    assert all(p.grad is not None for p in adapter.model.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_one_training_step_changes_both_networks(name):
    adapter = small(name)
    opts = optimizers(adapter)
    assert set(opts) == {"generator", "discriminator"}
    assert isinstance(opts["generator"], torch.optim.Adam) and opts["generator"].defaults["betas"] == (0.5, 0.999)
    before = {k: [p.detach().clone() for p in net.parameters()] for k, net in adapter.networks.items()}
    adapter.train()
    logs = run_iteration(adapter, opts, batch_for(name))
    for k, net in adapter.networks.items():
        changed = [not torch.equal(a, b) for a, b in zip(before[k], net.parameters(), strict=True)]
        assert all(changed), f"{k}: {changed}"
    assert set(logs) == {"d_loss", "d_real", "d_fake", "g_loss"} | ({"ms_loss"} if name == "cgan" else set())
    for key, value in logs.items():
        assert isinstance(value, torch.Tensor) and value.dim() == 0 and not value.requires_grad and torch.isfinite(value), key
    assert 0 < float(logs["d_real"]) < 1 and 0 < float(logs["d_fake"]) < 1


@pytest.mark.parametrize("name", NAMES)
def test_generator_step_leaves_no_gradient_on_the_discriminator(name):
    adapter = small(name)
    adapter.train()
    steps = adapter.training_step(batch_for(name), StepContext())
    d_step = next(steps)
    assert d_step.optimizer == "discriminator"
    d_step.loss.backward()
    assert all(p.grad is not None for p in adapter.discriminator.parameters())
    assert all(p.grad is None for p in adapter.generator.parameters())  # the fake batch was detached
    adapter.discriminator.zero_grad(set_to_none=True)
    g_step = next(steps)
    assert g_step.optimizer == "generator"
    g_step.loss.backward()
    assert all(p.grad is None for p in adapter.discriminator.parameters())
    assert all(p.grad is not None for p in adapter.generator.parameters())
    assert all(p.requires_grad for p in adapter.discriminator.parameters())
    assert next(steps, None) is None


@pytest.mark.parametrize("name", NAMES)
def test_no_generator_step_when_the_trainer_skips_it(name):
    adapter = small(name)
    steps = list(adapter.training_step(batch_for(name), StepContext(iteration=0, update_generator=False)))
    assert [s.optimizer for s in steps] == ["discriminator"]


@pytest.mark.parametrize("name", NAMES)
def test_images_of_another_shape_are_a_one_line_error(name):
    adapter = small(name)
    with pytest.raises(ZooError) as info:
        next(adapter.training_step(batch_for(name, size=16, channels=3), StepContext()))
    assert str(info.value) == (
        f"{name} was built for float images (N, 1, 8, 8), got shape (6, 3, 16, 16) torch.float32; "
        "rebuild with image_size=16, channels=3 or resize the data"
    )


@pytest.mark.parametrize("name", NAMES)
def test_sampling_shape_range_determinism_and_modes(name):
    adapter = small(name)
    adapter.train()
    adapter.discriminator.eval()
    rng = torch.random.get_rng_state()
    a = adapter.sample(6, seed=3)
    assert a.shape == (6, 1, 8, 8) and a.dtype == torch.float32 and a.device.type == "cpu"
    assert a.min() >= 0 and a.max() <= 1 and a.std() > 0
    assert torch.equal(a, adapter.sample(6, seed=3))
    assert not torch.equal(a, adapter.sample(6, seed=4))
    assert torch.equal(torch.random.get_rng_state(), rng)  # a local generator; the global RNG is untouched
    assert adapter.generator.training and not adapter.discriminator.training
    with pytest.raises(ZooError, match=r"^n must be at least 1 sample, got 0$"):
        adapter.sample(0)


def test_vanilla_gan_is_unconditional():
    adapter = small("vanilla_gan")
    assert adapter.condition.kind == "none"
    with pytest.raises(ZooError) as info:
        adapter.sample(2, condition=7)
    assert str(info.value) == "vanilla_gan is unconditional; sample it without a condition (got 7)"
    with pytest.raises(ZooError, match=r"^this model is unconditional; drop the condition"):
        adapter.condition.parse("7")


# -- cGAN conditions ------------------------------------------------------------------------


def test_cgan_generator_inputs_and_sampling_follow_the_condition():
    adapter = small("cgan")
    z3, y3 = adapter.generator_inputs(4, generator=torch.Generator().manual_seed(1), condition=3)
    z5, y5 = adapter.generator_inputs(4, generator=torch.Generator().manual_seed(1), condition=5)
    assert torch.equal(z3, z5) and z3.shape == (4, 100) and z3.min() >= 0 and z3.max() < 1  # U[0, 1)^100
    assert y3.shape == (4, 10) and y3.dtype == torch.float32
    assert y3.argmax(1).tolist() == [3] * 4 and y5.argmax(1).tolist() == [5] * 4 and y3.sum(1).tolist() == [1.0] * 4
    adapter.eval()
    with torch.no_grad():
        assert (adapter.generator(z3, y3) - adapter.generator(z5, y5)).abs().max() > 1e-3
        expected = (adapter.generator(z3, y3) + 1) / 2
    assert torch.allclose(adapter.sample(4, seed=1, condition=3), expected)
    assert not torch.equal(adapter.sample(4, seed=1, condition=3), adapter.sample(4, seed=1, condition=5))
    assert torch.equal(adapter.sample(4, seed=1, condition="3"), adapter.sample(4, seed=1, condition=3))
    assert adapter.labels(12).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]  # round-robin: a grid shows every class
    _, y = adapter.generator_inputs(12, generator=torch.Generator().manual_seed(1))
    assert y.argmax(1).tolist() == adapter.labels(12).tolist()


def test_cgan_condition_parsing_and_errors():
    adapter = build("cgan")
    spec = adapter.condition
    assert (spec.kind, spec.flag, spec.names) == ("class", "--label", tuple("0123456789"))
    assert spec.parse("7") == 7 and spec.parse("seven") == 7 and spec.parse(None) is None
    digits = "0, 1, 2, 3, 4, 5, 6, 7, 8, 9"
    with pytest.raises(ZooError) as info:
        spec.parse("eleven")
    assert str(info.value) == f"unknown --label 'eleven'; valid: {digits}"
    with pytest.raises(ZooError) as info:
        spec.parse("10")
    assert str(info.value) == f"--label 10 is out of range; this model has 10 classes: {digits}"
    with pytest.raises(ZooError) as info:
        adapter.sample(2, condition=10)
    assert str(info.value) == f"class index 10 is out of range; cgan has 10 classes (0..9): {digits}"
    with pytest.raises(ZooError) as info:
        adapter.sample(2, condition=1.5)
    assert str(info.value) == "cgan is conditioned on a class: give a class index or name, got float"


def test_cgan_class_names_from_the_data_round_trip_through_config():
    torch.manual_seed(0)
    adapter = build("cgan", image_size=8, channels=1, class_names=["cat", "dog", "zebra"])
    assert adapter.num_classes == 3 and adapter.condition.names == ("cat", "dog", "zebra")
    assert adapter.condition.parse("dog") == 1 and adapter.condition.parse("ZEBRA") == 2 and adapter.condition.parse("0") == 0
    with pytest.raises(ZooError) as info:
        adapter.condition.parse("zebu")
    assert str(info.value) == "unknown --label 'zebu' (did you mean: zebra?); valid: cat, dog, zebra"
    assert torch.equal(adapter.sample(3, seed=2, condition="dog"), adapter.sample(3, seed=2, condition=1))
    config = adapter.config()
    assert config["num_classes"] == 3 and config["class_names"] == ["cat", "dog", "zebra"]
    assert "condition" not in config  # the sidecar records the condition beside the config
    # zoo sample rebuilds from the sidecar's config, then loads the weights
    rebuilt = build("cgan", **config)
    rebuilt.model.load_state_dict(adapter.model.state_dict())
    assert rebuilt.condition == adapter.condition
    assert torch.equal(rebuilt.sample(3, seed=2, condition="zebra"), adapter.sample(3, seed=2, condition=2))
    # only the sidecar's condition (no class_names): the names come from it
    assert build("cgan", image_size=8, condition=adapter.condition.to_json()).condition.names == ("cat", "dog", "zebra")


def test_cgan_training_labels_out_of_range_are_a_one_line_error():
    adapter = small("cgan", num_classes=3)
    images, _ = batch_for("cgan")
    with pytest.raises(ZooError) as info:
        next(adapter.training_step((images, torch.tensor([0, 1, 2, 3, 0, 1])), StepContext()))
    assert (
        str(info.value) == "class labels must be in 0..2, got 0..3; build the model with num_classes equal to the data's number of classes"
    )
    with pytest.raises(ZooError) as info:
        next(adapter.training_step(images, StepContext()))
    assert str(info.value) == "cgan trains on (images, labels) batches; give a labelled data set (ImageFolder or digits)"


# -- build options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        (
            "vanilla_gan",
            {"image_size": 0},
            "vanilla_gan image_size must be an int >= 1 (height = width in pixels, any size for an MLP; 28 as MNIST in the paper), got 0",
        ),
        (
            "vanilla_gan",
            {"channels": 2.5},
            "vanilla_gan channels must be an int >= 1 (image channels, 1 grey or 3 RGB; 1 as MNIST in the paper), got 2.5",
        ),
        ("vanilla_gan", {"latent_dim": True}, "vanilla_gan latent_dim must be an int >= 1 (noise length, 100 in the paper), got True"),
        (
            "cgan",
            {"image_size": "28"},
            "cgan image_size must be an int >= 1 (height = width in pixels, any size for an MLP; 28 as MNIST in the paper), got '28'",
        ),
        (
            "cgan",
            {"num_classes": 0},
            "cgan num_classes must be an int >= 1 (classes of the label, 10 digits in the paper; default the number of class_names, else 10), got 0",
        ),
        ("cgan", {"num_classes": 3, "class_names": ["a", "b"]}, "cgan num_classes is 3 but 2 class names were given; drop it or give 2"),
        ("cgan", {"class_names": ["a", "b", "a"]}, "cgan class_names repeats a; give each name once"),
        ("cgan", {"class_names": "abc"}, "cgan class_names must be a non-empty list of names, got 'abc'"),
    ],
)
def test_bad_build_options_are_one_line_errors(name, options, message):
    with pytest.raises(ZooError) as info:
        build(name, **options)
    assert str(info.value) == message and info.value.exit_code == 2


def test_build_option_errors_name_the_cli_flag():
    with pytest.raises(ZooError) as info:
        build("vanilla_gan", image_size=-3)
    assert (
        info.value.for_cli()
        == "vanilla_gan --image-size must be an int >= 1 (height = width in pixels, any size for an MLP; 28 as MNIST in the paper), got -3"
    )


# -- a short real training run ---------------------------------------------------------------


def test_cgan_learns_from_real_digits():
    """cGAN on scikit-learn's 8x8 digits at their native size (an MLP's cost grows with the
    pixels, and upsampling to 16x16 adds no information), a fixed number of seeded steps
    through the adapter's own training_step with the trainer's optimizers. Following the
    requested label takes ~2,000-3,000 steps (~60 s; measured: 80% and 100% of samples
    nearest their class mean at 3,000 steps, seeds 0 and 1), which is the benchmark's job;
    300 steps must teach the discriminator and the digits' intensities."""
    from zoo.data import resolve_data

    source = resolve_data("digits")
    torch.manual_seed(0)
    adapter = build("cgan", image_size=8, channels=1, class_names=source.classes)
    assert adapter.condition.parse("seven") == source.classes.index("7")
    transform = adapter.transforms(img_size=8, resize_only=True)
    x_train = torch.stack([transform(source.train[i][0]) for i in range(len(source.train))])
    y_train = torch.tensor(source.targets_train)
    x_val = torch.stack([transform(source.val[i][0]) for i in range(len(source.val))])
    y_val = torch.tensor(source.targets_val)
    assert x_train.shape == (len(source.train), 1, 8, 8) and x_train.min() == -1 and x_train.max() == 1

    def pixel_stats() -> tuple[float, float]:
        fake = adapter.sample(len(y_val), seed=5)  # [0, 1], classes round-robin
        return float(fake.mean()), float(fake.std())

    real_mean, real_std = float((x_val + 1).mean() / 2), float((x_val + 1).std() / 2)
    assert 0.25 < real_mean < 0.35 and 0.35 < real_std < 0.4  # dark background, bright strokes
    fake_mean, fake_std = pixel_stats()
    assert abs(fake_mean - 0.5) < 0.05 and fake_std < 0.1  # untrained: mid-grey
    opts = optimizers(adapter)
    rng = torch.Generator().manual_seed(0)
    adapter.train()
    for it in range(STEPS):
        idx = torch.randint(len(y_train), (64,), generator=rng)
        logs = run_iteration(adapter, opts, (x_train[idx], y_train[idx]), StepContext(iteration=it))
        assert all(torch.isfinite(v) for v in logs.values()), (it, logs)
    adapter.eval()
    with torch.no_grad():
        z, _ = adapter.generator_inputs(len(y_val), generator=torch.Generator().manual_seed(5))
        d_real = torch.sigmoid(adapter.discriminator(x_val, y_val)).mean()
        d_fake = torch.sigmoid(adapter.discriminator(adapter.generator(z, y_val), y_val)).mean()
    assert d_real > d_fake + 0.05, (float(d_real), float(d_fake))
    # the generator learned the digits' intensities: mostly black with bright strokes
    fake_mean, fake_std = pixel_stats()
    assert abs(fake_mean - real_mean) < 0.1 and abs(fake_std - real_std) < 0.1, (fake_mean, fake_std, real_mean, real_std)


def test_cgan_mode_seeking_term_is_the_msgan_ratio_and_can_be_turned_off():
    """Mao et al. 2019 eq. 3: 1 / (mean|G(z1,y) - G(z2,y)| / mean|z1 - z2| + 1e-5), checked by hand;
    mode_seeking=0 is the plain cGAN (no extra generator pass, no ms_loss log)."""
    adapter = small("cgan")
    z = torch.rand(4, adapter.latent_dim)
    y = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 3]), 10).float()
    fake = adapter.generator(z, y)
    torch.manual_seed(5)
    ms = adapter.mode_seeking_term(z, fake, y)
    torch.manual_seed(5)
    z2 = torch.rand_like(z)
    lz = (fake - adapter.generator(z2, y)).abs().flatten(1).mean(1) / (z - z2).abs().mean(1)
    assert torch.allclose(ms, 1 / (lz.mean() + 1e-5)) and ms.requires_grad
    assert adapter.mode_seeking == 0.3 and adapter.config()["mode_seeking"] == 0.3
    plain = small("cgan", mode_seeking=0)
    logs = run_iteration(plain.train(), optimizers(plain), batch_for("cgan"))
    assert "ms_loss" not in logs
    with pytest.raises(ZooError, match=r"^cgan mode_seeking must be a number >= 0 \(.*; 0: the paper's plain cGAN\), got -1$"):
        build("cgan", mode_seeking=-1)


def test_cgan_projection_discriminator_adds_the_class_embedding_term():
    """Miyato & Koyama 2018 eq. 3: logit = paper's logit + <embed(y), h(x)>; projection=False is the paper's."""
    torch.manual_seed(0)
    adapter = build("cgan", image_size=8, num_classes=3)
    d = adapter.discriminator.eval()
    x, y = torch.rand(4, 1, 8, 8) * 2 - 1, torch.tensor([0, 1, 2, 1])
    h = d.x_branch(x)
    plain = d.main(torch.cat([h, d.y_branch(torch.nn.functional.one_hot(y, 3).float())], 1)).squeeze(1)
    assert torch.allclose(d(x, y), plain + (d.embed.weight[y] * h).sum(1), atol=1e-6)
    assert adapter.config()["projection"] is True and "embed.weight" in dict(d.named_parameters())
    paper = build("cgan", image_size=8, num_classes=3, projection=False)
    assert paper.discriminator.embed is None and paper.config()["projection"] is False
    with pytest.raises(ZooError, match=r"^cgan projection must be true or false \(.*; false: the paper's discriminator\), got 'yes'$"):
        build("cgan", projection="yes")
