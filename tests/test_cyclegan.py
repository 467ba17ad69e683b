"""Tests for the CycleGAN family (Zhu et al. 2017, arXiv:1703.10593): the torch-free hook module
plugins/cyclegan/__init__.py and the adapter in plugins/cyclegan/adapter.py, against the official code's
rules (junyanz/pytorch-CycleGAN-and-pix2pix models/cycle_gan_model.py, models/networks.py,
util/image_pool.py, data/base_dataset.py). Offline, CPU, seeded; tiny images and widths.
"""

from __future__ import annotations

import random
from collections import OrderedDict

import numpy as np
import pytest
import torch
from PIL import Image
from reference_fixtures import load_reference, synthetic_state_dict
from safetensors.torch import save_file
from torch.nn import functional as F

from zoo.errors import ZooError
from zoo.models.gan import StepContext, to_unit_range
from zoo.plugins import cyclegan
from zoo.plugins.cyclegan import losses
from zoo.plugins.cyclegan.networks import ResnetGenerator
from zoo.plugins.cyclegan.official import load_official_cyclegan
from zoo.registry import build, get_spec, model_options
from zoo.training.optim import build_optimizer
from zoo.training.trainer import Trainer

NAME = "cyclegan"


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread


def small(seed: int = 0, **options):
    """A 16x16 grey build with narrow networks (the official layer structure, 6 blocks, PatchGAN depth 2)."""
    torch.manual_seed(seed)
    return build(NAME, **{"image_size": 16, "channels": 1, "ngf": 4, "ndf": 4, **options})


def batch(n: int = 6, size: int = 16, seed: int = 0, labels=None):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, size, size, generator=g) * 2 - 1
    return images, torch.arange(n) % 2 if labels is None else torch.tensor(labels)


def run_iteration(adapter, opts, data, ctx=None):
    """What the trainer does with one iteration: back-propagate and step each yielded step."""
    names = []
    for step in adapter.training_step(data, ctx or StepContext()):
        opt = opts[step.optimizer]
        opt.zero_grad(set_to_none=True)
        step.loss.backward()
        opt.step()
        names.append(step.optimizer)
    return names


def released_file(generator: torch.nn.Module) -> OrderedDict:
    """``generator``'s state dict as the released .pth files hold it: with the running_mean,
    running_var and num_batches_tracked of every InstanceNorm (saved with PyTorch 0.4)."""
    out = OrderedDict()
    norms = {n for n, m in generator.named_modules() if isinstance(m, torch.nn.InstanceNorm2d)}
    for name, _ in generator.named_modules():
        prefix = f"{name}." if name else ""
        for key, value in generator.state_dict().items():
            if key.rpartition(".")[0] == name:
                out[key] = value
        if name in norms:
            c = generator.get_submodule(name).num_features
            out[prefix + "running_mean"], out[prefix + "running_var"] = torch.zeros(c), torch.ones(c)
            out[prefix + "num_batches_tracked"] = torch.tensor(0)
    return out


# -- build options -------------------------------------------------------------------------


def test_default_build_is_the_official_architecture():
    torch.manual_seed(0)
    adapter = build(NAME)
    counts = {k: sum(p.numel() for p in net.parameters()) for k, net in adapter.model.items()}
    # resnet_9blocks and the basic (n_layers 3) PatchGAN: the counts of tests/fixtures/reference
    assert counts == {"generator_ab": 11_378_179, "generator_ba": 11_378_179, "discriminator_a": 2_764_737, "discriminator_b": 2_764_737}
    assert sum(counts.values()) == get_spec(NAME).num_params
    meta, _ = load_reference("cyclegan_generator")
    assert [k for k, _, _ in meta["state_dict"]] == list(adapter.model["generator_ab"].state_dict())
    assert adapter.generator is adapter.model["generator_ab"] and adapter.discriminator is adapter.model["discriminator_b"]
    # init_weights('normal', 0.02): conv weights N(0, 0.02), biases 0
    conv = adapter.model["generator_ba"].model[1]
    assert abs(float(conv.weight.detach().std()) - 0.02) < 0.002 and not conv.bias.any()
    assert adapter.condition.kind == "image" and adapter.condition.names == ("A", "B")


