"""Unsupervised pretraining (issue 9): ``zoo pretrain NAME --method autoencoder|greedy``.

ResNet-18 on real digits for the learning itself (the loss goes down, greedy moves exactly
one stage, the checkpoint feeds ``zoo adapt``); a tiny CNN registered for the test
(tests/test_resume.py's ``tiny``: stages stem, body, fc) for the run mechanics and the
CLI; every registered backbone for the hooks and decoders.
"""

from __future__ import annotations

import json

import pytest
import torch
from cli_helpers import assert_user_error, run
from test_resume import TINY_DATA, tiny  # noqa: F401  (fixtures)

import zoo.registry as registry
from zoo.models.weights import load_weights
from zoo.registry import list_models
from zoo.tasks.pretrain import Reconstruction, StageTaps, decoder_for, freeze_for_stage, pretrain
from zoo.training.trainer import Trainer
from zoo.utils.seeding import seed_everything

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread, for every test here

BACKBONES = [s.name for s in list_models(kind="backbone")]


def digit_batches(n: int = 3, size: int = 32, per: int = 16):
    """``n`` batches of ``per`` real digits, ``(per, 3, size, size)`` float32 normalised to about zero mean, unit std."""
    from sklearn.datasets import load_digits

    x = torch.from_numpy(load_digits().images[: n * per]).float() / 16.0
    x = torch.nn.functional.interpolate(x[:, None], size=(size, size), mode="bilinear").repeat(1, 3, 1, 1)
    x = (x - 0.3) / 0.4
    return [(x[i * per : (i + 1) * per], torch.zeros(per, dtype=torch.int64)) for i in range(n)]


def snapshot(adapter):
    return {k: v.detach().clone() for k, v in adapter.model.state_dict().items()}


@pytest.mark.parametrize(("method", "stage", "target"), [("autoencoder", "layer4", None), ("greedy", "layer1", "conv1")])
def test_reconstruction_loss_goes_down_on_real_digits(method, stage, target):
    adapter = registry.build("resnet18")
    freeze_for_stage(adapter, stage if method == "greedy" else None)
    job = Reconstruction(adapter, stage, target, decoder_for(adapter, stage, target, 32))
    result = Trainer(epochs=4, lr=3e-3, progress=False).fit(job, digit_batches())
    losses = [m["loss"] for m in result["history"]]
    assert losses[-1] < 0.7 * losses[0], losses
    job.taps.remove()


def test_greedy_moves_exactly_the_stage_it_trains():
    """Stage layer2 of ResNet-18: every layer2 parameter moves; nothing else does (no
    parameter, no BatchNorm statistic: conv1/layer1 frozen, layer3/layer4/fc never run)."""
    adapter = registry.build("resnet18")
    freeze_for_stage(adapter, "layer2")
    before = snapshot(adapter)
    job = Reconstruction(adapter, "layer2", "layer1", decoder_for(adapter, "layer2", "layer1", 32))
    Trainer(epochs=1, lr=1e-2, progress=False).fit(job, digit_batches(n=2))
    after = snapshot(adapter)
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert {k.split(".")[0] for k in moved} == {"layer2"}
    layer2 = {n for n, p in adapter.model.named_parameters() if n.startswith("layer2.")}
    assert layer2 and layer2 <= moved
    job.taps.remove()


def test_stage_taps_stop_after_the_stage_without_touching_later_statistics():
    adapter = registry.build("resnet18")
    taps = StageTaps(adapter, stop_after="layer2")
    adapter.train()
    later = {k: v.clone() for k, v in adapter.model.state_dict().items() if k.startswith(("layer3.", "layer4."))}
    for _ in range(2):  # the first call probes the order of the modules (eval mode, one image)
        outputs = taps.run(torch.randn(2, 3, 32, 32))
        assert list(outputs) == ["conv1", "layer1", "layer2"] and outputs["layer2"].shape == (2, 128, 4, 4)
    assert all(torch.equal(v, adapter.model.state_dict()[k]) for k, v in later.items())
    taps.remove()


