"""The one training loop (zoo/trainer.py): mixed precision, grad scaler, GANs, schedule, log, bar.

Offline, CPU, seeded: a tiny classifier on two separable Gaussian blobs and a 16x16
one-channel DCGAN on scikit-learn's digits, a few steps each.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from zoo.errors import ZooError
from zoo.models.adapters import BackboneAdapter, stages_from_children
from zoo.plugins import dcgan
from zoo.registry.catalog import builtin_specs
from zoo.training.trainer import Trainer, check_training_args


def tiny_classifier(seed: int = 0) -> BackboneAdapter:
    """``(N, 3, 4, 4)`` float32 -> ``(N, 2)`` logits: Flatten, Linear(48, 16), ReLU, Linear(16, 2)."""
    torch.manual_seed(seed)
    spec = dataclasses.replace(builtin_specs("zoo.plugins.resnet")[0], name="tiny")
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 16), nn.ReLU(), nn.Linear(16, 2))
    return BackboneAdapter(spec, model, stages_from_children(model), "3")


def blobs(n: int = 64, batch_size: int = 16) -> DataLoader:
    """Two classes: ``N(+0.5, 1)`` and ``N(-0.5, 1)`` images ``(3, 4, 4)``; ``n / batch_size`` batches."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 2
    x = torch.randn(n, 3, 4, 4, generator=g) + (0.5 - y.float())[:, None, None, None]
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def digits16():
    """The first 64 of scikit-learn's 8x8 digits upsampled to 16x16 in [-1, 1]: (64, 1, 16, 16) float32."""
    from sklearn.datasets import load_digits

    x = torch.from_numpy(load_digits().images[:64]).float()[:, None] / 16.0
    return F.interpolate(x, size=16, mode="bilinear", align_corners=False).clamp(0, 1) * 2 - 1


def tiny_dcgan():
    spec = next(s for s in dcgan.zoo_model_specs() if s.name == "dcgan")
    torch.manual_seed(0)
    return dcgan.zoo_build_model(spec, {"image_size": 16, "channels": 1, "latent_dim": 16, "ngf": 8, "ndf": 8})


def gan_loader(digits16) -> DataLoader:
    labels = torch.zeros(len(digits16), dtype=torch.int64)
    return DataLoader(
        TensorDataset(digits16, labels), batch_size=16, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(0)
    )  # 4 iterations per epoch


