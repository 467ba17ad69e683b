"""The registry: every model spec that the loaded plugins contribute, and the one build path.

Built-in models are declared in ``registry.toml`` (shipped inside the package, read by
:mod:`zoo.registry.catalog`); each built-in plugin contributes its own tables through the
``zoo_model_specs`` hook, exactly as a third-party plugin would with its own TOML
(:func:`zoo.registry.catalog.specs_from_toml`) or with specs made in Python. Listing never imports torch.

Built-in data sets (``--data NAME``) are collected here too, from the ``zoo_datasets``
hook, with the same rule: a name contributed by two plugins is an error naming both. A
third-party plugin whose hook raises is disabled with one warning line
(:meth:`zoo.registry.manager.ZooPluginManager.disable`); one that fails while building a model or
loading a data set is that command's one-line error, naming the plugin.

Imports run one way: ``zoo.registry`` -> ``zoo.registry.manager`` -> ``zoo.hookspecs``, and
``zoo.registry`` -> ``zoo.registry.catalog`` -> ``zoo.registry.spec``; plugins import ``zoo.registry.catalog`` and
``zoo.pluginkit``, never the registry.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from zoo.errors import ZooError, did_you_mean
from zoo.registry.catalog import builtin_specs, specs_from_toml
from zoo.registry.datasets import collect_named, dataset_spec, dataset_specs, load_data_sources, load_dataset, load_datasets
from zoo.registry.manager import call_impl, error_line, get_plugin_manager, plugin_short_name
from zoo.registry.spec import BuildOption, ModelSpec, OfficialKind

__all__ = [
    "build",
    "builtin_specs",
    "dataset_spec",
    "dataset_specs",
    "expand_names",
    "get_spec",
    "list_models",
    "load_data_sources",
    "load_dataset",
    "load_datasets",
    "load_registry",
    "model_options",
    "model_owners",
    "official_kinds",
    "reset_registry",
    "specs_from_toml",
]


_MODEL_OWNERS: dict[str, str] = {}  # model name -> plugin name, filled by load_registry()


@lru_cache(maxsize=1)
def load_registry() -> dict[str, ModelSpec]:
    """Collect every plugin's specs into ``{name: spec}``, in registration order.

    A third-party plugin whose ``zoo_model_specs`` raises, or returns something other than
    specs, is disabled with one warning line and its models are left out.

    Raises:
        ZooError: two plugins contribute the same model name; a built-in plugin returns
            something other than specs; a third-party plugin failed and ``ZOO_STRICT_PLUGINS=1``.
    """
    pm = get_plugin_manager()
    out: dict[str, ModelSpec] = {}
    owners: dict[str, str] = {}
    for plugin, specs in pm.call_each("zoo_model_specs"):
        specs = list(specs or [])
        bad = next((s for s in specs if not isinstance(s, ModelSpec)), None)
        if bad is not None:
            if pm.is_builtin(plugin):
                raise ZooError(f"plugin {plugin} returned {type(bad).__name__} from zoo_model_specs; expected ModelSpec")
            pm.disable(plugin, "zoo_model_specs", TypeError(f"returned {type(bad).__name__}, expected ModelSpec"))
            continue
        for spec in specs:
            if spec.name in out:
                raise ZooError(
                    f"model {spec.name!r} is contributed by both {owners[spec.name]} and {plugin}; "
                    "rename one or limit plugins with ZOO_PLUGINS"
                )
            out[spec.name] = spec
            owners[spec.name] = plugin
    _MODEL_OWNERS.clear()
    _MODEL_OWNERS.update(owners)
    return out


def model_owners() -> dict[str, str]:
    """``{model name: plugin name}`` of the registry (the plugin whose ``zoo_model_specs`` gave it)."""
    load_registry()
    return dict(_MODEL_OWNERS)


def _first_answer(hook: str, spec: ModelSpec, kwargs: dict[str, Any], doing: str) -> Any:
    """The first non-``None`` answer of a ``firstresult`` hook about ``spec``'s model, with
    :func:`build`'s isolation: a third-party plugin that raises for another plugin's model is
    disabled with one warning line, and one that raises for its own model is that command's error.

    Raises:
        ZooError: the model's own plugin raised (naming it), or a built-in plugin's ZooError.
    """
    pm = get_plugin_manager()
    owner = _MODEL_OWNERS.get(spec.name) if spec.name in load_registry() else None
    for impl in pm.hook_impls(hook):
        plugin = impl.plugin_name
        if pm.is_blocked(plugin):
            continue
        try:
            answer = call_impl(impl, kwargs)
        except ZooError:
            raise
        except Exception as exc:
            if pm.is_builtin(plugin):
                raise
            if plugin == owner or plugin_short_name(plugin) == spec.plugin:
                raise ZooError(
                    f"{pm.describe(plugin)} failed to {doing} {spec.name!r}: {error_line(exc)}; "
                    "report it to the plugin's authors, or pick another model"
                ) from exc
            pm.disable(plugin, hook, exc)
            continue
        if answer is not None:
            return answer
    return None


def model_options(name: str) -> tuple[BuildOption, ...]:
    """The build options the model's plugin declares (hook ``zoo_model_options``), in its order;
    ``()`` when it declares none.

    Raises:
        ZooError: unknown model (as :func:`get_spec`); the model's plugin fails in its hook.
    """
    spec = get_spec(name)
    return tuple(_first_answer("zoo_model_options", spec, {"spec": spec}, "declare the build options of") or ())


@lru_cache(maxsize=1)
def official_kinds() -> tuple[OfficialKind, ...]:
    """Every official checkpoint kind the loaded plugins declare (hook ``zoo_official_kinds``),
    in registration order.

    Raises:
        ZooError: two plugins declare the same ``key``; a built-in plugin's hook returns
            something other than a list of :class:`~zoo.registry.spec.OfficialKind`.
    """
    pm = get_plugin_manager()
    out: dict[str, OfficialKind] = {}
    for plugin, kinds in pm.call_each("zoo_official_kinds"):
        kinds = [] if kinds is None else kinds
        if not isinstance(kinds, (list, tuple)) or not all(isinstance(k, OfficialKind) for k in kinds):
            what = f"returned {type(kinds).__name__}, expected a list of OfficialKind"
            if pm.is_builtin(plugin):
                raise ZooError(f"plugin {plugin} {what} from zoo_official_kinds")
            pm.disable(plugin, "zoo_official_kinds", TypeError(what))
            continue
        for kind in kinds:
            if kind.key in out:
                raise ZooError(f"official checkpoint kind {kind.key!r} is declared twice (by {plugin} and another plugin)")
            out[kind.key] = kind
    return tuple(out.values())


def reset_registry() -> None:
    """Forget the cached plugin manager, registry and data sets (tests, and after
    installing a plugin); the next use loads the plugins again and reports their failures again."""
    get_plugin_manager.cache_clear()
    load_registry.cache_clear()
    collect_named.cache_clear()
    official_kinds.cache_clear()
    _MODEL_OWNERS.clear()


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
    from zoo.registry.spec import KINDS

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
    a :class:`zoo.registry.spec.ModelSpec` passes through. Items may be comma-separated. No items
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
        ZooError: no such model (exit code 2); the message suggests the closest names.
    """
    reg = load_registry()
    try:
        return reg[name]
    except KeyError:
        hint = did_you_mean(name, reg) or "; run 'zoo list' to see every model"
        raise ZooError(f"unknown model {name!r}{hint}", exit_code=2) from None


