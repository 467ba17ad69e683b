"""Tables that never cut a name or a number: every ``zoo`` table is printed by :func:`print_table`.

Each column is a :class:`Col`. A name or a number (the default) is never wrapped, cut or
ellipsized; a column of long text (``wrap=True``: descriptions, lists, URLs, reasons) folds
over several lines on a narrow terminal, at any character, so nothing is lost either. A
column with ``drop > 0`` may be left out whole: on a terminal narrower than the table, the
optional columns are dropped, highest ``drop`` first, until the rest fits with the text
columns folded to :data:`FOLD_WIDTH` characters, and one note on stderr names the columns
left out and the flag that shows them. When stdout is not a terminal (piped, redirected to
a file) every column is printed in full, on lines as long as they need.

The terminal is rich's idea of it: ``COLUMNS`` sets the width, ``TTY_COMPATIBLE=1`` makes
any stdout count as a terminal (how the tests print at 60, 80 and 200 columns).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["FOLD_WIDTH", "Col", "build_table", "fit_columns", "print_table", "stdout_console"]

#: The narrowest a text column (``wrap=True``) is folded to before optional columns are dropped.
FOLD_WIDTH = 16
#: The widest a full-width (piped) table may be; wider ones still print whole, lines unbroken.
_HUGE = 100_000


@dataclass(frozen=True)
class Col:
    """One table column.

    Attributes:
        header: the column's heading.
        justify: ``"left"`` or ``"right"`` (numbers).
        wrap: long text that may fold over lines; otherwise the cells are kept whole on one line.
        drop: 0: always shown; ``n > 0``: left out whole on a narrow terminal, highest ``n`` first.
        style: a rich style for the cells (``"bold"``), or ``None``.
    """

    header: str
    justify: str = "left"
    wrap: bool = False
    drop: int = 0
    style: str | None = None


def stdout_console(width: int | None = None) -> Any:
    """A new rich console on the current ``sys.stdout`` (what the CLI runner swaps in), reading
    ``COLUMNS`` and ``TTY_COMPATIBLE`` now; ``width`` forces its width."""
    from rich.console import Console

    return Console(file=sys.stdout, width=width, highlight=False, soft_wrap=False)


def _cell(value: Any) -> Any:
    """A cell as rich text: plain strings are taken literally (a ``[`` is no markup)."""
    from rich.text import Text

    if value is None:
        return Text("-")
    return Text(value) if isinstance(value, str) else value


def _longest_word(rows: Sequence[Sequence[Any]], i: int) -> int:
    """The longest word of column ``i`` (what its text folds around without breaking a word)."""
    words = (w for row in rows for w in str(getattr(row[i], "plain", row[i]) or "").split())
    return max((len(w) for w in words), default=0)


def build_table(
    columns: Sequence[Col],
    rows: Sequence[Sequence[Any]],
    keep: Sequence[int] | None = None,
    *,
    title: str | None = None,
    boxed: bool = False,
    show_header: bool = True,
    fold_to: int | None = None,
) -> Any:
    """A rich ``Table`` of ``rows`` with the columns ``keep`` (indices; default all).

    Args:
        columns: every column.
        rows: one sequence of cells per row (str, rich renderables, ``None`` for ``-``).
        keep: the indices of the columns to show, in order.
        title: a title above the table, left-justified (:func:`print_table` prints it as a line of its own).
        boxed: draw rich's box lines (otherwise columns are separated by two spaces).
        show_header: print the headings.
        fold_to: cap the text columns at this width, or their longest word (measurement only).
    """
    from rich import box
    from rich.table import Table

    keep = list(range(len(columns))) if keep is None else list(keep)
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SQUARE if boxed else None,
        header_style="bold",
        pad_edge=boxed,
        show_header=show_header,
    )
    for i in keep:
        c = columns[i]
        cap = max(fold_to, _longest_word(rows, i)) if (c.wrap and fold_to) else None
        table.add_column(
            c.header,
            justify=c.justify,  # type: ignore[arg-type]
            style=c.style,
            no_wrap=not c.wrap,
            overflow="fold",
            max_width=cap,
        )
    for row in rows:
        table.add_row(*(_cell(row[i]) for i in keep))
    return table


def _width_of(table: Any) -> int:
    """The table's natural width in characters (every cell on one line)."""
    from rich.console import Console
    from rich.measure import Measurement

    probe = Console(file=io.StringIO(), width=_HUGE)
    return Measurement.get(probe, probe.options, table).maximum


def fit_columns(columns: Sequence[Col], rows: Sequence[Sequence[Any]], width: int | None, **table_args: Any) -> list[int]:
    """The indices of the columns to show in ``width`` characters (``None``: all of them).

    Optional columns (``drop > 0``) are left out, highest ``drop`` first (the right-most of
    equal ones first), until the table fits with its text columns folded to
    :data:`FOLD_WIDTH`; columns with ``drop == 0`` are always kept, even if the table then
    overflows a very narrow terminal (rich folds its lines; nothing is cut).
    """
    keep = list(range(len(columns)))
    if width is None:
        return keep
    order = sorted((i for i, c in enumerate(columns) if c.drop > 0), key=lambda i: (-columns[i].drop, -i))
    for i in [None, *order]:
        if i is not None:
            keep.remove(i)
        if _width_of(build_table(columns, rows, keep, fold_to=FOLD_WIDTH, **table_args)) <= width:
            break
    return keep


def print_table(
    columns: Sequence[Col],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    boxed: bool = False,
    show_header: bool = True,
    show_all: str = "--json",
    console: Any = None,
) -> list[str]:
    """Print ``rows`` on stdout, fitted to the terminal (see the module docstring).

    Args:
        columns, rows, title, boxed, show_header: as :func:`build_table`.
        show_all: the flag that shows every column (named in the note about dropped ones).
        console: the rich console to print on (default :func:`stdout_console`); a console
            that is not a terminal gets every column, in full.

    Returns:
        The headings of the columns left out (``[]`` when all were shown).
    """
    console = console or stdout_console()
    width = console.width if console.is_terminal else None
    if title:  # a line of its own: never squeezed to the table's width
        console.print(title, style="bold", markup=False, highlight=False, soft_wrap=True)
    table_args = {"boxed": boxed, "show_header": show_header}
    keep = fit_columns(columns, rows, width, **table_args)
    table = build_table(columns, rows, keep, **table_args)
    if width is None:  # piped: every column, every cell whole, however long the lines; no padding at their ends
        from rich.console import Console

        wide = Console(file=io.StringIO(), width=max(_width_of(table), 1), highlight=False, soft_wrap=False, color_system=None)
        wide.print(table)
        text = "".join(line.rstrip() + "\n" for line in wide.file.getvalue().splitlines())
        console.file.write(text)
        console.file.flush()
    else:
        console.print(table)
    dropped = [c.header for i, c in enumerate(columns) if i not in keep]
    if dropped:
        from zoo.cli.common import err_console

        err_console.print(
            f"note: {len(dropped)} column(s) left out to fit {width} characters: {', '.join(dropped)}; "
            f"{show_all}, a wider terminal or piping the output (| cat) shows them",
            markup=False,
            highlight=False,
            soft_wrap=not err_console.is_terminal,  # a terminal wraps it at words; piped it is one line
        )
    return dropped
