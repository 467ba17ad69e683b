"""Check ``zoo.measure.time_forward`` against ``torch.utils.benchmark`` on the same models.

Usage (from the repository root)::

    python benchmarks/fidelity.py                          # resnet18 mobilenet_v2 resnet50, 1 s each
    python benchmarks/fidelity.py resnet18 --budget 2 --rounds 5 --threads 1

For each model (built with random weights through the registry, or straight from
torchvision when the registry cannot build it), one batch-1 input and one thread count,
the same callable ``fn`` (a forward under ``torch.inference_mode()``) is timed in one
process by both

* ``zoo.measure.time_forward(fn, budget_s=B)`` (median of per-call times), and
* ``torch.utils.benchmark.Timer("fn()", num_threads=T).blocked_autorange(min_run_time=B)``
  (median of per-block means; note ``Timer`` defaults to ONE thread, so ``num_threads``
  is passed explicitly),

alternating the two for ``--rounds`` rounds so that drift in the machine's load hits both.
The ratio is ``zoo median / Timer median`` per round; the recorded figure is the median of
the per-round ratios (target: within 10% of 1). Results go to ``benchmarks/fidelity.md``,
written atomically with :func:`zoo.utils.fileio.atomic_write_text`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

from zoo.utils.fileio import atomic_write_text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_table import machine_info  # noqa: E402

DEFAULT_MODELS = ["resnet18", "mobilenet_v2", "resnet50"]


def build_model(name: str) -> tuple[Any, tuple[int, int, int], str]:
    """``(module in eval mode, (C, H, W), how it was built)``; registry first, torchvision as a fallback."""
    try:
        from zoo.registry import build

        adapter = build(name)
        return adapter.model.eval(), tuple(adapter.spec.input_size), "zoo registry"
    except Exception as exc:
        import torchvision

        if not hasattr(torchvision.models, name):
            raise SystemExit(f"cannot build {name}: {exc}") from None
        return getattr(torchvision.models, name)(weights=None).eval(), (3, 224, 224), f"torchvision (registry: {type(exc).__name__})"


def measure(name: str, *, budget: float, rounds: int, img_size: int | None, threads: int) -> dict[str, Any]:
    """Alternate zoo's and torch.utils.benchmark's timing of one model; return medians and ratios."""
    import torch
    from torch.utils.benchmark import Timer

    from zoo.measure.timing import time_forward

    torch.manual_seed(0)
    model, (c, h, w), source = build_model(name)
    if img_size:
        h = w = img_size
    x = torch.randn(1, c, h, w)

    def fn() -> Any:
        with torch.inference_mode():
            return model(x)

    timer = Timer("fn()", globals={"fn": fn}, num_threads=threads, label=name)
    zoo_ms, ref_ms, ratios, p90s, iqrs = [], [], [], [], []
    for _ in range(rounds):
        z = time_forward(fn, budget_s=budget)
        m = timer.blocked_autorange(min_run_time=budget)
        zoo_ms.append(z.median_ms)
        p90s.append(z.p90_ms)
        ref_ms.append(m.median * 1e3)
        iqrs.append(m.iqr * 1e3)
        ratios.append(z.median_ms / (m.median * 1e3))
        print(
            f"{name}: zoo {z.median_ms:.2f} ms ({z.reps} calls), Timer {m.median * 1e3:.2f} ms ({len(m.times)} blocks x {m.number_per_run}), ratio {ratios[-1]:.3f}",
            file=sys.stderr,
            flush=True,
        )
    return {
        "name": name,
        "source": source,
        "input": f"1x{c}x{h}x{w}",
        "threads": torch.get_num_threads(),
        "zoo_median_ms": statistics.median(zoo_ms),
        "zoo_p90_ms": statistics.median(p90s),
        "timer_median_ms": statistics.median(ref_ms),
        "timer_iqr_ms": statistics.median(iqrs),
        "ratio": statistics.median(ratios),
        "ratios": ratios,
    }


def render(info: dict[str, Any], results: list[dict[str, Any]], argv: list[str], budget: float, rounds: int) -> str:
    """The markdown report."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = shlex.join(["python", "benchmarks/fidelity.py", *argv])
    lines = [
        "# Timing fidelity: `zoo.measure.time_forward` vs `torch.utils.benchmark`",
        "",
        f"Recorded {now} with `{cmd}`: {rounds} alternating rounds of {budget:g} s per method and model,",
        "batch 1, same callable (forward under `torch.inference_mode()`), same thread count.",
        "Ratio = zoo median / `Timer.blocked_autorange` median; the table gives the median over rounds. Target: 0.90-1.10.",
        "",
        "| machine | |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in info.items()],
        "",
        "| model | built from | input | threads | zoo median ms | zoo p90 ms | Timer median ms | Timer IQR ms | ratio | per round | within 10% |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        ok = "yes" if abs(r["ratio"] - 1) <= 0.10 else "NO"
        per = ", ".join(f"{v:.3f}" for v in r["ratios"])
        lines.append(
            f"| {r['name']} | {r['source']} | {r['input']} | {r['threads']} | {r['zoo_median_ms']:.2f} | {r['zoo_p90_ms']:.2f} | "
            f"{r['timer_median_ms']:.2f} | {r['timer_iqr_ms']:.2f} | {r['ratio']:.3f} | {per} | {ok} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the comparison, print it, write ``benchmarks/fidelity.md``; exit 1 if a ratio is off by more than 10%."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", default=None, help=f"models (default: {' '.join(DEFAULT_MODELS)})")
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per method, model and round (default 1)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    ap.add_argument("--img-size", type=int, default=None, help="input size (default: each model's own)")
    ap.add_argument("--out", type=Path, default=HERE / "fidelity.md", help="markdown file to write")
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    info = machine_info()  # before measuring: the load average says how busy the machine was
    results = [
        measure(n, budget=args.budget, rounds=args.rounds, img_size=args.img_size, threads=threads) for n in (args.names or DEFAULT_MODELS)
    ]
    text = render(info, results, argv, args.budget, args.rounds)
    atomic_write_text(args.out, text)
    print(text)
    return 0 if all(abs(r["ratio"] - 1) <= 0.10 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
