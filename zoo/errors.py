"""The one error type of the project.

Library code raises :class:`ZooError` for every problem a user can fix (unknown model,
bad stage name, unreadable data...). The CLI turns it into one line on stderr and a
non-zero exit code; a traceback is shown only when ``ZOO_DEBUG=1``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["ZooError", "did_you_mean", "first_line", "warn"]


class ZooError(Exception):
    """A user-fixable error. ``str(err)`` is one line: what was wrong, what is valid, a hint.

    Library errors about an argument name the Python parameter; the CLI names its flag.
    Give the parameter as ``param`` and write ``{param}`` where its name goes::

        raise ZooError("{param} must be at least 1, got 0", param="num_classes", exit_code=2)

    ``str(err)`` then reads ``num_classes must be at least 1, got 0`` (what a Python caller
    passed), and :meth:`for_cli` ``--head must be at least 1, got 0`` (what a CLI user typed).

    A parameter that the command line sets otherwise gives its own ``flag``: a model's build
    option ``ngf`` is ``--model-kwargs ngf`` there.

    Attributes:
        exit_code: the process exit code the CLI uses (1 for runtime errors, 2 for usage).
        param: the Python parameter the message is about, or ``None``.
        flag: what the CLI writes for ``{param}``, or ``None`` (then :meth:`for_cli` decides).
    """

    def __init__(self, message: str, *, exit_code: int = 1, param: str | None = None, flag: str | None = None) -> None:
        self.template = message
        self.param = param
        self.flag = flag
        super().__init__(message.replace("{param}", param) if param else message)
        self.exit_code = exit_code

    def for_cli(self, flags: dict[str, str] | None = None) -> str:
        """The message with ``{param}`` replaced by the CLI flag: :attr:`flag` when set, else
        ``flags[param]`` when given, else ``--`` plus the parameter with ``_`` as ``-``
        (``batch_size`` -> ``--batch-size``)."""
        if not self.param:
            return str(self)
        flag = self.flag or (flags or {}).get(self.param) or "--" + self.param.replace("_", "-")
        return self.template.replace("{param}", flag)


def first_line(exc: BaseException, limit: int = 200, *, fallback: bool = True) -> str:
    """The first non-empty line of ``str(exc)``, without terminal bold codes, cut to ``limit``
    characters (ending in ``...`` when cut): how every one-line error quotes a library's exception.

    Args:
        exc: any exception.
        limit: the longest result, in characters (at least 4).
        fallback: with an empty message, return the exception's type name (``True``) or ``""``.
    """
    text = str(exc).replace("\x1b[1m", "").replace("\x1b[0m", "")
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__ if fallback else "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def did_you_mean(word: str, choices: Iterable[str], *, n: int = 3) -> str:
    """Return ``" (did you mean: a, b?)"`` for the closest names to ``word``, or ``""``.

    Uses :func:`difflib.get_close_matches` (ratio >= 0.5) plus prefix matches.
    """
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=n, cutoff=0.5)
    for c in choices:
        if len(close) >= n:
            break
        if c not in close and (c.startswith(word) or word in c):
            close.append(c)
    return f" (did you mean: {', '.join(close)}?)" if close else ""


def warn(message: str) -> None:
    """Write one ``Warning: message`` line to stderr (the library's and the CLI's warnings)."""
    import sys

    sys.stderr.write(f"Warning: {message}\n")
    sys.stderr.flush()
