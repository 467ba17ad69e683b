"""Thread oversubscription: one DCGAN training alone and with three other zoo trainings beside it.

One command (CPU, about 15 minutes on 2 cores; run it on an otherwise idle machine)::

    python benchmarks/threads.py                # writes benchmarks/threads.md
    python benchmarks/threads.py --quick        # 1 round, 10 s probes: a smoke test

What is measured: the steps per second of ``zoo train dcgan --data digits --img-size 32
--batch-size 64`` (the ``steps`` / ``seconds`` of its ``--json`` summary, training time
only), run for ``--seconds`` with ``--max-minutes``, first alone, then while three other
``zoo train dcgan`` processes of the same configuration train beside it (started
``--settle`` seconds earlier, killed when the probe ends). Every process is a real ``zoo``
command in a fresh interpreter, so each reads its thread settings at start, as a user's would.

Configurations:

* **before**: the CLI without :func:`zoo.utils.threads.configure_process`
  (``zoo.cli.app.main``, which is what the ``zoo`` command ran before it): torch's own
  defaults, as many intra-op threads as cores and GNU OpenMP's spin-then-sleep waiting.
* **after**: ``python -m zoo`` (what the ``zoo`` command runs now): ``OMP_WAIT_POLICY=PASSIVE``
  and ``OMP_NUM_THREADS`` = the CPUs this process may use (:func:`zoo.utils.threads.available_cpus`).
* **after, --threads 1**: the same with one intra-op thread per process.

The ideal with N processes on C cores is ``min(1, C / N)`` of the alone rate per process
(0.5 for 4 processes on 2 cores); the ``slowdown`` column is alone / beside. Each
configuration is measured ``--rounds`` times, alternating configurations, and reported
as median and range. Environment variables that change threading (``OMP_*``, ``GOMP_*``,
``ZOO_THREADS``, ``MKL_NUM_THREADS``) are removed from the children's environment.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zoo.utils.fileio import atomic_write_text  # noqa: E402
from zoo.utils.threads import available_cpus  # noqa: E402

#: (label, interpreter arguments before the zoo arguments, extra zoo arguments)
CONFIGS = [
    ("before: torch defaults", ["-c", "import sys; from zoo.cli.app import main; sys.exit(main(sys.argv[1:]))"], []),
    ("after: zoo defaults", ["-m", "zoo"], []),
    ("after: --threads 1", ["-m", "zoo"], ["--threads", "1"]),
]
THREAD_VARS = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "ZOO_THREADS", "MKL_NUM_THREADS", "KMP_BLOCKTIME")


def child_env() -> dict[str, str]:
    """This environment without the variables that change threading, offline."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env.update(ZOO_OFFLINE="1", HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    return env


def zoo_train(interp: list[str], extra: list[str], out: Path, minutes: float, epochs: int) -> list[str]:
    """The command line of one DCGAN training process."""
    args = ["train", "dcgan", "--data", "digits", "--img-size", "32", "--batch-size", "64", "--epochs", str(epochs)]
    args += ["--max-minutes", f"{minutes:g}", "--out", str(out), "--json", *extra]
    return [sys.executable, *interp, *args]


def probe(interp: list[str], extra: list[str], seconds: float, busy: int, settle: float, tmp: Path) -> float:
    """Steps per second of one DCGAN training with ``busy`` others beside it."""
    env = child_env()
    others = []
    for i in range(busy):
        cmd = zoo_train(interp, extra, tmp / f"busy{i}-{time.monotonic_ns()}", minutes=60, epochs=100_000)
        others.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        if busy:
            time.sleep(settle)  # let them import torch and start training
        cmd = zoo_train(interp, extra, tmp / f"probe-{time.monotonic_ns()}", minutes=seconds / 60, epochs=100_000)
        res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    finally:
        for p in others:
            p.kill()
        for p in others:
            p.wait()
    if res.returncode != 0:
        raise SystemExit(f"probe failed ({res.returncode}): {res.stderr.strip().splitlines()[-1:]}")
    summary = json.loads(res.stdout)
    return summary["steps"] / summary["seconds"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="measurements of each configuration (median and range reported)")
    ap.add_argument("--seconds", type=float, default=30.0, help="training seconds of each probe")
    ap.add_argument("--settle", type=float, default=20.0, help="seconds the busy processes get to start before the probe")
    ap.add_argument("--busy", type=int, default=3, help="other zoo trainings beside the probe")
    ap.add_argument("--quick", action="store_true", help="1 round of 10 s probes")
    ap.add_argument("--out", default=str(Path(__file__).with_name("threads.md")))
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds, args.settle = 1, 10.0, 12.0
    import torch

    t0 = time.perf_counter()
    rates: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="zoo-threads-") as tmp:
        for r in range(args.rounds):
            for label, interp, extra in CONFIGS:
                for busy in (0, args.busy):
                    rate = probe(interp, extra, args.seconds, busy, args.settle, Path(tmp))
                    rates.setdefault((label, busy), []).append(rate)
                    print(f"round {r + 1}/{args.rounds}  {label:<24} beside {busy}: {rate:6.2f} steps/s", file=sys.stderr, flush=True)

    cpus = available_cpus()
    procs = args.busy + 1
    ideal = min(1.0, cpus / procs)
    lines = [
        "# Thread oversubscription: a DCGAN alone and beside three other zoo trainings",
        "",
        f"Recorded {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC with `python benchmarks/threads.py"
        f"{' --quick' if args.quick else ''}` ({(time.perf_counter() - t0) / 60:.1f} min; {platform.machine()}, "
        f"{os.cpu_count()} logical CPUs, {cpus} available to this process, torch {torch.__version__}, CPU).",
        "",
        f"Steps per second of `zoo train dcgan --data digits --img-size 32 --batch-size 64` (default DCGAN, ngf = ndf = 64) "
        f"over {args.seconds:g} s of training, alone and with {args.busy} other trainings of the same configuration beside it; "
        f"median [min, max] of {args.rounds} round{'s' if args.rounds != 1 else ''}. With {procs} processes on {cpus} CPUs each can get at most "
        f"{ideal:.2f} of its alone rate: the ideal slowdown is {1 / ideal:.1f}x. The configurations are in the script's docstring.",
        "",
        "| configuration | alone (steps/s) | beside 3 others (steps/s) | slowdown |",
        "|---|---:|---:|---:|",
    ]

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} [{min(values):.2f}, {max(values):.2f}]"

    for label, _, _ in CONFIGS:
        alone, beside = rates[(label, 0)], rates[(label, args.busy)]
        lines.append(f"| {label} | {cell(alone)} | {cell(beside)} | {statistics.median(alone) / statistics.median(beside):.1f}x |")
    lines.append("")
    atomic_write_text(Path(args.out), "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
