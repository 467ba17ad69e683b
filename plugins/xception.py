"""Xception (Chollet 2017, arXiv:1610.02357), built by timm (``legacy_xception``, the
original Keras architecture with the Cadene/TF-ported weights).

Stages are timm's module names: ``conv1 conv2 block1..block12 conv3 conv4 fc``.
Source: timm ``models/xception.py`` (Apache-2.0), ported from Cadene's pretrained-models.pytorch.
"""

from __future__ import annotations

from zoo import hookimpl
from zoo.registry import builtin_specs


@hookimpl
def zoo_model_specs():
    """The Xception table of ``registry.toml``."""
    return builtin_specs(__name__)


@hookimpl
def zoo_build_model(spec, options):
    """Build Xception (random init); ``None`` for other plugins' specs."""
    if spec.plugin != __name__:
        return None
    from zoo.backbones import build_backbone

    return build_backbone(spec, options)
