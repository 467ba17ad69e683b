"""The library's main jobs, usable from Python alone: train, adapt (transfer learning), sample.

Sampling itself (:func:`sample`, :func:`load_gan`, :func:`save_grid`) is in
:mod:`zoo.sampling` and re-exported here.

The CLI commands ``zoo train``, ``zoo adapt`` and ``zoo sample`` are thin shells over
these functions; ``zoo demo`` chains them.

Output policy (:func:`zoo.fileio.claim_output`): an ``out`` that holds an earlier run is
refused unless ``overwrite``; the earlier run's files are removed only once the new run
has its first complete epoch (or its final model). Training saves ``out/last`` (and
``out/best`` for backbones) after every epoch; ``resume=out`` continues from ``out/last``
exactly (:mod:`zoo.resume`). When resuming, arguments left at ``None`` take the run's
values, and given ones must match them (``epochs`` may grow for GANs, ``amp`` may change).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

__all__ = ["adapt", "load_gan", "sample", "save_grid", "train"]

# Sampling lives in zoo.sampling; these names stay here because train/adapt/sample are
# the library's main jobs and `from zoo import tasks` is the documented entry point.
from zoo.sampling import load_gan, sample, save_grid


def _default_img_size(spec: Any, source: Any, img_size: int | None) -> int:
    """``img_size`` when given, else 32 px for built-in data (at least ``spec.min_size``, at most the model's
    declared input size), else the model's own size.

    Raises:
        ZooError: ``img_size`` is below ``spec.min_size`` (exit code 2).
    """
    if img_size is not None:
        if img_size < spec.min_size:
            raise ZooError(
                f"{{param}} {img_size} is below {spec.name}'s minimum input of {spec.min_size} px; use {{param}} {spec.min_size} or more",
                param="img_size",
                exit_code=2,
            )
        return img_size
    if source is not None and source.builtin:
        return min(max(32, spec.min_size), spec.input_size[-1])
    return spec.input_size[-1]


def _build(name: str, **options: Any) -> Any:
    from zoo.registry import build

    return build(name, **options)


def _fit(
    adapter: Any,
    source: Any,
    *,
    img_size: int,
    epochs: int,
    batch_size: int,
    lr: float | None,
    device: str,
    amp: str | None,
    seed: int,
    shots: int | None,
    max_minutes: float | None,
    progress: bool,
    callbacks: tuple[Any, ...] = (),
    checkpoint: Any = None,
    resume: dict[str, Any] | None = None,
    channels_last: bool = False,
) -> dict[str, Any]:
    from zoo.data import make_loaders
    from zoo.trainer import Trainer

    resize_only = source.builtin
    train_loader, val_loader = make_loaders(
        source,
        train_transform=adapter.transforms(img_size=img_size, train=True, resize_only=resize_only),
        val_transform=adapter.transforms(img_size=img_size, train=False, resize_only=resize_only),
        batch_size=batch_size,
        shots=shots,
        seed=seed,
        drop_last=adapter.kind == "gan",
    )
    # metrics.jsonl is written with each checkpoint (and with the final model), beside them.
    trainer = Trainer(
        epochs=epochs,
        lr=lr,
        device=device,
        amp=amp,
        seed=seed,
        progress=progress,
        max_minutes=max_minutes,
        callbacks=callbacks,
        checkpoint=checkpoint,
        channels_last=channels_last,
    )
    result = trainer.fit(adapter, train_loader, val_loader if adapter.kind == "backbone" else None, resume=resume)
    result["train_images"] = len(train_loader.dataset)
    result["val_images"] = len(val_loader.dataset) if adapter.kind == "backbone" else 0
    return result


def _check_classes(source: Any, data: str) -> None:
    """A classifier needs two classes or more.

    Raises:
        ZooError: ``source`` has fewer (exit code 2).
    """
    if len(source.classes) < 2:
        raise ZooError(
            f"{{param}} {data} has {len(source.classes)} class ({', '.join(source.classes)}); a classifier needs at least 2",
            param="data",
            exit_code=2,
        )


def check_shots(source: Any, shots: int | None, seed: int) -> None:
    """Check ``shots`` against ``source``'s training split before anything is built or loaded.

    Raises:
        ZooError: ``shots < 1`` or a class with fewer training images (exit code 2;
            :func:`zoo.data.few_shot`'s messages).
    """
    if shots is not None:
        from zoo.data import few_shot

        few_shot(list(range(len(source.targets_train))), source.targets_train, shots, seed, classes=source.classes)


def _preprocessing(adapter: Any, img_size: int, source: Any) -> dict[str, Any]:
    spec = adapter.spec
    return {
        "img_size": img_size,
        "mean": list(spec.mean),
        "std": list(spec.std),
        "interpolation": spec.interpolation,
        "crop_pct": spec.crop_pct,
        "resize_only": bool(source.builtin) if source else False,
        "channels": getattr(adapter, "channels", 3),
    }


_TRAIN_DEFAULTS = {"data": None, "epochs": 5, "img_size": None, "batch_size": 64, "lr": None, "amp": None, "seed": 0, "build_options": {}}


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
        batch_size, lr, device, amp, channels_last, seed, max_minutes, progress: see :class:`zoo.trainer.Trainer`
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
    from zoo.distributed import rank_zero_run
    from zoo.registry import get_spec
    from zoo.runs import Run, resolve_options
    from zoo.trainer import check_training_args, seed_everything

    spec = get_spec(name)
    run = rank_zero_run(Run("train", name, out, overwrite, resume))  # torchrun: rank 0 writes the run directory
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
        _check_classes(source, opts["data"])
    if steps is not None:
        if epochs is not None or resume is not None:
            raise ZooError("give either {param} or epochs (and no resume): steps sets the number of epochs", param="steps", exit_code=2)
        if steps < 1:
            raise ZooError(f"{{param}} must be at least 1, got {steps}", param="steps", exit_code=2)
        iters = iterations_per_epoch(len(source.train), opts["batch_size"], drop_last=spec.kind == "gan")
        opts["epochs"] = -(-steps // max(1, iters))
    size = opts["img_size"] = _default_img_size(spec, source, opts["img_size"])
    seed_everything(opts["seed"])
    options = dict(opts["build_options"])
    options.update(getattr(source, "build_options", {}))  # celeba:DIR: StarGAN's attribute mode and names
    if spec.kind == "backbone":
        options["num_classes"] = len(source.classes)
    else:  # class-conditional families take the data's class names; the others ignore them
        options.update(image_size=size, channels=source.channels, class_names=list(source.classes))
    adapter = _build(name, **options)
    callbacks: tuple[Any, ...] = ()
    if run.out is not None and adapter.kind == "gan":  # fixed-seed grids after every epoch, to watch training
        from zoo.sampling import EpochSamples

        callbacks = (EpochSamples(run.out / "samples", seed=opts["seed"]),)
    state = run.restore(adapter)

    def meta(history: list[dict[str, Any]]) -> dict[str, Any]:
        return _meta(adapter, source, size, opts, {"model": name, "data": source.name, "weights": "random", "history": history})

    command = f"zoo train {name} --data {shlex.quote(str(opts['data']))}"
    checkpoints = run.checkpoints({"command": "train", "model": name, **opts}, meta, state, command)
    fit_args = {k: opts[k] for k in ("epochs", "batch_size", "lr", "amp", "seed")}
    result = _fit(
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
    summary = _summary(adapter, source, result, weights_init="random", img_size=size)
    run.finish(adapter, summary, _meta(adapter, source, size, opts, summary), checkpoints)
    return summary


_ADAPT_DEFAULTS = {
    "strategy": None,
    "freeze_until": None,
    "bn": "frozen",
    "lr_decay": None,
    "augment": "basic",
    "weights": "auto",
    "data": None,
    "shots": None,
    "epochs": 10,
    "img_size": None,
    "batch_size": 32,
    "lr": None,
    "amp": None,
    "seed": 0,
}


def adapt(
    name: str,
    *,
    num_classes: int | None = None,
    freeze_d: int | None = None,
    freeze_until: str | None = None,
    strategy: str | None = None,
    bn: str | None = None,
    lr_decay: float | None = None,
    augment: str | None = None,
    weights: str | None = None,
    data: str | None = None,
    shots: int | None = None,
    epochs: int | None = None,
    out: str | Path | None = None,
    img_size: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    device: str = "cpu",
    amp: str | None = None,
    channels_last: bool = False,
    seed: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    resume: str | Path | None = None,
) -> dict[str, Any]:
    """Transfer learning: load weights, replace the head, freeze stages by a strategy, fine-tune.

    Steps: build ``name``; load ``weights`` (a ``zoo train``/``zoo adapt``/``zoo pretrain``
    checkpoint, a published tag such as ``imagenet``, ``auto`` (the default) = the published
    weights when they can be had, else random init with a warning, or ``none``); replace the
    head with ``num_classes`` classes; freeze by ``strategy`` (``full``, ``linear-probe``,
    ``freeze-until`` with ``freeze_until``, ``gradual``; ``None``: ``freeze-until`` when
    ``freeze_until`` is given, else ``full``), frozen BatchNorm by ``bn`` (``frozen``: the
    structural ``FrozenBatchNorm2d``; ``train``), per-stage learning rates by ``lr_decay``
    and training augmentation by ``augment`` (all in :mod:`zoo.transfer`); fine-tune on
    ``data`` when given (``shots`` images
    per class from its training split; defaults: 10 epochs, batch 32, seed 0), saving
    ``out/last`` and ``out/best`` every epoch; save to ``out``. ``overwrite``, ``resume``, ``device``,
    ``amp`` and ``channels_last`` as :func:`train` (a resumed run loads its own weights, not ``weights``).

    A GAN (``freeze_d`` given, ``num_classes`` not) is fine-tuned from the ``zoo train`` run
    ``weights`` with its discriminator's lower ``freeze_d`` layers frozen (FreezeD,
    :func:`zoo.gan_transfer.adapt_gan`).

    Returns:
        ``model``, ``weights`` (what was loaded), ``trainable_params``, ``frozen_params``,
        ``frozen_until``, and when it trained ``val_accuracy`` (0..1 on the held-out split),
        ``train_images``, ``seconds``.

    Raises:
        ZooError: unknown model/stage/strategy/bn mode/augmentation, ``lr_decay`` outside
            (0, 1], ``num_classes < 1``, bad weights file, bad data, no network
            for ``--weights imagenet``, ``out`` holds a run, a ``resume`` that does not fit.
        TrainingInterrupted, TrainingDiverged: as :func:`train`.
    """
    from zoo.distributed import rank_zero_run
    from zoo.official import check_choice
    from zoo.registry import get_spec
    from zoo.runs import Run, resolve_options
    from zoo.spec import check_num_classes
    from zoo.trainer import check_training_args, seed_everything
    from zoo.transfer import AUGMENTS, BN_MODES, check_lr_decay, check_strategy
    from zoo.weights import load_weights

    spec = get_spec(name)
    if spec.kind == "gan":
        if num_classes is not None:
            raise ZooError(
                f"{{param}} is for backbones; {name} is a GAN: fine-tune it with --weights SRC --freeze-d N",
                param="num_classes",
                exit_code=2,
            )
        from zoo.gan_transfer import adapt_gan

        return adapt_gan(
            name, weights=weights, freeze_d=freeze_d, data=data, shots=shots, epochs=epochs, out=out, img_size=img_size,
            batch_size=batch_size, lr=lr, device=device, amp=amp, seed=seed, progress=progress, overwrite=overwrite, resume=resume,
        )  # fmt: skip
    if freeze_d is not None:
        raise ZooError(
            f"{{param}} is for GANs (FreezeD); {name} is a backbone: use --strategy / --freeze-until", param="freeze_d", exit_code=2
        )
    if num_classes is None:
        if resume is None:
            raise ZooError("{param} is required: the number of classes of the new head", param="num_classes", exit_code=2)
        num_classes = int(Run("adapt", name, None, False, resume).saved.get("num_classes") or 0)
    check_num_classes(num_classes)  # everything is checked before anything is built or written
    run = rank_zero_run(Run("adapt", name, out, overwrite, resume))  # torchrun: rank 0 writes the run directory
    given = {"freeze_until": freeze_until, "weights": weights, "data": data, "shots": shots, "epochs": epochs}
    given.update(strategy=strategy, bn=bn, lr_decay=lr_decay, augment=augment)
    given.update(img_size=img_size, batch_size=batch_size, lr=lr, amp=amp, seed=seed, num_classes=num_classes)
    opts = resolve_options(given, {**_ADAPT_DEFAULTS, "num_classes": None}, run.saved, run=resume, free=("amp",))
    strategy_, first_frozen = check_strategy(opts["strategy"], opts["freeze_until"], list(spec.stages), name)
    check_lr_decay(opts["lr_decay"])
    check_choice(opts["bn"], BN_MODES, "bn")
    check_choice(opts["augment"], AUGMENTS, "augment")
    if opts["data"] is None and opts["shots"] is not None:
        raise ZooError("{param} needs data to fine-tune on; without data, adapt only builds, freezes and saves", param="shots", exit_code=2)
    check_training_args(
        device=device, amp=opts["amp"], epochs=opts["epochs"], lr=opts["lr"], batch_size=opts["batch_size"], seed=opts["seed"]
    )
    source = None
    if opts["data"] is not None:
        from zoo.data import resolve_data

        source = resolve_data(opts["data"], seed=opts["seed"])
        _check_classes(source, opts["data"])
        check_shots(source, opts["shots"], opts["seed"])
        if len(source.classes) != num_classes:
            raise ZooError(
                f"{{param}} {num_classes} but the data {opts['data']} has {len(source.classes)} classes; "
                f"pass {{param}} {len(source.classes)}",
                param="num_classes",
                exit_code=2,
            )
    size = opts["img_size"] = _default_img_size(spec, source, opts["img_size"])
    seed_everything(opts["seed"])
    adapter = _build(name)
    # a resumed run loads its own weights below; what it started from is in its options
    loaded = run.saved.get("weights_loaded", opts["weights"]) if run.saved else load_weights(adapter, opts["weights"])
    adapter.reset_head(num_classes)
    adapter.strategy, adapter.lr_decay, adapter.augment = strategy_, opts["lr_decay"], opts["augment"]
    trainable, frozen = adapter.freeze_until(first_frozen, bn=opts["bn"])
    summary: dict[str, Any] = {
        "model": name,
        "weights": loaded,
        "head": num_classes,
        "strategy": strategy_,
        "frozen_until": first_frozen,
        "trainable_params": trainable,
        "frozen_params": frozen,
    }
    checkpoints = None
    if source is not None:
        state = run.restore(adapter)

        def meta(history: list[dict[str, Any]]) -> dict[str, Any]:
            return _meta(adapter, source, size, opts, {**summary, "data": source.name, "history": history})

        command = f"zoo adapt {name} --head {num_classes} --data {shlex.quote(str(opts['data']))}"
        checkpoints = run.checkpoints({"command": "adapt", "model": name, **opts, "weights_loaded": loaded}, meta, state, command)
        fit_args = {k: opts[k] for k in ("epochs", "batch_size", "lr", "amp", "seed", "shots")}
        result = _fit(
            adapter,
            source,
            img_size=size,
            device=device,
            max_minutes=None,
            progress=progress,
            checkpoint=checkpoints,
            resume=state,
            channels_last=channels_last,
            **fit_args,
        )
        summary.update(_summary(adapter, source, result, weights_init=loaded, img_size=size))
        summary["shots"] = opts["shots"]
    elif run.resume_dir is not None:
        raise ZooError(f"{{param}} {resume}: the run has no data to train on; nothing to resume", param="resume", exit_code=2)
    run.finish(adapter, summary, _meta(adapter, source, size, {**opts, "epochs": opts["epochs"] if source else 0}, summary), checkpoints)
    return summary


def _summary(adapter: Any, source: Any, result: dict[str, Any], *, weights_init: str, img_size: int) -> dict[str, Any]:
    out = {
        "model": adapter.spec.name,
        "kind": adapter.spec.kind,
        "data": source.name,
        "classes": source.classes,
        "img_size": img_size,
        "weights": weights_init,
    }
    out.update({k: v for k, v in result.items() if k != "history"})
    out["history"] = result.get("history", [])
    return out


def _meta(adapter: Any, source: Any, img_size: int, opts: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """The sidecar's metadata (``model.json``) for ``summary``: class names, preprocessing,
    training set-up, metrics (the last epoch's, with the history)."""
    history = summary.get("history") or []
    metrics = {**(history[-1] if history else {}), **{k: v for k, v in summary.items() if k not in ("classes", "out")}}
    meta = {
        "class_names": source.classes if source else None,
        "preprocessing": _preprocessing(adapter, img_size, source),
        "training": {"data": source.name if source else None, "epochs": opts["epochs"], "seed": opts["seed"]},
        "metrics": metrics,
    }
    if adapter.kind == "gan":
        meta["condition"] = adapter.condition.to_json()
    return meta
