"""Two runs at once never share an output (issue 20): the claim of ``zoo.utils.outputs``.

Real processes: two ``zoo train`` started at the same instant (a start file both wait on)
claim one default name, or one ``--out``; a claimed output is refused to another process
while its holder lives and free again the moment it dies, even by ``kill -9``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from zoo.errors import ZooError
from zoo.utils.outputs import LOCK_SUFFIX, claim_output, claims_scope, held_claims, release_output

ENV = {**os.environ, "ZOO_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "ZOO_THREADS": "1", "OMP_NUM_THREADS": "1", "COLUMNS": "400"}
TRAIN = ["train", "dcgan", "--data", "digits:0-1", "--img-size", "16", "--batch-size", "32", "--epochs", "1"]

# `zoo ARGS...` once the start file exists; zoo and torch are imported before, so both processes
# claim within a few milliseconds of each other. Each training step sleeps 50 ms, so the runs overlap.
START_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import torch
    import zoo.training.trainer as trainer
    from zoo.__main__ import main

    call = trainer.Trainer._call

    def slow(self, hook, *args):
        if hook == "on_optimizer_step":
            time.sleep(0.05)
        return call(self, hook, *args)

    trainer.Trainer._call = slow
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.002)
    sys.exit(main(sys.argv[2:]))
    """
)


def start_together(tmp_path: Path, *argvs: list[str]) -> list[subprocess.CompletedProcess]:
    """Run ``zoo ARGV`` for each argv in its own process, released at the same instant; their results."""
    script, go = tmp_path / "start.py", tmp_path / "go"
    script.write_text(START_SCRIPT)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(go), *argv], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for argv in argvs
    ]
    time.sleep(4)  # both import zoo and torch, then wait on the start file
    go.write_text("")
    results = []
    for argv, proc in zip(argvs, procs, strict=True):
        out, err = proc.communicate(timeout=240)
        results.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    return results


def locks(root: Path) -> list[Path]:
    return sorted(root.rglob(f"*{LOCK_SUFFIX}"))


def test_two_runs_started_together_get_two_default_names(tmp_path):
    a, b = start_together(tmp_path, TRAIN, TRAIN)
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    saved = sorted(line.split()[1].rsplit("/", 1)[0] for r in (a, b) for line in r.stderr.splitlines() if line.startswith("saved "))
    assert saved == ["runs/train/dcgan", "runs/train/dcgan-2"]
    runs = tmp_path / "runs" / "train"
    ids = {json.loads((runs / d / "model.json").read_text())["checkpoint_id"] for d in ("dcgan", "dcgan-2")}
    assert len(ids) == 2  # two complete runs, one each
    assert sorted(p.name for p in runs.iterdir()) == ["dcgan", "dcgan-2"] and locks(tmp_path) == []


def test_two_runs_started_together_on_one_out_one_is_refused(tmp_path):
    out = tmp_path / "same"
    a, b = start_together(tmp_path, [*TRAIN, "--out", str(out)], [*TRAIN, "--out", str(out)])
    assert sorted([a.returncode, b.returncode]) == [0, 2], a.stderr + b.stderr
    winner, loser = (a, b) if a.returncode == 0 else (b, a)
    lines = [ln for ln in loser.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: --out {out} is being written by another zoo process (pid "), loser.stderr
    assert "Traceback" not in loser.stderr
    # the directory holds the winner's run, whole
    meta = json.loads((out / "model.json").read_text())
    assert f"saved{out}/model.safetensors" in "".join(winner.stderr.split()) and meta["model"] == "dcgan"
    names = sorted(p.name for p in out.iterdir())
    events = [n for n in names if n.startswith("events.out.tfevents.")]
    assert len(events) == 1, names  # the winner's TensorBoard log, one writer only
    assert [n for n in names if n not in events] == ["curves.png", "last", "metrics.jsonl", "model.json", "model.safetensors", "samples"]
    assert locks(tmp_path) == []


HOLD_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, time
    from zoo.utils.outputs import claim_output

    claim_output(sys.argv[1], kind=sys.argv[2])
    print("claimed", flush=True)
    if sys.argv[3] == "die":
        os.kill(os.getpid(), signal.SIGKILL)  # no clean-up of any kind
    time.sleep(120)
    """
)


@pytest.mark.parametrize("kind", ["directory", "file"])
def test_a_claim_blocks_others_while_its_holder_lives_and_never_after(tmp_path, kind):
    """A live holder: refused in one line naming its pid. A holder killed with -9: the stale lock
    file is taken over at once and removed when released. Nothing ever waits."""
    target = tmp_path / ("run" if kind == "directory" else "grid.png")
    script = tmp_path / "hold.py"
    script.write_text(HOLD_SCRIPT)
    holder = subprocess.Popen([sys.executable, str(script), str(target), kind, "live"], env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "claimed"
        with pytest.raises(ZooError) as info:
            claim_output(target, kind=kind)
        assert info.value.exit_code == 2
        assert f"{target} is being written by another zoo process (pid {holder.pid} on " in str(info.value)
        # a default name moves on to the next one instead
        with claims_scope():
            assert claim_output(None, default=target, kind=kind).name == ("run-2" if kind == "directory" else "grid-2.png")
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with claims_scope():  # its holder gone, the claim is free: no stale lock blocks anyone
        assert claim_output(target, kind=kind) == target
    assert locks(tmp_path) == []

    dead = subprocess.run([sys.executable, str(script), str(target), kind, "die"], env=ENV, capture_output=True, text=True, timeout=120)
    assert dead.returncode == -signal.SIGKILL and dead.stdout.strip() == "claimed"
    assert [p.name for p in locks(tmp_path)] == [f".{target.name}{LOCK_SUFFIX}"]  # left behind by kill -9
    start = time.monotonic()
    with claims_scope():
        assert claim_output(target, kind=kind) == target
        assert time.monotonic() - start < 1
    assert locks(tmp_path) == [] and not target.exists()


def test_claims_are_released_with_their_scope_and_leave_nothing(tmp_path):
    run = tmp_path / "a" / "b" / "run"
    with claims_scope():
        assert claim_output(run) == run
        assert run.resolve() in held_claims()
        assert claim_output(run) == run  # the same process may claim again (the CLI, then its task)
        assert [p.name for p in locks(tmp_path)] == [f".run{LOCK_SUFFIX}"]
    assert run.resolve() not in held_claims()
    assert list(tmp_path.iterdir()) == []  # the lock file and the directories made for it are gone
    release_output(run)  # releasing what is not held does nothing
