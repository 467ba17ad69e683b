"""Every benchmark script answers ``--help`` with its usage and exit code 0, and a bad
argument with argparse's one ``error:`` line and exit code 2, never a traceback: the scripts in
``benchmarks/`` are what a reader reruns to check the docs' numbers. Nothing is measured here
(performance claims are not timed tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "benchmarks").glob("*.py"))


def _run(script: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)


def test_there_are_benchmark_scripts():
    assert len(SCRIPTS) >= 8, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_help_is_usage_not_a_traceback(script):
    res = _run(script, "--help")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage:") and "Traceback" not in res.stderr, res.stdout + res.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_an_unknown_option_is_one_line(script):
    res = _run(script, "--no-such-option")
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith(f"{script.name}: error:"), res.stderr
