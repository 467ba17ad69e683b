"""Reading StarGAN's official checkpoints, and running them as the official test does (imports torch).

Reference implementation: yunjey/stargan at 94dd002 (MIT licence): ``solver.py`` saves
plain state dicts ``{iters}-G.ckpt`` and ``{iters}-D.ckpt``; the released CelebA models
(``200000-G.ckpt`` / ``200000-D.ckpt``, 128x128 and 256x256, 5 attributes) were saved by
PyTorch 0.3. :func:`load_official_stargan` reads either part through zoo's one reader of
official files (:mod:`zoo.io.official`), with the configuration read from the shapes, into
:mod:`zoo.plugins.stargan.networks`, strictly.

Official inference mode: ``Solver.test()`` runs the generator in train mode, so its
InstanceNorm layers normalise with each image's own statistics; eval mode uses the stored
running statistics and gives poor images (yunjey/stargan issue #102).
:func:`load_official_stargan` returns the network in eval mode, as PyTorch convention has
it; :func:`official_inference` reproduces the official translations (train mode under
``torch.no_grad()``, with the running-statistics buffers, which the official code updates as
a side effect, restored afterwards).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.io.official import check_choice, count_indexed, load_strict, official_kind, read_official
from zoo.plugins.stargan.networks import Discriminator, Generator

__all__ = ["load_official_pair", "load_official_stargan", "official_inference", "sibling_discriminator"]


def _infer_generator(state: Mapping[str, torch.Tensor]) -> dict[str, int]:
    w = state.get("main.0.weight")
    if w is None or w.dim() != 4 or w.shape[1] <= 3:
        return {}  # not a generator: the strict load names the keys
    return {"conv_dim": w.shape[0], "c_dim": w.shape[1] - 3, "repeat_num": count_indexed(state, "main.{}.main.0.weight", 9)}


def _infer_discriminator(state: Mapping[str, torch.Tensor]) -> dict[str, int]:
    w, head = state.get("main.0.weight"), state.get("conv2.weight")
    if w is None or head is None or w.dim() != 4 or head.dim() != 4:
        return {}
    repeat_num = count_indexed(state, "main.{}.weight", step=2)  # conv, LeakyReLU, conv, ...
    return {"image_size": head.shape[-1] * 2**repeat_num, "conv_dim": w.shape[0], "c_dim": head.shape[0], "repeat_num": repeat_num}


def load_official_stargan(
    path_or_state: str | os.PathLike[str] | Mapping[str, Any],
    part: str = "G",
) -> Generator | Discriminator:
    """Load an official StarGAN checkpoint (yunjey/stargan ``200000-G.ckpt`` / ``200000-D.ckpt``).

    The configuration is read from the shapes: ``conv_dim``, ``c_dim`` (first conv's input
    channels minus 3, or the classifier's outputs) and ``repeat_num`` (residual blocks, or
    stride-2 convs), and for the discriminator ``image_size`` (classifier kernel x
    2**repeat_num). The files were saved by PyTorch 0.3 and have no ``num_batches_tracked``
    buffers; they load anyway (set to 0). Loading is ``strict=True``.

    Args:
        path_or_state: the ``.ckpt`` file (read with ``torch.load(weights_only=True)``), a
            ``.safetensors`` file, or a state dict.
        part: ``"G"`` (generator, ``*-G.ckpt``) or ``"D"`` (discriminator, ``*-D.ckpt``).

    Returns:
        :class:`Generator` or :class:`Discriminator` on the CPU, float32, in eval mode
        (the official inference runs the generator in train mode; see the module docstring).

    Raises:
        ZooError: ``part`` is not G or D; the file is missing, unreadable or pickles other
            objects than tensors; it holds another part or family (one line naming a few keys
            and what the file looks like), or shapes that do not fit (exit code 2).
    """
    check_choice(part, ("G", "D"), "part")
    state, source = read_official(path_or_state)
    if part == "G":
        model: Generator | Discriminator = Generator(**_infer_generator(state))
    else:
        model = Discriminator(**_infer_discriminator(state))
    load_strict(model, state, expected=official_kind(f"stargan.{part}"), source=source)
    return model


@contextlib.contextmanager
def official_inference(generator: nn.Module) -> Iterator[None]:
    """Run ``generator`` as the official test does: train mode under ``torch.no_grad()``.

    yunjey/stargan ``solver.py``: ``build_model`` creates ``G`` (modules start in train mode),
    ``test`` calls ``restore_model`` and then ``self.G(x_real, c_trg)`` under
    ``torch.no_grad()``, never ``self.G.eval()``; the debug translations of ``train`` do the
    same. So every InstanceNorm normalises each image with its own statistics (eval mode
    would use the stored running statistics, which give poor images: yunjey/stargan issue
    #102). Unlike the official code, the running-statistics buffers (which train mode
    updates as a side effect, and which train-mode outputs never read) are restored
    afterwards, so inference leaves the model unchanged; the train/eval flags are restored too.
    """
    flags = [(m, m.training) for m in generator.modules()]
    buffers = [(b, b.detach().clone()) for b in generator.buffers()]
    generator.train()
    try:
        with torch.no_grad():
            yield
    finally:
        with torch.no_grad():
            for b, saved in buffers:
                b.copy_(saved)
        for m, flag in flags:
            m.training = flag


def sibling_discriminator(path: str | os.PathLike[str]) -> Path | None:
    """``.../200000-D.ckpt`` beside ``.../200000-G.ckpt`` (the same iteration and suffix), if it exists;
    ``None`` otherwise, or when ``path`` is not named ``*-G.<suffix>``."""
    p = Path(path)
    m = re.fullmatch(r"(.*)-G(\.[A-Za-z0-9.]+)", p.name)
    if m is None:
        return None
    sibling = p.with_name(f"{m.group(1)}-D{m.group(2)}")
    return sibling if sibling.is_file() else None


def load_official_pair(
    official_weights: str | os.PathLike[str], official_discriminator: str | os.PathLike[str] | None = None
) -> tuple[Generator, Discriminator | None]:
    """The networks of one official training run: the generator of ``official_weights`` and the
    discriminator of ``official_discriminator``, or of the ``-D`` file beside the generator
    (:func:`sibling_discriminator`), both read with :func:`load_official_stargan`.

    Returns:
        ``(generator, discriminator)``, in eval mode; ``discriminator`` is ``None`` when no
        discriminator file is given or found beside the generator.

    Raises:
        ZooError: an unreadable or wrong file (as :func:`load_official_stargan`), or a
            discriminator whose ``c_dim`` differs from the generator's (exit code 2).
    """
    generator = load_official_stargan(official_weights, part="G")
    d_path = official_discriminator or sibling_discriminator(official_weights)
    if d_path is None:
        return generator, None
    discriminator = load_official_stargan(d_path, part="D")
    if discriminator.c_dim != generator.c_dim:
        raise ZooError(
            f"the discriminator {d_path} has {discriminator.c_dim} labels but the generator {official_weights} "
            f"has {generator.c_dim}; pass the files of one training run",
            exit_code=2,
        )
    return generator, discriminator
