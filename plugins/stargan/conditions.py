"""StarGAN's labels: the ``--attr`` / ``--from`` language and the target labels of the official code (imports torch).

Reference implementation: yunjey/stargan ``solver.py`` at 94dd002 (MIT licence):
``create_labels`` (one target per attribute, hair colours exclusive) and the label handling
of ``Solver.train`` / ``Solver.test``. The words (``blond``, ``old``, ``woman``) and the
parsing are zoo's (:class:`zoo.models.conditions.ConditionSpec`); which attributes a
model has is its ``attrs`` (default :data:`zoo.plugins.stargan.data.CELEBA_ATTRIBUTES`).

Labels are ``(N, c_dim)`` float32 0/1 vectors in the order of the model's names; in domain
mode (RaFD, class folders) each image has one domain: one-hot vectors, or ``(N,)`` int64
indices in a training batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.nn import functional as F

from zoo.errors import ZooError, warn
from zoo.models.conditions import NUMBER_WORDS, ConditionSpec

__all__ = [
    "HAIR_COLOURS",
    "SYNONYMS",
    "apply_edits",
    "batch_labels",
    "create_labels",
    "parse_labels",
    "source_labels",
    "stargan_condition",
    "target_labels",
]

#: The hair colours that ``create_labels`` keeps exclusive (yunjey/stargan ``solver.py``).
HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")

#: Common words for CelebA attributes (``-Name``: the word turns ``Name`` off). Only the pairs
#: whose attribute the model has are used.
SYNONYMS: tuple[tuple[str, str], ...] = (
    ("blond", "Blond_Hair"),
    ("blonde", "Blond_Hair"),
    ("black", "Black_Hair"),
    ("brown", "Brown_Hair"),
    ("brunette", "Brown_Hair"),
    ("gray", "Gray_Hair"),
    ("grey", "Gray_Hair"),
    ("grey_hair", "Gray_Hair"),
    ("white_hair", "Gray_Hair"),
    ("man", "Male"),
    ("men", "Male"),
    ("boy", "Male"),
    ("female", "-Male"),
    ("woman", "-Male"),
    ("women", "-Male"),
    ("girl", "-Male"),
    ("lady", "-Male"),
    ("old", "-Young"),
    ("older", "-Young"),
    ("elderly", "-Young"),
    ("aged", "-Young"),
    ("younger", "Young"),
    ("youth", "Young"),
    ("glasses", "Eyeglasses"),
    ("spectacles", "Eyeglasses"),
    ("beard", "-No_Beard"),
    ("bearded", "-No_Beard"),
    ("beardless", "No_Beard"),
    ("clean_shaven", "No_Beard"),
    ("moustache", "Mustache"),
    ("smile", "Smiling"),
    ("hat", "Wearing_Hat"),
    ("lipstick", "Wearing_Lipstick"),
    ("makeup", "Heavy_Makeup"),
    ("earrings", "Wearing_Earrings"),
    ("necklace", "Wearing_Necklace"),
    ("necktie", "Wearing_Necktie"),
    ("tie", "Wearing_Necktie"),
)


def stargan_condition(names: Sequence[str], mode: str = "attribute") -> ConditionSpec:
    """The ``--attr`` condition of a StarGAN with these label names.

    Args:
        names: attribute names (``mode="attribute"``) or domain names (``"domain"``), in label order.
        mode: ``"attribute"``: the hair colours present (:data:`HAIR_COLOURS`) form one
            exclusive group, as ``create_labels`` treats them, and :data:`SYNONYMS` whose
            attribute is present are accepted; ``"domain"``: every domain is in one exclusive
            group (one-hot labels), and digit domains accept number words (``seven`` -> ``7``).

    Returns:
        ``ConditionSpec(kind="attribute", names=..., exclusive=..., synonyms=...)``.
    """
    names = tuple(names)
    folded = {n.lower() for n in names}
    if mode == "domain":
        words = tuple((w, str(i)) for i, w in enumerate(NUMBER_WORDS) if str(i) in names and w not in folded)
        return ConditionSpec(kind="attribute", names=names, exclusive=(names,), synonyms=words)
    hair = tuple(n for n in names if n in HAIR_COLOURS)
    synonyms = tuple((w, t) for w, t in SYNONYMS if t.lstrip("-") in names and w not in folded)
    return ConditionSpec(kind="attribute", names=names, exclusive=(hair,) if hair else (), synonyms=synonyms)


def create_labels(c_org: torch.Tensor, names: Sequence[str], mode: str = "attribute") -> list[torch.Tensor]:
    """One target label per attribute / domain, as yunjey/stargan ``solver.py create_labels``.

    Attribute mode (CelebA): target ``i`` is ``c_org`` with a hair colour ``i`` set to 1 and
    the other hair colours to 0, or any other attribute ``i`` flipped. Domain mode (RaFD):
    target ``i`` is the one-hot vector of domain ``i``.

    Args:
        c_org: ``(N, c_dim)`` float 0/1 original labels.
        names: the ``c_dim`` label names.
        mode: ``"attribute"`` or ``"domain"``.

    Returns:
        ``c_dim`` tensors ``(N, c_dim)``, ``c_org``'s dtype and device.
    """
    hair = [i for i, n in enumerate(names) if n in HAIR_COLOURS]
    out = []
    for i in range(len(names)):
        if mode == "domain":
            c = torch.zeros_like(c_org)
            c[:, i] = 1
        else:
            c = c_org.clone()
            if i in hair:
                c[:, hair] = 0
                c[:, i] = 1
            else:
                c[:, i] = (c[:, i] == 0).to(c.dtype)
        out.append(c)
    return out


def parse_labels(condition: ConditionSpec, value: Any, n: int, what: str) -> torch.Tensor | dict[str, float]:
    """A target (``--attr``) or source (``--from``) as given, for ``n`` images.

    Args:
        condition: the model's condition (:func:`stargan_condition`); its names give the label order.
        value: text (``"blond,-Male"``, parsed with :meth:`ConditionSpec.parse` into edits), a
            ``{name: 0/1}`` dict of edits, or a full label: ``(n, c_dim)`` or ``(c_dim,)`` 0/1 values.
        n: the number of images.
        what: the flag, for messages (``--attr``, ``--from``).

    Returns:
        A ``(n, c_dim)`` float32 CPU tensor (a full label), or a ``{name: float}`` dict of edits.

    Raises:
        ZooError: an unknown or ambiguous attribute (the valid ones are listed), two hair
            colours at once, or a label of the wrong shape (exit code 2).
    """
    c_dim = len(condition.names)
    if isinstance(value, str):
        return condition.parse(value)
    if isinstance(value, dict):
        unknown = [k for k in value if k not in condition.names]
        if unknown:
            raise ZooError(f"unknown {what} attribute {unknown[0]!r}; valid: {', '.join(condition.names)}", exit_code=2)
        return {k: float(v) for k, v in value.items()}
    t = torch.as_tensor(value, dtype=torch.float32).cpu()
    if t.dim() == 1:
        t = t[None].expand(n, -1)
    if t.dim() != 2 or t.shape[1] != c_dim or t.shape[0] != n:
        raise ZooError(
            f"{what} labels must be ({n}, {c_dim}) or ({c_dim},) 0/1 values in the order "
            f"{', '.join(condition.names)}; got shape {tuple(t.shape)}",
            exit_code=2,
        )
    return t.clone()


def apply_edits(condition: ConditionSpec, base: torch.Tensor, edits: dict[str, float]) -> torch.Tensor:
    """``edits`` (``{name: 0/1}``) applied to every row of ``base`` (``(N, c_dim)`` 0/1 labels),
    an exclusive group's other members switched off (:meth:`ConditionSpec.apply`).

    Returns:
        ``(N, c_dim)`` float32 CPU labels.
    """
    return torch.stack([torch.tensor(condition.apply(row.tolist(), edits)) for row in base]).float()


def source_labels(model: str, condition: ConditionSpec, n: int, source: Any, classify: Callable[[], torch.Tensor] | None) -> torch.Tensor:
    """The input images' own labels ``c_org`` (the official test reads them from the data set).

    Args:
        model: the model's name, for the warning.
        condition: the model's condition.
        n: the number of images.
        source: ``None``; ``--from`` text (``"Brown_Hair,Young"``) or a ``{name: 0/1}`` dict:
            the named attributes are set on top of the default; or a full ``(n, c_dim)`` /
            ``(c_dim,)`` 0/1 label, used as it is.
        classify: the default labels, from the discriminator's auxiliary classifier (``(n,
            c_dim)`` 0/1); ``None`` when no discriminator is at hand: every attribute off,
            with a one-line warning naming those ``source`` does not set (an unknown
            photograph has no labels).

    Returns:
        ``(n, c_dim)`` float32 CPU 0/1 labels.

    Raises:
        ZooError: an unknown attribute or a label of the wrong shape (exit code 2).
    """
    given = parse_labels(condition, source, n, "--from") if source is not None else {}
    if isinstance(given, torch.Tensor):
        return given
    if classify is not None:
        base = classify()
    else:
        base = torch.zeros(n, len(condition.names))
        unset = [a for a in condition.names if a not in given]
        if unset:
            warn(
                f"{model}: the input's own attributes are not known (no --from, and no discriminator file beside "
                f"the generator): assumed {', '.join(f'{a}=0' for a in unset)}; give them with --from, e.g. --from Brown_Hair,Young"
            )
    return apply_edits(condition, base, given)


def target_labels(model: str, condition: ConditionSpec, mode: str, target: Any, n: int, source: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``c_trg``: the labels that ``target`` asks for, for ``n`` images.

    Args:
        model: the model's name, for messages.
        condition: the model's condition.
        mode: ``"attribute"`` or ``"domain"``.
        target: ``--attr`` text (``"blond"``, ``"Blond_Hair,-Male"``) or a ``{name: 0/1}``
            dict: edits applied to the source labels (hair colours exclusive, as
            ``create_labels``); or a full ``(n, c_dim)`` / ``(c_dim,)`` 0/1 label, used as it
            is. In domain mode the text names one domain, and the source is not needed.
        n: the number of images.
        source: the images' own labels, ``(n, c_dim)`` 0/1 (:func:`source_labels`), called
            only when the edits need them.

    Returns:
        ``(n, c_dim)`` float32 CPU 0/1 labels.

    Raises:
        ZooError: no target, an unknown or ambiguous attribute (the valid ones are listed),
            two hair colours at once, or not exactly one domain in domain mode (exit code 2).
    """
    valid = ", ".join(condition.names)
    if target is None:
        raise ZooError(f"{model} needs a target: --attr NAME[,NAME...]; valid: {valid}", exit_code=2)
    edits = parse_labels(condition, target, n, "--attr")
    if isinstance(edits, torch.Tensor):
        return edits
    if mode == "domain":
        on = [k for k, v in edits.items() if v == 1.0]
        if len(on) != 1:
            raise ZooError(f"{model} translates to one domain: --attr NAME; valid: {valid}", exit_code=2)
        return F.one_hot(torch.full((n,), condition.names.index(on[0])), len(condition.names)).float()
    return apply_edits(condition, source(), edits)


