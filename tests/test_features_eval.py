"""zoo features, zoo eval and zoo predict on a real (briefly adapted) ResNet-18 and the digits."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from cli_helpers import assert_user_error, run


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A resnet18 run of `zoo adapt` on digits 0-4 at 32 px: 4 shots per class, 1 epoch."""
    from zoo import tasks

    out = tmp_path_factory.mktemp("ckpt") / "r18"
    torch.manual_seed(0)
    summary = tasks.adapt(
        "resnet18", num_classes=5, weights="none", data="digits:0-4", shots=4, epochs=1, batch_size=20, out=out, progress=False
    )
    return out, summary


@pytest.fixture(scope="module")
def digit_pngs(tmp_path_factory):
    """Three 8x8 grey digits (0, 1, 2) as PNG files."""
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    root = tmp_path_factory.mktemp("pngs")
    paths = []
    for i in range(3):
        p = root / f"digit{d.target[i]}.png"
        Image.fromarray((d.images[i] * 255 / 16).astype(np.uint8)).save(p)
        paths.append(p)
    return paths


# ---------------------------------------------------------------------------------
# zoo features
# ---------------------------------------------------------------------------------
def test_help_of_the_four_commands():
    for cmd, words in [("features", "NAME_OR_DIR"), ("eval", "--split"), ("predict", "IMAGE..."), ("export", "--format")]:
        res = run(cmd, "--help")
        assert res.exit_code == 0 and "Usage" in res.stdout and words in res.stdout, cmd


