"""Sampling from trained GANs: load a checkpoint, parse the condition, write PNG grids.

``zoo sample NAME --checkpoint DIR`` is :func:`sample`; the trainer's per-epoch sample
grids (``DIR/samples/epoch_0001.png``, so a user can watch training) are
:class:`EpochSamples`. Both lay the samples out with the family's
:meth:`zoo.models.gan.GANAdapter.sample_grid` (:func:`sample_grid`): one labelled row per
class for class-conditional families, each input beside its translations under column
headers for image-to-image ones. Conditions are parsed with the checkpoint's own class or
attribute names (:class:`zoo.models.conditions.ConditionSpec`): ``--label 7``, ``--label seven``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError
from zoo.io.grids import check_grid_path, grid_pixels, save_grid
from zoo.utils.outputs import releasing_claims

if TYPE_CHECKING:
    from zoo.models.gan import SampleGrid
    from zoo.models.protocols import GAN

__all__ = ["SAMPLE_BATCH", "EpochSamples", "batch_seed", "load_gan", "sample", "sample_grid", "translates"]


def _no_checkpoint(name: str, checkpoint: Any) -> ZooError:
    from zoo.registry import get_spec

    spec = get_spec(name)
    published = [w.url for w in spec.weights]
    where = f"official weights are published at {published[0]} (pass the file with --weights FILE); " if published else ""
    return ZooError(
        f"zoo sample {name} needs trained weights: {where}train them with 'zoo train {name} --data digits --out DIR' "
        f"and pass --checkpoint DIR" + (f" ({checkpoint} does not exist)" if checkpoint else ""),
        exit_code=2,
    )


def _official_adapter(spec: Any, weights: str | Path | None) -> Any:
    """Build ``spec``'s GAN around official weights: a file (``--weights 200000-G.ckpt``), a
    published tag (``--weights horse2zebra``), or (``None``) the first published weights,
    from the cache or downloaded (:func:`zoo.io.pretrained.fetch_pretrained`).

    Raises:
        ZooError: no such file or tag (the tags are listed); offline or a failed download
            (the message says where the file is published and to pass ``--weights FILE``).
    """
    from zoo.io.pretrained import fetch_pretrained
    from zoo.registry import build

    tags = [w.tag for w in spec.weights]
    if weights is not None and Path(weights).exists():
        path = Path(weights)
        if path.is_dir():
            raise ZooError(
                f"{{param}} {path} is a directory; give the official weights file, or pass a 'zoo train' run directory with --checkpoint",
                param="weights",
                exit_code=2,
            )
        return build(spec.name, official_weights=str(path))
    if weights is not None and str(weights) not in tags:
        valid = f"published tags: {', '.join(tags)}" if tags else f"{spec.name} has no published weights"
        raise ZooError(f"{{param}} {weights} is neither a file nor a published tag; {valid}", param="weights", exit_code=2)
    src = spec.weight_source(None if weights is None else str(weights))
    try:
        path = fetch_pretrained(spec, src.tag)
    except ZooError as exc:
        inside = f" ({src.member} inside the published archive)" if src.member else ""
        raise ZooError(
            f"zoo sample {spec.name} needs the official weights '{src.tag}'{inside}: {exc}; "
            f"or train your own with 'zoo train {spec.name} --data DIR' and pass --checkpoint DIR",
            exit_code=exc.exit_code,
        ) from exc
    return build(spec.name, official_weights=str(path))


def translates(adapter: GAN) -> bool:
    """Whether ``adapter`` is an image-to-image family (it overrides :meth:`zoo.models.gan.GANAdapter.translate`)."""
    from zoo.models.gan import GANAdapter

    return type(adapter).translate is not GANAdapter.translate


def sample_grid(adapter: GAN, n: int, *, seed: int = 0, condition: Any = None) -> SampleGrid:
    """``adapter.sample_grid(n, seed=, condition=)``; for an adapter without one (a third-party
    GAN written to the :class:`zoo.models.protocols.GAN` protocol alone) its :meth:`sample` in
    a square grid without labels.

    Returns:
        A :class:`zoo.models.gan.SampleGrid`.

    Raises:
        ZooError: as the adapter's ``sample_grid`` / ``sample`` (``n < 1``, a bad condition).
    """
    import math

    from zoo.models.gan import SampleGrid

    method = getattr(adapter, "sample_grid", None)
    if method is not None:
        return method(n, seed=seed, condition=condition)
    images = adapter.sample(n, seed=seed, condition=condition)
    return SampleGrid(images, math.ceil(math.sqrt(images.shape[0])))


def load_gan(name: str, checkpoint: str | Path | None, *, weights: str | Path | None = None) -> Any:
    """Rebuild a GAN from a ``zoo train`` checkpoint (sidecar ``config``) and load its weights,
    or build it around official weights.

    Args:
        name: registry name of a GAN.
        checkpoint: the run directory (or its ``.safetensors`` file).
        weights: official weights (a file such as ``200000-G.ckpt`` or a published tag);
            used when ``checkpoint`` is ``None``. Without both, families with published
            weights use the first published ones (cache, else download).

    Returns:
        The :class:`zoo.models.gan.GANAdapter`, in eval mode, on the CPU.

    Raises:
        ZooError: ``name`` is not a GAN; no checkpoint (the message says where official
            weights are published or how to train); a checkpoint of another model or a
            corrupt one.
    """
    from zoo.io.checkpoint import read_checkpoint
    from zoo.io.state_dict import load_into
    from zoo.registry import build, get_spec

    spec = get_spec(name)
    if spec.kind != "gan":
        raise ZooError(f"zoo sample needs a GAN; {name} is a {spec.kind} (see 'zoo list --kind gan')", exit_code=2)
    if checkpoint is not None and weights is not None:
        raise ZooError("give either --checkpoint (a 'zoo train' run) or --weights (official weights), not both", exit_code=2)
    if checkpoint is None and (weights is not None or spec.weights):
        return _official_adapter(spec, weights).eval()
    if checkpoint is None or not Path(checkpoint).exists():
        raise _no_checkpoint(name, checkpoint)
    state, meta = read_checkpoint(checkpoint)
    if meta.get("model") not in (None, name):
        owner = meta["model"]
        hint = (
            f"run 'zoo sample {owner} --checkpoint {checkpoint}'"
            if meta.get("kind") == "gan"
            else f"{owner} is a {meta.get('kind', 'backbone')}, pass a checkpoint written by 'zoo train {name}'"
        )
        raise ZooError(f"checkpoint {checkpoint} was written for {owner}, not {name}; {hint}")
    options = dict(meta.get("config") or {})
    if meta.get("condition") and "condition" not in options and meta["condition"].get("names"):
        options.setdefault("class_names", meta["condition"]["names"])
    adapter = build(name, **options)
    load_into(adapter, state, source=str(checkpoint))
    return adapter.eval()


#: Images generated per forward pass of ``zoo sample``: memory stays that of one batch of
#: activations plus the 8-bit grid (:class:`zoo.io.grids.GridCanvas`), whatever ``--n``. The
#: first batch is exactly ``adapter.sample(n, seed)`` for ``n`` up to it; a later batch ``i``
#: draws from the seed ``SeedSequence([seed, i])`` (:func:`batch_seed`), so two seeds never share images.
SAMPLE_BATCH = 256


def batch_seed(seed: int, index: int) -> int:
    """The noise seed of batch ``index`` of a large ``zoo sample``: ``seed`` for the first batch
    (so ``--n`` up to :data:`SAMPLE_BATCH` gives exactly ``adapter.sample(n, seed=seed)``),
    then ``numpy.random.SeedSequence([seed, index])``'s first 32-bit word."""
    if index == 0:
        return seed
    import numpy as np

    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint32)[0])


