"""Xception (Chollet 2017, arXiv:1610.02357), built by timm (``legacy_xception``, the
original Keras architecture with the Cadene/TF-ported weights).

Stages are timm's module names: ``conv1 conv2 block1..block12 conv3 conv4 fc``.
Source: timm ``models/xception.py`` (Apache-2.0), ported from Cadene's pretrained-models.pytorch.
"""

from __future__ import annotations

from zoo.pluginkit import backbone_hooks

zoo_model_specs, zoo_build_model = backbone_hooks(__name__)
