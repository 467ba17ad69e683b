"""StarGAN's grids: the official debug grid and the columns of a translation grid (imports torch).

:class:`StarGANSampling` is the base of :class:`zoo.plugins.stargan.adapter.StarGANAdapter`
that draws: :meth:`~StarGANSampling.sample` and :meth:`~StarGANSampling.sample_grid` (``zoo
train``'s per-epoch grids) and :meth:`~StarGANSampling.translations` (``zoo sample stargan``).

Reference implementation: yunjey/stargan ``solver.py`` at 94dd002 (MIT licence). ``Solver.train``
keeps the first batch as ``x_fixed`` and, every ``sample_step``, translates it to every target
of ``create_labels`` (``c_fixed_list``) and writes ``x_concat = torch.cat(x_fake_list, dim=3)``:
one row per input, the input first, then one column per target. ``Solver.test`` writes test
images the same way. zoo's grids keep that layout and head the columns with the targets
(:func:`target_headers`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from zoo.errors import ZooError
from zoo.models.gan import GANAdapter, SampleGrid, to_unit_range
from zoo.plugins.stargan import conditions
from zoo.plugins.stargan.data import translation_inputs
from zoo.plugins.stargan.official import official_inference

__all__ = ["StarGANSampling", "target_headers"]


def target_headers(c_org: torch.Tensor, targets: Sequence[torch.Tensor], names: Sequence[str], mode: str) -> list[str]:
    """The column headers of the targets of :func:`zoo.plugins.stargan.conditions.create_labels`.

    Domain mode: the domain's name. Attribute mode: a hair colour's name (that colour on, the
    others off); any other attribute ``i`` is flipped per image, so the header says what the
    column's images get when they all agree (``"Male"``, ``"not Young"``), else ``"flip Male"``.

    Args:
        c_org: ``(N, c_dim)`` the inputs' own 0/1 labels.
        targets: the ``c_dim`` target labels, ``(N, c_dim)`` each, in ``names`` order.
        names: the attribute or domain names.
        mode: ``"attribute"`` or ``"domain"``.

    Returns:
        One header per target.
    """
    headers = []
    for i, (name, c) in enumerate(zip(names, targets, strict=True)):
        if mode == "domain" or name in conditions.HAIR_COLOURS or bool((c[:, i] == 1).all()):
            headers.append(name)
        elif bool((c[:, i] == 0).all()):
            headers.append(f"not {name}")
        else:
            headers.append(f"flip {name}")
    return headers


class StarGANSampling(GANAdapter):
    """What a StarGAN draws (the base of :class:`zoo.plugins.stargan.adapter.StarGANAdapter`,
    which builds the networks and sets the attributes below).

    Attributes:
        mode: ``"attribute"`` or ``"domain"``.
        c_dim: the number of labels.
        _fixed: ``(x, c_org)``, the first training batch's images (up to 16, ``[-1, 1]``) and
            0/1 labels, kept by ``training_step`` for the debug grids; ``None`` before training.
    """

    mode: str
    c_dim: int
    _fixed: tuple[torch.Tensor, torch.Tensor] | None

    def _debug_columns(self, seed: int, condition: Any) -> tuple[torch.Tensor, list[tuple[str, torch.Tensor]]]:
        """The fixed inputs in a seeded order (``[0, 1]``) and their translations, one headed column per target.

        Raises:
            ZooError: the model has not trained (no fixed images), or a bad condition.
        """
        if self._fixed is None:
            raise ZooError(
                f"{self.spec.name} translates images rather than drawing them from noise; pass --image FILE "
                "(or call translate() on preprocess()ed images)",
                exit_code=2,
            )
        x, c_org = self._fixed
        order = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(int(seed)))
        x, c_org = x[order], c_org[order]
        if condition is None:
            targets = conditions.create_labels(c_org, self.condition.names, self.mode)
            headers = target_headers(c_org, targets, self.condition.names, self.mode)
        else:
            targets, headers = [self.target_labels(x, condition, source=c_org)], [self.describe_condition(condition)]
        param = next(self.generator.parameters())
        columns = []
        with official_inference(self.generator):
            for header, c in zip(headers, targets, strict=True):
                columns.append((header, to_unit_range(self.generator(x.to(param.device, param.dtype), c.to(param.device, param.dtype)))))
        return to_unit_range(x), columns

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, condition: Any = None) -> torch.Tensor:
        """The official training-time debug grid (yunjey/stargan ``solver.py``: ``x_fixed`` and
        ``create_labels``) as a flat batch: the first training batch's images (up to 16) and their translations.

        Cells come in blocks of 8 images: a row of the 8 inputs, then one row per target
        (:func:`create_labels` of their own labels, or the one target ``condition`` asks for),
        so a grid 8 cells wide (64 samples) shows each input above its translations; the
        cells repeat when ``n`` is larger. ``seed`` orders the images (a seeded permutation).
        :meth:`sample_grid` lays the same images out as the official ``x_concat``, labelled.

        Returns:
            ``(n, 3, image_size, image_size)`` float32 CPU tensor in ``[0, 1]``.

        Raises:
            ZooError: ``n < 1``; a model that has not trained (StarGAN draws no noise: it
                translates images; use ``zoo sample stargan --image FILE`` or :meth:`translate`).
        """
        n = self.check_n(n)
        x, columns = self._debug_columns(seed, condition)
        rows = [x] + [images for _, images in columns]
        flat = torch.cat([row[i : i + 8] for i in range(0, x.shape[0], 8) for row in rows])
        return flat[torch.arange(n) % flat.shape[0]].contiguous()

    @torch.no_grad()
    def sample_grid(self, n: int, *, seed: int = 0, condition: Any = None) -> SampleGrid:
        """The official debug grid, labelled: one row per fixed input (seeded order), the input
        first (column ``"input"``), then its translation to every target of ``create_labels``
        (or to the one ``condition`` asks for), each column headed (:func:`target_headers`).

        Args:
            n: translations asked for: ``ceil(n / targets)`` rows, at most the (up to 16) fixed images.
            seed: orders the fixed images.
            condition: one target (``--attr`` text, edits or a label), or ``None`` for all.

        Returns:
            A :class:`zoo.models.gan.SampleGrid` of ``1 + targets`` columns.

        Raises:
            ZooError: as :meth:`sample`.
        """
        n = self.check_n(n)
        x, columns = self._debug_columns(seed, condition)
        rows = min(x.shape[0], math.ceil(n / len(columns)))
        return SampleGrid.side_by_side([("input", x[:rows]), *((h, y[:rows]) for h, y in columns)], per_row=1)

    def translations(self, images: torch.Tensor, condition: Any = None, *, source: Any = None) -> list[tuple[str, torch.Tensor]]:
        """The output columns of ``zoo sample stargan``: with a ``condition``, one column
        (:meth:`translate`, headed by the edits: ``"Blond_Hair, not Male"``); without one, as
        the official ``Solver.test``, one column per target of ``create_labels`` of the inputs'
        own labels (:meth:`source_labels`; in domain mode every domain), headed by :func:`target_headers`.

        Args:
            images: ``(N, 3, image_size, image_size)`` float in ``[-1, 1]`` (:meth:`preprocess`).
            condition: the target, or ``None`` for every target.
            source: the inputs' own attributes (``--from``).

        Returns:
            ``[(header, (N, 3, image_size, image_size) float32 CPU in [0, 1])]``.

        Raises:
            ZooError: as :meth:`translate`.
        """
        if condition is not None:
            return super().translations(images, condition, source=source)
        x = translation_inputs(self.spec.name, images, self.image_size)
        c_org = torch.zeros(x.shape[0], self.c_dim) if self.mode == "domain" else self.source_labels(x, source)
        targets = conditions.create_labels(c_org, self.condition.names, self.mode)
        headers = target_headers(c_org, targets, self.condition.names, self.mode)
        return [(h, self.translate(x, c)) for h, c in zip(headers, targets, strict=True)]
