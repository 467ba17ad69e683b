"""How ``zoo bench`` rows look: the rich table, ``--markdown`` and ``--csv``.

Every function takes :class:`zoo.tasks.bench.BenchRow` objects (``zoo bench --json`` output
turns back into rows with :meth:`zoo.tasks.bench.BenchRow.from_dict`). Importing this module
does not import torch; :func:`rows_to_csv` imports :mod:`zoo.tasks.bench` for its columns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zoo.cli.common import PARAMS_COUNTED

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


#: Which columns a narrow terminal leaves out first (higher first; 0: never): the name and
#: the headline figures (params, GFLOPs, median latency, throughput) always stay.
_DROP = {
    "top5_ref": 9,
    "latency_p90_ms": 8,
    "batch_size": 7,
    "depth": 6,
    "peak_mem_mb": 5,
    "size_mb": 4,
    "top1_ref": 3,
    "status": 2,
}


def print_table(rows: Sequence[BenchRow]) -> None:
    """Print rows as a table on stdout (:func:`zoo.cli.tables.print_table`: nothing cut; on a
    narrow terminal whole columns are left out and named on stderr), then one line saying
    how the columns were measured."""
    from rich.text import Text

    from zoo.cli.tables import Col, stdout_console
    from zoo.cli.tables import print_table as print_fitted

    dev = rows[0].device if rows else "?"
    threads = rows[0].threads if rows else "?"
    title = f"zoo bench: {dev}, {threads} threads, latency at batch 1, throughput at the batch shown"
    columns = [
        Col(header, justify="left" if key in ("name", "status") else "right", drop=_DROP.get(key, 0)) for key, header in TABLE_COLUMNS
    ]
    table_rows = []
    for r in rows:
        cells: list[Any] = [format_cell(k, getattr(r, k)) for k, _ in TABLE_COLUMNS]
        if r.status != "ok":
            cells[-1] = Text("failed", style="red")
        table_rows.append(cells)
    print_fitted(columns, table_rows, title=title, show_all="--json, --csv, --markdown")
    methods = sorted({r.mem_method for r in rows if r.mem_method})
    if methods:
        console = stdout_console()
        console.print(
            f"params (M): {PARAMS_COUNTED}; size MB: their fp32 weights; depth, GFLOPs, latency, img/s, peak MB: the forward "
            f"pass (a GAN's generator, sampling); peak MB: {', '.join(methods)}; GFLOPs: batch 1, multiply-add = 2; "
            "top-1*/top-5*: published ImageNet accuracy of the default weights ('zoo info NAME' names the source)",
            markup=False,
            highlight=False,
            soft_wrap=not console.is_terminal,  # a terminal wraps it at words; piped it is one line
        )
