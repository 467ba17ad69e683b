"""GAN fine-tuning with a frozen discriminator: ``zoo adapt GAN --weights SRC --freeze-d N --data DATA --shots K``.

FreezeD (Mo, Cho & Shin 2020, "Freeze the Discriminator: a Simple Baseline for Fine-Tuning
GANs", github.com/sangwoomo/FreezeD): a GAN trained on one domain (``SRC``, a ``zoo train``
run of the same model) is adapted to a few images of another, with the lower ``N`` layers of
its discriminator frozen: they keep the source's generic features, and only the upper
layers (and the generator) learn the target. ``N = 0`` is plain fine-tuning of both
networks (the paper's baseline).

A discriminator's *layers* (:func:`discriminator_layers`) are its modules with parameters
of their own, in the order they are registered (input to output for every zoo family), each
normalisation layer joining the layer before it, as the stages of a backbone do
(:func:`zoo.models.adapters.stages_from_children`). Families with several discriminators
(LAPGAN's one per pyramid level, CycleGAN's two) freeze the lower ``N`` layers of each.
Frozen layers have ``requires_grad=False`` and their BatchNorm layers become
``FrozenBatchNorm2d`` (:func:`zoo.models.transfer.freeze_norms`), so neither their weights nor
their statistics move. The trainer builds its optimizers over the trainable parameters only.

Imports torch.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from zoo.errors import ZooError
from zoo.models.adapters import NORM_TYPES

if TYPE_CHECKING:
    from zoo.models.protocols import GAN

__all__ = ["adapt_gan", "discriminator_layers", "freeze_discriminator"]


def discriminator_layers(adapter: GAN) -> dict[str, list[list[str]]]:
    """``{discriminator network name: [layer, ...]}``, each layer a list of module paths in ``adapter.model``, input side first.

    A family whose layers do not follow registration order declares them with an adapter
    method ``discriminator_layers()`` returning the same structure (cGAN: its image and
    label branches are one layer; StarGAN: its two output heads are one), which wins.

    Raises:
        ZooError: the model has no discriminator (exit code 2).
    """
    declared = getattr(adapter, "discriminator_layers", None)
    if callable(declared):
        return declared()
    out: dict[str, list[list[str]]] = {}
    for name, net in adapter.model.items():
        if not name.startswith("discriminator"):
            continue
        layers: list[list[str]] = []
        for path, module in net.named_modules():
            if not any(True for _ in module.parameters(recurse=False)):
                continue
            full = f"{name}.{path}" if path else name
            if isinstance(module, NORM_TYPES) and layers:
                layers[-1].append(full)
            elif layers and any(full.startswith(p + ".") for p in layers[-1]):
                continue  # a parameter-holding child of a layer already listed
            else:
                layers.append([full])
        out[name] = layers
    if not out:
        raise ZooError(f"{adapter.spec.name} has no discriminator; --freeze-d works on GANs that have one", param="freeze_d", exit_code=2)
    return out


def freeze_discriminator(adapter: GAN, n: int) -> tuple[int, int]:
    """Freeze the lower ``n`` layers of every discriminator of ``adapter`` (see the module docstring).

    Args:
        adapter: a :class:`zoo.models.gan.GANAdapter`.
        n: layers to freeze, ``0 <= n < `` the number of layers of the shallowest discriminator.

    Returns:
        ``(trainable, frozen)`` parameter-element counts of the discriminators.

    Raises:
        ZooError: no discriminator; ``n`` out of range (the message gives the range).
    """
    from zoo.models.transfer import freeze_norms

    layers = discriminator_layers(adapter)
    depth = min(len(v) for v in layers.values())
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < depth:
        raise ZooError(
            f"{{param}} must be in 0..{depth - 1} ({adapter.spec.name}'s discriminator has {depth} layers; "
            f"0 fine-tunes all of them), got {n}",
            param="freeze_d",
            exit_code=2,
        )
    stash: dict[str, nn.Module] = {}
    frozen = 0
    for net_layers in layers.values():
        for layer in net_layers[:n]:
            for path in layer:
                for p in adapter.model.get_submodule(path).parameters(recurse=False):
                    p.requires_grad_(False)
                    frozen += p.numel()
            freeze_norms(adapter.model, [p for p in layer if isinstance(adapter.model.get_submodule(p), nn.BatchNorm2d)], stash)
    adapter.frozen_d = stash  # the original BatchNorm layers (for inspection)
    trainable = sum(p.numel() for name in layers for p in adapter.model[name].parameters() if p.requires_grad)
    return trainable, frozen


_DEFAULTS = {
    "weights": None,
    "freeze_d": 0,
    "data": None,
    "shots": None,
    "epochs": 20,
    "img_size": None,
    "batch_size": 32,
    "lr": None,
    "amp": None,
    "seed": 0,
    "model_kwargs": {},
    "val_fraction": None,
}


def adapt_gan(
    name: str,
    *,
    weights: str | None,
    freeze_d: int | None = None,
    data: str | None = None,
    shots: int | None = None,
    epochs: int | None = None,
    out: str | Path | None = None,
    img_size: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    device: str = "cpu",
    amp: str | None = None,
    seed: int | None = None,
    progress: bool = True,
    overwrite: bool = False,
    resume: str | Path | None = None,
    model_kwargs: dict[str, Any] | None = None,
    channels_last: bool = False,
) -> dict[str, Any]:
    """Fine-tune GAN ``name`` from the ``zoo train`` run ``weights`` on ``data`` (``shots`` images per class), FreezeD.

    Every image of ``data`` trains (no held-out split). The model is rebuilt from the source run's sidecar (its size, widths, latent), with the
    target data's class names for class-conditional families (the number of classes must
    match: the class embedding is kept, re-labelled by position). Checkpoints, ``--out`` and
    ``--resume`` as :func:`zoo.tasks.train`; defaults 20 epochs, batch 32 (or the family's ``train_batch_size``), seed 0.
    ``model_kwargs`` (checked by :func:`zoo.tasks.model_kwargs.check_model_kwargs`) override
    the source run's build options (a loss weight, say; a width that differs fails to load). ``channels_last``
    as :class:`zoo.training.trainer.Trainer`.

    Returns:
        ``model``, ``weights``, ``freeze_d``, ``d_trainable_params``, ``d_frozen_params``,
        ``train_images``, the last epoch's logs, ``seconds``, ``out``.

    Raises:
        ZooError: no ``weights`` or not a run of ``name``; no data; ``freeze_d`` out of
            range; another number of classes; the errors of :func:`zoo.tasks.train`.
    """
    from zoo.data import resolve_data
    from zoo.io.checkpoint import read_checkpoint
    from zoo.io.state_dict import load_into
    from zoo.registry import get_spec
    from zoo.tasks._common import build_adapter, check_shots, default_img_size, fit_run, run_meta, run_summary
    from zoo.tasks.model_kwargs import check_model_kwargs
    from zoo.training.distributed import rank_zero_run
    from zoo.training.runs import Run, resolve_options
    from zoo.training.trainer import check_training_args
    from zoo.utils.seeding import seed_everything

    spec = get_spec(name)
    run = rank_zero_run(Run("adapt", name, out, overwrite, resume, reads=(data, weights)))
    given = {"weights": weights, "freeze_d": freeze_d, "data": data, "shots": shots, "epochs": epochs, "img_size": img_size}
    given.update(batch_size=batch_size, lr=lr, amp=amp, seed=seed, model_kwargs=check_model_kwargs(name, model_kwargs) or None)
    defaults = {**_DEFAULTS, "batch_size": spec.train_batch_size or _DEFAULTS["batch_size"]}  # the family's paper batch (CycleGAN: 1)
    opts = resolve_options(given, defaults, run.saved, run=resume, free=("epochs", "amp"))
    if opts["val_fraction"] is None:  # every image trains; runs from before held out 20%
        opts["val_fraction"] = 0.2 if run.saved is not None else 0.0
    if opts["weights"] is None or str(opts["weights"]).lower() in ("none", "auto", "random"):
        raise ZooError(
            f"{{param}} must be a 'zoo train {name}' run to fine-tune from (FreezeD adapts a trained GAN); "
            f"train one with 'zoo train {name} --data SOURCE --out SRC'",
            param="weights",
            exit_code=2,
        )
    if opts["data"] is None:
        raise ZooError("{param} is required: the target images to adapt to", param="data", exit_code=2)
    check_training_args(
        device=device, amp=opts["amp"], epochs=opts["epochs"], lr=opts["lr"], batch_size=opts["batch_size"], seed=opts["seed"]
    )
    if not Path(opts["weights"]).exists():
        raise ZooError(f"{{param}} {opts['weights']} does not exist; give a 'zoo train {name}' run directory", param="weights", exit_code=2)
    state, meta = read_checkpoint(opts["weights"])
    if meta.get("model") not in (None, name):
        raise ZooError(f"{{param}} {opts['weights']} is a run of {meta['model']}, not {name}", param="weights", exit_code=2)
    options = {**(meta.get("config") or {}), **opts["model_kwargs"]}
    source = resolve_data(opts["data"], seed=opts["seed"], val_fraction=opts["val_fraction"], min_classes=1)  # one folder is data
    check_shots(source, opts["shots"], opts["seed"])
    if "class_names" in options:
        if len(options["class_names"]) != len(source.classes):
            raise ZooError(
                f"{name} in {opts['weights']} has {len(options['class_names'])} classes and {opts['data']} has "
                f"{len(source.classes)}; FreezeD keeps the class embedding, so give data with {len(options['class_names'])} classes",
                param="data",
                exit_code=2,
            )
        options["class_names"] = list(source.classes)
    size = default_img_size(spec, source, opts["img_size"] or options.get("image_size"))
    if options.get("image_size", size) != size:
        raise ZooError(f"{{param}} {size} differs from the source run's {options['image_size']}", param="img_size", exit_code=2)
    seed_everything(opts["seed"])
    adapter = build_adapter(name, **options)
    load_into(adapter, state, source=str(opts["weights"]))
    d_trainable, d_frozen = freeze_discriminator(adapter, int(opts["freeze_d"]))
    restored = run.restore(adapter)
    summary: dict[str, Any] = {
        "model": name,
        "weights": f"file:{Path(opts['weights']).resolve()}",
        "freeze_d": opts["freeze_d"],
        "d_trainable_params": d_trainable,
        "d_frozen_params": d_frozen,
    }

    def sidecar(history: list[dict[str, Any]]) -> dict[str, Any]:
        return run_meta(adapter, source, size, opts, {**summary, "data": source.name, "history": history})

    cli = f"zoo adapt {name} --weights {shlex.quote(str(opts['weights']))} --data {shlex.quote(str(opts['data']))}"
    result, checkpoints = fit_run(
        run, adapter, source, opts, command="adapt", cli=cli, meta=sidecar, state=restored, img_size=size, device=device,
        progress=progress, channels_last=channels_last,
    )  # fmt: skip
    summary.update(run_summary(adapter, source, result, weights_init=summary["weights"], img_size=size, model_kwargs=opts["model_kwargs"]))
    summary.update(freeze_d=opts["freeze_d"], shots=opts["shots"] if opts["shots"] is not None else "all")
    run.finish(adapter, summary, run_meta(adapter, source, size, opts, summary), checkpoints)
    return summary
