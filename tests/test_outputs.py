"""Results are never lost (issue 10): the --out policy, paired weights and sidecar, permissions.

Offline, CPU; training uses the tiny backbone of test_resume.py.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
from test_resume import TINY_ARGS, TINY_DATA, interrupt_at, tiny  # noqa: F401  (fixtures)
from typer.testing import CliRunner

from zoo.errors import ZooError
from zoo.utils.fileio import remove_stale_temps
from zoo.utils.outputs import claim_output, numbered_dir

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread, for every test here

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d"


def run_cli(*args):
    from zoo.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args])


def one_error_line(res) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in res.output, res.output
    return lines[0]


def snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


# -- claim_output ------------------------------------------------------------------------------


def test_claim_output_refuses_an_earlier_run_unless_overwrite(tmp_path):
    run = tmp_path / "runs" / "x"
    run.mkdir(parents=True)
    assert claim_output(run, overwrite=False, resumable=True) == run  # an empty directory is no run
    (run / "notes.txt").write_text("mine")
    assert claim_output(run, overwrite=False) == run  # nor is a directory of other files
    (run / "model.safetensors").write_bytes(b"x")
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime((run / "model.safetensors").stat().st_mtime))
    with pytest.raises(ZooError) as info:
        claim_output(run, overwrite=False, resumable=True)
    err = info.value
    assert err.exit_code == 2 and err.for_cli() == (
        f"--out {run} already holds a run (model.safetensors, {stamp}); "
        f"pass --overwrite to replace it, --resume {run} to continue it, or choose another --out"
    )
    with pytest.raises(ZooError) as info:
        claim_output(run, overwrite=False)
    assert info.value.for_cli().endswith("; pass --overwrite to replace it or choose another --out")
    assert claim_output(run, overwrite=True) == run
    # an interrupted run (only last/) is a run too
    (run / "model.safetensors").unlink()
    (run / "last").mkdir()
    with pytest.raises(ZooError, match=rf"already holds a run \(last, {STAMP}\)"):
        claim_output(run, overwrite=False)
    assert sorted(p.name for p in run.iterdir()) == ["last", "notes.txt"]  # nothing created or removed


def test_claim_output_files_and_wrong_kinds(tmp_path):
    grid = tmp_path / "grid.png"
    assert claim_output(grid, kind="file") == grid
    grid.write_bytes(b"png")
    with pytest.raises(ZooError) as info:
        claim_output(grid, kind="file")
    assert re.fullmatch(
        rf"--out {re.escape(str(grid))} already exists \({STAMP}\); pass --overwrite to replace it or choose another --out",
        info.value.for_cli(),
    )
    assert claim_output(grid, kind="file", overwrite=True) == grid
    with pytest.raises(ZooError, match=r"is a directory; give a file name such as .*grid\.png"):
        claim_output(tmp_path, kind="file", default="grid.png")  # the command's own kind of file is suggested
    with pytest.raises(ZooError, match=r"is a directory; give a file name such as .*feats\.safetensors"):
        claim_output(tmp_path, kind="file", default="runs/features/feats.safetensors")
    with pytest.raises(ZooError, match=r"is a file, not a directory; choose another out$"):
        claim_output(grid, overwrite=True)
    with pytest.raises(ZooError) as info:  # the nearest existing parent is a file
        claim_output(grid / "run")
    assert str(info.value) == f"cannot write {grid / 'run'}: {grid} is not a writable directory; choose another out"


def test_default_output_is_a_new_numbered_directory(tmp_path):
    base = tmp_path / "runs" / "train" / "resnet18"
    assert claim_output(None, default=base) == base == numbered_dir(base)
    base.mkdir(parents=True)
    assert claim_output(None, default=base) == base.with_name("resnet18-2")
    base.with_name("resnet18-2").mkdir()
    (base.parent / "resnet18-3").write_text("a file takes the name too")
    assert claim_output(None, default=base) == base.with_name("resnet18-4")
    assert claim_output(None, default=tmp_path / "grid.png", kind="file") == tmp_path / "grid.png"
    (tmp_path / "grid.png").write_bytes(b"")
    assert claim_output(None, default=tmp_path / "grid.png", kind="file") == tmp_path / "grid-2.png"


# -- the policy through the commands --------------------------------------------------------------


def test_train_refuses_an_earlier_run_and_overwrite_replaces_it(tmp_path, tiny, monkeypatch):  # noqa: F811
    run = tmp_path / "run"
    args = ["train", "tiny", "--data", TINY_DATA, "--img-size", "8", "--batch-size", "32", "--epochs", "2", "--out", run]
    assert run_cli(*args).exit_code == 0
    before = snapshot(run)
    res = run_cli(*args)
    assert res.exit_code == 2
    assert re.fullmatch(
        rf"Error: --out {re.escape(str(run))} already holds a run \(model\.safetensors, {STAMP}\); "
        rf"pass --overwrite to replace it, --resume {re.escape(str(run))} to continue it, or choose another --out",
        one_error_line(res),
    )
    res = run_cli("adapt", "tiny", "--head", "2", "--weights", "none", "--out", run)
    assert res.exit_code == 2 and "already holds a run (model.safetensors" in one_error_line(res)
    assert snapshot(run) == before

    # --overwrite: a new run that fails before its first complete epoch leaves the earlier run as it was
    with monkeypatch.context() as m:
        interrupt_at(m, 4)
        res = run_cli(*args, "--overwrite", "--seed", "1")
    assert res.exit_code == 130 and one_error_line(res).endswith("no epoch had finished, nothing was saved")
    assert snapshot(run) == before

    # once it has a complete epoch, the earlier run's files go; at the end the directory holds the new run only
    res = run_cli(*args[:-4], "--epochs", "1", "--out", run, "--overwrite", "--seed", "1", "--json")
    assert res.exit_code == 0, res.output
    meta = json.loads((run / "model.json").read_text())
    assert meta["training"]["seed"] == 1 and meta["training"]["epochs"] == 1
    assert [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1]
    names = sorted(
        "events" if p.name.startswith("events.out.tfevents.") else p.name for p in run.iterdir()
    )  # the earlier run's events gone
    assert names == ["best", "curves.png", "events", "last", "metrics.jsonl", "model.json", "model.safetensors"]


def test_overwrite_with_an_adapt_that_does_not_train_retires_the_old_checkpoints(tmp_path, tiny):  # noqa: F811
    from zoo import tasks

    run = tmp_path / "run"
    tasks.train("tiny", TINY_DATA, epochs=1, out=run, **TINY_ARGS)
    tasks.adapt("tiny", num_classes=3, weights="none", out=run, overwrite=True)
    assert sorted(p.name for p in run.iterdir()) == ["model.json", "model.safetensors"]
    assert json.loads((run / "model.json").read_text())["config"]["num_classes"] == 3


def test_default_out_of_train_is_numbered(tmp_path, tiny, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    args = ["train", "tiny", "--data", TINY_DATA, "--img-size", "8", "--epochs", "1"]
    for expected in ("tiny", "tiny-2"):
        res = run_cli(*args)
        assert res.exit_code == 0, res.output
        assert f"saved runs/train/{expected}/model.safetensors" in res.stderr
    assert sorted(p.name for p in (tmp_path / "runs" / "train").iterdir()) == ["tiny", "tiny-2"]


def test_demo_refuses_an_earlier_demo_before_any_work(tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "summary.json").write_text("{}")
    res = run_cli("demo", "--out", out)
    assert res.exit_code == 2
    assert re.fullmatch(
        rf"Error: --out {re.escape(str(out))} already holds a run \(summary\.json, {STAMP}\); pass --overwrite to replace it or choose another --out",
        one_error_line(res),
    )
    assert os.listdir(out) == ["summary.json"]


# -- weights and sidecar land together -------------------------------------------------------------


def crash_on(monkeypatch, target: Path) -> list[str]:
    """``os.replace`` fails when renaming onto ``target`` (a crash between two renames); returns the targets renamed."""
    real = os.replace
    renamed: list[str] = []

    def replace(src, dst):
        renamed.append(Path(dst).name)
        if Path(dst) == target:
            raise OSError(5, "Input/output error (simulated crash)")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return renamed


def test_a_crash_between_the_two_renames_is_a_one_line_error_on_read(tmp_path, tiny, monkeypatch):  # noqa: F811
    """The final pair: weights renamed into place, then the sidecar; failing the second
    rename leaves new weights beside the old sidecar, which read_checkpoint refuses."""
    from zoo import tasks
    from zoo.io.checkpoint import read_checkpoint, save_checkpoint
    from zoo.models.weights import load_weights

    run = tmp_path / "run"
    tasks.train("tiny", TINY_DATA, epochs=1, out=run, **TINY_ARGS)
    old_sidecar = (run / "model.json").read_bytes()
    with monkeypatch.context() as m:
        renamed = crash_on(m, run / "model.json")
        with pytest.raises(ZooError, match=r"^cannot write the checkpoint in .*simulated crash"):
            tasks.adapt("tiny", num_classes=2, weights="none", out=run, overwrite=True)  # builds and saves, no training
    assert renamed[-2:] == ["model.safetensors", "model.json"]  # the weights went first
    assert (run / "model.json").read_bytes() == old_sidecar
    with pytest.raises(ZooError) as info:
        read_checkpoint(run)
    assert str(info.value) == (
        f"{run / 'model.safetensors'} and model.json come from different saves (a write was interrupted, or files were copied "
        f"between runs); do not use them together; its last complete epoch is in {run / 'last'} "
        f"(pass that, or finish the run with --resume {run})"
    )
    adapter = tiny[-1]
    with pytest.raises(ZooError, match="come from different saves"):
        load_weights(adapter, str(run))
    # the per-epoch checkpoint is whole and paired
    state, meta = read_checkpoint(run / "last")
    assert meta["model"] == "tiny" and meta["checkpoint_id"] and set(state) == set(adapter.model.state_dict())

    # the same with save_checkpoint alone, in a directory without last/
    ckpt = tmp_path / "ckpt"
    save_checkpoint(ckpt, tiny[0], {})
    with monkeypatch.context() as m:
        crash_on(m, ckpt / "model.json")
        with pytest.raises(ZooError):
            save_checkpoint(ckpt, adapter, {})
    with pytest.raises(ZooError, match=r"do not use them together: train again, or restore the pair$"):
        read_checkpoint(ckpt)
    assert sorted(os.listdir(ckpt)) == ["model.json", "model.safetensors"]  # no temporary file left


def test_an_unfinished_run_points_at_its_last_epoch(tmp_path, tiny, monkeypatch):  # noqa: F811
    from zoo import tasks
    from zoo.io.checkpoint import read_checkpoint

    run = tmp_path / "run"
    interrupt_at(monkeypatch, 10)
    with pytest.raises(KeyboardInterrupt):
        tasks.train("tiny", TINY_DATA, epochs=2, out=run, **TINY_ARGS)
    with pytest.raises(ZooError) as info:
        read_checkpoint(run)
    assert str(info.value) == (
        f"checkpoint directory {run} has no model.safetensors; its last complete epoch is in {run / 'last'} "
        f"(pass that, or finish the run with --resume {run})"
    )
    assert read_checkpoint(run / "last")[1]["metrics"]["epoch"] == 1


# -- permissions, temporary files --------------------------------------------------------------------


def test_outputs_get_the_users_permissions(tmp_path, tiny):  # noqa: F811
    from zoo import tasks

    old = os.umask(0o022)
    try:
        run = tmp_path / "run"
        tasks.train("tiny", TINY_DATA, epochs=1, out=run, **TINY_ARGS)
    finally:
        os.umask(old)
    modes = {"events" if p.name.startswith("events.out.") else str(p.relative_to(run)): p.stat().st_mode & 0o777 for p in run.rglob("*")}
    assert modes == {
        "model.safetensors": 0o644,
        "model.json": 0o644,
        "metrics.jsonl": 0o644,
        "curves.png": 0o644,
        "events": 0o644,  # TensorBoard's
        "last": 0o755,
        "best": 0o755,
        **{
            f"{d}/{f}": 0o644
            for d in ("last", "best")
            for f in ("model.safetensors", "model.json", "train_state.safetensors", "train_state.json")
        },
    }


def test_remove_stale_temps_only_removes_temporary_names(tmp_path):
    for name in (".model.json.abc123.tmp", ".metrics.jsonl.x.tmp"):
        (tmp_path / name).write_text("partial")
    (tmp_path / ".last.tmp-k2j3").mkdir()
    for name in ("model.json", "last", ".hidden", "notes.tmp"):
        (tmp_path / name).mkdir() if name == "last" else (tmp_path / name).write_text("keep")
    assert sorted(remove_stale_temps(tmp_path)) == [".last.tmp-k2j3", ".metrics.jsonl.x.tmp", ".model.json.abc123.tmp"]
    assert sorted(os.listdir(tmp_path)) == [".hidden", "last", "model.json", "notes.tmp"]
