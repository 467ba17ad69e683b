"""FreezeD (issue 9): ``zoo adapt GAN --weights SRC --freeze-d N --data DATA --shots K``, per family.

Complements tests/test_gan_transfer.py (the DCGAN command end to end, the cGAN class names,
the range and source errors): here every family with a discriminator adapts a tiny source
run and its frozen layers (parameters and BatchNorm statistics) come out bit-identical to
the source's, with the layers above them trained; a resumed adapt run equals an
uninterrupted one; the cGAN and StarGAN layer lists their adapters declare; and the bad
inputs, each with its exact one line.
"""

from __future__ import annotations

import pytest
import torch
from cli_helpers import assert_user_error, run
from PIL import Image
from safetensors.torch import load_file
from test_resume import assert_same_weights

from zoo import tasks
from zoo.registry import build
from zoo.tasks.gan_transfer import discriminator_layers

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread, for every test here

SOURCE, TARGET = "digits:0,1", "digits:5,6"  # two classes: CycleGAN's two domains, StarGAN's domain mode
TINY = {
    "vanilla_gan": {"latent_dim": 8},
    "cgan": {"latent_dim": 8},
    "dcgan": {"ngf": 4, "ndf": 4, "latent_dim": 8},
    "lapgan": {"latent_dim": 8, "base_hidden_g": 16, "base_hidden_d": 16, "ngf": 4, "ndf": 4},
    "cyclegan": {"ngf": 4, "ndf": 4, "n_blocks": 1},
    "stargan": {"g_conv_dim": 4, "d_conv_dim": 4, "g_repeat_num": 1, "d_repeat_num": 2},
    "srgan": {"ngf": 8, "n_blocks": 1, "ndf": 8, "content_loss": "pixel"},
}


def _photos(root):
    """An ImageFolder of 4 random RGB photographs (train/ and val/, one class): SRGAN's data."""
    for split in ("train", "val"):
        (root / split / "photos").mkdir(parents=True)
        for i in range(4 if split == "train" else 1):
            Image.effect_noise((24, 24), 30 + 10 * i).convert("RGB").save(root / split / "photos" / f"{i}.png")
    return str(root)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """``{family: (source run, target data, shots)}``: each family trained one epoch on its source data (16 px, tiny widths)."""
    root = tmp_path_factory.mktemp("freezed")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    for name, options in TINY.items():
        data, target, shots = SOURCE, TARGET, 4
        if name == "srgan":
            data = target = _photos(root / "photos")
            shots = None
        tasks.train(name, data, epochs=1, img_size=16, batch_size=32, out=root / name, progress=False, build_options=options)
        out[name] = (root / name, target, shots)
    torch.set_num_threads(threads)
    return out


def _layer_keys(layer):
    """State-dict key prefixes of one layer's modules (``"discriminator.main.3."``)."""
    return tuple(p + "." for p in layer)


@pytest.mark.parametrize("name", list(TINY))
def test_frozen_layers_come_out_of_an_adapt_run_bit_identical(name, sources, tmp_path, one_thread):
    """The deepest allowed ``--freeze-d``: every frozen tensor (weights, biases, BatchNorm statistics)
    equals the source's after training; the top layer of every discriminator trained."""
    src, target, shots = sources[name]
    layers = discriminator_layers(tasks.load_gan(name, src))
    n = min(len(v) for v in layers.values()) - 1
    summary = tasks.adapt(
        name, weights=str(src), freeze_d=n, data=target, shots=shots, epochs=2, batch_size=4, out=tmp_path / "a", progress=False
    )
    before, after = load_file(str(src / "model.safetensors")), load_file(str(tmp_path / "a" / "model.safetensors"))
    frozen = [k for k in before if k.startswith(tuple(p for v in layers.values() for layer in v[:n] for p in _layer_keys(layer)))]
    moved = [k for k in frozen if k in after and not torch.equal(before[k], after[k])]
    assert frozen and moved == [], moved
    params = {k for k, _ in build(name, **TINY[name]).model.named_parameters()}
    assert summary["d_frozen_params"] == sum(before[k].numel() for k in frozen if k in params)
    for net_layers in layers.values():  # the top layer trained in every discriminator
        top = [k for k in before if k.startswith(_layer_keys(net_layers[-1])) and k in params]
        assert top and any(not torch.equal(before[k], after[k]) for k in top), top
    assert summary["freeze_d"] == n and summary["shots"] == (shots if shots is not None else "all")


def test_freeze_d_0_fine_tunes_every_layer(sources, tmp_path, one_thread):
    src, target, shots = sources["dcgan"]
    summary = tasks.adapt("dcgan", weights=str(src), freeze_d=0, data=target, shots=shots, epochs=1, out=tmp_path / "a", progress=False)
    before, after = load_file(str(src / "model.safetensors")), load_file(str(tmp_path / "a" / "model.safetensors"))
    assert summary["d_frozen_params"] == 0
    assert all(not torch.equal(before[k], after[k]) for k in before if k.endswith(".weight")), "a layer did not train"


