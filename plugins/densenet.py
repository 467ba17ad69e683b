"""DenseNet family: DenseNet121/169/201 (Huang et al. 2017, arXiv:1608.06993), built by torchvision.

Stages are torchvision's own names: ``conv0 denseblock1 transition1 ... denseblock4
classifier`` (``norm5`` joins ``denseblock4``). The published weights predate PyTorch 0.4 and
name ``norm1`` as ``norm.1``: :func:`rename_old_keys` renames them, as torchvision's
``_load_state_dict`` does. Source: torchvision ``models/densenet.py`` (BSD-3).
"""

from __future__ import annotations

import re
from typing import Any

from zoo.pluginkit import BuildOption, backbone_hooks, options_hook

#: ``...denselayerN.norm.1.weight`` (torchvision's files before PyTorch 0.4) -> ``...denselayerN.norm1.weight``.
OLD_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def rename_old_keys(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with torchvision's old DenseNet keys renamed (``norm.1`` -> ``norm1``,
    ``conv.2`` -> ``conv2``); other keys and the tensors are unchanged."""
    renamed = {}
    for key, value in state.items():
        m = OLD_KEY.match(key)
        renamed[m.group(1) + m.group(2) if m else key] = value
    return renamed


def _stages(model):
    from zoo.models.backbones import stages_from_children

    return stages_from_children(model, root="features")


#: torchvision's DenseNet takes drop_rate (dropout after each dense layer).
DECLARED = [BuildOption("drop_rate", "float", 0.0, "dropout rate after each dense layer (torchvision's drop_rate)", minimum=0, maximum=1)]

zoo_model_specs, zoo_build_model = backbone_hooks(__name__, stages=_stages, state_dict_hook=rename_old_keys, declared=DECLARED)
zoo_model_options = options_hook(__name__, DECLARED)
