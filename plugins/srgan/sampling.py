"""SRResNet's and SRGAN's grids: super-resolved patches of a built-in photograph beside bicubic
and the original (imports torch).

:class:`SRGANSampling` is the base of :class:`zoo.plugins.srgan.adapter.SRGANAdapter` that
draws: :meth:`~SRGANSampling.sample` (the super-resolutions alone),
:meth:`~SRGANSampling.sample_grid` (``zoo train``'s per-epoch grids: ``bicubic x4 | SRResNet x4
| original`` triples) and the column header of a translation
(:meth:`~SRGANSampling.describe_condition`).
"""

from __future__ import annotations

from typing import Any

import torch

from zoo.errors import ZooError
from zoo.models.gan import GANAdapter, SampleGrid
from zoo.plugins.srgan.data import bicubic_resize

__all__ = ["SRGANSampling"]


class SRGANSampling(GANAdapter):
    """What SRResNet and SRGAN draw (the base of :class:`zoo.plugins.srgan.adapter.SRGANAdapter`,
    which builds the networks, sets the attributes below and gives ``preprocess``,
    ``downscale`` and ``translate``).

    Attributes:
        mode: ``"mse"`` (``srresnet``) or ``"gan"`` (``srgan``).
        upscale: the generator's scale factor.
    """

    mode: str
    upscale: int

    def describe_condition(self, condition: Any = None) -> str:
        """The column header of a super-resolution: ``"SRResNet x4"`` or ``"SRGAN x4"`` (the model's scale)."""
        return f"{'SRGAN' if self.mode == 'gan' else 'SRResNet'} x{self.upscale}"

    def _patches(self, n: int, seed: int, condition: Any) -> torch.Tensor:
        """``n`` seeded ``image_size`` HR patches of the built-in photograph, ``(n, C, S, S)`` in ``[0, 1]``.

        Raises:
            ZooError: ``n < 1`` or a condition was given (exit code 2).
        """
        from PIL import Image
        from skimage import data

        n = self.check_n(n)
        if condition is not None:
            raise ZooError(f"{self.spec.name} upscales images and takes no condition; sample it without one", exit_code=2)
        photo = self.preprocess(Image.fromarray(data.astronaut()))
        size = self.image_size
        if min(photo.shape[-2:]) < size:  # patches larger than the 512x512 photograph
            photo = bicubic_resize(photo[None], (size, size))[0]
        g = torch.Generator().manual_seed(int(seed))
        ys = torch.randint(0, photo.shape[-2] - size + 1, (n,), generator=g).tolist()
        xs = torch.randint(0, photo.shape[-1] - size + 1, (n,), generator=g).tolist()
        return torch.stack([photo[:, y : y + size, x : x + size] for y, x in zip(ys, xs, strict=True)])

    @torch.no_grad()
    def sample(self, n: int, *, seed: int = 0, condition: Any = None) -> torch.Tensor:
        """Super-resolutions of ``n`` seeded patches of a built-in photograph (``zoo train``'s per-epoch grids).

        The photograph is scikit-image's ``astronaut`` (NASA, public domain), preprocessed as
        :meth:`preprocess` does; ``n`` ``image_size`` crops are placed with a local
        ``torch.Generator`` seeded with ``seed`` (the global RNG is untouched), bicubically
        downscaled by ``upscale`` and super-resolved. To upscale your own images use
        :meth:`translate` (``zoo sample srgan --image small.png``).

        Args:
            n: number of patches, >= 1.
            seed: seed of the crop positions.
            condition: must be ``None``.

        Returns:
            ``(n, channels, image_size, image_size)`` float32 CPU tensor in ``[0, 1]``.

        Raises:
            ZooError: ``n < 1`` or a condition was given (exit code 2).
        """
        return self.translate(self.downscale(self._patches(n, seed, condition)))

    @torch.no_grad()
    def sample_grid(self, n: int, *, seed: int = 0, condition: Any = None) -> SampleGrid:
        """``zoo train``'s per-epoch grid: :meth:`sample`'s ``n`` patches as triples headed
        ``bicubic x4`` (the LR input enlarged by :func:`zoo.plugins.srgan.data.bicubic_resize`),
        ``SRResNet x4`` (:meth:`describe_condition`) and ``original`` (the HR patch),
        ``ceil(sqrt(n / 3))`` triples per row.

        Returns:
            A :class:`zoo.models.gan.SampleGrid`.

        Raises:
            ZooError: as :meth:`sample`.
        """
        hr = self._patches(n, seed, condition)
        lr = self.downscale(hr)
        bicubic = bicubic_resize(lr, tuple(hr.shape[-2:]))
        columns = [(f"bicubic x{self.upscale}", bicubic), (self.describe_condition(), self.translate(lr)), ("original", hr.float().cpu())]
        return SampleGrid.side_by_side(columns)
