"""Regenerate ``zoo/registry/registry.toml`` from torchvision's and timm's own weight metadata.

Run: ``.venv/bin/python tools/gen_registry.py`` (offline; builds every model once with
random weights to record ``num_params`` and the stage names, ~1 min on 2 cores).

What comes from where:
* torchvision weights: url, the sha256 prefix in the file name, ImageNet acc@1/acc@5
  from ``Weights.meta["_metrics"]``, resize/crop from the weights' transforms.
* timm weights: the Hugging Face hub file of the tagged pretrained config (or its url),
  mean/std/interpolation/crop_pct/input_size from the pretrained config, and top-1/top-5
  from timm's published ``results/results-imagenet.csv`` (``TIMM_RESULTS`` below).
* NASNetMobile: Cadene's pretrained-models.pytorch README.
GAN families are written by hand and are not this script's: a family packaged under
``plugins/<family>/`` keeps its tables in its own ``registry.toml`` (srgan, cyclegan, lapgan),
which a regeneration never touches. GAN tables still in ``zoo/registry/registry.toml`` (families
not yet in a package of their own) are kept verbatim (:func:`_gan_tables`); none is required.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (name, family, plugin, arch, weights, paper, description)
BACKBONES = [
    (
        "xception",
        "xception",
        "xception",
        "timm:legacy_xception",
        "timm:legacy_xception.tf_in1k",
        "Chollet 2017, Xception: Deep Learning with Depthwise Separable Convolutions, arXiv:1610.02357",
        "Xception, depthwise-separable Inception",
    ),
    (
        "vgg16",
        "vgg",
        "vgg",
        "torchvision:vgg16",
        "tv:VGG16_Weights.IMAGENET1K_V1",
        "Simonyan & Zisserman 2015, Very Deep Convolutional Networks for Large-Scale Image Recognition, arXiv:1409.1556",
        "VGG 16 weight layers",
    ),
    (
        "vgg19",
        "vgg",
        "vgg",
        "torchvision:vgg19",
        "tv:VGG19_Weights.IMAGENET1K_V1",
        "Simonyan & Zisserman 2015, Very Deep Convolutional Networks for Large-Scale Image Recognition, arXiv:1409.1556",
        "VGG 19 weight layers",
    ),
    (
        "resnet18",
        "resnet",
        "resnet",
        "torchvision:resnet18",
        "tv:ResNet18_Weights.IMAGENET1K_V1",
        "He et al. 2016, Deep Residual Learning for Image Recognition, arXiv:1512.03385",
        "ResNet-18, small and fast (demo backbone)",
    ),
    (
        "resnet50",
        "resnet",
        "resnet",
        "torchvision:resnet50",
        "tv:ResNet50_Weights.IMAGENET1K_V2",
        "He et al. 2016, Deep Residual Learning for Image Recognition, arXiv:1512.03385",
        "ResNet-50 (bottleneck)",
    ),
    (
        "resnet101",
        "resnet",
        "resnet",
        "torchvision:resnet101",
        "tv:ResNet101_Weights.IMAGENET1K_V2",
        "He et al. 2016, Deep Residual Learning for Image Recognition, arXiv:1512.03385",
        "ResNet-101 (bottleneck)",
    ),
    (
        "resnet152",
        "resnet",
        "resnet",
        "torchvision:resnet152",
        "tv:ResNet152_Weights.IMAGENET1K_V2",
        "He et al. 2016, Deep Residual Learning for Image Recognition, arXiv:1512.03385",
        "ResNet-152 (bottleneck)",
    ),
    (
        "resnet50v2",
        "resnet",
        "resnet",
        "timm:resnetv2_50",
        "timm:resnetv2_50.a1h_in1k",
        "He et al. 2016, Identity Mappings in Deep Residual Networks, arXiv:1603.05027",
        "pre-activation ResNet-50 (Keras ResNet50V2)",
    ),
    (
        "resnet101v2",
        "resnet",
        "resnet",
        "timm:resnetv2_101",
        "timm:resnetv2_101.a1h_in1k",
        "He et al. 2016, Identity Mappings in Deep Residual Networks, arXiv:1603.05027",
        "pre-activation ResNet-101 (Keras ResNet101V2)",
    ),
    (
        "resnet152v2",
        "resnet",
        "resnet",
        "timm:resnetv2_152",
        None,
        "He et al. 2016, Identity Mappings in Deep Residual Networks, arXiv:1603.05027",
        "pre-activation ResNet-152 (Keras ResNet152V2); no published in1k weights",
    ),
    (
        "resnext50_32x4d",
        "resnet",
        "resnet",
        "torchvision:resnext50_32x4d",
        "tv:ResNeXt50_32X4D_Weights.IMAGENET1K_V2",
        "Xie et al. 2017, Aggregated Residual Transformations for Deep Neural Networks, arXiv:1611.05431",
        "ResNeXt-50 32x4d",
    ),
    (
        "resnext101_32x8d",
        "resnet",
        "resnet",
        "torchvision:resnext101_32x8d",
        "tv:ResNeXt101_32X8D_Weights.IMAGENET1K_V2",
        "Xie et al. 2017, Aggregated Residual Transformations for Deep Neural Networks, arXiv:1611.05431",
        "ResNeXt-101 32x8d",
    ),
    (
        "inception_v3",
        "inception",
        "inception",
        "timm:inception_v3",
        "timm:inception_v3.tv_in1k",
        "Szegedy et al. 2016, Rethinking the Inception Architecture for Computer Vision, arXiv:1512.00567",
        "Inception-v3 (no auxiliary head)",
    ),
    (
        "inception_resnet_v2",
        "inception",
        "inception",
        "timm:inception_resnet_v2",
        "timm:inception_resnet_v2.tf_in1k",
        "Szegedy et al. 2017, Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning, arXiv:1602.07261",
        "Inception-ResNet-v2",
    ),
    (
        "mobilenet_v1",
        "mobilenet",
        "mobilenet",
        "timm:mobilenetv1_100",
        "timm:mobilenetv1_100.ra4_e3600_r224_in1k",
        "Howard et al. 2017, MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications, arXiv:1704.04861",
        "MobileNet v1, width 1.0",
    ),
    (
        "mobilenet_v2",
        "mobilenet",
        "mobilenet",
        "torchvision:mobilenet_v2",
        "tv:MobileNet_V2_Weights.IMAGENET1K_V2",
        "Sandler et al. 2018, MobileNetV2: Inverted Residuals and Linear Bottlenecks, arXiv:1801.04381",
        "MobileNetV2, width 1.0",
    ),
    (
        "mobilenet_v3_small",
        "mobilenet",
        "mobilenet",
        "torchvision:mobilenet_v3_small",
        "tv:MobileNet_V3_Small_Weights.IMAGENET1K_V1",
        "Howard et al. 2019, Searching for MobileNetV3, arXiv:1905.02244",
        "MobileNetV3-Small",
    ),
    (
        "mobilenet_v3_large",
        "mobilenet",
        "mobilenet",
        "torchvision:mobilenet_v3_large",
        "tv:MobileNet_V3_Large_Weights.IMAGENET1K_V2",
        "Howard et al. 2019, Searching for MobileNetV3, arXiv:1905.02244",
        "MobileNetV3-Large",
    ),
    (
        "densenet121",
        "densenet",
        "densenet",
        "torchvision:densenet121",
        "tv:DenseNet121_Weights.IMAGENET1K_V1",
        "Huang et al. 2017, Densely Connected Convolutional Networks, arXiv:1608.06993",
        "DenseNet-121",
    ),
    (
        "densenet169",
        "densenet",
        "densenet",
        "torchvision:densenet169",
        "tv:DenseNet169_Weights.IMAGENET1K_V1",
        "Huang et al. 2017, Densely Connected Convolutional Networks, arXiv:1608.06993",
        "DenseNet-169",
    ),
    (
        "densenet201",
        "densenet",
        "densenet",
        "torchvision:densenet201",
        "tv:DenseNet201_Weights.IMAGENET1K_V1",
        "Huang et al. 2017, Densely Connected Convolutional Networks, arXiv:1608.06993",
        "DenseNet-201",
    ),
    (
        "nasnetmobile",
        "nasnet",
        "nasnet",
        "zoo:nasnetamobile",
        "cadene:nasnetamobile",
        "Zoph et al. 2018, Learning Transferable Architectures for Scalable Image Recognition, arXiv:1707.07012",
        "NASNet-A Mobile (4 @ 1056), own implementation",
    ),
    (
        "nasnetlarge",
        "nasnet",
        "nasnet",
        "timm:nasnetalarge",
        "timm:nasnetalarge.tf_in1k",
        "Zoph et al. 2018, Learning Transferable Architectures for Scalable Image Recognition, arXiv:1707.07012",
        "NASNet-A Large (6 @ 4032)",
    ),
]

# Smallest input each architecture accepts (pixels); default 32.
MIN_SIZE = {"xception": 71, "inception_v3": 75, "inception_resnet_v2": 75, "nasnetlarge": 64, "nasnetmobile": 32}

CADENE = {
    "nasnetamobile": dict(
        url="https://data.lip6.fr/cadene/pretrainedmodels/nasnetamobile-7e03cead.pth",
        sha256="7e03cead",
        format="pth",
        license="BSD-3-Clause (Cadene/pretrained-models.pytorch)",
        top1=74.08,
        top5=91.74,
        metrics_source="Cadene/pretrained-models.pytorch README (ImageNet val, 224x224)",
        input_size=(3, 224, 224),
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        interpolation="bicubic",
        crop_pct=0.875,
    )
}


def _gan_tables() -> str:
    """The hand-written GAN tables still in ``zoo/registry/registry.toml`` (every ``[models.*]``
    table with ``kind = "gan"``, with its sub-tables), kept verbatim; ``""`` when there is none
    (GAN families keep their tables in their packages: ``plugins/<family>/registry.toml``)."""
    text = (ROOT / "zoo" / "registry" / "registry.toml").read_text()
    chunks = re.split(r"(?m)^(?=\[models\.[^.\]]+\]\s*$)", text)
    gans = [c for c in chunks if re.search(r'(?m)^kind = "gan"\s*$', c)]
    return "\n" + "".join(gans).rstrip() + "\n" if gans else ""


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(v)


def _tv_weights(ref):
    import torchvision

    enum_name, member = ref.split(".")
    w = getattr(torchvision.models, enum_name)[member]
    t = w.transforms()
    crop, resize = t.crop_size[0], t.resize_size[0]
    fname = w.url.rsplit("/", 1)[-1]
    sha_prefix = fname.rsplit("-", 1)[-1].split(".")[0]
    return dict(
        url=w.url,
        sha256=sha_prefix,
        format="pth",
        license="BSD-3-Clause (torchvision)",
        top1=w.meta["_metrics"]["ImageNet-1K"]["acc@1"],
        top5=w.meta["_metrics"]["ImageNet-1K"]["acc@5"],
        metrics_source=f"torchvision {enum_name}.{member}.meta",
        input_size=(3, crop, crop),
        mean=tuple(t.mean),
        std=tuple(t.std),
        interpolation=t.interpolation.value,
        crop_pct=round(crop / resize, 4),
    )


def _timm_weights(ref, results):
    import timm

    cfg = timm.models.get_pretrained_cfg(ref.split(":", 1)[1]).to_dict()
    tagged = ref.split(":", 1)[1]
    if cfg.get("hf_hub_id"):
        url, fmt = f"https://huggingface.co/{cfg['hf_hub_id']}/resolve/main/model.safetensors", "safetensors"
    else:
        url, fmt = cfg["url"], "pth"
    r = results.get(tagged) or {}
    # Keep the row measured at the config's own input size (some weights have several).
    for row in r.get("all_rows", []):
        if row.get("img_size") == cfg["input_size"][-1]:
            r = row
            break
    return dict(
        url=url,
        sha256="",
        format=fmt,
        license=str(cfg.get("license") or "see timm model card"),
        top1=r.get("top1"),
        top5=r.get("top5"),
        metrics_source=results.get("__source__", "timm results-imagenet.csv") if r else "",
        input_size=tuple(cfg["input_size"]),
        mean=tuple(cfg["mean"]),
        std=tuple(cfg["std"]),
        interpolation=cfg.get("interpolation", "bilinear"),
        crop_pct=cfg.get("crop_pct", 0.875),
    )


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from zoo.models.adapters import BackboneAdapter  # noqa: F401
    from zoo.registry.spec import spec_from_dict
    from zoo.utils.fileio import atomic_write_text

    results_path = ROOT / "tools" / "timm_results.json"
    results = {}
    if results_path.exists():
        doc = json.loads(results_path.read_text())
        results = dict(doc["models"])
        results["__source__"] = doc["source"]
    out = [
        "# The built-in catalogue. Generated by tools/gen_registry.py from torchvision's and timm's",
        "# weight metadata (see that script for what comes from where); validated by tests/test_registry.py.",
        "",
    ]
    import importlib

    for name, family, plugin, arch, wref, paper, desc in BACKBONES:
        if wref is None:
            w = None
            meta = dict(input_size=(3, 224, 224), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), interpolation="bicubic", crop_pct=0.95)
        elif wref.startswith("tv:"):
            w = meta = _tv_weights(wref[3:])
        elif wref.startswith("timm:"):
            w = meta = _timm_weights(wref, results)
        else:
            w = meta = CADENE[wref.split(":")[1]]
        table = dict(
            family=family,
            kind="backbone",
            plugin=f"zoo.plugins.{plugin}",
            arch=arch,
            input_size=list(meta["input_size"]),
            min_size=MIN_SIZE.get(name, 32),
            mean=list(meta["mean"]),
            std=list(meta["std"]),
            interpolation=meta["interpolation"],
            crop_pct=float(meta["crop_pct"]),
            num_classes=1000,
            num_params=0,
            stages=[],
            head="",
            paper=paper,
            description=desc,
        )
        mod = importlib.import_module(f"zoo.plugins.{plugin}")
        head = {
            "torchvision:vgg16": "classifier.6",
            "torchvision:vgg19": "classifier.6",
            "torchvision:mobilenet_v2": "classifier.1",
            "torchvision:mobilenet_v3_small": "classifier.3",
            "torchvision:mobilenet_v3_large": "classifier.3",
        }.get(arch)
        if head is None:
            head = {"xception": "fc", "inception": "fc", "nasnet": "last_linear", "densenet": "classifier"}.get(family, "fc")
            if arch == "timm:inception_resnet_v2":
                head = "classif"
            elif arch.startswith("timm:resnetv2"):
                head = "head.fc"
            elif arch == "timm:mobilenetv1_100":
                head = "classifier"
        table["head"] = head
        spec = spec_from_dict(name, table)
        torch.manual_seed(0)
        adapter = mod.zoo_build_model(spec=spec, options={})
        table["num_params"] = sum(p.numel() for p in adapter.model.parameters())
        table["stages"] = adapter.stage_names()
        out.append(f"[models.{name}]")
        for k, v in table.items():
            out.append(f"{k} = {_toml_value(v)}")
        if w is not None:
            out.append("")
            out.append(f"[[models.{name}.weights]]")
            out.append('tag = "imagenet"')
            for k in ("url", "sha256", "format", "license", "top1", "top5", "metrics_source"):
                if w.get(k) is not None:
                    out.append(f"{k} = {_toml_value(w[k])}")
        out.append("")
        print(f"{name:22s} {table['num_params']:>12,d} stages={len(table['stages'])}", file=sys.stderr)
        del adapter
    text = "\n".join(out) + _gan_tables()
    dst = ROOT / "zoo" / "registry" / "registry.toml"
    atomic_write_text(dst, text)
    print(f"wrote {dst}", file=sys.stderr)


if __name__ == "__main__":
    main()
