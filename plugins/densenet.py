"""DenseNet family: DenseNet121/169/201 (Huang et al. 2017, arXiv:1608.06993), built by torchvision.

Stages are torchvision's own names: ``conv0 denseblock1 transition1 ... denseblock4
classifier`` (``norm5`` joins ``denseblock4``). Source: torchvision ``models/densenet.py`` (BSD-3).
"""

from __future__ import annotations

from zoo import hookimpl
from zoo.registry import builtin_specs


def _stages(model):
    from zoo.backbones import stages_from_children

    return stages_from_children(model, root="features")


@hookimpl
def zoo_model_specs():
    """The DenseNet tables of ``registry.toml``."""
    return builtin_specs(__name__)


@hookimpl
def zoo_build_model(spec, options):
    """Build a DenseNet backbone (random init); ``None`` for other plugins' specs."""
    if spec.plugin != __name__:
        return None
    from zoo.backbones import build_backbone

    return build_backbone(spec, options, _stages)
