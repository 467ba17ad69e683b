"""Run ``zoo bench`` over the registry and record the table in ``benchmarks/bench_table.md``.

Usage (from the repository root)::

    python benchmarks/bench_table.py                      # every model, cpu (+ cuda if present)
    python benchmarks/bench_table.py resnet18 'mobilenet*' --budget 1
    python benchmarks/bench_table.py --devices cpu --batch-size 4 --out /tmp/table.md

For each device it runs the real command, ``python -m zoo.cli.app bench [NAMES] --device
DEV --json ...`` (the progress bar shows on stderr), reads the JSON rows, and writes one
markdown file: the machine (CPU model, cores, torch threads, GPU, library versions), the
date, the exact commands, one table per device, and what each column means. The file is
written atomically with :func:`zoo.utils.fileio.atomic_write_text`. A model that fails appears as
a ``failed`` row with its reason; the script exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.utils.fileio import atomic_write_text

if TYPE_CHECKING:
    from zoo.tasks.bench import BenchRow

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "bench_table.md"

COLUMN_NOTES = """\
Columns: **params (M)** parameters in millions; **size MB** fp32 weights (parameters and
buffers x 4 bytes / 2^20, torchvision's `_file_size` convention); **depth** weight layers
(convolutions, fully-connected) on the longest input-to-output path of the autograd graph;
**GFLOPs** one forward at batch 1, `torch.utils.flop_counter` (multiply-add = 2;
convolutions and matrix products only); **ms p50 / ms p90** median and 90th percentile of
per-call latency at batch 1 (warm-up >= 10% of the budget, then calls until the budget is
used); **img/s** images (GAN: samples) per second at the batch shown (halved on
out-of-memory); **peak MB** on CUDA `torch.cuda.max_memory_allocated` during one forward at
that batch (weights + activations + workspace), on CPU the peak of live tensor bytes
(weights, input and every tensor ATen allocates, tracked by a dispatch mode; not RSS).
Models are built with random weights; GANs are measured on their generator.
"""


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``sysctl`` on macOS, else ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    return platform.processor() or platform.machine() or "unknown"


def machine_info() -> dict[str, Any]:
    """CPU, cores, torch threads, GPU, OS and library versions of this machine."""
    import torch

    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "logical cores": os.cpu_count(),
        "torch threads": torch.get_num_threads(),
        # timings on a busy machine are not comparable: record how busy it was
        "load average (1/5/15 min)": " / ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a",
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    for mod in ("torchvision", "timm"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - optional
            info[mod] = "not installed"
    if torch.cuda.is_available():
        info["gpu"] = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        info["cuda"] = torch.version.cuda
    else:
        info["gpu"] = "none"
    return info


def run_bench(names: list[str], device: str, extra: list[str]) -> tuple[list[str], list[BenchRow], int]:
    """Run ``zoo bench ... --json`` in a subprocess; return (command, rows, exit code)."""
    from zoo.tasks.bench import BenchRow

    cmd = [sys.executable, "-m", "zoo.cli.app", "bench", *names, "--device", device, "--json", *extra]
    print("$", shlex.join(["zoo", *cmd[3:]]), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else []
    except json.JSONDecodeError as exc:
        raise SystemExit(f"zoo bench printed no JSON (exit {proc.returncode}): {exc}") from None
    try:
        rows = [BenchRow.from_dict(d) for d in data]
    except TypeError as exc:  # a row with other keys: zoo.tasks.bench and this script disagree
        raise SystemExit(f"zoo bench printed rows that are not BenchRow objects: {exc}") from None
    if not rows and proc.returncode != 0:
        raise SystemExit(f"zoo bench failed before benchmarking (exit {proc.returncode}); see the error above")
    return cmd, rows, proc.returncode


def render(info: dict[str, Any], runs: list[tuple[str, list[str], list[BenchRow]]], argv: list[str]) -> str:
    """The markdown document: machine, command, one table per device, column notes."""
    from zoo.cli.bench_format import rows_to_markdown

    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    script = shlex.join(["python", "benchmarks/bench_table.py", *argv])
    lines = ["# `zoo bench` results", "", f"Recorded {now} with `{script}`.", ""]
    lines.append("| machine | |")
    lines.append("|---|---|")
    lines += [f"| {k} | {v} |" for k, v in info.items()]
    lines.append("")
    for device, cmd, rows in runs:
        threads = rows[0].threads if rows else "?"
        extra = (
            {r.dtype for r in rows}
            | ({"channels-last"} if any(r.channels_last for r in rows) else set())
            | ({"compiled"} if any(r.compile for r in rows) else set())
        )
        lines += [f"## {device} ({threads} threads; {', '.join(sorted(extra))})", "", f"Command: `{shlex.join(['zoo', *cmd[3:]])}`", ""]
        lines.append(rows_to_markdown(rows))
    lines.append(COLUMN_NOTES)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the benchmarks, write the markdown file; exit 1 if a model failed."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="model names or wildcards (default: the whole registry)")
    ap.add_argument("--devices", default=None, help="comma-separated devices (default: cpu, plus cuda when available)")
    ap.add_argument("--budget", type=float, default=2.0, help="timing budget per model, seconds (default 2)")
    ap.add_argument("--batch-size", type=int, default=None, help="throughput batch (default: zoo bench's, 8 cpu / 32 gpu)")
    ap.add_argument("--img-size", type=int, default=None, help="input size for every model (default: each model's own)")
    ap.add_argument("--kind", default=None, help="backbone or gan")
    ap.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"markdown file to write (default {DEFAULT_OUT.relative_to(HERE.parent)})"
    )
    args = ap.parse_args(argv)

    import torch

    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    extra = ["--budget", str(args.budget)]
    if args.batch_size:
        extra += ["--batch-size", str(args.batch_size)]
    if args.img_size:
        extra += ["--img-size", str(args.img_size)]
    if args.kind:
        extra += ["--kind", args.kind]
    info = machine_info()  # before the runs: the load average then says how busy others kept the machine
    runs, worst = [], 0
    for device in devices:
        cmd, rows, rc = run_bench(args.names, device.strip(), extra)
        runs.append((device.strip(), cmd, rows))
        worst = max(worst, rc)
    atomic_write_text(args.out, render(info, runs, argv))
    print(f"wrote {args.out}", file=sys.stderr)
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
