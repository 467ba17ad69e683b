"""Helpers for writing plugins (built-in and third-party alike). No torch import.

A backbone family whose models are declared in a TOML catalogue needs only its stage
naming; :func:`backbone_hooks` makes its two hook implementations::

    # myzoo/plugin.py
    from zoo.pluginkit import backbone_hooks
    from zoo.registry.catalog import specs_from_toml

    zoo_model_specs, zoo_build_model = backbone_hooks(
        "myzoo", specs=lambda: specs_from_toml(Path(__file__).with_name("models.toml"), plugin="myzoo"))

A GAN family is two Python files (plus the TOML table of its models): a hook module that
never imports torch (so ``zoo list`` stays fast), and a model module with the networks
and the adapter, imported by :func:`gan_hooks` only when a model is built::

    # mygan/plugin.py: the entry point ([project.entry-points.zoo] mygan = "mygan.plugin")
    from pathlib import Path
    from zoo.registry.catalog import specs_from_toml
    from zoo.errors import ZooError
    from zoo.pluginkit import gan_hooks

    def resolve_options(spec, options):     # pure Python: validate, fill in defaults
        size = options.get("image_size") or spec.input_size[-1]
        if size % 8:
            raise ZooError(f"{{param}} must be a multiple of 8, got {size!r}", param="image_size", exit_code=2)
        return {"image_size": size, "channels": options.get("channels") or spec.input_size[0]}

    zoo_model_specs, zoo_build_model = gan_hooks(
        "mygan", adapter="mygan.model:MyGANAdapter", options=resolve_options,
        specs=lambda: specs_from_toml(Path(__file__).with_name("models.toml"), plugin="mygan"))

    # mygan/model.py: imports torch; MyGANAdapter(spec, **options) subclasses
    # zoo.models.gan.GANAdapter (training_step yields Step("discriminator", ...), then
    # Step("generator", ...); sample(n, seed=..., condition=...) returns images in [0, 1]).

The built-in DCGAN (:mod:`zoo.plugins.dcgan` + :mod:`zoo.plugins.dcgan_model`) is written
exactly this way, with its table in zoo's own ``registry.toml`` (the default ``specs``).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from zoo.errors import ZooError
from zoo.hookspecs import hookimpl

__all__ = ["backbone_hooks", "gan_hooks"]


def _specs_hook(plugin: str, specs: Callable[[], list[Any]] | None) -> Callable[[], list[Any]]:
    """The ``zoo_model_specs`` hook of a family: ``specs()`` when given, else the
    ``registry.toml`` tables naming ``plugin`` (:func:`zoo.registry.catalog.builtin_specs`)."""

    @hookimpl
    def zoo_model_specs() -> list[Any]:
        """The family's specs (see :func:`zoo.hookspecs.zoo_model_specs`)."""
        if specs is not None:
            return specs()
        from zoo.registry.catalog import builtin_specs

        return builtin_specs(plugin)

    return zoo_model_specs


def backbone_hooks(
    plugin: str,
    *,
    stages: Callable[[Any], list[Any]] | None = None,
    specs: Callable[[], list[Any]] | None = None,
    factories: Callable[[], dict[str, Callable[..., Any]]] | None = None,
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """Return ``(zoo_model_specs, zoo_build_model)`` hook implementations for a backbone family.

    Args:
        plugin: the plugin's name; ``zoo_build_model`` answers only specs whose ``plugin`` is this.
        stages: maps a built ``nn.Module`` to its list of :class:`zoo.models.adapters.Stage`
            (default :func:`zoo.models.adapters.stages_from_children`). Called only at build time.
        specs: returns the family's specs (default: the ``registry.toml`` tables naming ``plugin``).
        factories: returns ``{arch_name: constructor(num_classes=...)}`` for ``zoo:`` architectures
            the plugin implements itself; called lazily at build time.

    The build goes through :func:`zoo.models.backbones.build_backbone` (timm / torchvision / own code).
    """

    zoo_model_specs = _specs_hook(plugin, specs)

    @hookimpl
    def zoo_build_model(spec: Any, options: dict[str, Any]) -> Any:
        """Build one of the family's backbones with random init; ``None`` for other plugins' specs."""
        if spec.plugin != plugin:
            return None
        from zoo.models.backbones import build_backbone, stages_from_children

        own = factories() if factories is not None and spec.arch.startswith("zoo:") else None
        return build_backbone(spec, options, stages or stages_from_children, factories=own)

    return zoo_model_specs, zoo_build_model


def _import_adapter(path: str, plugin: str) -> Any:
    """Import ``"package.module:ClassName"``.

    Raises:
        ZooError: the module cannot be imported or has no such attribute.
    """
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ZooError(f"plugin {plugin}: cannot import its adapter module {module_name!r} ({exc}); reinstall the plugin") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ZooError(f"plugin {plugin}: module {module_name!r} has no adapter class {attr!r}; check the adapter= path") from None


def _accepted(cls: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The non-``None`` ``options`` that ``cls.__init__`` takes as keywords (all of them
    when it has ``**kwargs``): unknown build options are ignored, as the hookspec asks."""
    given = {k: v for k, v in options.items() if v is not None}
    params = inspect.signature(cls).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return given
    names = {p.name for p in params if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    return {k: v for k, v in given.items() if k in names}


def gan_hooks(
    plugin: str,
    *,
    adapter: str,
    options: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None,
    specs: Callable[[], list[Any]] | None = None,
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """Return ``(zoo_model_specs, zoo_build_model)`` hook implementations for a GAN family.

    The hook module stays free of torch: the adapter class is imported (with
    :func:`importlib.import_module`) only when a model is built.

    Args:
        plugin: the plugin's name (``__name__`` of the hook module for built-ins);
            ``zoo_build_model`` answers only specs whose ``plugin`` is this, ``None`` otherwise.
        adapter: ``"package.module:ClassName"`` of a :class:`zoo.models.gan.GANAdapter`
            subclass constructed as ``ClassName(spec, **options)``.
        options: optional pure-Python ``options(spec, build_options) -> dict`` that validates
            the build options (``image_size``, ``channels`` and the family's own), fills in
            defaults and raises :class:`zoo.errors.ZooError` on bad values; its result is
            passed to the adapter as keywords. Without it the non-``None`` build options
            the adapter's ``__init__`` accepts are passed (others are ignored).
        specs: returns the family's specs (default: the ``registry.toml`` tables naming ``plugin``).

    Raises:
        ValueError: ``adapter`` is not of the form ``"package.module:ClassName"`` (raised
            here, when the plugin module is imported).

    The returned ``zoo_build_model`` raises :class:`zoo.errors.ZooError` when the adapter
    cannot be imported, and whatever ``options`` or the adapter raise for bad options.
    """
    module_name, sep, attr = adapter.partition(":")
    if not (sep and module_name and attr.isidentifier()):
        raise ValueError(f"gan_hooks adapter must be 'package.module:ClassName', got {adapter!r}")
    check = options

    zoo_model_specs = _specs_hook(plugin, specs)

    @hookimpl
    def zoo_build_model(spec: Any, options: dict[str, Any]) -> Any:
        """Build one of the family's GANs with random init; ``None`` for other plugins' specs."""
        if spec.plugin != plugin:
            return None
        checked = check(spec, dict(options)) if check is not None else None  # bad options fail before any import
        cls = _import_adapter(adapter, plugin)
        return cls(spec, **(checked if check is not None else _accepted(cls, options)))

    return zoo_model_specs, zoo_build_model
