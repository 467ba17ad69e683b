"""The plugin manager: built-in plugins first, then third-party entry points.

``ZOO_PLUGINS`` (comma-separated plugin names, e.g. ``resnet,dcgan,myzoo``) limits which
plugins load; unset means all. ``zoo plugins`` lists what loaded, and what failed.

A third-party plugin is isolated: one that fails to import, or whose hook raises, is
disabled with one ``Warning: plugin 'NAME' (DIST VERSION) failed ...`` line on stderr
(once per plugin manager, i.e. once per process), and everything else keeps working.
``ZOO_STRICT_PLUGINS=1`` turns that warning into a :class:`zoo.errors.ZooError`, for
plugin authors' CI. A failure of a built-in plugin is our bug and is raised as it is.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pluggy

from zoo import hookspecs
from zoo.errors import ZooError, did_you_mean, warn

__all__ = [
    "BUILTIN_PLUGINS",
    "PluginFailure",
    "ZooPluginManager",
    "error_line",
    "get_plugin_manager",
    "plugin_short_name",
    "strict_plugins",
]

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
    "zoo.plugins.srgan",
    "zoo.plugins.stargan",
    "zoo.plugins.cyclegan",
    "zoo.plugins.datasets",
    "zoo.plugins.glyphs",
)


def plugin_short_name(name: str) -> str:
    """``"zoo.plugins.resnet"`` -> ``"resnet"``; third-party names are returned unchanged."""
    return name.rsplit(".", 1)[-1] if name.startswith("zoo.plugins.") else name


def strict_plugins() -> bool:
    """True when ``ZOO_STRICT_PLUGINS`` is set to a non-empty, non-zero value: a failing
    third-party plugin is then an error instead of a warning."""
    return os.environ.get("ZOO_STRICT_PLUGINS", "") not in ("", "0")


def error_line(exc: BaseException) -> str:
    """``"Type: first line of the message"`` of an exception, at most 300 characters
    (a :class:`ZooError`'s message alone: it is already a sentence for the user)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    if isinstance(exc, ZooError) and first:
        text = first
    else:
        text = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


@dataclass(frozen=True)
class PluginFailure:
    """Why a plugin was disabled.

    Attributes:
        name: the plugin's name (the entry-point name for a third-party plugin).
        distribution: ``"NAME VERSION"`` of the distribution that ships it, or ``None``.
        stage: ``"load"`` (import or registration) or the hook that raised (``zoo_model_specs``...).
        error: the exception as one line (:func:`error_line`).
    """

    name: str
    distribution: str | None
    stage: str
    error: str


class ZooPluginManager(pluggy.PluginManager):
    """A :class:`pluggy.PluginManager` that isolates third-party plugins.

    Attributes:
        failures: ``{plugin name: PluginFailure}`` of the plugins disabled so far.
        distributions: ``{entry-point name: "DIST VERSION"}`` of every third-party plugin seen.
    """

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.failures: dict[str, PluginFailure] = {}
        self.distributions: dict[str, str] = {}

    @staticmethod
    def is_builtin(name: str) -> bool:
        """True for the plugins of :data:`BUILTIN_PLUGINS` (``zoo.plugins.*``)."""
        return name.startswith("zoo.plugins.")

    def describe(self, name: str) -> str:
        """``"plugin 'badzoo' (badzoo-plugin 0.1)"``, or ``"plugin 'resnet'"`` without a distribution."""
        dist = self.distributions.get(name)
        return f"plugin {plugin_short_name(name)!r}" + (f" ({dist})" if dist else "")

    def disable(self, name: str, stage: str, exc: BaseException) -> None:
        """Disable plugin ``name`` after ``exc`` in ``stage`` (``"load"`` or a hook name):
        unregister and block it, record a :class:`PluginFailure`, and print one warning line.

        Raises:
            ZooError: ``ZOO_STRICT_PLUGINS=1`` is set (exit code 1); the plugin's exception is the cause.
        """
        what = "failed to load" if stage == "load" else f"failed in {stage}"
        text = f"{self.describe(name)} {what}: {error_line(exc)}"
        if strict_plugins():
            raise ZooError(f"{text}; fix or uninstall it, or unset ZOO_STRICT_PLUGINS to run with it disabled") from exc
        self.failures[name] = PluginFailure(name, self.distributions.get(name), stage, error_line(exc))
        self.set_blocked(name)  # unregisters it: none of its hooks runs again
        warn(f"{text}; it is disabled (ZOO_STRICT_PLUGINS=1 makes this an error)")

    def hook_impls(self, hook_name: str) -> list[Any]:
        """The plain (non-wrapper) implementations of ``hook_name`` in pluggy's call order
        (last registered first, ``tryfirst``/``trylast`` honoured)."""
        impls = getattr(self.hook, hook_name).get_hookimpls()
        return [i for i in reversed(impls) if not (i.hookwrapper or getattr(i, "wrapper", False))]

    def call_each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of ``hook_name`` on its own, in registration order.

        A third-party implementation that raises is disabled (:meth:`disable`) and left
        out; a built-in one's exception propagates (it is our bug).

        Returns:
            ``[(plugin name, result), ...]`` for the implementations that returned.

        Raises:
            ZooError: a third-party implementation raised and ``ZOO_STRICT_PLUGINS=1`` is set.
        """
        out = []
        for impl in reversed(self.hook_impls(hook_name)):
            if self.is_blocked(impl.plugin_name):  # disabled earlier in this loop
                continue
            try:
                out.append((impl.plugin_name, call_impl(impl, kwargs)))
            except Exception as exc:
                if self.is_builtin(impl.plugin_name):
                    raise
                self.disable(impl.plugin_name, hook_name, exc)
        return out


def call_impl(impl: Any, kwargs: dict[str, Any]) -> Any:
    """Call one pluggy hook implementation with the arguments it declares, as pluggy does."""
    return impl.function(*[kwargs[a] for a in impl.argnames])


def _allowed() -> set[str] | None:
    raw = os.environ.get("ZOO_PLUGINS", "").strip()
    if not raw:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


@lru_cache(maxsize=1)
def get_plugin_manager() -> ZooPluginManager:
    """Return the process-wide plugin manager, creating it on first call.

    Registers :data:`BUILTIN_PLUGINS` by module name, then every entry point of the
    ``zoo`` group (``[project.entry-points.zoo]``), honouring ``ZOO_PLUGINS``. A
    third-party plugin that fails to import or register is disabled with one warning
    line naming it and its distribution (:meth:`ZooPluginManager.disable`).

    Raises:
        ZooError: a third-party plugin failed to load and ``ZOO_STRICT_PLUGINS=1`` is set.
    """
    pm = ZooPluginManager()
    allowed = _allowed()
    for modname in BUILTIN_PLUGINS:
        if allowed is not None and plugin_short_name(modname) not in allowed and modname not in allowed:
            continue
        pm.register(importlib.import_module(modname), name=modname)
    eps = _entry_points()
    if allowed is not None:
        for ep in eps:
            if ep.name not in allowed:
                pm.set_blocked(ep.name)
        known = {plugin_short_name(m) for m in BUILTIN_PLUGINS} | set(BUILTIN_PLUGINS) | {ep.name for ep in eps}
        unknown = sorted(allowed - known)
        if unknown:
            warn(
                f"ZOO_PLUGINS names no plugin called {', '.join(unknown)}{did_you_mean(unknown[0], sorted(known))}; "
                "'zoo plugins' lists what loads"
            )
    for ep in eps:  # pluggy's load_setuptools_entrypoints, one plugin at a time
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        if ep.dist is not None:
            pm.distributions[ep.name] = f"{ep.dist.name} {ep.dist.version}"
        try:
            pm.register(ep.load(), name=ep.name)
        except (Exception, SystemExit) as exc:  # a plugin calling sys.exit() at import is broken too
            pm.disable(ep.name, "load", exc)
    return pm


def _entry_points() -> list[Any]:
    from importlib.metadata import entry_points

    return list(entry_points(group=hookspecs.PROJECT))
