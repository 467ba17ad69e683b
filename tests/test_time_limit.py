"""Time limits that tell the truth (issue 18): ``max_minutes`` / ``--max-minutes``.

An epoch whose last step ran is complete and saved; a limit reached within an epoch cuts it
there (``last/`` keeps the last complete epoch, ``--resume`` redoes the cut one exactly); the
bar counts steps; the CLI says only what it wrote. The trainer's clock is a fake one that
advances one second per iteration, so every cut falls on a known step, whatever the machine.
Uses ``tiny`` (a test CNN, 9 iterations per epoch on digits 0-1) from ``test_resume``.
"""

# ruff: noqa: F811  (the fixtures imported from test_resume are the tests' parameters)
from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import pytest
from test_resume import TINY_ARGS, TINY_DATA, assert_same_weights, losses, tiny  # noqa: F401  (fixtures)

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread, for every test here


def fake_clock(monkeypatch, *, per_step: float = 1.0, at_epoch_end: float = 0.0) -> SimpleNamespace:
    """The trainer's ``time.perf_counter``: 0 when a fit starts, ``per_step`` seconds more at each
    iteration's first optimizer step, ``at_epoch_end`` more in each epoch's callbacks (its
    validation and save)."""
    import zoo.training.trainer as trainer

    clock = SimpleNamespace(t=0.0)
    monkeypatch.setattr(trainer, "time", SimpleNamespace(perf_counter=lambda: clock.t))
    call = trainer.Trainer._call

    def _call(self, hook, *args):
        if hook == "on_optimizer_step" and args[1] == next(iter(self.optimizers)):
            clock.t += per_step
        elif hook == "on_epoch_end":
            clock.t += at_epoch_end
        return call(self, hook, *args)

    monkeypatch.setattr(trainer.Trainer, "_call", _call)
    return clock


def minutes(seconds: float) -> float:
    return seconds / 60


def unwrapped(text: str) -> str:
    """stderr as one line: rich wraps long lines at the console's width (80 columns here)."""
    return "".join(text.splitlines())