@pytest.mark.parametrize(
    ("size", "blocks", "layers"),
    [(256, 9, 3), (512, 9, 3), (128, 6, 3), (32, 6, 3), (24, 6, 3), (16, 6, 2), (12, 6, 2), (8, 6, 1)],
)
def test_blocks_and_patchgan_depth_follow_the_image_size(size, blocks, layers):
    opts = cyclegan.resolve_options(get_spec(NAME), {"image_size": size})
    assert (opts["n_blocks"], opts["n_layers_d"]) == (blocks, layers)
    assert cyclegan.resolve_options(get_spec(NAME), {"image_size": size, "n_blocks": 2})["n_blocks"] == 2


def test_every_build_option_is_declared_with_its_default():
    """zoo_model_options declares what resolve_options fills in, and nothing else; left out, each
    takes its declared default, or (None) the value derived from image_size or the data."""
    assert cyclegan.zoo_model_options.__module__ == "zoo.pluginkit"
    declared = {o.name: o for o in model_options(NAME)}
    opts = cyclegan.resolve_options(get_spec(NAME), {})
    derived = {"n_blocks": 9, "n_layers_d": 3, "class_names": ("A", "B")}
    assert opts == {k: derived.get(k, o.default) for k, o in declared.items()}
    assert {k for k, o in declared.items() if o.from_data} == {"image_size", "channels", "class_names", "official_weights"}


def test_every_default_patchgan_depth_runs_at_its_smallest_size():
    for size in (8, 12, 24):
        adapter = small(image_size=size)
        out = adapter.discriminator(torch.zeros(2, 1, size, size))
        assert out.shape[-1] >= 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"image_size": 30},
            "cyclegan image_size must be a multiple of 4 of at least 8 pixels (the generator down-samples twice; "
            "the released models use 256), got 30",
        ),
        (
            {"image_size": 4},
            "cyclegan image_size must be an int >= 8 (height = width in pixels, a multiple of 4; 256 in the released models), got 4",
        ),
        (
            {"image_size": 16, "n_layers_d": 3},
            "cyclegan n_layers_d 3 does not fit image_size 16: the PatchGAN needs image_size >= 24 "
            "(3 * 2**n_layers_d); use n_layers_d <= 2 or larger images",
        ),
        ({"ngf": 0}, "cyclegan ngf must be an int >= 1 (generator width; 64 in the paper; with official_weights: the file's), got 0"),
        ({"lambda_a": -1}, "cyclegan lambda_a must be a number >= 0 (weight of the A -> B -> A cycle loss; 10 in the paper), got -1"),
        (
            {"pool_size": -1},
            "cyclegan pool_size must be an int >= 0 (generated images kept per domain for the discriminators; 50 in the paper; 0: no pool), got -1",
        ),
        (
            {"decay_after_epochs": -2},
            "cyclegan decay_after_epochs must be an int >= 0 (epochs before the linear decay of the learning rate, official --n_epochs; "
            "left out: half the epochs), got -2",
        ),
        (
            {"use_dropout": 1},
            "cyclegan use_dropout must be true or false (Dropout 0.5 in the residual blocks; off in the paper; with official_weights: the file's), got 1",
        ),
        (
            {"class_names": ["0", "1", "2"]},
            "cyclegan translates between two domains: the data must have exactly 2 classes (A, B), "
            "got 3 (0, 1, 2); choose two, e.g. --data digits:3,8, or a folder with two sub-folders such as trainA/ and trainB/",
        ),
        (
            {"class_names": ["trainA", "testB", "testA", "trainB"]},
            "cyclegan: the data has the official CycleGAN layout (trainA/, trainB/, "
            "testA/, testB/), read as 4 classes; give --data a folder holding only trainA/ and trainB/, or train/{A,B}/ beside val/{A,B}/",
        ),
        ({"class_names": ["x", "x"]}, "cyclegan class_names repeats 'x'; give two different domain names"),
        ({"official_weights": 3}, "cyclegan official_weights must be a file path, got int"),
    ],
)
def test_bad_build_options_are_one_line_errors(options, message):
    with pytest.raises(ZooError) as info:
        build(NAME, **options)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_build_option_errors_name_the_cli_flag():
    with pytest.raises(ZooError) as info:
        build(NAME, image_size=30)
    assert info.value.for_cli({"image_size": "--img-size"}).startswith("cyclegan --img-size must be a multiple of 4")


# -- training ------------------------------------------------------------------------------


