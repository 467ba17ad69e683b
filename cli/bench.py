"""``zoo bench``: measure size, parameters, depth, GFLOPs, latency, throughput and peak memory.

A thin shell over :mod:`zoo.bench` (imported inside the command, so importing this module,
as ``zoo list`` does, never imports torch). Data goes to stdout (a rich table, or
``--json`` / ``--csv`` / ``--markdown``); the progress bar and warnings go to stderr.
"""

from __future__ import annotations

from typing import Any, Optional

import typer

from zoo.cli.common import err_console, out_console, print_json
from zoo.errors import ZooError

__all__ = ["bench_cmd"]



def bench_cmd(
    names: Optional[list[str]] = typer.Argument(None, metavar="NAMES", help="Model names or wildcards ('resnet*'); none: the whole registry."),
    kind: Optional[str] = typer.Option(None, "--kind", help="Only this kind: backbone or gan."),
    family: Optional[str] = typer.Option(None, "--family", help="Only this family (resnet, vgg, dcgan...)."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda (or cuda:N) or mps."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Throughput batch (default 8 on cpu, 32 on cuda/mps); halved on out-of-memory."),
    img_size: Optional[int] = typer.Option(None, "--img-size", help="Input height = width in pixels (default: each model's own; GANs: generated size)."),
    amp: Optional[str] = typer.Option(None, "--amp", metavar="[bf16|fp16]", help="Time under torch.autocast with this dtype."),
    channels_last: bool = typer.Option(False, "--channels-last", help="Use the channels-last (NHWC) memory format."),
    compile: bool = typer.Option(False, "--compile", help="Time torch.compile(model) (compiled during warm-up)."),
    budget: float = typer.Option(2.0, "--budget", metavar="SECONDS", help="Timing budget per model, split between latency and throughput."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list of row objects."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV (every row key)."),
    as_markdown: bool = typer.Option(False, "--markdown", help="Print a markdown table."),
) -> None:
    """Benchmark models built with random weights (no download): size MB (fp32), parameters,
    depth (weight layers on the longest path), GFLOPs at batch 1, latency median and p90 at
    batch 1 (ms), throughput at --batch-size (img/s), peak memory (MB).

    Exits 1 after printing when a model failed (its row says why).
    """
    if sum((as_json, as_csv, as_markdown)) > 1:
        raise ZooError("choose one of --json, --csv, --markdown", exit_code=2)
    if img_size is not None and img_size < 1:
        raise ZooError(f"--img-size must be at least 1 pixel, got {img_size}", exit_code=2)

    from zoo import bench  # imports torch

    dev = bench.resolve_device(device)  # before anything is built
    from zoo.registry import expand_names

    specs = expand_names(names, kind=kind, family=family)
    rows = _run(bench, specs, dev, batch_size=batch_size, img_size=img_size, amp=amp, channels_last=channels_last, compile=compile, budget_s=budget)

    if as_json:
        print_json(rows)
    elif as_csv:
        import sys

        sys.stdout.write(bench.rows_to_csv(rows))
    elif as_markdown:
        import sys

        sys.stdout.write(bench.rows_to_markdown(rows))
    else:
        print_table(rows)

    failed = [r for r in rows if r["status"] != "ok"]
    for r in rows:
        for note in r.get("notes") or []:
            err_console.print(f"[yellow]note[/yellow] {r['name']}: {note}", markup=True, highlight=False, soft_wrap=True)
    if failed:
        for r in failed:
            err_console.print(f"[red]failed[/red] {r['name']}: {r['error']}", markup=True, highlight=False, soft_wrap=True)
        raise ZooError(f"{len(failed)} of {len(rows)} model(s) failed: {', '.join(r['name'] for r in failed)}")


def _run(bench: Any, specs: list[Any], dev: Any, **options: Any) -> list[dict[str, Any]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_real(err_console),
        transient=True,
    ) as progress:
        task = progress.add_task("bench", total=len(specs))

        def report(i: int, n: int, name: str, row: dict[str, Any] | None) -> None:
            if row is None:
                progress.update(task, description=f"bench {name}")
            else:
                progress.advance(task)

        return bench.bench_models(specs, device=dev, progress=report, **options)


def _real(lazy: Any) -> Any:
    """The rich Console behind a lazy console proxy (created on first attribute access)."""
    lazy.size  # noqa: B018 - touching an attribute creates the console
    return getattr(lazy, "_c", lazy)


def print_table(rows: list[dict[str, Any]]) -> None:
    """Print ``zoo.bench`` rows as a rich table on stdout (with the measurement notes)."""
    from rich.table import Table

    from zoo import bench

    dev = rows[0]["device"] if rows else "?"

    threads = rows[0]["threads"] if rows else "?"
    title = f"zoo bench: {dev}, {threads} threads, latency at batch 1, throughput at the batch shown"
    table = Table(title=title, title_justify="left")
    for key, header in bench.TABLE_COLUMNS:
        table.add_column(header, justify="left" if key in ("name", "status") else "right", no_wrap=key == "name")
    for r in rows:
        cells = [bench.format_cell(k, r.get(k)) for k, _ in bench.TABLE_COLUMNS]
        if r["status"] != "ok":
            cells[-1] = "[red]failed[/red]"
        table.add_row(*cells)
    console: Any = out_console
    if not out_console.is_terminal:  # piped: rich would squeeze the table into 80 columns
        import sys

        from rich.console import Console

        console = Console(file=sys.stdout, width=200, highlight=False, soft_wrap=False)
    console.print(table)
    if rows:
        methods = sorted({r["mem_method"] for r in rows if r.get("mem_method")})
        if methods:
            console.print(f"peak MB: {', '.join(methods)}; size MB: fp32 weights; GFLOPs: batch 1, multiply-add = 2; "
                          "top-1*/top-5*: published ImageNet accuracy of the default weights ('zoo info NAME' names the source)", highlight=False)
