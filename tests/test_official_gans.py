"""Official StarGAN, CycleGAN and SRGAN checkpoints load exactly into our networks.

For each of the 7 model parts described in ``tests/fixtures/reference`` (state-dict layouts of the
official code, with input/output fixtures the official code computed on deterministic
synthetic weights; recipe in its README.md): our ``state_dict`` has the same keys, order,
shapes and dtypes, the same parameter count and module structure; the synthetic weights
reproduce ``weights_sha256``; loaded through the documented one-call loader, they map the
stored input to the stored outputs in the official inference mode. Then each loading quirk
of the released files, on files written in ``tmp_path``. Offline, CPU, seeded.

The fixtures live in ``tests/fixtures/reference`` (where each comes from: its README.md);
without them these tests fail, saying where they looked.
"""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from reference_fixtures import load_reference, synthetic_state_dict, weights_sha256
from safetensors.torch import save_file

from zoo.errors import ZooError
from zoo.io.official import identify_official
from zoo.plugins.cyclegan.networks import NLayerDiscriminator, ResnetGenerator
from zoo.plugins.cyclegan.official import drop_instance_norm_stats, load_official_cyclegan
from zoo.plugins.srgan.networks import DiscriminatorForVGG, LeftthomasGenerator, SRResNet
from zoo.plugins.srgan.official import load_official_srgan
from zoo.plugins.stargan.data import CELEBA_ATTRIBUTES
from zoo.plugins.stargan.networks import Discriminator, Generator
from zoo.plugins.stargan.official import load_official_stargan
from zoo.registry import official_kinds

# part -> (our class, the one-call loader, our class names -> the official ones, for repr)
PARTS = {
    "stargan_generator": (Generator, lambda src: load_official_stargan(src, part="G"), {}),
    "stargan_discriminator": (Discriminator, lambda src: load_official_stargan(src, part="D"), {}),
    "cyclegan_generator": (ResnetGenerator, lambda src: load_official_cyclegan(src, part="G"), {}),
    "cyclegan_discriminator": (NLayerDiscriminator, lambda src: load_official_cyclegan(src, part="D"), {}),
    "srgan_generator": (SRResNet, lambda src: load_official_srgan(src, part="G"), {}),
    "srgan_discriminator": (DiscriminatorForVGG, lambda src: load_official_srgan(src, part="D"), {}),
    "srgan_leftthomas_generator": (
        LeftthomasGenerator,
        lambda src: load_official_srgan(src, part="G", flavour="leftthomas"),
        {"LeftthomasGenerator": "Generator", "_LTResidualBlock": "ResidualBlock", "_LTUpsampleBlock": "UpsampleBLock"},
    ),
}


def _layout(module: torch.nn.Module) -> list:
    return [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in module.state_dict().items()]


def _assert_close(out: torch.Tensor, ref: torch.Tensor) -> None:
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))


def _outputs(name: str, loader, src, io) -> dict[str, torch.Tensor]:
    """Every stored output, computed as the fixture was: a freshly loaded module per mode."""
    with torch.no_grad():
        if name == "stargan_generator":
            eval_out = loader(src)(io["input"], io["label"])
            train_out = loader(src).train()(io["input"], io["label"])  # official Solver.test() never calls eval()
            return {"output": eval_out, "output_trainmode": train_out}
        model = loader(src)
        assert not model.training  # the loaders return eval mode, the official inference mode here
        if name == "stargan_discriminator":
            out_src, out_cls = model(io["input"])
            return {"out_src": out_src, "out_cls": out_cls}
        return {"output": model(io["input"])}


# -- the 7 parts against the fixtures ---------------------------------------------------------


@pytest.mark.parametrize("name", PARTS)
def test_state_dict_layout_params_and_structure(name):
    meta, _ = load_reference(name)
    cls, _, renames = PARTS[name]
    model = cls()  # the defaults are the released configuration
    assert _layout(model) == meta["state_dict"]
    assert sum(p.numel() for p in model.parameters()) == meta["num_params"]
    text = repr(model)
    for ours, theirs in renames.items():
        text = text.replace(ours, theirs)
    # layer types, kernels, strides, paddings, bias flags, norm eps/momentum/affine/statistics, activations
    assert text.splitlines() == meta["module_repr"]


