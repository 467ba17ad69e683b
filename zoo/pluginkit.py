"""Helpers for writing plugins (built-in and third-party alike). No torch import.

A backbone family whose models are declared in a TOML catalogue needs only its stage
naming; :func:`backbone_hooks` makes its two hook implementations::

    # myzoo/plugin.py
    from zoo.pluginkit import backbone_hooks
    from zoo.catalog import specs_from_toml

    zoo_model_specs, zoo_build_model = backbone_hooks(
        "myzoo", specs=lambda: specs_from_toml(Path(__file__).with_name("models.toml"), plugin="myzoo"))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zoo.hookspecs import hookimpl

__all__ = ["backbone_hooks"]


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
        stages: maps a built ``nn.Module`` to its list of :class:`zoo.adapters.Stage`
            (default :func:`zoo.adapters.stages_from_children`). Called only at build time.
        specs: returns the family's specs (default: the ``registry.toml`` tables naming ``plugin``).
        factories: returns ``{arch_name: constructor(num_classes=...)}`` for ``zoo:`` architectures
            the plugin implements itself; called lazily at build time.

    The build goes through :func:`zoo.backbones.build_backbone` (timm / torchvision / own code).
    """

    @hookimpl
    def zoo_model_specs() -> list[Any]:
        """The family's specs (see :func:`zoo.hookspecs.zoo_model_specs`)."""
        if specs is not None:
            return specs()
        from zoo.catalog import builtin_specs

        return builtin_specs(plugin)

    @hookimpl
    def zoo_build_model(spec: Any, options: dict[str, Any]) -> Any:
        """Build one of the family's backbones with random init; ``None`` for other plugins' specs."""
        if spec.plugin != plugin:
            return None
        from zoo.backbones import build_backbone, stages_from_children

        own = factories() if factories is not None and spec.arch.startswith("zoo:") else None
        return build_backbone(spec, options, stages or stages_from_children, factories=own)

    return zoo_model_specs, zoo_build_model