def test_a_resumed_adapt_run_equals_an_uninterrupted_one(sources, tmp_path, one_thread):
    """--freeze-d 2 freezes DCGAN's first two layers, BatchNorm included (FrozenBatchNorm2d); --resume keeps them frozen."""
    src, target, _ = sources["dcgan"]
    args = {"weights": str(src), "freeze_d": 2, "data": target, "shots": 8, "batch_size": 4, "progress": False}
    tasks.adapt("dcgan", epochs=3, out=tmp_path / "ref", **args)
    tasks.adapt("dcgan", epochs=1, out=tmp_path / "run", **args)
    summary = tasks.adapt("dcgan", epochs=3, resume=tmp_path / "run", progress=False)
    assert (summary["epoch"], summary["freeze_d"]) == (3, 2)
    assert_same_weights(tmp_path / "ref", tmp_path / "run")
    before, after = load_file(str(src / "model.safetensors")), load_file(str(tmp_path / "run" / "model.safetensors"))
    assert torch.equal(before["discriminator.main.3.running_var"], after["discriminator.main.3.running_var"])
    assert torch.equal(before["discriminator.main.2.weight"], after["discriminator.main.2.weight"])


@pytest.mark.parametrize("name", ["vanilla_gan", "cgan", "dcgan", "lapgan", "srgan", "cyclegan", "stargan"])
def test_every_discriminator_parameter_is_in_exactly_one_layer(name):
    adapter = build(name, **TINY[name])
    for net, layers in discriminator_layers(adapter).items():
        owned = [f"{p}.{k}" for layer in layers for p in layer for k, _ in adapter.model.get_submodule(p).named_parameters(recurse=False)]
        assert sorted(owned) == sorted(f"{net}.{k}" for k, _ in adapter.model[net].named_parameters()), net


def test_cgan_and_stargan_declare_their_parallel_branches_as_one_layer():
    """cGAN: the image and label branches read the input side by side, the projection embedding scores the top;
    StarGAN: the real/fake and attribute heads both read main's output."""
    cgan = build("cgan", **TINY["cgan"])
    assert cgan.discriminator_layers() == {
        "discriminator": [
            ["discriminator.x_branch.1.linear", "discriminator.y_branch.linear"],
            ["discriminator.main.1.linear"],
            ["discriminator.main.3", "discriminator.embed"],
        ]
    }
    assert build("cgan", projection=False).discriminator_layers()["discriminator"][-1] == ["discriminator.main.3"]
    stargan = build("stargan", **TINY["stargan"])
    assert stargan.discriminator_layers() == {
        "discriminator": [["discriminator.main.0"], ["discriminator.main.2"], ["discriminator.conv1", "discriminator.conv2"]]
    }
    for adapter in (cgan, stargan):  # the same contract as the generic rule: paths of modules that own parameters
        layers = adapter.discriminator_layers()["discriminator"]
        owned = sorted(
            f"{p}.{k}" for layer in layers for p in layer for k, _ in adapter.model.get_submodule(p).named_parameters(recurse=False)
        )
        assert owned == sorted("discriminator." + k for k, _ in adapter.discriminator.named_parameters())


def test_bad_freezed_inputs_are_one_exact_line(sources, tmp_path):
    dcgan, cgan, lapgan = (str(sources[n][0]) for n in ("dcgan", "cgan", "lapgan"))
    cases = [
        (
            ["lapgan", "--weights", lapgan, "--freeze-d", "3", "--data", TARGET],
            "Error: --freeze-d must be in 0..2 (lapgan's discriminator has 3 layers; 0 fine-tunes all of them), got 3",
        ),
        (  # K above the smallest class of the target (a GAN trains on every image: 5: 182 images, 6: 181)
            ["dcgan", "--weights", dcgan, "--freeze-d", "1", "--data", TARGET, "--shots", "182"],
            "Error: class '6' has only 181 training images, fewer than --shots 182; lower --shots",
        ),
        (  # the class embedding is kept: another number of classes is refused, not re-initialised
            ["cgan", "--weights", cgan, "--freeze-d", "1", "--data", "digits:5-7"],
            f"Error: cgan in {cgan} has 2 classes and digits:5-7 has 3; FreezeD keeps the class embedding, so give data with 2 classes",
        ),
        (
            ["vanilla_gan", "--weights", dcgan, "--freeze-d", "1", "--data", TARGET],
            f"Error: --weights {dcgan} is a run of dcgan, not vanilla_gan",
        ),
        (
            ["dcgan", "--weights", str(tmp_path / "nowhere"), "--freeze-d", "1", "--data", TARGET],
            f"Error: --weights {tmp_path / 'nowhere'} does not exist; give a 'zoo train dcgan' run directory",
        ),
    ]
    for args, line in cases:
        res = run("adapt", *args, "--out", tmp_path / "run")
        assert_user_error(res)
        assert res.stderr.strip() == line
        assert not (tmp_path / "run").exists()


def test_freeze_d_on_a_model_without_a_discriminator_is_one_line(tmp_path, one_thread):
    data = _photos(tmp_path / "photos")
    tasks.train(
        "srresnet", data, epochs=1, img_size=16, batch_size=2, out=tmp_path / "src", progress=False, build_options={"ngf": 8, "n_blocks": 1}
    )
    res = run("adapt", "srresnet", "--weights", tmp_path / "src", "--freeze-d", "1", "--data", data, "--out", tmp_path / "run")
    assert_user_error(res)
    assert res.stderr.strip() == "Error: srresnet has no discriminator; --freeze-d works on GANs that have one"
    assert not (tmp_path / "run").exists()