@pytest.mark.parametrize("name", PARTS)
def test_synthetic_weights_reproduce_the_fixture_outputs(name):
    meta, io = load_reference(name)
    _, loader, _ = PARTS[name]
    sd = synthetic_state_dict(meta["state_dict"])
    assert weights_sha256(sd) == meta["weights_sha256"]
    outputs = _outputs(name, loader, sd, io)
    assert set(outputs) == set(io) - {"input", "label"}
    for key, out in outputs.items():
        assert out.shape == io[key].shape and out.dtype == torch.float32
        _assert_close(out, io[key])


def test_stargan_attribute_order_is_the_released_one():
    meta, io = load_reference("stargan_generator")
    assert list(CELEBA_ATTRIBUTES) == meta["extra"]["attribute_order"]
    assert io["label"].tolist() == meta["extra"]["label_value"]


# -- the quirks of the released files -----------------------------------------------------------


def test_stargan_ckpt_without_num_batches_tracked_loads(tmp_path):
    meta, _ = load_reference("stargan_generator")
    sd = synthetic_state_dict(meta["state_dict"])
    old = OrderedDict((k, v) for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    assert len(old) == 103 - 17
    path = tmp_path / "200000-G.ckpt"
    torch.save(old, path, _use_new_zipfile_serialization=False)  # the pre-1.6 format of the released file
    g = load_official_stargan(path, part="G")
    # the fixture weights exactly (which map the fixture input to its outputs: see above), 0 batches tracked
    assert all(torch.equal(v, sd[k]) for k, v in g.state_dict().items())
    assert g.config() == {"conv_dim": 64, "c_dim": 5, "repeat_num": 6}


def test_cyclegan_pth_with_instance_norm_statistics_loads(tmp_path):
    meta, _ = load_reference("cyclegan_generator")
    sd = synthetic_state_dict(meta["state_dict"])
    extra = [k for k, _, _ in meta["extra"]["released_checkpoint_extra_keys"]]
    assert len(extra) == 69
    released = OrderedDict()  # the released files' key order, InstanceNorm statistics included
    for key, shape, _ in meta["extra"]["released_checkpoint_state_dict_expected"]:
        if key in sd:
            released[key] = sd[key]
        elif key.endswith("num_batches_tracked"):
            released[key] = torch.tensor(0)
        else:
            released[key] = torch.zeros(shape) if key.endswith("running_mean") else torch.ones(shape)
    assert set(released) - set(sd) == set(extra)
    path = tmp_path / "latest_net_G.pth"
    torch.save(released, path)
    g = load_official_cyclegan(path)
    assert g.config() == {"input_nc": 3, "output_nc": 3, "ngf": 64, "n_blocks": 9, "use_dropout": False}
    assert list(g.state_dict()) == list(sd) and all(torch.equal(v, sd[k]) for k, v in g.state_dict().items())

    # exactly those keys are dropped: an InstanceNorm *parameter* (which the network lacks) is not
    assert list(drop_instance_norm_stats(g, released)) == list(sd)
    released["model.2.weight"] = torch.ones(64)
    with pytest.raises(ZooError) as info:
        load_official_cyclegan(released)
    assert str(info.value) == (
        "the given dict is not the expected CycleGAN ResnetGenerator (latest_net_G.pth): unexpected 1 key (model.2.weight); "
        "pass a file of that kind"
    )


def _prefixed(state, prefix: str) -> OrderedDict:
    return OrderedDict((prefix + k, v) for k, v in state.items())


def test_lornatang_pth_tar_with_compile_prefix_and_ema_loads(tmp_path):
    from torch.optim.swa_utils import AveragedModel

    meta, io = load_reference("srgan_generator")
    sd = synthetic_state_dict(meta["state_dict"])
    g = SRResNet()
    g.load_state_dict(sd)
    ema = AveragedModel(g)  # train_gan.py's EMA: keys "n_averaged", "module.conv1.0.weight", ...
    with torch.no_grad():
        ema.module.conv3.bias.add_(1.0)
    checkpoint = {
        "epoch": 18,
        "psnr": 27.3,
        "ssim": 0.81,
        # MODEL.G.COMPILED: torch.compile(g).state_dict() has "_orig_mod.conv1.0.weight", ... (written
        # out here: importing torch._dynamo costs seconds); a compiled EMA "_orig_mod.module.conv1.0.weight"
        "state_dict": _prefixed(g.state_dict(), "_orig_mod."),
        "ema_state_dict": _prefixed(ema.state_dict(), "_orig_mod."),
        # what torch.optim.Adam(g.parameters()).state_dict() holds before a step (Adam's import costs seconds)
        "optimizer": {
            "state": {},
            "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8, "params": list(range(len(list(g.parameters()))))}],
        },
    }
    assert next(iter(checkpoint["ema_state_dict"])) == "_orig_mod.n_averaged"
    path = tmp_path / "SRGAN_x4-ImageNet.pth.tar"
    torch.save(checkpoint, path)

    loaded = load_official_srgan(path)
    assert loaded.config() == {"in_channels": 3, "out_channels": 3, "channels": 64, "num_rcb": 16, "upscale": 4}
    with torch.no_grad():
        _assert_close(loaded(io["input"]), io["output"])
    averaged = load_official_srgan(path, ema=True)
    assert torch.equal(averaged.conv3.bias, sd["conv3.bias"] + 1)
    assert all(torch.equal(v, sd[k]) for k, v in averaged.state_dict().items() if k != "conv3.bias")

    checkpoint["ema_state_dict"] = None  # MODEL.EMA.ENABLE: False
    with pytest.raises(
        ZooError, match=r"^the given dict has ema_state_dict=None \(it was trained without it\); load its 'state_dict' instead$"
    ):
        load_official_srgan(checkpoint, ema=True)
    with pytest.raises(ZooError, match=r"^the given dict is a bare state dict, not a training dict with an 'ema_state_dict' entry"):
        load_official_srgan(sd, ema=True)
    with pytest.raises(ZooError, match=r"^ema=True needs a Lornatang generator file"):
        load_official_srgan(checkpoint, part="D", ema=True)


def test_lornatang_discriminator_dict_loads():
    d = DiscriminatorForVGG(channels=8)
    checkpoint = {"epoch": 18, "psnr": 27.3, "ssim": 0.81, "state_dict": d.state_dict(), "optimizer": {"state": {}, "param_groups": []}}
    loaded = load_official_srgan(checkpoint, part="D")
    assert loaded.config() == {"in_channels": 3, "out_channels": 1, "channels": 8, "image_size": 96}
    assert all(torch.equal(v, d.state_dict()[k]) for k, v in loaded.state_dict().items())


def test_leftthomas_pytorch_03_file_loads_and_later_code_is_refused():
    meta, io = load_reference("srgan_leftthomas_generator")
    sd = synthetic_state_dict(meta["state_dict"])
    real_keys = [k for k, _, _ in meta["official_checkpoint"]["real_file_state_dict"]]
    assert len(real_keys) == 79
    g = load_official_srgan(OrderedDict((k, sd[k]) for k in real_keys), flavour="leftthomas")
    with torch.no_grad():
        _assert_close(g(io["input"]), io["output"])

    head = OrderedDict((k, v) for k, v in sd.items() if not k.startswith("block7.1"))  # HEAD (after 4ac3486): block7.1 is a BatchNorm
    head.update({"block7.1.weight": torch.ones(64), "block7.1.bias": torch.zeros(64), "block7.1.running_mean": torch.zeros(64)})
    with pytest.raises(ZooError) as info:
        load_official_srgan(head, flavour="leftthomas")
    assert str(info.value) == (
        "the given dict comes from leftthomas/SRGAN code after commit 4ac3486 (block7 has a BatchNorm); "
        "only the b0323c6 architecture of the released netG_epoch_*_100.pth files is supported"
    )


def test_discriminator_file_given_to_the_generator_loader(tmp_path):
    meta, _ = load_reference("cyclegan_discriminator")
    path = tmp_path / "latest_net_D_A.pth"
    torch.save(synthetic_state_dict(meta["state_dict"]), path)
    with pytest.raises(ZooError) as info:
        load_official_cyclegan(path)
    assert str(info.value) == (
        f"checkpoint {path} is not the expected CycleGAN ResnetGenerator (latest_net_G.pth): "
        "missing 48 keys (model.1.weight, model.1.bias, model.4.weight, ...), "
        "unexpected 10 keys (model.0.weight, model.0.bias, model.2.weight, ...); "
        "it looks like the CycleGAN NLayerDiscriminator (latest_net_D_A.pth): load it with load_official_cyclegan(path, part='D')"
    )
    assert info.value.exit_code == 2 and "\n" not in str(info.value)

    with pytest.raises(ZooError) as info:
        load_official_stargan(Discriminator(conv_dim=4).state_dict(), part="G")
    assert str(info.value) == (
        "the given dict is not the expected StarGAN generator (yunjey/stargan *-G.ckpt): "
        "missing 99 keys (main.1.weight, main.1.bias, main.1.running_mean, ...), "
        "unexpected 10 keys (main.0.bias, main.2.weight, main.2.bias, ...); "
        "it looks like the StarGAN discriminator (yunjey/stargan *-D.ckpt): load it with load_official_stargan(path, part='D')"
    )
    with pytest.raises(
        ZooError, match=r"it looks like the SRGAN SRResNet generator \(Lornatang/SRGAN-PyTorch SRGAN_x4-ImageNet\.pth\.tar\): "
    ):
        load_official_srgan(SRResNet(channels=4, num_rcb=1).state_dict(), part="D")
    with pytest.raises(
        ZooError, match=r"^the given dict is not the expected StarGAN generator .*; it looks like the CycleGAN ResnetGenerator"
    ):
        load_official_stargan(ResnetGenerator(ngf=4, n_blocks=1).state_dict())


_UNPICKLED = []


def _record(what):
    _UNPICKLED.append(what)


class _TrainingConfig:
    """Any pickled object: unpickling it would run ``_record`` (a stand-in for arbitrary code)."""

    def __reduce__(self):
        return (_record, ("code ran",))


def test_pickled_objects_are_refused_and_never_run(tmp_path):
    path = tmp_path / "200000-G.ckpt"
    torch.save({"state_dict": Generator(conv_dim=4).state_dict(), "config": _TrainingConfig()}, path)
    with pytest.raises(ZooError) as info:
        load_official_stargan(path)
    assert str(info.value) == (
        f"checkpoint {path} is a torch.save checkpoint that pickles code ({__name__}._record), which zoo never runs; "
        "expected a .safetensors file or a torch.save checkpoint of a state dict; "
        "torch.load(weights_only=True) refuses it: save only model.state_dict(), or convert the file to .safetensors"
    )
    assert _UNPICKLED == []


def test_missing_truncated_and_safetensors_files(tmp_path):
    with pytest.raises(ZooError, match=r"^checkpoint .*nothing\.pth does not exist; pass the path of an official checkpoint file$"):
        load_official_cyclegan(tmp_path / "nothing.pth")
    g = LeftthomasGenerator(scale_factor=2)
    path = tmp_path / "netG_epoch_2_100.pth"
    torch.save(g.state_dict(), path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(
        ZooError,
        match=r"^checkpoint .* is a torch\.save checkpoint cut short \(1,000 bytes; the end of its zip archive is missing\); "
        r"expected a \.safetensors file or a torch\.save checkpoint of a state dict; the file is incomplete: download or save it again$",
    ):
        load_official_srgan(path, flavour="leftthomas")
    converted = tmp_path / "netG_epoch_2_100.safetensors"
    save_file(g.state_dict(), str(converted))
    loaded = load_official_srgan(converted, flavour="leftthomas")
    assert loaded.config() == {"scale_factor": 2}
    assert all(torch.equal(v, g.state_dict()[k]) for k, v in loaded.state_dict().items())


# -- configuration read from the shapes -----------------------------------------------------------


@pytest.mark.parametrize(
    "model, loader",
    [
        (Generator(conv_dim=8, c_dim=7, repeat_num=3), lambda s: load_official_stargan(s, part="G")),
        (Discriminator(image_size=256, conv_dim=8, c_dim=7, repeat_num=5), lambda s: load_official_stargan(s, part="D")),
        (ResnetGenerator(ngf=8, n_blocks=6), lambda s: load_official_cyclegan(s)),  # resnet_6blocks, for 128x128
        (ResnetGenerator(input_nc=1, output_nc=2, ngf=8, n_blocks=2, use_dropout=True), lambda s: load_official_cyclegan(s)),
        (NLayerDiscriminator(input_nc=1, ndf=8, n_layers=5), lambda s: load_official_cyclegan(s, part="D")),
        (SRResNet(channels=8, num_rcb=3, upscale=8), lambda s: load_official_srgan(s)),
        (SRResNet(in_channels=1, out_channels=1, channels=8, num_rcb=1, upscale=2), lambda s: load_official_srgan(s)),
        (DiscriminatorForVGG(in_channels=1, out_channels=2, channels=8), lambda s: load_official_srgan(s, part="D")),
        (LeftthomasGenerator(scale_factor=8), lambda s: load_official_srgan(s, flavour="leftthomas")),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, torch.nn.Module) else "",
)
def test_config_is_read_from_the_shapes(model, loader):
    torch.manual_seed(0)
    state = model.state_dict()
    loaded = loader(state)
    assert type(loaded) is type(model) and loaded.config() == model.config()
    assert all(torch.equal(v, state[k]) for k, v in loaded.state_dict().items())
    assert identify_official(state) is not None


def test_official_kinds_are_told_apart():
    defaults = [
        Generator(conv_dim=4, repeat_num=1),
        Discriminator(conv_dim=4),
        ResnetGenerator(ngf=4, n_blocks=1),
        NLayerDiscriminator(ndf=4),
    ]
    defaults += [SRResNet(channels=4, num_rcb=1), DiscriminatorForVGG(channels=4), LeftthomasGenerator(scale_factor=2)]
    found = [identify_official(m.state_dict()) for m in defaults]
    assert [k.key for k in found] == ["stargan.G", "stargan.D", "cyclegan.G", "cyclegan.D", "srgan.G", "srgan.D", "srgan-leftthomas.G"]
    assert sorted(k.key for k in official_kinds()) == sorted(k.key for k in found)  # each plugin declares its own
    assert identify_official({"fc.weight": torch.zeros(1)}) is None


# -- arguments and inputs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: load_official_stargan({}, part="g"), "part must be one of 'G', 'D', got 'g'"),
        (lambda: load_official_cyclegan({}, part="A"), "part must be one of 'G', 'D', got 'A'"),
        (lambda: load_official_srgan({}, flavour="ledig"), "flavour must be one of 'lornatang', 'leftthomas', got 'ledig'"),
        (
            lambda: load_official_srgan({}, part="D", flavour="leftthomas"),
            "leftthomas/SRGAN released generators only (netG_epoch_*_100.pth): part must be 'G'",
        ),
        (
            lambda: load_official_srgan({"epoch": 3}),
            "the given dict holds 'epoch', but no tensors and no 'state_dict' entry; pass an official checkpoint file",
        ),
        (lambda: SRResNet(upscale=3), "upscale must be 2, 4 or 8, got 3"),
        (lambda: LeftthomasGenerator(scale_factor=16), "scale_factor must be 2, 4 or 8, got 16"),
        (
            lambda: Generator(conv_dim=4)(torch.zeros(1, 3, 16, 16), torch.zeros(1, 4)),
            "the StarGAN generator takes labels of shape (1, 5), got (1, 4)",
        ),
        (
            lambda: Discriminator(conv_dim=4)(torch.zeros(1, 3, 64, 64)),
            "this StarGAN discriminator takes 128x128 images, got 64x64; resize the input",
        ),
        (
            lambda: DiscriminatorForVGG(channels=4)(torch.zeros(1, 3, 64, 64)),
            "the SRGAN discriminator takes 96x96 images, got 64x64; crop 96x96 patches",
        ),
    ],
)
def test_bad_arguments_and_inputs_are_one_line_errors(call, message):
    with pytest.raises(ZooError) as info:
        call()
    assert str(info.value) == message
    assert info.value.exit_code == (1 if "official checkpoint file" in message else 2)


def test_shapes_that_do_not_fit_are_named():
    state = Generator(conv_dim=4, repeat_num=1).state_dict()
    state["main.3.weight"] = torch.zeros(8, 4, 3, 3)
    with pytest.raises(ZooError) as info:
        load_official_stargan(state)
    assert str(info.value) == (
        "the given dict does not fit the StarGAN generator (yunjey/stargan *-G.ckpt) of the configuration read from its shapes: "
        "main.3.weight (8, 4, 3, 3) (expected (8, 4, 4, 4)); pass an unmodified official file"
    )
