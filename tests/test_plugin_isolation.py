"""A broken third-party plugin never takes the CLI down, and the CLI's last-resort handler
turns any unexpected exception into one line.

Each test writes a real plugin distribution to ``tmp_path`` (a package plus a
``NAME-VERSION.dist-info`` with ``METADATA`` and ``entry_points.txt``, the recipe of
tests/test_thirdparty_plugin.py), puts it on ``sys.path`` and runs the CLI, in-process
(typer's CliRunner, or :func:`zoo.cli.app.main`) or as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
import typer
from typer.testing import CliRunner

from zoo.errors import ZooError

DISABLED = "; it is disabled (ZOO_STRICT_PLUGINS=1 makes this an error)"

IMPORT_ERROR = """
import torchx  # not installed: the plugin cannot be imported
from zoo import hookimpl
"""

SPEC = """
from zoo import hookimpl
from zoo.registry.spec import ModelSpec

SPEC = ModelSpec(name="{model}", family="{model}", kind="backbone", plugin="{plugin}", arch="{plugin}:{model}",
                 input_size=(3, 32, 32), min_size=8, num_classes=10, stages=("body", "fc"), head="fc")

@hookimpl
def zoo_model_specs():
    return [SPEC]
"""

SPECS_RAISE = """
from zoo import hookimpl

@hookimpl
def zoo_model_specs():
    raise RuntimeError("catalogue specszoo.toml is missing")
"""

BUILD_RAISE = (
    SPEC
    + """
@hookimpl
def zoo_build_model(spec, options):
    raise RuntimeError("weights layout changed")
"""
)

# A classifier that only accepts 3x32x32 inputs: a flatten into a fixed-size Linear.
SHAPE_REJECT = (
    SPEC
    + """
@hookimpl
def zoo_build_model(spec, options):
    if spec.plugin != "shapezoo":
        return None
    from torch import nn
    from zoo.models.adapters import BackboneAdapter, Stage

    class Flat(nn.Module):
        def __init__(self, num_classes):
            super().__init__()
            self.body = nn.Flatten()
            self.fc = nn.Linear(3 * 32 * 32, num_classes)

        def forward(self, x):
            return self.fc(self.body(x))

    model = Flat(int(options.get("num_classes") or spec.num_classes))
    return BackboneAdapter(spec, model, [Stage("body", ("body",)), Stage("fc", ("fc",))], "fc")
"""
)

DATASETS_RAISE = """
from zoo import hookimpl

@hookimpl
def zoo_datasets():
    raise ValueError("DATAZOO_HOME is not set")
"""

LOADER_RAISE = """
from zoo import hookimpl

def _broken():
    raise OSError("archive broken.tar is truncated")

@hookimpl
def zoo_datasets():
    return {"broken": _broken}
"""

DUPLICATE_DATASET = """
from zoo import hookimpl

@hookimpl
def zoo_datasets():
    return {"digits": lambda: None}
"""

CLI_RAISE = """
from zoo import hookimpl

@hookimpl
def zoo_cli_commands(app):
    raise AttributeError("module 'typer' has no attribute 'Group'")
