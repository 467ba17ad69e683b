"""``zoo adapt``: transfer learning (:func:`adapt`): load weights, new head, freezing strategy, fine-tune;
for a GAN, FreezeD fine-tuning (:mod:`zoo.tasks.gan_transfer`)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.tasks._common import build_adapter, check_classes, check_shots, default_img_size, fit_run, run_meta, run_summary
from zoo.tasks.model_kwargs import check_model_kwargs
from zoo.utils.outputs import releasing_claims

__all__ = ["adapt"]


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
    "model_kwargs": {},
}


@releasing_claims
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
    model_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Transfer learning: load weights, replace the head, freeze stages by a strategy, fine-tune.

    Steps: build ``name``; load ``weights`` (a ``zoo train``/``zoo adapt``/``zoo pretrain``
    checkpoint, a published tag such as ``imagenet``, ``auto`` (the default) = the published
    weights when they can be had, else random init with a warning, or ``none``); replace the
    head with ``num_classes`` classes; freeze by ``strategy`` (``full``, ``linear-probe``,
    ``freeze-until`` with ``freeze_until``, ``gradual``; ``None``: ``freeze-until`` when
    ``freeze_until`` is given, else ``full``), frozen BatchNorm by ``bn`` (``frozen``: the
    structural ``FrozenBatchNorm2d``; ``train``), per-stage learning rates by ``lr_decay``
    and training augmentation by ``augment`` (all in :mod:`zoo.models.transfer`); fine-tune on
    ``data`` when given (``shots`` images
    per class from its training split; defaults: 10 epochs, batch 32, seed 0), saving
    ``out/last`` and ``out/best`` every epoch; save to ``out``. ``overwrite``, ``resume``, ``device``,
    ``amp`` and ``channels_last`` as :func:`train` (a resumed run loads its own weights, not ``weights``).
    ``model_kwargs``: the model's declared build options (``--model-kwargs``), as :func:`train`.

    A GAN (``freeze_d`` given, ``num_classes`` not) is fine-tuned from the ``zoo train`` run
    ``weights`` with its discriminator's lower ``freeze_d`` layers frozen (FreezeD,
    :func:`zoo.tasks.gan_transfer.adapt_gan`).

    Returns:
        ``model``, ``weights`` (what was loaded), ``trainable_params``, ``frozen_params`` and
        ``frozen_until`` as the model ends (``gradual`` unfreezes during training; it adds
        ``frozen_until_at_start``), and when it trained ``shots`` (an int, or ``"all"``),
        ``val_accuracy`` (0..1 on the held-out split),
        ``train_images``, ``seconds``.

    Raises:
        ZooError: unknown model/stage/strategy/bn mode/augmentation, ``lr_decay`` outside
            (0, 1], ``num_classes < 1``, bad weights file, bad data, no network
            for ``--weights imagenet``, ``out`` holds a run, a ``resume`` that does not fit.
        TrainingInterrupted, TrainingDiverged: as :func:`train`.
    """
    from zoo.io.official import check_choice
    from zoo.models.transfer import AUGMENTS, BN_MODES, check_lr_decay, check_strategy
    from zoo.models.weights import load_weights
    from zoo.registry import get_spec
    from zoo.registry.spec import check_num_classes
    from zoo.training.distributed import rank_zero_run
    from zoo.training.runs import Run, resolve_options
    from zoo.training.trainer import check_training_args
    from zoo.utils.seeding import seed_everything

    spec = get_spec(name)
    kwargs = check_model_kwargs(name, model_kwargs) or None  # before anything is built or written
    if spec.kind == "gan":
        if num_classes is not None:
            raise ZooError(
                f"{{param}} is for backbones; {name} is a GAN: fine-tune it with --weights SRC --freeze-d N",
                param="num_classes",
                exit_code=2,
            )
        backbone_only = {"strategy": strategy, "freeze_until": freeze_until, "lr_decay": lr_decay, "bn": bn, "augment": augment}
        for param, value in backbone_only.items():
            if value is not None:  # refused whatever its value: nothing of a GAN would read it
                raise ZooError(
                    f"{{param}} {value} does not apply: it sets how a backbone's stages are frozen and trained; {name} is a GAN, "
                    "fine-tuned with --freeze-d N (FreezeD): leave {param} out",
                    param=param,
                    exit_code=2,
                )
        from zoo.tasks.gan_transfer import adapt_gan

        return adapt_gan(
            name, weights=weights, freeze_d=freeze_d, data=data, shots=shots, epochs=epochs, out=out, img_size=img_size,
            batch_size=batch_size, lr=lr, device=device, amp=amp, seed=seed, progress=progress, overwrite=overwrite, resume=resume,
            model_kwargs=kwargs,
            channels_last=channels_last,
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
    run = rank_zero_run(Run("adapt", name, out, overwrite, resume, reads=(data, weights)))  # torchrun: rank 0 writes the run directory
    given = {"freeze_until": freeze_until, "weights": weights, "data": data, "shots": shots, "epochs": epochs}
    given.update(strategy=strategy, bn=bn, lr_decay=lr_decay, augment=augment)
    given.update(img_size=img_size, batch_size=batch_size, lr=lr, amp=amp, seed=seed, num_classes=num_classes, model_kwargs=kwargs)
    opts = resolve_options(given, {**_ADAPT_DEFAULTS, "num_classes": None}, run.saved, run=resume, free=("amp",))
    strategy_, first_frozen = check_strategy(opts["strategy"], opts["freeze_until"], list(spec.stages), name)
    check_lr_decay(opts["lr_decay"])
    check_choice(opts["bn"], BN_MODES, "bn")
    check_choice(opts["augment"], AUGMENTS, "augment")
    check_training_args(
        device=device, amp=opts["amp"], epochs=opts["epochs"], lr=opts["lr"], batch_size=opts["batch_size"], seed=opts["seed"]
    )
    if opts["data"] is None:  # only build, freeze and save: every training option is refused, after its value is checked
        training = {"shots": shots, "epochs": epochs, "batch_size": batch_size, "lr": lr, "amp": amp, "augment": augment}
        training.update(lr_decay=lr_decay, channels_last=channels_last or None)
        for param, value in training.items():
            if value is not None:
                raise ZooError(
                    "{param} needs data to fine-tune on; without data, adapt only builds, freezes and saves", param=param, exit_code=2
                )
    if bn is not None and first_frozen is None:
        raise ZooError(
            f"{{param}} sets the BatchNorm of frozen stages; --strategy {strategy_} freezes none: leave {{param}} out or freeze stages",
            param="bn",
            exit_code=2,
        )
    if lr_decay is not None and strategy_ == "linear-probe":
        raise ZooError(
            "{param} gives the stages below the head their own learning rates; --strategy linear-probe trains only the head: "
            "leave {param} out",
            param="lr_decay",
            exit_code=2,
        )
    source = None
    if opts["data"] is not None:
        from zoo.data import resolve_data

        source = resolve_data(opts["data"], seed=opts["seed"])
        check_classes(source, opts["data"])
        check_shots(source, opts["shots"], opts["seed"])
        if len(source.classes) != num_classes:
            raise ZooError(
                f"{{param}} {num_classes} but the data {opts['data']} has {len(source.classes)} classes; "
                f"pass {{param}} {len(source.classes)}",
                param="num_classes",
                exit_code=2,
            )
    size = opts["img_size"] = default_img_size(spec, source, opts["img_size"])
    seed_everything(opts["seed"])
    adapter = build_adapter(name, **opts["model_kwargs"])
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
            return run_meta(adapter, source, size, opts, {**summary, "data": source.name, "history": history})

        cli = f"zoo adapt {name} --head {num_classes} --data {shlex.quote(str(opts['data']))}"
        result, checkpoints = fit_run(
            run, adapter, source, opts, command="adapt", cli=cli, meta=meta, state=state, img_size=size, device=device,
            progress=progress, channels_last=channels_last, extra_options={"weights_loaded": loaded},
        )  # fmt: skip
        summary.update(run_summary(adapter, source, result, weights_init=loaded, img_size=size, model_kwargs=opts["model_kwargs"]))
        summary["shots"] = opts["shots"] if opts["shots"] is not None else "all"
        if strategy_ == "gradual":  # where the unfreezing ended (model.json's frozen_until), and where it began
            summary["frozen_until_at_start"] = first_frozen
        summary["frozen_until"] = adapter.frozen_until
        summary["trainable_params"], summary["frozen_params"] = adapter.param_counts()
    elif run.resume_dir is not None:
        raise ZooError(f"{{param}} {resume}: the run has no data to train on; nothing to resume", param="resume", exit_code=2)
    run.finish(adapter, summary, run_meta(adapter, source, size, {**opts, "epochs": opts["epochs"] if source else 0}, summary), checkpoints)
    return summary
