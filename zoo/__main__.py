"""``python -m zoo``: the CLI, and one process of ``torchrun --nproc-per-node N -m zoo train|adapt ...``.

Under torchrun (``RANK`` and ``WORLD_SIZE`` set, :mod:`zoo.training.distributed`) with several
processes, each joins the process group before the command runs (so a process that fails
later is noticed by the others at their next collective) and leaves it on the way out.
Rank 0 prints as usual; the other ranks print only their error lines, prefixed
``[rank N]`` (stdout and every other stderr line, warnings included, are dropped), so a
failure on any rank is still one line on the terminal.
"""

from __future__ import annotations

import io
import os
import sys
from typing import Any

__all__ = ["ReplicaStderr", "main"]


class ReplicaStderr(io.TextIOBase):
    """A text stream for ranks other than 0: passes on only lines starting with ``Error:``,
    prefixed ``[rank N] ``, to ``target``; everything else is dropped."""

    def __init__(self, target: Any, rank: int) -> None:
        super().__init__()
        self.target, self.prefix, self._line = target, f"[rank {rank}] ", ""

    def writable(self) -> bool:
        """Always true."""
        return True

    def isatty(self) -> bool:
        """False: rich draws no live display here."""
        return False

    def write(self, text: str) -> int:
        """Buffer ``text``; pass on its complete ``Error:`` lines. Returns ``len(text)``."""
        self._line += text
        *lines, self._line = self._line.split("\n")
        for line in lines:
            if line.startswith("Error:"):
                self.target.write(self.prefix + line + "\n")
                self.target.flush()
        return len(text)

    def flush(self) -> None:
        """Flush the target."""
        self.target.flush()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI (``zoo.cli.app.main``) as this process of a torchrun job, or alone; returns the exit code.
    The process's thread defaults are set first (:func:`zoo.utils.threads.configure_process`, before torch loads)."""
    from zoo.errors import ZooError
    from zoo.utils.threads import configure_process

    try:
        configure_process()
    except ZooError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return exc.exit_code

    launched = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    if not launched:
        from zoo.cli.app import main as cli_main

        return cli_main(argv)
    from zoo.utils import dist as distributed

    try:
        ctx = distributed.context()
    except ZooError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return exc.exit_code
    if not ctx.is_main:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (for the life of the process)
        sys.stderr = ReplicaStderr(sys.stderr, ctx.rank)
    try:
        try:
            distributed.init()
        except ZooError as exc:
            sys.stderr.write(f"Error: {exc}\n")
            return exc.exit_code
        from zoo.cli.app import main as cli_main

        return cli_main(argv)
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    sys.exit(main())