def _batches(n: int, adapter: GAN) -> list[int]:
    """Batch sizes summing to ``n``: :data:`SAMPLE_BATCH`, rounded down to a multiple of the
    classes of a class-conditional model (whose unconditioned samples go round the classes)."""
    size = SAMPLE_BATCH
    classes = len(adapter.condition.names) if adapter.condition.kind == "class" else 0
    if 0 < classes <= size:
        size -= size % classes
    return [min(size, n - i) for i in range(0, n, size)]


def _check_sample_options(name: str, adapter: GAN, *, n: Any, seed: Any, images: Any, source: Any, side_by_side: Any,
                          levels: bool, condition: Any, condition_flag: str | None) -> None:  # fmt: skip
    """Refuse every option that does not apply to ``adapter`` (one line saying why)."""
    spec = adapter.condition
    if translates(adapter):
        for flag, value in (("--n", n), ("--seed", seed)):
            if value is not None:
                raise ZooError(f"{flag} is for GANs that draw from noise; {name} translates its --image inputs and takes no {flag}",
                               exit_code=2)  # fmt: skip
        if levels:
            raise ZooError(f"--levels is for pyramid models (lapgan); {name} translates images", exit_code=2)
        if source is not None:
            if spec.kind != "attribute":
                raise ZooError(f"--from gives the input's own attributes (stargan); {name} has none: leave --from out", exit_code=2)
            if spec.is_domain:
                raise ZooError(
                    f"--from gives the input's own attributes; this {name} translates between domains "
                    f"({', '.join(spec.names)}) and needs none: leave --from out",
                    exit_code=2,
                )
            if isinstance(source, str):
                spec.parse_attributes(source, flag="--from")  # a value is checked even before it is used
    else:
        if images:
            raise ZooError(f"{name} generates images from noise, it does not translate them; sample it without --image", exit_code=2)
        if source is not None:
            raise ZooError(f"--from gives the input image's attributes (stargan); {name} takes no input image", exit_code=2)
        if side_by_side is not None:
            raise ZooError(f"--side-by-side/--translation-only are for GANs that translate images; {name} draws from noise",
                           exit_code=2)  # fmt: skip
        if condition is not None and spec.kind == "none":
            raise ZooError(f"{name} is unconditional; sample it without --label/--attr/--image", exit_code=2)
        if levels and not hasattr(adapter, "sample_levels"):
            raise ZooError(f"--levels is for pyramid models (lapgan); {name} generates at one scale", exit_code=2)
    if condition is not None and condition_flag is not None and spec.flag in ("--label", "--attr") and condition_flag != spec.flag:
        kind = "class-conditional" if spec.kind == "class" else "attribute-conditional"
        raise ZooError(f"{name} is {kind}: give {spec.flag} (valid: {', '.join(spec.names)}); {condition_flag} is for the other kind",
                       exit_code=2)  # fmt: skip


