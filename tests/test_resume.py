"""Nothing lost (issue 10): per-epoch checkpoints, --resume, Ctrl-C, kill -9, divergence.

Offline, CPU, seeded. The backbone is a tiny CNN registered for the test (``tiny``: two
convolutions and a linear head, 8x8 inputs); the GAN is a 16x16 DCGAN with 4 filters.
Both train on two classes of scikit-learn's digits in well under a second per epoch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from zoo.errors import ZooError

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread


TINY_DATA = "digits:0-1"  # 288 training and 72 held-out images
TINY_ARGS = {"img_size": 8, "batch_size": 32, "progress": False}
GAN_ARGS = {"img_size": 16, "batch_size": 32, "progress": False, "build_options": {"ngf": 4, "ndf": 4, "latent_dim": 8}}


def _tiny_spec():
    from zoo.registry.spec import ModelSpec

    return ModelSpec(
        name="tiny",
        family="tiny",
        kind="backbone",
        plugin="tiny",
        arch="test:tiny",
        input_size=(3, 8, 8),
        min_size=8,
        num_params=0,
        stages=("stem", "body", "fc"),
        head="fc",
        description="a test CNN",
    )


class TinyNet(nn.Module):
    """``(N, 3, 8, 8)`` float32 -> ``(N, num_classes)``: conv, BN, ReLU, strided conv, pool, linear."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.body = nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(8, num_classes)
        self.poison_at: int | None = None  # forward call at which the logits become NaN (divergence tests)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc(self.body(self.stem(x)))
        if self.training:
            self.calls += 1
            if self.calls == self.poison_at:
                out = out * float("nan")
        return out


@pytest.fixture
def tiny(monkeypatch):
    """Register ``tiny`` for this test (zoo.registry.get_spec / build answer it)."""
    import zoo.registry as registry
    from zoo.models.adapters import BackboneAdapter, Stage

    spec = _tiny_spec()
    get_spec, build = registry.get_spec, registry.build
    built: list[BackboneAdapter] = []

    def fake_get_spec(name):
        return spec if name == "tiny" else get_spec(name)

    def fake_build(name_or_spec, **options):
        if getattr(name_or_spec, "name", name_or_spec) != "tiny":
            return build(name_or_spec, **options)
        model = TinyNet(int(options.get("num_classes") or 10))
        stages = [Stage("stem", ("stem",)), Stage("body", ("body",)), Stage("fc", ("fc",))]
        built.append(BackboneAdapter(spec, model, stages, "fc"))
        return built[-1]

    monkeypatch.setattr(registry, "get_spec", fake_get_spec)
    monkeypatch.setattr(registry, "build", fake_build)
    return built


def interrupt_at(monkeypatch, global_step: int):
    """Ctrl-C from a callback: ``KeyboardInterrupt`` in ``on_optimizer_step`` once
    ``trainer.global_step == global_step`` (iterations done before this one)."""
    from zoo.training.trainer import Trainer

    call = Trainer._call

    def _call(self, hook, *args):
        if hook == "on_optimizer_step" and self.global_step == global_step:
            raise KeyboardInterrupt
        return call(self, hook, *args)

    monkeypatch.setattr(Trainer, "_call", _call)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert different == [], different


def run_files(run: Path) -> list[str]:
    """The names in a run directory, each TensorBoard event file (one per invocation) as ``events``."""
    return sorted("events" if p.name.startswith("events.out.tfevents.") else p.name for p in run.iterdir())


def losses(history):
    return [{k: v for k, v in m.items() if k != "seconds"} for m in history]


# -- 4 epochs == 2 epochs + 2 resumed, bit for bit -----------------------------------------


