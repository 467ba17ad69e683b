"""CycleGAN's grids: translations of images seen in training, each beside its input (imports torch).

:class:`CycleGANSampling` is the base of :class:`zoo.plugins.cyclegan.adapter.CycleGANAdapter`
that draws: :meth:`~CycleGANSampling.sample` (the translations alone),
:meth:`~CycleGANSampling.sample_grid` (``zoo train``'s per-epoch grids: ``input (A) | A -> B``
pairs) and the column header of a translation (:meth:`~CycleGANSampling.describe_condition`).
"""

from __future__ import annotations

from typing import Any

import torch

from zoo.errors import ZooError
from zoo.models.gan import GANAdapter, SampleGrid

__all__ = ["CycleGANSampling"]


class CycleGANSampling(GANAdapter):
    """What a CycleGAN draws (the base of :class:`zoo.plugins.cyclegan.adapter.CycleGANAdapter`,
    which builds the networks, sets the attributes below and gives ``direction`` and ``translate``).

    Attributes:
        domains: the names of domains A and B.
        _probe: ``{"a": images, "b": images}``: up to 64 ``[-1, 1]`` images of each domain
            kept by ``training_step`` (``None`` before any was seen).
    """

    domains: tuple[str, str]
    _probe: dict[str, torch.Tensor | None]

    def _domains_of(self, direction: str) -> tuple[str, str]:
        """``(source, target)`` domain names of ``direction``."""
        return self.domains if direction == "AtoB" else (self.domains[1], self.domains[0])

    def describe_condition(self, condition: Any = None) -> str:
        """The column header of a translation: ``"A -> B"`` with the domains' names (``"3 -> 8"``,
        ``"horse -> zebra"``) for the direction ``condition`` asks for.

        Raises:
            ZooError: an unknown direction (exit code 2).
        """
        return " -> ".join(self._domains_of(self.direction(condition)))

    def _seen(self, n: int, seed: int, direction: str) -> torch.Tensor:
        """``n`` of the kept images of the source domain of ``direction``, chosen with ``seed``
        (distinct while ``n`` <= the images kept), ``[-1, 1]``.

        Raises:
            ZooError: none kept yet (a model just built or loaded).
        """
        probe = self._probe["a" if direction == "AtoB" else "b"]
        if probe is None:
            raise ZooError(
                f"{self.spec.name} translates images rather than drawing them from noise: give an input image "
                f"('zoo sample {self.spec.name} --image FILE', or translate(preprocess(image)[None])); sample() translates "
                "images seen in training, and this model has seen none",
                exit_code=2,
            )
        g = torch.Generator().manual_seed(int(seed))
        idx = torch.randperm(probe.shape[0], generator=g)[:n] if n <= probe.shape[0] else torch.randint(probe.shape[0], (n,), generator=g)
        return probe[idx]

    def sample(self, n: int, *, seed: int = 0, condition: Any = None) -> torch.Tensor:
        """Translations of ``n`` real images seen in training (CycleGAN draws nothing from noise).

        The adapter keeps the first 64 images of each domain it trained on; ``sample`` picks
        ``n`` of them with ``seed`` (distinct images while ``n <= 64``) and translates them
        (the same inputs every epoch). To translate your own images use :meth:`translate`
        (``zoo sample cyclegan --image x.jpg``).

        Args:
            n: number of images, >= 1.
            seed: seed of the choice (a local CPU ``torch.Generator``).
            condition: the direction, as :meth:`translate` (``AtoB`` translates domain-A images).

        Returns:
            ``(n, channels, image_size, image_size)`` float32 CPU tensor in ``[0, 1]``.

        Raises:
            ZooError: ``n < 1``, a bad direction, or no image of the source domain seen yet
                (a model just built or loaded: the message says to give an input image).
        """
        n = self.check_n(n)
        direction = self.direction(condition)
        return self.translate(self._seen(n, seed, direction), direction)

    def sample_grid(self, n: int, *, seed: int = 0, condition: Any = None) -> SampleGrid:
        """``zoo train``'s per-epoch grid: the ``n`` images :meth:`sample` translates, each beside
        its translation, columns headed ``input (A)`` and ``A -> B`` (the domains' names),
        ``ceil(sqrt(n / 2))`` pairs per row.

        Returns:
            A :class:`zoo.models.gan.SampleGrid`.

        Raises:
            ZooError: as :meth:`sample`.
        """
        n = self.check_n(n)
        direction = self.direction(condition)
        x = self._seen(n, seed, direction)
        source, _ = self._domains_of(direction)
        shown = ((x.float() + 1) / 2).clamp(0, 1).cpu()
        return SampleGrid.side_by_side([(f"input ({source})", shown), (self.describe_condition(direction), self.translate(x, direction))])
