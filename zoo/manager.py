"""The plugin manager: built-in plugins first, then third-party entry points.

``ZOO_PLUGINS`` (comma-separated plugin names, e.g. ``resnet,dcgan,myzoo``) limits which
plugins load; unset means all. ``zoo plugins`` lists what loaded.
"""

from __future__ import annotations

import importlib
import os
from functools import lru_cache

import pluggy

from zoo import hookspecs
from zoo.errors import ZooError

__all__ = ["BUILTIN_PLUGINS", "get_plugin_manager", "plugin_short_name"]

BUILTIN_PLUGINS: tuple[str, ...] = (
    "zoo.plugins.xception",
    "zoo.plugins.vgg",
    "zoo.plugins.resnet",
    "zoo.plugins.inception",
    "zoo.plugins.mobilenet",
    "zoo.plugins.densenet",
    "zoo.plugins.nasnet",
    "zoo.plugins.dcgan",
    "zoo.plugins.lapgan",
    "zoo.plugins.vanilla_gan",
    "zoo.plugins.cgan",
    "zoo.plugins.datasets",
)


def plugin_short_name(name: str) -> str:
    """``"zoo.plugins.resnet"`` -> ``"resnet"``; third-party names are returned unchanged."""
    return name.rsplit(".", 1)[-1] if name.startswith("zoo.plugins.") else name


def _allowed() -> set[str] | None:
    raw = os.environ.get("ZOO_PLUGINS", "").strip()
    if not raw:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


@lru_cache(maxsize=1)
def get_plugin_manager() -> pluggy.PluginManager:
    """Return the process-wide plugin manager, creating it on first call.

    Registers :data:`BUILTIN_PLUGINS` by module name, then every entry point of the
    ``zoo`` group (``[project.entry-points.zoo]``), honouring ``ZOO_PLUGINS``.

    Raises:
        ZooError: a third-party plugin failed to import (its name and the error are given).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    allowed = _allowed()
    for modname in BUILTIN_PLUGINS:
        if allowed is not None and plugin_short_name(modname) not in allowed and modname not in allowed:
            continue
        pm.register(importlib.import_module(modname), name=modname)
    if allowed is not None:
        for ep_name in _entry_point_names():
            if ep_name not in allowed:
                pm.set_blocked(ep_name)
    if allowed is not None:
        known = {plugin_short_name(m) for m in BUILTIN_PLUGINS} | set(BUILTIN_PLUGINS) | set(_entry_point_names())
        unknown = sorted(allowed - known)
        if unknown:
            from zoo.errors import did_you_mean, warn

            warn(
                f"ZOO_PLUGINS names no plugin called {', '.join(unknown)}{did_you_mean(unknown[0], sorted(known))}; "
                "'zoo plugins' lists what loads"
            )
    try:
        pm.load_setuptools_entrypoints(hookspecs.PROJECT)
    except Exception as exc:  # a broken third-party plugin must not look like our bug
        raise ZooError(f"a 'zoo' entry-point plugin failed to load: {exc}; uninstall it or limit plugins with ZOO_PLUGINS") from exc
    return pm


def _entry_point_names() -> list[str]:
    from importlib.metadata import entry_points

    return [ep.name for ep in entry_points(group=hookspecs.PROJECT)]
