"""Inception family: Inception-v3 (Szegedy et al. 2016, arXiv:1512.00567) and
Inception-ResNet-v2 (Szegedy et al. 2017, arXiv:1602.07261), built by timm.

Stages are the modules' own names: Inception-v3 ``Conv2d_1a_3x3 ... Mixed_5b ... Mixed_7c
fc``; Inception-ResNet-v2 ``conv2d_1a ... mixed_5b repeat mixed_6a repeat_1 mixed_7a
repeat_2 block8 conv2d_7b classif``. timm's Inception-v3 has no auxiliary classifier,
so its parameter count matches Keras' InceptionV3 (23.8M).
Source: timm ``models/inception_v3.py``, ``models/inception_resnet_v2.py`` (Apache-2.0).
"""

from __future__ import annotations

from zoo.pluginkit import backbone_hooks, options_hook, timm_drop_options

#: timm's Inception-v3 and Inception-ResNet-v2 take drop_rate (dropout before the classifier).
DECLARED = timm_drop_options()

zoo_model_specs, zoo_build_model = backbone_hooks(__name__, declared=DECLARED)
zoo_model_options = options_hook(__name__, DECLARED)
