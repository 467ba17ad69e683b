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

The built-in GAN families are written this way, each as a package with the same files
(:mod:`zoo.plugins.dcgan`: the hook module ``__init__.py``, ``networks.py``, ``adapter.py``,
``official.py``, ``losses.py`` and ``data.py`` where the family has them, and its
``registry.toml``, given as ``specs``); they also declare their build options with
:func:`options_hook` and check them with :func:`option_value`.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Sequence
from typing import Any

from zoo.errors import ZooError
from zoo.hookspecs import hookimpl
from zoo.registry.spec import BuildOption, OfficialKind

__all__ = [
    "BuildOption",
    "OfficialKind",
    "backbone_hooks",
    "boolean",
    "gan_hooks",
    "name_list",
    "option_value",
    "options_hook",
    "path_value",
    "pick",
    "positive_int",
    "timm_drop_options",
]


def _specs_hook(plugin: str, specs: Callable[[], list[Any]] | None) -> Callable[[], list[Any]]:
    """The ``zoo_model_specs`` hook of a family: ``specs()`` when given; else the family
    package's own ``registry.toml`` (``plugin`` is a package holding one: every built-in GAN
    family); else the tables of zoo's ``registry.toml`` naming ``plugin``
    (:func:`zoo.registry.catalog.builtin_specs`: the backbone families)."""

    @hookimpl
    def zoo_model_specs() -> list[Any]:
        """The family's specs (see :func:`zoo.hookspecs.zoo_model_specs`)."""
        if specs is not None:
            return specs()
        from importlib import resources

        from zoo.registry.catalog import builtin_specs, specs_from_toml

        own = resources.files(plugin).joinpath("registry.toml") if _is_package(plugin) else None
        return specs_from_toml(own, plugin=plugin) if own is not None and own.is_file() else builtin_specs(plugin)

    return zoo_model_specs


def _is_package(name: str) -> bool:
    """Whether the imported module ``name`` is a package (it has a ``__path__``)."""
    import sys

    module = sys.modules.get(name) or importlib.import_module(name)
    return hasattr(module, "__path__")


def backbone_hooks(
    plugin: str,
    *,
    stages: Callable[[Any], list[Any]] | None = None,
    specs: Callable[[], list[Any]] | None = None,
    factories: Callable[[], dict[str, Callable[..., Any]]] | None = None,
    state_dict_hook: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    declared: Sequence[BuildOption] | Callable[[Any], Sequence[BuildOption]] | None = None,
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """Return ``(zoo_model_specs, zoo_build_model)`` hook implementations for a backbone family.

    Args:
        plugin: the plugin's name; ``zoo_build_model`` answers only specs whose ``plugin`` is this.
        stages: maps a built ``nn.Module`` to its list of :class:`zoo.models.adapters.Stage`
            (default :func:`zoo.models.adapters.stages_from_children`). Called only at build time.
        specs: returns the family's specs (default: the ``registry.toml`` tables naming ``plugin``).
        factories: returns ``{arch_name: constructor(num_classes=...)}`` for ``zoo:`` architectures
            the plugin implements itself; called lazily at build time.
        state_dict_hook: renames the keys of weight files saved by older releases of the
            family's code to the model's (``{name: tensor} -> {name: tensor}``); applied
            whenever weights are loaded into one of its models.
        declared: the family's build options, or ``declared(spec)`` giving them per model:
            keywords of the architecture's constructor (timm's ``drop_rate``, torchvision's
            ``dropout``); a build passes the ones given (not ``None``), each checked by
            :func:`option_value`, to the constructor. Declare the same ones to ``zoo info``
            and ``--model-kwargs`` with ``zoo_model_options = options_hook(plugin, declared)``.

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
        wanted = (declared(spec) if callable(declared) else declared) or ()
        arch_kwargs = {o.name: option_value(spec.name, o, options[o.name]) for o in wanted if options.get(o.name) is not None}
        return build_backbone(
            spec, options, stages or stages_from_children, factories=own, state_dict_hook=state_dict_hook, arch_kwargs=arch_kwargs
        )

    return zoo_model_specs, zoo_build_model


def timm_drop_options(*, drop_path: bool = False) -> list[BuildOption]:
    """timm's regularisation keywords as build options: ``drop_rate`` (dropout before the
    classifier) and, for architectures with residual blocks that accept it, ``drop_path_rate``
    (stochastic depth). Both default to 0.0, timm's default."""
    options = [BuildOption("drop_rate", "float", 0.0, "dropout rate before the classifier (timm's drop_rate)", minimum=0, maximum=1)]
    if drop_path:
        options.append(
            BuildOption(
                "drop_path_rate",
                "float",
                0.0,
                "stochastic depth: the chance a residual block is skipped in training, rising to this in the "
                "last block (timm's drop_path_rate; Huang et al. 2016)",
                minimum=0,
                maximum=1,
            )
        )
    return options


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


# ---------------------------------------------------------------------------------
# build options: declared once, checked by one set of validators
# ---------------------------------------------------------------------------------
def pick(options: dict[str, Any], key: str, default: Any) -> Any:
    """``options[key]``, or ``default`` when it is missing or ``None`` (a flag left out)."""
    value = options.get(key)
    return default if value is None else value


