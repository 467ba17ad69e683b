"""How ``zoo bench`` rows look: the rich table, ``--markdown`` and ``--csv``.

Every function takes :class:`zoo.tasks.bench.BenchRow` objects (``zoo bench --json`` output
turns back into rows with :meth:`zoo.tasks.bench.BenchRow.from_dict`). Importing this module
does not import torch; :func:`rows_to_csv` imports :mod:`zoo.tasks.bench` for its columns.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zoo.cli.common import out_console

if TYPE_CHECKING:
    from zoo.tasks.bench import BenchRow

__all__ = ["TABLE_COLUMNS", "format_cell", "print_table", "rows_to_csv", "rows_to_markdown"]

#: ``(row field, header)`` of the human tables (rich table, ``--markdown``).
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("name", "model"),
    ("top1_ref", "top-1*"),
    ("top5_ref", "top-5*"),
    ("params", "params (M)"),
    ("size_mb", "size MB"),
    ("depth", "depth"),
    ("gflops", "GFLOPs"),
    ("latency_ms", "ms p50"),
    ("latency_p90_ms", "ms p90"),
    ("throughput_ips", "img/s"),
    ("batch_size", "batch"),
    ("peak_mem_mb", "peak MB"),
    ("status", "status"),
)


def format_cell(key: str, value: Any) -> str:
    """Human text of one row value for tables: params in millions, 1-2 decimals (3 below 1), ``-`` for None."""
    if value is None:
        return "-"
    if key == "params":
        return f"{value / 1e6:.2f}"
    if key in ("top1_ref", "top5_ref", "size_mb", "peak_mem_mb", "throughput_ips"):
        return f"{value:.1f}"
    if key in ("gflops", "gmacs", "latency_ms", "latency_p90_ms", "latency_mean_ms"):
        return f"{value:.3f}" if value < 1 else f"{value:.2f}"
    return str(value)


def rows_to_markdown(rows: Sequence[BenchRow], columns: Sequence[tuple[str, str]] = TABLE_COLUMNS) -> str:
    """A GitHub-flavoured markdown table of ``rows`` (failed rows show their error below)."""
    aligns = ("---" if k in ("name", "status") else "---:" for k, _ in columns)
    lines = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "|".join(aligns) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(format_cell(k, getattr(r, k)).replace("|", "\\|") for k, _ in columns) + " |")
    failed = [r for r in rows if r.status != "ok"]
    if failed:
        lines.append("")
        lines += [f"- {r.name} failed: {r.error}" for r in failed]
    return "\n".join(lines) + "\n"


def rows_to_csv(rows: Sequence[BenchRow]) -> str:
    """CSV text with every :class:`zoo.tasks.bench.BenchRow` field as a column, in field order.

    Lists become ``;``-joined text, ``None`` an empty cell, floats are rounded to 6 decimals.
    """
    from dataclasses import fields

    from zoo.tasks.bench import BenchRow

    keys = [f.name for f in fields(BenchRow)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(keys)
    for r in rows:
        cells = []
        for k in keys:
            v = getattr(r, k)
            if v is None:
                cells.append("")
            elif isinstance(v, (list, tuple)):
                cells.append(";".join(str(x) for x in v))
            elif isinstance(v, float):
                cells.append(repr(round(v, 6)))
            else:
                cells.append(str(v))
        w.writerow(cells)
    return buf.getvalue()


def print_table(rows: Sequence[BenchRow]) -> None:
    """Print rows as a rich table on stdout, then one line saying how the columns were measured."""
    from rich.console import Console
    from rich.table import Table

    dev = rows[0].device if rows else "?"
    threads = rows[0].threads if rows else "?"
    title = f"zoo bench: {dev}, {threads} threads, latency at batch 1, throughput at the batch shown"
    table = Table(title=title, title_justify="left")
    for key, header in TABLE_COLUMNS:
        table.add_column(header, justify="left" if key in ("name", "status") else "right", no_wrap=key == "name")
    for r in rows:
        cells = [format_cell(k, getattr(r, k)) for k, _ in TABLE_COLUMNS]
        if r.status != "ok":
            cells[-1] = "[red]failed[/red]"
        table.add_row(*cells)
    console: Any = out_console
    if not out_console.is_terminal:  # piped: rich would squeeze the table into 80 columns
        console = Console(file=sys.stdout, width=200, highlight=False, soft_wrap=False)
    console.print(table)
    methods = sorted({r.mem_method for r in rows if r.mem_method})
    if methods:
        console.print(
            f"peak MB: {', '.join(methods)}; size MB: fp32 weights; GFLOPs: batch 1, multiply-add = 2; "
            "top-1*/top-5*: published ImageNet accuracy of the default weights ('zoo info NAME' names the source)",
            highlight=False,
        )
