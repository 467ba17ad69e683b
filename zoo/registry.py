"""The registry: every model spec that the loaded plugins contribute, and the one build path.

Built-in models are declared in ``registry.toml`` (shipped inside the package); each
built-in plugin contributes its own tables through the ``zoo_model_specs`` hook, exactly
as a third-party plugin would with its own TOML (:func:`specs_from_toml`) or with specs
made in Python. Listing never imports torch.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from zoo.errors import ZooError, did_you_mean
from zoo.spec import ModelSpec, spec_from_dict

__all__ = [
    "builtin_specs",
    "specs_from_toml",
    "load_registry",
    "list_models",
    "get_spec",
    "build",
]


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
    path = resources.files("zoo").joinpath("registry.toml")
    with resources.as_file(path) as p:
        return tuple(specs_from_toml(p))


def builtin_specs(plugin: str) -> list[ModelSpec]:
    """The specs of ``registry.toml`` that name ``plugin`` (used by the built-in plugins)."""
    return [s for s in _builtin_catalogue() if s.plugin == plugin]


@lru_cache(maxsize=1)
def load_registry() -> dict[str, ModelSpec]:
    """Collect every plugin's specs into ``{name: spec}``, in registration order.

    Raises:
        ZooError: two plugins contribute the same model name.
    """
    from zoo.manager import get_plugin_manager

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


def _natural_key(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def list_models(
    pattern: str | None = None, *, kind: str | None = None, family: str | None = None
) -> list[ModelSpec]:
    """Specs matching a wildcard ``pattern`` (``resnet*``; a bare word matches as a substring),
    ``kind`` and ``family``, sorted naturally (``resnet18`` before ``resnet101``).

    Raises:
        ZooError: ``kind`` is not one of ``backbone``, ``gan``.
    """
    from zoo.spec import KINDS

    if kind is not None and kind not in KINDS:
        raise ZooError(f"unknown kind {kind!r}; valid: {', '.join(KINDS)}", exit_code=2)
    specs = load_registry().values()
    if pattern:
        pats = [p.strip() for p in pattern.split(",") if p.strip()]
        pats = [p if any(c in p for c in "*?[") else f"*{p}*" for p in pats]
        specs = [s for s in specs if any(fnmatch.fnmatchcase(s.name, p) for p in pats)]
    if kind:
        specs = [s for s in specs if s.kind == kind]
    if family:
        specs = [s for s in specs if s.family == family]
    return sorted(specs, key=lambda s: _natural_key(s.name))


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
        A :class:`zoo.adapters.BackboneAdapter` or :class:`zoo.adapters.GANAdapter`.

    Raises:
        ZooError: unknown model, or no plugin could build it.
    """
    from zoo.manager import get_plugin_manager

    spec = get_spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    adapter = get_plugin_manager().hook.zoo_build_model(spec=spec, options=dict(options))
    if adapter is None:
        raise ZooError(f"no loaded plugin builds {spec.name!r} (plugin {spec.plugin}); is that plugin installed and allowed by ZOO_PLUGINS?")
    return adapter
