"""What a model is to zoo: the backbone adapter (stages, head, freezing: :mod:`~zoo.models.adapters`,
:mod:`~zoo.models.backbones`), the GAN contract (:mod:`~zoo.models.gan`, :mod:`~zoo.models.gan_steps`,
:mod:`~zoo.models.conditions`), both as types (:mod:`~zoo.models.protocols`), transfer-learning
settings (:mod:`~zoo.models.transfer`), which weights to load (:mod:`~zoo.models.weights`) and the
optimizer configs an adapter asks for (:mod:`~zoo.models.optim`).

May import: :mod:`zoo.io`, :mod:`zoo.registry`, :mod:`zoo.utils`, :mod:`zoo.errors`.
"""
