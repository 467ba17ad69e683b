"""zoo export: ONNX and TorchScript files that match PyTorch, and one-line refusals."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from cli_helpers import assert_user_error, run


def _save_classifier(name: str, out, img_size: int = 32):
    """A 5-class checkpoint of ``name`` as zoo adapt writes it, with seeded random BatchNorm
    statistics and affine parameters (freshly built networks have identity BatchNorm and
    near-zero outputs, which would make the parity check trivially true)."""
    from zoo.io.checkpoint import save_checkpoint
    from zoo.registry import build
    from zoo.tasks import preprocessing

    torch.manual_seed(0)
    adapter = build(name, num_classes=5)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in adapter.model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
        head = adapter.model.get_submodule(adapter.head)
        head.weight.copy_(torch.randn(head.weight.shape, generator=g) * 0.5)
    meta = {
        "class_names": ["zero", "one", "two", "three", "four"],
        "preprocessing": preprocessing(adapter, img_size, SimpleNamespace(builtin=True)),
        "training": {"data": "digits:0-4", "epochs": 0, "seed": 0},
    }
    save_checkpoint(out, adapter, meta)
    return adapter.model.eval()


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_export_parity(name, tmp_path):
    import onnxruntime as ort

    ckpt = tmp_path / name
    model = _save_classifier(name, ckpt)
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(7))  # another batch size than export and check
    with torch.no_grad():
        ref = model(x)
    assert ref.abs().max() > 0.5  # a network whose outputs are worth comparing
    tol = 1e-4 * max(1.0, float(ref.abs().max()))

    res = run("export", ckpt, "--format", "onnx", "--json")
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    assert r["out"] == str(ckpt / "model.onnx") and r["max_abs_diff"] <= r["tolerance"] and r["input_shape"] == ["batch", 3, 32, 32]
    assert r["exporter"] == "torch.onnx.export(dynamo=False)" and r["runtime"].startswith("onnxruntime")
    session = ort.InferenceSession(r["out"], providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    assert props["zoo_model"] == name and json.loads(props["class_names"])[4] == "four"
    got = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    assert float((got - ref).abs().max()) <= tol

    out_pt = tmp_path / "exported" / f"{name}.pt"
    res = run("export", ckpt, "--format", "torchscript", "--out", out_pt, "--json")
    assert res.exit_code == 0, res.output
    r = json.loads(res.stdout)
    assert r["out"] == str(out_pt) and r["max_abs_diff"] <= r["tolerance"]
    extra = {"zoo.json": ""}
    loaded = torch.jit.load(str(out_pt), _extra_files=extra)
    assert json.loads(extra["zoo.json"])["zoo_model"] == name
    with torch.no_grad():
        assert float((loaded(x) - ref).abs().max()) <= tol


def test_export_bad_inputs(tmp_path, monkeypatch):
    ckpt = tmp_path / "r18"
    _save_classifier("resnet18", ckpt)
    before = sorted(p.name for p in ckpt.iterdir())
    assert_user_error(run("export", ckpt, "--format", "tflite"), "--format 'tflite' is not known; valid: onnx, torchscript")
    assert_user_error(
        run("export", tmp_path / "nowhere", "--format", "onnx"),
        f"checkpoint directory {tmp_path / 'nowhere'} does not exist; pass a directory written by 'zoo train' or 'zoo adapt'",
    )
    assert_user_error(
        run("export", ckpt, "--format", "torchscript", "--img-size", "16"),
        "--img-size 16 is below resnet18's minimum input of 32 px; use --img-size 32 or more",
    )
    (tmp_path / "taken.pt").write_bytes(b"x")
    assert_user_error(run("export", ckpt, "--format", "torchscript", "--out", tmp_path / "taken.pt"), "already exists", "--overwrite")

    # an export that does not match PyTorch is refused, and nothing is left behind
    import zoo.tasks.export as zexport

    real = zexport._run_torchscript
    monkeypatch.setattr(zexport, "_run_torchscript", lambda path, x: (real(path, x)[0] + 0.01, "tampered"))
    assert_user_error(
        run("export", ckpt, "--format", "torchscript"), "the torchscript export of resnet18 does not match PyTorch: max abs diff 0.01 >"
    )
    assert sorted(p.name for p in ckpt.iterdir()) == before
    assert_user_error(run("export", ckpt, "--format", "torchscript", "--out", tmp_path / "new" / "sub" / "m.pt"), "does not match PyTorch")
    assert not (tmp_path / "new").exists()  # nor the directories made for --out


def test_export_refuses_a_gan(tmp_path):
    from zoo.io.checkpoint import save_checkpoint
    from zoo.registry import build

    ckpt = tmp_path / "dcgan"
    save_checkpoint(ckpt, build("dcgan", image_size=16, channels=1, ngf=4, ndf=4, latent_dim=8), {})
    assert_user_error(
        run("export", ckpt, "--format", "onnx"),
        f"zoo export works on classifiers; {ckpt} holds the GAN dcgan (use 'zoo sample dcgan --checkpoint {ckpt}')",
    )