def test_backbone_resume_after_ctrl_c_is_bit_exact(tmp_path, tiny, monkeypatch):
    from zoo import tasks
    from zoo.training.trainer import TrainingInterrupted

    ref = tasks.train("tiny", TINY_DATA, epochs=4, out=tmp_path / "ref", **TINY_ARGS)
    # 9 iterations per epoch: Ctrl-C during epoch 3, step 2 (18 iterations done)
    with monkeypatch.context() as m:
        interrupt_at(m, 19)
        with pytest.raises(TrainingInterrupted) as info:
            tasks.train("tiny", TINY_DATA, epochs=4, out=tmp_path / "run", **TINY_ARGS)
    run = tmp_path / "run"
    assert str(info.value) == (
        f"interrupted at epoch 3 step 2; the last complete epoch (2) is in {run / 'last'}; "
        f"continue with: zoo train tiny --data {TINY_DATA} --resume {run}"
    )
    err = info.value
    assert isinstance(err, KeyboardInterrupt) and err.exit_code == 130 and (err.epoch, err.step, err.saved_epoch) == (3, 2, 2)
    assert not (run / "model.safetensors").exists()  # the final model is written only when training ends
    state = json.loads((run / "last" / "train_state.json").read_text())["state"]
    assert (state["epoch"], state["global_step"]) == (2, 18)

    resumed = tasks.train("tiny", resume=run, progress=False)  # every option from the run
    assert_same_weights(tmp_path / "ref", run)
    assert_same_weights(tmp_path / "ref" / "last", run / "last")
    assert losses(resumed["history"]) == losses(ref["history"]) and resumed["steps"] == ref["steps"] == 36
    assert resumed["val_accuracy"] == ref["val_accuracy"]
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in log] == [1, 2, 3, 4]
    # best/ is the epoch with the best val_accuracy so far, a complete resumable checkpoint
    best = json.loads((run / "best" / "train_state.json").read_text())["state"]["best"]
    accs = [m["val_accuracy"] for m in ref["history"]]
    assert best == {"metric": "val_accuracy", "value": max(accs), "epoch": accs.index(max(accs)) + 1}
    assert run_files(run) == ["best", "curves.png", "events", "events", "last", "metrics.jsonl", "model.json", "model.safetensors"]


def test_gan_two_epochs_then_two_resumed_is_bit_exact(tmp_path):
    from zoo import tasks

    tasks.train("dcgan", TINY_DATA, epochs=4, out=tmp_path / "ref", **GAN_ARGS)
    tasks.train("dcgan", TINY_DATA, epochs=2, out=tmp_path / "run", **GAN_ARGS)
    summary = tasks.train("dcgan", epochs=4, resume=tmp_path / "run", progress=False)  # a constant schedule may be extended
    assert summary["epoch"] == 4 and summary["steps"] == 4 * 11  # a GAN trains on all 360 images: full batches of 32
    assert_same_weights(tmp_path / "ref", tmp_path / "run")
    # GANs have no validation metric: their best is their last, no best/ directory
    assert not (tmp_path / "run" / "best").exists()
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir()) == [f"epoch_000{i}.png" for i in (1, 2, 3, 4)]
    # the checkpoint holds everything the run needs
    state = json.loads((tmp_path / "run" / "last" / "train_state.json").read_text())["state"]
    assert set(state) >= {"epoch", "global_step", "optimizers", "schedulers", "scaler", "rng", "history", "options", "best"}
    assert set(state["rng"]) >= {"python", "numpy", "torch", "loader"} and state["best"] is None


# -- resuming with other options -------------------------------------------------------------