def build(name_or_spec: str | ModelSpec, **options: Any) -> Any:
    """Build a model and its adapter through the plugin that owns it (random init).

    This is the one build path; weights are loaded afterwards with :mod:`zoo.models.weights`.

    Args:
        name_or_spec: registry name or spec.
        **options: ``num_classes`` (int), and for GANs ``image_size`` (int, pixels) and
            ``channels`` (int); see :func:`zoo.hookspecs.zoo_build_model`.

    Returns:
        A :class:`zoo.models.adapters.BackboneAdapter` or :class:`zoo.models.gan.GANAdapter`.

    Raises:
        ZooError: unknown model; no plugin could build it (or the one that owns it is
            disabled); the owning third-party plugin's ``zoo_build_model`` raised (the
            message names the plugin and the model; the plugin's exception is the cause).
            A third-party implementation that raises for another plugin's model is
            disabled with one warning line, and the build goes on.
    """
    spec = get_spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    adapter = _first_answer("zoo_build_model", spec, {"spec": spec, "options": dict(options)}, "build")
    if adapter is not None:
        return adapter
    pm = get_plugin_manager()
    owner = _MODEL_OWNERS.get(spec.name) if spec.name in load_registry() else None
    failure = pm.failures.get(owner or spec.plugin)
    if failure is not None:
        raise ZooError(
            f"{pm.describe(failure.name)}, which provides {spec.name!r}, is disabled: it failed "
            f"{'to load' if failure.stage == 'load' else 'in ' + failure.stage}: {failure.error}; 'zoo plugins' lists plugin failures"
        )
    raise ZooError(f"no loaded plugin builds {spec.name!r} (plugin {spec.plugin}); is that plugin installed and allowed by ZOO_PLUGINS?")
