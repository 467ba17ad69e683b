"""Xception (Chollet 2017, arXiv:1610.02357), built by timm (``legacy_xception``, the
original Keras architecture with the Cadene/TF-ported weights).

Stages are timm's module names: ``conv1 conv2 block1..block12 conv3 conv4 fc``.
Source: timm ``models/xception.py`` (Apache-2.0), ported from Cadene's pretrained-models.pytorch.
"""

from __future__ import annotations

from zoo.pluginkit import backbone_hooks, options_hook, timm_drop_options

#: timm's Xception takes drop_rate (dropout before the classifier).
DECLARED = timm_drop_options()

zoo_model_specs, zoo_build_model = backbone_hooks(__name__, declared=DECLARED)
zoo_model_options = options_hook(__name__, DECLARED)
