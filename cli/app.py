"""The ``zoo`` Typer application and its entry point.

Each command module exports plain functions, registered here. :class:`ZooGroup` turns a
:class:`zoo.ZooError` raised by any command into one ``Error: ...`` line on stderr and
the error's exit code (1 for runtime errors, 2 for usage errors), never a traceback;
``ZOO_DEBUG=1`` shows the traceback instead. No command module imports torch at import
time, so ``zoo list`` stays fast.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from zoo.cli.common import CLI_FLAGS, debug_enabled
from zoo.errors import ZooError

__all__ = ["app", "main", "run"]


def _user_error(message: str, exit_code: int) -> typer.Exit:
    sys.stderr.write(f"Error: {message}\n")
    sys.stderr.flush()
    return typer.Exit(code=exit_code)


class ZooGroup(TyperGroup):
    """The root command group: maps :class:`ZooError` to a one-line error and exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ZooError as exc:
            if debug_enabled():
                raise
            raise _user_error(exc.for_cli(CLI_FLAGS), exc.exit_code) from None
        except (MemoryError, RuntimeError) as exc:
            if debug_enabled() or not _is_oom(exc):
                raise
            raise _user_error("out of memory; try a smaller --batch-size or --img-size", 1) from None


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    from zoo.devices import is_oom  # torch is already loaded when a RuntimeError reaches here

    return is_oom(exc)


app = typer.Typer(
    name="zoo",
    cls=ZooGroup,
    help="A model zoo for transfer learning and generative modelling: list, bench, train, adapt, sample.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

from zoo.cli import bench, catalog, demo, train  # noqa: E402

app.command("list")(catalog.list_cmd)
app.command("info")(catalog.info_cmd)
app.command("plugins")(catalog.plugins_cmd)
app.command("bench")(bench.bench_cmd)
app.command("train")(train.train_cmd)
app.command("adapt")(train.adapt_cmd)
app.command("sample")(train.sample_cmd)
app.command("demo")(demo.demo_cmd)

_plugins_added = False


def add_plugin_commands() -> None:
    """Let plugins add sub-commands (hook ``zoo_cli_commands``); done once per process."""
    global _plugins_added
    if _plugins_added:
        return
    _plugins_added = True
    from zoo.manager import get_plugin_manager

    get_plugin_manager().hook.zoo_cli_commands(app=app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (0 ok, 1 runtime error, 2 usage error)."""
    try:
        add_plugin_commands()
    except ZooError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return exc.exit_code
    try:
        app(args=argv, prog_name="zoo")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def run() -> None:
    """Console-script entry point: ``sys.exit(main())``."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
