"""SRResNet and SRGAN (Ledig et al. 2017, arXiv:1609.04802): the torch-free hook module
plugins/srgan/__init__.py and SRGANAdapter in plugins/srgan/adapter.py. Offline, CPU, seeded; small
widths (ngf/ndf 8, one residual block) and 16-32 px patches keep it fast."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from PIL import Image
from reference_fixtures import load_reference, synthetic_state_dict
from safetensors.torch import save_file

from zoo.errors import ZooError
from zoo.models.gan import GANAdapter, StepContext
from zoo.plugins import srgan
from zoo.plugins.srgan.data import bicubic_resize
from zoo.plugins.srgan.losses import CONTENT_LAYERS, VGG_RESCALE, VGGFeatures
from zoo.plugins.srgan.networks import DiscriminatorForVGG, LeftthomasGenerator, SRResNet
from zoo.plugins.srgan.official import load_official_srgan
from zoo.registry import build, get_spec, model_options
from zoo.training.trainer import Trainer

SMALL = {"ngf": 8, "n_blocks": 1}


def small(name: str, **options) -> GANAdapter:
    torch.manual_seed(0)
    extra = {"ndf": 8, "content_loss": "pixel"} if name == "srgan" else {}
    return build(name, **{"image_size": 16, **SMALL, **extra, **options})


def hr_batch(n: int = 4, size: int = 16, channels: int = 3, seed: int = 0):
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)), torch.zeros(n, dtype=torch.int64)


def tiny_vgg_file(path, layer: str = "vgg22", seed: int = 0):
    """A VGG19 weights file with just the tensors the ``layer`` feature network reads
    (torchvision's ``features.N.*`` names), random: the tests' stand-in for ImageNet weights."""
    torch.manual_seed(seed)
    net = VGGFeatures(layer, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return net


def changed(adapter, before) -> dict[str, bool]:
    return {
        name: any(v.is_floating_point() and not torch.equal(v, before[f"{name}.{k}"]) for k, v in net.state_dict().items())
        for name, net in adapter.model.items()
    }


# -- registry and build ---------------------------------------------------------------------------


def test_hook_module_and_registry_entries():
    assert srgan.zoo_build_model.__module__ == "zoo.pluginkit"
    assert [s.name for s in srgan.zoo_model_specs()] == ["srresnet", "srgan"]
    for name in ("srresnet", "srgan"):
        spec = get_spec(name)
        assert (spec.family, spec.kind, spec.arch, spec.input_size) == ("srgan", "gan", name, (3, 96, 96))
        assert spec.weights[0].tag == "imagenet-x4" and spec.weights[0].url.startswith("https://huggingface.co/ChangyuLiu/")
    assert get_spec("srgan").weight_source("leftthomas-voc-x4").sha256 == "f4c381640826a48d2440583e4920c6bb4041804f4e285c3c6d585f03961fe87c"


def test_every_build_option_is_declared_with_its_default():
    """zoo_model_options declares what resolve_options fills in, and nothing else; left out, each
    takes its declared default (None: the official_weights file's, or the spec's)."""
    assert srgan.zoo_model_options.__module__ == "zoo.pluginkit"
    for name in ("srresnet", "srgan"):
        declared = {o.name: o for o in model_options(name)}
        assert srgan.resolve_options(get_spec(name), {}) == {k: o.default for k, o in declared.items()}
        assert {k for k, o in declared.items() if o.from_data} == {"image_size", "channels", "official_weights"}
    only_srgan = {o.name for o in model_options("srgan")} - {o.name for o in model_options("srresnet")}
    assert only_srgan == {"ndf", "content_loss", "content_weights", "adversarial_weight", "pixel_weight"}


def test_default_builds_are_the_papers_networks():
    res, gan = build("srresnet"), build("srgan")
    assert list(res.networks) == ["generator"] and list(gan.networks) == ["generator", "discriminator"]
    assert isinstance(res.generator, SRResNet) and isinstance(gan.discriminator, DiscriminatorForVGG)
    assert res.generator.config() == {"in_channels": 3, "out_channels": 3, "channels": 64, "num_rcb": 16, "upscale": 4}
    assert gan.discriminator.config() == {"in_channels": 3, "out_channels": 1, "channels": 64, "image_size": 96}
    assert sum(p.numel() for p in res.model.parameters()) == get_spec("srresnet").num_params == 1_547_350
    assert sum(p.numel() for p in gan.model.parameters()) == get_spec("srgan").num_params == 1_547_350 + 23_563_649
    assert gan.frozen == {} and gan.condition.kind == "image" and gan.latent_dim == 0
    assert gan.config() == {
        "image_size": 96,
        "channels": 3,
        "ngf": 64,
        "n_blocks": 16,
        "upscale": 4,
        "flavour": "lornatang",
        "ndf": 64,
        "content_loss": "vgg54",
        "adversarial_weight": 1e-3,
        "pixel_weight": 0.0,
    }


def test_discriminator_of_other_patch_sizes_is_read_from_its_shapes():
    d = DiscriminatorForVGG(in_channels=1, channels=8, image_size=32)
    assert d(torch.zeros(2, 1, 32, 32)).shape == (2, 1)
    loaded = load_official_srgan(d.state_dict(), part="D")
    assert loaded.config() == d.config() == {"in_channels": 1, "out_channels": 1, "channels": 8, "image_size": 32}


def test_config_rebuilds_the_same_networks():
    for name in ("srresnet", "srgan"):
        a = small(name, channels=1, upscale=2)
        b = build(name, **a.config())
        assert {k: v.shape for k, v in a.model.state_dict().items()} == {k: v.shape for k, v in b.model.state_dict().items()}
        assert b.config() == a.config()


@pytest.mark.parametrize(
    "name, options, message",
    [
        (
            "srgan",
            {"image_size": 40},
            "srgan image_size (the high-resolution patch side) must be a multiple of 16 and >= 16 (the discriminator halves it four times), got 40",
        ),
        (
            "srresnet",
            {"image_size": 8},
            "srresnet image_size must be an int >= 16 (side of the high-resolution training patches in pixels, "
            "a multiple of upscale and, for srgan, of 16; 96 in the paper), got 8",
        ),
        ("srresnet", {"image_size": 18}, "srresnet image_size 18 is not a multiple of upscale 4; the LR input is image_size / upscale"),
        (
            "srresnet",
            {"channels": 2},
            "srresnet channels must be one of 1, 3 (3 for RGB or 1 for grey; left out: the official_weights file's, else 3), got 2",
        ),
        (
            "srresnet",
            {"channels": True},
            "srresnet channels must be one of 1, 3 (3 for RGB or 1 for grey; left out: the official_weights file's, else 3), got True",
        ),
        (
            "srresnet",
            {"upscale": 3},
            "srresnet upscale must be one of 2, 4, 8 (upscaling factor; 4 in the paper; left out: the official_weights file's, else 4), got 3",
        ),
        (
            "srgan",
            {"flavour": "ledig"},
            "srgan flavour must be one of lornatang, leftthomas (generator layout: lornatang, the paper's SRResNet, or leftthomas, "
            "the 5-block generator of its netG_epoch_4_100.pth; left out: the official_weights file's, else lornatang), got 'ledig'",
        ),
        (
            "srgan",
            {"content_loss": "vgg19"},
            "srgan content_loss must be one of vgg54, vgg22, pixel (vgg54: VGG19 relu5_4 features, the paper's SRGAN-VGG54; "
            "vgg22: relu2_2; pixel: pixel MSE, the paper's SRGAN-MSE), got 'vgg19'",
        ),
        (
            "srgan",
            {"adversarial_weight": -1},
            "srgan adversarial_weight must be a number >= 0 (weight of the adversarial loss; 1e-3 in the paper), got -1",
        ),
        (
            "srgan",
            {"ngf": 0},
            "srgan ngf must be an int >= 1 (generator width; 64 in the paper; left out: the official_weights file's, else 64), got 0",
        ),
        (
            "srresnet",
            {"content_loss": "pixel"},
            "srresnet trains with pixel MSE only; content_loss is an option of srgan (build srgan for the perceptual loss)",
        ),
        (
            "srgan",
            {"content_weights": "no/such/vgg19.pth"},
            "srgan content_weights no/such/vgg19.pth does not exist; give 'imagenet' or an existing file",
        ),
        ("srgan", {"official_weights": "no/such/G.pth"}, "srgan official_weights no/such/G.pth does not exist; give an existing file"),
        (
            "srresnet",
            {"zero_init_residual": "yes"},
            "srresnet zero_init_residual must be true or false (start each residual block as the identity; false: Lornatang's init), got 'yes'",
        ),
        (
            "srgan",
            {"icnr": 1},
            "srgan icnr must be true or false (ICNR init of the sub-pixel convolutions; false: Lornatang's init), got 1",
        ),
        (
            "srgan",
            {"flavour": "leftthomas", "n_blocks": 16},
            "srgan n_blocks=16 disagrees with leftthomas' generator (3 channels, ngf 64, 5 blocks) (n_blocks=5); leave it out or give 5",
        ),
    ],
)
def test_bad_build_options_are_one_line_errors(name, options, message):
    with pytest.raises(ZooError) as info:
        build(name, **options)
    assert str(info.value) == message and info.value.exit_code == 2


def test_zero_init_residual_starts_every_block_as_the_identity():
    """zoo's default (Goyal et al. 2017; torchvision zero_init_residual): each residual block's
    last BatchNorm weight is 0, so the trunk is the identity at init; False is Lornatang's init."""
    x = torch.rand(2, 8, 5, 5)
    for name in ("srresnet", "srgan"):
        g = small(name, n_blocks=3).generator
        for block in g.trunk:
            assert torch.equal(block.rcb[-1].weight, torch.zeros(8))
            assert torch.equal(block(x), x)
        official = small(name, n_blocks=3, zero_init_residual=False).generator
        assert all(torch.equal(b.rcb[-1].weight, torch.ones(8)) for b in official.trunk)
        assert not torch.equal(official.trunk(x), x)
    assert all(torch.equal(b.rcb[-1].weight, torch.ones(64)) for b in SRResNet().trunk)  # the network class: official


def test_icnr_starts_each_subpixel_stage_as_nearest_neighbour_upsampling():
    """ICNR (Aitken et al. 2017; fastai PixelShuffle_ICNR): conv + PixelShuffle at init equals
    one conv followed by nearest-neighbour upsampling, so every 2x2 output block is constant."""
    x = torch.rand(2, 8, 5, 5)
    for name in ("srresnet", "srgan"):
        for stage in small(name).generator.upsampling:
            conv, shuffle = stage.upsample_block[0], stage.upsample_block[1]
            y = shuffle(conv(x))
            assert y.shape == (2, 8, 10, 10)
            torch.testing.assert_close(y, torch.nn.functional.interpolate(y[..., ::2, ::2], scale_factor=2, mode="nearest"))
        official = small(name, icnr=False).generator.upsampling[0].upsample_block
        y = official[1](official[0](x))
        assert not torch.allclose(y, torch.nn.functional.interpolate(y[..., ::2, ::2], scale_factor=2, mode="nearest"))


def test_option_errors_name_the_cli_flag():
    with pytest.raises(ZooError) as info:
        build("srgan", content_weights="missing.safetensors")
    assert info.value.for_cli() == "srgan --content-weights missing.safetensors does not exist; give 'imagenet' or an existing file"


# -- training ---------------------------------------------------------------------------------------


def test_srresnet_trains_with_pixel_mse_through_the_trainer():
    adapter = small("srresnet")
    opts = adapter.configure_optimizers()
    assert list(opts) == ["generator"] and opts["generator"].lr == 1e-4 and opts["generator"].betas == (0.9, 0.999)
    before = {k: v.clone() for k, v in adapter.model.state_dict().items()}
    result = Trainer(epochs=1, progress=False).fit(adapter, [hr_batch()])
    assert changed(adapter, before) == {"generator": True}
    assert set(result) >= {"mse", "psnr"} and result["psnr"] == pytest.approx(
        -10 * torch.log10(torch.tensor(result["mse"])).item(), abs=1e-3
    )


def test_srresnet_step_is_mse_against_the_bicubic_downscaled_input():
    adapter = small("srresnet")
    hr, _ = hr_batch()
    (step,) = adapter.training_step((hr, None), StepContext())
    with torch.no_grad():
        lr = torch.nn.functional.interpolate(hr, size=(4, 4), mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
        # the loss sees the generator before its inference clamp (see the adapter's training_step)
        want = torch.nn.functional.mse_loss(adapter.generator(lr, clamp=False), hr)
    assert step.optimizer == "generator" and torch.allclose(step.loss, want)


def test_srgan_pixel_content_trains_both_networks_through_the_trainer():
    adapter = small("srgan")
    before = {k: v.clone() for k, v in adapter.model.state_dict().items()}
    result = Trainer(epochs=1, progress=False).fit(adapter, [hr_batch()])
    assert changed(adapter, before) == {"generator": True, "discriminator": True}
    assert {"d_loss", "d_real", "d_fake", "g_loss", "content_loss", "adversarial_loss", "mse"} <= set(result)
    assert result["content_loss"] == pytest.approx(4 * result["mse"], rel=1e-5)  # the paper's [-1, 1] scale
    assert result["g_loss"] == pytest.approx(result["content_loss"] + 1e-3 * result["adversarial_loss"], rel=1e-5)


def test_srgan_generator_step_leaves_the_discriminator_alone():
    adapter = small("srgan", pixel_weight=1.0)
    adapter.train()
    steps = adapter.training_step(hr_batch(), StepContext())
    d_step = next(steps)
    assert d_step.optimizer == "discriminator"
    d_step.loss.backward()
    assert all(p.grad is None for p in adapter.generator.parameters())
    adapter.discriminator.zero_grad(set_to_none=True)
    g_step = next(steps)
    assert g_step.optimizer == "generator"
    logs = g_step.logs
    assert torch.allclose(g_step.loss.detach(), logs["content_loss"] + 1e-3 * logs["adversarial_loss"] + logs["mse"])
    g_step.loss.backward()
    assert all(p.grad is None for p in adapter.discriminator.parameters())
    assert next(steps, None) is None
    assert [s.optimizer for s in adapter.training_step(hr_batch(), StepContext(update_generator=False))] == ["discriminator"]


def test_vgg_content_loss_without_weights_is_a_one_line_error():
    adapter = small("srgan", content_loss="vgg54")  # builds: sampling and reloading need no VGG
    message = (
        "srgan's vgg54 content loss needs ImageNet VGG19 weights for its feature network and none were given: "
        "give content_weights=imagenet (zoo's published vgg19 weights, cached or downloaded) or "
        "content_weights=FILE (torchvision's vgg19-dcbb9e9d.pth, a .safetensors or a zoo vgg19 checkpoint), "
        "or opt in to the pixel-MSE content loss with content_loss=pixel (on the command line: --model-kwargs content_loss=pixel)"
    )
    with pytest.raises(ZooError) as info:
        Trainer(epochs=1, progress=False).fit(adapter, [hr_batch()])
    assert str(info.value) == message and info.value.exit_code == 2
    assert info.value.for_cli().startswith(
        "srgan's vgg54 content loss needs ImageNet VGG19 weights for its feature network and none were given: give --content-weights=imagenet"
    )
    with pytest.raises(ZooError, match=r"^srgan's vgg54 content loss needs"):
        next(adapter.training_step(hr_batch(), StepContext()))


def test_vgg_content_loss_from_a_user_weights_file(tmp_path):
    path = tmp_path / "vgg19_features.safetensors"
    reference = tiny_vgg_file(path, "vgg22")
    adapter = small("srgan", content_loss="vgg22", content_weights=str(path))
    content = adapter.frozen["content"]
    assert isinstance(content, VGGFeatures) and not content.training
    assert all(torch.equal(v, reference.state_dict()[k]) for k, v in content.state_dict().items())
    assert not any(p.requires_grad for p in content.parameters())
    assert not any(k.startswith("content") for k in adapter.model.state_dict())  # not saved
    sr, hr = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        want = torch.nn.functional.mse_loss(reference(sr) / VGG_RESCALE, reference(hr) / VGG_RESCALE)
    assert torch.allclose(adapter.content(sr, hr), want)
    frozen_before = {k: v.clone() for k, v in content.state_dict().items()}
    before = {k: v.clone() for k, v in adapter.model.state_dict().items()}
    Trainer(epochs=1, progress=False).fit(adapter, [hr_batch()])
    assert changed(adapter, before) == {"generator": True, "discriminator": True}
    assert all(torch.equal(v, frozen_before[k]) for k, v in content.state_dict().items())
    assert "content_weights" not in adapter.config() and adapter.config()["content_loss"] == "vgg22"


def test_vgg_features_have_torchvision_vgg19_layout():
    import torchvision

    with torch.device("meta"):  # the 143M-parameter VGG19 without allocating it
        tv = torchvision.models.vgg19().features
    for layer, end in CONTENT_LAYERS.items():
        ours = VGGFeatures(layer, (0.0,) * 3, (1.0,) * 3)
        want = {f"features.{k}": v.shape for k, v in tv[:end].state_dict().items()}
        assert {k: v.shape for k, v in ours.state_dict().items()} == want
        assert isinstance(ours.features[-1], torch.nn.ReLU)  # relu2_2 / relu5_4: after the activation
    assert len(VGGFeatures("vgg54", (0.0,) * 3, (1.0,) * 3).state_dict()) == 32  # 16 convolutions


def test_bad_content_weights_are_one_line_errors(tmp_path):
    partial = tmp_path / "partial.safetensors"
    save_file({"features.0.weight": torch.zeros(64, 3, 3, 3), "features.0.bias": torch.zeros(64)}, str(partial))
    with pytest.raises(ZooError) as info:
        small("srgan", content_loss="vgg22", content_weights=str(partial))
    assert str(info.value) == (
        f"content_weights {partial} lacks 6 VGG19 tensors of the vgg22 feature network (features.2.weight, features.2.bias, ...); "
        "it holds features.0.bias, features.0.weight: give torchvision's vgg19 weights (features.N.weight / features.N.bias)"
    )
    wrong = tmp_path / "wrong.safetensors"
    state = {k: v.contiguous() for k, v in VGGFeatures("vgg22", (0.0,) * 3, (1.0,) * 3).state_dict().items()}
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    save_file(state, str(wrong))
    with pytest.raises(
        ZooError,
        match=r"^content_weights .*wrong\.safetensors is not VGG19: features\.0\.weight \(64, 1, 3, 3\) \(VGG19: \(64, 3, 3, 3\)\); give torchvision's vgg19 weights$",
    ):
        small("srgan", content_loss="vgg22", content_weights=str(wrong))
    with pytest.raises(ZooError) as info:  # offline (conftest) and nothing cached
        small("srgan", content_loss="vgg54", content_weights="imagenet")
    assert str(info.value).startswith("srgan's vgg54 content loss: cannot get the vgg19 'imagenet' weights (")
    assert str(info.value).endswith(
        "); pass content_weights=FILE (torchvision's vgg19-dcbb9e9d.pth) or use content_loss=pixel (--model-kwargs content_loss=pixel)"
    )
    with pytest.raises(
        ZooError, match=r"^content_weights are unused by content_loss=pixel; leave them out or pick content_loss=vgg22 or vgg54$"
    ):
        small("srgan", content_weights=str(wrong))
    checkpoint = tmp_path / "res"
    from zoo.io.checkpoint import save_checkpoint

    save_checkpoint(checkpoint, small("srresnet"), {})
    with pytest.raises(ZooError, match=r"^content_weights .*res is a checkpoint of srresnet, not of vgg19; give VGG19 weights$"):
        small("srgan", content_loss="vgg22", content_weights=str(checkpoint))


# -- data and inference --------------------------------------------------------------------------


def test_training_transforms_random_crop_hr_patches():
    adapter = small("srgan", image_size=32)
    img = Image.new("RGB", (50, 40), (255, 0, 0))
    crop = adapter.transforms(train=True)
    x = crop(img)
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and x.min() >= 0 and x.max() <= 1
    assert torch.allclose(x[0], torch.ones(32, 32)) and x[1:].abs().max() == 0  # no normalisation: [0, 1]
    assert adapter.transforms(train=True)(Image.new("L", (20, 20))).shape == (3, 32, 32)  # small photos: reflection padded
    grey = small("srresnet", channels=1)
    digits = torch.randint(0, 256, (1, 8, 8), dtype=torch.uint8)
    assert grey.transforms(img_size=16, train=True, resize_only=True)(digits).shape == (1, 16, 16)
    torch.manual_seed(0)
    a = crop(Image.effect_noise((64, 64), 50))
    torch.manual_seed(1)
    b = crop(Image.effect_noise((64, 64), 50))
    assert not torch.equal(a, b)  # random positions


def test_preprocess_and_translate_give_the_4x_image():
    adapter = small("srgan")
    x = adapter.preprocess(Image.new("RGBA", (13, 7), (255, 128, 0, 10)))
    assert x.shape == (3, 7, 13) and x.dtype == torch.float32
    assert torch.allclose(x[:, 0, 0], torch.tensor([1.0, 128 / 255, 0.0]))  # [0, 1], alpha dropped, no resizing
    assert adapter.preprocess(Image.new("L", (5, 6), 255)).shape == (3, 6, 5)
    adapter.train()
    y = adapter.translate(x[None])
    assert y.shape == (1, 3, 28, 52) and y.dtype == torch.float32 and y.device.type == "cpu"
    assert y.min() >= 0 and y.max() <= 1
    assert torch.equal(y, adapter.translate(x[None])) and adapter.generator.training  # eval inside, flags restored
    grey = small("srresnet", channels=1, upscale=2)
    assert grey.preprocess(Image.new("RGB", (4, 4))).shape == (1, 4, 4) and grey.translate(torch.rand(2, 1, 4, 4)).shape == (2, 1, 8, 8)
    with pytest.raises(ZooError) as info:
        adapter.translate(x[None], "blond")
    assert str(info.value) == "srgan upscales the input image 4x and takes no --attr or --label"
    with pytest.raises(ZooError) as info:
        adapter.translate(torch.rand(1, 1, 8, 8))
    assert str(info.value) == "srgan translates float images (N, 3, H, W) in [0, 1], got shape (1, 1, 8, 8) torch.float32"


def test_sample_upscales_seeded_patches_of_a_builtin_photograph():
    adapter = small("srresnet")
    a, b = adapter.sample(3, seed=5), adapter.sample(3, seed=5)
    assert a.shape == (3, 3, 16, 16) and a.dtype == torch.float32 and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1 and not torch.equal(a, adapter.sample(3, seed=6))
    (lr,) = adapter.generator_inputs(2, generator=torch.Generator().manual_seed(0))
    assert lr.shape == (2, 3, 4, 4) and lr.min() >= 0 and lr.max() <= 1
    with pytest.raises(ZooError, match=r"^n must be at least 1 sample, got 0$"):
        adapter.sample(0)


def test_bicubic_resize_matches_pil_bicubic():
    import numpy as np

    img = Image.effect_noise((40, 40), 60).convert("RGB")
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255
    ours = bicubic_resize(x, (10, 10))
    pil = torch.from_numpy(np.array(img.resize((10, 10), Image.Resampling.BICUBIC))).permute(2, 0, 1)[None].float() / 255
    assert (ours - pil).abs().max() < 2.5 / 255  # same kernel (a = -0.5) and antialiasing; PIL rounds to 8 bits


# -- official weights ------------------------------------------------------------------------------


def _lornatang_file(tmp_path, name="SRResNet_x4-ImageNet.pth.tar"):
    meta, io = load_reference("srgan_generator")
    sd = synthetic_state_dict(meta["state_dict"])
    checkpoint = {"epoch": 90, "psnr": 32.1, "ssim": 0.89, "state_dict": OrderedDict(("_orig_mod." + k, v) for k, v in sd.items())}
    path = tmp_path / name
    torch.save(checkpoint, path)
    return path, sd, io


def test_official_lornatang_file_builds_and_reproduces_the_official_output(tmp_path):
    path, sd, io = _lornatang_file(tmp_path)
    adapter = build("srresnet", official_weights=str(path))
    assert all(torch.equal(v, sd[k]) for k, v in adapter.generator.state_dict().items())
    out = adapter.translate(io["input"])
    assert out.shape == io["output"].shape and (out - io["output"]).abs().max() < 1e-4
    gan = build("srgan", official_weights=str(path), image_size=32)  # SRGAN starts from SRResNet (the paper)
    assert all(torch.equal(v, sd[k]) for k, v in gan.generator.state_dict().items())
    assert gan.discriminator.image_size == 32
    rebuilt = build("srresnet", **adapter.config())  # a fine-tuned checkpoint reloads without the file
    rebuilt.model.load_state_dict(adapter.model.state_dict())
    assert torch.equal(rebuilt.translate(io["input"]), out)


def test_official_leftthomas_file_and_its_safetensors_conversion(tmp_path):
    meta, io = load_reference("srgan_leftthomas_generator")
    sd = synthetic_state_dict(meta["state_dict"])
    real = OrderedDict((k, sd[k]) for k, _, _ in meta["official_checkpoint"]["real_file_state_dict"])  # PyTorch 0.3: 79 entries
    path = tmp_path / "netG_epoch_4_100.pth"
    torch.save(real, path)
    converted = tmp_path / "leftthomas-voc-x4.safetensors"
    save_file(dict(real), str(converted))
    for file in (path, converted):
        adapter = build("srgan", official_weights=str(file))
        assert isinstance(adapter.generator, LeftthomasGenerator)
        assert adapter.config()["flavour"] == "leftthomas" and adapter.config()["n_blocks"] == 5
        assert (adapter.translate(io["input"]) - io["output"]).abs().max() < 1e-4
    again = build("srgan", **adapter.config())
    assert isinstance(again.generator, LeftthomasGenerator)


def test_zoo_srresnet_checkpoint_starts_srgan(tmp_path):
    from zoo.io.checkpoint import save_checkpoint

    res = small("srresnet")
    Trainer(epochs=1, progress=False).fit(res, [hr_batch()])
    save_checkpoint(tmp_path / "srresnet", res, {})
    for source in (tmp_path / "srresnet", tmp_path / "srresnet" / "model.safetensors"):
        gan = build("srgan", official_weights=str(source), image_size=16, ndf=8, content_loss="pixel")
        assert gan.config()["ngf"] == 8 and gan.config()["n_blocks"] == 1
        assert all(torch.equal(v, res.generator.state_dict()[k]) for k, v in gan.generator.state_dict().items())


def test_wrong_official_files_are_one_line_errors(tmp_path):
    path, _, _ = _lornatang_file(tmp_path)
    with pytest.raises(ZooError) as info:
        build("srresnet", official_weights=str(path), ngf=32)
    assert str(info.value) == f"srresnet ngf=32 disagrees with the generator in {path} (ngf=64); leave it out or give 64"
    d_file = tmp_path / "DiscriminatorForVGG_x4-ImageNet.pth.tar"
    torch.save({"epoch": 18, "state_dict": DiscriminatorForVGG(channels=8).state_dict()}, d_file)
    with pytest.raises(ZooError) as info:
        build("srgan", official_weights=str(d_file))
    assert str(info.value) == (
        f"official_weights {d_file} holds the SRGAN discriminator (Lornatang/SRGAN-PyTorch DiscriminatorForVGG_x4-ImageNet.pth.tar); "
        "srgan needs a generator file: SRResNet_x4-ImageNet.pth.tar, SRGAN_x4-ImageNet.pth.tar, netG_epoch_4_100.pth "
        "or a zoo train srresnet/srgan checkpoint"
    )
    assert info.value.exit_code == 2
    from zoo.io.checkpoint import save_checkpoint

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "dcgan", build("dcgan", image_size=16, ngf=4, ndf=4), {})
    with pytest.raises(ZooError, match=r"^official_weights .*dcgan is a zoo checkpoint of dcgan; srresnet starts from a generator: "):
        build("srresnet", official_weights=str(tmp_path / "dcgan"))
    other = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, other)
    with pytest.raises(ZooError, match=r"^checkpoint .*other\.pth is not the expected SRGAN SRResNet generator"):
        build("srresnet", official_weights=str(other))