"""


@pytest.fixture
def make_plugin(tmp_path, monkeypatch, fresh_registry):
    """``make_plugin(module, source, dist=..., version=...)`` writes one plugin distribution
    (entry point ``module = module`` in group ``zoo``) and returns its site directory."""
    monkeypatch.delenv("ZOO_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("ZOO_PLUGINS", raising=False)
    monkeypatch.delenv("ZOO_DEBUG", raising=False)
    site = tmp_path / "site"

    def make(module: str, source: str, *, dist: str, version: str = "0.1") -> str:
        (site / module).mkdir(parents=True)
        (site / module / "__init__.py").write_text(source)
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[zoo]\n{module} = {module}\n")
        monkeypatch.syspath_prepend(str(site))
        monkeypatch.delitem(sys.modules, module, raising=False)
        from zoo.registry import reset_registry

        reset_registry()
        return str(site)

    return make


def _run(args, **env):
    from zoo.cli.app import app

    return CliRunner().invoke(app, args, env=env or None)


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text, text


# -- a plugin that cannot be imported -------------------------------------------------------

IMPORT_WARNING = "Warning: plugin 'badzoo' (badzoo-plugin 0.1) failed to load: ModuleNotFoundError: No module named 'torchx'" + DISABLED


def test_import_error_is_one_warning_and_everything_else_works(make_plugin):
    make_plugin("badzoo", IMPORT_ERROR, dist="badzoo-plugin")
    res = _run(["list", "--json"])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [IMPORT_WARNING]
    assert "resnet50" in {r["name"] for r in json.loads(res.stdout)}

    res = _run(["plugins", "--json"])  # the same process: the warning is not repeated
    assert res.exit_code == 0, res.output
    assert res.stderr == ""
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    bad = rows["badzoo"]
    assert (bad["status"], bad["failed_in"], bad["distribution"], bad["builtin"]) == ("failed", "load", "badzoo-plugin 0.1", False)
    assert bad["error"] == "ModuleNotFoundError: No module named 'torchx'"
    assert rows["resnet"]["status"] == "ok" and "resnet50" in rows["resnet"]["models"]
    assert {"digits", "faces"} <= set(rows["datasets"]["datasets"])

    res = _run(["plugins"])
    assert res.exit_code == 0, res.output
    # failed plugins come last in the plugin table (the data-set section follows it); rich folds the reason
    tail = res.stdout[res.stdout.index("\nbadzoo ") : res.stdout.index("\n\ndata sets")]
    row = "badzoo badzoo-plugin 0.1 failed - failed to load: ModuleNotFoundError: No module named 'torchx'"
    assert "".join(tail.split()) == row.replace(" ", "")


def test_import_error_in_a_subprocess(make_plugin):
    """``zoo --help`` and ``zoo list`` of a real process: exit 0, exactly one warning line, no traceback."""
    site = make_plugin("badzoo", IMPORT_ERROR, dist="badzoo-plugin")
    env = {k: v for k, v in os.environ.items() if k not in ("ZOO_STRICT_PLUGINS", "ZOO_PLUGINS", "ZOO_DEBUG")}
    env["PYTHONPATH"] = site + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-c", "from zoo.cli.app import run; run()"]
    for args, expect in ((["--help"], "plugins"), (["list"], "resnet50")):
        proc = subprocess.run(cmd + args, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.splitlines() == [IMPORT_WARNING]
        assert expect in proc.stdout


def test_strict_plugins_makes_a_failure_an_error(make_plugin, capsys):
    make_plugin("badzoo", IMPORT_ERROR, dist="badzoo-plugin")
    message = (
        "Error: plugin 'badzoo' (badzoo-plugin 0.1) failed to load: ModuleNotFoundError: No module named 'torchx'; "
        "fix or uninstall it, or unset ZOO_STRICT_PLUGINS to run with it disabled"
    )
    res = _run(["list"], ZOO_STRICT_PLUGINS="1")
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [message] and res.stdout == ""
    _no_traceback(res.output)

    os.environ["ZOO_STRICT_PLUGINS"] = "1"  # main() is not a CliRunner: set the variable ourselves
    try:
        import zoo.cli.app as cli_app

        cli_app._plugins_added = False  # main() asks plugins for commands once per process
        assert cli_app.main(["--help"]) == 1
    finally:
        del os.environ["ZOO_STRICT_PLUGINS"]
    err = capsys.readouterr().err
    assert err.splitlines() == [message]


# -- hooks that raise -------------------------------------------------------------------------


def test_specs_hook_raising_disables_the_plugin(make_plugin):
    make_plugin("specszoo", SPECS_RAISE, dist="specszoo", version="0.2")
    res = _run(["list", "--json"])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [
        "Warning: plugin 'specszoo' (specszoo 0.2) failed in zoo_model_specs: RuntimeError: catalogue specszoo.toml is missing" + DISABLED
    ]
    res = _run(["plugins", "--json"])
    (row,) = [r for r in json.loads(res.stdout) if r["name"] == "specszoo"]
    assert (row["status"], row["failed_in"], row["error"]) == (
        "failed",
        "zoo_model_specs",
        "RuntimeError: catalogue specszoo.toml is missing",
    )


def test_build_hook_raising_for_its_own_model_fails_that_command(make_plugin):
    make_plugin("buildzoo", BUILD_RAISE.format(model="badnet", plugin="buildzoo"), dist="buildzoo", version="1.0")
    res = _run(["info", "badnet", "--measure", "--json"])
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        "Error: plugin 'buildzoo' (buildzoo 1.0) failed to build 'badnet': RuntimeError: weights layout changed; "
        "report it to the plugin's authors, or pick another model"
    ]
    _no_traceback(res.output)
    res = _run(["info", "badnet", "--json"])  # no build: the spec is fine
    assert res.exit_code == 0 and json.loads(res.stdout)["name"] == "badnet"


def test_build_hook_raising_for_another_model_is_disabled_and_the_build_goes_on(make_plugin, capsys):
    make_plugin("buildzoo", BUILD_RAISE.format(model="badnet", plugin="buildzoo"), dist="buildzoo", version="1.0")
    from zoo.registry import build

    adapter = build("resnet18", num_classes=3)  # buildzoo's hook is called first (last registered) and raises
    assert adapter.spec.name == "resnet18"
    assert capsys.readouterr().err.splitlines() == [
        "Warning: plugin 'buildzoo' (buildzoo 1.0) failed in zoo_build_model: RuntimeError: weights layout changed" + DISABLED
    ]
    with pytest.raises(ZooError) as err:
        build("badnet")
    assert str(err.value) == (
        "plugin 'buildzoo' (buildzoo 1.0), which provides 'badnet', is disabled: it failed in zoo_build_model: "
        "RuntimeError: weights layout changed; 'zoo plugins' lists plugin failures"
    )
    assert capsys.readouterr().err == ""


def test_datasets_hook_raising_disables_the_plugin(make_plugin):
    make_plugin("datazoo", DATASETS_RAISE, dist="datazoo", version="0.3")
    res = _run(["plugins", "--json"])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [
        "Warning: plugin 'datazoo' (datazoo 0.3) failed in zoo_datasets: ValueError: DATAZOO_HOME is not set" + DISABLED
    ]
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["datazoo"]["status"] == "failed" and {"digits", "faces"} <= set(rows["datasets"]["datasets"])

    from zoo.data import resolve_data

    assert resolve_data("digits:0-1").classes == ["0", "1"]


def test_data_set_loader_raising_fails_the_command_naming_plugin_and_data_set(make_plugin, tmp_path):
    make_plugin("loadzoo", LOADER_RAISE, dist="loadzoo")
    out = tmp_path / "run"
    res = _run(["train", "resnet18", "--data", "broken", "--epochs", "1", "--out", str(out)])
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        "Error: plugin 'loadzoo' (loadzoo 0.1) failed to load data set 'broken': OSError: archive broken.tar is truncated; "
        "report it to the plugin's authors, or leave the plugin out with ZOO_PLUGINS"
    ]
    _no_traceback(res.output)
    assert not out.exists()


def test_duplicate_data_set_names_both_plugins(make_plugin):
    make_plugin("dupzoo", DUPLICATE_DATASET, dist="dupzoo")
    message = "data set 'digits' is contributed by both zoo.plugins.datasets and dupzoo; rename one or limit plugins with ZOO_PLUGINS"
    from zoo.data import resolve_data

    with pytest.raises(ZooError) as err:
        resolve_data("digits")
    assert str(err.value) == message
    res = _run(["plugins"])
    assert res.exit_code == 1 and res.stderr.splitlines() == [f"Error: {message}"]
    assert _run(["list", "vgg16", "--json"]).exit_code == 0  # models are not affected


def test_cli_hook_raising_in_a_subprocess(make_plugin):
    site = make_plugin("clizoo", CLI_RAISE, dist="clizoo", version="2.0")
    env = {k: v for k, v in os.environ.items() if k not in ("ZOO_STRICT_PLUGINS", "ZOO_PLUGINS", "ZOO_DEBUG")}
    env["PYTHONPATH"] = site + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", "from zoo.cli.app import run; run()", "--help"], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "Warning: plugin 'clizoo' (clizoo 2.0) failed in zoo_cli_commands: AttributeError: module 'typer' has no attribute 'Group'"
        + DISABLED
    ]
    assert all(cmd in proc.stdout for cmd in ("list", "plugins", "train"))


# -- the last-resort handler --------------------------------------------------------------------


def test_a_model_rejecting_its_input_shape_is_one_line(make_plugin, tmp_path):
    make_plugin("shapezoo", SHAPE_REJECT.format(model="flatnet", plugin="shapezoo"), dist="shapezoo")
    args = ["train", "flatnet", "--data", "digits:0-1", "--img-size", "16", "--epochs", "1", "--out", str(tmp_path / "run")]
    res = _run(args)
    assert res.exit_code == 1
    # rich's Progress.stop() adds an empty line on a non-interactive stderr (zoo/progress.py): ignore blank lines
    (line,) = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert line == (
        "Error: flatnet failed on input (64, 3, 16, 16): mat1 and mat2 shapes cannot be multiplied (64x768 and 3072x2) "
        "(ZOO_DEBUG=1 shows the traceback)"
    )
    _no_traceback(res.output)

    res = _run(args, ZOO_DEBUG="1")  # the exception itself, for a traceback
    assert res.exit_code == 1 and isinstance(res.exception, RuntimeError)


def _handler_app():
    """A two-command app on zoo's root group (the group is what handles errors)."""
    from zoo.cli.app import ZooGroup

    app = typer.Typer(cls=ZooGroup, add_completion=False, pretty_exceptions_enable=False)

    @app.command("boom")
    def boom(name: str = typer.Argument(...), kind: str = typer.Option("key")) -> None:
        if kind == "key":
            raise KeyError("stage4")
        if kind == "interrupt":
            raise KeyboardInterrupt
        if kind == "interrupt-saved":
            raise KeyboardInterrupt(f"saved epoch 2 in runs/{name}; resume with --resume runs/{name}")
        if kind == "exit":
            raise typer.Exit(3)

    @app.command("other")
    def other() -> None:
        raise OSError("[Errno 28] No space left on device\nsecond line")

    return app


