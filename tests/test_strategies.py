"""Transfer-learning strategies (issue 9): linear probe, freeze-until, full, gradual; per-stage
learning rates; structural BatchNorm freezing; augmentation presets; chained transfer.

The per-model parameter counts of every strategy are in tests/test_registry.py (one build
per backbone). Here: a tiny CNN registered for the test (tests/test_resume.py's ``tiny``) and
ResNet-18 at 32 px, trained on two to five classes of scikit-learn's digits.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from cli_helpers import assert_user_error, run
from safetensors.torch import load_file
from test_resume import TINY_DATA, assert_same_weights, interrupt_at, tiny  # noqa: F401  (fixtures)
from torch import nn

import zoo.registry as registry
from zoo.models.transfer import AUGMENTS, check_lr_decay, check_strategy, gradual_frozen_until

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread, for every test here

COMMON = {"weights": "none", "data": TINY_DATA, "img_size": 8, "progress": False, "num_classes": 2}


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def changed_stages(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> set[str]:
    """Top-level modules (the tiny net's stages) with a changed parameter or buffer (num_batches_tracked aside)."""
    return {
        k.split(".")[0] for k in before if k in after and not k.endswith("num_batches_tracked") and not torch.equal(before[k], after[k])
    }


def fit_tiny(adapter, epochs: int, lr: float = 0.05):
    """Train ``adapter`` on digits 0-1 at 8 px with the zoo Trainer; the state after each epoch."""
    from zoo.data import make_loaders, resolve_data
    from zoo.training.trainer import Trainer

    source = resolve_data(TINY_DATA, seed=0)
    train, _ = make_loaders(
        source,
        train_transform=adapter.transforms(img_size=8, train=True, resize_only=True),
        val_transform=adapter.transforms(img_size=8, train=False, resize_only=True),
        batch_size=32,
        seed=0,
    )
    states = [snapshot(adapter.model)]

    class Keep:
        def on_epoch_end(self, trainer, adapter, epoch, metrics):
            states.append(snapshot(adapter.model))

    Trainer(epochs=epochs, lr=lr, progress=False, callbacks=[Keep()]).fit(adapter, train)
    return states


# -- strategies ------------------------------------------------------------------------------


def test_check_strategy_resolves_the_stage_frozen_at_the_start():
    stages = ["conv1", "layer1", "layer2", "fc"]
    assert check_strategy(None, None, stages, "m") == ("full", None)
    assert check_strategy(None, "layer1", stages, "m") == ("freeze-until", "layer1")
    assert check_strategy("linear-probe", None, stages, "m") == ("linear-probe", "layer2")
    assert check_strategy("gradual", None, stages, "m") == ("gradual", "layer2")
    assert [gradual_frozen_until(stages, e) for e in range(1, 6)] == ["layer2", "layer1", "conv1", None, None]


@pytest.mark.usefixtures("tiny")
def test_linear_probe_changes_only_the_head_and_frozen_bn_survives_model_train():
    adapter = registry.build("tiny", num_classes=2)
    adapter.freeze_until("body")
    assert type(adapter.model.stem[1]).__name__ == "FrozenBatchNorm2d"  # structural, as timm's freeze_batch_norm_2d
    states = fit_tiny(adapter, epochs=2)
    assert changed_stages(states[0], states[-1]) == {"fc"}
    adapter.model.train()  # a plain nn.Module.train() cannot wake the frozen statistics up
    before = snapshot(adapter.model)
    adapter.model(torch.randn(16, 3, 8, 8) * 3 + 1)
    assert changed_stages(before, snapshot(adapter.model)) == set()


@pytest.mark.usefixtures("tiny")
def test_bn_train_lets_frozen_statistics_adapt_but_not_the_parameters():
    adapter = registry.build("tiny", num_classes=2)
    adapter.freeze_until("stem", bn="train")
    assert type(adapter.model.stem[1]) is nn.BatchNorm2d
    states = fit_tiny(adapter, epochs=1)
    moved = {k for k in states[0] if k.startswith("stem.") and not torch.equal(states[0][k], states[1][k])}
    assert moved == {"stem.1.running_mean", "stem.1.running_var", "stem.1.num_batches_tracked"}


@pytest.mark.usefixtures("tiny")
def test_gradual_unfreezes_one_stage_per_epoch_from_the_top():
    adapter = registry.build("tiny", num_classes=2)
    adapter.strategy = "gradual"
    adapter.freeze_until("body")
    states = fit_tiny(adapter, epochs=3)
    assert [changed_stages(a, b) for a, b in itertools.pairwise(states)] == [{"fc"}, {"body", "fc"}, {"stem", "body", "fc"}]
    assert adapter.frozen_until is None and type(adapter.model.stem[1]) is nn.BatchNorm2d


@pytest.mark.usefixtures("tiny")
def test_gradual_resumes_bit_exact(tmp_path, monkeypatch):
    from zoo import tasks

    ref = tasks.adapt("tiny", strategy="gradual", epochs=3, lr=0.05, out=tmp_path / "ref", **COMMON)
    # the summary says where the unfreezing began and where it ended (what model.json records)
    assert ref["strategy"] == "gradual" and ref["frozen_until_at_start"] == "body" and ref["frozen_until"] is None
    with monkeypatch.context() as m:
        interrupt_at(m, 9 + 3)  # 9 iterations per epoch: epoch 2, step 4
        with pytest.raises(KeyboardInterrupt):
            tasks.adapt("tiny", strategy="gradual", epochs=3, lr=0.05, out=tmp_path / "run", **COMMON)
    tasks.adapt("tiny", num_classes=2, resume=tmp_path / "run", progress=False)
    assert_same_weights(tmp_path / "ref", tmp_path / "run")


@pytest.mark.usefixtures("tiny")
def test_full_and_freeze_until_through_adapt(tmp_path):
    from zoo import tasks

    full = tasks.adapt("tiny", epochs=1, out=tmp_path / "full", **COMMON)
    probe = tasks.adapt("tiny", strategy="linear-probe", epochs=1, out=tmp_path / "probe", **COMMON)
    fc = 8 * 2 + 2
    assert (full["strategy"], full["trainable_params"], full["frozen_params"]) == ("full", 3 * 4 * 9 + 4 + 8 + 4 * 8 * 9 + 8 + fc, 0)
    assert (probe["strategy"], probe["trainable_params"]) == ("linear-probe", fc)
    # the saved probe loads into a fresh model (FrozenBatchNorm2d has no num_batches_tracked)
    saved = load_file(str(tmp_path / "probe" / "model.safetensors"))
    assert "stem.1.running_mean" in saved and "stem.1.num_batches_tracked" not in saved
    res = run("eval", tmp_path / "probe", "--data", TINY_DATA)
    assert res.exit_code == 0, res.output


# -- discriminative learning rates -------------------------------------------------------------


def test_lr_decay_gives_each_stage_its_rate_and_the_schedule_keeps_the_ratios():
    from zoo.training.optim import build_optimizer, build_scheduler

    torch.manual_seed(0)
    adapter = registry.build("resnet18")
    adapter.reset_head(5)
    adapter.lr_decay = 0.5
    adapter.freeze_until("conv1")
    cfg = adapter.configure_optimizers(1e-3)["model"]
    opt = build_optimizer("model", cfg)
    stages = adapter.stage_names()  # conv1 layer1 layer2 layer3 layer4 fc
    want = {s: 1e-3 * 0.5 ** (len(stages) - 1 - i) for i, s in enumerate(stages) if s != "conv1"}
    got = {}
    for g in opt.param_groups:
        got.setdefault(g["stage"], set()).add(g["lr"])
        assert g["weight_decay"] == (0.05 if all(p.ndim > 1 for p in g["params"]) else 0.0)
    assert got == {s: {lr} for s, lr in want.items()}  # frozen conv1 has no group
    counted = sum(p.numel() for g in opt.param_groups for p in g["params"])
    assert counted == adapter.param_counts()[0]
    sched = build_scheduler(opt, cfg.schedule, iters_per_epoch=10, epochs=1)
    for _ in range(4):
        opt.step()
        sched.step()
    factor = (1 + math.cos(math.pi * 4 / 10)) / 2
    for g in opt.param_groups:
        assert g["lr"] == pytest.approx(want[g["stage"]] * factor, rel=1e-9)


def test_lr_decay_range():
    assert check_lr_decay(1.0) == 1.0 and check_lr_decay(None) is None
    for bad in (0.0, -0.5, 1.5, float("nan")):
        with pytest.raises(Exception, match=r"must be in \(0, 1\]"):
            check_lr_decay(bad)


# -- augmentation ----------------------------------------------------------------------------


@pytest.mark.parametrize("preset", AUGMENTS)
def test_augment_presets_give_normalised_images(preset):
    from PIL import Image

    adapter = registry.build("resnet18")
    adapter.augment = preset
    photo = Image.effect_noise((60, 48), 40).convert("RGB")
    digit = torch.randint(0, 256, (1, 8, 8), dtype=torch.uint8)
    for image, resize_only in ((photo, False), (digit, True)):
        t = adapter.transforms(img_size=32, train=True, resize_only=resize_only)
        torch.manual_seed(0)
        a = t(image)
        torch.manual_seed(1)
        b = t(image)
        assert a.shape == (3, 32, 32) and a.dtype == torch.float32 and torch.isfinite(a).all()
        assert torch.equal(a, b) == (preset == "none"), (preset, resize_only)


# -- chained transfer -------------------------------------------------------------------------


@pytest.mark.usefixtures("tiny")
def test_chained_transfer(tmp_path):
    """digits 0-1 -> digits 2-4 (linear probe) -> digits 5-6 (full): each hop starts from the last."""
    from zoo import tasks

    first = tasks.adapt("tiny", epochs=1, out=tmp_path / "a", **COMMON)
    common = {k: v for k, v in COMMON.items() if k not in ("weights", "data", "num_classes")}
    second = tasks.adapt(
        "tiny",
        num_classes=3,
        weights=str(tmp_path / "a"),
        data="digits:2-4",
        strategy="linear-probe",
        epochs=1,
        out=tmp_path / "b",
        **common,
    )
    third = tasks.adapt("tiny", num_classes=2, weights=str(tmp_path / "b"), data="digits:5-6", epochs=1, out=tmp_path / "c", **common)
    assert second["weights"] == f"file:{(tmp_path / 'a').resolve()}" and third["weights"] == f"file:{(tmp_path / 'b').resolve()}"
    a, b = load_file(str(tmp_path / "a" / "model.safetensors")), load_file(str(tmp_path / "b" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a if not k.startswith("fc.") and "num_batches" not in k)  # probe: backbone kept
    assert b["fc.weight"].shape == (3, 8) and first["val_accuracy"] >= 0 and third["val_accuracy"] >= 0


# -- bad inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--strategy", "frozen"], "Error: --strategy must be one of 'full', 'linear-probe', 'freeze-until', 'gradual', got 'frozen'"),
        (
            ["--strategy", "freeze-until"],
            "Error: --strategy freeze-until needs --freeze-until STAGE; resnet18's stages: conv1, layer1, layer2, layer3, layer4",
        ),
        (
            ["--strategy", "gradual", "--freeze-until", "layer1"],
            "Error: --freeze-until goes with --strategy freeze-until, not gradual; drop one of them",
        ),
        (["--lr-decay", "0"], "Error: --lr-decay must be in (0, 1] (each earlier stage's rate is lr times it), got 0.0; try 0.5"),
        (["--lr-decay", "1.5"], "Error: --lr-decay must be in (0, 1] (each earlier stage's rate is lr times it), got 1.5; try 0.5"),
        (["--bn", "eval"], "Error: --bn must be one of 'frozen', 'train', got 'eval'"),
        (
            ["--augment", "autoaugment"],
            "Error: --augment must be one of 'none', 'basic', 'heavy', 'trivialaugment', 'randaugment', got 'autoaugment'",
        ),
    ],
)
def test_bad_strategy_options_are_one_line(tmp_path, args, line):
    res = run("adapt", "resnet18", "--head", "2", "--weights", "none", "--out", tmp_path / "run", *args)
    assert_user_error(res)
    assert res.stderr.strip() == line
    assert not (tmp_path / "run").exists()


# -- channels-last -----------------------------------------------------------------------------


@pytest.mark.usefixtures("tiny")
def test_channels_last_trains_the_same_numbers_in_nhwc():
    from zoo.training.trainer import Trainer

    results = {}
    for channels_last in (False, True):
        torch.manual_seed(0)
        adapter = registry.build("tiny", num_classes=2)
        batches = [(torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(i)), torch.arange(8) % 2) for i in range(4)]
        Trainer(epochs=2, lr=0.05, progress=False, channels_last=channels_last).fit(adapter, batches)
        adapter.model.train()  # batch statistics: the logits do not see the conv bias before BatchNorm
        results[channels_last] = adapter.model(batches[0][0]), adapter.model.fc.weight.detach().clone()
    assert adapter.model.stem[0].weight.is_contiguous(memory_format=torch.channels_last)
    # AdamW turns the rounding noise of the (zero in exact arithmetic) gradient of a conv bias
    # followed by BatchNorm into lr-sized steps, so that bias differs; everything else agrees
    assert torch.allclose(results[False][0], results[True][0], atol=1e-4)
    assert torch.allclose(results[False][1], results[True][1], atol=1e-4)
