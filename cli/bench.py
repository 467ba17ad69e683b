"""``zoo bench``: measure size, parameters, depth, GFLOPs, latency, throughput and peak memory.

A thin shell over :func:`zoo.tasks.bench.bench_models` (imported inside the command, so
importing this module, as ``zoo list`` does, never imports torch); the rows are formatted
by :mod:`zoo.cli.bench_format`. Data goes to stdout (a rich table, or ``--json`` /
``--csv`` / ``--markdown``); the progress bar, notes and errors go to stderr.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional

import typer

from zoo.cli import bench_format
from zoo.cli.common import THREADS_HELP, apply_threads, err_console, print_json
from zoo.errors import ZooError
from zoo.utils.progress import progress_bar

if TYPE_CHECKING:
    from zoo.tasks.bench import BenchRow

__all__ = ["bench_cmd"]


def bench_cmd(
    names: Optional[list[str]] = typer.Argument(
        None, metavar="NAMES", help="Model names, wildcards ('resnet*') or bare words ('vgg'); none: the whole registry."
    ),
    kind: Optional[str] = typer.Option(None, "--kind", help="Only this kind: backbone or gan."),
    family: Optional[str] = typer.Option(None, "--family", help="Only this family (resnet, vgg, dcgan...)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda (or cuda:N) or mps."),
    batch_size: Optional[int] = typer.Option(
        None, "--batch-size", help="Throughput batch (default 8 on cpu, 32 on cuda/mps); halved on out-of-memory."
    ),
    img_size: Optional[int] = typer.Option(
        None, "--img-size", help="Input height = width in pixels (default: each model's own; GANs: generated size)."
    ),
    amp: Optional[str] = typer.Option(None, "--amp", metavar="[bf16|fp16]", help="Time under torch.autocast with this dtype."),
    channels_last: bool = typer.Option(False, "--channels-last", help="Use the channels-last (NHWC) memory format."),
    compile: bool = typer.Option(False, "--compile", help="Time torch.compile(model) (compiled during warm-up)."),
    budget: float = typer.Option(2.0, "--budget", metavar="SECONDS", help="Timing budget per model, split between latency and throughput."),
    threads: Optional[int] = typer.Option(None, "--threads", help=THREADS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of row objects."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV (every row key)."),
    as_markdown: bool = typer.Option(False, "--markdown", help="Print a markdown table."),
) -> None:
    """Benchmark models built with random weights (no download): size MB (fp32), parameters,
    depth (weight layers on the longest path), GFLOPs at batch 1, latency median and p90 at
    batch 1 (ms), throughput at --batch-size (img/s), peak memory (MB).

    NAMES are exact names, wildcards ('resnet*') or bare words matching as substrings
    ('vgg': vgg16 and vgg19), as in 'zoo list'. Exits 1 after printing when a model failed
    (its row says why).
    """
    if sum((as_json, as_csv, as_markdown)) > 1:
        raise ZooError("choose one of --json, --csv, --markdown", exit_code=2)

    from zoo.tasks.bench import bench_models  # imports torch

    apply_threads(threads)

    with progress_bar(kind="steps", transient=True) as bar:
        task = bar.add_task("bench", total=None)

        def report(i: int, n: int, name: str, row: BenchRow | None) -> None:
            if row is None:
                bar.update(task, total=n, description=f"bench {name}")
            else:
                bar.advance(task)

        rows = bench_models(
            names,
            kind=kind,
            family=family,
            device=device,
            batch_size=batch_size,
            img_size=img_size,
            amp=amp,
            channels_last=channels_last,
            compile=compile,
            budget_s=budget,
            progress=report,
        )

    if as_json:
        print_json([r.to_dict() for r in rows])
    elif as_csv:
        sys.stdout.write(bench_format.rows_to_csv(rows))
    elif as_markdown:
        sys.stdout.write(bench_format.rows_to_markdown(rows))
    else:
        bench_format.print_table(rows)

    for r in rows:
        for note in r.notes:
            err_console.print(
                f"[yellow]note[/yellow] {r.name}: {note}", markup=True, highlight=False, soft_wrap=not err_console.is_terminal
            )
    failed = [r for r in rows if r.status != "ok"]
    if failed and len(rows) == 1:  # one model asked for: its reason is the one line
        raise ZooError(f"{failed[0].name}: {failed[0].error}")
    if failed:
        for r in failed:
            err_console.print(f"[red]failed[/red] {r.name}: {r.error}", markup=True, highlight=False, soft_wrap=not err_console.is_terminal)
        raise ZooError(f"{len(failed)} of {len(rows)} model(s) failed: {', '.join(r.name for r in failed)}")