def test_one_trainer_iteration_changes_every_network_with_two_optimizers():
    adapter = small()
    before = {k: v.clone() for k, v in adapter.model.state_dict().items()}
    order = []

    class Record:
        def on_optimizer_step(self, trainer, adapter, name):
            order.append(name)

    trainer = Trainer(epochs=1, progress=False, callbacks=[Record()])
    result = trainer.fit(adapter, [batch()])
    assert order == ["generators", "discriminators"]  # optimize_parameters: G first, then D
    assert set(trainer.optimizers) == {"generators", "discriminators"}
    groups = {k: sum(p.numel() for g in o.param_groups for p in g["params"]) for k, o in trainer.optimizers.items()}
    sizes = {k: sum(p.numel() for p in net.parameters()) for k, net in adapter.model.items()}
    assert groups == {
        "generators": sizes["generator_ab"] + sizes["generator_ba"],
        "discriminators": sizes["discriminator_a"] + sizes["discriminator_b"],
    }
    assert all(o.defaults["betas"] == (0.5, 0.999) and o.defaults["lr"] == 2e-4 for o in trainer.optimizers.values())
    for net_name, net in adapter.model.items():
        assert any(not torch.equal(v, before[f"{net_name}.{k}"]) for k, v in net.state_dict().items()), net_name
    assert {"g_loss", "g_ab", "g_ba", "cycle_a", "cycle_b", "idt_a", "idt_b", "d_loss", "d_a", "d_b"} <= set(result)


def test_losses_are_the_official_objective():
    """backward_G and backward_D_basic of cycle_gan_model.py, recomputed by hand on the same networks."""
    adapter = small(lambda_a=10.0, lambda_b=5.0, lambda_identity=0.5)
    adapter.train()
    images, labels = batch(n=5, labels=[0, 1, 1, 0, 1])
    a, b = images[labels == 0], images[labels == 1]
    g_ab, g_ba, d_a, d_b = (adapter.model[k] for k in ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b"))
    with torch.no_grad():
        fake_b, fake_a = g_ab(a), g_ba(b)
        mse = F.mse_loss
        want_g = (
            mse(d_b(fake_b), torch.ones_like(d_b(fake_b)))
            + mse(d_a(fake_a), torch.ones_like(d_a(fake_a)))
            + 10.0 * F.l1_loss(g_ba(fake_b), a)
            + 5.0 * F.l1_loss(g_ab(fake_a), b)
            + 0.5 * (5.0 * F.l1_loss(g_ab(b), b) + 10.0 * F.l1_loss(g_ba(a), a))
        )
        # the pool is not full yet, so it returns the fakes themselves; D losses are halved
        want_d = 0.5 * (mse(d_b(b), torch.ones_like(d_b(b))) + mse(d_b(fake_b), torch.zeros_like(d_b(fake_b))))
        want_d = want_d + 0.5 * (mse(d_a(a), torch.ones_like(d_a(a))) + mse(d_a(fake_a), torch.zeros_like(d_a(fake_a))))
    steps = adapter.training_step((images, labels), StepContext())
    g_step = next(steps)
    assert g_step.optimizer == "generators"
    torch.testing.assert_close(g_step.loss, want_g)
    g_step.loss.backward()  # the discriminators' parameters are out of the generators' graph
    assert all(p.grad is None for k in ("discriminator_a", "discriminator_b") for p in adapter.model[k].parameters())
    assert any(p.grad is not None for p in g_ab.parameters())
    d_step = next(steps)  # no optimizer stepped in between, so the same networks
    assert d_step.optimizer == "discriminators"
    torch.testing.assert_close(d_step.loss, want_d)
    assert next(steps, None) is None


def test_no_identity_loss_when_its_weight_is_zero():
    adapter = small(lambda_identity=0.0)
    logs = next(adapter.training_step(batch(), StepContext())).logs
    assert "idt_a" not in logs and "idt_b" not in logs


def test_image_pool_follows_util_image_pool(monkeypatch):
    pool = losses.ImagePool(2)
    x = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(x[:2]), x[:2]) and len(pool.images) == 2  # filling: returned as they are
    draws = iter([0.7, 0.3])  # > 0.5: swap with stored image 1; <= 0.5: return the new image
    monkeypatch.setattr(losses.random, "uniform", lambda lo, hi: next(draws))
    monkeypatch.setattr(losses.random, "randint", lambda lo, hi: hi)
    new = torch.full((2, 1, 1, 1), 9.0)
    assert pool.query(new).flatten().tolist() == [1.0, 9.0]
    assert [float(t) for t in pool.images] == [0.0, 9.0]
    assert torch.equal(losses.ImagePool(0).query(new), new)


