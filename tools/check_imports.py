"""Run zoo's import contract (``[tool.importlinter]`` in pyproject.toml) over the whole package.

The package ``zoo`` is assembled from three folders (``zoo/``, and ``plugins/`` and ``cli/``
mapped to ``zoo.plugins`` and ``zoo.cli`` by setuptools' ``package-dir``). import-linter's
graph builder (grimp) walks one directory per package, so it would miss the plugins and the
CLI of an editable install. This script copies the three folders into one ``zoo/`` tree in a
temporary directory, as a wheel installs them, and lints that (every ``import`` statement,
function-level ones included). ``make test`` runs it; exit code 0 when every contract holds.

    python tools/check_imports.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    from importlinter.cli import lint_imports

    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    with tempfile.TemporaryDirectory(prefix="zoo-imports-") as tmp:
        pkg = Path(tmp) / "zoo"
        shutil.copytree(ROOT / "zoo", pkg, ignore=ignore)
        shutil.copytree(ROOT / "plugins", pkg / "plugins", ignore=ignore)
        shutil.copytree(ROOT / "cli", pkg / "cli", ignore=ignore)
        cwd = os.getcwd()
        os.chdir(tmp)  # lint_imports puts the working directory first on sys.path
        try:
            sys.modules.pop("zoo", None)
            return lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
        finally:
            os.chdir(cwd)


if __name__ == "__main__":
    sys.exit(main())
