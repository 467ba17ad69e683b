"""VGG family: VGG16 and VGG19 (Simonyan & Zisserman 2015, arXiv:1409.1556), built by torchvision.

Stages use Keras Applications' names: ``block1..block5`` (conv blocks, each ending in
its max-pool), ``fc1``, ``fc2`` and ``predictions`` (the three fully-connected layers).
Source: torchvision ``models/vgg.py`` (BSD-3).
"""

from __future__ import annotations

from zoo.pluginkit import BuildOption, backbone_hooks, options_hook


def _stages(model):
    from torch import nn

    from zoo.models.adapters import Stage

    stages, current = [], []
    for name, layer in model.features.named_children():
        current.append(f"features.{name}")
        if isinstance(layer, nn.MaxPool2d):
            stages.append(Stage(f"block{len(stages) + 1}", tuple(current)))
            current = []
    stages[-1] = Stage(stages[-1].name, (*stages[-1].modules, "avgpool"))
    # classifier: Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear
    cls = [f"classifier.{n}" for n, _ in model.classifier.named_children()]
    stages += [Stage("fc1", tuple(cls[0:3])), Stage("fc2", tuple(cls[3:6])), Stage("predictions", tuple(cls[6:]))]
    return stages


#: torchvision's VGG takes dropout (of its two hidden fully-connected layers).
DECLARED = [
    BuildOption("dropout", "float", 0.5, "dropout rate of the two hidden fully-connected layers (0.5 in the paper)", minimum=0, maximum=1)
]

zoo_model_specs, zoo_build_model = backbone_hooks(__name__, stages=_stages, declared=DECLARED)
zoo_model_options = options_hook(__name__, DECLARED)
