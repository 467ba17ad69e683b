"""Shared test set-up: offline, seeded, small threads."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ZOO_OFFLINE", "1")
os.environ.setdefault("RICH_WIDTH", "200")

import pytest


@pytest.fixture(autouse=True)
def _seed_and_cache(tmp_path_factory, monkeypatch):
    import torch

    torch.manual_seed(0)
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path_factory.mktemp("zoo-cache")))
    yield


@pytest.fixture
def fresh_registry():
    """Forget cached plugin managers/registries before and after a test that changes plugins."""
    from zoo.registry import reset_registry

    reset_registry()
    yield
    reset_registry()
