"""Unsupervised pretraining (issue 9): ``zoo pretrain NAME --method autoencoder|greedy``.

A tiny CNN registered for the test (tests/test_resume.py's ``tiny``: stages stem, body, fc)
on real digits for the mechanics; every registered backbone for the hooks and decoders.
"""

from __future__ import annotations

import pytest
import torch
from cli_helpers import assert_user_error, run
from test_resume import TINY_DATA, TinyNet, one_thread, tiny  # noqa: F401  (fixtures)

import zoo.registry as registry
from zoo.pretrain import Reconstruction, StageTaps, _decoder_for, pretrain
from zoo.registry import list_models
from zoo.trainer import Trainer
from zoo.weights import load_weights

BACKBONES = [s.name for s in list_models(kind="backbone")]


def digit_batches(n: int = 4, size: int = 8):
    """``n`` batches of 16 real digits (3-channel, normalised like the tiny net's transforms)."""
    from sklearn.datasets import load_digits

    x = torch.from_numpy(load_digits().images[: n * 16]).float() / 16.0
    x = torch.nn.functional.interpolate(x[:, None], size=(size, size), mode="bilinear").repeat(1, 3, 1, 1)
    x = (x - 0.45) / 0.25
    return [(x[i * 16 : (i + 1) * 16], torch.zeros(16, dtype=torch.int64)) for i in range(n)]


@pytest.mark.usefixtures("tiny")
def test_greedy_stage_trains_alone_and_earlier_stages_stay_frozen():
    adapter = registry.build("tiny", num_classes=2)
    adapter.freeze_until("stem")  # stage 2 of greedy: the stem is done and frozen
    for _, p in adapter.stage_parameters(adapter.stages()[-1]):
        p.requires_grad_(False)  # the head is not part of pretraining
    before = {k: v.clone() for k, v in adapter.model.state_dict().items()}
    job = Reconstruction(adapter, "body", "stem", _decoder_for(adapter, "body", "stem", 8))
    result = Trainer(epochs=2, lr=0.01, progress=False).fit(job, digit_batches())
    after = adapter.model.state_dict()
    moved = {k.split(".")[0] for k in before if not torch.equal(before[k], after[k])}
    assert moved == {"body"} and result["loss"] > 0


@pytest.mark.usefixtures("tiny")
def test_autoencoder_reconstruction_improves_on_real_digits():
    adapter = registry.build("tiny", num_classes=2)
    job = Reconstruction(adapter, "body", None, _decoder_for(adapter, "body", None, 8))
    result = Trainer(epochs=6, lr=0.01, progress=False).fit(job, digit_batches())
    losses = [m["loss"] for m in result["history"]]
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.usefixtures("tiny")
@pytest.mark.parametrize("method", ["autoencoder", "greedy"])
def test_pretrain_saves_a_backbone_that_adapt_starts_from(tmp_path, method):
    from zoo import tasks

    out = tmp_path / method
    summary = pretrain("tiny", method=method, data=TINY_DATA, epochs=1, img_size=8, out=out, progress=False)
    assert summary["method"] == method and summary["out"] == str(out) and (out / "model.safetensors").exists()
    assert isinstance(summary["loss"], dict if method == "greedy" else float)
    fresh = registry.build("tiny", num_classes=2)
    assert load_weights(fresh, str(out)) == f"file:{out.resolve()}"
    saved = {k: v for k, v in fresh.model.state_dict().items() if k.startswith("body.")}
    adapted = tasks.adapt(
        "tiny", num_classes=2, weights=str(out), data=TINY_DATA, epochs=1, img_size=8, strategy="linear-probe", progress=False
    )
    assert adapted["weights"] == f"file:{out.resolve()}"
    assert saved and all(torch.isfinite(v).all() for v in saved.values())


@pytest.mark.parametrize("name", BACKBONES)
def test_every_backbone_pretrains(name):
    """The autoencoder (last stage) and the first and last greedy stages: one step forward and backward."""
    torch.manual_seed(0)
    adapter = registry.build(name)
    spec = adapter.spec
    size = max(spec.min_size, 32)
    x = torch.randn(2, 3, size, size)
    body = adapter.stage_names()[:-1]
    for stage, target in ((body[-1], None), (body[0], None), (body[-1], body[-2])):
        job = Reconstruction(adapter, stage, target, _decoder_for(adapter, stage, target, size))
        (step,) = job.training_step((x, None))
        step.loss.backward()
        assert torch.isfinite(step.loss), (name, stage)
        grads = [p.grad for _, p in adapter.stage_parameters(adapter.stages()[body.index(stage)]) if p.grad is not None]
        assert grads, (name, stage)
        job.taps.remove()
        adapter.model.zero_grad(set_to_none=True)


def test_stage_taps_stop_after_the_stage():
    adapter = registry.build("resnet18")
    taps = StageTaps(adapter, stop_after="layer2")
    assert list(taps.run(torch.randn(2, 3, 32, 32))) == ["conv1", "layer1", "layer2", "layer3", "layer4", "fc"]  # learns the order
    outputs = taps.run(torch.randn(2, 3, 32, 32))
    assert list(outputs) == ["conv1", "layer1", "layer2"] and outputs["layer2"].shape == (2, 128, 4, 4)
    taps.remove()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["resnet18", "--method", "vae"], "Error: --method must be one of 'autoencoder', 'greedy', got 'vae'"),
        (["dcgan", "--method", "greedy"], "Error: zoo pretrain works on backbones; dcgan is a gan. Use 'zoo train dcgan' instead"),
        (["resnet18", "--method", "greedy", "--epochs", "0"], "Error: --epochs must be at least 1, got 0"),
    ],
)
def test_bad_pretrain_inputs_are_one_line(tmp_path, args, line):
    res = run("pretrain", *args, "--data", "digits", "--out", tmp_path / "run")
    assert_user_error(res)
    assert res.stderr.strip() == line
    assert not (tmp_path / "run").exists()