def snapshot(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def all_changed(before: list[torch.Tensor], module: nn.Module) -> bool:
    return all(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


class CountingScaler(torch.amp.GradScaler):
    """``torch.amp.GradScaler`` that counts ``step`` and ``update`` calls and records its device."""

    made: ClassVar[list[CountingScaler]] = []

    def __init__(self, device: str = "cuda", *args, **kwargs) -> None:
        super().__init__(device, *args, **kwargs)
        self.device_arg, self.steps, self.updates = device, 0, 0
        CountingScaler.made.append(self)

    def step(self, optimizer, *args, **kwargs):
        self.steps += 1
        return super().step(optimizer, *args, **kwargs)

    def update(self, *args, **kwargs):
        self.updates += 1
        return super().update(*args, **kwargs)


@pytest.fixture
def counting_scaler(monkeypatch):
    CountingScaler.made = []
    monkeypatch.setattr(torch.amp, "GradScaler", CountingScaler)
    return CountingScaler.made


# -- argument checks ----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, param, message",
    [
        ({"epochs": 0}, "epochs", "epochs must be at least 1, got 0"),
        ({"lr": 0.0}, "lr", "lr must be a positive learning rate, got 0.0; typical: 1e-3 (AdamW), 2e-4 (GAN Adam)"),
        ({"batch_size": 0}, "batch_size", "batch_size must be at least 1, got 0"),
        (
            {"max_minutes": -1.0},
            "max_minutes",
            "max_minutes must be a positive, finite number of minutes, got -1.0; leave it out for no limit",
        ),
    ],
)
def test_check_training_args_name_the_parameter(kwargs, param, message):
    with pytest.raises(ZooError) as info:
        check_training_args(**kwargs)
    err = info.value
    assert str(err) == message and err.param == param and err.exit_code == 2
    flag = "--" + param.replace("_", "-")
    assert err.for_cli() == message.replace(param, flag, 1)


def test_trainer_rejects_unknown_amp_before_training():
    with pytest.raises(ZooError) as info:
        Trainer(amp="fp8")
    err = info.value
    assert str(err) == "unknown amp 'fp8'; valid: bf16, fp16 (or leave it out for fp32)" and err.exit_code == 2
    assert err.for_cli() == "unknown --amp 'fp8'; valid: bf16, fp16 (or leave it out for fp32)"


# -- mixed precision ------------------------------------------------------------------


def test_bf16_autocast_trains_a_classifier():
    adapter = tiny_classifier()
    dtypes = set()
    adapter.model[1].register_forward_hook(lambda m, a, out: dtypes.add(out.dtype) if m.training else None)
    before = snapshot(adapter.model)
    trainer = Trainer(epochs=6, lr=1e-2, amp="bf16", progress=False)
    result = trainer.fit(adapter, blobs())
    assert dtypes == {torch.bfloat16}  # the forward ran under autocast
    assert all(p.dtype == torch.float32 for p in adapter.model.parameters())  # weights stay fp32
    assert all_changed(before, adapter.model)
    losses = [h["loss"] for h in result["history"]]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.7 * losses[0], losses
    assert result["steps"] == 6 * 4 and trainer.global_step == 24


def test_fp16_grad_scaler_steps_every_optimizer_and_updates_once_per_iteration(counting_scaler, digits16):
    adapter = tiny_classifier()
    before = snapshot(adapter.model)
    Trainer(epochs=2, lr=1e-2, amp="fp16", progress=False).fit(adapter, blobs())
    (scaler,) = counting_scaler
    assert scaler.device_arg == "cpu" and scaler.is_enabled()
    assert (scaler.steps, scaler.updates) == (8, 8)  # one optimizer per iteration
    assert all_changed(before, adapter.model)

    gan = tiny_dcgan()
    result = Trainer(epochs=1, amp="fp16", progress=False).fit(gan, gan_loader(digits16))
    scaler = counting_scaler[-1]
    assert (scaler.steps, scaler.updates) == (8, 4)  # discriminator + generator, then one update per iteration
    assert all(math.isfinite(result[k]) for k in ("d_loss", "g_loss"))


def test_no_scaler_without_fp16(counting_scaler):
    Trainer(epochs=1, amp="bf16", progress=False).fit(tiny_classifier(), blobs())
    Trainer(epochs=1, progress=False).fit(tiny_classifier(), blobs())
    assert counting_scaler == []


# -- GAN training through the trainer ----------------------------------------------------


def test_dcgan_trains_through_the_trainer(digits16, tmp_path):
    adapter = tiny_dcgan()
    g0, d0 = snapshot(adapter.generator), snapshot(adapter.discriminator)
    log = tmp_path / "logs" / "metrics.jsonl"
    trainer = Trainer(epochs=2, progress=False, log_path=log)
    result = trainer.fit(adapter, gan_loader(digits16))
    assert all_changed(g0, adapter.generator) and all_changed(d0, adapter.discriminator)
    assert result["steps"] == 8 and result["epoch"] == 2
    for epoch in result["history"]:
        assert {"d_loss", "g_loss", "d_real", "d_fake"} <= set(epoch)
        assert all(math.isfinite(epoch[k]) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
        assert 0 < epoch["d_real"] < 1 and 0 < epoch["d_fake"] < 1
    assert not adapter.generator.training  # fit ends in eval mode
    # the log holds one JSON object per epoch, written whole; no temporary file is left
    assert [json.loads(line) for line in log.read_text().splitlines()] == result["history"]
    assert sorted(p.name for p in log.parent.iterdir()) == ["metrics.jsonl"]


# -- learning-rate schedule -----------------------------------------------------------------


def test_cosine_schedule_is_cosine_annealing_to_zero():
    adapter = tiny_classifier()
    lrs = []

    class RecordLr:
        def on_epoch_end(self, trainer, adapter, epoch, metrics):
            lrs.append(trainer.optimizers["model"].param_groups[0]["lr"])

    trainer = Trainer(epochs=2, lr=0.1, progress=False, callbacks=[RecordLr()])
    trainer.fit(adapter, blobs())
    sched = trainer.schedulers["model"]
    assert type(sched) is torch.optim.lr_scheduler.CosineAnnealingLR
    assert sched.T_max == 2 * 4 and sched.last_epoch == 8 and sched.eta_min == 0
    # halfway: 0.1 * (1 + cos(pi / 2)) / 2; at the last step: 0.1 * (1 + cos(pi)) / 2 = 0
    assert lrs[0] == pytest.approx(0.05, rel=1e-6)
    assert abs(lrs[1]) < 1e-9


def test_gan_learning_rate_stays_constant(digits16):
    trainer = Trainer(epochs=1, progress=False)
    trainer.fit(tiny_dcgan(), gan_loader(digits16))
    assert trainer.schedulers == {}
    assert [opt.param_groups[0]["lr"] for opt in trainer.optimizers.values()] == [2e-4, 2e-4]


# -- progress bar -----------------------------------------------------------------------------


def test_progress_bar_shows_epochs_and_losses_on_stderr(capsys):
    Trainer(epochs=2, progress=True).fit(tiny_classifier(), blobs())
    out, err = capsys.readouterr()
    assert out == ""
    assert "epoch 2/2" in err and "8/8" in err and "loss=" in err and "acc=" in err


# -- the seeded split the trainer's data come from (zoo.data) ------------------------------------


def test_stratified_split_is_seeded_stratified_and_complete():
    import numpy as np

    from zoo.data import stratified_split

    labels = np.repeat(np.arange(5), [20, 31, 7, 2, 1])  # class 4 has one item: it stays in train
    train, val = stratified_split(labels, 0.2, seed=3)
    assert (train, val) == stratified_split(labels, 0.2, seed=3) and val != stratified_split(labels, 0.2, seed=4)[1]
    assert sorted(train + val) == list(range(len(labels))) and train == sorted(train) and val == sorted(val)
    per_class = np.bincount(labels[val], minlength=5)
    assert len(val) == 4 + 7 + 2 + 1 + 0  # sum of ceil(0.2 * n), at least one item of each class left in train
    assert all(abs(int(k) - math.ceil(0.2 * n)) <= 1 for k, n in zip(per_class[:4], (20, 31, 7, 2), strict=True))
    assert per_class[4] == 0 and int(np.flatnonzero(labels == 4)[0]) in train
    assert stratified_split(labels, 0.0) == (list(range(len(labels))), [])


def test_stratified_split_rejects_a_bad_fraction():
    from zoo.data import stratified_split

    with pytest.raises(ZooError) as info:
        stratified_split([0, 1, 0, 1], val_fraction=1.0)
    assert str(info.value) == "val_fraction must be in [0, 1), got 1.0; 0.2 holds out 20% of each class"
    assert info.value.param == "val_fraction" and info.value.exit_code == 2


def test_train_by_steps_makes_whole_epochs_of_at_least_that_many_steps(tmp_path):
    """``tasks.train(steps=N)`` (zoo demo's GAN): ceil(N / iterations per epoch) whole epochs,
    whatever the machine's speed; the iterations are the loader's (drop_last for GANs)."""
    from zoo import tasks
    from zoo.data import iterations_per_epoch, resolve_data

    source = resolve_data("digits:0-1", seed=0, val_fraction=0.0, min_classes=1)  # a GAN trains on every image
    per_epoch = iterations_per_epoch(len(source.train), 64, drop_last=True)
    assert per_epoch == len(source.train) // 64 == 5
    summary = tasks.train("dcgan", "digits:0-1", steps=9, img_size=16, batch_size=64, progress=False, build_options={"ngf": 8, "ndf": 8})
    assert summary["steps"] == 10 and summary["epoch"] == 2 and summary["stopped_early"] is False
    with pytest.raises(ZooError, match="give either steps or epochs"):
        tasks.train("dcgan", "digits:0-1", steps=9, epochs=2, progress=False)
    with pytest.raises(ZooError, match="steps must be at least 1, got 0"):
        tasks.train("dcgan", "digits:0-1", steps=0, progress=False)
    assert iterations_per_epoch(5, 64) == 1 and iterations_per_epoch(5, 64, drop_last=True) == 1
    assert iterations_per_epoch(130, 64, drop_last=True) == 2 and iterations_per_epoch(130, 64) == 3
