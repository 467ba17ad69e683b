"""GAN fine-tuning with a frozen discriminator (FreezeD, issue 9): ``zoo adapt GAN --weights SRC --freeze-d N``.

Every family's frozen layers stay bit-identical through a training step in
tests/test_registry.py (``test_gan_builds_trains_one_step_and_samples``). Here: the whole
command on real digits with a tiny DCGAN and cGAN, the layer lists, and the bad inputs.
"""

from __future__ import annotations

import json

import pytest
import torch
from cli_helpers import assert_user_error, run
from safetensors.torch import load_file
from test_resume import GAN_ARGS

from zoo import tasks
from zoo.registry import build
from zoo.tasks.gan_transfer import discriminator_layers, freeze_discriminator

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest.one_thread, for every test here


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """A DCGAN and a cGAN trained one epoch on digits 0-4 (16 px, tiny widths)."""
    root = tmp_path_factory.mktemp("src")
    torch.set_num_threads(1)
    tasks.train("dcgan", "digits:0-4", epochs=1, out=root / "dcgan", **GAN_ARGS)
    tasks.train("cgan", "digits:0-4", epochs=1, out=root / "cgan", img_size=16, batch_size=32, progress=False)
    return root


def test_dcgan_layers_are_input_side_first_with_their_batchnorm():
    adapter = build("dcgan", image_size=16, ngf=4, ndf=4, latent_dim=8)
    layers = discriminator_layers(adapter)["discriminator"]
    assert layers[0] == ["discriminator.main.0"]  # the first convolution has no BatchNorm (Radford et al. 2016)
    assert all(len(layer) == 2 for layer in layers[1:-1]) and layers[-1] == ["discriminator.main.5"]
    trainable, frozen = freeze_discriminator(adapter, 2)
    conv0, conv1, bn1 = adapter.discriminator.main[0], adapter.discriminator.main[2], adapter.discriminator.main[3]
    assert (
        frozen == conv0.weight.numel() + conv1.weight.numel() + 2 * bn1.num_features
        and trainable == adapter.discriminator.main[5].weight.numel()
    )
    assert type(adapter.discriminator.main[3]).__name__ == "FrozenBatchNorm2d"


def test_freezed_fine_tunes_from_the_source_and_keeps_the_frozen_layers(sources, tmp_path):
    out = tmp_path / "adapted"
    res = run(
        "adapt",
        "dcgan",
        "--weights",
        sources / "dcgan",
        "--freeze-d",
        "1",
        "--data",
        "digits:5-9",
        "--shots",
        "10",
        "--epochs",
        "2",
        "--out",
        out,
        "--json",
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert (summary["freeze_d"], summary["shots"], summary["train_images"]) == (1, 10, 50)
    src, new = load_file(str(sources / "dcgan" / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert torch.equal(src["discriminator.main.0.weight"], new["discriminator.main.0.weight"])  # frozen
    assert not torch.equal(src["discriminator.main.5.weight"], new["discriminator.main.5.weight"])  # fine-tuned
    assert not torch.equal(src["generator.main.0.weight"], new["generator.main.0.weight"])
    assert summary["d_frozen_params"] == src["discriminator.main.0.weight"].numel()
    sample = run("sample", "dcgan", "--checkpoint", out, "--n", "4", "--out", tmp_path / "grid.png")
    assert sample.exit_code == 0, sample.output


def test_freezed_cgan_takes_the_target_class_names(sources, tmp_path):
    summary = tasks.adapt(
        "cgan", weights=str(sources / "cgan"), freeze_d=2, data="digits:5-9", shots=5, epochs=1, out=tmp_path / "c", progress=False
    )
    assert summary["classes"] == ["5", "6", "7", "8", "9"]
    sidecar = json.loads((tmp_path / "c" / "model.json").read_text())
    assert sidecar["config"]["class_names"] == ["5", "6", "7", "8", "9"]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--freeze-d", "3", "--data", "digits:5-9"],
            "Error: --freeze-d must be in 0..2 (dcgan's discriminator has 3 layers; 0 fine-tunes all of them), got 3",
        ),
        (
            ["--freeze-d", "-1", "--data", "digits:5-9"],
            "Error: --freeze-d must be in 0..2 (dcgan's discriminator has 3 layers; 0 fine-tunes all of them), got -1",
        ),
        (
            ["--head", "5", "--data", "digits:5-9"],
            "Error: --head is for backbones; dcgan is a GAN: fine-tune it with --weights SRC --freeze-d N",
        ),
        (["--data", "digits:5-9", "--shots", "999"], None),
    ],
)
def test_bad_freezed_inputs_are_one_line(sources, tmp_path, args, line):
    res = run("adapt", "dcgan", "--weights", sources / "dcgan", "--out", tmp_path / "run", *args)
    assert_user_error(res)
    if line is not None:
        assert res.stderr.strip() == line
    assert not (tmp_path / "run").exists()


def test_freezed_needs_a_source_run_of_the_same_model(sources, tmp_path):
    res = run("adapt", "dcgan", "--freeze-d", "1", "--data", "digits", "--out", tmp_path / "r")
    assert_user_error(res, "--weights must be a 'zoo train dcgan' run to fine-tune from")
    res = run("adapt", "dcgan", "--weights", sources / "cgan", "--data", "digits", "--out", tmp_path / "r")
    assert_user_error(res, f"--weights {sources / 'cgan'} is a run of cgan, not dcgan")
    res = run("adapt", "cgan", "--weights", sources / "cgan", "--data", "digits:1-3", "--out", tmp_path / "r")
    assert_user_error(res, "has 5 classes and digits:1-3 has 3; FreezeD keeps the class embedding")
    res = run("adapt", "resnet18", "--freeze-d", "1", "--head", "2")
    assert_user_error(res, "--freeze-d is for GANs (FreezeD); resnet18 is a backbone")
    assert not (tmp_path / "r").exists()
