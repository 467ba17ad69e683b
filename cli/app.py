"""The ``zoo`` Typer application and its entry point.

Each command module exports plain functions, registered here. :class:`ZooGroup` is the
last-resort error handler: every failure is one line on stderr and an exit code, never
a traceback (``ZOO_DEBUG=1`` shows the traceback instead):

* :class:`zoo.ZooError`: ``Error: <its message>``, with ``{param}`` as the CLI flag, and
  its exit code (1 runtime, 2 usage);
* out of memory: ``Error: out of memory; ...``, exit 1;
* Ctrl-C (:class:`KeyboardInterrupt`): ``Interrupted`` (or ``Interrupted: <message>``
  when the exception carries one, e.g. where a checkpoint was saved), exit 130;
* any other exception: ``Error: <what> (ZOO_DEBUG=1 shows the traceback)``, exit 1.
  ``<what>`` names the command's model and the input shape when a network's forward
  raised (``resnet50 failed on input (1, 3, 8, 8): <first line of the message>``),
  otherwise ``[model: ]Type: first line``.

No command module imports torch at import time, so ``zoo list`` stays fast.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from zoo.cli.common import CLI_FLAGS, debug_enabled
from zoo.errors import ZooError, first_line

__all__ = [
    "COMMANDS",
    "MULTI_VALUE_FLAGS",
    "SIZE_FLAGS",
    "ZooGroup",
    "app",
    "describe_failure",
    "expand_multi_value",
    "failed_input_shape",
    "main",
    "oom_advice",
    "run",
]

DEBUG_HINT = "(ZOO_DEBUG=1 shows the traceback)"


def _one_line(text: str, exit_code: int) -> typer.Exit:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
    return typer.Exit(code=exit_code)


def _user_error(message: str, exit_code: int) -> typer.Exit:
    return _one_line(f"Error: {message}", exit_code)


def _click_exceptions() -> Any:
    """The exception classes of the click that typer runs on (typer >= 0.20 vendors it as ``typer._click``)."""
    import typer.core

    vendored = getattr(typer.core, "_click", None)
    if vendored is not None:
        return vendored.exceptions
    import click  # older typer: the click package itself

    return click.exceptions


class ZooGroup(TyperGroup):
    """The root command group and last-resort error handler (see the module docstring)."""

    def main(
        self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None, standalone_mode: bool = True, **extra: Any
    ) -> Any:
        """Click's ``main``, with its usage errors (a missing argument, a value that is not a
        number, an unknown command or option) as one line, ``Error: <what> (see 'zoo CMD
        --help')``, exit code 2, instead of click's usage block; ``--model-kwargs a=1 b=2``
        takes every ``KEY=VALUE`` word after it (:func:`expand_multi_value`)."""
        args = expand_multi_value(sys.argv[1:] if args is None else list(args))
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        exceptions = _click_exceptions()
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except getattr(exceptions, "NoArgsIsHelpError", ()) as exc:  # bare 'zoo': the help, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except exceptions.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            sys.stderr.write(f"Error: {exc.format_message()}{hint}\n")
            sys.exit(exc.exit_code)
        except exceptions.ClickException as exc:
            sys.stderr.write(f"Error: {exc.format_message()}\n")
            sys.exit(exc.exit_code)
        except typer.Abort:
            sys.stderr.write("Interrupted\n")
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Click's resolution, remembering the sub-command and its arguments so that an
        unexpected error can name the command's model."""
        cmd_name, cmd, rest = super().resolve_command(ctx, args)
        ctx.meta["zoo.command"] = (cmd_name, cmd, list(rest))
        return cmd_name, cmd, rest

    def invoke(self, ctx: Any) -> Any:
        """Run the command inside one :func:`zoo.utils.outputs.claims_scope` (the outputs it claims
        are released when it ends, however it ends), turning its failures into one line."""
        from zoo.utils.outputs import claims_scope

        try:
            with claims_scope():
                return super().invoke(ctx)
        except ZooError as exc:
            if debug_enabled():
                raise
            _flag_model_kwargs(ctx, exc)
            raise _user_error(exc.for_cli(CLI_FLAGS), exc.exit_code) from None
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer's own control flow and usage errors (typer.Exit is a RuntimeError)
        except KeyboardInterrupt as exc:
            if debug_enabled():
                import traceback

                traceback.print_exc()
            message = first_line(exc, 300, fallback=False)
            raise _one_line(f"Interrupted: {message}" if message else "Interrupted", 130) from None
        except Exception as exc:
            if debug_enabled():
                raise
            if _is_oom(exc):
                raise _user_error(f"out of memory; {oom_advice(_command_flags(ctx))}", 1) from None
            raise _user_error(f"{describe_failure(exc, _command_model(ctx))} {DEBUG_HINT}", 1) from None


#: Options that take every ``KEY=VALUE`` word after them, as timm's ``--model-kwargs a=1 b=2``.
MULTI_VALUE_FLAGS = ("--model-kwargs",)


def expand_multi_value(args: list[str]) -> list[str]:
    """``--model-kwargs a=1 b=2 --epochs 3`` as ``--model-kwargs a=1 --model-kwargs b=2 --epochs 3``
    (click's options take one value each): the ``KEY=VALUE`` words right after such a flag's
    value are its values too; anything else (an option, a word without ``=``, ``--``) ends them."""
    out: list[str] = []
    flag: str | None = None
    after_value = False
    for i, tok in enumerate(args):
        if tok == "--":
            return out + args[i:]
        if flag is not None and after_value and "=" in tok and not tok.startswith("-"):
            out += [flag, tok]
            continue
        if flag is not None and not after_value:  # the flag's own value
            out.append(tok)
            after_value = True
            continue
        joined = next((f for f in MULTI_VALUE_FLAGS if tok.startswith(f + "=")), None)  # --model-kwargs=a=1
        flag, after_value = (tok, False) if tok in MULTI_VALUE_FLAGS else (joined, joined is not None)
        out.append(tok)
    return out


def describe_failure(exc: BaseException, model: str | None = None) -> str:
    """One line for an unexpected exception: ``"resnet50 failed on input (1, 3, 8, 8): <first
    line>"`` when a network's forward raised it (the shape of the tensors passed to the
    outermost :class:`torch.nn.Module` call in the traceback), else ``"resnet50: Type: <first
    line>"`` (``model`` is the command's model name, or ``None``)."""
    text = first_line(exc, 300, fallback=False)
    shape = failed_input_shape(exc)
    if shape is not None:
        return f"{model or 'the model'} failed on input {shape}: {text or type(exc).__name__}"
    what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"{model}: {what}" if model else what


def failed_input_shape(exc: BaseException) -> str | None:
    """The input shape(s) of the outermost ``nn.Module`` call on the traceback of ``exc``,
    e.g. ``"(1, 3, 8, 8)"`` (several tensors joined by ``" and "``); ``None`` when no
    module's forward is on it (or torch was never imported)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        # Module.__call__ is _wrapped_call_impl -> _call_impl(self, *args): ``args`` is never
        # reassigned, unlike the ``x`` of most forward() methods.
        if frame.f_code.co_name in ("_wrapped_call_impl", "_call_impl") and isinstance(frame.f_locals.get("self"), torch.nn.Module):
            tensors = [a for a in frame.f_locals.get("args", ()) if isinstance(a, torch.Tensor)]
            if tensors:
                return " and ".join(str(tuple(t.shape)) for t in tensors)
        tb = tb.tb_next
    return None


#: The options that size a command's memory, in the order the out-of-memory advice names them.
SIZE_FLAGS = ("--batch-size", "--img-size", "--n")


def oom_advice(flags: set[str] | frozenset[str]) -> str:
    """What to try after running out of memory, naming only the sizing options among ``flags``
    (the command's own: ``export`` has ``--img-size`` and no ``--batch-size``)."""
    sizing = [f for f in SIZE_FLAGS if f in flags]
    if not sizing:
        return "try fewer or smaller inputs, or a machine with more memory"
    return f"try a smaller {' or '.join(sizing)}"


def _command_flags(ctx: Any) -> set[str]:
    """Every option string of the failed command (``--batch-size``...), or an empty set."""
    info = ctx.meta.get("zoo.command")
    if not info:
        return set()
    return {o for p in getattr(info[1], "params", ()) for o in getattr(p, "opts", ())}


def _command_model(ctx: Any) -> str | None:
    """The model the failed command was asked about (its ``name`` argument, or ``names``
    when exactly one was given), re-parsed leniently from the remembered arguments."""
    info = ctx.meta.get("zoo.command")
    if not info:
        return None
    cmd_name, cmd, args = info
    try:
        params = cmd.make_context(cmd_name, list(args), parent=ctx, resilient_parsing=True).params
    except Exception:  # the arguments parsed once already; never fail the error report
        return None
    value = params.get("name") or params.get("names")
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, str) else None


def _flag_model_kwargs(ctx: Any, exc: ZooError) -> None:
    """A build option that ``exc`` names (``{param}`` = ``content_loss``) is ``--model-kwargs
    content_loss`` on a command that has that flag (:func:`zoo.tasks.model_kwargs.flag_build_option`)."""
    info = ctx.meta.get("zoo.command")
    if not exc.param or exc.flag is not None or not info:
        return
    opts = {o for p in getattr(info[1], "params", ()) for o in getattr(p, "opts", ())}
    model = _command_model(ctx)
    if "--model-kwargs" in opts and model:
        from zoo.registry import load_registry
        from zoo.tasks.model_kwargs import flag_build_option

        if model in load_registry():
            flag_build_option(exc, model)


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    if not isinstance(exc, RuntimeError) or "torch" not in sys.modules:
        return False
    from zoo.utils.devices import is_oom  # torch is already loaded

    return is_oom(exc)


app = typer.Typer(
    name="zoo",
    cls=ZooGroup,
    help="A model zoo for transfer learning and generative modelling. What is in it: list, info, plugins, bench; "
    "training: train, adapt, pretrain; using a run: sample, features, eval, predict, export; "
    "demo runs the main job end to end. 'zoo COMMAND --help' says more.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("zoo")
        except PackageNotFoundError:  # a source tree that was never installed
            found = "unknown (not installed)"
        sys.stdout.write(f"zoo {found}\n")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print zoo's version and exit."),
) -> None:
    """The root of the command group (its only option is ``--version``)."""


from zoo.cli import bench, catalog, demo, pretrain, sample, train  # noqa: E402
from zoo.cli import inspect as inspect_cmds  # noqa: E402  (features, eval, predict, export)

#: Every command with its one line for 'zoo --help' (click cuts longer first sentences with '...').
COMMANDS = (
    ("list", catalog.list_cmd, "List the models: family, input, parameters, weights."),
    ("info", catalog.info_cmd, "One model: build options, stages, input, weights."),
    ("plugins", catalog.plugins_cmd, "The plugins and data sets; which failed and why."),
    ("bench", bench.bench_cmd, "Measure size, parameters, GFLOPs, latency, memory."),
    ("train", train.train_cmd, "Train a backbone or a GAN from random init."),
    ("adapt", train.adapt_cmd, "Transfer learning: new head, freezing, fine-tuning."),
    ("pretrain", pretrain.pretrain_cmd, "Unsupervised pretraining of a backbone on images."),
    ("sample", sample.sample_cmd, "Draw images from a GAN, or translate photographs."),
    ("features", inspect_cmds.features_cmd, "Penultimate-layer features of every image."),
    ("eval", inspect_cmds.eval_cmd, "Top-1, top-5 and per-class accuracy of a run."),
    ("predict", inspect_cmds.predict_cmd, "The most likely classes of each image."),
    ("export", inspect_cmds.export_cmd, "Export a classifier run to ONNX or TorchScript."),
    ("demo", demo.demo_cmd, "The main job end to end on real offline data."),
)
for _name, _fn, _line in COMMANDS:
    app.command(_name, short_help=_line)(_fn)

_plugins_added = False


def add_plugin_commands() -> None:
    """Let plugins add sub-commands (hook ``zoo_cli_commands``); done once per process.

    A third-party plugin whose hook raises is disabled with one warning line naming it
    and its distribution; the other commands work.

    Raises:
        ZooError: a third-party plugin failed (to load, or here) and ``ZOO_STRICT_PLUGINS=1``.
    """
    global _plugins_added
    if _plugins_added:
        return
    _plugins_added = True
    from zoo.registry.manager import get_plugin_manager

    get_plugin_manager().call_each("zoo_cli_commands", app=app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (0 ok, 1 runtime error, 2 usage error)."""
    try:
        add_plugin_commands()
    except ZooError as exc:
        if debug_enabled():
            raise
        sys.stderr.write(f"Error: {exc}\n")
        return exc.exit_code
    except Exception as exc:  # a built-in plugin's bug: still one line
        if debug_enabled():
            raise
        sys.stderr.write(f"Error: {describe_failure(exc)} {DEBUG_HINT}\n")
        return 1
    try:
        app(args=argv, prog_name="zoo")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def run() -> None:
    """Console-script entry point: the process's thread defaults (:func:`zoo.utils.threads.configure_process`,
    before torch loads), then ``sys.exit(main())``."""
    from zoo.utils.threads import configure_process

    try:
        configure_process()
    except ZooError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        sys.exit(exc.exit_code)
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
