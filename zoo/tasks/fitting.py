"""``zoo train``: train a backbone (classification) or a GAN from random init (:func:`train`)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.tasks._common import build_adapter, check_classes, default_img_size, fit, run_meta, run_summary
from zoo.utils.outputs import releasing_claims

__all__ = ["train"]


_TRAIN_DEFAULTS = {"data": None, "epochs": 5, "img_size": None, "batch_size": 64, "lr": None, "amp": None, "seed": 0, "build_options": {}}


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
    overwrite: bool = False,
    resume: str | Path | None = None,
) -> dict[str, Any]:
    """Train a model from random init on ``data`` and (with ``out``) save it.

    Backbones get a head with one output per class of ``data`` and are trained with
    cross-entropy; GANs are trained with their own adversarial ``training_step``.
    With ``out``, every complete epoch is saved to ``out/last`` (and ``out/best``, the best
    ``val_accuracy``, for backbones); the final model goes to ``out/model.safetensors``.

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
            (defaults: 64 images, the adapter's rate, fp32, seed 0).
        build_options: extra options for the plugin's build (GANs: ``ngf``, ``ndf``...);
            ``attrs`` (a list of names) selects the attributes of ``celeba:DIR`` data (StarGAN).
        overwrite: replace the earlier run in ``out`` (else that is an error).
        resume: a run directory to continue from its ``last`` checkpoint (``out`` defaults to it);
            ``None`` arguments take the run's values.

    Returns:
        A summary dict: ``model``, ``data``, ``classes``, ``val_accuracy`` (backbones, 0..1),
        the final training logs, ``seconds`` (wall time of the fit), ``out``.

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
    run = rank_zero_run(Run("train", name, out, overwrite, resume, reads=(data,)))  # torchrun: rank 0 writes the run directory
    given = {"data": data, "epochs": epochs, "img_size": img_size, "batch_size": batch_size, "lr": lr, "amp": amp, "seed": seed}
    opts = resolve_options({**given, "build_options": build_options}, _TRAIN_DEFAULTS, run.saved, run=resume, free=("epochs", "amp"))
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
        opts["data"], seed=opts["seed"], attrs=opts["build_options"].get("attrs"), min_classes=2 if spec.kind == "backbone" else 1
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
    options = dict(opts["build_options"])
    options.update(getattr(source, "build_options", {}))  # celeba:DIR: StarGAN's attribute mode and names
    if spec.kind == "backbone":
        options["num_classes"] = len(source.classes)
    else:  # class-conditional families take the data's class names; the others ignore them
        options.update(image_size=size, channels=source.channels, class_names=list(source.classes))
    adapter = build_adapter(name, **options)
    callbacks: tuple[Any, ...] = ()
    if run.out is not None and adapter.kind == "gan":  # fixed-seed grids after every epoch, to watch training
        from zoo.tasks.sampling import EpochSamples

        callbacks = (EpochSamples(run.out / "samples", seed=opts["seed"]),)
    state = run.restore(adapter)

    def meta(history: list[dict[str, Any]]) -> dict[str, Any]:
        return run_meta(adapter, source, size, opts, {"model": name, "data": source.name, "weights": "random", "history": history})

    command = f"zoo train {name} --data {shlex.quote(str(opts['data']))}"
    checkpoints = run.checkpoints({"command": "train", "model": name, **opts}, meta, state, command)
    fit_args = {k: opts[k] for k in ("epochs", "batch_size", "lr", "amp", "seed")}
    result = fit(
        adapter,
        source,
        img_size=size,
        device=device,
        shots=None,
        max_minutes=max_minutes,
        progress=progress,
        callbacks=callbacks,
        checkpoint=checkpoints,
        resume=state,
        channels_last=channels_last,
        **fit_args,
    )
    summary = run_summary(adapter, source, result, weights_init="random", img_size=size)
    run.finish(adapter, summary, run_meta(adapter, source, size, opts, summary), checkpoints)
    return summary
