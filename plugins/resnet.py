"""ResNet family: ResNet v1 (He et al. 2016), ResNet v2 / pre-activation (He et al. 2016b), ResNeXt (Xie et al. 2017).

Architectures come from torchvision (``resnet18/50/101/152``, ``resnext50_32x4d``,
``resnext101_32x8d``) and timm (``resnetv2_50/101/152``, pre-activation ResNets as in
Keras' ResNet50V2). Stages use each library's own names: torchvision ``conv1 layer1..layer4
fc``; timm ResNetV2 ``stem stage1..stage4 head``.

Sources: arXiv:1512.03385, arXiv:1603.05027, arXiv:1611.05431; torchvision
``models/resnet.py`` (BSD-3), timm ``models/resnetv2.py`` (Apache-2.0).
"""

from __future__ import annotations

from zoo.pluginkit import BuildOption, backbone_hooks, options_hook, timm_drop_options


def _stages(model):
    from zoo.models.adapters import Stage
    from zoo.models.backbones import stages_from_children

    if hasattr(model, "layer1"):  # torchvision ResNet / ResNeXt
        return stages_from_children(model)
    # timm ResNetV2: stem, stages.0-3, norm, head
    stages = [Stage("stem", ("stem",))]
    n = len(model.stages)
    for i in range(n):
        extra = ("norm",) if i == n - 1 else ()
        stages.append(Stage(f"stage{i + 1}", (f"stages.{i}", *extra)))
    stages.append(Stage("head", ("head",)))
    return stages


def _declared(spec):
    """torchvision's ResNet/ResNeXt take zero_init_residual; timm's ResNetV2 drop_rate and drop_path_rate."""
    if spec.arch.startswith("timm:"):
        return timm_drop_options(drop_path=True)
    return [
        BuildOption(
            "zero_init_residual",
            "bool",
            False,
            "start each residual block as the identity, its last BatchNorm weight zeroed (Goyal et al. 2017; torchvision's option)",
        )
    ]


zoo_model_specs, zoo_build_model = backbone_hooks(__name__, stages=_stages, declared=_declared)
zoo_model_options = options_hook(__name__, _declared)
