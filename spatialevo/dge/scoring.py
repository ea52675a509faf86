"""Scoring of model answers against DGE ground truth (SPEC §3 "Scoring", §8 "A solver output
commits to one answer").

Answer kinds (``Verdict.answer_kind``): ``"number"`` (a float in ``unit`` ``"m"``, ``"cm"`` or
``"m2"``), ``"integer"`` (a count), ``"choice"`` (one of ``options``) and ``"direction"`` (a set of
components from ``up down front back left right turn-left turn-right``).

* Numbers and counts score by **MRA**: the mean over the ten thresholds θ = 0.50, 0.55, …, 0.95 of
  ``|pred − gt| / gt ≤ 1 − θ`` (compared with a 1e-9 slack, so ``gt·1.05`` still passes θ = 0.95).
* Choices score 1 on exact match after normalisation (:func:`choices_match`: :func:`normalize_choice`
  forms, or equal direction sets); directions 1 when the component sets agree.
* An invalid question's correct answer is its reason code (:func:`score_reason`).
* :func:`first_token_score` mimics public benchmark harnesses (first whitespace token only).
* Anything unparsable scores 0. Nothing here raises on any prediction string (``ValueError`` only
  for the caller's bugs: an unknown ``kind``/``unit``, a ground truth that is not > 0 / a direction),
  and every step is linear in the length of the text.

How an output is *read* — one committed answer, the rules against hedging and re-wording —
lives in :mod:`spatialevo.dge.answers` (its names are re-exported here).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from spatialevo.dge.answers import (
    COMPONENT_ORDER,
    HEDGE_WORDS,
    KINDS,
    NEGATION_WORDS,
    REASON_FILLER,
    UNPARSABLE,
    ReasonAnswer,
    _answer_span,
    _check,
    _fold,
    _reason_of,
    answer_block,
    canonical_text,
    choices_match,
    direction_components,
    extract_answer,
    normalize_choice,
    parse_answer,
    read_answer,
)

__all__ = [
    "COMPONENT_ORDER",
    "HEDGE_WORDS",
    "KINDS",
    "MRA_THRESHOLDS",
    "NEGATION_WORDS",
    "REASON_FILLER",
    "UNPARSABLE",
    "ReasonAnswer",
    "answer_block",
    "canonical_text",
    "choices_match",
    "direction_components",
    "extract_answer",
    "first_token_score",
    "mean_relative_accuracy",
    "normalize_choice",
    "parse_answer",
    "read_answer",
    "score",
    "score_reason",
]

#: the ten MRA thresholds 0.50, 0.55, …, 0.95 (public benchmark convention; pinned, not eleven)
MRA_THRESHOLDS: tuple[float, ...] = tuple(round(0.50 + 0.05 * i, 2) for i in range(10))
_MRA_EPS = 1e-9


# ---------------------------------------------------------------------------------------- MRA
def mean_relative_accuracy(pred: float, gt: float) -> float:
    """MRA of ``pred`` against ``gt`` > 0: mean over :data:`MRA_THRESHOLDS` of ``|pred−gt|/gt ≤ 1−θ``.

    Raises ``ValueError`` when ``gt`` is not a finite positive number; a non-finite or non-numeric
    ``pred`` scores 0.0.
    """
    try:
        g = float(gt)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"ground truth must be a positive number, got {gt!r}") from None
    if not math.isfinite(g) or g <= 0.0:
        raise ValueError(f"ground truth must be a finite positive number, got {gt!r}")
    try:
        p = float(pred)
    except (TypeError, ValueError, OverflowError):
        return 0.0
    if not math.isfinite(p):
        return 0.0
    rel = abs(p - g) / g
    return sum(1 for t in MRA_THRESHOLDS if rel <= 1.0 - t + _MRA_EPS) / len(MRA_THRESHOLDS)


def _gt_direction(gt: Any) -> frozenset[str]:
    comps = direction_components(str(gt))
    if comps is None:
        raise ValueError(f"ground truth {gt!r} is not a direction")
    return comps


def _score_parsed(parsed: Any, kind: str, gt: Any) -> float:
    if kind in ("number", "integer"):
        if isinstance(parsed, (int, float)) and not isinstance(parsed, bool):
            return mean_relative_accuracy(parsed, gt)
        mean_relative_accuracy(0.0, gt)  # validates gt
        return 0.0
    if kind == "direction":
        gt_comps = _gt_direction(gt)
        return float(isinstance(parsed, frozenset) and parsed == gt_comps)
    return float(isinstance(parsed, str) and parsed != UNPARSABLE and choices_match(parsed, str(gt)))


def score(prediction: str, *, kind: str, gt: Any, unit: str | None = None, options: Sequence[str] | None = None) -> float:
    """Score in [0, 1] of ``prediction`` against the ground truth ``gt`` (an answer of ``kind``) of a
    valid question: only a value answer (:func:`parse_answer`) earns credit.

    number / integer: MRA; choice: 1.0 on a match after normalisation (direction options as sets);
    direction: 1.0 when the component sets are equal; unparsable or a reason code: 0.0. Never raises
    on ``prediction``; a bad ``gt`` (not a positive number, not a direction) raises ``ValueError``.
    """
    return _score_parsed(parse_answer(prediction, kind, unit=unit, options=options), kind, gt)


def score_reason(prediction: str, reason: str) -> float:
    """Score of ``prediction`` on an invalid question whose reason code is ``reason``: 1.0 when it is
    a reason answer (rule 4: exactly one code, "near_tie" = "Near tie" = "near-tie", only
    :data:`REASON_FILLER` beside it, e.g. "invalid: near tie") naming ``reason``; else 0.0."""
    if not isinstance(prediction, str) or not isinstance(reason, str):
        return 0.0
    span = _answer_span(prediction)
    answer = None if span is None else _reason_of(span)
    return float(isinstance(answer, ReasonAnswer) and _fold(answer.code) == _fold(reason))


_PLAIN_NUMBER_RE = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def first_token_score(prediction: str, *, kind: str, gt: Any, unit: str | None = None,
                      options: Sequence[str] | None = None) -> float:
    """Public-harness scoring: only the first whitespace token of the prediction (of its last
    ``<answer>`` block when it has one) counts, trailing ``.,;:!?`` stripped. Numbers must be plain
    decimals, read in the expected unit without conversion ("2.5 meters" → 2.5; "about 2.5" → 0);
    choices take an upper-case letter (``B``, ``(B)``) mapped through ``options`` or a one-word option;
    directions a one-token compound ("front-left"). Never raises on ``prediction``.
    """
    _check(kind, unit)
    parts = extract_answer(prediction).split()
    tok = parts[0].rstrip(".,;:!?") if parts else ""
    if kind in ("number", "integer"):
        return _score_parsed(float(tok) if _PLAIN_NUMBER_RE.fullmatch(tok) else UNPARSABLE, kind, gt)
    if kind == "direction":
        return _score_parsed(direction_components(tok) or UNPARSABLE, kind, gt)
    m = re.fullmatch(r"\(?([A-Z])\)?", tok)
    if m and options:
        idx = ord(m.group(1)) - ord("A")
        tok = options[idx] if idx < len(options) and isinstance(options[idx], str) else ""
    return _score_parsed(tok or UNPARSABLE, kind, gt)
