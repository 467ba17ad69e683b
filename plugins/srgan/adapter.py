"""``SRGANAdapter``: SRResNet and SRGAN on zoo's GAN contract (training, super-resolution, config).

Built by :func:`zoo.pluginkit.gan_hooks` from the hook module :mod:`zoo.plugins.srgan` (which
checks the build options first); the networks are :mod:`zoo.plugins.srgan.networks`, the
official files :mod:`zoo.plugins.srgan.official`, the content loss
:mod:`zoo.plugins.srgan.losses`, sampling and the per-epoch grids its base class
(:mod:`zoo.plugins.srgan.sampling`). Imports torch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from zoo.errors import ZooError
from zoo.io.images import truncate_to_uint8
from zoo.models.adapters import Step
from zoo.models.conditions import ConditionSpec
from zoo.models.gan import StepContext, eval_mode
from zoo.models.gan_steps import adversarial_steps
from zoo.models.optim import OptimizerConfig
from zoo.plugins.srgan.data import bicubic_resize
from zoo.plugins.srgan.losses import VGGFeatures, content_loss, load_content_network, missing_content_weights
from zoo.plugins.srgan.networks import DiscriminatorForVGG, LeftthomasGenerator, SRResNet
from zoo.plugins.srgan.official import generator_options, read_generator
from zoo.plugins.srgan.sampling import SRGANSampling
from zoo.registry.spec import ModelSpec

__all__ = ["SRGANAdapter"]

_LEFTTHOMAS = {"channels": 3, "ngf": 64, "n_blocks": 5}


class SRGANAdapter(SRGANSampling):
    """SRResNet (``srresnet``: pixel MSE) and SRGAN (``srgan``: perceptual loss): 4x super-resolution.

    Networks (``adapter.model``): ``generator`` (:class:`SRResNet`, or leftthomas'
    :class:`LeftthomasGenerator`), plus for ``srgan`` the ``discriminator``
    (:class:`DiscriminatorForVGG` at ``image_size``). Frozen (not trained, not saved):
    ``content``, the :class:`VGGFeatures` of the content loss, when it has weights.

    Data: batches of high-resolution patches ``(N, channels, image_size, image_size)``
    float32 in ``[0, 1]`` (:meth:`transforms`: random crops of an ImageFolder's photographs,
    as the paper's "16 random 96x96 HR sub images"); each step makes the low-resolution
    input itself with :func:`~zoo.plugins.srgan.data.bicubic_resize` (``image_size / upscale``, antialiased, as the
    paper's "bicubic kernel with downsampling factor r"). Images are ``[0, 1]`` throughout,
    as in Lornatang's code (its SRResNet clamps its output to ``[0, 1]``); the paper scaled
    HR images to ``[-1, 1]`` (section 3.2).

    Losses (Ledig et al. 2017, arXiv:1609.04802):

    * ``srresnet``: pixel MSE (equation 4); Adam lr 1e-4, beta1 0.9 (section 3.2; Lornatang's
      ``configs/train/SRResNet_x4-ImageNet.yaml``: Adam 1e-4, betas (0.9, 0.999)).
    * ``srgan``, one discriminator step then one generator step per batch (k = 1, section 3.2):
      discriminator ``BCE(D(HR), 1) + BCE(D(SR), 0)`` (equation 2); generator
      ``content + adversarial_weight * BCE(D(SR), 1) + pixel_weight * MSE``: the perceptual
      loss of equation 3 with the adversarial term ``-log D(G(LR))`` (equation 6) weighted
      1e-3. Content (``content_loss``): ``vgg54`` / ``vgg22``, MSE between
      :class:`VGGFeatures` of SR and HR divided by 12.75 (equation 5 with the paper's
      rescaling, :data:`~zoo.plugins.srgan.losses.VGG_RESCALE`); ``pixel`` (SRGAN-MSE, Table 1), MSE on the ``[-1, 1]``
      scale the paper used (4 x the ``[0, 1]`` MSE), so the 1e-3 adversarial weight keeps
      the paper's balance. Lornatang's ``configs/train/SRGAN_x4-ImageNet.yaml`` adds pixel MSE
      (weight 1) to an unscaled VGG54 loss, whose ``ContentLoss.forward`` returns
      ``torch.Tensor([losses])``, a copy without gradient: its SRGAN generator is in effect
      trained on pixel MSE + 1e-3 adversarial. The paper then lowers the rate to 1e-5 for a
      second 10^5 iterations; here the rate is constant (pass ``--lr``).

    Starting SRGAN from SRResNet (the paper's initialisation, "to avoid undesired local
    optima"): ``build("srgan", official_weights="runs/srresnet")`` (a ``zoo train srresnet``
    run) or ``official_weights="SRResNet_x4-ImageNet.pth.tar"``: the generator is loaded,
    the discriminator starts from random init.

    Inference (:meth:`preprocess`, :meth:`translate`): the official test input is the
    whole RGB image in ``[0, 1]``, no resizing (Lornatang ``inference.py``); the output is
    ``upscale`` times larger, in ``[0, 1]``.

    Args:
        spec: the model's spec (``arch`` ``"srresnet"`` or ``"srgan"``).
        image_size: HR patch side in pixels (multiple of ``upscale``; of 16 for ``srgan``).
        channels, ngf, n_blocks, upscale, flavour: the generator (``None``: the file's with
            ``official_weights``, else 3, 64, 16, 4, ``"lornatang"``; leftthomas' is fixed
            at 3 channels, width 64, 5 blocks).
        ndf: discriminator width (64).
        official_weights: a generator file or zoo checkpoint (:func:`~zoo.plugins.srgan.official.read_generator`).
        content_loss, content_weights, adversarial_weight, pixel_weight: see above and
            :func:`~zoo.plugins.srgan.losses.load_content_network`.
        zero_init_residual, icnr: a new (Lornatang-layout) generator starts each residual
            block as the identity and each sub-pixel stage as ICNR (:class:`SRResNet`; default
            on; ``False``: the official init). Ignored when weights are loaded.

    Raises:
        ZooError: options that disagree with ``official_weights`` or with leftthomas' fixed
            generator; an unreadable or wrong ``official_weights`` / ``content_weights``
            file; ``image_size`` not a multiple of ``upscale`` (exit code 2).
    """

    default_lr = 1e-4
    betas = (0.9, 0.999)
    #: the range of :meth:`preprocess` output (``zoo.tasks.translate`` shows inputs with it)
    input_range = (0.0, 1.0)

    def __init__(
        self,
        spec: ModelSpec,
        *,
        image_size: int = 96,
        channels: int | None = None,
        ngf: int | None = None,
        ndf: int = 64,
        n_blocks: int | None = None,
        upscale: int | None = None,
        flavour: str | None = None,
        official_weights: str | os.PathLike[str] | None = None,
        content_loss: str = "vgg54",
        content_weights: str | None = None,
        adversarial_weight: float = 1e-3,
        pixel_weight: float = 0.0,
        zero_init_residual: bool = True,
        icnr: bool = True,
    ) -> None:
        given = {"channels": channels, "ngf": ngf, "n_blocks": n_blocks, "upscale": upscale, "flavour": flavour}
        generator: SRResNet | LeftthomasGenerator
        if official_weights is not None:
            generator = read_generator(official_weights, spec.name)
            found = generator_options(generator)
            where = f"the generator in {os.fspath(official_weights)}"
        elif flavour == "leftthomas":
            found = {**_LEFTTHOMAS, "upscale": upscale or spec.config.get("upscale", 4), "flavour": "leftthomas"}
            where = "leftthomas' generator (3 channels, ngf 64, 5 blocks)"
            generator = LeftthomasGenerator(scale_factor=found["upscale"])
        else:
            found = {
                "channels": channels or spec.input_size[0],
                "ngf": ngf or spec.config.get("ngf", 64),
                "n_blocks": n_blocks or spec.config.get("n_blocks", 16),
                "upscale": upscale or spec.config.get("upscale", 4),
                "flavour": "lornatang",
            }
            where = "the generator"  # built from these very options: never disagrees
            generator = SRResNet(
                found["channels"],
                found["channels"],
                found["ngf"],
                found["n_blocks"],
                found["upscale"],
                zero_init_residual=zero_init_residual,
                icnr=icnr,
            )
        for key, value in given.items():
            if value is not None and value != found[key]:
                raise ZooError(
                    f"{spec.name} {{param}}={value!r} disagrees with {where} ({key}={found[key]!r}); leave it out or give {found[key]!r}",
                    param=key,
                    exit_code=2,
                )
        generator.train()
        if image_size % found["upscale"]:
            raise ZooError(
                f"{spec.name} {{param}} {image_size} is not a multiple of upscale {found['upscale']}; the LR input is image_size / upscale",
                param="image_size",
                exit_code=2,
            )
        self.mode = "gan" if spec.arch == "srgan" else "mse"
        self.flavour, self.ngf, self.n_blocks, self.upscale = found["flavour"], found["ngf"], found["n_blocks"], found["upscale"]
        self.ndf = ndf
        self.content_loss, self.adversarial_weight, self.pixel_weight = content_loss, float(adversarial_weight), float(pixel_weight)
        networks: dict[str, nn.Module] = {"generator": generator}
        frozen: dict[str, nn.Module] = {}
        if self.mode == "gan" and content_loss == "pixel" and content_weights is not None:
            raise ZooError(
                "{param} are unused by content_loss=pixel; leave them out or pick content_loss=vgg22 or vgg54",
                param="content_weights",
                exit_code=2,
            )
        if self.mode == "gan":
            networks["discriminator"] = DiscriminatorForVGG(found["channels"], 1, ndf, image_size=image_size)
            if content_loss != "pixel" and content_weights is not None:
                frozen["content"] = load_content_network(content_loss, content_weights, model=spec.name)
        super().__init__(
            spec, networks, frozen=frozen, image_size=image_size, channels=found["channels"], condition=ConditionSpec(kind="image")
        )

    # -- data ------------------------------------------------------------------------
    def transforms(self, *, img_size: int | None = None, train: bool = False, resize_only: bool = False) -> Any:
        """``torchvision.transforms.v2`` pipeline to an HR patch ``(channels, S, S)`` float32 in ``[0, 1]``.

        ``train``: a random ``S x S`` crop (reflection-padded when the photograph is
        smaller), as the paper's random 96x96 HR sub-images; otherwise a centre crop.
        ``resize_only`` (built-in small data such as ``digits``): resized to ``S x S``
        instead. RGB is converted to grey for one channel and grey to RGB for three. No
        normalisation: SRGAN works in ``[0, 1]``.
        """
        from torchvision.transforms import v2

        size = img_size or self.image_size
        ops: list[Any] = [v2.ToImage(), v2.Grayscale(1) if self.channels == 1 else v2.RGB()]
        if resize_only:
            ops.append(v2.Resize((size, size), antialias=True))
        elif train:
            ops.append(v2.RandomCrop(size, pad_if_needed=True, padding_mode="reflect"))
        else:
            ops.append(v2.CenterCrop(size))
        ops.append(v2.ToDtype(torch.float32, scale=True))
        return v2.Compose(ops)

    def downscale(self, images: torch.Tensor) -> torch.Tensor:
        """HR ``(N, C, H, W)`` in ``[0, 1]`` -> the LR input ``(N, C, H / upscale, W / upscale)``
        float32 by :func:`~zoo.plugins.srgan.data.bicubic_resize` (antialiased bicubic, as MATLAB's ``imresize``)."""
        h, w = images.shape[-2:]
        return bicubic_resize(images, (h // self.upscale, w // self.upscale))

    # -- training ----------------------------------------------------------------------
    def _content_network(self) -> VGGFeatures | None:
        """The frozen feature network (``None`` for the pixel content loss).

        Raises:
            ZooError: a VGG content loss without weights (one line saying how to give them).
        """
        if self.mode != "gan" or self.content_loss == "pixel":
            return None
        net = self.frozen.get("content")
        if net is None:
            raise missing_content_weights(self.spec.name, self.content_loss)
        assert isinstance(net, VGGFeatures)
        return net

    def configure_optimizers(self, lr: float | None = None) -> dict[str, OptimizerConfig]:
        """One Adam per network (lr 1e-4, betas (0.9, 0.999), constant; see the class docstring).

        Raises:
            ZooError: ``srgan`` with a VGG content loss and no ``content_weights``: training
                would need random VGG features, which are never used silently.
        """
        self._content_network()
        return super().configure_optimizers(lr)

    def content(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """The content loss of ``srgan`` (scalar float32): VGG feature MSE / 12.75**2, or 4 x pixel MSE
        (:func:`zoo.plugins.srgan.losses.content_loss` with this model's feature network).

        Args:
            sr: ``(N, C, H, W)`` generator output in ``[0, 1]`` (with its graph).
            hr: ``(N, C, H, W)`` target in ``[0, 1]``.

        Raises:
            ZooError: a VGG content loss without weights.
        """
        return content_loss(self._content_network(), sr, hr)

    def training_step(self, batch: Any, ctx: StepContext) -> Iterator[Step]:
        """One iteration on a batch of HR patches (see the class docstring for the losses).

        ``srresnet`` yields ``Step("generator", mse, {"mse", "psnr"})`` (PSNR in dB on the
        ``[0, 1]`` RGB patches, no border crop). ``srgan`` yields ``Step("discriminator",
        ..., {"d_loss", "d_real", "d_fake"})`` (:func:`zoo.models.gan_steps.adversarial_steps`), then,
        when ``ctx.update_generator``, ``Step("generator", loss, {"g_loss", "content_loss",
        "adversarial_loss", "mse"})`` against the discriminator just stepped, with the
        discriminator's parameters out of the graph.

        Raises:
            ZooError: the batch is not ``(N, channels, image_size, image_size)`` float
                images; a VGG content loss without weights.
        """
        hr = self.check_images(batch).float()
        content_net = self._content_network()  # fails before any step when weights are missing
        lr = self.downscale(hr)
        # the loss sees SRResNet's output before Lornatang's clamp: the clamp zeroes the gradient of
        # every pixel out of [0, 1] (about 3/4 of them at the official initialisation), and the
        # paper's generator has none (inference still clamps)
        bare = getattr(self.generator, "module", self.generator)  # DistributedDataParallel under torchrun
        sr = self.generator(lr, clamp=False) if isinstance(bare, SRResNet) else self.generator(lr)
        mse = F.mse_loss(sr.float(), hr)
        if self.mode == "mse":
            yield Step("generator", mse, {"mse": mse.detach(), "psnr": -10.0 * torch.log10(mse.detach().clamp_min(1e-10))})
            return
        del content_net
        steps = adversarial_steps(self.discriminator, hr, sr, ctx)
        yield next(steps)
        adversarial = next(steps, None)
        if adversarial is None:  # the trainer skips the generator this iteration
            return
        content = self.content(sr, hr)
        loss = content + self.adversarial_weight * adversarial.loss + self.pixel_weight * mse
        logs = {
            "g_loss": loss.detach(),
            "content_loss": content.detach(),
            "adversarial_loss": adversarial.loss.detach(),
            "mse": mse.detach(),
        }
        yield Step("generator", loss, logs)

    # -- inference ---------------------------------------------------------------------
    def preprocess(self, image: Any) -> torch.Tensor:
        """The official test input of one image: the whole image, RGB (grey for one channel), ``[0, 1]``.

        Lornatang's ``inference.py`` reads the image with OpenCV, converts BGR to RGB and
        divides by 255, without resizing; PIL's ``convert`` handles palette, alpha (dropped)
        and grey images first.

        Args:
            image: a PIL image (any mode PIL can convert to RGB/L) or a ``(C, H, W)`` uint8 tensor.

        Returns:
            ``(channels, H, W)`` float32 in ``[0, 1]``.
        """
        from PIL import Image
        from torchvision.transforms import v2

        if isinstance(image, Image.Image):
            image = image.convert("L" if self.channels == 1 else "RGB")
        ops = [v2.ToImage(), v2.Grayscale(1) if self.channels == 1 else v2.RGB(), v2.ToDtype(torch.float32, scale=True)]
        return v2.Compose(ops)(image)

    @torch.no_grad()
    def translate(self, images: torch.Tensor, condition: Any = None, *, source: Any = None) -> torch.Tensor:
        """Super-resolve preprocessed images with the generator in eval mode (BatchNorm running statistics).

        Args:
            images: ``(N, channels, H, W)`` float in ``[0, 1]`` (:meth:`preprocess`), any device.
            condition: must be ``None`` (SRGAN is not conditioned on anything else).
            source: ignored (it is StarGAN's).

        Returns:
            ``(N, channels, upscale * H, upscale * W)`` float32 CPU tensor in ``[0, 1]``.

        Raises:
            ZooError: a condition was given; ``images`` is not a 4-D float tensor with
                ``channels`` channels (exit code 2).
        """
        if condition is not None:
            raise ZooError(f"{self.spec.name} upscales the input image {self.upscale}x and takes no --attr or --label", exit_code=2)
        ok = isinstance(images, torch.Tensor) and images.dim() == 4 and images.is_floating_point() and images.shape[1] == self.channels
        if not ok:
            got = f"shape {tuple(images.shape)} {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
            raise ZooError(f"{self.spec.name} translates float images (N, {self.channels}, H, W) in [0, 1], got {got}", exit_code=2)
        param = next(self.generator.parameters())
        with eval_mode(self.generator):
            out = self.generator(images.to(param.device, param.dtype))
        return out.float().clamp(0.0, 1.0).cpu()

    def quantise(self, images: torch.Tensor) -> torch.Tensor:
        """SRGAN's 8-bit images: truncation, the convention of both official inference scripts.

        One convention for the family (``srresnet`` and ``srgan``, either generator flavour,
        official or trained by zoo), :func:`zoo.models.gan.truncate_to_uint8`:

        * Lornatang/SRGAN-PyTorch at 8842030: ``inference.py`` line 41 ``tensor_to_image(sr_tensor,
          False, args.half)``, ``imgproc.py`` line 182 ``tensor.squeeze(0).permute(1, 2,
          0).mul(255).clamp(0, 255).cpu().numpy().astype("uint8")`` (the ``SRResNet`` output
          is already clamped to ``[0, 1]``, ``model.py`` line 167), written with ``cv2.imwrite``;
        * leftthomas/SRGAN at b0323c6 (unchanged at 7ddfdf2): ``test_image.py`` line 39
          ``ToPILImage()(out[0].data.cpu())``; torchvision's ``to_pil_image`` quantises a
          float image with ``(npimg * 255).astype(np.uint8)`` (0.29.1; ``pic.mul(255).byte()``
          in the torchvision of 2018), a truncation too.

        :meth:`translate` returns the generator's ``[0, 1]`` output unchanged, so ``255 x``
        in float32 is the official value.

        Args:
            images: float images in ``[0, 1]`` (:meth:`translate`, :meth:`sample`), any shape.

        Returns:
            ``uint8`` CPU tensor of the same shape.
        """
        return truncate_to_uint8(images)

    def generator_inputs(
        self, n: int, *, generator: torch.Generator | None = None, device: Any = "cpu", condition: Any = None
    ) -> tuple[torch.Tensor, ...]:
        """``(lr,)``: ``n`` uniform random LR inputs ``(n, channels, S / upscale, S / upscale)``
        float32 in ``[0, 1]`` (``S = image_size``), drawn on the CPU from ``generator``, on ``device`` (``zoo bench``)."""
        side = self.image_size // self.upscale
        return (torch.rand(n, self.channels, side, side, generator=generator).to(device),)

    def config(self) -> dict[str, Any]:
        """Build options that rebuild these networks without ``official_weights`` (the
        checkpoint sidecar's ``config``): ``image_size``, ``channels``, ``ngf``, ``n_blocks``,
        ``upscale``, ``flavour``, and for ``srgan`` ``ndf``, ``content_loss``,
        ``adversarial_weight``, ``pixel_weight``. ``content_weights`` is left out: the
        feature network is not part of the model."""
        out: dict[str, Any] = {
            "image_size": self.image_size,
            "channels": self.channels,
            "ngf": self.ngf,
            "n_blocks": self.n_blocks,
            "upscale": self.upscale,
            "flavour": self.flavour,
        }
        if self.mode == "gan":
            out.update(
                ndf=self.ndf, content_loss=self.content_loss, adversarial_weight=self.adversarial_weight, pixel_weight=self.pixel_weight
            )
        return out
