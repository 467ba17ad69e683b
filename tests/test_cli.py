"""The CLI as a user meets it: commands, JSON output, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import assert_user_error, run


@pytest.fixture
def image_folder(tmp_path):
    """A real ImageFolder: digits 0 and 1 from scikit-learn saved as 8x8 PNG files."""
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    root = tmp_path / "folder"
    for cls in (0, 1):
        (root / f"digit{cls}").mkdir(parents=True)
        for i, img in enumerate(d.images[d.target == cls][:20]):
            Image.fromarray((img * 255 / 16).astype(np.uint8)).convert("RGB").save(root / f"digit{cls}" / f"{i}.png")
    return root


def test_list_json_and_table():
    res = run("list", "--json")
    assert res.exit_code == 0
    rows = json.loads(res.stdout)
    assert {"name", "family", "kind", "input_size", "params", "pretrained"} <= set(rows[0])
    assert {r["name"] for r in rows} >= {"resnet50", "dcgan", "nasnetmobile"}
    res = run("list", "resnet*", "--kind", "backbone", "--wide")
    assert res.exit_code == 0 and "resnet152" in res.stdout and "top-1" in res.stdout and "dcgan" not in res.stdout
    res = run("list", "--kind", "gan", "--json")
    assert [r["name"] for r in json.loads(res.stdout)] == [
        "cgan",
        "cyclegan",
        "dcgan",
        "lapgan",
        "srgan",
        "srresnet",
        "stargan",
        "vanilla_gan",
    ]


def test_info_json():
    res = run("info", "resnet50", "--json")
    assert res.exit_code == 0
    info = json.loads(res.stdout)
    assert info["name"] == "resnet50" and info["family"] == "resnet" and info["kind"] == "backbone"
    assert info["input_size"] == [3, 224, 224]
    assert [s["name"] for s in info["stages"]] == ["conv1", "layer1", "layer2", "layer3", "layer4", "fc"]
    assert info["weights"][0]["url"].startswith("https://download.pytorch.org/")
    assert info["normalization"]["mean"] == pytest.approx([0.485, 0.456, 0.406])


def test_help_for_every_command():
    for cmd in ("list", "info", "bench", "train", "adapt", "sample", "plugins", "demo"):
        res = run(cmd, "--help")
        assert res.exit_code == 0 and "Usage" in res.stdout, cmd


def test_unknown_model_one_line():
    assert_user_error(run("info", "resnet5O"), "unknown model 'resnet5O'", "resnet50")
    assert_user_error(run("adapt", "resnt18", "--head", "3"), "did you mean", "resnet18")


def test_unknown_stage_lists_valid_ones(tmp_path):
    res = run("adapt", "resnet18", "--head", "10", "--freeze-until", "layer9", "--out", tmp_path / "o")
    assert_user_error(res, "unknown stage 'layer9'", "conv1 layer1 layer2 layer3 layer4 fc")
    assert not (tmp_path / "o").exists()


def test_head_below_one(tmp_path):
    assert_user_error(run("adapt", "resnet18", "--head", "0", "--out", tmp_path / "o"), "--head must be at least 1")
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda(tmp_path):
    assert_user_error(run("train", "resnet18", "--data", "digits", "--device", "cuda", "--out", tmp_path / "o"), "CUDA is not available")
    assert_user_error(run("bench", "resnet18", "--device", "cuda"), "CUDA")


def test_missing_and_empty_data(tmp_path, image_folder):
    assert_user_error(run("train", "resnet18", "--data", tmp_path / "nope", "--out", tmp_path / "o"), "does not exist")
    (image_folder / "empty_class").mkdir()
    assert_user_error(run("train", "resnet18", "--data", image_folder, "--out", tmp_path / "o"), "empty_class")
    assert_user_error(run("train", "resnet18", "--data", "digitz", "--out", tmp_path / "o"), "did you mean: digits")
    assert_user_error(run("train", "resnet18", "--data", "digits:3-12", "--out", tmp_path / "o"), "no class '10'")
    assert not (tmp_path / "o").exists()


def test_unreadable_image_in_folder(tmp_path, image_folder):
    (image_folder / "digit0" / "broken.png").write_bytes(b"not a png at all")
    res = run("train", "resnet18", "--data", image_folder, "--epochs", "1", "--img-size", "32", "--out", tmp_path / "o")
    assert_user_error(res, "cannot read image", "broken.png")
    assert not (tmp_path / "o" / "model.safetensors").exists()


def test_corrupt_and_foreign_weights(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00garbage" * 100)
    assert_user_error(run("adapt", "resnet18", "--head", "3", "--weights", bad, "--out", tmp_path / "o1"), "bad.safetensors")
    assert not (tmp_path / "o1").exists()
    res = run("adapt", "mobilenet_v2", "--head", "3", "--weights", "none", "--out", tmp_path / "mnv2")
    assert res.exit_code == 0, res.output
    res = run("adapt", "resnet18", "--head", "3", "--weights", tmp_path / "mnv2", "--out", tmp_path / "o2")
    assert_user_error(res, "mobilenet_v2")
    assert not (tmp_path / "o2").exists()


def test_adapt_exactly_as_documented(tmp_path, monkeypatch):
    """`zoo adapt resnet50 --head 10 --freeze-until layer3` works offline as written."""
    monkeypatch.chdir(tmp_path)
    res = run("adapt", "resnet50", "--head", "10", "--freeze-until", "layer3")
    assert res.exit_code == 0, res.output
    assert "random init" in res.stderr  # offline: says so, does not fail or hang
    assert (tmp_path / "runs/adapt/resnet50/model.safetensors").exists()
    meta = json.loads((tmp_path / "runs/adapt/resnet50/model.json").read_text())
    assert meta["model"] == "resnet50" and meta["config"]["num_classes"] == 10 and meta["config"]["frozen_until"] == "layer3"
    res = run("adapt", "resnet50", "--head", "10", "--freeze-until", "layer3", "--json", "--out", tmp_path / "j")
    data = json.loads(res.stdout)
    # conv1 + layer1..layer3 of ResNet-50 are frozen; layer4 and the new 10-class head train
    assert data["frozen_params"] == 8_543_296 and data["trainable_params"] == 14_964_736 + 2048 * 10 + 10


def test_train_then_adapt_on_image_folder(tmp_path, image_folder):
    out = tmp_path / "trained"
    res = run("train", "resnet18", "--data", image_folder, "--epochs", "1", "--img-size", "32", "--out", out, "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["classes"] == ["digit0", "digit1"]
    meta = json.loads((out / "model.json").read_text())
    assert meta["class_names"] == ["digit0", "digit1"] and meta["preprocessing"]["img_size"] == 32
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(log) == 1 and log[0]["epoch"] == 1
    # the summary reports the logged held-out accuracy: 8 of the 40 images (stratified 20%), so k/8
    assert summary["val_accuracy"] == log[0]["val_accuracy"] and summary["val_images"] == 8
    assert summary["val_accuracy"] * 8 == pytest.approx(round(summary["val_accuracy"] * 8))

    res = run(
        "adapt",
        "resnet18",
        "--weights",
        out,
        "--head",
        "2",
        "--freeze-until",
        "layer2",
        "--data",
        image_folder,
        "--shots",
        "5",
        "--epochs",
        "1",
        "--img-size",
        "32",
        "--out",
        tmp_path / "adapted",
        "--json",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["weights"].startswith("file:") and data["train_images"] == 10 and "val_accuracy" in data


def test_train_and_sample_gan(tmp_path):
    out = tmp_path / "gan"
    res = run("train", "dcgan", "--data", "digits:0-1", "--epochs", "1", "--img-size", "16", "--out", out, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads((out / "model.json").read_text())["config"]["image_size"] == 16
    grid = tmp_path / "grid.png"
    res = run("sample", "dcgan", "--checkpoint", out, "--n", "16", "--seed", "3", "--out", grid)
    assert res.exit_code == 0, res.output
    from PIL import Image

    with Image.open(grid) as im:
        assert im.format == "PNG" and im.size[0] >= 4 * 16
    assert_user_error(run("sample", "resnet18", "--checkpoint", out), "needs a GAN")
    assert_user_error(run("sample", "dcgan", "--checkpoint", tmp_path / "missing"), "missing")


def test_demo_runs_end_to_end_small(tmp_path, monkeypatch):
    """`zoo demo` with tiny budgets: every step runs and every output is written; the source
    model is trained once into the cache and reused by a second demo; a GAN that the safety
    cap cuts short says so, on stderr and in summary.json."""
    from zoo.plugins import glyphs

    monkeypatch.setattr(glyphs, "PER_CLASS", 12)  # 120 printed digits: the source trains in seconds
    monkeypatch.setenv("ZOO_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    res = run(
        "demo", "--out", out, "--source-epochs", "1", "--target-epochs", "1", "--bench-budget", "0.05",
        "--gan-steps", "100000", "--gan-max-minutes", "0.001",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dcgan"]["cut_short"] is True and summary["dcgan"]["steps_asked"] == 100000
    assert 1 <= summary["dcgan"]["steps"] < 100000
    assert "cut the DCGAN short" in res.stderr and "not representative" in res.stderr
    assert {"transfer_val_accuracy", "scratch_val_accuracy"} <= set(summary["transfer"])
    assert [r["name"] for r in summary["bench"]] == ["resnet18", "mobilenet_v2", "resnet50"]
    assert all(r["status"] == "ok" and r["depth"] for r in summary["bench"])
    for f in (
        "list.json",
        "bench.json",
        "transfer.json",
        "dcgan_samples.png",
        "transfer/model.json",
        "scratch/model.json",
        "dcgan/model.safetensors",
    ):
        assert (out / f).exists(), f
    assert "transfer" in res.stdout and "from scratch" in res.stdout
    source = summary["transfer"]
    assert source["source_data"] == "glyphs:digits" and source["target_data"] == "digits" and source["source_cached"] is False
    assert source["source_train_images"] == 90 and Path(source["source_run"]).parent == tmp_path / "cache" / "demo"
    assert (Path(source["source_run"]) / "model.safetensors").is_file() and not (out / "source").exists()
    from zoo.cli.demo import cached_source

    again, meta, cached = cached_source(1, 0, "cpu")  # a second demo takes it from the cache
    assert cached and str(again) == source["source_run"] and meta["metrics"]["val_accuracy"] == source["source_val_accuracy"]
