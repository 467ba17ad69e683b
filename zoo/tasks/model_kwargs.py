"""A model's build options from the command line: ``--model-kwargs KEY=VALUE ...`` (timm's name).

Every key must be a build option the model's plugin declares (:func:`zoo.registry.model_options`,
hook ``zoo_model_options``; ``zoo info NAME`` lists them); each value is typed by its declared
option (``true``/``false``, ints, floats, one of the choices, or text) and checked by
:func:`zoo.pluginkit.option_value`. Options marked ``from_data`` are set by zoo itself from
other flags or the data, never here. :func:`check_model_kwargs` is what ``train``, ``adapt``
and ``pretrain`` call, before anything is built or written; :func:`parse_pairs` splits the
command line's ``KEY=VALUE`` words. Errors name the build option as ``--model-kwargs KEY``
on the command line (:func:`flag_build_option`, applied by the CLI to every error of a command
that has ``--model-kwargs``, wherever it was raised: at the build, or later in training).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from zoo.errors import ZooError, did_you_mean
from zoo.registry.spec import BuildOption

__all__ = ["SET_BY", "check_model_kwargs", "flag_build_option", "parse_pairs"]

#: What sets the usual ``from_data`` options, for the message refusing them.
SET_BY = {
    "image_size": "--img-size",
    "channels": "the images of --data",
    "class_names": "the class folders of --data",
    "attrs": "--attrs",
}

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def parse_pairs(items: Sequence[str] | None) -> dict[str, str]:
    """``["ngf=32", "projection=false"]`` as ``{"ngf": "32", "projection": "false"}`` (values still text).

    Raises:
        ZooError: an item without ``=`` or with an empty key, or a key given twice (exit code 2).
    """
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ZooError(f"{{param}} takes KEY=VALUE pairs (ngf=32 projection=false), got {item!r}", param="model_kwargs", exit_code=2)
        if key in out:
            raise ZooError(f"{{param}} gives {key} twice ({key}={out[key]} and {item}); give it once", param="model_kwargs", exit_code=2)
        out[key] = value.strip()
    return out


def _choice_text(choice: Any) -> str:
    return str(choice).lower() if isinstance(choice, bool) else str(choice)


def _typed(model: str, option: BuildOption, text: str) -> Any:
    """``text`` (from the command line) as the value of ``option``.

    Raises:
        ZooError: it is not of the option's type (exit code 2), naming ``--model-kwargs KEY``.
    """
    low = text.strip().lower()
    try:
        if option.type == "bool" and low in _TRUE + _FALSE:
            return low in _TRUE
        if option.type == "int" and low.lstrip("+-").isdigit():
            return int(low)
        if option.type == "float":
            value = float(low)
            if math.isfinite(value):
                return value
        if option.type == "str":
            return text
        if option.type == "choice":
            for choice in option.choices:
                if _choice_text(choice) == text or _choice_text(choice).lower() == low:
                    return choice
    except ValueError:
        pass
    what = {
        "bool": "true or false",
        "int": "an int",
        "float": "a finite number",
        "choice": "one of " + ", ".join(map(_choice_text, option.choices)),
    }.get(option.type, "text")
    raise ZooError(
        f"{model} {{param}} must be {what} ({option.help}), got {text!r}",
        param=option.name,
        flag=f"--model-kwargs {option.name}",
        exit_code=2,
    )


def check_model_kwargs(name: str, kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """``kwargs`` checked against the build options that ``name``'s plugin declares, typed.

    Args:
        name: a registry name.
        kwargs: ``{option: value}``; a string value is parsed by the option's type
            (``"false"``, ``"32"``, ``"0.3"``, a choice), other values are taken as they are.

    Returns:
        ``{option: value}`` with every value of its declared type (``{}`` for no kwargs).

    Raises:
        ZooError: (exit code 2) the model declares no build options; a key it does not
            declare (the valid ones listed, with the closest); a ``from_data`` key (naming the
            flag or data that sets it); a value of the wrong type, below the option's minimum or
            not one of its choices.
    """
    if not kwargs:
        return {}
    from zoo.pluginkit import option_value
    from zoo.registry import model_options

    declared = {o.name: o for o in model_options(name)}
    if not declared:
        raise ZooError(
            f"{name} declares no build options, so {{param}} has nothing to set ('zoo info {name}' lists a model's options)",
            param="model_kwargs",
            exit_code=2,
        )
    settable = [o.name for o in declared.values() if not o.from_data]
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        option = declared.get(key)
        if option is None:
            hint = did_you_mean(key, declared)
            raise ZooError(
                f"{name} has no build option {key!r}{hint}; {{param}} takes {', '.join(settable) or 'none of them'}",
                param="model_kwargs",
                exit_code=2,
            )
        if option.from_data:
            where = SET_BY.get(key) or option.help
            raise ZooError(f"{name}'s {key} is set by zoo from {where}, not by {{param}}", param="model_kwargs", exit_code=2)
        if isinstance(value, str) and option.type != "str":
            value = _typed(name, option, value)
        try:
            out[key] = option_value(name, option, value)
        except ZooError as exc:
            exc.flag = f"--model-kwargs {key}"
            raise
    return out


def flag_build_option(exc: ZooError, name: str) -> ZooError:
    """``exc`` with a build option of ``name`` that it names shown as ``--model-kwargs KEY`` on
    the command line: a plugin's validators and losses name the option (``{param}`` = ``ngf``),
    which is no flag of its own. Options set from the data keep their own flags. Returns ``exc``."""
    if exc.param and exc.flag is None:
        try:
            from zoo.registry import model_options

            option = next((o for o in model_options(name) if o.name == exc.param), None)
        except ZooError:
            option = None
        if option is not None and not option.from_data:
            exc.flag = f"--model-kwargs {option.name}"
    return exc
