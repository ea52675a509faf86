"""Scoring model answers against DGE ground truth (SPEC §3). Standard library and numpy only.

* Numbers: **MRA**, mean relative accuracy over exactly ten thresholds θ ∈ {0.50, 0.55, …, 0.95}:
  ``mean_θ 1[|pred − gt| / gt <= 1 − θ]`` (``<=``, with a 1e-9 guard against float error).
* Choices: exact match after normalisation (case, spacing, ``_``/``-``, articles, synonyms such as
  "front left" = "front-left", "first image" = "image1"); a multiple-choice letter (``B``) maps to
  the option list.
* Directions: compound answers compared as *sets* of components ("left front" = "front-left").
* Invalid questions: the reason code is the answer ("near tie" = ``near_tie``).

:func:`parse_answer` reads model output: it uses the last ``<answer>…</answer>`` block when there
is one, tolerates leading phrases ("The answer is"), markdown and trailing prose, converts units
("250 cm" → 2.5 m, "m²", "square meters"), and returns :data:`UNPARSABLE` rather than guessing
(no number, several different numbers, a unit of the wrong kind, two different options, left and
right together). An unparsable answer scores 0. :func:`first_token_score` mimics public harnesses
that keep only the first whitespace-separated token of a prediction.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

#: exactly ten MRA thresholds
MRA_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
#: returned by :func:`parse_answer` when the answer cannot be read without guessing
UNPARSABLE = "unparsable"
_MAX_CHARS = 20_000

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_LEAD = re.compile(r"^(?:final\s+answer|the\s+answer\s+is|answer|my\s+answer\s+is|it\s+is|it's)\s*[:\-]?\s*", re.I)
_NUM = re.compile(
    r"(?<![\w.])([-+]?\d+(?:[.,]\d+)?)\s*"
    r"(square\s+met(?:er|re)s?|sq\.?\s*m|m\^?2|m²|square\s+centimet(?:er|re)s?|cm\^?2|cm²|"
    r"centimet(?:er|re)s?|cm|millimet(?:er|re)s?|mm|met(?:er|re)s?|m)?(?![\w²^])",
    re.I,
)
_UNIT = {
    "m": ("length", 1.0), "meter": ("length", 1.0), "meters": ("length", 1.0), "metre": ("length", 1.0), "metres": ("length", 1.0),
    "cm": ("length", 0.01), "centimeter": ("length", 0.01), "centimeters": ("length", 0.01), "centimetre": ("length", 0.01), "centimetres": ("length", 0.01),
    "mm": ("length", 0.001), "millimeter": ("length", 0.001), "millimeters": ("length", 0.001), "millimetre": ("length", 0.001), "millimetres": ("length", 0.001),
    "m2": ("area", 1.0), "cm2": ("area", 1e-4),
}
_TARGET = {"m": ("length", 1.0), "cm": ("length", 0.01), "m2": ("area", 1.0)}
_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty".split())}
_SYNONYMS = {
    "above": "up", "upper": "up", "over": "up", "higher up": "up",
    "below": "down", "under": "down", "beneath": "down", "lower down": "down",
    "behind": "back", "rear": "back", "backward": "back", "backwards": "back",
    "ahead": "front", "forward": "front", "forwards": "front", "in front": "front",
    "first image": "image1", "image 1": "image1", "1st image": "image1", "the first": "image1", "first": "image1",
    "second image": "image2", "image 2": "image2", "2nd image": "image2", "the second": "image2", "second": "image2",
    "both": "same", "equal": "same", "equally": "same", "the same": "same", "same distance": "same",
    "none": "neither", "neither image": "neither", "not visible": "neither",
    "taller": "higher", "above it": "higher", "below it": "lower",
    "turn left": "turn-left", "turning left": "turn-left", "turn right": "turn-right", "turning right": "turn-right",
}
_COMPONENTS = ("up", "down", "front", "back", "left", "right", "turn-left", "turn-right")
_OPPOSITE = (("up", "down"), ("front", "back"), ("left", "right"), ("turn-left", "turn-right"))


def mean_relative_accuracy(pred: float, gt: float) -> float:
    """MRA of a numeric prediction (ten thresholds, ``<=``); 0.0 for a non-finite prediction.

    Raises:
        ValueError: ``gt`` is not a positive finite number.
    """
    if not isinstance(gt, (int, float)) or not math.isfinite(gt) or gt <= 0:
        raise ValueError(f"ground truth must be a positive number, got {gt!r}")
    if not isinstance(pred, (int, float)) or not math.isfinite(pred):
        return 0.0
    err = abs(pred - gt) / gt
    return sum(err <= (1.0 - t) + 1e-9 for t in MRA_THRESHOLDS) / len(MRA_THRESHOLDS)


def _span(text: str) -> str:
    blocks = _ANSWER.findall(text)
    s = blocks[-1] if blocks else text
    s = s.replace("**", "").replace("__", "").strip().strip("`").strip()
    return _LEAD.sub("", s).strip()


def normalize_choice(text: str) -> str:
    """Canonical form of a choice / label: lower case, single spaces, no ``_``/``-`` or articles, synonyms applied."""
    s = str(text).lower().replace("_", " ").replace("-", " ")
    s = re.sub(r"[^\w\s]", " ", s)
    s = " ".join(w for w in s.split() if w not in ("the", "a", "an"))
    return _SYNONYMS.get(s, s).replace("turn left", "turn-left").replace("turn right", "turn-right")


def direction_components(text: str) -> frozenset[str] | None:
    """Set of direction components in ``text`` (``None`` when there is none or two opposites)."""
    s = " " + re.sub(r"[^\w\s]", " ", str(text).lower().replace("_", " ").replace("-", " ")) + " "
    for phrase in sorted(_SYNONYMS, key=len, reverse=True):
        if _SYNONYMS[phrase] in _COMPONENTS:
            s = s.replace(f" {phrase} ", f" {_SYNONYMS[phrase]} ")
    words = s.split()
    parts = {w for w in words if w in _COMPONENTS}
    if not parts:
        return None
    if any(a in parts and b in parts for a, b in _OPPOSITE):
        return None
    return frozenset(parts)


def _numbers(span: str, unit: str | None) -> list[float] | None:
    values = []
    for m in _NUM.finditer(span):
        raw, u = m.group(1), (m.group(2) or "").lower()
        if "," in raw:
            head, tail = raw.split(",")
            if len(tail) == 3:  # thousands separator: 1,200
                raw = head + tail
            else:  # decimal comma: 2,5
                raw = head + "." + tail
        value = float(raw)
        if u:
            u = re.sub(r"\s+", " ", u).replace("²", "2").replace("^", "")
            if u.startswith("square cent") or u == "cm2":
                kind, f = _UNIT["cm2"]
            elif u.startswith("square") or u.startswith("sq") or u == "m2":
                kind, f = _UNIT["m2"]
            else:
                kind, f = _UNIT[u]
            if unit is not None:
                tkind, tf = _TARGET[unit]
                if kind != tkind:
                    return None
                value = value * f / tf
        values.append(value)
    return values


def parse_answer(text: Any, kind: str, *, unit: str | None = None, options: Sequence[str] | None = None) -> Any:
    """The answer in model output ``text``, typed for ``kind``, or :data:`UNPARSABLE`.

    ``kind``: ``"number"`` (float in ``unit``: ``"m"``, ``"cm"`` or ``"m2"``), ``"integer"``,
    ``"choice"`` (the matching entry of ``options``) or ``"direction"`` (frozenset of components).
    """
    if not isinstance(text, str) or len(text) > _MAX_CHARS:
        return UNPARSABLE
    span = _span(text)
    if not span:
        return UNPARSABLE
    if kind in ("number", "integer"):
        vals = _numbers(span, unit if kind == "number" and unit in _TARGET else None)
        if vals is None:
            return UNPARSABLE
        if not vals and kind == "integer":
            words = [_WORDS[w] for w in re.findall(r"[a-z]+", span.lower()) if w in _WORDS]
            vals = [float(w) for w in words]
        uniq = {round(v, 9) for v in vals}
        if len(uniq) != 1:
            return UNPARSABLE
        v = vals[0]
        return int(v) if kind == "integer" and float(v).is_integer() else float(v)
    if kind == "choice":
        return _choice(span, options or ())
    if kind == "direction":
        comps = direction_components(span)
        return UNPARSABLE if comps is None else comps
    return UNPARSABLE


def _choice(span: str, options: Sequence[str]) -> Any:
    if not options:
        return UNPARSABLE
    norm = {normalize_choice(o): o for o in options}
    s = normalize_choice(span)
    if s in norm:
        return norm[s]
    letter = re.fullmatch(r"\(?([a-hA-H])[.):]?", span.strip())
    if letter:
        i = ord(letter.group(1).upper()) - ord("A")
        return options[i] if i < len(options) else UNPARSABLE
    m = re.match(r"\(?([A-H])[.):]\s", span.strip())
    if m and ord(m.group(1)) - ord("A") < len(options):
        return options[ord(m.group(1)) - ord("A")]
    if set(options) <= {"left", "right", "back", "front-left", "front-right", "back-left", "back-right"} or any("-" in o for o in options):
        comps = direction_components(span)
        if comps is not None:
            hits = [o for o in options if direction_components(o) == comps]
            if len(hits) == 1:
                return hits[0]
    padded = f" {s} "
    found = [key for key in sorted(norm, key=len, reverse=True) if key and f" {key} " in padded]
    kept = [k for k in found if not any(k != other and f" {k} " in f" {other} " for other in found)]
    if len(kept) == 1:
        return norm[kept[0]]
    return UNPARSABLE


def score(prediction: Any, *, kind: str, gt: Any, unit: str | None = None, options: Sequence[str] | None = None) -> float:
    """Score of a model output against the ground truth ``gt`` (0.0 when unparsable)."""
    parsed = parse_answer(prediction, kind, unit=unit, options=options)
    if isinstance(parsed, str) and parsed == UNPARSABLE and kind != "choice":
        return 0.0
    return _compare(parsed, kind, gt)


def _compare(parsed: Any, kind: str, gt: Any) -> float:
    if kind in ("number", "integer"):
        if not isinstance(parsed, (int, float)):
            return 0.0
        return mean_relative_accuracy(float(parsed), float(gt))
    if kind == "choice":
        return float(parsed != UNPARSABLE and normalize_choice(parsed) == normalize_choice(gt))
    if kind == "direction":
        return float(isinstance(parsed, frozenset) and parsed == direction_components(gt))
    return 0.0


def score_reason(prediction: Any, reason: str) -> float:
    """1.0 when the output names the reason code of an invalid question, else 0.0."""
    if not isinstance(prediction, str) or len(prediction) > _MAX_CHARS:
        return 0.0
    s = re.sub(r"[\s\-]+", "_", _span(prediction).strip().lower()).strip("_.")
    return float(s == reason)


def first_token_score(prediction: Any, *, kind: str, gt: Any, unit: str | None = None, options: Sequence[str] | None = None) -> float:
    """Score of the first whitespace-separated token only (public-harness behaviour): "2.5 meters" → "2.5"."""
    if not isinstance(prediction, str) or len(prediction) > _MAX_CHARS:
        return 0.0
    blocks = _ANSWER.findall(prediction)
    text = (blocks[-1] if blocks else prediction).strip()
    if not text:
        return 0.0
    token = text.split()[0].rstrip(".,;:!?")
    if kind in ("number", "integer"):
        try:
            value = float(token)
        except ValueError:
            return 0.0
        return mean_relative_accuracy(value, float(gt))
    return score(token, kind=kind, gt=gt, unit=unit, options=options)
