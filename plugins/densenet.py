"""DenseNet family: DenseNet121/169/201 (Huang et al. 2017, arXiv:1608.06993), built by torchvision.

Stages are torchvision's own names: ``conv0 denseblock1 transition1 ... denseblock4
classifier`` (``norm5`` joins ``denseblock4``). Source: torchvision ``models/densenet.py`` (BSD-3).
"""

from __future__ import annotations

from zoo.pluginkit import backbone_hooks


def _stages(model):
    from zoo.models.backbones import stages_from_children

    return stages_from_children(model, root="features")


zoo_model_specs, zoo_build_model = backbone_hooks(__name__, stages=_stages)
