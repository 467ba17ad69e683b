"""The README matches the code (issue 18, item 7): its model counts are the registry's, every
``zoo ...`` command line in it parses with the real CLI (a dry parse: nothing runs), every
flag it shows exists on its command, every command is in it, and the paths it names exist;
``zoo --help`` lists every command with a whole one-line description; ``zoo --version``."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from zoo.cli.app import app, expand_multi_value

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _commands():
    return typer.main.get_command(app).commands


def _code_lines() -> list[str]:
    """Every ``zoo ...`` command line of the README: in fenced and indented code blocks and in
    inline code, without comments; ``torchrun ... -m zoo CMD`` lines as ``zoo CMD ...``."""
    lines: list[str] = []
    fenced = False
    for raw in README.splitlines():
        if raw.startswith("```"):
            fenced = not fenced
            continue
        if fenced or raw.startswith("    "):
            text = raw.strip()
            text = re.sub(r"^torchrun .*?-m zoo ", "zoo ", text)
            if text.startswith("zoo "):
                lines.append(text.split("  #")[0].split(" # ")[0].strip())
    lines += [m.group(1) for m in re.finditer(r"`(zoo [^`]+)`", README)]
    return lines


LINES = _code_lines()
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z0-9_]*\b")  # DIR, NAME, N, K, DATA...


def _is_synopsis(line: str) -> bool:
    return any(c in line for c in "[|") or "..." in line or bool(PLACEHOLDER.search(line.replace("ZOO_", "")))


def test_readme_counts_are_the_registry():
    from zoo.registry import list_models

    models = list_models()
    backbones = [m for m in models if m.kind == "backbone"]
    gans = [m for m in models if m.kind == "gan"]
    counts = {"models": len(models), "backbones": len(backbones), "GANs": len(gans)}
    found = 0
    for what, n in counts.items():
        for m in re.finditer(rf"\b(\d+)\s+{what}\b", README):
            assert int(m.group(1)) == n, f"README says {m.group(0)!r}; the registry has {n} {what}"
            found += 1
    assert found >= 3, "the README should say how many models, backbones and GANs there are"
    for family in sorted({m.family for m in models}):
        assert family.replace("_", " ").lower() in README.lower().replace("_", " "), family


def test_every_command_is_in_the_readme():
    for name in _commands():
        assert re.search(rf"\bzoo {name}\b", README), f"'zoo {name}' is not in the README"
    assert "zoo --version" in README and "zoo --help" in README


@pytest.mark.parametrize("line", LINES)
def test_every_readme_command_line_parses(line):
    words = shlex.split(line.replace("...", " "))[1:]
    commands = _commands()
    if not words or words[0].startswith("-"):  # zoo --help, zoo --version
        assert set(words) <= {"--help", "--version"}, line
        return
    assert words[0] in commands, f"{line}: no command {words[0]!r}"
    cmd = commands[words[0]]
    flags = {o for p in cmd.params for o in (*getattr(p, "opts", ()), *getattr(p, "secondary_opts", ()))}
    for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", line):
        assert flag in flags, f"{line}: 'zoo {words[0]}' has no {flag}"
    if len(words) > 1 and not _is_synopsis(line):  # a real command line: click parses it as the CLI would, without running it
        cmd.make_context(f"zoo {words[0]}", expand_multi_value(words[1:]))


def test_the_readme_has_real_command_lines_and_synopses():
    concrete = [ln for ln in LINES if not _is_synopsis(ln)]
    assert len(concrete) >= 10 and len(LINES) - len(concrete) >= 10, (concrete, LINES)
    assert any("--model-kwargs content_loss=pixel" in ln for ln in concrete)


DOCS = sorted([*ROOT.glob("*.md"), *ROOT.glob("benchmarks/*.md")])


@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_paths_named_in_the_docs_exist(doc):
    """Every ``zoo/``, ``cli/``, ``benchmarks/``, ``tools/`` or ``tests/`` path that README.md
    or a benchmark page names exists (a moved module or a deleted benchmark breaks this)."""
    text = doc.read_text()
    paths = set(re.findall(r"(?<![\w/.-])((?:zoo|cli|benchmarks|tools|tests)/[\w/]+(?:\.\w+)?)", text))
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, missing
    assert doc != ROOT / "README.md" or len(paths) >= 10  # the pattern still finds the README's paths


def test_help_lists_every_command_with_a_whole_line():
    res = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert res.exit_code == 0, res.output
    listed = res.stdout.split("Commands:")[1]
    for name, cmd in _commands().items():
        (line,) = [ln for ln in listed.splitlines() if ln.split()[:1] == [name]]
        assert "..." not in line and line.split(None, 1)[1].strip() == cmd.short_help, line
    assert all(name in res.stdout.split("Commands:")[0] for name in _commands())  # the app's own line names them all


def test_version():
    from importlib.metadata import version

    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"zoo {version('zoo')}"
