"""The one rich progress bar of zoo, on stderr (so ``--json`` on stdout stays parseable).

Downloads, training and ``zoo bench`` all use :func:`progress_bar`; they differ only in
the columns they ask for. On an exception the bar is removed, so the error's one line is
all that is left on stderr.

No torch import; rich is imported when a bar is made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["progress_bar"]

#: Column sets by purpose: ``steps`` (training, bench: "12/40"), ``bytes`` (downloads).
KINDS = ("steps", "bytes")


@contextlib.contextmanager
def progress_bar(
    *, enabled: bool = True, kind: str = "steps", fields: bool = False, transient: bool = False, console: Any = None
) -> Iterator[Any]:
    """A started :class:`rich.progress.Progress` on stderr, or ``None`` when disabled.

    Args:
        enabled: ``False`` yields ``None`` (callers skip their updates).
        kind: ``"steps"`` (description, bar, done/total, elapsed, remaining) or ``"bytes"``
            (description, bar, MB done/total, MB/s, remaining).
        fields: add a trailing ``{task.fields[logs]}`` text column (training losses) that takes
            the rest of the line, cut with an ellipsis where it is too long; the counts and
            times before it are never cut (``steps`` only).
        transient: remove the bar when done (it is always removed on an exception).
        console: a rich console to draw on (default: a new stderr console).

    Raises:
        ValueError: unknown ``kind``.
    """
    if kind not in KINDS:
        raise ValueError(f"progress kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.table import Column

    if kind == "bytes":
        columns: list[Any] = [
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        ]
    elif fields:  # the counts and times are never cut; the losses take the rest of the line, cut with an ellipsis
        columns = [
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=20, table_column=Column(no_wrap=True)),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TimeElapsedColumn(table_column=Column(no_wrap=True)),
            TimeRemainingColumn(table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[logs]}", table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")),
        ]
    else:
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    bar = Progress(*columns, console=console or Console(stderr=True), transient=transient, expand=fields and kind == "steps")
    bar.start()
    try:
        yield bar
    except BaseException:
        bar.live.transient = True  # on an error, leave only the error's line on stderr
        # Progress.stop() prints an empty line on a non-terminal console; Live.stop() does not
        bar.live.stop()
        raise
    bar.stop()
