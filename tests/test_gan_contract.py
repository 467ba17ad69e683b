"""The GAN contract: typed conditions, the trainer's optimisation state (schedulers per
iteration, n_critic), the mixed-precision gradient penalty, and bad sampling inputs."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from zoo.cli.app import app
from zoo.errors import ZooError
from zoo.models.adapters import Step
from zoo.models.conditions import ConditionSpec
from zoo.models.gan import GANAdapter, StepContext
from zoo.models.gan_steps import gradient_penalty
from zoo.models.optim import OptimizerConfig, Schedule
from zoo.registry import get_spec
from zoo.training.optim import build_optimizer, build_scheduler
from zoo.training.trainer import Trainer

CELEBA = ConditionSpec(
    kind="attribute",
    names=("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"),
    exclusive=(("Black_Hair", "Blond_Hair", "Brown_Hair"),),
    synonyms=(("blonde", "Blond_Hair"), ("female", "-Male"), ("woman", "-Male"), ("old", "-Young")),
)


def one_line_error(res, *needles):
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code != 0 and len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert "Traceback" not in res.output
    for n in needles:
        assert n in lines[0], lines[0]


# -- build options: the shared validators (zoo.pluginkit) --------------------------------------


def test_a_bool_is_no_choice_among_numbers():
    from zoo.pluginkit import BuildOption, option_value

    channels = BuildOption("channels", "choice", 3, "3 RGB, or 1 grey", choices=(3, 1))
    assert option_value("m", channels, 1) == 1 and option_value("m", channels, None) == 3
    with pytest.raises(ZooError) as info:
        option_value("m", channels, True)  # True == 1, but not a number of channels
    assert str(info.value) == "m channels must be one of 3, 1 (3 RGB, or 1 grey), got True" and info.value.exit_code == 2
    flag = BuildOption("flag", "choice", True, "a flag", choices=(True, False))  # a choice of bools takes bools
    assert option_value("m", flag, False) is False


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ab", "must be a non-empty list of names, got 'ab'"),
        ([], "must be a non-empty list of names, got []"),
        (["a", " "], "must be a non-empty list of names, got ['a', ' ']"),
        (["a", 1], "must be a non-empty list of names, got ['a', 1]"),
        (["a", "b", "a", "b"], "repeats a, b; give each name once"),
    ],
)
def test_name_list_takes_distinct_names(value, message):
    from zoo.pluginkit import name_list

    assert name_list("m", "class_names", None) is None
    assert name_list("m", "class_names", ["cat", "dog"]) == name_list("m", "class_names", ("cat", "dog")) == ("cat", "dog")
    with pytest.raises(ZooError) as info:
        name_list("m", "class_names", value)
    assert str(info.value) == f"m class_names {message}" and info.value.exit_code == 2 and info.value.param == "class_names"


@pytest.mark.parametrize("name", ["vanilla_gan", "cgan", "dcgan", "stargan"])
def test_a_family_declares_every_build_option_it_takes(name):
    """zoo_model_options (pluginkit.options_hook) lists every option resolve_options returns, with
    the default it fills in; what zoo sets itself from the data is marked from_data."""
    import importlib

    from zoo.registry import model_options

    spec = get_spec(name)
    plugin = importlib.import_module(spec.plugin)
    assert plugin.zoo_model_options.__module__ == "zoo.pluginkit"
    declared = {o.name: o for o in model_options(name)}
    assert len(declared) == len(model_options(name)) and all(o.help for o in declared.values())
    resolved = plugin.resolve_options(spec, {})
    assert set(resolved) <= set(declared), set(resolved) - set(declared)
    assert {k: v for k, v in resolved.items() if declared[k].default is not None} == {
        k: o.default for k, o in declared.items() if k in resolved and o.default is not None
    }
    assert declared["image_size"].from_data and declared["channels"].from_data
    assert all(declared[k].from_data for k in ("class_names", "attrs", "official_weights") if k in declared)


# -- conditions --------------------------------------------------------------------------
def test_label_parsing_names_words_and_indices():
    digits = ConditionSpec("class", names=tuple(str(i) for i in range(10)))
    assert digits.parse("7") == 7 and digits.parse("seven") == 7 and digits.parse(" Seven ") == 7
    pets = ConditionSpec("class", names=("cat", "dog"))
    assert pets.parse("dog") == 1 and pets.parse("CAT") == 0 and pets.parse("1") == 1
    with pytest.raises(ZooError) as err:
        pets.parse("dgo")
    assert str(err.value) == "unknown --label 'dgo' (did you mean: dog?); valid: cat, dog"
    with pytest.raises(ZooError) as err:
        digits.parse("10")
    assert str(err.value) == "--label 10 is out of range; this model has 10 classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"
    assert digits.parse(None) is None


def test_attribute_parsing_prefixes_synonyms_negation_and_exclusive_hair():
    assert CELEBA.parse("blond") == {"Blond_Hair": 1.0, "Black_Hair": 0.0, "Brown_Hair": 0.0}
    assert CELEBA.parse("Blond_Hair") == CELEBA.parse("BLOND-hair") == CELEBA.parse("blonde")
    assert CELEBA.parse("black,male") == {"Black_Hair": 1.0, "Blond_Hair": 0.0, "Brown_Hair": 0.0, "Male": 1.0}
    assert CELEBA.parse("-male,young=0") == {"Male": 0.0, "Young": 0.0}
    assert CELEBA.parse("woman") == {"Male": 0.0} and CELEBA.parse("old") == {"Young": 0.0}
    assert CELEBA.apply([1, 0, 0, 1, 1], CELEBA.parse("blond,female")) == [0.0, 1.0, 0.0, 0.0, 1.0]
    beard = ConditionSpec(kind="attribute", names=("No_Beard", "Male"))  # a CelebA name that starts like a negation
    assert beard.parse("no_beard") == {"No_Beard": 1.0} and beard.parse("-No_Beard") == {"No_Beard": 0.0}
    assert beard.parse("no_male") == {"Male": 0.0}
    cases = {
        "b": "--attr 'b' is ambiguous: Black_Hair, Blond_Hair, Brown_Hair",
        "purple": "unknown --attr 'purple'",
        "black,blond": "--attr Black_Hair, Blond_Hair cannot be on together",
        "male,-male": "--attr turns Male both on and off",
        "male=2": "--attr 'male=2': the value after '=' must be 0 or 1",
        " , ": "--attr needs at least one attribute; valid: Black_Hair, Blond_Hair, Brown_Hair, Male, Young",
    }
    for text, message in cases.items():
        with pytest.raises(ZooError) as err:
            CELEBA.parse(text)
        assert str(err.value).startswith(message), (text, str(err.value))
        assert err.value.exit_code == 2


def test_condition_round_trips_through_the_sidecar_and_rejects_unknown_kinds(tmp_path):
    assert ConditionSpec.from_json(json.loads(json.dumps(CELEBA.to_json()))) == CELEBA
    assert ConditionSpec.from_json(None) == ConditionSpec()
    with pytest.raises(ZooError, match="unknown condition kind 'text'; valid: none, class, attribute, image"):
        ConditionSpec("text")
    image = ConditionSpec("image")
    with pytest.raises(ZooError, match=r"--image .*missing\.png does not exist"):
        image.parse(str(tmp_path / "missing.png"))
    (tmp_path / "x.png").write_bytes(b"")
    assert image.parse(str(tmp_path / "x.png")) == tmp_path / "x.png"
    with pytest.raises(ZooError, match="unconditional"):
        ConditionSpec().parse("7")


# -- the trainer's optimisation state ------------------------------------------------------
class _Critic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TinyWGANGP(GANAdapter):
    """A WGAN-GP on 4x4 images (Gulrajani et al. 2017): n_critic critic steps per generator step."""

    n_critic = 5

    def __init__(self, schedule: Schedule = Schedule("constant")) -> None:
        torch.manual_seed(0)
        gen = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Unflatten(1, (1, 4, 4)))
        super().__init__(get_spec("dcgan"), {"generator": gen, "discriminator": _Critic()}, image_size=4, channels=1, latent_dim=4)
        self.schedule = schedule
        self.generator_steps = 0
        self.penalties: list[float] = []
        self.contexts: list[StepContext] = []

    def training_step(self, batch, ctx):
        self.contexts.append(ctx)
        real = batch[0]
        fake = self.generator(torch.randn(real.shape[0], 4))
        gp = ctx.gradient_penalty(self.discriminator, real, fake)
        self.penalties.append(float(gp.detach()))
        d_loss = self.discriminator(fake.detach()).float().mean() - self.discriminator(real).float().mean() + 10 * gp
        yield Step("discriminator", d_loss, {"d_loss": d_loss.detach(), "gp": gp.detach()})
        if ctx.update_generator:
            self.generator_steps += 1
            yield Step("generator", -self.discriminator(fake).float().mean(), {})


def _batches(n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [(torch.rand(8, 1, 4, 4, generator=g) * 2 - 1, torch.zeros(8, dtype=torch.long)) for _ in range(n)]


def test_n_critic_and_gradient_penalty_under_bf16_autocast():
    adapter = TinyWGANGP()
    d_before = {k: v.clone() for k, v in adapter.discriminator.state_dict().items()}
    result = Trainer(epochs=1, amp="bf16", progress=False).fit(adapter, _batches(10))
    assert adapter.generator_steps == 2  # iterations 4 and 9 (0-based): (i + 1) % 5 == 0
    assert [c.update_generator for c in adapter.contexts] == [False] * 4 + [True] + [False] * 4 + [True]
    assert [c.iteration for c in adapter.contexts] == list(range(10))
    assert all(torch.isfinite(torch.tensor(adapter.penalties))) and result["steps"] == 10
    assert result["gp"] >= 0 and "d_loss" in result and "g_loss" not in result
    assert any(not torch.equal(v, d_before[k]) for k, v in adapter.discriminator.state_dict().items())


def test_gradient_penalty_unscales_the_fp16_grad_scaler():
    critic = _Critic()
    real, fake = torch.rand(6, 1, 4, 4), torch.rand(6, 1, 4, 4)
    plain = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(3))
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**14)
    scaled = gradient_penalty(critic, real, fake, scaler=scaler, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(scaled, plain)  # the scale is divided out before the norm
    scaled.backward()  # the penalty has a graph back into the critic (create_graph=True)
    first = critic.net[1].weight  # the last layer's bias does not change d(out)/dx, so it gets no gradient
    assert first.grad is not None and torch.isfinite(first.grad).all() and first.grad.abs().sum() > 0
    with pytest.raises(ZooError, match="real and fake batches of one shape"):
        gradient_penalty(critic, real, fake[:3])


def test_schedulers_step_once_per_iteration_not_per_yielded_step():
    adapter = TinyWGANGP(Schedule("linear_decay", decay_after_epochs=1))
    trainer = Trainer(epochs=2, progress=False)
    trainer.fit(adapter, _batches(5))  # 10 iterations; decay over the second epoch
    for name in ("generator", "discriminator"):
        assert trainer.schedulers[name].last_epoch == 10
    lrs = [trainer.optimizers[name].param_groups[0]["lr"] for name in ("generator", "discriminator")]
    assert lrs == [0.0, 0.0]  # constant for epoch 1, then linear to 0 over epoch 2 (CycleGAN's lambda_rule)


def test_schedules_constant_cosine_linear():
    p = nn.Parameter(torch.zeros(1))
    opt = build_optimizer("x", OptimizerConfig.for_params([p], 1.0, algorithm="sgd"))
    assert build_scheduler(opt, Schedule("constant"), iters_per_epoch=4, epochs=2) is None
    cos = build_scheduler(opt, Schedule("cosine"), iters_per_epoch=4, epochs=2)
    assert type(cos) is torch.optim.lr_scheduler.CosineAnnealingLR and cos.T_max == 8
    opt = build_optimizer("y", OptimizerConfig.for_params([p], 1.0, algorithm="sgd"))
    lin = build_scheduler(opt, Schedule("linear_decay", decay_after_epochs=1), iters_per_epoch=4, epochs=2)
    rates = []
    for _ in range(8):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        lin.step()
    assert rates == pytest.approx([1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2])
    with pytest.raises(ZooError, match="unknown learning-rate schedule 'step'"):
        Schedule("step")
    with pytest.raises(ZooError, match="has no trainable parameter"):
        build_optimizer("z", OptimizerConfig.for_params([nn.Parameter(torch.zeros(1), requires_grad=False)], 1.0))


def test_unknown_optimizer_in_a_step_is_one_line():
    class Wrong(TinyWGANGP):
        def training_step(self, batch, ctx):
            yield Step("critic", self.discriminator(batch[0]).mean(), {})

    with pytest.raises(ZooError) as err:
        Trainer(epochs=1, progress=False).fit(Wrong(), _batches(1))
    assert str(err.value) == "dcgan: training_step used optimizer 'critic', but configure_optimizers() gives generator, discriminator"


# -- zoo train / zoo sample through the CLI ------------------------------------------------
@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cgan"
    res = CliRunner().invoke(app, ["train", "cgan", "--data", "digits:3,7", "--epochs", "2", "--img-size", "8", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_train_writes_per_epoch_grids_and_the_condition(cgan_run):
    assert sorted(p.name for p in (cgan_run / "samples").iterdir()) == ["epoch_0001.png", "epoch_0002.png"]
    meta = json.loads((cgan_run / "model.json").read_text())
    assert meta["condition"]["kind"] == "class" and meta["condition"]["names"] == ["3", "7"]
    assert meta["config"]["class_names"] == ["3", "7"] and len(meta["class_names"]) == 2


def test_sample_label_by_word_and_bad_inputs(cgan_run, tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        app, ["sample", "cgan", "--checkpoint", str(cgan_run), "--label", "seven", "--n", "4", "--out", str(tmp_path / "7.png")]
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "7.png").exists()
    one_line_error(
        runner.invoke(app, ["sample", "cgan", "--checkpoint", str(cgan_run), "--label", "5"]), "--label 5 is out of range", "3, 7"
    )
    one_line_error(
        runner.invoke(app, ["sample", "cgan", "--checkpoint", str(cgan_run), "--label", "five"]), "unknown --label 'five'", "valid: 3, 7"
    )
    one_line_error(runner.invoke(app, ["sample", "cgan", "--checkpoint", str(cgan_run), "--n", "0"]), "--n must be at least 1, got 0")
    one_line_error(runner.invoke(app, ["sample", "dcgan", "--checkpoint", str(cgan_run)]), "written for cgan, not dcgan")
    one_line_error(runner.invoke(app, ["sample", "vanilla_gan"]), "needs trained weights", "zoo train vanilla_gan --data digits")
    one_line_error(runner.invoke(app, ["sample", "cgan", "--checkpoint", str(cgan_run), "--levels"]), "--levels is for pyramid models")
    assert not (tmp_path / "grid.png").exists()