def epochs_logged(run) -> list[int]:
    return [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def saved_epoch(run) -> int:
    return json.loads((run / "last" / "train_state.json").read_text())["state"]["epoch"]


def test_time_up_at_an_epochs_last_step_saves_that_epoch_and_resume_continues(tmp_path, tiny, monkeypatch):
    """dcgan 22/22 steps, stargan 6/6 in the issue: the epoch whose last step ran is complete."""
    from zoo import tasks

    ref = tasks.train("tiny", TINY_DATA, epochs=3, out=tmp_path / "ref", **TINY_ARGS)
    run = tmp_path / "run"
    with monkeypatch.context() as m:
        fake_clock(m)
        summary = tasks.train("tiny", TINY_DATA, epochs=3, out=run, max_minutes=minutes(17.5), **TINY_ARGS)  # up at step 18 = 9 + 9
    assert summary["stopped_early"] is True and "stopped_at" not in summary
    assert summary["epoch"] == 2 and summary["steps"] == 18 and summary["last"] == str(run / "last")
    assert saved_epoch(run) == 2 and epochs_logged(run) == [1, 2]
    assert_same_weights(run, run / "last")  # the final model is the saved epoch
    assert losses(summary["history"]) == losses(ref["history"][:2])

    resumed = tasks.train("tiny", resume=run, progress=False)
    assert resumed["epoch"] == 3 and resumed["steps"] == 27 and losses(resumed["history"]) == losses(ref["history"])
    assert_same_weights(tmp_path / "ref", run)


def test_time_up_mid_epoch_cuts_it_keeps_the_last_full_epoch_and_resume_redoes_it(tmp_path, tiny, monkeypatch):
    from zoo import tasks

    ref = tasks.train("tiny", TINY_DATA, epochs=4, out=tmp_path / "ref", **TINY_ARGS)
    run = tmp_path / "run"
    with monkeypatch.context() as m:
        fake_clock(m)
        summary = tasks.train("tiny", TINY_DATA, epochs=4, out=run, max_minutes=minutes(21.5), **TINY_ARGS)  # up at epoch 3 step 4
    cut = summary["stopped_at"]
    assert (cut["epoch"], cut["step"], cut["steps"]) == (3, 4, 9) and set(cut["logs"]) == {"loss", "acc"}
    assert summary["stopped_early"] is True and summary["epoch"] == 2 and summary["steps"] == 22
    # the cut epoch is neither logged, validated nor saved; the summary's metrics are epoch 2's
    assert saved_epoch(run) == 2 and epochs_logged(run) == [1, 2] and [m["epoch"] for m in summary["history"]] == [1, 2]
    assert summary["val_accuracy"] == ref["history"][1]["val_accuracy"]
    meta = json.loads((run / "model.json").read_text())
    assert meta["metrics"]["stopped_at"]["step"] == 4 and meta["metrics"]["epoch"] == 2
    # model.safetensors holds the weights at the cut, last/ the end of epoch 2
    with pytest.raises(AssertionError):
        assert_same_weights(run, run / "last")

    resumed = tasks.train("tiny", resume=run, progress=False)  # redoes epoch 3 from its start
    assert resumed["epoch"] == 4 and resumed["steps"] == 36 and "stopped_at" not in resumed
    assert losses(resumed["history"]) == losses(ref["history"]) and epochs_logged(run) == [1, 2, 3, 4]
    assert_same_weights(tmp_path / "ref", run)
    assert_same_weights(tmp_path / "ref" / "last", run / "last")


def test_time_up_during_an_epochs_validation_or_save_starts_no_other_epoch(tmp_path, tiny, monkeypatch):
    from zoo import tasks

    fake_clock(monkeypatch, at_epoch_end=100.0)
    summary = tasks.train("tiny", TINY_DATA, epochs=3, out=tmp_path / "run", max_minutes=minutes(50), **TINY_ARGS)
    assert summary["stopped_early"] is True and summary["epoch"] == 1 and summary["steps"] == 9 and "stopped_at" not in summary


def test_time_up_before_the_first_epoch_ends_saves_no_checkpoint_and_says_so(tmp_path, tiny, monkeypatch):
    from cli_helpers import run as zoo

    run = tmp_path / "run"
    fake_clock(monkeypatch)
    res = zoo(
        "train", "tiny", "--data", TINY_DATA, "--img-size", "8", "--batch-size", "32", "--epochs", "2", "--max-minutes", minutes(4.5),
        "--out", run, "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["epoch"] == 0 and summary["stopped_at"]["step"] == 5 and summary["steps"] == 5 and "last" not in summary
    assert not (run / "last").exists() and (run / "model.safetensors").exists()
    err = unwrapped(res.stderr)
    assert "checkpoints:" not in err and f"{run}/last" not in err
    assert "--max-minutes 0.075 cut epoch 1 at step 5/9 before any epoch finished, so there is no checkpoint to resume from" in err
    assert err.count("epoch 1/2  cut at step 5/9: the time limit (0.075 min) is up") == 1


def test_cli_says_what_a_mid_epoch_cut_saved_and_how_to_continue(tmp_path, tiny, monkeypatch):
    from cli_helpers import run as zoo

    run = tmp_path / "run"
    args = ["train", "tiny", "--data", TINY_DATA, "--img-size", "8", "--batch-size", "32", "--epochs", "3", "--out", run]
    with monkeypatch.context() as m:
        fake_clock(m)
        res = zoo(*args, "--max-minutes", minutes(12.5))  # up at epoch 2 step 4
    assert res.exit_code == 0, res.output
    err = unwrapped(res.stderr)
    assert f"saved {run}/model.safetensors and {run}/model.json" in err
    assert f"checkpoints: {run}/last (epoch 1), {run}/best (epoch 1, val_accuracy " in err
    assert (
        f"--max-minutes 0.208333 cut epoch 2 at step 4/9: model.safetensors holds the weights at that step, {run}/last the last "
        f"complete epoch (1); continue with: zoo train tiny --resume {run} (it redoes epoch 2)"
    ) in err
    res = zoo("train", "tiny", "--resume", run)
    assert res.exit_code == 0, res.output
    assert f"checkpoints: {run}/last (epoch 3)" in unwrapped(res.stderr) and "cut" not in res.stderr


def test_the_bar_counts_steps_under_a_time_limit(capsys, tiny, tmp_path, monkeypatch):
    """The issue's ``45/45`` (seconds) while the summary said ``steps 1``: the bar counts iterations."""
    from zoo import tasks

    fake_clock(monkeypatch, per_step=10.0)
    summary = tasks.train("tiny", TINY_DATA, epochs=2, max_minutes=minutes(45), **{**TINY_ARGS, "progress": True})
    err = capsys.readouterr().err
    assert summary["steps"] == 5 and "5/18" in err and "45/45" not in err


def test_a_family_declares_its_paper_batch_size(tmp_path, tiny, monkeypatch):
    """``ModelSpec.train_batch_size``: what ``zoo train`` uses without ``--batch-size`` (CycleGAN: 1)."""
    import zoo.registry as registry
    from zoo import tasks
    from zoo.errors import ZooError
    from zoo.registry.spec import spec_from_dict

    assert registry.get_spec("cyclegan").train_batch_size == 1 and registry.get_spec("dcgan").train_batch_size is None
    get_spec = registry.get_spec
    monkeypatch.setattr(registry, "get_spec", lambda name: dataclasses.replace(get_spec(name), train_batch_size=96))
    args = {k: v for k, v in TINY_ARGS.items() if k != "batch_size"}
    summary = tasks.train("tiny", TINY_DATA, epochs=1, out=tmp_path / "run", **args)
    assert summary["steps"] == 3  # 288 training images in batches of 96
    assert json.loads((tmp_path / "run" / "last" / "train_state.json").read_text())["state"]["options"]["batch_size"] == 96
    assert tasks.train("tiny", TINY_DATA, epochs=1, batch_size=144, **args)["steps"] == 2  # --batch-size wins
    with pytest.raises(ZooError, match="train_batch_size must be a whole number of at least 1, got 0"):
        spec_from_dict("x", {"family": "x", "kind": "gan", "plugin": "x", "arch": "x", "train_batch_size": 0})
