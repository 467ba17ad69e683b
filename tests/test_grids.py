"""Images that explain themselves (issue 18, item 5): labelled grids from the one writer.

Class-conditional grids have one row per class, labelled with the class name; StarGAN's columns
are headed by their targets; image-to-image grids show each input beside its translations; a
lone translation is the generator's own pixels. Every test locates the cells with
:func:`zoo.io.grid_text.grid_layout`, checks that the PNG has the layout's size, that every cell
holds exactly the family's quantised pixels (so no label touches a cell), and measures the
labels independently: each label's ink, rendered alone with the same font, is all in its band
(nothing cut) and the band is at least as wide as the text.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from cli_helpers import run
from PIL import Image, ImageDraw, ImageFont

from zoo.errors import ZooError
from zoo.io.grid_text import PAD, font_file, grid_layout
from zoo.io.grids import grid_pixels, grid_scale, save_grid
from zoo.io.images import round_to_uint8
from zoo.models.gan import SampleGrid
from zoo.registry import build
from zoo.tasks.sampling import EpochSamples, sample_grid
from zoo.tasks.translate import portrait, translate_images
from zoo.training.trainer import Trainer

CELEBA = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread


# -- helpers ---------------------------------------------------------------------------------------


def png(path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "RGB"
        return np.asarray(im).copy()


def layout_of(pixels: np.ndarray, grid: SampleGrid, scale: int):
    """The layout the writer used, checked against the PNG's size."""
    h, w = grid.images.shape[-2:]
    layout = grid_layout(grid.images.shape[0], grid.cols, h * scale, w * scale, row_labels=grid.row_labels, col_labels=grid.col_labels)
    assert pixels.shape == (layout.height, layout.width, 3)
    return layout


def assert_cells(pixels: np.ndarray, layout, images: torch.Tensor, quantise, scale: int) -> None:
    """Every cell is ``quantise`` of its image, enlarged ``scale`` times by repetition; frames white."""
    want = quantise(images).expand(-1, 3, -1, -1).permute(0, 2, 3, 1).numpy()
    want = want.repeat(scale, axis=1).repeat(scale, axis=2)
    h, w = want.shape[1:3]
    assert (layout.cell_h, layout.cell_w) == (h, w)
    mask = np.zeros(pixels.shape[:2], dtype=bool)
    for i, cell in enumerate(want):
        y, x = layout.cell_origin(i)
        assert np.array_equal(pixels[y : y + h, x : x + w], cell), f"cell {i}"
        mask[y : y + h, x : x + w] = True
    body = pixels[layout.top :, layout.left :][~mask[layout.top :, layout.left :]]
    assert (body == 255).all()  # frames and slot margins: white, no label ink


def ink(region: np.ndarray) -> int:
    return int((region.min(axis=-1) < 160).sum())


def ink_alone(lines: tuple[str, ...], px: int) -> int:
    """The dark pixels of ``lines`` drawn alone, far from any edge, with the labels' font."""
    font = ImageFont.truetype(str(font_file()), px)
    total = 0
    for line in lines:
        img = Image.new("RGB", (40 + 2 * px * max(1, len(line)), 4 * px), (255, 255, 255))
        ImageDraw.Draw(img).text((20 - min(0, font.getbbox(line)[0]), px), line, font=font, fill=(0, 0, 0))
        total += ink(np.asarray(img))
    return total


def text_width(text: str, px: int) -> int:
    font = ImageFont.truetype(str(font_file()), px)
    return max(math.ceil(font.getbbox(line)[2]) for line in text.split("\n"))


def assert_col_labels(pixels: np.ndarray, layout, labels) -> None:
    """Each column header is whole in its band, above its own column."""
    assert layout.top > 0 and ["".join(lines).replace(" ", "") for lines in layout.col_lines] == [t.replace(" ", "") for t in labels]
    for c, lines in enumerate(layout.col_lines):
        x = layout.left + layout.pad + c * (layout.slot_w + layout.pad)
        band = pixels[: layout.top, x : x + layout.slot_w]
        assert ink(band) == ink_alone(lines, layout.font_px) > 0, f"column {c}: {lines}"


