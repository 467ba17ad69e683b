"""Typed GAN conditions: what a generator is conditioned on, and parsing the CLI's text into it.

A GAN family's condition is one of four kinds (:data:`CONDITION_KINDS`):

* ``none``: unconditional (vanilla GAN, DCGAN).
* ``class``: one class label per sample (cGAN, Mirza & Osindero 2014): ``--label 7`` or
  ``--label seven`` (a number word, where the classes are named by digits) or the class name.
* ``attribute``: a binary attribute vector (StarGAN, Choi et al. 2018): ``--attr Blond_Hair``,
  ``--attr blond`` (case-insensitive, unambiguous prefixes, common words), several
  comma-separated, ``-Male``/``no_Male``/``Male=0`` to turn one off; attributes of an
  exclusive group (hair colours) switch the others of the group off, as the official
  ``create_labels`` does (yunjey/stargan ``solver.py``).
* ``image``: an input image to translate (SRGAN, CycleGAN, StarGAN): ``--image x.png``.

The class or attribute names come from the checkpoint's sidecar (``model.json``), so a
model trained on ``digits`` accepts ``--label 7`` and one trained on an ImageFolder its
folder names. Unknown values list the valid ones.

No torch import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import ZooError, did_you_mean

__all__ = ["CONDITION_KINDS", "NUMBER_WORDS", "ConditionSpec"]

CONDITION_KINDS = ("none", "class", "attribute", "image")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_OFF_PREFIXES = ("-", "no_", "no-", "not_", "not-")


def _fold(text: str) -> str:
    return text.strip().lower().replace("-", "_").replace(" ", "_")


@dataclass(frozen=True)
class ConditionSpec:
    """What a GAN is conditioned on, with the names needed to parse the command line.

    Attributes:
        kind: one of :data:`CONDITION_KINDS`.
        names: class names (``class``) or attribute names (``attribute``), in label order.
        exclusive: groups of attribute names of which at most one is on
            (StarGAN CelebA: ``(("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"),)``).
        synonyms: ``((word, target), ...)``: extra words, folded to lower case, mapping to
            ``"Name"`` (turn on) or ``"-Name"`` (turn off), e.g. ``("blonde", "Blond_Hair")``,
            ``("female", "-Male")``, ``("old", "-Young")``.
        flag: the CLI flag users type for it (``--label``, ``--attr``, ``--image``), for messages.

    Raises:
        ZooError: unknown ``kind``.
    """

    kind: str = "none"
    names: tuple[str, ...] = ()
    exclusive: tuple[tuple[str, ...], ...] = ()
    synonyms: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in CONDITION_KINDS:
            raise ZooError(f"unknown condition kind {self.kind!r}; valid: {', '.join(CONDITION_KINDS)}")

    @property
    def is_domain(self) -> bool:
        """An attribute condition whose one exclusive group is every name: one domain at a time
        (StarGAN's domain mode), so an input has no attributes of its own to give (``--from``)."""
        return self.kind == "attribute" and len(self.exclusive) == 1 and set(self.exclusive[0]) == set(self.names) and bool(self.names)

    @property
    def flag(self) -> str:
        """``--label``, ``--attr``, ``--image`` or ``""`` (unconditional)."""
        return {"class": "--label", "attribute": "--attr", "image": "--image"}.get(self.kind, "")

    # -- serialisation (the checkpoint's sidecar) ------------------------------------
    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict for the sidecar."""
        return {
            "kind": self.kind,
            "names": list(self.names),
            "exclusive": [list(g) for g in self.exclusive],
            "synonyms": [list(p) for p in self.synonyms],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ConditionSpec:
        """Inverse of :meth:`to_json` (``None`` -> unconditional)."""
        if not data:
            return cls()
        return cls(
            kind=data.get("kind", "none"),
            names=tuple(data.get("names", ())),
            exclusive=tuple(tuple(g) for g in data.get("exclusive", ())),
            synonyms=tuple((str(a), str(b)) for a, b in data.get("synonyms", ())),
        )

    # -- parsing -------------------------------------------------------------------
    def parse(self, text: str | None) -> Any:
        """Parse the CLI's text into this condition.

        Returns:
            ``None`` for ``none`` (and for any kind when ``text`` is ``None``: the caller
            decides what an absent condition means); an ``int`` class index for ``class``;
            ``{attribute name: 0.0 or 1.0}`` for ``attribute`` (only the attributes the
            text sets, exclusive groups applied); a :class:`pathlib.Path` to an existing
            file for ``image``.

        Raises:
            ZooError: a condition given to an unconditional model, an unknown or ambiguous
                label or attribute (the message lists the valid ones), a label out of
                range, or an image file that does not exist.
        """
        if text is None:
            return None
        if self.kind == "none":
            raise ZooError(f"this model is unconditional; drop the condition ({text!r})", exit_code=2)
        if self.kind == "class":
            return self.parse_label(str(text))
        if self.kind == "attribute":
            return self.parse_attributes(str(text))
        path = Path(text)
        if not path.is_file():
            raise ZooError(f"--image {path} does not exist or is not a file; give an image file (PNG, JPEG...)", exit_code=2)
        return path

    def parse_label(self, text: str) -> int:
        """Class index of ``text``: a class name (case-insensitive), a number word naming a
        digit class (``seven`` -> class ``"7"``), or an index when no class is named so.

        Raises:
            ZooError: unknown label or index out of range; the message lists the classes.
        """
        names = list(self.names)
        valid = ", ".join(names)
        t = text.strip()
        if t in names:
            return names.index(t)
        folded = {n.lower(): i for i, n in enumerate(names)}
        if t.lower() in folded:
            return folded[t.lower()]
        if t.lower() in NUMBER_WORDS and str(NUMBER_WORDS.index(t.lower())) in names:
            return names.index(str(NUMBER_WORDS.index(t.lower())))
        if t.lstrip("-").isdigit():
            i = int(t)
            if 0 <= i < len(names):
                return i
            raise ZooError(f"--label {t} is out of range; this model has {len(names)} classes: {valid}", exit_code=2)
        raise ZooError(f"unknown --label {t!r}{did_you_mean(t, names)}; valid: {valid}", exit_code=2)

    def _resolve_attribute(self, word: str, flag: str = "--attr") -> str:
        names = list(self.names)
        folded = {_fold(n): n for n in names}
        w = _fold(word)
        if w in folded:
            return folded[w]
        starts = [n for f, n in folded.items() if f.startswith(w)]
        if len(starts) == 1:
            return starts[0]
        valid = ", ".join(names)
        if len(starts) > 1:
            raise ZooError(f"{flag} {word!r} is ambiguous: {', '.join(starts)}; valid: {valid}", exit_code=2)
        raise ZooError(f"unknown {flag} {word!r}{did_you_mean(word, names)}; valid: {valid}", exit_code=2)

    def parse_attributes(self, text: str, *, flag: str = "--attr") -> dict[str, float]:
        """``{attribute: 1.0 or 0.0}`` from comma-separated words.

        Each word is an attribute name (case-insensitive, ``-``/``_``/space alike), an
        unambiguous prefix of one (``blond`` -> ``Blond_Hair``), or a synonym; a leading
        ``-``, ``no_`` or ``not_``, or a trailing ``=0``, turns it off (``=1`` on).
        Turning on one attribute of an exclusive group turns the group's others off.
        ``flag`` is the option named in errors (``--attr``, or ``--from`` for an input's own attributes).

        Raises:
            ZooError: empty text, an unknown or ambiguous word, two hair colours at once,
                or the same attribute both on and off.
        """
        words = [w.strip() for w in text.split(",") if w.strip()]
        if not words:
            raise ZooError(f"{flag} needs at least one attribute; valid: {', '.join(self.names)}", exit_code=2)
        syn = {_fold(a): b for a, b in self.synonyms}
        out: dict[str, float] = {}
        for word in words:
            value = 1.0
            w = word
            if "=" in w:
                w, _, v = w.partition("=")
                if v.strip() not in ("0", "1"):
                    raise ZooError(f"{flag} {word!r}: the value after '=' must be 0 or 1", exit_code=2)
                value = float(v.strip())
            names = {_fold(n) for n in self.names}
            for p in _OFF_PREFIXES:  # an attribute named with the prefix (CelebA's No_Beard) is that attribute
                if _fold(w).startswith(_fold(p)) and _fold(w) not in syn and _fold(w) not in names:
                    w, value = w[len(p) :], 0.0
                    break
            target = syn.get(_fold(w))
            if target is not None:
                if target.startswith("-"):
                    target, value = target[1:], 1.0 - value
                name = target
            else:
                name = self._resolve_attribute(w, flag)
            if name in out and out[name] != value:
                raise ZooError(f"{flag} turns {name} both on and off; give it once", exit_code=2)
            out[name] = value
        for group in self.exclusive:
            on = [n for n in group if out.get(n) == 1.0]
            if len(on) > 1:
                raise ZooError(f"{flag} {', '.join(on)} cannot be on together (one of {', '.join(group)}); choose one", exit_code=2)
            if on:
                out.update({n: 0.0 for n in group if n != on[0] and n in self.names})
        return out

    def describe(self, value: Any) -> str:
        """A short text naming a condition, for grid labels: ``""`` for ``None`` and for the
        ``none`` and ``image`` kinds; the class name (``class``: an index or a label text);
        for ``attribute``, the edits (text as :meth:`parse_attributes` reads it, or a ``{name:
        0/1}`` dict): the attributes turned on by name and those turned off as ``not Name``,
        leaving out the group members an exclusive choice turns off (``blond,old`` ->
        ``"Blond_Hair, not Young"``); a full 0/1 label (a sequence or tensor of one value
        per name, or its first row) names the attributes it has on (``"no attribute"``).

        Raises:
            ZooError: as :meth:`parse` (an unknown label or attribute).
        """
        if value is None or self.kind in ("none", "image"):
            return ""
        if self.kind == "class":
            return self.names[self.parse_label(str(value)) if isinstance(value, str) else int(value)]
        if isinstance(value, str):
            value = self.parse_attributes(value)
        if isinstance(value, dict):
            chosen = {n for group in self.exclusive for n in group if any(value.get(m) == 1.0 for m in group)}
            on = [n for n in self.names if value.get(n) == 1.0]
            off = [f"not {n}" for n in self.names if value.get(n) == 0.0 and n not in chosen]
            return ", ".join(on + off)
        row = value.tolist() if hasattr(value, "tolist") else list(value)
        while row and isinstance(row[0], list):
            row = row[0]
        return ", ".join(n for n, v in zip(self.names, row, strict=False) if float(v) == 1.0) or "no attribute"

    def apply(self, base: list[float], edits: dict[str, float]) -> list[float]:
        """Attribute vector ``base`` (one 0/1 float per name, in order) with ``edits`` set.

        Raises:
            ZooError: ``base`` has the wrong length.
        """
        if len(base) != len(self.names):
            raise ZooError(f"attribute vector of length {len(base)} given; this model has {len(self.names)}: {', '.join(self.names)}")
        out = [float(v) for v in base]
        for name, value in edits.items():
            out[self.names.index(name)] = value
        return out
