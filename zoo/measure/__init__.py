"""Measurements of any PyTorch model, one module each, usable without ``zoo bench``.

* :mod:`zoo.measure.depth`: :func:`model_depth`, weight layers (convolutions and
  fully-connected layers) on the longest input-to-output path of the autograd graph;
  the "depth" column of MATLAB's pretrained-network table (VGG16 16, ResNet50 50,
  InceptionV3 48, Xception 71).
* :mod:`zoo.measure.flops`: :func:`count_flops` (GFLOPs, ``torch.utils.flop_counter``),
  :func:`count_params`, :func:`size_mb` (MB of fp32 weights, torchvision's ``_file_size``).
* :mod:`zoo.measure.timing`: :func:`time_forward` and its :class:`Timing` (ms per call,
  after ``torch.utils.benchmark.Timer.blocked_autorange`` and timm's ``benchmark.py``).
* :mod:`zoo.measure.memory`: :func:`peak_memory_mb` (MB at the peak of one forward).

Units: milliseconds (ms), megabytes of ``2**20`` bytes (MB), GFLOPs (``1e9``
floating-point operations, one multiply-add = 2 FLOPs).

Every function takes a plain ``nn.Module`` (or a callable) and tensors; none knows the
registry. :mod:`zoo.tasks.bench` drives them over registry models. Imports torch.
"""

from __future__ import annotations

from zoo.measure.depth import model_depth
from zoo.measure.flops import MB, count_flops, count_params, size_mb
from zoo.measure.memory import peak_memory_mb
from zoo.measure.timing import Timing, time_forward

__all__ = ["MB", "Timing", "count_flops", "count_params", "model_depth", "peak_memory_mb", "size_mb", "time_forward"]
