"""Training you can watch (issue 18): one line per epoch above the bar, TensorBoard event files in
every run directory, ``curves.png`` at the end, ``best/`` saying which epoch it holds.

TensorBoard files are read back with TensorBoard's own reader (``EventAccumulator``). Uses
``tiny`` (a test CNN, 9 iterations per epoch on digits 0-1) and the 16x16 DCGAN of ``test_resume``.
"""

# ruff: noqa: F811  (the fixtures imported from test_resume are the tests' parameters)
from __future__ import annotations

import json
import re

import pytest
from test_resume import GAN_ARGS, TINY_ARGS, TINY_DATA, interrupt_at, tiny  # noqa: F401  (fixtures)
from test_time_limit import fake_clock, minutes, unwrapped

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread, for every test here


def events(run):
    """TensorBoard's reader over ``run`` (every event file in it), loaded."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def steps(acc, tag: str) -> list[int]:
    return [e.step for e in acc.Scalars(tag)]


# -- TensorBoard ---------------------------------------------------------------------------------


def test_a_backbone_run_writes_tensorboard_scalars_per_step_and_epoch_and_its_options(tmp_path, tiny):
    from zoo import tasks

    run = tmp_path / "run"
    summary = tasks.train("tiny", TINY_DATA, epochs=2, out=run, **TINY_ARGS)
    (event_file,) = run.glob("events.out.tfevents.*")
    acc = events(run)
    scalars = set(acc.Tags()["scalars"])
    assert {"epoch/loss", "epoch/acc", "epoch/val_loss", "epoch/val_accuracy", "epoch/lr", "epoch/seconds"} <= scalars
    assert {"train/loss", "train/acc", "train/lr"} <= scalars
    assert steps(acc, "epoch/val_accuracy") == [1, 2]
    assert [e.value for e in acc.Scalars("epoch/val_accuracy")] == pytest.approx([m["val_accuracy"] for m in summary["history"]])
    assert steps(acc, "train/loss")[0] == 1  # the first iteration, then every 2 s (by iteration)
    assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")
    assert event_file.stat().st_size > 0


def test_a_gan_run_writes_its_sample_grids_to_tensorboard(tmp_path):
    from zoo import tasks

    run = tmp_path / "run"
    tasks.train("dcgan", TINY_DATA, epochs=2, out=run, **GAN_ARGS)
    acc = events(run)
    assert {"epoch/d_loss", "epoch/g_loss", "train/d_loss", "train/g_loss"} <= set(acc.Tags()["scalars"])
    grids = acc.Images("samples")
    assert [g.step for g in grids] == [1, 2]
    assert grids[0].encoded_image_string.startswith(b"\x89PNG") and (grids[0].width, grids[0].height) == (530, 530)


def test_tensorboard_steps_of_a_cut_and_redone_epoch_appear_once(tmp_path, tiny, monkeypatch):
    """A resumed run's event file hides the points of the epoch it redoes (``purge_step``)."""
    from zoo import tasks

    run = tmp_path / "run"
    fake_clock(monkeypatch)  # one second per iteration: a train/* point at iterations 1, 3, 5...
    tasks.train("tiny", TINY_DATA, epochs=3, out=run, max_minutes=minutes(15.5), **TINY_ARGS)  # cut at epoch 2 step 7
    tasks.train("tiny", resume=run, progress=False)  # from iteration 10: points at 10, 12... (11, 13, 15 hidden)
    assert len(list(run.glob("events.out.tfevents.*"))) == 2
    acc = events(run)
    train = steps(acc, "train/loss")
    assert train == [1, 3, 5, 7, 9, *range(10, 27, 2)]  # once each, the redone ones included
    assert steps(acc, "epoch/loss") == [1, 2, 3]


def test_tensorboard_is_closed_on_ctrl_c_and_dropped_when_nothing_was_saved(tmp_path, tiny, monkeypatch):
    from zoo import tasks

    with monkeypatch.context() as m:
        interrupt_at(m, 9 + 3)  # epoch 2 step 4: epoch 1 is saved
        with pytest.raises(KeyboardInterrupt):
            tasks.train("tiny", TINY_DATA, epochs=3, out=tmp_path / "run", **TINY_ARGS)
    assert steps(events(tmp_path / "run"), "epoch/loss") == [1]
    with monkeypatch.context() as m:
        interrupt_at(m, 3)  # before the first epoch ended: nothing saved, nothing left
        with pytest.raises(KeyboardInterrupt):
            tasks.train("tiny", TINY_DATA, epochs=3, out=tmp_path / "early", **TINY_ARGS)
    assert not (tmp_path / "early").exists()


