"""Built-in data sets (hook ``zoo_datasets``) and ``--data PREFIX:LOCATION`` sources (hook
``zoo_data_sources``), collected from every plugin with the registry's isolation rules. No torch import."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from zoo.errors import ZooError, did_you_mean
from zoo.registry.manager import error_line, get_plugin_manager
from zoo.registry.spec import DatasetSpec

__all__ = ["collect_named", "dataset_spec", "dataset_specs", "load_data_sources", "load_dataset", "load_datasets"]


@lru_cache(maxsize=1)
def collect_named(hook: str, noun: str, value: str) -> dict[str, tuple[str, Callable[..., Any]]]:
    """``{name: (plugin name, callable)}`` from every plugin's ``hook``, in registration order.

    A third-party plugin whose hook raises, or returns something other than ``{name:
    callable}``, is disabled with one warning line and its entries are left out.

    Raises:
        ZooError: two plugins contribute the same name (both are named); a built-in plugin
            returns something other than a mapping; a third-party plugin failed and
            ``ZOO_STRICT_PLUGINS=1``.
    """
    pm = get_plugin_manager()
    out: dict[str, tuple[str, Callable[..., Any]]] = {}
    for plugin, contrib in pm.call_each(hook):
        contrib = {} if contrib is None else contrib
        if not isinstance(contrib, Mapping) or not all(isinstance(k, str) and callable(v) for k, v in contrib.items()):
            what = f"returned {type(contrib).__name__}, expected {{name: {value}}} with callable {value}s"
            if pm.is_builtin(plugin):
                raise ZooError(f"plugin {plugin} {what} from {hook}")
            pm.disable(plugin, hook, TypeError(what))
            continue
        for name, fn in contrib.items():
            if name in out:
                raise ZooError(
                    f"{noun} {name!r} is contributed by both {out[name][0]} and {plugin}; rename one or limit plugins with ZOO_PLUGINS"
                )
            out[name] = (plugin, fn)
    return out


def load_datasets() -> dict[str, tuple[str, Callable[[], Any]]]:
    """Collect every plugin's built-in data sets (hook ``zoo_datasets``), in registration order.

    Returns:
        ``{name: (plugin name, loader)}``; ``loader()`` returns ``(images, labels, class_names)``
        (see :func:`zoo.hookspecs.zoo_datasets`); a loader may be a :class:`zoo.registry.spec.DatasetSpec`
        (:func:`dataset_spec` gives every one as such).

    Raises:
        ZooError: two plugins contribute the same data-set name (both are named); a built-in
            plugin returns something other than a mapping; a third-party plugin failed and
            ``ZOO_STRICT_PLUGINS=1`` (a third-party plugin whose hook fails is disabled with one
            warning line instead).
    """
    return collect_named("zoo_datasets", "data set", "loader")


def load_data_sources() -> dict[str, tuple[str, Callable[..., Any]]]:
    """Collect every plugin's ``--data PREFIX:LOCATION`` sources (hook ``zoo_data_sources``).

    Returns:
        ``{prefix: (plugin name, resolve)}``; ``resolve(location, seed=, val_fraction=, attrs=)``
        returns a :class:`zoo.data.DataSource` (see :func:`zoo.hookspecs.zoo_data_sources`).

    Raises:
        ZooError: as :func:`load_datasets`, for prefixes.
    """
    return collect_named("zoo_data_sources", "data-source prefix", "resolver")


def dataset_specs() -> dict[str, tuple[str, DatasetSpec]]:
    """Every built-in data set as ``{name: (plugin name, DatasetSpec)}``, in registration order;
    a bare loader function becomes a :class:`zoo.registry.spec.DatasetSpec` with nothing else known.
    Nothing is loaded.

    Raises:
        ZooError: as :func:`load_datasets`.
    """
    return {
        name: (plugin, loader if isinstance(loader, DatasetSpec) else DatasetSpec(loader))
        for name, (plugin, loader) in load_datasets().items()
    }


def dataset_spec(name: str) -> DatasetSpec:
    """The :class:`zoo.registry.spec.DatasetSpec` of built-in data set ``name`` (nothing is loaded).

    Raises:
        ZooError: no plugin contributes ``name`` (exit code 2; the closest names are suggested).
    """
    specs = dataset_specs()
    if name not in specs:
        hint = did_you_mean(name, specs) or f"; built-in: {', '.join(sorted(specs)) or 'none'}"
        raise ZooError(f"unknown data set {name!r}{hint}", exit_code=2)
    return specs[name][1]


def load_dataset(name: str) -> tuple[Any, Any, list[str]]:
    """Call the loader of built-in data set ``name`` (see :func:`load_datasets`).

    Returns:
        ``(images, labels, class_names)`` as the loader returns them: numpy uint8
        ``(N, C, H, W)``, numpy int64 ``(N,)``, list of N-class names.

    Raises:
        ZooError: no plugin contributes ``name``; a third-party loader raised or returned
            something other than a 3-tuple (the message names the plugin and the data set;
            the plugin's exception is the cause, shown with ``ZOO_DEBUG=1``); the class names
            differ from those its :class:`zoo.registry.spec.DatasetSpec` declares.
    """
    sets = load_datasets()
    if name not in sets:
        hint = did_you_mean(name, sets) or f"; built-in: {', '.join(sorted(sets)) or 'none'}"
        raise ZooError(f"unknown data set {name!r}{hint}", exit_code=2)
    plugin, loader = sets[name]
    pm = get_plugin_manager()
    try:
        result = loader()
        if not (isinstance(result, (tuple, list)) and len(result) == 3):
            raise TypeError(f"returned {type(result).__name__}, expected (images, labels, class_names)")
    except ZooError:
        raise
    except Exception as exc:
        if pm.is_builtin(plugin):
            raise
        raise ZooError(
            f"{pm.describe(plugin)} failed to load data set {name!r}: {error_line(exc)}; "
            "report it to the plugin's authors, or leave the plugin out with ZOO_PLUGINS"
        ) from exc
    images, labels, classes = result
    declared = loader.classes if isinstance(loader, DatasetSpec) else ()
    if declared and tuple(map(str, classes)) != declared:
        raise ZooError(
            f"{pm.describe(plugin)} declares the classes {', '.join(declared)} for data set {name!r} but its loader returned "
            f"{', '.join(map(str, classes))}; report it to the plugin's authors"
        )
    return images, labels, list(classes)