def test_features_of_a_checkpoint_and_logistic_probe(checkpoint, tmp_path):
    from safetensors import safe_open
    from torchvision.models.feature_extraction import create_feature_extractor

    from zoo.data import resolve_data
    from zoo.tasks.classifier import load_run

    ckpt, _ = checkpoint
    out = tmp_path / "feats.safetensors"
    res = run("features", ckpt, "--data", "digits:0-2", "--out", out, "--classifier", "logistic", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert (summary["images"], summary["train_images"], summary["val_images"], summary["dim"]) == (537, 428, 109, 512)
    with safe_open(str(out), "pt") as f:
        meta = f.metadata()
        feats, labels, split = f.get_tensor("features"), f.get_tensor("labels"), f.get_tensor("split")
    assert feats.shape == (537, 512) and feats.dtype == torch.float32
    assert labels.shape == (537,) and labels.dtype == torch.int64 and split.dtype == torch.uint8
    assert int(split.sum()) == 109 and split[:428].eq(0).all()
    assert json.loads(meta["class_names"]) == ["0", "1", "2"] and meta["model"] == "resnet18"
    # the features are torchvision's penultimate layer (flatten after avgpool), computed independently
    source = resolve_data("digits:0-2", seed=0)
    run_ = load_run(ckpt)
    pre = run_.preprocessing
    x = torch.stack([run_.transform()(source.train[i][0]) for i in range(4)])
    x = (x - torch.tensor(pre["mean"]).view(1, 3, 1, 1)) / torch.tensor(pre["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        ref = create_feature_extractor(run_.adapter.model.eval(), {"flatten": "f"})(x)["f"]
    torch.testing.assert_close(feats[:4], ref, rtol=1e-4, atol=1e-5)
    assert labels[:4].tolist() == [source.train[i][1] for i in range(4)]
    # a linear classifier on them: far above the 1/3 of chance
    assert summary["classifier"] == "logistic" and summary["val_accuracy"] > 0.8, summary


def test_features_of_a_registry_model(tmp_path, digit_pngs):
    from PIL import Image

    folder = tmp_path / "folder"  # an ImageFolder: 2 classes x 5 images
    for cls in ("a", "b"):
        (folder / cls).mkdir(parents=True)
        for i in range(5):
            with Image.open(digit_pngs[i % 3]) as img:
                img.save(folder / cls / f"{i}.png")
    out = tmp_path / "mnv2.safetensors"
    res = run("features", "mobilenet_v2", "--weights", "none", "--data", folder, "--img-size", "32", "--out", out, "--json")
    assert res.exit_code == 0, res.output
    from safetensors.torch import load_file

    t = load_file(str(out))
    assert t["features"].shape == (10, 1280) and t["labels"].tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0, 1]
    assert t["split"].tolist() == [0] * 8 + [1] * 2 and torch.isfinite(t["features"]).all()


def test_features_bad_inputs(checkpoint, tmp_path):
    ckpt, _ = checkpoint
    out = tmp_path / "f.safetensors"
    assert_user_error(
        run("features", ckpt, "--data", "digits:0-4", "--classifier", "svm", "--out", out),
        "--classifier 'svm' is not known; valid: logistic",
    )
    assert_user_error(
        run("features", ckpt, "--data", "digits:0-4", "--weights", "imagenet", "--out", out),
        "--weights applies to a registry model",
        "is a checkpoint directory with its own weights",
    )
    assert_user_error(run("features", ckpt, "--data", "nodata", "--out", out), "'nodata' is neither an existing directory")
    assert list(tmp_path.iterdir()) == []  # nothing written by a failed command


def _blobs(per_class: int, seed: int, classes: int = 3, dim: int = 24, noise: float = 1.0):
    """Gaussian blobs: class c is shifted by 1.5 along axis c, every axis has noise ``noise``."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(classes).repeat_interleave(per_class)
    x = noise * torch.randn(len(y), dim, generator=g) + 1.5 * torch.nn.functional.one_hot(y, dim).float()
    return x, y


def test_logistic_probe_chooses_C_by_cross_validation():
    """C is the grid value of best cross-validated log-loss, computed here independently with
    plain LogisticRegression fits on the same folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.preprocessing import StandardScaler

    from zoo.tasks.probe import LOGISTIC_CS, logistic_probe

    tx, ty = _blobs(12, seed=1)
    vx, vy = _blobs(40, seed=2)
    res = logistic_probe(tx, ty, vx, vy, seed=0)
    assert (res["selection"], res["cv_folds"], res["cv_scoring"], res["note"]) == ("cross-validation", 5, "neg_log_loss", None)
    assert res["Cs"] == list(LOGISTIC_CS) == [10.0**e for e in range(-4, 5)]
    xs = StandardScaler().fit_transform(tx.numpy())
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    scores = [
        cross_val_score(LogisticRegression(C=c, max_iter=5000), xs, ty.numpy(), cv=folds, scoring="neg_log_loss").mean()
        for c in LOGISTIC_CS
    ]
    assert res["C"] == LOGISTIC_CS[int(np.argmax(scores))] == 0.1, (res["C"], scores)  # not the fixed C = 1
    assert 0.5 < res["val_accuracy"] <= 1 and 0 <= res["train_accuracy"] <= 1  # accuracies (chance 1/3), not the log-loss


def test_logistic_probe_folds_never_exceed_the_smallest_class():
    from zoo.tasks.probe import logistic_probe

    vx, vy = _blobs(10, seed=2)
    for per_class, folds in ((2, 2), (3, 3), (5, 5), (9, 5)):
        tx, ty = _blobs(per_class, seed=1)
        res = logistic_probe(tx, ty, vx, vy, seed=0)
        assert (res["selection"], res["cv_folds"]) == ("cross-validation", folds), per_class
    tx, ty = _blobs(4, seed=1)
    keep = torch.cat([torch.tensor([0]), torch.arange(4, 12)])  # class 0 keeps one image
    res = logistic_probe(tx[keep], ty[keep], vx, vy, seed=0)
    assert (res["selection"], res["cv_folds"], res["C"], res["Cs"], res["cv_scoring"]) == ("fixed", 0, 1.0, [], None)
    assert res["note"].startswith("C fixed at 1: a class has only 1 training image, too few to cross-validate")


def test_features_classifier_with_shots(checkpoint, tmp_path):
    ckpt, _ = checkpoint
    out = tmp_path / "f.safetensors"
    res = run("features", ckpt, "--data", "digits:0-2", "--out", out, "--classifier", "logistic", "--shots", "1", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert (summary["shots"], summary["classifier_train_images"], summary["train_images"], summary["images"]) == (1, 3, 428, 537)
    assert summary["selection"] == "fixed" and "too few to cross-validate" in summary["note"]
    res = run("features", ckpt, "--data", "digits:0-2", "--out", out, "--classifier", "logistic", "--shots", "4", "--overwrite")
    assert res.exit_code == 0, res.output
    assert "on its 12 training images; C = " in res.stdout and "chosen by 4-fold cross-validation" in res.stdout, res.stdout
    assert_user_error(run("features", ckpt, "--data", "digits:0-2", "--shots", "3", "--out", tmp_path / "g.safetensors"), "--shots picks")
    assert_user_error(
        run("features", ckpt, "--data", "digits:0-2", "--classifier", "logistic", "--shots", "999", "--out", tmp_path / "g.safetensors"),
        "fewer than --shots 999",
    )
    assert not (tmp_path / "g.safetensors").exists()


# ---------------------------------------------------------------------------------
# metrics, by hand
# ---------------------------------------------------------------------------------
def test_metrics_against_a_hand_computation():
    from zoo.tasks.evaluate import classification_metrics

    # 7 classes, 8 images; the ranking of each row is given, the scores only order them
    rankings = [
        [0, 1, 2, 3, 4, 5, 6],  # true 0: top-1 right
        [1, 0, 2, 3, 4, 5, 6],  # true 0: predicted 1, true class 2nd
        [1, 2, 3, 4, 5, 6, 0],  # true 1: top-1 right
        [2, 3, 4, 5, 6, 0, 1],  # true 1: predicted 2, true class last (outside the top 5)
        [2, 1, 0, 3, 4, 5, 6],  # true 2: right
        [4, 5, 6, 0, 1, 2, 3],  # true 3: predicted 4, true class last
        [3, 4, 5, 6, 0, 1, 2],  # true 4: predicted 3, true class 2nd
        [6, 5, 4, 3, 2, 1, 0],  # true 6: right
    ]
    targets = torch.tensor([0, 0, 1, 1, 2, 3, 4, 6])
    logits = torch.zeros(8, 7)
    for i, order in enumerate(rankings):
        for rank, c in enumerate(order):
            logits[i, c] = 10.0 - rank
    names = [f"c{i}" for i in range(7)]
    m = classification_metrics(logits, targets, names, topk=5)
    assert m["top1"] == pytest.approx(4 / 8)  # rows 0, 2, 4, 7
    assert m["top5"] == pytest.approx(6 / 8)  # all but rows 3 and 5
    acc = {r["class"]: r["accuracy"] for r in m["per_class"]}
    assert acc == {"c0": 0.5, "c1": 0.5, "c2": 1.0, "c3": 0.0, "c4": 0.0, "c5": None, "c6": 1.0}
    assert [r["support"] for r in m["per_class"]] == [2, 2, 1, 1, 1, 0, 1]
    assert m["mean_per_class_accuracy"] == pytest.approx(3.0 / 6)
    expected = np.zeros((7, 7), dtype=int)
    for t, p in [(0, 0), (0, 1), (1, 1), (1, 2), (2, 2), (3, 4), (4, 3), (6, 6)]:
        expected[t, p] += 1
    assert m["confusion_matrix"] == expected.tolist()
    assert m["notes"] == []
    few = classification_metrics(logits[:, :5], torch.tensor([0, 0, 1, 1, 2, 3, 4, 4]), names[:5], topk=5)
    assert few["top5"] is None and few["notes"] == [
        "top-5 accuracy not reported: the classifier has 5 classes, so it would be 1.0 by definition"
    ]


# ---------------------------------------------------------------------------------
# zoo eval
# ---------------------------------------------------------------------------------
def test_eval_reproduces_the_held_out_accuracy(checkpoint, tmp_path):
    from PIL import Image

    ckpt, summary = checkpoint
    report = tmp_path / "report"
    res = run("eval", ckpt, "--data", "digits:0-4", "--out", report, "--json")
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)
    # the same 183 held-out images the adapt run validated on (its own seed picks the split)
    assert m["images"] == summary["val_images"] == 183 and m["split"] == "val"
    assert m["top1"] == pytest.approx(summary["val_accuracy"], abs=1.01 / 183)
    assert sum(r["support"] for r in m["per_class"]) == 183 and len(m["confusion_matrix"]) == 5
    assert m["top5"] is None and "5 classes" in m["notes"][0]
    assert json.loads((report / "metrics.json").read_text()) == m
    with Image.open(report / "confusion.png") as img:
        assert img.mode == "RGB" and min(img.size) > 5 * 8
    again = run("eval", ckpt, "--data", "digits:0-4", "--out", report)
    assert_user_error(again, f"--out {report} already holds a run (metrics.json", "--overwrite")


def test_eval_bad_inputs(checkpoint, tmp_path):
    ckpt, _ = checkpoint
    out = tmp_path / "rep"
    assert_user_error(
        run("eval", ckpt, "--data", "digits:5-9", "--out", out),
        "the data digits:5-9 has classes [5, 6, 7, 8, 9] but checkpoint",
        "was trained on [0, 1, 2, 3, 4]; pass data with the checkpoint's classes, in the same order",
    )
    assert_user_error(
        run("eval", tmp_path / "missing", "--data", "digits:0-4", "--out", out),
        f"checkpoint directory {tmp_path / 'missing'} does not exist",
    )
    assert_user_error(
        run("eval", ckpt, "--data", "digits:0-4", "--split", "test", "--out", out), "--split 'test' is not known; valid: val, train, all"
    )
    assert not out.exists()


# ---------------------------------------------------------------------------------
# zoo predict
# ---------------------------------------------------------------------------------
def test_predict_topk_and_probabilities(checkpoint, digit_pngs):
    from zoo.io.images import read_image
    from zoo.tasks.classifier import load_run

    ckpt, _ = checkpoint
    res = run("predict", ckpt, *digit_pngs, "--topk", "5", "--json")
    assert res.exit_code == 0, res.output
    preds = json.loads(res.stdout)
    assert [p["image"] for p in preds] == [str(p) for p in digit_pngs]
    run_ = load_run(ckpt)
    extractor, transform = run_.extractor(), run_.transform()
    for p in preds:
        probs = [t["probability"] for t in p["top"]]
        assert len(probs) == 5 and sum(probs) == pytest.approx(1.0, abs=1e-5) and probs == sorted(probs, reverse=True)
        assert {t["class"] for t in p["top"]} == {"0", "1", "2", "3", "4"}
        ref = torch.softmax(extractor.logits(transform(read_image(p["image"], mode="RGB"))[None]), 1)[0]
        assert p["top"][0]["index"] == int(ref.argmax())
        assert probs == pytest.approx([float(ref[t["index"]]) for t in p["top"]], abs=1e-5)
    two = run("predict", ckpt, digit_pngs[0], "--topk", "2")
    assert two.exit_code == 0 and two.stdout.count(",") == 1 and two.stdout.startswith(str(digit_pngs[0]) + ": ")


def test_predict_bad_images(checkpoint, digit_pngs, tmp_path, monkeypatch):
    ckpt, _ = checkpoint
    fake = tmp_path / "notes.png"
    fake.write_text("not an image")
    assert_user_error(run("predict", ckpt, digit_pngs[0], fake), f"cannot read image {fake}: it is a text file ('not an image')")
    assert_user_error(run("predict", ckpt, tmp_path / "gone.png"), f"image {tmp_path / 'gone.png'} does not exist")
    assert_user_error(run("predict", ckpt, digit_pngs[0], "--topk", "0"), "--topk must be at least 1, got 0")
    from PIL import Image

    big = tmp_path / "big.png"
    Image.new("RGB", (40, 40)).save(big)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1,600 px is over twice the limit: a decompression bomb
    assert_user_error(
        run("predict", ckpt, big), f"image {big} has more pixels than PIL's decompression-bomb limit (200); shrink it or remove it"
    )