def test_resume_refuses_another_model_or_options(tmp_path, tiny):
    from zoo import tasks

    run = tmp_path / "run"
    tasks.train("tiny", TINY_DATA, epochs=2, out=run, **TINY_ARGS)
    with pytest.raises(ZooError) as info:
        tasks.train("dcgan", resume=run)
    assert (
        str(info.value) == f"resume {run} is a 'zoo train tiny' run, not 'zoo train dcgan'; continue it with: zoo train tiny --resume {run}"
    )
    with pytest.raises(ZooError) as info:
        tasks.train("tiny", resume=run, batch_size=16)
    err = info.value
    assert str(err) == f"batch_size 16 differs from the run's 32 in {run}; leave batch_size out to continue that run, or start a new run"
    assert err.exit_code == 2 and err.for_cli().startswith("--batch-size 16 differs")
    with pytest.raises(ZooError) as info:
        tasks.train("tiny", resume=run, epochs=3)  # the cosine schedule was planned over 2 epochs
    assert (
        str(info.value)
        == "epochs 3 differs from the run's 2: its learning-rate schedule was planned over 2 epochs; leave epochs out (or pass 2) to continue it"
    )
    with pytest.raises(ZooError) as info:
        tasks.train("tiny", resume=run)
    assert str(info.value) == "the run already finished 2 of 2 epochs; its learning-rate schedule has ended"
    with pytest.raises(ZooError) as info:
        tasks.adapt("tiny", num_classes=2, resume=run)
    assert "is a 'zoo train tiny' run, not 'zoo adapt tiny'" in str(info.value)
    with pytest.raises(ZooError) as info:
        tasks.train("tiny", resume=tmp_path / "nothing")
    assert str(info.value) == f"resume {tmp_path / 'nothing'} is not a run directory; pass the --out of an earlier zoo train/adapt"
    with pytest.raises(ZooError) as info:
        tasks.train("tiny", resume=run, out=tmp_path / "elsewhere")
    assert str(info.value).startswith(f"out {tmp_path / 'elsewhere'} and --resume {run} differ")
    # files of different saves in last/ (copied by hand): refused, never mixed
    side = run / "last" / "model.json"
    side.write_text(json.dumps({**json.loads(side.read_text()), "checkpoint_id": "0" * 16}))
    with pytest.raises(ZooError) as info:
        tasks.train("tiny", resume=run)
    assert str(info.value) == (f"{side} and train_state.json come from different saves; resume from another checkpoint or start a new run")


def test_adapt_resumes_from_last(tmp_path, tiny, monkeypatch):
    from zoo import tasks

    common = {"num_classes": 2, "freeze_until": "stem", "weights": "none", "data": TINY_DATA, "img_size": 8, "progress": False}
    ref = tasks.adapt("tiny", epochs=3, out=tmp_path / "ref", **common)
    with monkeypatch.context() as m:
        interrupt_at(m, 9 + 3)  # 9 iterations per epoch: epoch 2, step 4
        with pytest.raises(KeyboardInterrupt, match=r"^interrupted at epoch 2 step 4; the last complete epoch \(1\)"):
            tasks.adapt("tiny", epochs=3, out=tmp_path / "run", **common)
    out = tasks.adapt("tiny", num_classes=2, resume=tmp_path / "run", progress=False)
    assert out["frozen_until"] == "stem" and out["weights"] == ref["weights"] == "random"
    assert_same_weights(tmp_path / "ref", tmp_path / "run")


# -- Ctrl-C through the CLI -------------------------------------------------------------------


