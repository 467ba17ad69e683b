"""Several processes (zoo.training.distributed): 2 CPU processes (gloo) train as 1 process with the same global batch.

The 2-process runs start this file as a script, one process per rank, with the environment
torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT`` on
a free port); the 1-process reference runs in the test itself with ``RANK=0 WORLD_SIZE=1``
(launched by torchrun with one process: the same data order, no process group). One test
runs the real ``torchrun --nproc-per-node 2 -m zoo train``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from zoo.errors import ZooError

ROOT = Path(__file__).resolve().parents[1]
#: torchrun as this interpreter's module (the ``torchrun`` script of a copied virtual environment may start another Python).
TORCHRUN = (sys.executable, "-m", "torch.distributed.run")
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK", "TORCHELASTIC_RUN_ID")
PEER_FAILED = "rank 0 of 2 stopped because another process of the run failed (its connection closed); its error is printed above"


# ---------------------------------------------------------------------------------
# what each process runs
# ---------------------------------------------------------------------------------
def _backbone():
    """A backbone without batch norm (per-process batch statistics would differ from one process's)."""
    from torch import nn

    from zoo.models.adapters import BackboneAdapter, stages_from_children
    from zoo.registry import get_spec

    torch.manual_seed(0)
    layers = [("conv", nn.Conv2d(1, 4, 3, padding=1)), ("act", nn.ReLU()), ("pool", nn.AdaptiveAvgPool2d(2)), ("flat", nn.Flatten())]
    net = nn.Sequential(OrderedDict([*layers, ("fc", nn.Linear(16, 3))]))
    return BackboneAdapter(get_spec("resnet18"), net, stages_from_children(net), head="fc")


def _source(n_train: int, n_val: int, size: int):
    """Seeded float images (1, size, size) in [-1, 1] with 3 classes; no transform needed."""
    from zoo.data import DataSource

    g = torch.Generator().manual_seed(1)
    images = torch.rand(n_train + n_val, 1, size, size, generator=g) * 2 - 1
    labels = (images[:, 0, : size // 2].mean((1, 2)) > 0).long() + (images[:, 0, :, : size // 2].mean((1, 2)) > 0).long()
    items = [(images[i], int(labels[i])) for i in range(n_train + n_val)]
    return DataSource("synthetic", ["a", "b", "c"], 1, size, True, train=items[:n_train], val=items[n_train:])


def _fit(adapter, source, *, batch_size: int, epochs: int, callbacks=()):
    from zoo.data import make_loaders
    from zoo.training.trainer import Trainer

    train, val = make_loaders(source, train_transform=lambda x: x, val_transform=lambda x: x, batch_size=batch_size, seed=0)
    trainer = Trainer(epochs=epochs, lr=0.05, seed=0, progress=False, callbacks=callbacks)
    result = trainer.fit(adapter, train, val if adapter.kind == "backbone" else None)
    return result


def _fit_backbone():
    adapter = _backbone()
    result = _fit(adapter, _source(48, 21, 8), batch_size=8, epochs=2)  # 6 iterations per epoch, 21 held out (odd)
    return adapter.model.state_dict(), result["history"]


def _fit_dcgan():
    from zoo.registry import build

    torch.manual_seed(0)
    adapter = build("dcgan", image_size=16, channels=1, ngf=8, ndf=8)
    _fit(adapter, _source(32, 0, 16), batch_size=8, epochs=1)
    return adapter.model.state_dict()


class _FailOnRank1:
    """Raises a ZooError on rank 1 at its third optimizer step."""

    def on_optimizer_step(self, trainer, adapter, name):
        if os.environ["RANK"] == "1" and trainer.global_step == 2:
            raise ZooError("boom on rank 1")


def _worker(out: Path) -> int:
    """One rank of a 2-process run (``python tests/test_distributed.py OUT``): a backbone fit
    and a GAN fit, whose weights it saves, then a fit that fails on rank 1."""
    from safetensors.torch import save_file

    rank = os.environ["RANK"]
    try:
        state, history = _fit_backbone()
        save_file(state, str(out / f"backbone{rank}.safetensors"))
        (out / f"history{rank}.json").write_text(json.dumps(history))
        save_file(_fit_dcgan(), str(out / f"dcgan{rank}.safetensors"))
        _fit(_backbone(), _source(48, 0, 8), batch_size=8, epochs=2, callbacks=[_FailOnRank1()])
    except ZooError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return exc.exit_code
    return 0


# ---------------------------------------------------------------------------------
# launching
# ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), **extra)
    return env


def _launch(argv: list[str], per_rank_env: list[dict[str, str]] | None = None, timeout: float = 120) -> list[tuple[int, str, str]]:
    """Start 2 ranks of ``argv`` with torchrun's environment; ``[(returncode, stdout, stderr)]`` by rank."""
    port = _free_port()
    procs = []
    for rank in range(2):
        env = _clean_env(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        env.update((per_rank_env or [{}, {}])[rank])
        procs.append(subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            results.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results


@pytest.fixture
def torchrun_single(monkeypatch):
    """This process as the only process of a torchrun job (no process group needed)."""
    for var in TORCHRUN_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")


# ---------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------
def test_two_processes_train_as_one_with_the_same_global_batch_and_stop_together(tmp_path, torchrun_single):
    ranks = _launch([sys.executable, __file__, str(tmp_path)])
    # the third fit: a ZooError on rank 1 stops rank 0 at its next collective, one line each
    assert ranks[1][0] == 1 and ranks[1][2].strip().splitlines()[-1] == "Error: boom on rank 1", ranks[1][2]
    assert ranks[0][0] == 1 and ranks[0][2].strip().splitlines()[-1] == f"Error: {PEER_FAILED}", ranks[0][2]
    from safetensors.torch import load_file

    one_state, one_history = _fit_backbone()
    two = [load_file(str(tmp_path / f"backbone{r}.safetensors")) for r in (0, 1)]
    assert set(two[0]) == set(one_state)
    for key, value in one_state.items():
        assert torch.equal(two[0][key], two[1][key]), key  # the replicas hold the same weights
        assert torch.allclose(two[0][key], value, rtol=1e-5, atol=1e-6), key  # and one process's
        assert not torch.equal(value, _backbone().model.state_dict()[key]), key  # which trained
    for r in (0, 1):
        history = json.loads((tmp_path / f"history{r}.json").read_text())
        assert [h["epoch"] for h in history] == [1, 2]
        for got, want in zip(history, one_history, strict=True):
            for k in ("loss", "acc", "val_loss", "val_accuracy"):
                assert got[k] == pytest.approx(want[k], rel=1e-5, abs=1e-6), k
    # a GAN: each network wrapped separately, both stay identical on every rank
    gans = [load_file(str(tmp_path / f"dcgan{r}.safetensors")) for r in (0, 1)]
    params = [k for k in gans[0] if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    assert any(k.startswith("generator.") for k in params) and any(k.startswith("discriminator.") for k in params)
    for key in params:
        assert torch.equal(gans[0][key], gans[1][key]), key


def test_cli_on_two_ranks_prints_rank_zero_and_the_other_ranks_errors(tmp_path):
    """``python -m zoo`` on each rank: rank 1 cannot find the model (its plugins are limited);
    it prints its one error line prefixed, and rank 0 stops at its first collective."""
    argv = [sys.executable, "-m", "zoo", "adapt", "resnet18", "--head", "2", "--weights", "none", "--data", "digits:0-1"]
    argv += ["--shots", "4", "--epochs", "1", "--batch-size", "4", "--out", str(tmp_path / "run")]
    ranks = _launch(argv, per_rank_env=[{}, {"ZOO_PLUGINS": "dcgan"}], timeout=90)
    assert ranks[1][0] == 2 and ranks[1][1] == ""
    assert ranks[1][2] == "[rank 1] Error: unknown model 'resnet18'; run 'zoo list' to see every model\n"
    assert ranks[0][0] == 1 and ranks[0][2].strip().splitlines()[-1] == f"Error: {PEER_FAILED}"
    assert not (tmp_path / "run").exists()


def test_torchrun_trains_a_gan_and_only_rank_zero_writes(tmp_path):
    out = tmp_path / "run"
    argv = [*TORCHRUN, "--nproc-per-node", "2", "--master-port", str(_free_port()), "-m", "zoo", "train", "dcgan"]
    argv += ["--data", "digits:0-1", "--img-size", "16", "--epochs", "1", "--batch-size", "32", "--out", str(out), "--json"]
    proc = subprocess.run(argv, env=_clean_env(ZOO_OFFLINE="1"), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)  # one JSON document: rank 1 prints nothing
    # a GAN trains on all 360 digits: 180 per rank, 16 per rank and batch, the short batch dropped
    assert summary["steps"] == 180 // 16 and summary["train_images"] == 360 and summary["out"] == str(out)
    assert "[rank 1]" not in proc.stderr and proc.stderr.count("saved ") == 1
    names = sorted("events" if p.name.startswith("events.out.tfevents.") else p.name for p in out.iterdir())
    assert names == [
        "curves.png",
        "events",
        "last",
        "metrics.jsonl",
        "model.json",
        "model.safetensors",
        "samples",
    ]  # one TensorBoard file: rank 0's
    assert [p.name for p in (out / "samples").iterdir()] == ["epoch_0001.png"]


def test_batch_size_is_global_and_must_split_evenly(monkeypatch):
    from zoo.training.trainer import check_training_args

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(ZooError) as err:
        check_training_args(batch_size=30)
    assert err.value.for_cli() == "--batch-size 30 is the global batch and must split evenly over the 4 processes; use --batch-size 32"
    check_training_args(batch_size=32)


def test_shards_are_disjoint_and_the_held_out_split_is_not_padded(monkeypatch):
    from zoo.data import make_loaders

    source = _source(47, 21, 8)  # 47 training images: DistributedSampler pads to 48
    seen: dict[str, list[int]] = {"train": [], "val": []}
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        train, val = make_loaders(source, train_transform=lambda x: x, val_transform=lambda x: x, batch_size=8, seed=3)
        train.sampler.set_epoch(1)
        assert train.batch_size == 4 and len(train) == 6 and len(train.dataset) == 47 and len(val.dataset) == 21
        seen["train"] += list(train.sampler)
        seen["val"] += list(val.sampler)
    assert sorted(set(seen["train"])) == list(range(47)) and len(seen["train"]) == 48
    assert sorted(seen["val"]) == list(range(21))
    # 25 images per process in batches of 4: the last batch, of one image, is dropped (batch norm cannot train on it)
    train, _ = make_loaders(_source(50, 0, 8), train_transform=lambda x: x, val_transform=lambda x: x, batch_size=8, seed=3)
    assert [len(b[1]) for b in train] == [4] * 6


def test_context_and_per_process_seeds(monkeypatch):
    from zoo.utils.dist import context, epoch_seed

    for var in TORCHRUN_ENV:
        monkeypatch.delenv(var, raising=False)
    assert context().world_size == 1 and not context().launched and epoch_seed(0, 1) is None
    monkeypatch.setenv("WORLD_SIZE", "2")
    seeds = []
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK", rank)
        seeds.append([epoch_seed(0, e) for e in (1, 2)])
    assert len({*seeds[0], *seeds[1]}) == 4  # a stream per process and epoch
    monkeypatch.setenv("RANK", "two")
    with pytest.raises(ZooError) as err:
        context()
    assert str(err.value) == (
        "environment variable RANK='two' is not an integer; torchrun sets it: "
        "launch with 'torchrun --nproc-per-node N -m zoo ...' or unset RANK"
    )


def test_replica_stderr_keeps_only_error_lines():
    import io

    from zoo.__main__ import ReplicaStderr

    target = io.StringIO()
    stream = ReplicaStderr(target, 3)
    stream.write("Warning: offline\nError: bad")
    stream.write(" thing\nprogress 3/4\n")
    assert target.getvalue() == "[rank 3] Error: bad thing\n"


if __name__ == "__main__":
    sys.exit(_worker(Path(sys.argv[1])))