@releasing_claims
def sample(
    name: str,
    *,
    checkpoint: str | Path | None = None,
    weights: str | Path | None = None,
    n: int | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    condition: Any = None,
    levels: bool = False,
    images: list[str | Path] | None = None,
    source: Any = None,
    side_by_side: bool | None = None,
    overwrite: bool = False,
    condition_flag: str | None = None,
    scale: int | None = None,
) -> dict[str, Any]:
    """Generate images with a trained or official GAN and write them as one PNG.

    Noise-to-image families (vanilla GAN, cGAN, DCGAN, LAPGAN) draw ``n`` samples into a
    grid laid out by the family (:func:`sample_grid`): class-conditional ones without a
    condition one row per class, ``ceil(n / classes)`` samples each, each row labelled with
    its class name; the other noise-to-image families draw their grid :data:`SAMPLE_BATCH`
    images at a time into a :class:`zoo.io.grids.GridCanvas`, so memory stays bounded
    whatever ``n``. A grid over :data:`zoo.io.grids.MAX_GRID_PIXELS` pixels (about 20,000
    cells of 64 pixels) is refused before anything is generated. Image-to-image families
    (SRGAN, CycleGAN, StarGAN) translate ``images`` (default: the built-in portrait,
    :func:`zoo.tasks.translate.portrait`) with :func:`zoo.tasks.translate.translate_images`:
    one translation alone is exactly the generator's pixels; grids put each input beside its
    translations, labelled.

    Size: grid cells are written at the generator's own resolution, except cells of 32 px
    or less, enlarged by nearest neighbour to between 33 and 64 px
    (:func:`zoo.io.grids.grid_scale`); ``scale`` sets the factor instead (1: never enlarged).

    Args:
        name: registry name of a GAN.
        checkpoint: directory written by ``zoo train NAME``.
        weights: official weights, a file or a published tag (see :func:`load_gan`).
        n: number of images (>= 1; noise-to-image families; default 64).
        seed: seed of the latent noise, 0 .. 2**32 - 1 (the same seed gives the same images;
            default 0; noise-to-image families; see :func:`batch_seed` past the first batch).
        out: the PNG file; an existing file is refused unless ``overwrite`` (the one
            ``--out`` policy, :func:`zoo.utils.outputs.claim_output`; never one of the files
            read: the checkpoint, ``weights``, ``images``); ``None``: ``grid.png``, or
            ``grid-2.png``, ``grid-3.png``... when taken.
        condition: the condition as the CLI gives it (``--label 7``: ``"7"``; ``--attr
            blond``), parsed with the model's names; or an already parsed value; ``None``
            for unconditional models (class-conditional ones then draw every class).
        levels: also write each pyramid level's grid beside ``out``
            (``grid_4px.png``, ``grid_8px.png``..., coarse to fine), for families with ``sample_levels`` (LAPGAN).
        images: input images of image-to-image families (``--image``).
        source: the inputs' own attributes (StarGAN ``--from``; checked against the model's
            attribute names even where the family would not use it).
        side_by_side: input beside translation (default: on for attribute models).
        overwrite: replace an existing ``out`` (and level files).
        condition_flag: the flag ``condition`` came from (``"--label"`` or ``"--attr"``), so that
            the wrong one for the model is refused by name; ``None`` for Python callers.
        scale: integer nearest-neighbour enlargement of every cell, 1 to 16; ``None``: the rule above.

    Returns:
        ``{"model", "n", "seed", "out", "shape": [n, C, H, W]}`` (``n``: the samples drawn,
        ``ceil(n / classes) * classes`` for a class-conditional grid) plus ``"levels"`` (the
        level files) when asked; for image-to-image families ``{"model", "inputs", "out",
        "shape", "targets"}``.

    Raises:
        ZooError: ``n < 1``, a bad ``scale``, a seed outside 0 .. 2**32 - 1, a grid too large, an unwritable,
            existing (without ``overwrite``) or taken ``out`` or one of the inputs, a bad
            condition (the valid values are listed), an option that does not apply to the
            family (``--levels``, ``--image``, ``--from``, ``--side-by-side``, ``--n`` and
            ``--seed`` of an image-to-image family, ``--attr`` for ``--label``...), an
            unreadable image, or as :func:`load_gan`.
    """
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ZooError(f"{{param}} must be at least 1, got {n}", param="n", exit_code=2)
    from zoo.io.checkpoint import checkpoint_files
    from zoo.io.grids import GridCanvas, check_grid_size, grid_scale
    from zoo.utils.outputs import claim_output
    from zoo.utils.seeding import check_seed

    check_seed(seed)
    if scale is not None:
        grid_scale(scale, 1, 1)  # a bad --scale fails before the checkpoint is read

    check_grid_path(out if out is not None else "grid.png")
    reads = [*(checkpoint_files(checkpoint) if checkpoint is not None else ()), weights, *(images or ())]
    out = claim_output(out, overwrite=overwrite, kind="file", default="grid.png", reads=reads)
    adapter = load_gan(name, checkpoint, weights=weights)
    _check_sample_options(name, adapter, n=n, seed=seed, images=images, source=source, side_by_side=side_by_side, levels=levels,
                          condition=condition, condition_flag=condition_flag)  # fmt: skip
    if translates(adapter):
        from zoo.tasks.translate import translate_images

        result = translate_images(adapter, images, out=out, condition=condition, source=source, side_by_side=side_by_side, scale=scale)
        return {"model": name, **result}
    n, seed = 64 if n is None else n, 0 if seed is None else seed
    if isinstance(condition, str):
        condition = adapter.condition.parse(condition)
    probe = adapter.sample_levels(1, seed=seed) if levels else [adapter.sample(1, seed=seed, condition=condition)]
    classes = len(adapter.condition.names or ()) if adapter.condition.kind == "class" else 0
    if classes and condition is None and not levels:  # one labelled row per class, laid out by the family
        per_class = -(-n // classes)
        check_grid_size(classes * per_class, probe[0].shape[-2], probe[0].shape[-1], nrow=per_class, scale=scale)
        grid = sample_grid(adapter, n, seed=seed, condition=None)
        save_grid(
            grid.images, out, nrow=grid.cols, scale=scale, quantise=adapter.quantise, row_labels=grid.row_labels, col_labels=grid.col_labels
        )
        shape = list(grid.images.shape)
        return {"model": name, "n": shape[0], "seed": seed, "out": str(out), "shape": shape}
    canvases = [GridCanvas(n, img.shape[-2], img.shape[-1], scale=scale, quantise=adapter.quantise) for img in probe]  # checks the size
    level_files: list[Path] = []
    if levels:  # claim every level file before writing anything
        for img in probe:
            f = out.with_name(f"{out.stem}_{img.shape[-1]}px{out.suffix or '.png'}")
            level_files.append(claim_output(f, overwrite=overwrite, kind="file", reads=reads, example=out.name))
    for i, size in enumerate(_batches(n, adapter)):
        if levels:  # coarse to fine; the last level is sample()'s image
            drawn = adapter.sample_levels(size, seed=batch_seed(seed, i))
        else:
            drawn = [adapter.sample(size, seed=batch_seed(seed, i), condition=condition)]
        for canvas, imgs in zip(canvases, drawn, strict=True):
            canvas.add(imgs)
        shape = list(drawn[-1].shape[1:])
        del drawn
    canvases[-1].save(out)
    result: dict[str, Any] = {"model": name, "n": n, "seed": seed, "out": str(out), "shape": [n, *shape]}
    if levels:
        for canvas, f in zip(canvases, level_files, strict=True):
            canvas.save(f)
        result["levels"] = [str(f) for f in level_files]
    return result


class EpochSamples:
    """Trainer callback: after every epoch, a PNG grid of fixed-seed samples in ``directory``, quantised as the family declares (``adapter.quantise``).

    ``directory/epoch_0001.png``, ``epoch_0002.png``...: the same latent noise (``seed``)
    every epoch, so the grids show training progress (``adapter.sample`` runs in eval mode
    and restores the train/eval flags). The layout is the family's :func:`sample_grid`:
    class-conditional families one row per class, labelled with the class names;
    image-to-image families each input beside its translations (CycleGAN ``input (A) | A ->
    B``, SRGAN ``bicubic x4 | SRResNet x4 | original``, StarGAN the official debug grid: the
    input, then one column per target), under column headers. The same pixels go to the
    trainer's TensorBoard log (``trainer.tensorboard``, when it has one) as the image ``samples``.

    Args:
        directory: where the grids go (created on first use).
        n: images per grid.
        seed: the fixed noise seed.
    """

    def __init__(self, directory: str | Path, *, n: int = 64, seed: int = 0) -> None:
        self.directory = Path(directory)
        self.n = n
        self.seed = seed
        self.files: list[Path] = []

    def on_epoch_end(self, trainer: Any, adapter: GAN, epoch: int, metrics: dict[str, Any]) -> None:
        """Write ``epoch_{epoch:04d}.png`` (and the TensorBoard image)."""
        # sample() leaves the train/eval flags as it found them, and the trainer calls
        # adapter.train() at the start of every epoch anyway
        grid = sample_grid(adapter, self.n, seed=self.seed)
        layout = {"nrow": grid.cols, "row_labels": grid.row_labels, "col_labels": grid.col_labels, "quantise": adapter.quantise}
        self.files.append(save_grid(grid.images, self.directory / f"epoch_{epoch:04d}.png", **layout))
        tensorboard = getattr(trainer, "tensorboard", None)
        if tensorboard is not None:
            tensorboard.image("samples", grid_pixels(grid.images, **layout), epoch)