def batch_labels(model: str, batch: Any, n: int, device: torch.device, mode: str, names: Sequence[str]) -> torch.Tensor:
    """The labels of a training batch ``(images, labels)``, checked against the model.

    Args:
        model: the model's name, for messages.
        batch: ``(images, labels)``.
        n: the number of images.
        device: where the labels go.
        mode: ``"attribute"`` (labels ``(n, c_dim)`` float 0/1) or ``"domain"`` (``(n,)``
            integer domain indices).
        names: the model's ``c_dim`` attribute or domain names.

    Returns:
        ``(n, c_dim)`` float32 (attribute mode) or ``(n,)`` int64 (domain mode) on ``device``.

    Raises:
        ZooError: no labels, labels of another shape than the mode takes, or domain indices
            out of range (checked for CPU labels, which costs no device sync).
    """
    y = batch[1] if isinstance(batch, (tuple, list)) and len(batch) >= 2 else None
    c_dim, listed = len(names), ", ".join(names)
    if not isinstance(y, torch.Tensor):
        raise ZooError(f"{model} trains on (images, labels) batches; give labelled data (an ImageFolder of domains, or celeba:DIR)")
    if mode == "attribute":
        if y.dim() != 2 or y.shape != (n, c_dim):
            raise ZooError(
                f"{model} was built in attribute mode for {c_dim} attributes ({listed}) but the labels have shape "
                f"{tuple(y.shape)}; for class folders (one domain per image) build it with mode='domain'",
                exit_code=2,
            )
        return y.to(device=device, dtype=torch.float32)
    if y.dim() != 1 or y.is_floating_point() or y.shape[0] != n:
        raise ZooError(
            f"{model} was built in domain mode ({listed}) but the labels have shape {tuple(y.shape)} {y.dtype}; "
            "for attribute vectors (celeba:DIR) build it with mode='attribute'",
            exit_code=2,
        )
    if y.device.type == "cpu" and (int(y.min()) < 0 or int(y.max()) >= c_dim):
        raise ZooError(f"domain labels must be in 0..{c_dim - 1} ({listed}), got {int(y.min())}..{int(y.max())}", exit_code=2)
    return y.to(device=device, dtype=torch.long)
