"""Every hook of the ``zoo`` plugin system, in one documented module.

Plugins (built-in ones in :mod:`zoo.plugins`, third-party ones through the ``zoo``
entry-point group) implement these hooks with :data:`hookimpl`. Hook implementations
must not import torch at module import time: ``zoo list`` loads every plugin and has to
answer in well under a second. Import torch inside the hook body instead.

A third-party ``pyproject.toml``::

    [project.entry-points.zoo]
    myzoo = "myzoo.plugin"

zoo calls each implementation on its own (``ZooPluginManager.call_each`` in
:mod:`zoo.registry.manager`), so that a third-party plugin is isolated: if it fails to import, or
its ``zoo_model_specs``, ``zoo_datasets`` or ``zoo_cli_commands`` raises, it is disabled
with one warning line on stderr naming it and its distribution (``Warning: plugin 'myzoo'
(myzoo 0.1) failed to load: ImportError: ...; it is disabled``), ``zoo plugins`` shows it
as failed with the reason, and everything else works. ``ZOO_STRICT_PLUGINS=1`` makes that
an error (exit 1), for plugin authors' CI. Hook wrappers (``hookwrapper=True`` /
``wrapper=True``) are not called.

Source: the pluggy host/plugin pattern (pluggy's ``eggsample`` example, datasette).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from zoo.registry.spec import BuildOption, ModelSpec, OfficialKind

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "zoo"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def zoo_model_specs() -> list[ModelSpec]:
    """Contribute model specs to the registry.

    Called once per process, when the registry is first loaded (``zoo list`` and every
    command that names a model). Must be cheap: no torch import, no network.

    Returns:
        A list of :class:`zoo.registry.spec.ModelSpec`. Names must be unique across all plugins;
        a duplicate name is an error that names both plugins. A third-party plugin whose
        hook raises, or returns anything but specs, is disabled with one warning line.
    """


@hookspec(firstresult=True)
def zoo_build_model(spec: ModelSpec, options: dict[str, Any]) -> Any:
    """Build the model described by ``spec`` and wrap it in its adapter.

    Called by :func:`zoo.registry.build` for every build. The first non-``None`` result
    wins (``firstresult=True``): return ``None`` for specs of another plugin
    (check ``spec.plugin``).

    Args:
        spec: the model's spec.
        options: build options: ``num_classes`` (int, head size; default ``spec.num_classes``)
            and, for GANs, ``image_size`` (int, pixels) and ``channels`` (int). Unknown
            options must be ignored.

    Returns:
        A :class:`zoo.models.adapters.BackboneAdapter` (``kind == "backbone"``) or a
        :class:`zoo.models.gan.GANAdapter` (``kind == "gan"``), with random init
        (weights are loaded afterwards by :mod:`zoo.models.weights`); or ``None``.

    Raising :class:`zoo.errors.ZooError` gives the user its message. Any other exception
    raised for the plugin's own model fails that command with one line naming the plugin
    and the model (``plugin 'myzoo' (myzoo 0.1) failed to build 'mynet': ...``); one raised
    for another plugin's model disables the plugin with a warning, and the build goes on.
    """


@hookspec
def zoo_datasets() -> dict[str, Any]:
    """Contribute named built-in data sets usable as ``--data NAME[:FILTER]``.

    Called when a ``--data`` value is not an existing path.

    Returns:
        ``{name: loader}`` where ``loader()`` takes no arguments and returns
        ``(images, labels, class_names)``: a numpy uint8 array ``(N, C, H, W)``, a numpy
        int64 array ``(N,)`` of class indices, and the list of class names. zoo applies the
        ``NAME:CLASSES`` filter, the seeded stratified split and the transforms itself.
        A loader may be a :class:`zoo.registry.spec.DatasetSpec` (the loader with its class names,
        size, image shape, named class groups, cache file): ``zoo plugins`` then describes
        the data set without loading it, and ``NAME:GROUP`` selects a group's classes. Keep
        the hook cheap: declare the metadata, load nothing.
        Names must be unique across all plugins: a duplicate is an error that names both
        plugins. A loader that raises fails that command with one line naming the plugin
        and the data set; a hook that raises disables the plugin with a warning.
    """


@hookspec(firstresult=True)
def zoo_model_options(spec: ModelSpec) -> list[BuildOption] | None:
    """Declare the build options of a model of this plugin (``zoo info NAME`` lists them,
    ``--model-kwargs KEY=VALUE`` may set the ones not marked ``from_data``).

    The first non-``None`` answer wins (``firstresult=True``): return ``None`` for specs of
    another plugin (check ``spec.plugin``). No torch import. :func:`zoo.pluginkit.gan_hooks`
    and :func:`zoo.pluginkit.backbone_hooks` implement it from their ``declared`` argument.

    Returns:
        A list of :class:`zoo.registry.spec.BuildOption`, or ``None``.
    """


@hookspec
def zoo_official_kinds() -> list[OfficialKind]:
    """Declare the kinds of official checkpoint files this plugin's loaders read, each with the
    state-dict keys that recognise it (:class:`zoo.registry.spec.OfficialKind`), so that any
    loader can say what a wrong file is and how to load it. No torch import.

    Returns:
        A list of :class:`zoo.registry.spec.OfficialKind` (keys unique across plugins).
    """


@hookspec
def zoo_data_sources() -> dict[str, Any]:
    """Contribute data sources given as ``--data PREFIX:LOCATION`` (``celeba:DIR`` is StarGAN's).

    Called when a ``--data`` value starts with ``PREFIX:``.

    Returns:
        ``{prefix: resolve}`` where ``resolve(location, *, seed, val_fraction, attrs)`` gets the
        text after ``PREFIX:`` (a folder, say), the split's seed (int) and held-out fraction
        (float in ``[0, 1)``), and the selected attribute names (``--attrs``, a list of str,
        or ``None``), and returns a :class:`zoo.data.DataSource`; it raises
        :class:`zoo.errors.ZooError` for a bad location or attribute. Keep the hook cheap
        (import the reader inside ``resolve``). Prefixes are unique across plugins, as data-set names.
    """


@hookspec
def zoo_cli_commands(app: Any) -> None:
    """Add sub-commands to the ``zoo`` Typer app.

    Called once when the CLI starts, after the built-in commands are added. A hook that
    raises disables its plugin with one warning line; the other commands work.

    Args:
        app: the root :class:`typer.Typer`; call ``app.command()(fn)`` or ``app.add_typer(...)``.
    """
