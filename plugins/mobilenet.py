"""MobileNet family: MobileNet v1 (Howard et al. 2017, arXiv:1704.04861; timm
``mobilenetv1_100``), MobileNetV2 (Sandler et al. 2018, arXiv:1801.04381; torchvision) and
MobileNetV3 small/large (Howard et al. 2019, arXiv:1905.02244; torchvision).

Stages follow Keras Applications' naming: v1 ``conv1 conv_dw_1..conv_dw_13 classifier``;
v2/v3 ``conv1 block0..blockN conv_last classifier``.
Sources: timm ``models/mobilenetv1.py``/``_efficientnet_builder.py`` (Apache-2.0),
torchvision ``models/mobilenetv2.py``, ``models/mobilenetv3.py`` (BSD-3).
"""

from __future__ import annotations

from zoo.pluginkit import BuildOption, backbone_hooks, options_hook, timm_drop_options


def _stages(model):
    from zoo.models.adapters import Stage

    if hasattr(model, "features"):  # torchvision v2 / v3
        feats = [f"features.{n}" for n, _ in model.features.named_children()]
        stages = [Stage("conv1", (feats[0],))]
        stages += [Stage(f"block{i}", (f,)) for i, f in enumerate(feats[1:-1])]
        pool = ("avgpool",) if hasattr(model, "avgpool") else ()  # v3 has one; v2 pools functionally
        stages += [Stage("conv_last", (feats[-1], *pool)), Stage("classifier", ("classifier",))]
        return stages
    # timm MobileNetV1: conv_stem, bn1, blocks[stage][block], conv_head, bn2, global_pool, classifier
    stages = [Stage("conv1", ("conv_stem", "bn1"))]
    i = 0
    for s, stage in model.blocks.named_children():
        for b, _ in stage.named_children():
            i += 1
            stages.append(Stage(f"conv_dw_{i}", (f"blocks.{s}.{b}",)))
    tail = [n for n, _ in model.named_children() if n not in ("conv_stem", "bn1", "blocks", "classifier")]
    stages[-1] = Stage(stages[-1].name, stages[-1].modules + tuple(tail))
    stages.append(Stage("classifier", ("classifier",)))
    return stages


def _declared(spec):
    """timm's MobileNet v1 takes drop_rate and drop_path_rate; torchvision's v2/v3 dropout."""
    if spec.arch.startswith("timm:"):
        return timm_drop_options(drop_path=True)
    return [BuildOption("dropout", "float", 0.2, "dropout rate before the classifier (torchvision's default 0.2)", minimum=0, maximum=1)]


zoo_model_specs, zoo_build_model = backbone_hooks(__name__, stages=_stages, declared=_declared)
zoo_model_options = options_hook(__name__, _declared)
