"""The cache file of the built-in ``glyphs`` data set: generated once (:func:`zoo.plugins.glyphs.render.generate`),
written atomically under the cache's lock, and made again when the fonts or libraries change."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.plugins.glyphs.render import CLASSES, fingerprint, font_sources, generate

__all__ = ["load_cached"]


def _read(path: Path, expect: dict[str, Any]) -> tuple[Any, Any] | None:
    """The cached ``(images, labels)`` when ``path`` holds them under ``expect``, else ``None``."""
    import zipfile

    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta != expect:
                return None
            return z["images"], z["labels"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        from zoo.errors import warn

        warn(f"ignoring the unreadable glyphs cache {path} ({type(exc).__name__}); generating it again")
        return None


def load_cached(path: str | os.PathLike[str], *, per_class: int, seed: int, image_size: int) -> tuple[Any, Any]:
    """The data set from its cache file ``path``, generated (:func:`generate`) and written there first if needed.

    The file is a compressed ``.npz`` of ``images`` uint8 ``(N, 1, S, S)``, ``labels`` int64
    ``(N,)``, ``font_index`` int16 ``(N,)`` and ``meta`` (JSON: the arguments, the font names
    and :func:`fingerprint`). It is written whole or not at all (:func:`zoo.utils.fileio.atomic_write`)
    under the cache's lock (:func:`zoo.io.pins.cache_lock`): a second process waits for the
    first and then reads its file instead of generating again. A file made with other
    arguments, fonts or library versions, or unreadable, is generated again.

    Returns:
        ``(images uint8 (N, 1, S, S), labels int64 (N,))``.

    Raises:
        ZooError: the cache cannot be locked or written (read-only, disk full); a font fails
            :func:`check_font`.
    """
    import sys
    import time

    import numpy as np

    from zoo.io.pins import cache_lock
    from zoo.utils.fileio import atomic_write

    path = Path(path)
    fonts = font_sources()
    expect = {
        "format": "zoo-glyphs-1",
        "per_class": per_class,
        "seed": seed,
        "image_size": image_size,
        "classes": list(CLASSES),
        "fonts": [f.name for f in fonts],
        "fingerprint": fingerprint(fonts),
    }
    found = _read(path, expect)
    if found is not None:
        return found
    with cache_lock(path, "generating the glyphs data set", quiet=2.0):
        found = _read(path, expect)  # another process may have made it while we waited
        if found is not None:
            return found
        n = per_class * len(CLASSES)
        sys.stderr.write(f"generating the glyphs data set ({n:,} images, {len(fonts)} fonts) into {path} ...\n")
        sys.stderr.flush()
        start = time.perf_counter()
        images, labels, font_idx = generate(per_class, seed=seed, image_size=image_size, fonts=fonts)
        made = time.perf_counter()
        try:
            with atomic_write(path, "wb") as fh:
                np.savez_compressed(fh, images=images, labels=labels, font_index=font_idx, meta=np.array(json.dumps(expect)))
        except OSError as exc:
            raise ZooError(
                f"cannot write the glyphs cache {path} ({exc.strerror or exc}); make the cache writable or set ZOO_CACHE elsewhere"
            ) from exc
        written = time.perf_counter()
        sys.stderr.write(
            f"glyphs: {n:,} images generated in {made - start:.1f} s, written in {written - made:.1f} s ({path.stat().st_size / 1e6:.1f} MB)\n"
        )
        sys.stderr.flush()
    return images, labels