def test_unexpected_exception_is_one_line_naming_the_model():
    runner = CliRunner()
    res = runner.invoke(_handler_app(), ["boom", "resnet50"])
    assert res.exit_code == 1
    assert res.stderr == "Error: resnet50: KeyError: 'stage4' (ZOO_DEBUG=1 shows the traceback)\n"
    res = runner.invoke(_handler_app(), ["other"])
    assert res.exit_code == 1
    assert res.stderr == "Error: OSError: [Errno 28] No space left on device (ZOO_DEBUG=1 shows the traceback)\n"
    res = runner.invoke(_handler_app(), ["boom", "resnet50", "--kind", "exit"])  # typer.Exit passes through
    assert res.exit_code == 3 and res.stderr == ""
    res = runner.invoke(_handler_app(), ["boom", "resnet50"], env={"ZOO_DEBUG": "1"})
    assert res.exit_code == 1 and isinstance(res.exception, KeyError)


def test_keyboard_interrupt_exits_130_with_one_line():
    runner = CliRunner()
    res = runner.invoke(_handler_app(), ["boom", "dcgan", "--kind", "interrupt"])
    assert (res.exit_code, res.stderr) == (130, "Interrupted\n")
    res = runner.invoke(_handler_app(), ["boom", "dcgan", "--kind", "interrupt-saved"])
    assert (res.exit_code, res.stderr) == (130, "Interrupted: saved epoch 2 in runs/dcgan; resume with --resume runs/dcgan\n")


def test_entry_point_recipe_is_what_the_tests_use(make_plugin):
    """The dist-info written by ``make_plugin`` is found by importlib.metadata as a real distribution."""
    from importlib.metadata import entry_points

    make_plugin("okzoo", textwrap.dedent(SPEC.format(model="oknet", plugin="okzoo")), dist="okzoo-plugin", version="3.1")
    (ep,) = [e for e in entry_points(group="zoo") if e.name == "okzoo"]
    assert (ep.value, ep.dist.name, ep.dist.version) == ("okzoo", "okzoo-plugin", "3.1")
    res = _run(["plugins", "--json"])
    (row,) = [r for r in json.loads(res.stdout) if r["name"] == "okzoo"]
    assert (row["status"], row["distribution"], row["models"]) == ("ok", "okzoo-plugin 3.1", ["oknet"])