def test_a_batch_without_one_domain_reuses_its_last_images():
    adapter = small()
    opts = {k: build_optimizer(k, c) for k, c in adapter.configure_optimizers().items()}
    only_a = batch(n=4, labels=[0, 0, 0, 0])
    assert run_iteration(adapter, opts, only_a) == []  # no B image seen yet: nothing to train
    assert run_iteration(adapter, opts, batch(n=4, seed=1)) == ["generators", "discriminators"]
    last_b = adapter._last["b"].clone()
    assert run_iteration(adapter, opts, batch(n=3, seed=2, labels=[0, 0, 0])) == ["generators", "discriminators"]
    assert torch.equal(adapter._last["b"], last_b)  # the B images of the previous batch were used again


def test_generators_step_is_left_out_when_the_trainer_skips_it():
    adapter = small()
    steps = list(adapter.training_step(batch(), StepContext(update_generator=False)))
    assert [s.optimizer for s in steps] == ["discriminators"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            batch()[0],
            "cyclegan trains on (images, labels) batches whose label is the domain (0 = A, 1 = B); give a data set with two classes",
        ),
        (batch(labels=[0, 1, 2, 0, 1, 0]), "cyclegan domain labels must be 0 (A) or 1 (B), got 2; train on data with exactly 2 classes"),
        ((torch.zeros(2, 3, 16, 16), torch.tensor([0, 1])), "cyclegan was built for float images (N, 1, 16, 16), got shape (2, 3, 16, 16)"),
    ],
)
def test_bad_batches_are_one_line_errors(data, message):
    with pytest.raises(ZooError) as info:
        list(small().training_step(data, StepContext()))
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_learning_rate_is_constant_then_decays_like_the_official_lambda_rule():
    adapter = small(decay_after_epochs=2)
    rates = []

    class Record:
        def on_optimizer_step(self, trainer, adapter, name):
            if name == "generators":
                rates.append(trainer.optimizers[name].param_groups[0]["lr"] / 2e-4)

    data = [batch(seed=s) for s in range(3)]  # 3 iterations per epoch
    Trainer(epochs=5, progress=False, callbacks=[Record()]).fit(adapter, data)
    assert rates[:6] == [1.0] * 6  # n_epochs = 2 at the initial rate
    official = [1.0 - e / (3 + 1) for e in (1, 2, 3) for _ in range(3)]  # lambda_rule, n_epochs_decay = 3
    assert all(abs(r - o) <= 1 / (3 + 1) for r, o in zip(rates[6:], official, strict=True))
    assert rates[6:] == pytest.approx([1.0 - k / 10 for k in range(1, 10)])  # per iteration, k of K = 9


# -- preprocessing, translation, sampling ------------------------------------------------------


def test_preprocess_is_the_official_test_pipeline():
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (30, 50, 3), dtype=np.uint8))
    adapter = small(image_size=32, channels=3)
    x = adapter.preprocess(photo)
    # Resize([256, 256], BICUBIC) on the PIL image (here 32), ToTensor, Normalize(0.5, 0.5)
    want = torch.from_numpy(np.array(photo.resize((32, 32), Image.Resampling.BICUBIC))).permute(2, 0, 1).float() / 255 * 2 - 1
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    torch.testing.assert_close(x, want)
    grey = small(image_size=32).preprocess(photo.convert("P"))  # any PIL mode: convert('RGB'), then Grayscale(1)
    want = torch.from_numpy(np.array(photo.convert("P").convert("RGB").convert("L").resize((32, 32), Image.Resampling.BICUBIC)))
    torch.testing.assert_close(grey, want[None].float() / 255 * 2 - 1)


def test_training_transforms_add_the_official_crop_and_flip_for_folders_only():
    adapter = small(image_size=32, channels=3)
    names = [type(t).__name__ for t in adapter.transforms(train=True).transforms]
    assert names[:4] == ["RGB", "Resize", "RandomCrop", "RandomHorizontalFlip"]
    assert adapter.transforms(train=True).transforms[1].size == [36, 36]  # round(32 * 286 / 256), square
    assert "RandomHorizontalFlip" not in [type(t).__name__ for t in adapter.transforms(train=True, resize_only=True).transforms]


