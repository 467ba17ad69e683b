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


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op torch thread for the rest of the module, restored after it: tiny networks
    run faster on one thread than on several, and a busy machine cannot make OpenMP threads wait
    on each other (measured on 2 busy cores: 2 ms against 150 ms per step). A module takes it
    with ``pytestmark = pytest.mark.usefixtures("one_thread")`` or a test by naming it."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