def test_sampling_a_checkpoint_writes_the_4x_image(tmp_path):
    """``zoo train srresnet --data DIR`` then ``zoo sample srresnet --checkpoint RUN --image small.png``, through the library."""
    from zoo import tasks
    from zoo.tasks import sampling

    for split in ("train", "val"):  # one folder of photographs: train/ and val/ with one class each
        (tmp_path / "data" / split / "photos").mkdir(parents=True)
        for i in range(2):
            Image.effect_noise((24, 20), 40 + i).convert("RGB").save(tmp_path / "data" / split / "photos" / f"{i}.png")
    summary = tasks.train(
        "srresnet", str(tmp_path / "data"), epochs=1, img_size=16, batch_size=2, out=tmp_path / "run", progress=False, build_options=SMALL
    )
    assert summary["model"] == "srresnet" and (tmp_path / "run" / "samples" / "epoch_0001.png").is_file()
    small_png = tmp_path / "small.png"
    Image.effect_noise((9, 7), 30).convert("RGB").save(small_png)
    result = sampling.sample("srresnet", checkpoint=tmp_path / "run", images=[small_png], out=tmp_path / "big.png")
    assert result["shape"] == [1, 3, 28, 36]
    assert Image.open(tmp_path / "big.png").size == (36, 28)


def test_one_folder_of_photographs_trains_srresnet_but_not_a_classifier(tmp_path):
    """An ImageFolder with one class folder is data for a GAN (``zoo train srresnet --data DIR``);
    a classifier still needs two class folders."""
    from zoo import tasks

    (tmp_path / "data" / "photos").mkdir(parents=True)
    for i in range(5):
        Image.effect_noise((24, 20), 40 + i).convert("RGB").save(tmp_path / "data" / "photos" / f"{i}.png")
    summary = tasks.train("srresnet", str(tmp_path / "data"), epochs=1, img_size=16, batch_size=2, progress=False, build_options=SMALL)
    assert summary["model"] == "srresnet"
    with pytest.raises(ZooError, match=r"has 1 class folder\(s\); a classifier needs at least 2$"):
        tasks.train("resnet18", str(tmp_path / "data"), epochs=1, img_size=16, progress=False)