def positive_int(model: str, name: str, value: Any, what: str, *, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``.

    Args:
        model: the model's name, for the message (``vanilla_gan``).
        name: the build option (the ``{param}`` of the error).
        value: the value given.
        what: how to describe a valid value (``"a positive int (100 in the paper)"``).
        minimum: the smallest valid value.

    Raises:
        ZooError: ``value`` is not an int (bools are not ints here) or is below
            ``minimum``; one line naming the option, exit code 2.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ZooError(f"{model} {{param}} must be {what}, got {value!r}", param=name, exit_code=2)
    return int(value)


def boolean(model: str, name: str, value: Any, what: str = "true or false") -> bool:
    """``value`` when it is a bool.

    Args:
        model: the model's name, for the message (``srgan``).
        name: the build option (the ``{param}`` of the error).
        value: the value given.
        what: how to describe a valid value (``"true or false (false: the paper's ...)"``).

    Raises:
        ZooError: ``value`` is not a bool (``1`` and ``"yes"`` are not); one line naming the
            option, exit code 2.
    """
    if not isinstance(value, bool):
        raise ZooError(f"{model} {{param}} must be {what}, got {value!r}", param=name, exit_code=2)
    return value


def option_value(model: str, option: BuildOption, value: Any) -> Any:
    """``value`` checked against a declared :class:`BuildOption`; ``None`` gives its default.

    ``int`` takes ints (not bools) >= ``minimum``; ``float`` takes ints and floats (not bools)
    >= ``minimum``, as float; ``bool`` takes bools; ``str`` takes strings; ``choice`` takes
    one of ``choices``, of its type (``True`` is not the choice ``1``, nor ``3.0`` the choice ``3``).

    Raises:
        ZooError: a value of another type, below the minimum or not a choice: one line naming
            the option and what is valid (exit code 2).
    """
    if value is None:
        return option.default
    if option.maximum is not None and isinstance(value, (int, float)) and not isinstance(value, bool) and value > option.maximum:
        raise ZooError(
            f"{model} {{param}} must be at most {option.maximum:g} ({option.help}), got {value!r}", param=option.name, exit_code=2
        )
    bound = f" >= {option.minimum:g}" if option.minimum is not None else ""
    ok = True
    if option.type == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and (option.minimum is None or value >= option.minimum)
        what = f"an int{bound}"
    elif option.type == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (option.minimum is None or value >= option.minimum)
        what, value = f"a number{bound}", float(value) if ok else value
    elif option.type == "bool":
        ok, what = isinstance(value, bool), "true or false"
    elif option.type == "str":
        ok, what = isinstance(value, str), "a string"
    else:
        ok = any(
            value == c and isinstance(value, bool) == isinstance(c, bool) and isinstance(value, float) == isinstance(c, float)
            for c in option.choices
        )
        what = "one of " + ", ".join(map(str, option.choices))
    if not ok:
        raise ZooError(f"{model} {{param}} must be {what} ({option.help}), got {value!r}", param=option.name, exit_code=2)
    return value


def name_list(model: str, name: str, value: Any) -> tuple[str, ...] | None:
    """``value`` as a tuple of distinct names in label order (class, attribute or domain names);
    ``None`` (the option left out) stays ``None``.

    Args:
        model: the model's name, for the message (``cgan``).
        name: the build option (the ``{param}`` of the error: ``class_names``, ``attrs``).
        value: a list or tuple of non-empty strings; split comma-separated text before.

    Raises:
        ZooError: not a non-empty list or tuple of non-empty strings (a bare string is not
            one), or a name given twice; one line naming the option, exit code 2.
    """
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(n, str) and n.strip() for n in value):
        raise ZooError(f"{model} {{param}} must be a non-empty list of names, got {value!r}", param=name, exit_code=2)
    repeated = sorted({n for n in value if value.count(n) > 1})
    if repeated:
        raise ZooError(f"{model} {{param}} repeats {', '.join(repeated)}; give each name once", param=name, exit_code=2)
    return tuple(value)


def path_value(model: str, name: str, value: Any, *, words: Sequence[str] = (), exists: bool = True) -> Any:
    """``value`` as a path string (``~`` expanded); ``None`` and each of ``words`` are returned as they are.

    For the file options (``official_weights``, ``content_weights``), which :class:`BuildOption`
    declares as ``str`` but which take any :class:`os.PathLike` too.

    Args:
        model: the model's name, for the message (``srgan``).
        name: the build option (the ``{param}`` of the error).
        value: a ``str`` or :class:`os.PathLike`, ``None``, or one of ``words``.
        words: values that name something other than a file (``("imagenet",)``).
        exists: whether the path must exist now (``False``: the loader says what is missing).

    Returns:
        ``None``, one of ``words``, or the path as a ``str``.

    Raises:
        ZooError: ``value`` is neither a path nor one of ``words``, or (with ``exists``) no such
            file or folder exists; one line naming the option, exit code 2.
    """
    if value is None or value in words:
        return value
    if not isinstance(value, (str, os.PathLike)):
        raise ZooError(f"{model} {{param}} must be a file path, got {type(value).__name__}", param=name, exit_code=2)
    path = os.path.expanduser(os.fspath(value))
    if exists and not os.path.exists(path):
        valid = f"{' or '.join(repr(w) for w in words)} or " if words else ""
        raise ZooError(f"{model} {{param}} {os.fspath(value)} does not exist; give {valid}an existing file", param=name, exit_code=2)
    return path


def options_hook(plugin: str, declared: Sequence[BuildOption] | Callable[[Any], Sequence[BuildOption]]) -> Callable[..., Any]:
    """A ``zoo_model_options`` hook implementation: the family's declared build options.

    Args:
        plugin: the plugin's name; the hook answers only specs whose ``plugin`` is this.
        declared: the options, or ``declared(spec)`` giving them per model.
    """

    @hookimpl
    def zoo_model_options(spec: Any) -> list[BuildOption] | None:
        """The build options of one of the family's models; ``None`` for other plugins' specs."""
        if spec.plugin != plugin:
            return None
        return list(declared(spec) if callable(declared) else declared)

    return zoo_model_options