def assert_row_labels(pixels: np.ndarray, layout, labels) -> None:
    """Each row label is whole in the left band, beside its own row; the band fits the text."""
    assert ["".join(lines).replace(" ", "") for lines in layout.row_lines] == [t.replace(" ", "") for t in labels]
    assert layout.left >= max(text_width(line, layout.font_px) for lines in layout.row_lines for line in lines)
    for r, lines in enumerate(layout.row_lines):
        y = layout.top + layout.pad + r * (layout.slot_h + layout.pad)
        band = pixels[y : y + layout.slot_h, : layout.left]
        assert ink(band) == ink_alone(lines, layout.font_px) > 0, f"row {r}: {lines}"


# -- the writer --------------------------------------------------------------------------------------


def test_unlabelled_grids_keep_make_grids_layout():
    from torchvision.utils import make_grid

    g = torch.Generator().manual_seed(0)
    for n, c, h, w, nrow in [(5, 1, 16, 16, None), (1, 1, 8, 8, None), (1, 3, 40, 40, None), (7, 3, 70, 50, 3), (3, 3, 10, 10, 8)]:
        x = torch.rand(n, c, h, w, generator=g)
        big = torch.nn.functional.interpolate(x, scale_factor=max(1, 64 // min(h, w)), mode="nearest")
        want = round_to_uint8(make_grid(big, nrow=nrow or math.ceil(math.sqrt(n)), padding=2, pad_value=1.0))
        assert torch.equal(grid_pixels(x, nrow=nrow), want), (n, c, h, w, nrow)


def test_the_enlargement_rule():
    """Cells of 32 px or less are enlarged to 33-64 px by an integer factor; bigger ones, or any on request, are not."""
    assert [grid_scale(None, s, s) for s in (8, 16, 28, 32, 33, 64, 128)] == [8, 4, 2, 2, 1, 1, 1]
    assert grid_scale(None, 128, 20) == 3 and grid_scale(1, 8, 8) == 1 and grid_scale(3, 128, 128) == 3
    for bad in (0, 17, 2.0, True, "2"):
        with pytest.raises(ZooError) as info:
            grid_scale(bad, 8, 8)
        assert info.value.for_cli().startswith("--scale must be an integer from 1 (the generator's own pixels) to 16, got ")
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    assert tuple(grid_pixels(x, scale=1).shape) == (3, 12, 22) and tuple(grid_pixels(x).shape) == (3, 68, 134)


def test_long_labels_wrap_or_widen_and_are_never_cut(tmp_path):
    images = torch.rand(4, 3, 20, 20, generator=torch.Generator().manual_seed(2))
    cols = ("Wearing_Lipstick_and_Heavy_Makeup", "Extraordinarilylongattribute")  # wraps at "_"; one long word widens every column
    rows = ("a.png", "a photograph with a long name, of a horse.png")
    out = save_grid(images, tmp_path / "g.png", nrow=2, row_labels=rows, col_labels=cols)
    pixels = png(out)
    layout = layout_of(pixels, SampleGrid(images, 2, rows, cols), 3)
    assert len(layout.col_lines[0]) > 1 and all(line.endswith("_") for line in layout.col_lines[0][:-1]) and len(layout.col_lines[1]) == 1
    assert layout.slot_w > layout.cell_w and layout.slot_w >= text_width(cols[1], layout.font_px)
    assert max(text_width(line, layout.font_px) for line in layout.col_lines[0]) <= layout.slot_w
    assert len(layout.row_lines[1]) > 1  # wrapped at spaces beyond max(cell, 10 x font size)
    assert_cells(pixels, layout, images, round_to_uint8, 3)
    assert_col_labels(pixels, layout, cols)
    assert_row_labels(pixels, layout, rows)
    with pytest.raises(ZooError, match=r"^3 column labels for a grid of 2 columns; give one per column$"):
        grid_pixels(images, nrow=2, col_labels=("a", "b", "c"))
    with pytest.raises(ZooError, match=r"^1 row labels for a grid of 2 rows \(4 cells, 2 per row\); give one per row$"):
        grid_pixels(images, nrow=2, row_labels=("a",))


# -- class-conditional: one row per class ---------------------------------------------------------


def test_cgan_grid_has_one_labelled_row_per_class(tmp_path):
    torch.manual_seed(0)
    names = ["zero", "one", "Wearing_Lipstick"]
    adapter = build("cgan", image_size=8, num_classes=3, class_names=names, latent_dim=4)
    grid = sample_grid(adapter, 7, seed=3)
    assert (grid.images.shape, grid.cols, grid.row_labels, grid.col_labels) == ((9, 1, 8, 8), 3, tuple(names), ())
    for k in range(3):  # row k is class k, and column j has the same noise in every row
        assert torch.equal(grid.images[3 * k : 3 * k + 3], adapter.sample(3, seed=3, condition=k))
    callback = EpochSamples(tmp_path / "samples", n=7, seed=3)  # the per-epoch grid: the same layout
    callback.on_epoch_end(None, adapter, 1, {})
    assert callback.files == [tmp_path / "samples" / "epoch_0001.png"]
    pixels = png(callback.files[0])
    layout = layout_of(pixels, grid, 8)  # 8 px cells enlarged 8 times
    assert (layout.rows, layout.cols, layout.top) == (3, 3, 0)
    assert_cells(pixels, layout, grid.images, adapter.quantise, 8)
    assert_row_labels(pixels, layout, names)

    one = sample_grid(adapter, 4, seed=3, condition="one")  # one class: a square grid, each row labelled with it
    assert one.cols == 2 and one.row_labels == ("one", "one") and torch.equal(one.images, adapter.sample(4, seed=3, condition=1))


def test_zoo_sample_cgan_writes_the_labelled_rows(tmp_path):
    from zoo.io.checkpoint import save_checkpoint
    from zoo.tasks.sampling import load_gan

    torch.manual_seed(0)
    adapter = build("cgan", image_size=8, num_classes=2, class_names=["cat", "dog"], latent_dim=4)
    save_checkpoint(tmp_path / "run", adapter, {"condition": adapter.condition.to_json()})
    res = run("sample", "cgan", "--checkpoint", tmp_path / "run", "--n", "5", "--seed", "1", "--out", tmp_path / "g.png", "--json")
    assert res.exit_code == 0, res.output
    grid = load_gan("cgan", tmp_path / "run").sample_grid(5, seed=1)
    assert grid.row_labels == ("cat", "dog") and grid.cols == 3
    pixels = png(tmp_path / "g.png")
    layout = layout_of(pixels, grid, 8)
    assert_cells(pixels, layout, grid.images, adapter.quantise, 8)
    assert_row_labels(pixels, layout, ["cat", "dog"])
    assert run("sample", "cgan", "--checkpoint", tmp_path / "run", "--n", "5", "--scale", "2", "--out", tmp_path / "s.png").exit_code == 0
    assert png(tmp_path / "s.png").shape[0] == 2 * 16 + 3 * PAD  # --scale 2: 16 px cells
    res = run("sample", "cgan", "--checkpoint", tmp_path / "run", "--scale", "0", "--out", tmp_path / "z.png")
    assert res.exit_code == 2 and "--scale must be an integer from 1" in res.output and not (tmp_path / "z.png").exists()


# -- StarGAN: columns headed by their targets -----------------------------------------------------


def small_stargan(**options):
    torch.manual_seed(0)
    return build("stargan", **{"image_size": 16, "g_conv_dim": 4, "d_conv_dim": 4, "g_repeat_num": 1, **options})


def test_stargan_translation_grid_heads_every_target(tmp_path):
    """No --attr: the official x_concat (input, then every create_labels target), headed."""
    adapter = small_stargan()
    out = tmp_path / "all.png"
    res = translate_images(adapter, None, out=out)  # the portrait: Brown_Hair, not Male, Young
    headers = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "not Young"]
    assert res["targets"] == headers and res["shape"] == [1, 3, 16, 16]
    x = adapter.preprocess(portrait())[None]
    columns = adapter.translations(x, None, source="Brown_Hair=1,Male=0,Young=1")
    assert [h for h, _ in columns] == headers
    images = torch.cat([((x + 1) / 2).clamp(0, 1), *[y for _, y in columns]])
    grid = SampleGrid(images, 6, ("portrait",), ("input", *headers))
    pixels = png(out)
    layout = layout_of(pixels, grid, 4)  # 16 px cells: enlarged 4 times
    assert_cells(pixels, layout, images, adapter.quantise, 4)
    assert_col_labels(pixels, layout, grid.col_labels)
    assert_row_labels(pixels, layout, ["portrait"])

    one = translate_images(adapter, None, out=tmp_path / "old.png", condition="blond,old", scale=1)  # one target, native pixels
    assert one["targets"] == ["Blond_Hair, not Young"]
    pixels = png(tmp_path / "old.png")
    layout = layout_of(pixels, SampleGrid(images[:2], 2, ("portrait",), ("input", "Blond_Hair, not Young")), 1)
    assert layout.cell_h == 16 and len(layout.col_lines[1]) > 1  # wrapped above a 16 px cell
    assert_col_labels(pixels, layout, ("input", "Blond_Hair, not Young"))


def test_stargan_per_epoch_grid_is_the_official_debug_layout(tmp_path):
    adapter = small_stargan(mode="domain", attrs=["0", "1", "2"])
    batch = (torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1, torch.arange(6) % 3)
    callback = EpochSamples(tmp_path / "samples", n=9, seed=3)
    Trainer(epochs=1, progress=False, callbacks=[callback]).fit(adapter, [batch])
    grid = adapter.sample_grid(9, seed=3)
    assert grid.cols == 4 and grid.col_labels == ("input", "0", "1", "2") and grid.images.shape[0] == 3 * 4  # ceil(9 / 3) rows
    flat = adapter.sample(64, seed=3)  # the flat debug batch: a block of the inputs, then one block per target
    for j in range(4):
        assert torch.equal(grid.images[j::4], flat[6 * j : 6 * j + 3])
    assert adapter.sample_grid(64, seed=3).images.shape[0] == 6 * 4  # at most the 6 images kept
    pixels = png(callback.files[0])
    layout = layout_of(pixels, grid, 4)
    assert_cells(pixels, layout, grid.images, adapter.quantise, 4)
    assert_col_labels(pixels, layout, grid.col_labels)


# -- image to image: input beside output ---------------------------------------------------------


def test_cyclegan_grids_show_each_input_beside_its_translation(tmp_path):
    torch.manual_seed(0)
    adapter = build("cyclegan", image_size=16, channels=1, ngf=4, ndf=4, class_names=["horse", "zebra"])
    batch = (torch.rand(8, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1, torch.arange(8) % 2)
    callback = EpochSamples(tmp_path / "samples", n=3, seed=1)
    Trainer(epochs=1, progress=False, callbacks=[callback]).fit(adapter, [batch])
    grid = adapter.sample_grid(3, seed=1)
    assert grid.cols == 4 and grid.col_labels == ("input (horse)", "horse -> zebra") * 2  # ceil(sqrt(3 / 2)) = 2 pairs a row
    assert torch.equal(grid.images[1::2], adapter.sample(3, seed=1))
    assert torch.equal(
        grid.images[0::2], ((adapter._probe["a"][torch.randperm(4, generator=torch.Generator().manual_seed(1))[:3]] + 1) / 2)
    )
    pixels = png(callback.files[0])
    layout = layout_of(pixels, grid, 4)
    assert_cells(pixels, layout, grid.images, adapter.quantise, 4)
    assert_col_labels(pixels, layout, grid.col_labels)
    assert adapter.sample_grid(2, seed=1, condition="BtoA").col_labels == ("input (zebra)", "zebra -> horse")

    files = []
    for i in range(2):
        Image.fromarray(np.full((16, 16), 60 * (i + 1), dtype=np.uint8)).save(tmp_path / f"x{i}.png")
        files.append(tmp_path / f"x{i}.png")
    res = translate_images(adapter.eval(), files, out=tmp_path / "t.png")  # several inputs: side by side by default
    assert res["targets"] == ["horse -> zebra"]
    xs = torch.stack([adapter.preprocess(Image.open(f)) for f in files])
    images = torch.stack([((xs + 1) / 2).clamp(0, 1), adapter.translate(xs)], 1).flatten(0, 1)
    grid = SampleGrid(images, 2, ("x0.png", "x1.png"), ("input", "horse -> zebra"))
    pixels = png(tmp_path / "t.png")
    layout = layout_of(pixels, grid, 4)
    assert_cells(pixels, layout, images, adapter.quantise, 4)
    assert_col_labels(pixels, layout, grid.col_labels)
    assert_row_labels(pixels, layout, grid.row_labels)


def test_srresnet_grids_show_bicubic_beside_the_super_resolution(tmp_path):
    torch.manual_seed(0)
    adapter = build("srresnet", image_size=16, ngf=8, n_blocks=1)
    grid = adapter.sample_grid(2, seed=5)
    assert grid.cols == 3 and grid.col_labels == ("bicubic x4", "SRResNet x4", "original")
    assert torch.equal(grid.images[1::3], adapter.sample(2, seed=5))

    files = []
    for i in range(2):
        Image.effect_noise((12, 10), 30 + i).convert("RGB").save(tmp_path / f"s{i}.png")
        files.append(tmp_path / f"s{i}.png")
    res = translate_images(adapter, files, out=tmp_path / "sr.png")
    assert res["targets"] == ["SRResNet x4"] and res["shape"] == [2, 3, 40, 48]
    xs = torch.stack([adapter.preprocess(Image.open(f)) for f in files])
    bicubic = torch.nn.functional.interpolate(xs, size=(40, 48), mode="bicubic", align_corners=False).clamp(0, 1)
    images = torch.stack([bicubic, adapter.translate(xs)], 1).flatten(0, 1)
    grid = SampleGrid(images, 2, ("s0.png", "s1.png"), ("bicubic x4", "SRResNet x4"))
    pixels = png(tmp_path / "sr.png")
    layout = layout_of(pixels, grid, 1)  # 40 px cells: not enlarged
    assert_cells(pixels, layout, images, adapter.quantise, 1)
    assert_col_labels(pixels, layout, grid.col_labels)


# -- the native-resolution rule -------------------------------------------------------------------


def test_a_lone_translation_is_the_generators_pixels_and_grids_follow_the_rule(tmp_path):
    adapter = small_stargan()
    Image.effect_noise((178, 218), 40).convert("RGB").save(tmp_path / "face.png")
    face = tmp_path / "face.png"
    y = adapter.quantise(adapter.translate(adapter.preprocess(Image.open(face))[None], "blond", source="Male"))[0].permute(1, 2, 0)
    translate_images(adapter, [face], out=tmp_path / "alone.png", condition="blond", source="Male", side_by_side=False)
    assert np.array_equal(png(tmp_path / "alone.png"), y.numpy())  # 16 x 16: exactly its pixels, never enlarged
    translate_images(adapter, [face], out=tmp_path / "x3.png", condition="blond", source="Male", side_by_side=False, scale=3)
    assert np.array_equal(png(tmp_path / "x3.png"), y.numpy().repeat(3, axis=0).repeat(3, axis=1))  # on request: 3x3 blocks

    auto = png(translate_images(adapter, [face], out=tmp_path / "a.png", condition="blond", source="Male")["out"])
    native = png(translate_images(adapter, [face], out=tmp_path / "n.png", condition="blond", source="Male", scale=1)["out"])
    grid = SampleGrid(torch.zeros(2, 3, 16, 16), 2, ("face.png",), ("input", "Blond_Hair"))
    assert layout_of(auto, grid, 4).cell_h == 64 and layout_of(native, grid, 1).cell_h == 16  # 16 px cells: 4x unless --scale 1
    big = small_stargan(image_size=128, crop_size=0)
    pixels = png(translate_images(big, [face], out=tmp_path / "b.png", condition="blond", source="Male")["out"])
    assert layout_of(pixels, SampleGrid(torch.zeros(2, 3, 128, 128), 2, ("face.png",), ("input", "Blond_Hair")), 1).cell_h == 128