def test_pretrained_resnet_loads_and_adapt_starts_from_it(tmp_path):
    from safetensors.torch import load_file

    from zoo import tasks

    out = tmp_path / "ae"
    summary = pretrain("resnet18", method="autoencoder", data=TINY_DATA, epochs=1, out=out, progress=False)
    assert summary["img_size"] == 32 and summary["steps"] == 9 and isinstance(summary["loss"], float)
    saved = load_file(out / "model.safetensors")
    seed_everything(0)  # pretrain builds the model right after seeding: the same random init
    init = registry.build("resnet18").model.state_dict()
    assert not torch.equal(saved["layer1.0.conv1.weight"], init["layer1.0.conv1.weight"])  # trained...
    assert torch.equal(saved["fc.weight"], init["fc.weight"])  # ...but not the head (never run)

    fresh = registry.build("resnet18", num_classes=5)  # another number of classes than the checkpoint's head
    assert load_weights(fresh, str(out)) == f"file:{out.resolve()}"
    assert torch.equal(fresh.model.state_dict()["layer4.1.conv2.weight"], saved["layer4.1.conv2.weight"])
    adapted = tasks.adapt("resnet18", num_classes=5, weights=str(out), data="digits:0-4", shots=4, epochs=1, batch_size=20, progress=False)
    assert adapted["weights"] == f"file:{out.resolve()}" and 0.0 <= adapted["val_accuracy"] <= 1.0


@pytest.mark.usefixtures("tiny")
@pytest.mark.parametrize("method", ["autoencoder", "greedy"])
def test_pretrain_run_directory(tmp_path, method):
    out = tmp_path / method
    summary = pretrain("tiny", method=method, data=TINY_DATA, epochs=2, img_size=8, out=out, progress=False)
    stages = ["body"] if method == "autoencoder" else ["stem", "body"]
    assert summary["out"] == str(out) and summary["command"] == f"zoo adapt tiny --head N --weights {out}"
    assert summary["steps"] == 9 * 2 * len(stages)  # 287 images in batches of 32; greedy: epochs per stage
    assert sorted(p.name for p in out.iterdir()) == ["curves.png", "metrics.jsonl", "model.json", "model.safetensors"]  # last/ removed
    assert "last" not in summary and summary["curves"] == str(out / "curves.png")
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(m["stage"], m["epoch"]) for m in log] == [(s, e) for s in stages for e in (1, 2)]
    meta = json.loads((out / "model.json").read_text())
    assert meta["model"] == "tiny" and meta["class_names"] is None
    assert {k: meta["training"][k] for k in ("command", "method", "data", "epochs")} == {
        "command": "pretrain",
        "method": method,
        "data": TINY_DATA,
        "epochs": 2,
    }
    assert meta["metrics"]["loss"] == summary["loss"] == round(log[-1]["loss"], 6)
    if method == "greedy":
        assert list(meta["metrics"]["stage_losses"]) == stages
    fresh = registry.build("tiny", num_classes=2)
    assert load_weights(fresh, str(out)) == f"file:{out.resolve()}"
    assert not any(type(m).__name__ == "FrozenBatchNorm2d" for m in fresh.model.modules())


@pytest.mark.usefixtures("tiny")
def test_folder_without_class_folders(tmp_path):
    from PIL import Image
    from sklearn.datasets import load_digits

    images = tmp_path / "photos" / "all"  # one sub-folder: not a labelled ImageFolder
    images.mkdir(parents=True)
    for i, img in enumerate(load_digits().images[:6]):
        Image.fromarray((img * 15).astype("uint8")).convert("RGB").save(images / f"{i}.png")
    summary = pretrain("tiny", method="greedy", data=str(tmp_path / "photos"), epochs=1, img_size=8, batch_size=4, progress=False)
    assert summary["train_images"] == 6 and summary["steps"] == 2 * 2 and summary["out"] is None


@pytest.mark.parametrize("name", BACKBONES)
def test_every_backbone_pretrains(name):
    """At the model's minimum input, a batch of 2: the autoencoder (last stage before the head)
    and the first and last greedy stages run forward and backward into the stage trained."""
    adapter = registry.build(name)
    size = adapter.spec.min_size
    x = torch.randn(2, 3, size, size)
    body = adapter.stage_names()[:-1]
    for stage, target, greedy in ((body[-1], None, False), (body[0], None, True), (body[-1], body[-2], True)):
        freeze_for_stage(adapter, stage if greedy else None)
        job = Reconstruction(adapter, stage, target, decoder_for(adapter, stage, target, size))
        job.train()
        (step,) = job.training_step((x, None))
        step.loss.backward()
        assert torch.isfinite(step.loss), (name, stage)
        grads = [p.grad for _, p in adapter.stage_parameters(adapter.stages()[body.index(stage)]) if p.grad is not None]
        assert grads and any(g.abs().sum() > 0 for g in grads), (name, stage)
        assert all(p.grad is None for s in adapter.stages()[body.index(stage) + 1 :] for _, p in adapter.stage_parameters(s))
        job.taps.remove()
        adapter.model.zero_grad(set_to_none=True)


