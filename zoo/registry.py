"""The registry: every model spec that the loaded plugins contribute, and the one build path.

Built-in models are declared in ``registry.toml`` (shipped inside the package, read by
:mod:`zoo.catalog`); each built-in plugin contributes its own tables through the
``zoo_model_specs`` hook, exactly as a third-party plugin would with its own TOML
(:func:`zoo.catalog.specs_from_toml`) or with specs made in Python. Listing never imports torch.

Imports run one way: ``zoo.registry`` -> ``zoo.manager`` -> ``zoo.hookspecs``, and
``zoo.registry`` -> ``zoo.catalog`` -> ``zoo.spec``; plugins import ``zoo.catalog`` and
``zoo.pluginkit``, never the registry.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from zoo.catalog import builtin_specs, specs_from_toml
from zoo.errors import ZooError, did_you_mean
from zoo.manager import get_plugin_manager
from zoo.spec import ModelSpec

__all__ = [
    "build",
    "builtin_specs",
    "expand_names",
    "get_spec",
    "list_models",
    "load_registry",
    "reset_registry",
    "specs_from_toml",
]


@lru_cache(maxsize=1)
def load_registry() -> dict[str, ModelSpec]:
    """Collect every plugin's specs into ``{name: spec}``, in registration order.

    Raises:
        ZooError: two plugins contribute the same model name.
    """
    pm = get_plugin_manager()
    out: dict[str, ModelSpec] = {}
    owners: dict[str, str] = {}
    # pluggy calls implementations last-registered first; reverse for registration order.
    impls = list(reversed(pm.hook.zoo_model_specs.get_hookimpls()))
    for impl in impls:
        for spec in impl.function() or []:
            if not isinstance(spec, ModelSpec):
                raise ZooError(f"plugin {impl.plugin_name} returned {type(spec).__name__} from zoo_model_specs; expected ModelSpec")
            if spec.name in out:
                raise ZooError(
                    f"model {spec.name!r} is contributed by both {owners[spec.name]} and {impl.plugin_name}; "
                    "rename one or limit plugins with ZOO_PLUGINS"
                )
            out[spec.name] = spec
            owners[spec.name] = impl.plugin_name
    return out


def reset_registry() -> None:
    """Forget the cached plugin manager and registry (tests, and after installing a plugin)."""
    get_plugin_manager.cache_clear()
    load_registry.cache_clear()


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _matches(name: str, pattern: str) -> bool:
    """One rule for every command: an exact name; a wildcard (``*``, ``?``, ``[...]``) with
    :func:`fnmatch.fnmatchcase`; otherwise a bare word matches as a substring (``vgg``)."""
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return name == pattern or pattern in name


def _split(patterns: str | Iterable[Any] | None) -> list[Any]:
    if patterns is None:
        return []
    items = [patterns] if isinstance(patterns, (str, ModelSpec)) else list(patterns)
    out: list[Any] = []
    for item in items:
        if isinstance(item, str):
            out += [p.strip() for p in item.split(",") if p.strip()]
        elif item is not None:
            out.append(item)
    return out


def _check_kind(kind: str | None) -> None:
    from zoo.spec import KINDS

    if kind is not None and kind not in KINDS:
        raise ZooError(f"unknown kind {kind!r}; valid: {', '.join(KINDS)}", exit_code=2)


def list_models(pattern: str | Iterable[str] | None = None, *, kind: str | None = None, family: str | None = None) -> list[ModelSpec]:
    """Specs matching ``pattern``, ``kind`` and ``family``, sorted naturally (``resnet18``
    before ``resnet101``); an empty list when nothing matches.

    ``pattern`` is one name, wildcard (``resnet*``) or bare word (a substring: ``vgg``
    gives ``vgg16`` and ``vgg19``), several comma-separated, or a list of them; the same
    rule as :func:`expand_names`, which every command that takes model names uses.

    Raises:
        ZooError: ``kind`` is not one of ``backbone``, ``gan``.
    """
    _check_kind(kind)
    pats = _split(pattern)
    specs = [
        s
        for s in load_registry().values()
        if (not pats or any(_matches(s.name, p) for p in pats))
        and (kind is None or s.kind == kind)
        and (family is None or s.family == family)
    ]
    return sorted(specs, key=lambda s: _natural_key(s.name))


def expand_names(
    names_or_patterns: str | Iterable[Any] | None = None, *, kind: str | None = None, family: str | None = None
) -> list[ModelSpec]:
    """Resolve names, bare words, wildcards and specs to specs, in the order given, without duplicates.

    Each item is an exact registry name, a wildcard (``resnet*``, ``*v2``) or a bare word
    that matches as a substring (``vgg`` -> ``vgg16``, ``vgg19``), as in :func:`list_models`;
    a :class:`zoo.spec.ModelSpec` passes through. Items may be comma-separated. No items
    means the whole registry. ``kind`` and ``family`` filter every item.

    Raises:
        ZooError: an item matches no model (with the closest names), a bad ``kind``, or
            nothing is left after the filters.
    """
    _check_kind(kind)
    items = _split(names_or_patterns)
    specs: list[ModelSpec] = []
    if not items:
        specs = list_models(None, kind=kind, family=family)
    for item in items:
        if isinstance(item, ModelSpec):
            specs.append(item)
            continue
        reg = load_registry()
        if item in reg:
            found = [reg[item]]
        else:
            found = list_models(item)
            if not found and any(c in item for c in "*?["):
                raise ZooError(f"no model matches {item!r}; run 'zoo list' to see the names", exit_code=2)
            if not found:
                hint = did_you_mean(item, reg) or "; run 'zoo list' to see every model"
                raise ZooError(f"unknown model {item!r}{hint}", exit_code=2)
        specs += [s for s in found if (kind is None or s.kind == kind) and (family is None or s.family == family)]
    out, seen = [], set()
    for s in specs:
        if s.name not in seen:
            seen.add(s.name)
            out.append(s)
    if not out:
        what = " ".join(str(i) for i in items) or "the registry"
        filt = "".join(f" --{k} {v}" for k, v in (("kind", kind), ("family", family)) if v)
        raise ZooError(f"no model matches {what}{filt}; run 'zoo list' to see the names (wildcards: 'resnet*')", exit_code=2)
    return out


def get_spec(name: str) -> ModelSpec:
    """The spec named ``name``.

    Raises:
        ZooError: no such model; the message suggests the closest names.
    """
    reg = load_registry()
    try:
        return reg[name]
    except KeyError:
        hint = did_you_mean(name, reg) or "; run 'zoo list' to see every model"
        raise ZooError(f"unknown model {name!r}{hint}") from None


def build(name_or_spec: str | ModelSpec, **options: Any) -> Any:
    """Build a model and its adapter through the plugin that owns it (random init).

    This is the one build path; weights are loaded afterwards with :mod:`zoo.weights`.

    Args:
        name_or_spec: registry name or spec.
        **options: ``num_classes`` (int), and for GANs ``image_size`` (int, pixels) and
            ``channels`` (int); see :func:`zoo.hookspecs.zoo_build_model`.

    Returns:
        A :class:`zoo.adapters.BackboneAdapter` or :class:`zoo.gan.GANAdapter`.

    Raises:
        ZooError: unknown model, or no plugin could build it.
    """
    spec = get_spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    adapter = get_plugin_manager().hook.zoo_build_model(spec=spec, options=dict(options))
    if adapter is None:
        raise ZooError(
            f"no loaded plugin builds {spec.name!r} (plugin {spec.plugin}); is that plugin installed and allowed by ZOO_PLUGINS?"
        )
    return adapter
