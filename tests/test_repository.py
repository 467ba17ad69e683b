"""The repository is whole on its own: a user's clone has nothing beside it.

No code, test, benchmark or build file reads a ``shared/`` folder beside the repository
(the reference fixtures live in ``tests/fixtures/reference``), and every fixture that the
tests name is tracked in the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("zoo", "plugins", "cli", "tests", "benchmarks", "tools", ".ci")
# ../shared, parents[2] / "shared", "shared/reference": any way of reaching outside the clone
OUTSIDE = re.compile(r"\.\./shared|\bparents\[2\]\s*/\s*[\"']shared|[\"']shared[\"']\s*/|shared/reference")


def _files() -> list[Path]:
    files = [ROOT / "Makefile", ROOT / "pyproject.toml"]
    for top in SCANNED:
        files += [
            p
            for p in (ROOT / top).rglob("*")
            if p.is_file() and p.suffix in {".py", ".toml", ".cfg", ".sh", ""} and "__pycache__" not in p.parts
        ]
    return [p for p in files if p.is_file()]


def test_nothing_reads_a_folder_beside_the_repository():
    offenders = []
    for path in _files():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line) and path.name != "test_repository.py":
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "these lines read outside the repository:\n" + "\n".join(offenders)


def test_every_reference_fixture_is_in_the_repository():
    import json

    folder = ROOT / "tests" / "fixtures" / "reference"
    layouts = sorted(folder.glob("*.json"))
    assert len(layouts) == 11, [p.name for p in layouts]
    for layout in layouts:
        meta = json.loads(layout.read_text())
        assert (folder / meta["io_file"]).is_file(), f"{layout.name} names {meta['io_file']}, which is missing"
    assert (folder / "README.md").is_file()
