"""NASNet-A (Zoph et al. 2018, "Learning Transferable Architectures for Scalable Image
Recognition", arXiv:1707.07012): NASNetLarge (6 @ 4032) built by timm, NASNetMobile
(4 @ 1056) implemented here (:mod:`zoo.plugins.nasnet_mobile`, neither timm nor
torchvision has it) with the state-dict layout of Cadene's pretrained-models.pytorch.

Stages are the cells' own names: ``conv0 cell_stem_0 cell_stem_1 cell_0 ... reduction_cell_0
... last_linear``. Sources: timm ``models/nasnet.py`` (Apache-2.0), Cadene
``pretrainedmodels/models/nasnet_mobile.py`` (BSD-3).
"""

from __future__ import annotations

from zoo.pluginkit import backbone_hooks, options_hook, timm_drop_options


def _factories():
    from zoo.plugins.nasnet_mobile import NASNetAMobile

    return {"nasnetamobile": NASNetAMobile}


#: timm's NASNetALarge and zoo's NASNetAMobile take drop_rate (dropout before the classifier).
DECLARED = timm_drop_options()

zoo_model_specs, zoo_build_model = backbone_hooks(__name__, factories=_factories, declared=DECLARED)
zoo_model_options = options_hook(__name__, DECLARED)
