"""Transfer-learning mechanics: frozen stages stay frozen (BatchNorm included), few-shot splits."""

from __future__ import annotations

import pytest
import torch

from zoo.data import few_shot, make_loaders, resolve_data
from zoo.errors import ZooError
from zoo.registry import build
from zoo.training.trainer import Trainer


def test_frozen_stages_do_not_change_during_training():
    adapter = build("resnet18", num_classes=5)
    adapter.freeze_until("layer1")
    frozen = {k: v.clone() for k, v in adapter.model.state_dict().items() if k.startswith(("conv1", "bn1", "layer1."))}
    trained = {k: v.clone() for k, v in adapter.model.state_dict().items() if k.startswith("layer2.")}
    source = resolve_data("digits:0-4", seed=0)
    train_loader, _ = make_loaders(
        source,
        train_transform=adapter.transforms(img_size=32, train=True, resize_only=True),
        val_transform=adapter.transforms(img_size=32, resize_only=True),
        batch_size=32,
        shots=4,
    )
    adapter.train()
    norms = {n: type(m).__name__ for n, m in adapter.model.named_modules() if n.endswith("bn1")}
    assert norms["bn1"] == norms["layer1.0.bn1"] == "FrozenBatchNorm2d" and norms["layer2.0.bn1"] == "BatchNorm2d"
    assert adapter.model.layer2[0].bn1.training
    Trainer(epochs=1, progress=False).fit(adapter, train_loader)
    after = adapter.model.state_dict()
    for k, v in frozen.items():  # weights AND BatchNorm running statistics untouched
        assert torch.equal(after[k], v), k
    assert any(not torch.equal(after[k], v) for k, v in trained.items() if k.endswith("running_mean"))
    assert any(not torch.equal(after[k], v) for k, v in trained.items() if k.endswith("weight"))


def test_few_shot_is_deterministic_and_disjoint_from_validation():
    source = resolve_data("digits:5-9", seed=0)
    assert source.classes == ["5", "6", "7", "8", "9"]
    idx = list(range(len(source.train)))
    a = few_shot(idx, source.targets_train, 10, seed=0)
    assert a == few_shot(idx, source.targets_train, 10, seed=0) and a != few_shot(idx, source.targets_train, 10, seed=1)
    labels = [source.targets_train[i] for i in a]
    assert sorted(labels) == sorted(list(range(5)) * 10)
    train_ids = {source.train.indices[i] for i in a}
    assert train_ids.isdisjoint(set(source.val.indices))
    assert len(source.val) == 181 and len(source.train) + len(source.val) == 896  # digits 5-9 in load_digits: 182+181+179+174+180


def test_few_shot_errors():
    source = resolve_data("digits:0-1", seed=0)
    with pytest.raises(ZooError, match="fewer than shots 10000; lower shots"):
        few_shot(list(range(len(source.train))), source.targets_train, 10_000)
    with pytest.raises(ZooError, match="at least 1"):
        few_shot([0], [0], 0)