def test_translate_shapes_range_directions_and_determinism():
    adapter = small(class_names=("3", "8"))
    x = torch.rand(3, 1, 24, 20) * 2 - 1  # fully convolutional: any multiple of 4
    y = adapter.translate(x)
    assert y.shape == (3, 1, 24, 20) and y.dtype == torch.float32 and y.device.type == "cpu"
    assert float(y.min()) >= 0 and float(y.max()) <= 1 and torch.equal(y, adapter.translate(x, "AtoB"))
    with torch.no_grad():
        torch.testing.assert_close(y, to_unit_range(adapter.model["generator_ab"](x)))
        back = to_unit_range(adapter.model["generator_ba"](x))
    for condition in ("BtoA", "btoa", "3"):  # the direction, or the target domain's name
        assert torch.equal(adapter.translate(x, condition), back)
    assert torch.equal(adapter.translate(x, "8"), y)
    assert adapter.model["generator_ab"].training  # eval mode only during the call


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (
            (torch.zeros(1, 1, 18, 16),),
            {},
            "cyclegan translates float images (N, 1, H, W) with H and W multiples of 4 of at least 8, "
            "got shape (1, 1, 18, 16) torch.float32; use adapter.preprocess(image)",
        ),
        ((torch.zeros(1, 3, 16, 16),), {}, "cyclegan translates float images (N, 1, H, W)"),
        (
            (torch.zeros(1, 1, 16, 16), "zebra"),
            {},
            "unknown translation direction 'zebra' for cyclegan; valid: AtoB, BtoA, or the target domain: A (A) or B (B)",
        ),
        (
            (torch.zeros(1, 1, 16, 16),),
            {"source": "Male"},
            "cyclegan takes no input attributes (--from is for stargan); give the direction AtoB or BtoA",
        ),
    ],
)
def test_bad_translations_are_one_line_errors(args, kwargs, message):
    with pytest.raises(ZooError) as info:
        small().translate(*args, **kwargs)
    assert str(info.value).startswith(message) and info.value.exit_code == 2


def test_sample_translates_images_seen_in_training():
    adapter = small()
    with pytest.raises(ZooError) as info:
        adapter.sample(4)
    assert str(info.value) == (
        "cyclegan translates images rather than drawing them from noise: give an input image ('zoo sample cyclegan --image FILE', "
        "or translate(preprocess(image)[None])); sample() translates images seen in training, and this model has seen none"
    )
    Trainer(epochs=1, progress=False).fit(adapter, [batch(n=8)])
    a, b = adapter.sample(3, seed=1), adapter.sample(3, seed=1)
    assert a.shape == (3, 1, 16, 16) and torch.equal(a, b) and float(a.min()) >= 0 and float(a.max()) <= 1
    assert not torch.equal(a, adapter.sample(3, seed=2))
    assert adapter.sample(9, seed=0).shape == (9, 1, 16, 16)  # more than the 4 A images seen: drawn with replacement
    assert torch.equal(
        adapter.sample(4, seed=0, condition="BtoA"),
        adapter.translate(adapter._probe["b"][torch.randperm(4, generator=torch.Generator().manual_seed(0))], "BtoA"),
    )


def test_generator_inputs_are_seeded_images_for_the_bench():
    adapter = small()
    (x,) = adapter.generator_inputs(2, generator=torch.Generator().manual_seed(0))
    (y,) = adapter.generator_inputs(2, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, 1, 16, 16) and torch.equal(x, y) and float(x.min()) >= -1 and float(x.max()) <= 1
    assert adapter.generator(x).shape == x.shape


# -- official weights ------------------------------------------------------------------------


def test_released_generator_loads_through_the_official_weights_option(tmp_path):
    meta, _ = load_reference("cyclegan_generator")
    sd = synthetic_state_dict(meta["state_dict"])
    released = OrderedDict()  # the released key order, with the InstanceNorm statistics of PyTorch 0.4
    for key, shape, _ in meta["extra"]["released_checkpoint_state_dict_expected"]:
        released[key] = sd[key] if key in sd else torch.tensor(0) if key.endswith("tracked") else torch.ones(shape)
    path = tmp_path / "horse2zebra.pth"
    torch.save(released, path)
    torch.manual_seed(0)
    adapter = build(NAME, official_weights=str(path))
    assert all(torch.equal(v, sd[k]) for k, v in adapter.model["generator_ab"].state_dict().items())
    assert len(adapter.model["generator_ab"].state_dict()) == 48
    config = adapter.config()
    assert {k: config[k] for k in ("image_size", "channels", "ngf", "n_blocks", "use_dropout")} == {
        "image_size": 256,
        "channels": 3,
        "ngf": 64,
        "n_blocks": 9,
        "use_dropout": False,
    }
    x = torch.rand(1, 3, 16, 16) * 2 - 1  # the fixture's 256-px output is checked in test_official_gans.py
    with torch.no_grad():
        want = to_unit_range(load_official_cyclegan(path)(x))
    torch.testing.assert_close(adapter.translate(x), want)
    with pytest.raises(ZooError) as info:
        adapter.translate(x, "BtoA")
    assert str(info.value) == (
        f"{path} is a released A->B generator only (the official releases hold one generator per file); for B->A load the reverse "
        "file (zebra2horse for horse2zebra) or train both directions with 'zoo train'"
    )
    rebuilt = build(NAME, **config)  # a fine-tuned checkpoint's sidecar rebuilds the same networks without the file
    assert {k: v.shape for k, v in rebuilt.model.state_dict().items()} == {k: v.shape for k, v in adapter.model.state_dict().items()}


