"""``zoo train``: train a backbone (classification) or a GAN from random init (:func:`train`)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.tasks._common import build_adapter, check_classes, default_img_size, fit_run, run_meta, run_summary
from zoo.tasks.model_kwargs import check_model_kwargs
from zoo.utils.outputs import releasing_claims

__all__ = ["train"]


_TRAIN_DEFAULTS = {
    "data": None,
    "epochs": 5,
    "img_size": None,
    "batch_size": 64,
    "lr": None,
    "amp": None,
    "seed": 0,
    "build_options": {},
    "model_kwargs": {},
    "val_fraction": None,
}

#: The held-out share when none is asked for: a backbone's validation split; a GAN uses every image.
VAL_FRACTION = {"backbone": 0.2, "gan": 0.0}


@releasing_claims
def train(
    name: str,
    data: str | None = None,
    *,
    epochs: int | None = None,
    steps: int | None = None,
    out: str | Path | None = None,
    img_size: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    device: str = "cpu",
    amp: str | None = None,
    channels_last: bool = False,
    seed: int | None = None,
    max_minutes: float | None = None,
    progress: bool = True,
    build_options: dict[str, Any] | None = None,
    model_kwargs: dict[str, Any] | None = None,
    val_fraction: float | None = None,
    overwrite: bool = False,
    resume: str | Path | None = None,
) -> dict[str, Any]:
    """Train a model from random init on ``data`` and (with ``out``) save it.

    Backbones get a head with one output per class of ``data`` and are trained with
    cross-entropy; GANs are trained with their own adversarial ``training_step``.
    With ``out``, every complete epoch is saved to ``out/last`` (and ``out/best``, the best
    ``val_accuracy``, for backbones); the final model goes to ``out/model.safetensors``, the
    curves to ``out/curves.png``, TensorBoard event files to ``out`` itself (``tensorboard --logdir``).

    ``max_minutes`` (per invocation; a resumed run has none unless given again): an epoch whose
    last step ran is complete and saved. When the time is up within an epoch, the epoch is cut:
    ``out/model.safetensors`` holds the weights at that step, ``out/last`` the last complete
    epoch, and ``resume=out`` continues from ``last``, redoing the cut epoch from its start, so
    the resumed run ends exactly where an uncut one would.

    Args:
        name: registry name.
        data: ``--data`` value (ImageFolder path or built-in data set such as ``digits:0-4``).
        epochs: passes over the training split (default 5).
        steps: instead of ``epochs``, a training length in iterations (batches): the run
            makes ``ceil(steps / iterations per epoch)`` whole epochs, so at least ``steps``
            iterations however fast the machine is (``zoo demo``'s GAN).
        out: directory for ``model.safetensors``, ``model.json``, ``metrics.jsonl``, ``last/``, ``best/``.
        img_size: input side in pixels (default 32 for built-in data, the model's own size otherwise).
        batch_size, lr, device, amp, channels_last, seed, max_minutes, progress: see :class:`zoo.training.trainer.Trainer`
            (defaults: the family's ``train_batch_size`` (:class:`zoo.registry.spec.ModelSpec`) or 64
            images, the adapter's rate, fp32, seed 0).
        build_options: extra options for the plugin's build (GANs: ``ngf``, ``ndf``...);
            ``attrs`` (a list of names) selects the attributes of ``celeba:DIR`` data (StarGAN).
        val_fraction: the share of each class held out (``[0, 1)``); default 0.2 for a backbone
            (its validation accuracy; it must be above 0), 0 for a GAN (every image trains;
            a held-out share is only counted in ``val_images``). A folder with ``train/`` and
            ``val/`` keeps its own split.
        model_kwargs: the model's declared build options (``--model-kwargs``; ``zoo info NAME``
            lists them), checked and typed by :func:`zoo.tasks.model_kwargs.check_model_kwargs`.
        overwrite: replace the earlier run in ``out`` (else that is an error).
        resume: a run directory to continue from its ``last`` checkpoint (``out`` defaults to it);
            ``None`` arguments take the run's values.

    Returns:
        A summary dict: ``model``, ``data``, ``classes``, ``epoch`` (the last complete one),
        ``val_accuracy`` (backbones, 0..1) and the training logs of that epoch, ``lr``,
        ``seconds`` (wall time of the fit), ``steps``, ``stopped_early``, ``stopped_at`` (only when
        ``max_minutes`` cut an epoch: ``{"epoch", "step", "steps", "logs"}``), ``history``; with
        ``out``: ``out``, ``last`` (when an epoch was saved), ``best_epoch`` and ``best_val_accuracy``
        (backbones), ``curves``.

    Raises:
        ZooError: unknown model or data, bad sizes, device not available, ``out`` holds a run
            (without ``overwrite``), ``resume`` is not a run of ``name`` or its options differ,
            ``steps`` below 1 or given with ``epochs`` or ``resume``.
        TrainingInterrupted: Ctrl-C (exit code 130; the message says how to resume).
        TrainingDiverged: a loss became NaN or infinite (the last finite checkpoint is kept).
    """
    from zoo.data import iterations_per_epoch, resolve_data
    from zoo.registry import get_spec
    from zoo.training.distributed import rank_zero_run
    from zoo.training.runs import Run, resolve_options
    from zoo.training.trainer import check_training_args
    from zoo.utils.seeding import seed_everything

    spec = get_spec(name)
    kwargs = check_model_kwargs(name, model_kwargs) or None  # before anything is built or written
    run = rank_zero_run(Run("train", name, out, overwrite, resume, reads=(data,)))  # torchrun: rank 0 writes the run directory
    given = {"data": data, "epochs": epochs, "img_size": img_size, "batch_size": batch_size, "lr": lr, "amp": amp, "seed": seed}
    given.update(build_options=build_options, model_kwargs=kwargs, val_fraction=val_fraction)
    defaults = {**_TRAIN_DEFAULTS, "batch_size": spec.train_batch_size or _TRAIN_DEFAULTS["batch_size"]}  # the paper's batch (CycleGAN: 1)
    opts = resolve_options(given, defaults, run.saved, run=resume, free=("epochs", "amp"))
    if opts["val_fraction"] is None:  # runs from before --val-fraction held out 20% whatever their kind
        opts["val_fraction"] = 0.2 if run.saved is not None else VAL_FRACTION[spec.kind]
    if spec.kind == "backbone" and opts["val_fraction"] == 0:
        raise ZooError(
            "{param} must be above 0 for a backbone: its validation accuracy needs held-out images", param="val_fraction", exit_code=2
        )
    if opts["data"] is None:
        raise ZooError("{param} is required: an ImageFolder directory or a built-in data set such as digits", param="data", exit_code=2)
    check_training_args(
        device=device,
        amp=opts["amp"],
        epochs=opts["epochs"],
        lr=opts["lr"],
        batch_size=opts["batch_size"],
        seed=opts["seed"],
        max_minutes=max_minutes,
    )
    source = resolve_data(
        opts["data"],
        seed=opts["seed"],
        val_fraction=opts["val_fraction"],
        attrs=opts["build_options"].get("attrs"),
        min_classes=2 if spec.kind == "backbone" else 1,
    )
    if spec.kind == "backbone":
        check_classes(source, opts["data"])
    if steps is not None:
        if epochs is not None or resume is not None:
            raise ZooError("give either {param} or epochs (and no resume): steps sets the number of epochs", param="steps", exit_code=2)
        if steps < 1:
            raise ZooError(f"{{param}} must be at least 1, got {steps}", param="steps", exit_code=2)
        iters = iterations_per_epoch(len(source.train), opts["batch_size"], drop_last=spec.kind == "gan")
        opts["epochs"] = -(-steps // max(1, iters))
    size = opts["img_size"] = default_img_size(spec, source, opts["img_size"])
    seed_everything(opts["seed"])
    options = {**opts["build_options"], **opts["model_kwargs"]}
    options.update(getattr(source, "build_options", {}))  # celeba:DIR: StarGAN's attribute mode and names
    if spec.kind == "backbone":
        options["num_classes"] = len(source.classes)
    else:  # class-conditional families take the data's class names; the others ignore them
        options.update(image_size=size, channels=source.channels, class_names=list(source.classes))
    adapter = build_adapter(name, **options)
    state = run.restore(adapter)

    def meta(history: list[dict[str, Any]]) -> dict[str, Any]:
        return run_meta(adapter, source, size, opts, {"model": name, "data": source.name, "weights": "random", "history": history})

    cli = f"zoo train {name} --data {shlex.quote(str(opts['data']))}"
    result, checkpoints = fit_run(
        run, adapter, source, opts, command="train", cli=cli, meta=meta, state=state, img_size=size,
        device=device, progress=progress, channels_last=channels_last, max_minutes=max_minutes,
    )  # fmt: skip
    summary = run_summary(adapter, source, result, weights_init="random", img_size=size, model_kwargs=opts["model_kwargs"])
    run.finish(adapter, summary, run_meta(adapter, source, size, opts, summary), checkpoints)
    return summary
