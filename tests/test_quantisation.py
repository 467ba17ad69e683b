"""The images of the official families are byte-identical to the official code's (issue 16).

Given the same weights and input, ``zoo sample cyclegan|srgan|srresnet|stargan`` writes the
8-bit pixels the official test code writes. Each family declares its quantisation
(``adapter.quantise``): CycleGAN and SRGAN truncate, StarGAN rounds, the other families keep
rounding. The official rule is written out below from the official source (file and commit
in each helper), independently of zoo: where the official code calls a torchvision function
(leftthomas' ``ToPILImage``, StarGAN's ``save_image``), that very function is called.

The fixtures of ``tests/fixtures/reference`` (synthetic weights, stored input, the output
the official code computed) give the official float output; our model is run on the same
input through the path ``zoo sample`` takes (:func:`zoo.tasks.sampling.load_gan` with the file,
``translate``, :func:`zoo.tasks.sampling.save_grid` with the family's quantisation, the PNG read
back), and 0 levels may differ. Then ``zoo sample`` itself, end to end, on small weights.
"""

from __future__ import annotations

import io as bytes_io

import numpy as np
import pytest
import torch
from cli_helpers import run
from PIL import Image
from reference_fixtures import load_reference, synthetic_state_dict

from zoo.io.grids import save_grid
from zoo.io.images import round_to_uint8, truncate_to_uint8
from zoo.registry import build
from zoo.tasks.sampling import load_gan

# -- the official rules, from the official code ----------------------------------------------------


def official_cyclegan(output: torch.Tensor) -> np.ndarray:
    """junyanz/pytorch-CycleGAN-and-pix2pix ``util/util.py`` ``tensor2im`` at 2a7afba (lines 24-30)."""
    image_numpy = output[0].cpu().float().numpy()
    if image_numpy.shape[0] == 1:
        image_numpy = np.tile(image_numpy, (3, 1, 1))
    image_numpy = (np.transpose(image_numpy, (1, 2, 0)) + 1) / 2.0 * 255.0
    return image_numpy.astype(np.uint8)


def official_lornatang(sr_tensor: torch.Tensor) -> np.ndarray:
    """Lornatang/SRGAN-PyTorch ``imgproc.py`` ``tensor_to_image(tensor, False, False)`` at 8842030 (line 182)."""
    return sr_tensor.squeeze(0).permute(1, 2, 0).mul(255).clamp(0, 255).cpu().numpy().astype("uint8")


def official_leftthomas(out: torch.Tensor) -> np.ndarray:
    """leftthomas/SRGAN ``test_image.py`` at b0323c6 (line 39): ``ToPILImage()(out[0].data.cpu())``."""
    from torchvision.transforms import ToPILImage

    return np.asarray(ToPILImage()(out[0].data.cpu()))


def official_stargan(x_concat: torch.Tensor) -> np.ndarray:
    """yunjey/stargan ``solver.py`` at 94dd002: ``save_image(self.denorm(x_concat.data.cpu()), path, nrow=1, padding=0)``
    (line 549; ``denorm`` lines 123-126), the levels before the JPEG encoding of the official ``.jpg``."""
    from torchvision.utils import save_image

    def denorm(x):
        out = (x + 1) / 2
        return out.clamp_(0, 1)

    buf = bytes_io.BytesIO()
    save_image(denorm(x_concat.data.cpu()), buf, format="PNG", nrow=1, padding=0)
    return np.asarray(Image.open(buf).convert("RGB"))


def png_pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "RGB"
        return np.asarray(im).copy()


