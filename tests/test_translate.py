"""Image-to-image sampling plumbing (zoo.tasks.translate): inputs, the built-in portrait, the output PNG."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image

from zoo.errors import ZooError
from zoo.io.grid_text import grid_layout
from zoo.io.images import read_image
from zoo.models.conditions import ConditionSpec
from zoo.models.gan import GANAdapter
from zoo.registry.spec import ModelSpec
from zoo.tasks.translate import PORTRAIT_ATTRIBUTES, portrait, translate_images


class _Doubler(GANAdapter):
    """A test family: 2x nearest upscaling of the input, records the condition it was given."""

    def __init__(self, condition: ConditionSpec | None = None) -> None:
        spec = ModelSpec(name="doubler", family="doubler", kind="gan", plugin="tests", arch="doubler")
        super().__init__(spec, {"generator": torch.nn.Identity()}, image_size=16, channels=3, condition=condition)
        self.calls: list[tuple] = []

    def preprocess(self, image):
        from torchvision.transforms import v2

        t = v2.Compose(
            [v2.ToImage(), v2.RGB(), v2.Resize((16, 16)), v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5] * 3, [0.5] * 3)]
        )
        return t(image)

    def translate(self, images, condition=None, *, source=None):
        self.calls.append((condition, source))
        return torch.nn.functional.interpolate((images + 1) / 2, scale_factor=2, mode="nearest")


def _png(path, mode="RGB", size=(20, 24)):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).convert(mode).save(path)
    return path


def test_portrait_is_a_celeba_frame():
    img = portrait()
    assert img.size == (178, 218) and img.mode == "RGB"


def test_translation_only_writes_the_exact_pixels(tmp_path):
    src = _png(tmp_path / "in.png")
    out = tmp_path / "out.png"
    res = translate_images(_Doubler(), [src], out=out)
    assert res["shape"] == [1, 3, 32, 32]
    written = np.asarray(Image.open(out))
    assert written.shape == (32, 32, 3)  # one image: no grid border


def test_side_by_side_and_portrait_source(tmp_path):
    names = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
    ad = _Doubler(ConditionSpec(kind="attribute", names=names))
    out = tmp_path / "pair.png"
    res = translate_images(ad, None, out=out, condition="blond")
    assert res["inputs"] == ["portrait (skimage astronaut)"]
    assert ad.calls == [("blond", ",".join(f"{k}={v}" for k, v in PORTRAIT_ATTRIBUTES.items()))]
    assert res["targets"] == ["Blond_Hair"]
    layout = grid_layout(2, 2, 64, 64, row_labels=["portrait"], col_labels=["bicubic x2", "Blond_Hair"])  # 32 px cells, enlarged 2x
    assert Image.open(out).size == (layout.width, layout.height)  # input | translation, labelled


def test_user_source_is_kept_and_inputs_of_two_sizes_are_refused(tmp_path):
    ad = _Doubler(ConditionSpec(kind="attribute", names=("A", "B")))
    a, b = _png(tmp_path / "a.png"), _png(tmp_path / "b.png", size=(30, 30))
    translate_images(ad, [a, b], out=tmp_path / "ab.png", condition="A", source="B")
    assert ad.calls[-1] == ("A", "B")

    class Native(_Doubler):  # keeps the input size, so inputs of two sizes cannot share a grid
        def preprocess(self, image):
            from torchvision.transforms import v2

            return v2.Compose([v2.ToImage(), v2.RGB(), v2.ToDtype(torch.float32, scale=True)])(image) * 2 - 1

    with pytest.raises(ZooError, match=r"the 2 --image inputs translate to different sizes \(\[3, 48, 40\], \[3, 60, 60\]\)"):
        translate_images(Native(), [a, b], out=tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def _float_tiff(path):
    Image.fromarray(np.linspace(0, 1, 64, dtype="float32").reshape(8, 8), mode="F").save(path)
    return path


def test_every_pil_mode_becomes_8_bit_l_or_rgb(tmp_path):
    """CMYK, palette and alpha images become RGB; 16-bit greyscale is scaled (>> 8), not clipped at 255."""
    assert read_image(_png(tmp_path / "cmyk.jpg", mode="CMYK")).mode == "RGB"
    Image.new("P", (4, 4)).save(tmp_path / "p.png")
    Image.new("RGBA", (4, 4), (10, 20, 30, 40)).save(tmp_path / "a.png")
    assert read_image(tmp_path / "p.png").mode == "RGB" and read_image(tmp_path / "a.png").getpixel((0, 0)) == (10, 20, 30)
    wide = np.array([[0, 256, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(wide).save(tmp_path / "w.png")
    img = read_image(tmp_path / "w.png")
    assert img.mode == "L" and list(np.asarray(img)[0]) == [0, 1, 128, 255]
    assert read_image(tmp_path / "w.png", mode="RGB").getpixel((2, 0)) == (128, 128, 128)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.png", "^image .*missing.png does not exist; give an image file"),
        (lambda p: p, "^image .* is a directory; give an image file"),
        (lambda p: (p / "bad.png").write_bytes(b"not an image") and p / "bad.png", "^cannot read image .*bad.png: it is a text file"),
        (
            lambda p: (p / "cut.png").write_bytes(_png(p / "ok.png").read_bytes()[:60]) and p / "cut.png",
            "^cannot read image .*cut.png: it is a PNG image .* that PIL cannot decode",
        ),
        (lambda p: _float_tiff(p / "f.tif"), r"has 32-bit float pixels \(PIL mode F\); save it as an 8- or 16-bit PNG"),
    ],
)
def test_bad_images_are_one_line(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(ZooError) as info:
        read_image(path)
    text = info.value.for_cli()
    assert "\n" not in text
    assert re.search(message, text)


def test_a_cmyk_image_is_read_as_rgb(tmp_path):
    """zoo.io.images.read_image makes every mode PIL decodes L or RGB (CMYK JPEGs included)."""
    assert read_image(_png(tmp_path / "cmyk.jpg", mode="CMYK")).mode == "RGB"


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    src = _png(tmp_path / "big.png", size=(64, 64))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ZooError, match=r"is refused as a decompression bomb \(Image size \(4096 pixels\) exceeds limit of 2000 pixels"):
        read_image(src)