@pytest.mark.usefixtures("tiny")
def test_cli_pretrain_then_adapt(tmp_path):
    out = tmp_path / "run"
    res = run("pretrain", "tiny", "--method", "greedy", "--data", TINY_DATA, "--epochs", "1", "--img-size", "8", "--out", out, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["method"] == "greedy" and list(summary["stage_losses"]) == ["stem", "body"]
    assert f"saved {out}/model.safetensors and {out}/model.json; next: zoo adapt tiny --head N --weights {out}" in res.stderr
    res = run(
        "adapt", "tiny", "--head", "2", "--weights", out, "--data", TINY_DATA, "--epochs", "1", "--img-size", "8", "--out", tmp_path / "a"
    )
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["resnet18", "--method", "vae", "--data", "digits"], "Error: --method must be one of 'autoencoder', 'greedy', got 'vae'"),
        (["resnet18", "--data", "digits"], "Error: --method is required: autoencoder or greedy"),
        (
            ["dcgan", "--method", "greedy", "--data", "digits"],
            "Error: zoo pretrain works on backbones; dcgan is a gan. Use 'zoo train dcgan' instead",
        ),
        (["resnet18", "--method", "greedy"], "Error: --data is required: a folder of images or a built-in data set such as digits"),
        (
            ["resnet18", "--method", "greedy", "--data", "./no/such/dir"],
            "Error: data directory ./no/such/dir does not exist; pass an ImageFolder directory or a built-in data set such as digits",
        ),
        (["resnet18", "--method", "greedy", "--data", "digits", "--epochs", "0"], "Error: --epochs must be at least 1, got 0"),
        (["resnet18", "--method", "autoencoder", "--data", "digits", "--batch-size", "0"], "Error: --batch-size must be at least 1, got 0"),
        (
            ["xception", "--method", "autoencoder", "--data", "digits", "--img-size", "32"],
            "Error: --img-size 32 is below xception's minimum input of 71 px; use --img-size 71 or more",
        ),
    ],
)
def test_bad_pretrain_inputs_are_one_line(tmp_path, args, line):
    res = run("pretrain", *args, "--out", tmp_path / "run")
    assert_user_error(res)
    assert res.exit_code == 2 and res.stderr.strip() == line
    assert not (tmp_path / "run").exists()


def test_empty_folder_and_an_earlier_run_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    res = run("pretrain", "resnet18", "--method", "greedy", "--data", tmp_path / "empty", "--out", tmp_path / "run")
    assert_user_error(res)
    expected = f"Error: --data {tmp_path / 'empty'} holds no images (.jpg, .jpeg, .png...); pass a folder of images or a built-in data set such as digits"
    assert res.exit_code == 2 and res.stderr.strip() == expected
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "model.json").write_text("{}")
    res = run("pretrain", "resnet18", "--method", "greedy", "--data", "digits", "--out", earlier)
    assert_user_error(res)
    assert res.exit_code == 2 and res.stderr.startswith(f"Error: --out {earlier} already holds a run (model.json, ")
    assert res.stderr.strip().endswith("); pass --overwrite to replace it or choose another --out")


@pytest.mark.usefixtures("tiny")
def test_ctrl_c_keeps_the_last_complete_epoch(tmp_path, monkeypatch):
    from zoo.training.trainer import TrainingInterrupted

    calls = []
    call = Trainer._call

    def _call(self, hook, *args):
        if hook == "on_optimizer_step":
            calls.append(1)
            if len(calls) == 2 * 9 + 9 + 3:  # the stem's 2 epochs of 9 steps, then the body's epoch 2, step 3
                raise KeyboardInterrupt
        return call(self, hook, *args)

    monkeypatch.setattr(Trainer, "_call", _call)
    out = tmp_path / "run"
    with pytest.raises(TrainingInterrupted) as info:
        pretrain("tiny", method="greedy", data=TINY_DATA, epochs=2, img_size=8, out=out, progress=False)
    assert str(info.value) == f"interrupted at epoch 2 step 3; the last complete epoch (1) is in {out / 'last'}"
    assert info.value.exit_code == 130 and not (out / "model.safetensors").exists()
    meta = json.loads((out / "last" / "model.json").read_text())
    assert (meta["metrics"]["stage"], meta["metrics"]["epoch"]) == ("body", 1)
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(m["stage"], m["epoch"]) for m in log] == [("stem", 1), ("stem", 2), ("body", 1)]
    assert load_weights(registry.build("tiny", num_classes=2), str(out / "last")) == f"file:{(out / 'last').resolve()}"
