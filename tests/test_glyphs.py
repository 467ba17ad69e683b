"""The built-in ``glyphs`` data set: deterministic rendering, every font covered, legible
classes, the cache (atomic, reused, locked), named groups, and the listing.

Offline and small: samples of a few images per font and class, never the 50,400-image set
(the cache tests shrink ``PER_CLASS`` to 1).
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from cli_helpers import run

from zoo.errors import ZooError
from zoo.plugins import glyphs
from zoo.plugins.glyphs import cache as glyphs_cache
from zoo.plugins.glyphs import render as glyphs_data


@pytest.fixture(scope="module")
def fonts_and_masters():
    fonts = glyphs_data.font_sources()
    return fonts, glyphs_data.render_masters(fonts)


@pytest.fixture
def tiny(monkeypatch, tmp_path, fresh_registry):
    """The data set shrunk to 1 image per class, cached under a fresh ``ZOO_CACHE``."""
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(glyphs, "PER_CLASS", 1)
    return tmp_path / "cache"


def _ink(images: np.ndarray) -> np.ndarray:
    """Pixels above mid-grey per image (noise alone never gets there in numbers)."""
    return (images[:, 0] > 127).reshape(len(images), -1).sum(1)


# ---------------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------------
def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_images(fonts_and_masters):
    fonts, masters = fonts_and_masters
    a = glyphs_data.generate(2, seed=0, fonts=fonts, masters=masters)
    b = glyphs_data.generate(2, seed=0, fonts=fonts, masters=masters)
    c = glyphs_data.generate(2, seed=1, fonts=fonts, masters=masters)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
    images, labels, font_index = a
    assert images.shape == (72, 1, 32, 32) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == [k for k in range(36) for _ in range(2)]
    assert font_index.dtype == np.int16 and images[:, :, 0, 0].mean() < 40  # black background, white glyphs
    assert not np.array_equal(images, c[0])
    assert (images != c[0]).reshape(72, -1).any(1).all()  # every image changes with the seed
    # the global RNGs are neither used nor moved
    state = np.random.get_state()[1].copy()
    glyphs_data.generate(1, seed=0, fonts=fonts, masters=masters)
    assert np.array_equal(np.random.get_state()[1], state)


def test_every_font_draws_every_class(fonts_and_masters):
    fonts, masters = fonts_and_masters
    names = [f.name for f in fonts]
    assert names == [name for name, _ in glyphs_data.FONT_FILES] + [glyphs_data.PIL_DEFAULT] and len(names) == 23
    assert {f.family for f in fonts} == {"DejaVu", "STIX", "Computer Modern", "Aileron"}
    doc = " ".join((glyphs.__doc__ or "").split())  # the docstring names each font it claims
    for words in (
        "**Fonts** (23;",
        "DejaVu Sans, Sans Bold, Sans Oblique, Sans Bold Oblique, Sans Mono (the same four faces), Serif, Serif Bold, Serif Italic, Serif Bold Italic (12)",
        "STIXGeneral Regular, Bold, Italic, Bold Italic (4)",
        "cmr10, cmb10, cmti10, cmss10, cmtt10, cmmi10 (6;",
        "Aileron Regular 1.102",
    ):
        assert words in doc, words
    images, labels, font_index = glyphs_data.generate(len(fonts), seed=3, fonts=fonts, masters=masters)
    pairs = set(zip(font_index.tolist(), labels.tolist(), strict=True))
    assert pairs == {(f, k) for f in range(len(fonts)) for k in range(36)}  # one image of each class per font
    ink = _ink(images)
    assert ink.min() >= 15, [(names[font_index[i]], glyphs.CLASSES[labels[i]]) for i in np.flatnonzero(ink < 15)]
    # every stroke of every master has ink, and a thicker stroke has more of it
    for f, per_font in enumerate(masters):
        for k, strokes in enumerate(per_font):
            areas = [int((np.asarray(m) > 127).sum()) for m in strokes]
            assert areas == sorted(areas) and areas[0] >= 20, (names[f], glyphs.CLASSES[k], areas)


def test_check_font_refuses_faces_without_ordinary_glyphs():
    root = glyphs_data.font_sources()[0].path.parent
    last_resort = glyphs_data.FontSource("LastResortHE-Regular.ttf", "Last Resort", root / "LastResortHE-Regular.ttf")
    with pytest.raises(
        ZooError, match=r"^font LastResortHE-Regular.ttf cannot be used for the glyphs data set: '1' draws the same glyph as '0'$"
    ):
        glyphs_data.check_font(last_resort)
    display = glyphs_data.FontSource("DejaVuSansDisplay.ttf", "DejaVu", root / "DejaVuSansDisplay.ttf")
    with pytest.raises(ZooError, match=r"'0' is not in its character map$"):
        glyphs_data.check_font(display)
    assert "cmex10.ttf" in glyphs_data.SKIPPED_FONT_FILES and "cmsy10.ttf" in glyphs_data.SKIPPED_FONT_FILES


def test_each_class_is_legible_to_a_nearest_centroid_classifier(fonts_and_masters):
    """Nearest centroid on HOG features (8x8 cells, 2x2 blocks), fitted on 2 images per font and
    class (seed 0), scored on 1 per font and class of another seed. Measured: 0.667 overall,
    every class >= 0.35 (the worst is I, confused with 1), against a chance of 1/36 = 0.028;
    the thresholds (0.5 overall, 0.2 per class) stay well below that and far above chance."""
    from skimage.feature import hog
    from sklearn.neighbors import NearestCentroid

    fonts, masters = fonts_and_masters

    def features(images):
        return np.stack([hog(im[0], orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2)) for im in images])

    xa, ya, _ = glyphs_data.generate(2 * len(fonts), seed=0, fonts=fonts, masters=masters)
    xb, yb, _ = glyphs_data.generate(len(fonts), seed=1, fonts=fonts, masters=masters)
    predicted = NearestCentroid().fit(features(xa), ya).predict(features(xb))
    per_class = np.array([(predicted[yb == k] == k).mean() for k in range(36)])
    assert (predicted == yb).mean() > 0.5, (predicted == yb).mean()
    assert per_class.min() > 0.2, dict(zip(glyphs.CLASSES, per_class.round(2), strict=True))


def test_bad_arguments_are_one_line_errors(fonts_and_masters):
    fonts, masters = fonts_and_masters
    with pytest.raises(ZooError, match=r"^per_class must be at least 1, got 0$"):
        glyphs_data.generate(0, fonts=fonts, masters=masters)
    with pytest.raises(ZooError, match=r"^image_size must be at least 8 pixels, got 4$"):
        glyphs_data.generate(1, image_size=4, fonts=fonts, masters=masters)


# ---------------------------------------------------------------------------------
# the cache
# ---------------------------------------------------------------------------------
def test_the_cache_is_written_whole_and_reused(tiny, monkeypatch):
    path = glyphs.cache_path()
    assert path == tiny / "glyphs" / "glyphs-v1-32px-1-seed0.npz" and not path.exists()
    images, labels, classes = glyphs.load()
    assert images.shape == (36, 1, 32, 32) and labels.tolist() == list(range(36)) and classes == list(glyphs.CLASSES)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".lock"]  # no temporary file left
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        assert z["images"].tobytes() == images.tobytes() and z["font_index"].dtype == np.int16
    assert meta["per_class"] == 1 and meta["fonts"][-1] == glyphs_data.PIL_DEFAULT and len(meta["fingerprint"]["fonts"]) == 23

    def no_generation(*args, **kwargs):
        raise AssertionError("generated again")

    monkeypatch.setattr(glyphs_cache, "generate", no_generation)
    again, _, _ = glyphs.load()
    assert again.tobytes() == images.tobytes()


def test_a_failed_write_leaves_nothing_and_a_changed_cache_is_made_again(tiny, monkeypatch, capsys):
    path = glyphs.cache_path()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full_disk)
    with pytest.raises(ZooError, match=r"^cannot write the glyphs cache .* \(No space left on device\); make the cache writable"):
        glyphs.load()
    assert [p.name for p in path.parent.iterdir()] == [path.name + ".lock"]
    monkeypatch.undo()
    monkeypatch.setenv("ZOO_CACHE", str(tiny))
    monkeypatch.setattr(glyphs, "PER_CLASS", 1)
    images, _, _ = glyphs.load()
    path.write_bytes(b"not a zip")  # a damaged file: a warning, then made again
    capsys.readouterr()
    again, _, _ = glyphs.load()
    assert again.tobytes() == images.tobytes()
    assert "Warning: ignoring the unreadable glyphs cache" in capsys.readouterr().err
    made = path.stat().st_mtime_ns
    real = glyphs_data.fingerprint
    monkeypatch.setattr(glyphs_cache, "fingerprint", lambda fonts: {**real(fonts), "pillow": "0.0"})  # another Pillow: made again
    glyphs.load()
    assert path.stat().st_mtime_ns != made and "generating the glyphs data set (36 images, 23 fonts)" in capsys.readouterr().err


def test_a_second_loader_waits_for_the_first_instead_of_generating(tiny, monkeypatch):
    real, calls, started = glyphs_data.generate, [], threading.Event()

    def slow_generate(*args, **kwargs):
        calls.append(1)
        started.set()
        time.sleep(1.0)  # the first loader holds the lock meanwhile
        return real(*args, **kwargs)

    monkeypatch.setattr(glyphs_cache, "generate", slow_generate)
    first: list = []
    worker = threading.Thread(target=lambda: first.append(glyphs.load()))
    worker.start()
    assert started.wait(30)
    second = glyphs.load()  # blocks on the cache lock, then reads the first loader's file
    worker.join(30)
    assert len(calls) == 1 and second[0].tobytes() == first[0][0].tobytes()


# ---------------------------------------------------------------------------------
# --data glyphs:GROUP, and the listing
# ---------------------------------------------------------------------------------
def test_named_groups_and_ranges(tiny):
    from zoo.data import resolve_data

    cases = {
        "glyphs": list(glyphs.CLASSES),
        "glyphs:digits": [str(i) for i in range(10)],
        "glyphs:letters": list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        "glyphs:0-4": ["0", "1", "2", "3", "4"],
        "glyphs:A-C,7": ["A", "B", "C", "7"],
        "glyphs:letters,0": [*"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0"],
    }
    for data, classes in cases.items():
        source = resolve_data(data)
        assert source.classes == classes and source.name == data, data
        assert sorted(set(source.targets_train)) == list(range(len(classes)))  # renumbered from 0
    assert resolve_data("glyphs:digits").classes == resolve_data("digits").classes  # the same names as the handwritten digits
    with pytest.raises(ZooError, match=r"^class '3' is repeated in --data glyphs:digits,3$"):
        resolve_data("glyphs:digits,3")
    with pytest.raises(ZooError, match=r"^--data glyphs has no class 'vowels'.*; valid: 0, 1, .*, Z; groups: digits, letters$"):
        resolve_data("glyphs:vowels")
    with pytest.raises(ZooError, match=r"^empty class range 'C-A'"):
        resolve_data("glyphs:C-A")
    with pytest.raises(ZooError, match=r"^--data digits has no class 'A'"):
        resolve_data("digits:A-C")


def test_dataset_spec_checks_its_groups():
    from zoo.registry.spec import DatasetSpec

    def loader():
        return None

    with pytest.raises(ZooError, match=r"^data-set group 'odd' names unknown classes \['9'\]; valid: 1, 3$"):
        DatasetSpec(loader, classes=("1", "3"), groups={"odd": ("1", "9")})
    with pytest.raises(ZooError, match=r"^data-set group '1' has the name of a class; rename the group$"):
        DatasetSpec(loader, classes=("1", "3"), groups={"1": ("3",)})
    with pytest.raises(ZooError, match=r"^data-set group 'none' is empty"):
        DatasetSpec(loader, classes=("1", "3"), groups={"none": ()})


def test_the_listing_shows_size_classes_and_cache_without_generating(tiny, monkeypatch):
    def no_generation(*args, **kwargs):
        raise AssertionError("the listing generated the data set")

    monkeypatch.setattr(glyphs_cache, "generate", no_generation)
    monkeypatch.setattr(glyphs, "PER_CLASS", 1400)
    res = run("plugins", "--json")
    assert res.exit_code == 0, res.output
    row = next(r for r in json.loads(res.stdout) if r["name"] == "glyphs")
    (detail,) = row["dataset_details"]
    path = tiny / "glyphs" / "glyphs-v1-32px-1400-seed0.npz"
    assert (detail["name"], detail["images"], detail["image_shape"], detail["cached"]) == ("glyphs", 50400, [1, 32, 32], False)
    assert detail["classes"] == list(glyphs.CLASSES) and detail["cache"] == str(path)
    assert detail["groups"] == {"digits": list(glyphs.CLASSES[:10]), "letters": list(glyphs.CLASSES[10:])}
    digits = next(r for r in json.loads(res.stdout) if r["name"] == "datasets")["dataset_details"][0]
    assert (digits["name"], digits["images"], digits["image_shape"], digits["cache"]) == ("digits", 1797, [1, 8, 8], None)
    res = run("plugins")
    assert res.exit_code == 0, res.output
    table = res.stdout[res.stdout.index("data sets") :]
    assert "50,400" in table and "1x32x32" in table and "36: 0, 1, 2, ..., Z" in "".join(table.split("\n"))
    assert f"glyphs: not generated yet; its first use writes {path}" in res.stdout
    assert not tiny.exists()  # nothing was written
