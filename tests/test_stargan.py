"""Tests for the StarGAN plugin (Choi et al. 2018, arXiv:1711.09020; yunjey/stargan), the package
plugins/stargan: the torch-free hook module (__init__.py), the adapter (losses of solver.py
Solver.train, the --attr condition, official preprocessing and inference mode, official weights
through the build option) and the CelebA attribute-file data source (data.py). Offline, CPU,
seeded; tiny images and widths."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch
from reference_fixtures import load_reference, synthetic_state_dict
from safetensors.torch import save_file

from zoo.errors import ZooError
from zoo.io.grid_text import grid_layout
from zoo.models.gan import StepContext
from zoo.plugins import stargan
from zoo.plugins.stargan.adapter import StarGANAdapter
from zoo.plugins.stargan.conditions import create_labels
from zoo.plugins.stargan.data import CELEBA_ATTRIBUTES, AttributeSource, celeba_source, read_attributes, resolve_celeba
from zoo.plugins.stargan.losses import classification_loss
from zoo.plugins.stargan.networks import Discriminator, Generator
from zoo.plugins.stargan.official import official_inference
from zoo.registry import build, get_spec
from zoo.training.optim import build_optimizer

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread


SMALL = {"image_size": 16, "g_conv_dim": 4, "d_conv_dim": 4, "g_repeat_num": 1}
DIGITS = ["0", "1", "2"]


def small(seed: int = 0, **options) -> StarGANAdapter:
    torch.manual_seed(seed)
    return build("stargan", **{**SMALL, **options})


def domain_batch(n: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 16, 16, generator=g) * 2 - 1, torch.arange(n) % 3


def attribute_batch(n: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.tensor([[1, 0, 0, 1, 1], [0, 1, 0, 0, 1], [0, 0, 1, 1, 0], [0, 0, 0, 0, 0]], dtype=torch.float32)
    return torch.rand(n, 3, 16, 16, generator=g) * 2 - 1, labels[:n]


def run_iteration(adapter, opts, batch, update_generator=True):
    """What the trainer does with one iteration: back-propagate and step each yielded step."""
    logs, names = {}, []
    for step in adapter.training_step(batch, StepContext(update_generator=update_generator)):
        opts[step.optimizer].zero_grad(set_to_none=True)
        step.loss.backward()
        opts[step.optimizer].step()
        logs.update(step.logs)
        names.append(step.optimizer)
    return logs, names


def save_official(tmp_path, name, state, *, old=True):
    """A file as the released ones: no num_batches_tracked, pre-1.6 torch.save format."""
    state = OrderedDict((k, v) for k, v in state.items() if not k.endswith("num_batches_tracked"))
    path = tmp_path / name
    torch.save(state, path, _use_new_zipfile_serialization=not old)
    return path


# -- plugin, registry, build options --------------------------------------------------------


def test_hook_module_is_made_by_gan_hooks_and_listing_does_not_import_torch():
    assert stargan.zoo_build_model.__module__ == "zoo.pluginkit"
    assert [s.name for s in stargan.zoo_model_specs()] == ["stargan"]
    code = (
        "import sys\nfrom zoo.registry import load_registry\n"
        "assert 'stargan' in load_registry()\nassert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env={**os.environ, "ZOO_PLUGINS": "stargan"})


def test_default_build_is_the_released_configuration():
    spec = get_spec("stargan")
    adapter = build("stargan")
    assert list(adapter.networks) == ["generator", "discriminator"]
    counts = {k: sum(p.numel() for p in net.parameters()) for k, net in adapter.networks.items()}
    assert counts == {"generator": 8_430_528, "discriminator": 44_762_048}  # the released 200000-G/D.ckpt
    assert sum(counts.values()) == spec.num_params and spec.input_size == (3, 128, 128)
    assert adapter.condition.names == CELEBA_ATTRIBUTES and adapter.condition.exclusive == (("Black_Hair", "Blond_Hair", "Brown_Hair"),)
    assert (adapter.n_critic, adapter.default_lr, adapter.betas) == (5, 1e-4, (0.5, 0.999))
    assert (adapter.schedule.kind, adapter.schedule.decay_after_epochs) == ("linear_decay", None)
    assert (adapter.lambda_cls, adapter.lambda_rec, adapter.lambda_gp, adapter.crop_size) == (1.0, 10.0, 10.0, 178)
    assert adapter.discriminator.repeat_num == 6 and adapter.mode == "attribute"
    opts = {n: build_optimizer(n, c) for n, c in adapter.configure_optimizers().items()}
    assert set(opts) == {"generator", "discriminator"}
    assert all(isinstance(o, torch.optim.Adam) and o.defaults["betas"] == (0.5, 0.999) and o.defaults["lr"] == 1e-4 for o in opts.values())


def test_config_rebuilds_the_same_model():
    adapter = small(class_names=DIGITS, image_size=32)
    assert adapter.config() == {
        "image_size": 32,
        "channels": 3,
        "g_conv_dim": 4,
        "d_conv_dim": 4,
        "g_repeat_num": 1,
        "d_repeat_num": 4,
        "mode": "domain",
        "attrs": DIGITS,
        "crop_size": 0,
        "lambda_cls": 1.0,
        "lambda_rec": 10.0,
        "lambda_gp": 10.0,
    }
    # what zoo.tasks.sampling.load_gan passes back: the sidecar config plus the condition's names as class_names
    again = build("stargan", **adapter.config(), class_names=DIGITS)
    assert again.config() == adapter.config() and again.condition == adapter.condition
    shapes = {k: v.shape for k, v in adapter.model.state_dict().items()}
    assert {k: v.shape for k, v in again.model.state_dict().items()} == shapes


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {"image_size": 20},
            "stargan image_size 20 must be a multiple of 4 (generator) and of 2**d_repeat_num = 8 (discriminator); "
            "use 16 or lower d_repeat_num",
        ),
        (
            {"image_size": 8},
            "stargan image_size must be an int >= 16 (height = width in pixels, a multiple of 4 and of 2**d_repeat_num; 128 in main.py), "
            "got 8",
        ),
        ({"channels": 4}, "stargan channels must be one of 3, 1 (3 RGB, or 1 grey: repeated to RGB as the official loader does), got 4"),
        (
            {"channels": True},
            "stargan channels must be one of 3, 1 (3 RGB, or 1 grey: repeated to RGB as the official loader does), got True",
        ),
        (
            {"mode": "multi"},
            "stargan mode must be one of attribute, domain (attribute: 0/1 attribute vectors, CelebA; domain: one label per image, "
            "RaFD or class folders; default domain for class names without attrs), got 'multi'",
        ),
        ({"attrs": "Male,Male"}, "stargan attrs repeats Male; give each name once"),
        (
            {"attrs": ["Male"], "class_names": ["Young"]},
            "stargan attrs Male differ from the data's classes Young; give the same names or drop one",
        ),
        ({"class_names": ["cat"]}, "stargan in domain mode needs at least 2 domains, got 1: cat"),
        (
            {"crop_size": -1},
            "stargan crop_size must be an int >= 0 (centre crop before resizing, 178 in main.py for CelebA; "
            "default 178 in attribute mode, 0 = none in domain mode), got -1",
        ),
        ({"lambda_rec": -1}, "stargan lambda_rec must be a number >= 0 (weight of the reconstruction loss, 10 in main.py), got -1"),
        ({"g_conv_dim": 0}, "stargan g_conv_dim must be an int >= 1 (generator width, 64 in main.py), got 0"),
    ],
)
def test_bad_build_options_are_one_line_errors(options, message):
    with pytest.raises(ZooError) as err:
        build("stargan", **options)
    assert str(err.value) == message and err.value.exit_code == 2


def test_mode_defaults():
    assert small().mode == "attribute"  # the released CelebA configuration
    assert small(class_names=DIGITS).mode == "domain"  # zoo train on class folders / digits
    assert small(attrs=["Male", "Young"], class_names=["Male", "Young"]).mode == "attribute"  # celeba:DIR data
    assert small(class_names=DIGITS, mode="attribute").mode == "attribute"


# -- condition -----------------------------------------------------------------------------


def test_attribute_words_resolve_and_hair_colours_are_exclusive():
    c = small().condition
    assert c.parse("blond") == {"Blond_Hair": 1.0, "Black_Hair": 0.0, "Brown_Hair": 0.0}
    assert c.parse("Blonde") == c.parse("BLOND_HAIR") == c.parse("blond_h") == c.parse("blond")
    assert c.parse("woman,old") == {"Male": 0.0, "Young": 0.0}
    assert c.parse("man,young") == {"Male": 1.0, "Young": 1.0}
    assert c.parse("brown,-male") == {"Brown_Hair": 1.0, "Black_Hair": 0.0, "Blond_Hair": 0.0, "Male": 0.0}
    with pytest.raises(ZooError, match=r"^--attr Black_Hair, Blond_Hair cannot be on together"):
        c.parse("black,blond")
    with pytest.raises(ZooError) as err:
        c.parse("purple")
    assert str(err.value) == "unknown --attr 'purple'; valid: Black_Hair, Blond_Hair, Brown_Hair, Male, Young"
    with pytest.raises(ZooError, match=r"^--attr 'b' is ambiguous: Black_Hair, Blond_Hair, Brown_Hair"):
        c.parse("b")


def test_synonyms_follow_the_attributes_present():
    c = small(attrs=["Gray_Hair", "Eyeglasses", "No_Beard", "Black_Hair"]).condition
    assert c.exclusive == (("Gray_Hair", "Black_Hair"),)
    assert c.parse("grey") == {"Gray_Hair": 1.0, "Black_Hair": 0.0}
    assert c.parse("glasses,beard") == {"Eyeglasses": 1.0, "No_Beard": 0.0}
    assert c.parse("No_Beard") == {"No_Beard": 1.0}
    with pytest.raises(ZooError, match=r"^unknown --attr 'woman'"):
        c.parse("woman")  # no Male attribute, so no such word


def test_domain_mode_is_one_exclusive_group():
    c = small(class_names=DIGITS).condition
    assert c.exclusive == (tuple(DIGITS),)
    assert c.parse("two") == c.parse("2") == {"2": 1.0, "0": 0.0, "1": 0.0}


def test_create_labels_matches_the_official_function():
    c_org = torch.tensor([[1.0, 0, 0, 1, 0], [0, 0, 1, 0, 1]])
    out = create_labels(c_org, CELEBA_ATTRIBUTES)
    assert [t.tolist() for t in out] == [
        [[1, 0, 0, 1, 0], [1, 0, 0, 0, 1]],  # Black_Hair on, other hair colours off
        [[0, 1, 0, 1, 0], [0, 1, 0, 0, 1]],
        [[0, 0, 1, 1, 0], [0, 0, 1, 0, 1]],
        [[1, 0, 0, 0, 0], [0, 0, 1, 1, 1]],  # Male flipped
        [[1, 0, 0, 1, 1], [0, 0, 1, 0, 0]],  # Young flipped
    ]
    assert [t.tolist() for t in create_labels(torch.zeros(1, 3), DIGITS, "domain")] == [[[1, 0, 0]], [[0, 1, 0]], [[0, 0, 1]]]


def test_classification_losses_are_the_official_ones():
    logit = torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, -3.0]])
    target = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    bce = -(target * torch.log(torch.sigmoid(logit)) + (1 - target) * torch.log(1 - torch.sigmoid(logit)))
    torch.testing.assert_close(classification_loss(logit, target), bce.sum() / 2)  # size_average=False / N
    idx = torch.tensor([0, 2])
    torch.testing.assert_close(classification_loss(logit, idx, "domain"), torch.nn.functional.cross_entropy(logit, idx))


# -- training --------------------------------------------------------------------------------


def test_the_trainer_steps_the_generator_every_fifth_iteration():
    from zoo.training.trainer import Trainer

    adapter = small(class_names=DIGITS)
    before = {k: v.clone() for k, v in adapter.model.state_dict().items()}
    batch = domain_batch()
    result = Trainer(epochs=1, progress=False).fit(adapter, [batch] * 4)  # 4 discriminator iterations only
    assert result["steps"] == 4 and "g_loss" not in result
    g = adapter.generator.state_dict()
    assert all(torch.equal(v, before[f"generator.{k}"]) for k, v in g.items() if k.endswith("weight"))
    result = Trainer(epochs=1, progress=False).fit(adapter, [batch] * 5)  # the 5th iteration steps G
    assert {"d_loss", "d_loss_real", "d_loss_fake", "d_loss_cls", "d_loss_gp", "g_loss", "g_loss_fake", "g_loss_rec", "g_loss_cls"} <= set(
        result
    )
    for name, net in adapter.networks.items():
        changed = [k for k, v in net.state_dict().items() if k.endswith("weight") and not torch.equal(v, before[f"{name}.{k}"])]
        assert changed, name


def test_losses_combine_as_in_the_official_solver():
    adapter = small()
    opts = {n: build_optimizer(n, c) for n, c in adapter.configure_optimizers().items()}
    adapter.train()
    logs, names = run_iteration(adapter, opts, attribute_batch())
    assert names == ["discriminator", "generator"]
    d = logs["d_loss_real"] + logs["d_loss_fake"] + 1.0 * logs["d_loss_cls"] + 10.0 * logs["d_loss_gp"]
    g = logs["g_loss_fake"] + 10.0 * logs["g_loss_rec"] + 1.0 * logs["g_loss_cls"]
    torch.testing.assert_close(logs["d_loss"], d)
    torch.testing.assert_close(logs["g_loss"], g)
    assert all(v.dim() == 0 and not v.requires_grad and torch.isfinite(v) for v in logs.values())
    _, names = run_iteration(adapter, opts, attribute_batch(), update_generator=False)
    assert names == ["discriminator"]


def test_labels_that_do_not_fit_the_mode_are_one_line_errors():
    attribute, domain = small(), small(class_names=DIGITS)
    with pytest.raises(ZooError) as err:
        next(attribute.training_step(domain_batch(), StepContext()))
    assert str(err.value) == (
        "stargan was built in attribute mode for 5 attributes (Black_Hair, Blond_Hair, Brown_Hair, Male, Young) but the labels "
        "have shape (6,); for class folders (one domain per image) build it with mode='domain'"
    )
    with pytest.raises(ZooError) as err:
        next(domain.training_step((torch.zeros(2, 3, 16, 16), torch.zeros(2, 3)), StepContext()))
    assert str(err.value) == (
        "stargan was built in domain mode (0, 1, 2) but the labels have shape (2, 3) torch.float32; "
        "for attribute vectors (celeba:DIR) build it with mode='attribute'"
    )
    with pytest.raises(ZooError, match=r"^domain labels must be in 0\.\.2 \(0, 1, 2\), got 0\.\.5$"):
        next(domain.training_step((torch.zeros(6, 3, 16, 16), torch.arange(6)), StepContext()))
    with pytest.raises(ZooError, match=r"^stargan was built for float images \(N, 3, 16, 16\), got shape \(2, 3, 32, 32\)"):
        next(domain.training_step((torch.zeros(2, 3, 32, 32), torch.zeros(2, dtype=torch.long)), StepContext()))


# -- preprocessing, translation, sampling ----------------------------------------------------


def test_preprocess_is_the_official_test_transform():
    from PIL import Image
    from torchvision import transforms as T

    adapter = small(image_size=128)
    g = torch.Generator().manual_seed(0)
    pil = Image.fromarray(torch.randint(0, 256, (218, 178, 3), generator=g, dtype=torch.uint8).numpy())
    official = T.Compose([T.CenterCrop(178), T.Resize(128), T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    x = adapter.preprocess(pil)
    assert x.shape == (3, 128, 128) and x.dtype == torch.float32
    torch.testing.assert_close(x, official(pil), rtol=0, atol=1e-6)
    assert adapter.preprocess(pil.convert("L")).shape == (3, 128, 128)  # grey and RGBA photographs become RGB
    assert adapter.preprocess(pil.convert("RGBA")).shape == (3, 128, 128)
    with pytest.raises(ZooError, match=r"^stargan preprocess takes a PIL image, got Tensor; open the file with PIL first$"):
        adapter.preprocess(x)


def test_translate_reproduces_the_official_train_mode_output(tmp_path):
    meta, io = load_reference("stargan_generator")
    path = save_official(tmp_path, "200000-G.ckpt", synthetic_state_dict(meta["state_dict"]))
    adapter = build("stargan", official_weights=str(path))
    assert adapter.discriminator_at_hand is False and adapter.condition.names == CELEBA_ATTRIBUTES
    buffers = {k: v.clone() for k, v in adapter.generator.state_dict().items()}
    adapter.eval()
    out = adapter.translate(io["input"], io["label"])  # a full (N, c_dim) label is used as it is
    want = ((io["output_trainmode"] + 1) / 2).clamp(0, 1)  # solver.py denorm
    assert out.shape == (1, 3, 128, 128) and out.dtype == torch.float32
    torch.testing.assert_close(out, want, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(out, ((io["output"] + 1) / 2).clamp(0, 1), atol=1e-3)  # eval mode is not what the official test runs
    assert all(torch.equal(v, buffers[k]) for k, v in adapter.generator.state_dict().items())  # no side effect
    assert not adapter.generator.training  # flags restored


def test_official_inference_restores_flags_and_running_statistics():
    g = Generator(conv_dim=4, c_dim=2, repeat_num=1).eval()
    g.main[1].training = True  # a mixed state
    stats = {k: v.clone() for k, v in g.state_dict().items()}
    with official_inference(g):
        assert all(m.training for m in g.modules()) and not torch.is_grad_enabled()
        g(torch.randn(1, 3, 8, 8), torch.zeros(1, 2))
    assert [m.training for m in g.modules()].count(True) == 1 and g.main[1].training
    assert all(torch.equal(v, stats[k]) for k, v in g.state_dict().items())


def test_translate_applies_the_edits_to_the_source(capsys):
    adapter = small()
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    c = adapter.target_labels(x, "blond,old", source="Black_Hair,Male")
    assert c.tolist() == [[0, 1, 0, 1, 0]] * 2
    assert adapter.target_labels(x, "female", source=torch.tensor([0.0, 0, 1, 1, 1])).tolist() == [[0, 0, 1, 0, 1]] * 2
    guess = adapter.classify(x)  # what --from does not name comes from the discriminator's classifier
    guess[:, 3:] = 1
    assert torch.equal(adapter.target_labels(x, {"Male": 1}, source={"Young": 1}), guess)
    a, b = adapter.translate(x, "blond", source="Brown_Hair"), adapter.translate(x, "blond", source="Brown_Hair")
    assert a.shape == (2, 3, 16, 16) and torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    assert not torch.equal(a, adapter.translate(x, "black", source="Brown_Hair"))
    assert adapter.translate(x[:, :1], "blond", source="Brown_Hair").shape == (2, 3, 16, 16)  # grey is repeated to RGB
    # the trained (here: freshly built) discriminator is at hand: its classifier gives the source labels, no warning
    torch.testing.assert_close(adapter.source_labels(x), adapter.classify(x))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda a, x: a.translate(x),
            "stargan needs a target: --attr NAME[,NAME...]; valid: Black_Hair, Blond_Hair, Brown_Hair, Male, Young",
        ),
        (lambda a, x: a.translate(x, "purple"), "unknown --attr 'purple'; valid: Black_Hair, Blond_Hair, Brown_Hair, Male, Young"),
        (
            lambda a, x: a.translate(x, "blond", source="bald"),
            "unknown --attr 'bald' (did you mean: Male?); valid: Black_Hair, Blond_Hair, Brown_Hair, Male, Young",
        ),
        (
            lambda a, x: a.translate(x, {"Bald": 1}),
            "unknown --attr attribute 'Bald'; valid: Black_Hair, Blond_Hair, Brown_Hair, Male, Young",
        ),
        (
            lambda a, x: a.translate(x, [1, 0]),
            "--attr labels must be (2, 5) or (5,) 0/1 values in the order Black_Hair, Blond_Hair, Brown_Hair, Male, Young; got shape (2, 2)",
        ),
        (
            lambda a, x: a.translate(x[:, :, :8], "blond"),
            "stargan translates images of shape (N, 3, 16, 16), got (2, 3, 8, 16); use preprocess() (official test preprocessing) first",
        ),
        (lambda a, x: a.translate("x.png", "blond"), "stargan translates float images (N, 3, 16, 16) from preprocess(), got str"),
    ],
)
def test_bad_translation_inputs_are_one_line_errors(call, message):
    adapter = small()
    with pytest.raises(ZooError) as err:
        call(adapter, torch.zeros(2, 3, 16, 16))
    assert str(err.value) == message and err.value.exit_code == 2


def test_domain_translation_names_one_domain():
    adapter = small(class_names=DIGITS)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    assert adapter.target_labels(x, "two").tolist() == [[0, 0, 1]] * 2
    with pytest.raises(ZooError, match=r"^stargan translates to one domain: --attr NAME; valid: 0, 1, 2$"):
        adapter.translate(x, "-1")


def test_sample_is_the_official_debug_grid_after_training():
    from zoo.training.trainer import Trainer

    adapter = small(class_names=DIGITS)
    with pytest.raises(ZooError) as err:
        adapter.sample(4)
    assert str(err.value) == (
        "stargan translates images rather than drawing them from noise; pass --image FILE (or call translate() on preprocess()ed images)"
    )
    Trainer(epochs=1, progress=False).fit(adapter, [domain_batch()])
    a, b = adapter.sample(64, seed=3), adapter.sample(64, seed=3)
    assert a.shape == (64, 3, 16, 16) and a.dtype == torch.float32 and torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    assert not torch.equal(a, adapter.sample(64, seed=4))
    fixed = (domain_batch()[0].expand(-1, 3, -1, -1) + 1) / 2  # row 1 of the grid: the first batch's inputs
    order = torch.randperm(6, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a[:6], fixed[order])
    assert adapter.sample(5, seed=0, condition="1").shape == (5, 3, 16, 16)
    x, c = adapter.generator_inputs(2, generator=torch.Generator().manual_seed(0), condition="2")
    assert x.shape == (2, 3, 16, 16) and c.tolist() == [[0, 0, 1]] * 2


# -- official weights through the build option -------------------------------------------------


def test_official_files_load_through_the_build_option(tmp_path, capsys):
    torch.manual_seed(0)
    g, d = Generator(conv_dim=8, c_dim=5, repeat_num=2), Discriminator(image_size=32, conv_dim=8, c_dim=5, repeat_num=3)
    g_path = save_official(tmp_path, "1000-G.ckpt", g.state_dict())
    adapter = build("stargan", official_weights=str(g_path))  # no -D file beside it
    assert not adapter.discriminator_at_hand and adapter.image_size == 128
    assert (adapter.generator.conv_dim, adapter.generator.repeat_num) == (8, 2)
    assert all(torch.equal(v, g.state_dict()[k]) for k, v in adapter.generator.state_dict().items() if "num_batches" not in k)
    x = torch.zeros(1, 3, 128, 128)
    assert adapter.source_labels(x).tolist() == [[0.0] * 5]
    assert capsys.readouterr().err == (
        "Warning: stargan: the input's own attributes are not known (no --from, and no discriminator file beside the generator): "
        "assumed Black_Hair=0, Blond_Hair=0, Brown_Hair=0, Male=0, Young=0; give them with --from, e.g. --from Brown_Hair,Young\n"
    )
    assert adapter.source_labels(x, "Brown_Hair=1,Male=0,Young=1").tolist() == [[0, 0, 1, 0, 1]]  # fully given: no warning
    assert capsys.readouterr().err == ""

    save_official(tmp_path, "1000-D.ckpt", d.state_dict())  # the discriminator of the same run, beside it
    adapter = build("stargan", official_weights=str(g_path))
    assert adapter.discriminator_at_hand and adapter.image_size == 32 and adapter.discriminator.repeat_num == 3
    assert all(torch.equal(v, d.state_dict()[k]) for k, v in adapter.discriminator.state_dict().items())
    rebuilt = build("stargan", **adapter.config())  # a fine-tuned checkpoint rebuilds without the file
    assert {k: v.shape for k, v in rebuilt.model.state_dict().items()} == {k: v.shape for k, v in adapter.model.state_dict().items()}
    assert rebuilt.condition == adapter.condition

    converted = tmp_path / "cache.safetensors"  # what zoo.io.download converts the official file to
    save_file(OrderedDict((k, v) for k, v in g.state_dict().items() if "num_batches" not in k), str(converted))
    loaded = build("stargan", official_weights=str(converted))
    assert all(torch.equal(v, adapter.generator.state_dict()[k]) for k, v in loaded.generator.state_dict().items())


def test_wrong_official_files_are_one_line_errors(tmp_path):
    d_path = save_official(tmp_path, "1000-D.ckpt", Discriminator(image_size=32, conv_dim=4, repeat_num=3).state_dict())
    with pytest.raises(ZooError) as err:
        build("stargan", official_weights=str(d_path))
    assert str(err.value).startswith(f"checkpoint {d_path} is not the expected StarGAN generator (yunjey/stargan *-G.ckpt): ")
    assert str(err.value).endswith(
        "it looks like the StarGAN discriminator (yunjey/stargan *-D.ckpt): load it with load_official_stargan(path, part='D')"
    )
    rafd = save_official(tmp_path, "rafd-G.ckpt", Generator(conv_dim=4, c_dim=8, repeat_num=1).state_dict())
    with pytest.raises(ZooError) as err:
        build("stargan", official_weights=str(rafd))
    assert str(err.value) == (
        f"{rafd} has 8 labels, not the 5 CelebA attributes of the released models; give their names in order with attrs"
    )
    assert err.value.param == "attrs"
    with pytest.raises(ZooError, match=r"has 8 labels but 2 names were given \(a, b\); give 8$"):
        build("stargan", official_weights=str(rafd), attrs=["a", "b"])
    adapter = build("stargan", official_weights=str(rafd), attrs=[f"e{i}" for i in range(8)], mode="domain")
    assert adapter.mode == "domain" and adapter.c_dim == 8
    other = save_official(tmp_path, "9-D.ckpt", Discriminator(image_size=32, conv_dim=4, c_dim=3, repeat_num=3).state_dict())
    g5 = save_official(tmp_path, "9-G.ckpt", Generator(conv_dim=4, c_dim=5, repeat_num=1).state_dict())
    with pytest.raises(
        ZooError, match=rf"^the discriminator {other} has 3 labels but the generator {g5} has 5; pass the files of one training run$"
    ):
        build("stargan", official_weights=str(g5))
    with pytest.raises(ZooError, match=r"^checkpoint .*missing\.ckpt does not exist"):
        build("stargan", official_weights=str(tmp_path / "missing.ckpt"))


def test_zoo_sample_translates_the_portrait_with_official_weights(tmp_path):
    from PIL import Image

    from zoo.tasks.sampling import sample

    torch.manual_seed(0)
    g_path = save_official(tmp_path, "200000-G.ckpt", Generator(conv_dim=4, c_dim=5, repeat_num=1).state_dict())
    save_official(tmp_path, "200000-D.ckpt", Discriminator(image_size=32, conv_dim=4, repeat_num=3).state_dict())
    out = tmp_path / "blond.png"
    result = sample("stargan", weights=str(g_path), condition="blond", out=out)
    assert result["shape"] == [1, 3, 32, 32] and Image.open(out).size[0] > Image.open(out).size[1]  # input | translation


# -- CelebA attribute files ------------------------------------------------------------------------

NAMES = ["5_o_Clock_Shadow", "Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]


def write_celeba(root, n: int = 10, *, images: bool = True):
    """A CelebA-layout folder: list_attr_celeba.txt (count, names, 'file v1 v2 ...' with 1/-1) and images/."""
    from PIL import Image

    rows = []
    for i in range(n):
        values = [1 if (i >> b) & 1 else -1 for b in range(len(NAMES))]
        rows.append(f"{i + 1:06d}.jpg " + " ".join(f"{v:2d}" for v in values))
    (root / "list_attr_celeba.txt").write_text(f"{n}\n" + " ".join(NAMES) + " \n" + "\n".join(rows) + "\n")
    if images:
        (root / "images").mkdir()
        for i in range(n):
            Image.new("RGB", (40, 48), (20 * i, 100, 255 - 20 * i)).save(root / "images" / f"{i + 1:06d}.jpg")
    return root


def test_attribute_file_is_read_as_the_official_preprocess(tmp_path):
    write_celeba(tmp_path, 10, images=False)
    files, labels, names = read_attributes(tmp_path / "list_attr_celeba.txt", ["Male", "Black_Hair", "Young"])
    assert names == NAMES and files == [f"{i + 1:06d}.jpg" for i in range(10)]
    assert labels == [[float((i >> 4) & 1), float((i >> 1) & 1), float((i >> 5) & 1)] for i in range(10)]


def test_celeba_source_splits_as_the_official_loader(tmp_path):
    write_celeba(tmp_path, 10)
    source = celeba_source(tmp_path, "Black_Hair,Blond_Hair,Male")
    assert isinstance(source, AttributeSource) and source.classes == ["Black_Hair", "Blond_Hair", "Male"]
    assert source.build_options == {"mode": "attribute", "attrs": ["Black_Hair", "Blond_Hair", "Male"]}
    order = list(range(10))
    random.seed(1234)  # data_loader.py CelebA.preprocess
    random.shuffle(order)
    assert source.val.filenames == [f"{i + 1:06d}.jpg" for i in order[:2]]  # min(1999, ceil(0.2 * 10)) held out
    assert source.train.filenames == [f"{i + 1:06d}.jpg" for i in order[2:]]
    image, label = source.train[0]
    assert image.mode == "RGB" and image.size == (40, 48)
    i = order[2]
    assert label.dtype == torch.float32 and label.tolist() == [float((i >> 1) & 1), float((i >> 2) & 1), float((i >> 4) & 1)]
    assert resolve_celeba(str(tmp_path)).classes == list(CELEBA_ATTRIBUTES)


def test_celeba_data_trains_stargan_in_attribute_mode(tmp_path):
    from zoo.data import make_loaders
    from zoo.training.trainer import Trainer

    write_celeba(tmp_path, 10)
    source = celeba_source(tmp_path, "Black_Hair,Blond_Hair,Male")
    adapter = small(class_names=source.classes, crop_size=32, **source.build_options)  # what zoo train needs to pass
    train, _ = make_loaders(
        source, train_transform=adapter.transforms(train=True), val_transform=adapter.transforms(), batch_size=4, drop_last=True
    )
    images, labels = next(iter(train))
    assert images.shape == (4, 3, 16, 16) and labels.shape == (4, 3) and labels.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    result = Trainer(epochs=1, progress=False).fit(adapter, train)
    assert result["steps"] == 2 and torch.isfinite(torch.tensor(result["d_loss_cls"]))


@pytest.mark.parametrize(
    "setup, call, message",
    [
        (
            lambda p: None,
            lambda p: celeba_source(p),
            "--data celeba:{p}: no list_attr_celeba.txt in {p} or {p}/Anno; put the attribute file there",
        ),
        (
            lambda p: write_celeba(p, 3),
            lambda p: celeba_source(p, "Blond,Male"),
            "attrs 'Blond' is not an attribute of {p}/list_attr_celeba.txt (did you mean: Blond_Hair?); valid: "
            "5_o_Clock_Shadow, Black_Hair, Blond_Hair, Brown_Hair, Male, Young",
        ),
        (
            lambda p: (p / "list_attr_celeba.txt").write_text("file,Male\na.jpg,1\n"),
            lambda p: celeba_source(p),
            "{p}/list_attr_celeba.txt is not in the list_attr_celeba.txt format: line 1 must be the number of images and line 2 the attribute names",
        ),
        (
            lambda p: (p / "list_attr_celeba.txt").write_text("1\nMale Young\na.jpg 1\n"),
            lambda p: celeba_source(p, ["Male"]),
            "{p}/list_attr_celeba.txt line 3 has 1 values for 2 attributes; each line is 'FILE v1 v2 ...' with 1/-1 values",
        ),
        (
            lambda p: write_celeba(p, 3, images=False),
            lambda p: celeba_source(p, ["Male"]),
            "{p}/list_attr_celeba.txt lists 000001.jpg, which is not in {p}; give the image folder that holds the listed files",
        ),
        (
            lambda p: None,
            lambda p: resolve_celeba(""),
            "--data celeba: names no folder; CelebA attribute data is given as celeba:DIR (the folder with list_attr_celeba.txt)",
        ),
    ],
)
def test_bad_celeba_data_is_a_one_line_error(tmp_path, setup, call, message):
    setup(tmp_path)
    with pytest.raises(ZooError) as err:
        call(tmp_path)
    text = str(err.value).replace("{param}", "attrs")
    assert text == message.format(p=tmp_path)


def test_zoo_train_on_digit_domains_then_sample_from_the_checkpoint(tmp_path):
    from zoo import tasks
    from zoo.tasks.sampling import load_gan

    out = tmp_path / "run"
    options = {"g_conv_dim": 4, "d_conv_dim": 4, "g_repeat_num": 1}
    summary = tasks.train("stargan", "digits:0-2", epochs=1, img_size=16, out=out, progress=False, build_options=options)
    assert summary["steps"] == 8 and summary["classes"] == DIGITS  # every one of the 537 digits, batches of 64
    assert (out / "samples" / "epoch_0001.png").is_file()  # the per-epoch debug grid (sample)
    adapter = load_gan("stargan", out)
    assert adapter.mode == "domain" and adapter.condition.names == tuple(DIGITS) and adapter.image_size == 16
    y = adapter.translate(torch.zeros(1, 1, 16, 16), "two")
    assert y.shape == (1, 3, 16, 16)


def test_zoo_train_cli_on_celeba_attributes_then_sample_blond(tmp_path):
    """`zoo train stargan --data celeba:DIR --attrs ...` (attribute mode through the CLI), then
    `zoo sample stargan --checkpoint RUN --attr blond --image X` writes input | translation."""
    from PIL import Image
    from typer.testing import CliRunner

    from zoo.cli.app import app

    (tmp_path / "celeba").mkdir()
    root = write_celeba(tmp_path / "celeba", n=8)
    out = tmp_path / "run"
    args = ["train", "stargan", "--data", f"celeba:{root}", "--attrs", "Black_Hair,Blond_Hair,Male", "--epochs", "1"]
    args += ["--img-size", "16", "--batch-size", "4", "--out", str(out)]
    # tiny networks: the CLI has no flags for them, so the test passes them through tasks' build options
    from zoo import tasks

    real_train = tasks.train

    def small(*a, **k):
        k["build_options"] = {**(k.get("build_options") or {}), "g_conv_dim": 4, "d_conv_dim": 4, "g_repeat_num": 1}
        return real_train(*a, **k)

    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tasks, "train", small)
        res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "model.json").read_text())
    assert meta["condition"]["names"] == ["Black_Hair", "Blond_Hair", "Male"]
    src = tmp_path / "face.png"
    Image.new("RGB", (40, 48), (90, 60, 30)).save(src)
    res = runner.invoke(
        app,
        [
            "sample",
            "stargan",
            "--checkpoint",
            str(out),
            "--attr",
            "blond",
            "--from",
            "black",
            "--image",
            str(src),
            "--out",
            str(tmp_path / "b.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    layout = grid_layout(2, 2, 64, 64, row_labels=["face.png"], col_labels=["input", "Blond_Hair"])  # 16 px cells enlarged 4x
    assert Image.open(tmp_path / "b.png").size == (layout.width, layout.height)  # input | translation, labelled