def test_only_rank_zero_writes_tensorboard(tmp_path, tiny, monkeypatch):
    """Ranks other than 0 have no run directory (``rank_zero_run``) and their logs write nothing."""
    from zoo.training.distributed import rank_zero_run
    from zoo.training.monitor import TensorBoardLog
    from zoo.training.runs import Run

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert rank_zero_run(Run("train", "tiny", tmp_path / "run", False, None)).tensorboard({}, None) is None
    log = TensorBoardLog(tmp_path / "run")
    log.open()
    log.step(1, {"loss": 1.0})
    log.epoch(1, {"epoch": 1, "loss": 1.0})
    log.close()
    assert not (tmp_path / "run").exists()


def test_a_directory_tensorboard_cannot_write_in_is_one_warning_and_training_goes_on(tmp_path, tiny, monkeypatch, capsys):
    from zoo import tasks
    from zoo.training import monitor

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("torch.utils.tensorboard.SummaryWriter", refuse)
    summary = tasks.train("tiny", TINY_DATA, epochs=1, out=tmp_path / "run", **TINY_ARGS)
    assert summary["epoch"] == 1 and not list((tmp_path / "run").glob(monitor.EVENTS_GLOB))
    (line,) = capsys.readouterr().err.splitlines()
    assert (
        line == f"Warning: TensorBoard logging stopped: cannot write in {tmp_path / 'run'} ([Errno 13] Permission denied); training goes on"
    )


# -- per-epoch lines, curves, best ---------------------------------------------------------------

NUMBER = r"[\d.e+-]+"
EPOCH_LINE = re.compile(
    rf"epoch ([12])/2  loss {NUMBER}  acc {NUMBER}  val_loss {NUMBER}  val_accuracy {NUMBER}  lr {NUMBER}  \d+\.\d s( {{2}}best)?"
)


def test_one_line_per_epoch_above_the_bar_on_stderr_and_json_on_stdout(tmp_path, tiny):
    from cli_helpers import run as zoo

    run = tmp_path / "run"
    res = zoo("train", "tiny", "--data", TINY_DATA, "--img-size", "8", "--batch-size", "32", "--epochs", "2", "--out", run, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)  # stdout is the JSON document alone
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("epoch ") and "━" not in ln]
    assert [EPOCH_LINE.fullmatch(ln).group(1) for ln in lines] == ["1", "2"], res.stderr
    best = summary["best_epoch"]
    assert [ln.endswith("  best") for ln in lines] == [True, best == 2]
    history = summary["history"]
    assert f"val_accuracy {history[1]['val_accuracy']:.4g}" in lines[1] and f"lr {history[1]['lr']:.4g}" in lines[1]
    err = unwrapped(res.stderr)
    assert f"checkpoints: {run}/last (epoch 2), {run}/best (epoch {best}, val_accuracy {summary['best_val_accuracy']:.4f})" in err
    assert f"curves: {run}/curves.png; TensorBoard: tensorboard --logdir {run}" in err


def test_the_trainer_prints_nothing_without_progress(capsys):
    from test_trainer import blobs, tiny_classifier

    from zoo.training.trainer import Trainer

    result = Trainer(epochs=2, progress=False).fit(tiny_classifier(), blobs(), blobs())
    assert capsys.readouterr() == ("", "") and [m["lr"] for m in result["history"]] == pytest.approx([5e-4, 0.0], abs=1e-12)


def test_curves_png_and_best_epoch_of_a_backbone_run(tmp_path, tiny):
    from PIL import Image

    from zoo import tasks

    run = tmp_path / "run"
    summary = tasks.train("tiny", TINY_DATA, epochs=3, out=run, **TINY_ARGS)
    assert summary["curves"] == str(run / "curves.png")
    with Image.open(run / "curves.png") as img:
        assert img.format == "PNG" and img.size == (1380, 360)
    accs = [m["val_accuracy"] for m in summary["history"]]
    best = accs.index(max(accs)) + 1
    assert (summary["best_epoch"], summary["best_val_accuracy"]) == (best, max(accs))
    want = {"metric": "val_accuracy", "value": max(accs), "epoch": best}
    assert json.loads((run / "best" / "model.json").read_text())["best"] == want
    assert json.loads((run / "best" / "model.json").read_text())["metrics"]["epoch"] == best
    assert json.loads((run / "model.json").read_text())["best"] == want
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # written atomically: no temporary file left


def test_curves_of_a_gan_draw_its_d_and_g_losses(tmp_path):
    from PIL import Image

    from zoo import tasks
    from zoo.training.curves import curve_panels

    summary = tasks.train("dcgan", TINY_DATA, epochs=2, out=tmp_path / "run", **GAN_ARGS)
    assert curve_panels(summary["history"]) == [("loss", ["d_loss", "g_loss"]), ("learning rate", ["lr"])]
    with Image.open(tmp_path / "run" / "curves.png") as img:
        assert img.format == "PNG" and img.size == (920, 360)
    assert "best_epoch" not in summary and "best" not in json.loads((tmp_path / "run" / "model.json").read_text())