def test_cli_ctrl_c_exits_130_with_one_line_and_resumes(tmp_path, tiny, monkeypatch):
    from typer.testing import CliRunner

    from zoo.cli.app import app

    run = tmp_path / "run"
    args = ["train", "tiny", "--data", TINY_DATA, "--img-size", "8", "--batch-size", "32", "--epochs", "3", "--out", str(run)]
    with monkeypatch.context() as m:
        interrupt_at(m, 9 + 4)
        res = CliRunner().invoke(app, args)
    assert res.exit_code == 130
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert lines[-1] == (
        f"Error: interrupted at epoch 2 step 5; the last complete epoch (1) is in {run / 'last'}; "
        f"continue with: zoo train tiny --data {TINY_DATA} --resume {run}"
    )
    assert "Traceback" not in res.output
    res = CliRunner().invoke(app, ["train", "tiny", "--data", TINY_DATA, "--resume", str(run), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["epoch"] == 3 and (run / "model.safetensors").exists()


def test_ctrl_c_before_the_first_epoch_saves_nothing(tmp_path, tiny, monkeypatch):
    from zoo import tasks

    interrupt_at(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt) as info:
        tasks.train("tiny", TINY_DATA, epochs=2, out=tmp_path / "run", **TINY_ARGS)
    assert str(info.value) == "interrupted at epoch 1 step 4; no epoch had finished, nothing was saved"
    assert not (tmp_path / "run").exists()


# -- divergence --------------------------------------------------------------------------------


def poison(monkeypatch, call: int) -> None:
    """The ``call``-th training forward of every ``tiny`` built from now on returns NaN logits."""
    import zoo.registry as registry

    build = registry.build  # the ``tiny`` fixture's

    def poisoned(*args, **kwargs):
        adapter = build(*args, **kwargs)
        adapter.model.poison_at = call
        return adapter

    monkeypatch.setattr(registry, "build", poisoned)


def test_nan_loss_stops_with_one_line_and_keeps_the_last_finite_checkpoint(tmp_path, tiny, monkeypatch):
    from typer.testing import CliRunner

    from zoo.cli.app import app

    run = tmp_path / "run"
    poison(monkeypatch, 9 + 9 + 5)  # epoch 3, step 5
    args = [
        "train",
        "tiny",
        "--data",
        TINY_DATA,
        "--img-size",
        "8",
        "--batch-size",
        "32",
        "--epochs",
        "4",
        "--lr",
        "0.01",
        "--out",
        str(run),
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1
    *progress, error = res.stderr.strip().splitlines()
    assert error == (
        f"Error: loss became nan at epoch 3 step 5 (model); the last finite checkpoint is {run / 'last'} (epoch 2); "
        "lower --lr (now 0.01) and train again"
    )
    assert [line.split()[:2] for line in progress] == [["epoch", "1/4"], ["epoch", "2/4"]]  # the epochs' lines; the bar is gone
    state = json.loads((run / "last" / "train_state.json").read_text())["state"]
    assert state["epoch"] == 2
    assert all(torch.isfinite(t).all() for t in weights(run / "last").values())
    assert not (run / "model.safetensors").exists()
    log = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in log] == [1, 2]


def test_divergence_flag_is_read_per_epoch_or_every_few_seconds_not_per_step(tmp_path, tiny, monkeypatch):
    import zoo.training.resume as resume
    import zoo.training.trainer as trainer
    from zoo import tasks

    reads = []
    check = resume.check_finite

    def counting(trainer, bad, epoch, names):
        reads.append(epoch)
        return check(trainer, bad, epoch, names)

    monkeypatch.setattr(trainer, "check_finite", counting)
    monkeypatch.setattr(trainer, "CHECK_EVERY_S", 1e9)  # epochs shorter than the interval: one read at each end
    tasks.train("tiny", TINY_DATA, epochs=2, **TINY_ARGS)
    assert reads == [1, 2]  # 9 steps per epoch, 2 reads in all

    reads.clear()
    monkeypatch.setattr(trainer, "CHECK_EVERY_S", 0.0)  # the timed read, forced on every step: stops mid-epoch
    poison(monkeypatch, 5)
    with pytest.raises(trainer.TrainingDiverged) as info:
        tasks.train("tiny", TINY_DATA, epochs=2, **TINY_ARGS)
    assert reads == [1] * 5
    assert (
        str(info.value)
        == "loss became nan at epoch 1 step 5 (model); nothing was saved (no output directory); lower lr (now 0.001) and train again"
    )
    assert (info.value.epoch, info.value.step, info.value.optimizer, info.value.value, info.value.exit_code) == (1, 5, "model", "nan", 1)


def test_metrics_and_sidecar_are_strict_json(tmp_path):
    """A non-finite logged value is written as null with a note, never as a NaN token."""
    from test_trainer import blobs, tiny_classifier

    from zoo.training.trainer import Trainer
    from zoo.utils.fileio import dumps_strict

    adapter = tiny_classifier()
    step = adapter.training_step

    def with_inf_log(batch, ctx=None):
        for s in step(batch, ctx):
            yield dataclasses.replace(s, logs={**s.logs, "ratio": torch.tensor(float("inf"))})

    adapter.training_step = with_inf_log
    log = tmp_path / "metrics.jsonl"
    Trainer(epochs=1, progress=False, log_path=log).fit(adapter, blobs())
    text = log.read_text()
    assert "Infinity" not in text and "NaN" not in text
    (entry,) = [json.loads(line) for line in text.splitlines()]
    assert entry["ratio"] is None and entry["nonfinite"] == ["ratio"] and math_finite(entry["loss"])
    assert dumps_strict({"a": [1.0, float("nan")], "b": {"c": float("-inf")}}) == (
        '{"a": [1.0, null], "b": {"c": null}, "nonfinite": ["a.1", "b.c"]}'
    )

    from zoo.io.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "ckpt", adapter, {"metrics": {"val_loss": float("nan")}})
    side = (tmp_path / "ckpt" / "model.json").read_text()
    assert "NaN" not in side
    doc = json.loads(side, parse_constant=lambda c: pytest.fail(f"non-strict JSON token {c}"))
    assert doc["metrics"]["val_loss"] is None and doc["nonfinite"] == ["metrics.val_loss"]


def math_finite(x: float) -> bool:
    import math

    return isinstance(x, float) and math.isfinite(x)


# -- kill -9 -----------------------------------------------------------------------------------

KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import torch
    import zoo.training.trainer as trainer
    from zoo import tasks

    call = trainer.Trainer._call

    def slow(self, hook, *args):  # slows training down without touching its numbers
        if hook == "on_optimizer_step":
            time.sleep(0.02)
        return call(self, hook, *args)

    trainer.Trainer._call = slow
    torch.set_num_threads(1)  # as the test process
    tasks.train("dcgan", "digits:0-1", epochs=5, out=sys.argv[1], img_size=16, batch_size=32, progress=False,
                build_options={"ngf": 4, "ndf": 4, "latent_dim": 8})
    """
)


def test_kill_9_loses_at_most_the_epoch_in_progress(tmp_path):
    from zoo import tasks

    run = tmp_path / "run"
    script = tmp_path / "train.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "ZOO_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, str(script), str(run)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (run / "last" / "train_state.json").exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint after 120 s"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done = json.loads((run / "last" / "train_state.json").read_text())["state"]["epoch"]
    assert 1 <= done < 5 and not (run / "model.safetensors").exists()

    summary = tasks.train("dcgan", resume=run, progress=False)
    assert summary["epoch"] == 5 and [m["epoch"] for m in summary["history"]] == [1, 2, 3, 4, 5]
    gan = tasks.load_gan("dcgan", run)  # complete and loadable
    assert gan.sample(4, seed=0).shape == (4, 1, 16, 16)
    # bitwise equal to an uninterrupted run in this process
    tasks.train("dcgan", TINY_DATA, epochs=5, out=tmp_path / "ref", **GAN_ARGS)
    assert_same_weights(tmp_path / "ref", run)
    assert not [p.name for p in run.iterdir() if p.name.startswith(".") or p.name.endswith(".old")]


# -- a crash between the two renames ------------------------------------------------------------


def test_crash_between_the_renames_of_last_keeps_the_previous_epoch(tmp_path, tiny, monkeypatch):
    """``last`` is swapped in by two renames; failing the second leaves ``last.old``, which resume reads."""
    from zoo import tasks

    run = tmp_path / "run"
    real = os.replace
    calls = []

    def failing_second_rename_of_epoch_2(src, dst):
        calls.append(Path(dst).name)
        if Path(dst).name == "last" and calls.count("last.old") == 1:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", failing_second_rename_of_epoch_2)
    with pytest.raises(ZooError) as info:
        tasks.train("tiny", TINY_DATA, epochs=3, out=run, **TINY_ARGS)
    assert re.fullmatch(rf"cannot write the checkpoint {re.escape(str(run / 'last'))} \(.*No space left on device.*\); .*", str(info.value))
    monkeypatch.setattr(os, "replace", real)
    assert not (run / "last").exists() and (run / "last.old").is_dir()
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no temporary directory left
    tasks.train("tiny", TINY_DATA, epochs=3, out=tmp_path / "ref", **TINY_ARGS)
    tasks.train("tiny", resume=run, progress=False)  # from last.old: epoch 1
    assert_same_weights(tmp_path / "ref", run)
    assert run_files(run) == ["best", "curves.png", "events", "events", "last", "metrics.jsonl", "model.json", "model.safetensors"]
