"""Where downloaded weights live (:func:`cache_dir`, ``$ZOO_CACHE``) and whether zoo may
download at all (:func:`offline`: ``ZOO_OFFLINE`` / ``HF_HUB_OFFLINE``). No torch import."""

from __future__ import annotations

import os
from pathlib import Path

from zoo.errors import ZooError
from zoo.utils.fileio import nearest_existing

__all__ = ["cache_dir", "offline", "offline_variable"]

_TRUE = ("1", "true", "yes", "on")
_OFFLINE_VARS = ("ZOO_OFFLINE", "HF_HUB_OFFLINE")


def cache_dir() -> Path:
    """The directory of downloaded and converted weights (not created here).

    ``$ZOO_CACHE`` if set and non-empty, else ``$XDG_CACHE_HOME/zoo``, else
    ``~/.cache/zoo`` (the XDG base-directory convention, as ``torch.hub`` and
    ``huggingface_hub`` use). Layout: ``<cache>/<model>/<tag>.safetensors`` (converted
    backbone weights), ``<cache>/<model>/<tag>.ckpt|.pth|...`` (GAN weights, as published),
    ``<cache>/downloads/<file name>`` (original files being downloaded or converted),
    ``<cache>/pins.json`` (:mod:`zoo.io.pins`).

    Raises:
        ZooError: (exit code 2) the directory, or the nearest of its parents that exists, is
            not a directory (``ZOO_CACHE`` pointing at a file), naming the variable that chose it.
    """
    env = os.environ.get("ZOO_CACHE", "").strip()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if env:
        path, var = Path(env).expanduser(), "ZOO_CACHE"
    elif xdg:
        path, var = Path(xdg).expanduser() / "zoo", "XDG_CACHE_HOME"
    else:
        path, var = Path.home() / ".cache" / "zoo", None
    found = nearest_existing(path)
    if found.exists() and not found.is_dir():
        where = f"{var}={env if var == 'ZOO_CACHE' else xdg}" if var else f"the cache {path}"
        raise ZooError(
            f"{where}: {found} is a file, not a directory; point {var or 'ZOO_CACHE'} at a directory for downloaded weights"
            + (f" (or unset it for {Path.home() / '.cache' / 'zoo'})" if var else ""),
            exit_code=2,
        )
    return path


def offline_variable() -> str | None:
    """The offline switch that is set (``"ZOO_OFFLINE"`` or ``"HF_HUB_OFFLINE"``, see
    :func:`offline`), for messages; ``None`` when downloads are allowed."""
    for var in _OFFLINE_VARS:
        if os.environ.get(var, "").strip().lower() in _TRUE:
            return var
    return None


def offline() -> bool:
    """True when ``ZOO_OFFLINE`` or ``HF_HUB_OFFLINE`` is ``1``/``true``/``yes``/``on``
    (case-insensitive): no download is attempted (loopback hosts included), only the cache
    and local files are used. ``HF_HUB_OFFLINE`` is huggingface_hub's own switch, honoured
    so one variable silences both; it is read at every call. Raises nothing."""
    return offline_variable() is not None
