"""Running the CLI in-process in tests, and the one check of a user error (shared by the CLI tests)."""

from __future__ import annotations

from typer.testing import CliRunner

from zoo.cli.app import app


def run(*args):
    """``zoo ARGS...`` in-process; the ``Result`` has ``exit_code``, ``stdout``, ``stderr``, ``output``."""
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_user_error(res, *needles):
    """Non-zero exit, exactly one line on stderr starting with 'Error:' and holding every needle, no traceback."""
    assert res.exit_code != 0, res.output
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert "Traceback" not in res.output
    for n in needles:
        assert n in lines[0], lines[0]
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit)
