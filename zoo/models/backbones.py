"""One build path for image backbones made by timm or torchvision.

Family plugins call :func:`build_backbone` with a function that names the model's stages;
the architecture itself always comes from a well-kept library (timm, torchvision) or,
where neither has it, from the plugin's own module (NASNet-A Mobile).

This module imports torch; import it lazily from plugin hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from zoo.errors import ZooError, first_line
from zoo.models.adapters import BackboneAdapter, Stage, stages_from_children
from zoo.registry.spec import ModelSpec, check_num_classes

__all__ = ["Stage", "build_backbone", "create_arch", "stages_from_children"]


def create_arch(arch: str, *, num_classes: int, factories: dict[str, Callable[..., nn.Module]] | None = None, **kwargs: Any) -> nn.Module:
    """Instantiate ``arch`` with random weights and a ``num_classes`` head.

    Args:
        arch: ``"torchvision:NAME"`` (``torchvision.models.get_model(NAME, weights=None)``),
            ``"timm:NAME"`` (``timm.create_model(NAME, pretrained=False)``), or
            ``"zoo:NAME"`` looked up in ``factories``.
        num_classes: output classes of the classifier.
        factories: the plugin's own constructors for ``zoo:`` architectures.
        **kwargs: further keywords of the constructor (the family's declared build options).

    Returns:
        An ``nn.Module`` mapping ``(N, 3, H, W)`` float32 to ``(N, num_classes)`` logits.

    Raises:
        ZooError: unknown library prefix or architecture name.
    """
    lib, _, name = arch.partition(":")
    if lib == "torchvision":
        import torchvision

        if name not in torchvision.models.list_models():
            raise ZooError(f"torchvision {torchvision.__version__} has no architecture {name!r}; upgrade torchvision")
        return torchvision.models.get_model(name, weights=None, num_classes=num_classes, **kwargs)
    if lib == "timm":
        import timm

        if not timm.is_model(name):
            raise ZooError(f"timm {timm.__version__} has no architecture {name!r}; upgrade timm")
        return timm.create_model(name, pretrained=False, num_classes=num_classes, **kwargs)
    if lib == "zoo" and factories and name in factories:
        return factories[name](num_classes=num_classes, **kwargs)
    raise ZooError(f"cannot build architecture {arch!r}: expected torchvision:NAME, timm:NAME or a zoo: name of the plugin")


def build_backbone(
    spec: ModelSpec,
    options: dict[str, Any],
    stages: Callable[[nn.Module], list[Stage]] = stages_from_children,
    *,
    factories: dict[str, Callable[..., nn.Module]] | None = None,
    state_dict_hook: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    arch_kwargs: dict[str, Any] | None = None,
) -> BackboneAdapter:
    """Build ``spec`` (random init) and wrap it in a :class:`BackboneAdapter`.

    Args:
        spec: a backbone spec (``spec.arch``, ``spec.head``).
        options: ``num_classes`` (int, default ``spec.num_classes``).
        stages: maps the built model to its named stages.
        factories: constructors for ``zoo:`` architectures.
        state_dict_hook: the family's renaming of older weight files' keys
            (:meth:`BackboneAdapter.convert_state_dict`).
        arch_kwargs: the family's checked build options, passed to the constructor
            (:func:`create_arch`); :attr:`BackboneAdapter.build_options` keeps them.

    Raises:
        ZooError: ``num_classes < 1``, the architecture cannot be built, or its constructor
            refuses a value of ``arch_kwargs`` (a dropout rate of 1.5; exit code 2).
    """
    num_classes = int(spec.num_classes if options.get("num_classes") is None else options["num_classes"])
    check_num_classes(num_classes)
    arch_kwargs = dict(arch_kwargs or {})
    try:
        model = create_arch(spec.arch, num_classes=num_classes, factories=factories, **arch_kwargs)
    except (ValueError, TypeError) as exc:
        if not arch_kwargs:
            raise
        given = " ".join(f"{k}={v}" for k, v in arch_kwargs.items())
        raise ZooError(f"{spec.name} cannot be built with {{param}} {given}: {first_line(exc)}", param="model_kwargs", exit_code=2) from exc
    adapter = BackboneAdapter(spec, model, stages(model), spec.head, state_dict_hook=state_dict_hook)
    adapter.build_options = arch_kwargs
    return adapter
