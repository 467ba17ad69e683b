"""The TOML catalogue: ``[models.NAME]`` tables read into validated :class:`zoo.registry.spec.ModelSpec`.

``registry.toml`` (shipped inside the package) declares every built-in model; a
third-party plugin can keep its own TOML and read it with :func:`specs_from_toml`.
Depends only on :mod:`zoo.registry.spec` and :mod:`zoo.errors` (no plugin manager, no torch), so
plugins may import it at module top.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from zoo.errors import ZooError
from zoo.registry.spec import ModelSpec, spec_from_dict

__all__ = ["builtin_specs", "specs_from_toml"]


def specs_from_toml(path: str | Path, *, plugin: str | None = None) -> list[ModelSpec]:
    """Read ``[models.NAME]`` tables from a TOML file into validated specs.

    Args:
        path: the TOML file.
        plugin: default ``plugin`` for tables that do not name one.

    Raises:
        ZooError: the file is missing or not valid TOML, or a table fails validation.
    """
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ZooError(f"registry file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ZooError(f"registry file {path} is not valid TOML: {exc}") from exc
    specs = [spec_from_dict(name, table, plugin=plugin) for name, table in doc.get("models", {}).items()]
    return specs


@lru_cache(maxsize=1)
def _builtin_catalogue() -> tuple[ModelSpec, ...]:
    path = resources.files("zoo.registry").joinpath("registry.toml")
    with resources.as_file(path) as p:
        return tuple(specs_from_toml(p))


def builtin_specs(plugin: str) -> list[ModelSpec]:
    """The specs of ``registry.toml`` that name ``plugin`` (used by the built-in plugins)."""
    return [s for s in _builtin_catalogue() if s.plugin == plugin]
