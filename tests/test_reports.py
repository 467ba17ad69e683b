"""Data and reports that say what they did (issue 18, item 6): a GAN trains on every image
unless ``--val-fraction`` holds some out; ``--strategy gradual`` reports where it ended, as
``model.json`` does; no ``None`` in a summary (``shots`` is ``all``)."""

from __future__ import annotations

import json

from tests.cli_helpers import assert_user_error, run

GAN = ["dcgan", "--data", "digits:0-1", "--epochs", "1", "--img-size", "16", "--batch-size", "64"]
# digits 0 and 1: 178 + 182 = 360 images


def test_a_gan_trains_on_every_image_unless_a_split_is_asked_for(tmp_path):
    from zoo import tasks

    small = {"ngf": 4, "ndf": 4, "latent_dim": 8}
    every = tasks.train("dcgan", "digits:0-1", epochs=1, img_size=16, batch_size=64, build_options=small, progress=False)
    assert (every["train_images"], every["val_images"]) == (360, 0)
    split = tasks.train("dcgan", "digits:0-1", epochs=1, img_size=16, batch_size=64, build_options=small, progress=False, val_fraction=0.2)
    assert split["train_images"] + split["val_images"] == 360 and split["val_images"] == 36 + 37  # ceil(20%) of 178 and of 182
    backbone = tasks.train("resnet18", "digits:0-1", epochs=1, img_size=32, batch_size=64, progress=False, out=tmp_path / "r")
    assert (backbone["train_images"], backbone["val_images"]) == (287, 73)  # a classifier keeps its validation split


def test_val_fraction_flag_is_checked():
    assert_user_error(
        run("train", "resnet18", "--data", "digits:0-1", "--val-fraction", "0"), "--val-fraction must be above 0 for a backbone"
    )
    assert_user_error(run("train", *GAN, "--val-fraction", "1"), "--val-fraction must be in [0, 1)")


def test_gradual_reports_where_it_ended_and_shots_all(tmp_path):
    out = tmp_path / "gradual"
    args = ["adapt", "resnet18", "--head", "2", "--weights", "none", "--data", "digits:0-1", "--shots", "2", "--img-size", "32"]
    res = run(*args, "--strategy", "gradual", "--epochs", "2", "--out", out, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    meta = json.loads((out / "model.json").read_text())
    # epoch 1 trains the head alone (layer4 and below frozen), epoch 2 unfreezes layer4
    assert summary["frozen_until_at_start"] == "layer4" and summary["frozen_until"] == "layer3" == meta["config"]["frozen_until"]
    assert summary["shots"] == 2
    res = run(*args[:-4], "--img-size", "32", "--epochs", "1", "--strategy", "linear-probe", "--out", tmp_path / "all")
    assert res.exit_code == 0, res.output
    rows = {ln.split()[0]: ln.split(None, 1)[1] for ln in res.stdout.splitlines() if ln.split()}
    assert rows["shots"] == "all" and "None" not in res.stdout and "frozen_until_at_start" not in rows
