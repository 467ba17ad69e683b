"""``DIR/curves.png``: a run's training curves against epochs, written when the run ends.

Up to three panels side by side, from the trainer's history (one metrics dict per epoch):

* **loss**: every training log named ``*loss*`` (a GAN's ``d_loss`` and ``g_loss``, a
  classifier's ``loss``) and the validation loss; a family that logs no loss (SRResNet's
  ``mse``, ``psnr``) shows its other logs;
* **validation metric**: ``val_*`` values other than losses (``val_accuracy``) and the training
  accuracy or PSNR, when the run has any;
* **learning rate**: ``lr`` (or ``lr_NAME`` per optimizer), on a log axis when it spans more
  than a factor of 20.

Greedy pretraining counts epochs per stage: its epochs are drawn one after another, each
stage's start marked and named.

matplotlib draws it without pyplot (no global state, no display: ``Figure`` on the Agg
canvas) and the PNG is renamed into place whole (:func:`zoo.utils.fileio.atomic_path`).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo.errors import first_line, warn
from zoo.utils.fileio import atomic_path

__all__ = ["curve_panels", "write_curves"]

#: Training logs that are scores, not losses (drawn with the validation metric).
SCORES = ("acc", "accuracy", "psnr")


def _value(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def curve_panels(history: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """The panels of :func:`write_curves` for ``history``: ``[(y-axis label, [keys...]), ...]``,
    empty panels left out (see the module docstring)."""
    keys: list[str] = []
    for m in history:
        keys += [k for k in m if k not in keys and not math.isnan(_value(m[k]))]  # numbers only (not pretrain's stage names)
    lrs = [k for k in keys if k == "lr" or k.startswith("lr_")]
    logs = [k for k in keys if k not in ("epoch", "seconds") and k not in lrs and not k.startswith("val_")]
    losses = [k for k in logs if "loss" in k] or [k for k in logs if k not in SCORES]
    losses += [k for k in keys if k.startswith("val_") and "loss" in k]
    metrics = [k for k in keys if k.startswith("val_") and "loss" not in k] + [k for k in logs if k in SCORES]
    panels = [("loss", losses), ("validation metric" if any(k.startswith("val_") for k in metrics) else "metric", metrics)]
    panels.append(("learning rate", lrs))
    return [(label, ks) for label, ks in panels if ks]


def write_curves(path: str | os.PathLike[str], history: Sequence[Mapping[str, Any]], *, title: str = "") -> Path | None:
    """Draw ``history``'s curves (x: epoch) into the PNG ``path``, atomically.

    Args:
        path: the PNG file (``DIR/curves.png``).
        history: the trainer's history: dicts with ``epoch`` and the epoch's metrics.
        title: the figure's title (the model and run).

    Returns:
        ``path``, or ``None`` when there is nothing to draw or it cannot be written (one
        warning: the run's other files are written already).
    """
    panels = curve_panels(history)
    if not history or not panels:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    epochs = [int(m.get("epoch", i + 1)) for i, m in enumerate(history)]
    stages = [m.get("stage") for m in history]
    staged = any(b <= a for a, b in itertools.pairwise(epochs))  # greedy pretraining: each stage counts its own epochs
    if staged:
        epochs = list(range(1, len(history) + 1))
    fig = Figure(figsize=(4.6 * len(panels), 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    for ax, (label, keys) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels, strict=True):
        for k in keys:
            ax.plot(epochs, [_value(m.get(k)) for m in history], marker="o", markersize=3, label=k)
        values = [v for k in keys for m in history if (v := _value(m.get(k))) > 0]
        if label == "learning rate" and values and max(values) > 20 * min(values):
            ax.set_yscale("log")
        elif label == "learning rate":
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3), useOffset=False)
        ax.set_xlabel("epoch, stage after stage" if staged else "epoch")
        if staged:  # a dotted line where each stage starts, named
            for i, stage in enumerate(stages):
                if i == 0 or stage != stages[i - 1]:
                    ax.axvline(i + 0.5, color="grey", linestyle=":", linewidth=0.8)
                    ax.text(i + 0.6, 1.0, str(stage), transform=ax.get_xaxis_transform(), va="top", fontsize="x-small", color="grey")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        if len(epochs) <= 12:
            ax.set_xticks(epochs)
    if title:
        fig.suptitle(title)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    except OSError as exc:
        warn(f"cannot write {path} ({first_line(exc)}); the run's other files are written")
        return None
    return Path(path)