def levels(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    return int(np.abs(a.astype(np.int16) - b.astype(np.int16)).max())


# -- the fixtures: 0 levels of difference ------------------------------------------------------------

# fixture -> (zoo model, weights file name, the official rule, the stored output the official code computed)
FAMILIES = {
    "cyclegan_generator": ("cyclegan", "horse2zebra.pth", official_cyclegan, "output"),
    "srgan_generator": ("srgan", "SRGAN_x4-ImageNet.pth", official_lornatang, "output"),
    "srgan_leftthomas_generator": ("srgan", "netG_epoch_4_100.pth", official_leftthomas, "output"),
    "stargan_generator": ("stargan", "200000-G.ckpt", official_stargan, "output_trainmode"),  # Solver.test never calls eval()
}


@pytest.mark.parametrize("fixture", FAMILIES)
def test_zoo_sample_writes_the_official_pixels(tmp_path, fixture):
    name, file_name, official, stored = FAMILIES[fixture]
    meta, io = load_reference(fixture)
    weights = tmp_path / file_name
    torch.save(synthetic_state_dict(meta["state_dict"]), weights)
    adapter = load_gan(name, None, weights=weights)  # as zoo sample --weights FILE
    args = (io["input"], io["label"]) if name == "stargan" else (io["input"],)  # StarGAN: the fixture's full label
    ours = adapter.translate(*args)
    out = save_grid(ours, tmp_path / "out.png", min_cell=1, quantise=adapter.quantise)  # zoo.tasks.translate's writer, one image
    want = official(io[stored])
    assert want.shape == (*io[stored].shape[-2:], 3)
    assert levels(png_pixels(out), want) == 0
    assert levels(adapter.quantise(ours)[0].permute(1, 2, 0).numpy(), want) == 0
    # what rounding wrote before: one level off somewhere for the truncating families
    rounded = round_to_uint8(ours)[0].permute(1, 2, 0).numpy()
    assert levels(rounded, want) == (0 if name == "stargan" else 1)


def test_each_family_declares_its_official_quantisation():
    x = torch.tensor([0.0, 0.5, 0.9999, 1.0, 1 / 255 * 254.6])
    truncated, rounded = truncate_to_uint8(x).tolist(), round_to_uint8(x).tolist()
    assert truncated == [0, 127, 254, 255, 254] and rounded == [0, 128, 255, 255, 255]
    small = {"image_size": 16}
    for name, options, rule in [
        ("cyclegan", small, truncated),
        ("srgan", small, truncated),
        ("srresnet", small, truncated),
        ("stargan", {**small, "g_conv_dim": 4, "d_conv_dim": 4, "g_repeat_num": 1}, rounded),
        ("dcgan", small, rounded),
        ("cgan", {"image_size": 8}, rounded),
        ("vanilla_gan", {"image_size": 8}, rounded),
        ("lapgan", small, rounded),
    ]:
        assert build(name, **options).quantise(x).tolist() == rule, name


def test_cyclegan_float_order_is_numpys():
    """``(y + 1) / 2`` in torch float32, times 255, is numpy's ``(y + 1) / 2.0 * 255.0`` bit for bit."""
    y = torch.tanh(torch.randn(200_000, generator=torch.Generator().manual_seed(1)) * 3)
    ours = ((y + 1.0) / 2.0) * 255
    theirs = (y.numpy() + 1) / 2.0 * 255.0
    assert theirs.dtype == np.float32 and np.array_equal(ours.numpy(), theirs)


# -- zoo sample end to end ---------------------------------------------------------------------------


def _image(path, size=(20, 16), mode="RGB"):
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(mode).save(path)
    return path


def _weights(tmp_path, family: str) -> tuple[str, object, list[str]]:
    """(model name, small weights file as published, extra zoo sample arguments)."""
    from zoo.plugins.cyclegan import networks as cyclegan_networks
    from zoo.plugins.srgan import networks as srgan_networks
    from zoo.plugins.stargan import networks as stargan_networks

    torch.manual_seed(0)
    if family == "cyclegan":
        net, file, name, extra = cyclegan_networks.ResnetGenerator(3, 3, ngf=4, n_blocks=1), "g.pth", "cyclegan", []
    elif family == "cyclegan-grey":
        net, file, name, extra = cyclegan_networks.ResnetGenerator(1, 1, ngf=4, n_blocks=1), "g1.pth", "cyclegan", []
    elif family == "srresnet":
        net, file, name, extra = srgan_networks.SRResNet(3, 3, 8, 1, 4), "SRResNet_x4.pth.tar", "srresnet", []
    elif family == "srgan-leftthomas":
        net, file, name, extra = srgan_networks.LeftthomasGenerator(2), "netG_epoch_2_100.pth", "srgan", []
    else:
        net, file, name = stargan_networks.Generator(conv_dim=4, c_dim=5, repeat_num=1), "200000-G.ckpt", "stargan"
        extra = ["--attr", "blond"]
    with torch.no_grad():  # weights moved off their init, so the outputs spread over many levels (not saturated)
        for p in net.parameters():
            p.add_(torch.randn_like(p) * (0.01 if family == "srgan-leftthomas" else 0.1))
    path = tmp_path / file
    torch.save(net.state_dict(), path)
    return name, path, extra


@pytest.mark.parametrize("family", ["cyclegan", "cyclegan-grey", "srresnet", "srgan-leftthomas", "stargan"])
def test_zoo_sample_png_is_the_declared_quantisation_of_the_translation(tmp_path, family):
    name, weights, extra = _weights(tmp_path, family)
    src, out = _image(tmp_path / "x.png"), tmp_path / "out.png"
    res = run("sample", name, "--weights", weights, "--image", src, "--out", out, "--translation-only", *extra)
    assert res.exit_code == 0, res.output
    adapter = load_gan(name, None, weights=weights)
    y = adapter.translate(adapter.preprocess(Image.open(src))[None], "blond" if name == "stargan" else None)
    want = adapter.quantise(y)[0]
    if want.shape[0] == 1:  # a grey model's image is written as RGB, as tensor2im tiles it
        want = want.expand(3, -1, -1)
    written = png_pixels(out)
    assert written.shape == (*y.shape[-2:], 3)  # one image: exactly its pixels, no border
    assert np.array_equal(written, want.permute(1, 2, 0).numpy())
    assert len(np.unique(written)) > 10  # a real image, not a flat one


def test_grids_and_side_by_side_hold_the_family_quantisation(tmp_path):
    """Several inputs make a labelled grid (rows: the inputs; columns: the input shown bicubically
    enlarged, then the translation): every cell is the family's quantisation of its image."""
    from zoo.io.grid_text import grid_layout

    name, weights, _ = _weights(tmp_path, "srresnet")
    a, b = _image(tmp_path / "a.png"), _image(tmp_path / "b.png", mode="L")
    adapter = load_gan(name, None, weights=weights)
    xs = torch.stack([adapter.preprocess(Image.open(p)) for p in (a, b)])
    ys = adapter.quantise(adapter.translate(xs))
    h, w = ys.shape[-2:]
    shown = adapter.quantise(torch.nn.functional.interpolate(xs, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1))
    for flag, columns in [("--side-by-side", ["bicubic x4", "SRResNet x4"]), ("--translation-only", ["SRResNet x4"])]:
        out = tmp_path / f"grid{flag}.png"
        assert run("sample", name, "--weights", weights, "--image", a, "--image", b, "--out", out, flag).exit_code == 0
        cells = [c for pair in zip(shown, ys, strict=True) for c in pair] if len(columns) == 2 else list(ys)
        layout = grid_layout(len(cells), len(columns), h, w, row_labels=["a.png", "b.png"], col_labels=columns)  # 64 x 80: not enlarged
        grid = png_pixels(out)
        assert grid.shape == (layout.height, layout.width, 3) and layout.top > 0 and layout.left > 0
        for i, cell in enumerate(cells):
            y, x = layout.cell_origin(i)
            assert np.array_equal(grid[y : y + h, x : x + w], cell.permute(1, 2, 0).numpy()), (flag, i)

    name, weights, extra = _weights(tmp_path, "stargan")  # side by side by default: input | translation
    out = tmp_path / "pair.png"
    assert run("sample", name, "--weights", weights, "--image", a, "--out", out, *extra).exit_code == 0
    adapter = load_gan(name, None, weights=weights)
    y = adapter.quantise(adapter.translate(adapter.preprocess(Image.open(a))[None], "blond"))[0]
    s = y.shape[-1]
    layout = grid_layout(2, 2, s, s, row_labels=["a.png"], col_labels=["input", "Blond_Hair"])  # 128 px: not enlarged
    pair = png_pixels(out)
    top, left = layout.cell_origin(1)
    assert pair.shape == (layout.height, layout.width, 3)
    assert np.array_equal(pair[top : top + s, left : left + s], y.permute(1, 2, 0).numpy())