def test_small_released_file_and_its_safetensors_conversion_load(tmp_path):
    torch.manual_seed(0)
    g = ResnetGenerator(3, 3, ngf=4, n_blocks=2)
    pth, st = tmp_path / "tiny.pth", tmp_path / "tiny.safetensors"
    torch.save(released_file(g), pth)
    save_file(dict(released_file(g)), str(st))  # what zoo.io.pretrained.fetch_pretrained caches
    for path in (pth, st):
        adapter = build(NAME, official_weights=str(path), image_size=32)
        assert (adapter.ngf, adapter.n_blocks, adapter.channels) == (4, 2, 3)
        assert all(torch.equal(v, g.state_dict()[k]) for k, v in adapter.model["generator_ab"].state_dict().items())
    with pytest.raises(ZooError) as info:
        build(NAME, official_weights=str(pth), image_size=32, channels=1)
    assert str(info.value) == f"cyclegan channels=1 disagrees with the official weights {pth} (channels=3); drop channels"


def test_a_discriminator_file_is_named_as_such(tmp_path):
    meta, _ = load_reference("cyclegan_discriminator")
    path = tmp_path / "latest_net_D_A.pth"
    torch.save(synthetic_state_dict(meta["state_dict"]), path)
    with pytest.raises(ZooError) as info:
        build(NAME, official_weights=str(path))
    assert str(info.value) == (
        f"checkpoint {path} holds the CycleGAN NLayerDiscriminator (latest_net_D_A.pth); cyclegan needs the CycleGAN generator "
        "(latest_net_G.pth, released as horse2zebra.pth, monet2photo.pth, ...: see 'zoo info cyclegan')"
    )
    assert info.value.exit_code == 2
    with pytest.raises(ZooError, match=r"^checkpoint .*missing\.pth does not exist"):
        build(NAME, official_weights=str(tmp_path / "missing.pth"))


def test_registry_lists_the_released_generators():
    spec = get_spec(NAME)
    tags = [w.tag for w in spec.weights]
    assert tags[0] == "horse2zebra" and {"zebra2horse", "monet2photo", "style_vangogh", "iphone2dslr_flower"} <= set(tags)
    assert len(tags) == 18
    for w in spec.weights:
        assert w.url == f"https://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/{w.tag}.pth"
        assert w.format == "pth" and w.sha256 == "" and w.license == "BSD-2-Clause" and w.dataset and "http://" in w.notes


# -- zoo train / zoo sample on real digits -------------------------------------------------------


def test_train_on_two_digit_classes_saves_reloads_and_translates(tmp_path):
    from zoo import tasks
    from zoo.tasks import sampling

    random.seed(0)
    out = tmp_path / "run"
    summary = tasks.train(NAME, "digits:3,8", epochs=1, batch_size=64, out=out, progress=False, build_options={"ngf": 4, "ndf": 4})
    # every image of digits 3 and 8 (183 + 174), full batches of 64
    assert summary["classes"] == ["3", "8"] and summary["steps"] == 5 and (out / "samples" / "epoch_0001.png").is_file()
    adapter = tasks.load_gan(NAME, out)
    assert adapter.domains == ("3", "8") and adapter.config()["class_names"] == ["3", "8"] and adapter.image_size == 32
    Image.fromarray(np.full((8, 8), 200, dtype=np.uint8)).save(tmp_path / "x.png")
    result = sampling.sample(NAME, checkpoint=out, images=[str(tmp_path / "x.png")], out=tmp_path / "t.png", condition="3")
    assert result["shape"] == [1, 1, 32, 32] and (tmp_path / "t.png").is_file()
    with pytest.raises(ZooError, match=r"^cyclegan translates between two domains: the data must have exactly 2 classes \(A, B\), got 10"):
        tasks.train(NAME, "digits", epochs=1, progress=False)
