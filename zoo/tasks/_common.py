"""What the jobs share (package-private to :mod:`zoo.tasks`): the default input size, building
the adapter, the fit on a data source, and the summary and sidecar metadata every run writes.
``train``, ``adapt``, GAN fine-tuning, ``pretrain`` and ``features`` use these, so what a run saves
is defined once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.errors import ZooError

if TYPE_CHECKING:
    from zoo.models.protocols import Adapter

__all__ = [
    "build_adapter",
    "check_classes",
    "check_shots",
    "default_img_size",
    "fit",
    "fit_run",
    "preprocessing",
    "run_meta",
    "run_summary",
]


def default_img_size(spec: Any, source: Any, img_size: int | None) -> int:
    """``img_size`` when given, else 32 px for built-in data (at least ``spec.min_size``, at most the model's
    declared input size), else the model's own size.

    Raises:
        ZooError: ``img_size`` is below ``spec.min_size`` or above
            :data:`zoo.registry.spec.MAX_IMG_SIZE` (exit code 2).
    """
    if img_size is not None:
        from zoo.registry.spec import check_img_size

        return check_img_size(img_size, minimum=spec.min_size, model=spec.name)
    if source is not None and source.builtin:
        return min(max(32, spec.min_size), spec.input_size[-1])
    return spec.input_size[-1]


def build_adapter(name: str, **options: Any) -> Adapter:
    """``zoo.registry.build(name, **options)``: the one build path, random init.

    Raises:
        ZooError: unknown model or bad build options (the plugin's message).
    """
    from zoo.registry import build

    return build(name, **options)


def fit(
    adapter: Adapter,
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
    tensorboard: Any = None,
) -> dict[str, Any]:
    """Train a built ``adapter`` on ``source``: the loop behind ``train``, ``adapt`` and GAN fine-tuning.

    Makes the seeded loaders (:func:`zoo.data.make_loaders`: the adapter's train and eval
    transforms at ``img_size``, ``shots`` images per class when given, a GAN's last partial
    batch dropped) and runs :class:`zoo.training.trainer.Trainer` (validation only for
    backbones).

    Args:
        adapter: a built adapter (:class:`zoo.models.protocols.Adapter`).
        source: a :class:`zoo.data.DataSource` (:func:`zoo.data.resolve_data`).
        img_size: input side in pixels.
        epochs, batch_size, lr, device, amp, seed, max_minutes, progress, callbacks,
            checkpoint, channels_last, tensorboard: as :class:`zoo.training.trainer.Trainer`.
        shots: labelled images per class (few-shot), or ``None`` for all.
        resume: a trainer state to continue from (:meth:`Trainer.state_dict`).

    Returns:
        :meth:`Trainer.fit`'s metrics, with ``train_images`` (the images trained on) and
        ``val_images`` (the held-out ones: a backbone's validation split; a GAN's are not used),
        and ``notes`` (a list of sentences) when a backbone's last batch of one image is
        dropped each epoch (:func:`zoo.data.drops_last`) or its held-out split is empty
        (``val_accuracy`` is then ``None``, never 0).

    Raises:
        ZooError: as :func:`zoo.data.make_loaders` and :class:`~zoo.training.trainer.Trainer`;
            batch norm given a batch of one image (``--batch-size 1``, or one training image).
    """
    from zoo.data import make_loaders
    from zoo.training.trainer import Trainer

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
        tensorboard=tensorboard,
    )
    try:
        result = trainer.fit(adapter, train_loader, val_loader if adapter.kind == "backbone" else None, resume=resume)
    except ValueError as exc:  # batch norm on one value per channel: a batch of one image at a small size
        if "Expected more than 1 value per channel" not in str(exc):
            raise
        images = len(train_loader.sampler)
        why = f"the training split has {images} image" if images == 1 else f"{{param}} {batch_size} gives batches of one image"
        raise ZooError(
            f"{adapter.spec.name}'s batch norm cannot train on a batch of one image at {img_size} px ({why}); "
            "use {param} 2 or more (and at least 2 training images)",
            param="batch_size",
            exit_code=2,
        ) from None
    result["train_images"] = len(train_loader.dataset)
    result["val_images"] = len(val_loader.dataset)  # a GAN's are held out, not trained on
    notes = []
    left = len(train_loader.sampler) - len(train_loader) * (train_loader.batch_size or 1)
    if left > 0 and adapter.kind == "backbone":
        notes.append(
            f"the last batch of each epoch ({left} image{'s' if left > 1 else ''}) is dropped: batch norm cannot train on one image"
        )
    if adapter.kind == "backbone" and not result["val_images"]:
        notes.append("val_accuracy and val_loss are absent: the held-out split is empty (a class needs two images for one to be held out)")
    if notes:
        result["notes"] = notes
    return result


def check_classes(source: Any, data: str) -> None:
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


def preprocessing(adapter: Adapter, img_size: int, source: Any) -> dict[str, Any]:
    """What a sidecar records of the inputs (``model.json``'s ``preprocessing``): ``img_size``
    (pixels), ``mean`` and ``std`` (per channel, of ``[0, 1]`` images), ``interpolation``,
    ``crop_pct``, ``resize_only`` (built-in data: resized, not cropped) and ``channels``;
    :func:`zoo.tasks.classifier.eval_transform` rebuilds the evaluation pipeline from it.

    Args:
        adapter: the trained adapter.
        img_size: input side in pixels.
        source: the training :class:`zoo.data.DataSource`, or ``None``.
    """
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


def run_summary(
    adapter: Adapter, source: Any, result: dict[str, Any], *, weights_init: str, img_size: int, model_kwargs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The summary a job returns and prints: ``model``, ``kind``, ``data``, ``classes``,
    ``img_size``, ``weights`` (where the weights came from), ``model_kwargs`` (the build options
    given, when any), then :func:`fit`'s ``result`` (metrics, ``seconds``, ``steps``...) and its
    ``history`` last."""
    out = {
        "model": adapter.spec.name,
        "kind": adapter.spec.kind,
        "data": source.name,
        "classes": source.classes,
        "img_size": img_size,
        "weights": weights_init,
    }
    if model_kwargs:
        out["model_kwargs"] = dict(model_kwargs)
    out.update({k: v for k, v in result.items() if k != "history"})
    out["history"] = result.get("history", [])
    return out


def run_meta(adapter: Adapter, source: Any, img_size: int, opts: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """The sidecar's metadata (``model.json``) for ``summary``: class names, preprocessing,
    training set-up, the build options given (``model_kwargs``), metrics (the last epoch's, with the history)."""
    history = summary.get("history") or []
    metrics = {**(history[-1] if history else {}), **{k: v for k, v in summary.items() if k not in ("classes", "out")}}
    meta = {
        "class_names": source.classes if source else None,
        "preprocessing": preprocessing(adapter, img_size, source),
        "training": {"data": source.name if source else None, "epochs": opts["epochs"], "seed": opts["seed"]},
        "model_kwargs": dict(opts.get("model_kwargs") or {}),
        "metrics": metrics,
    }
    if adapter.kind == "gan":
        meta["condition"] = adapter.condition.to_json()
    return meta


def fit_run(
    run: Any,
    adapter: Adapter,
    source: Any,
    opts: dict[str, Any],
    *,
    command: str,
    cli: str,
    meta: Any,
    state: dict[str, Any] | None,
    img_size: int,
    device: str,
    progress: bool,
    channels_last: bool,
    max_minutes: float | None = None,
    extra_options: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], Any]:
    """The tail every training job shares (``train``, ``adapt``, GAN fine-tuning): the run's
    checkpoints, a GAN's per-epoch sample grids (``DIR/samples``), TensorBoard, and :func:`fit`.

    Args:
        run: the job's :class:`zoo.training.runs.Run`.
        adapter, source: what to train, on what.
        opts: the run's resolved options (``epochs``, ``batch_size``, ``lr``, ``amp``, ``seed``,
            ``shots`` when the job has them...), saved with every checkpoint for ``--resume``.
        command: ``"train"`` or ``"adapt"`` (the saved options' ``command``).
        cli: the command line that resumes the run, for messages.
        meta: ``meta(history) -> model.json metadata`` of a checkpoint.
        state: the trainer state to resume from, or ``None``.
        img_size, device, progress, channels_last, max_minutes: as :func:`fit`.
        extra_options: entries saved with the options beside ``opts`` (``weights_loaded``).

    Returns:
        ``(fit's result, the run's checkpointer)``.

    Raises:
        ZooError: as :func:`fit`.
    """
    callbacks: tuple[Any, ...] = ()
    if run.out is not None and adapter.kind == "gan":  # fixed-seed grids after every epoch, to watch training
        from zoo.tasks.sampling import EpochSamples

        callbacks = (EpochSamples(run.out / "samples", seed=opts["seed"]),)
    run_options = {"command": command, "model": adapter.spec.name, **opts, **(extra_options or {})}
    checkpoints = run.checkpoints(run_options, meta, state, cli)
    result = fit(
        adapter,
        source,
        img_size=img_size,
        device=device,
        shots=opts.get("shots"),
        max_minutes=max_minutes,
        progress=progress,
        callbacks=callbacks,
        checkpoint=checkpoints,
        resume=state,
        channels_last=channels_last,
        tensorboard=run.tensorboard(run_options, state),
        **{k: opts[k] for k in ("epochs", "batch_size", "lr", "amp", "seed")},
    )
    return result, checkpoints
