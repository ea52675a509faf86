"""Reading a model's answer: one committed answer per output (SPEC §3 "Scoring", §8 "A solver
output commits to one answer"). Scoring the read answer is :mod:`spatialevo.dge.scoring`.

Answer kinds (``Verdict.answer_kind``): ``"number"`` (a float in ``unit`` ``"m"``, ``"cm"`` or
``"m2"``), ``"integer"`` (a count), ``"choice"`` (one of ``options``) and ``"direction"`` (a set of
components from ``up down front back left right turn-left turn-right``). Nothing here raises on
any prediction string, and every step is linear in the length of the text.

**One committed answer.** :func:`read_answer` reads an output *without looking at the ground truth*
and returns exactly one of: a typed value (float / int / option / frozenset of components), a
:class:`ReasonAnswer` (a reason code), or :data:`UNPARSABLE`. :func:`~spatialevo.dge.scoring.score` (a valid question)
pays only value answers, :func:`~spatialevo.dge.scoring.score_reason` (an invalid question) only reason answers, so no
output is paid both ways, nor for two different ground truths. :func:`canonical_text` writes a
read answer back as text that reads the same. Rules, in order:

1. *Answer block* (:func:`answer_block`, also the solver's format credit): the content of the
   **last complete** ``<answer>…</answer>`` block, i.e. the last opening tag that a closing tag
   follows, up to the first closing tag after it; tags are lenient about spaces and case
   (``< Answer >…</ answer >``), other tags inside become spaces. Without a complete block
   (:func:`extract_answer`): an unclosed last ``<answer>`` gives the text after it, else a lone
   ``</answer>`` the text before it, else the whole text is the span.
2. *Numbers must be well formed* anywhere in the span, else it is unparsable: a superscript or
   subscript character after a digit (``2²``, ``2 ²``: not 22), arithmetic between numbers (``* × · ⋅ ∙ / ÷ ⁄ ∕ ^ + = ±``,
   the words ``x``/``times``/``by``/``cdot``, also with one unit word between: ``2 m * 3``,
   ``2.5 m = 250 cm``; ``m^2`` stays a unit) and a run of digits, ``.`` and ``,`` that is not one
   number (``2..5``, ``1.2.3``, ``1,2345``; trailing ``.``/``,`` are punctuation).
3. *Dashes*: a dash between two word characters without spaces (U+2010–U+2015, U+2212 minus) is a
   hyphen (``front—right`` = ``front-right``, ``2–3`` = ``2-3``); an em dash with a space beside
   it ends a clause.
4. *Reason codes* (:data:`~spatialevo.dge.verdict.REASON_CODES`) are matched as folded word
   sequences (``ambiguous_label`` = ``ambiguous label`` = ``Ambiguous-Label``; case, ``_``, ``-``
   and punctuation do not matter; "ambiguous labels" is no code). A span naming any code is
   **never a value answer**. It is a reason answer when it names exactly one code (repeats
   allowed) and every other word is one of :data:`REASON_FILLER` (exactly: a an the this that it
   its s question is invalid because of due to reason code answer final), so "invalid:
   near_tie", "The question is invalid because near tie." and "reason: near-tie" are reason
   answers; anything else beside the code (a number, an option, a second code, "not", "maybe")
   makes the span unparsable. Rule 5 does not apply to a code's own words (``not_visible``,
   ``no_motion``, ``no_frames``, ``no_height_difference`` are codes).
5. *Commitment* (value answers): a span with a negation word (:data:`NEGATION_WORDS`: not, no,
   never, nor, neither, none, cannot, except, instead; any ``n't``; "rather than") or a hedge
   (:data:`HEDGE_WORDS`: maybe, perhaps, possibly, probably, might) or an alternative (``or``,
   ``either``: several answers) **anywhere** is unparsable, trailing prose included ("2.5 m or
   250 cm" too). Exception: when ``neither`` is one of the options (visibility_compare),
   "neither", "none" and a "nor" after "neither" are that answer ("neither image 1 nor image 2");
   elsewhere "neither front nor left" is a negation. Approximations ("about", "approximately",
   "around", "~") are fine.
6. *Values*: rules below (:func:`parse_answer` returns the value, or :data:`UNPARSABLE` for a
   reason answer).

Design of the value reading (lenient, for rewards):

* Markdown (``**``, backticks), ``$``, ``\\boxed{}``/``\\text{}`` and leading phrases ("The answer
  is", "Answer:", "Option") go.
* The span is cut into clauses at sentence ends, ``; ! ? :``, brackets, newlines, em dashes, and
  before connectors ("…, because", "since", "which", …). The **first clause that holds a candidate**
  (a number, an option, a direction word) decides; trailing prose is ignored (but rules 2–5 apply
  to it). A comma cuts only before a connector, so "2.5 m, 3 m" and "up, back and right" stay one
  clause.
* Numbers: ``2.5``, ``.5``, ``12,000`` (a comma followed by groups of three digits is a thousands
  separator), ``2,5`` (a comma followed by one or two digits is a decimal comma: the only
  unambiguous case); units m/cm/mm/km/ft/inch and m²/cm²/ft² (``m2``, ``m^2``, ``square meters``,
  ``sq m``) convert to the expected unit; no unit means the expected unit; a unit of the wrong
  dimension (an area for a distance, any unit for a count) is unparsable; with ``unit=None`` units
  are ignored. Numbers glued to letters (``3D``, ``2nd``, ``image1``) or after "image"/"frame"/
  "camera"/"#" are not answers. Several different values in the deciding clause ("2, 3",
  "2-3 m") are unparsable; equal ones ("2.5 m, 250 cm") are fine, up to eight (more numbers in
  the deciding clause are a list: unparsable). Counts also accept the words zero … twenty.
* Choices: a letter ("B", "B.", "(B)", "The answer is B") maps to ``options[1]``. Otherwise the
  options are matched as whole words after normalisation (case, ``_``/``-``, punctuation, articles,
  plural ``s``/``es``, synonyms such as "first image" → ``image1``, "both"/"equal" → ``same``,
  "none" → ``neither``, and with options higher/lower: "above"/"taller"/"up" → ``higher``). A
  longer option shadows one inside it ("coffee table" vs "table"). Two different options in the
  deciding clause are unparsable. When every option is a pure direction (``front-left``, ``left``,
  …) the direction sets are compared. Without options the normalised clause itself is the answer.
* Directions: components from words (behind → back, ahead/forward → front, above → up, below/
  under → down, "turned left"/counter-clockwise → turn-left, clockwise → turn-right); other words
  are ignored; opposite components together (left and right) are unparsable.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from spatialevo.dge.answer_text import (
    COMPONENT_ORDER,
    KINDS,
    UNPARSABLE,
    _clean,
    _fold,
    answer_block,
    extract_answer,
)
from spatialevo.dge.answer_values import (
    _check,
    _join,
    _option_table,
    _option_tuple,
    _parse_choice,
    _parse_direction,
    _parse_number,
    choices_match,
    direction_components,
    normalize_choice,
)
from spatialevo.dge.verdict import REASON_CODES

__all__ = [
    "COMPONENT_ORDER",
    "HEDGE_WORDS",
    "KINDS",
    "NEGATION_WORDS",
    "REASON_FILLER",
    "UNPARSABLE",
    "ReasonAnswer",
    "answer_block",
    "canonical_text",
    "choices_match",
    "direction_components",
    "extract_answer",
    "normalize_choice",
    "parse_answer",
    "read_answer",
]

#: words that make an answer span unparsable anywhere in it (plus any "n't" and "rather than")
NEGATION_WORDS: tuple[str, ...] = ("not", "no", "never", "nor", "neither", "none", "cannot", "except", "instead")
#: hedges and alternatives: they make an answer span unparsable anywhere in it
HEDGE_WORDS: tuple[str, ...] = ("maybe", "perhaps", "possibly", "probably", "might", "either", "or")
#: the only words (folded) allowed beside the reason code in a reason answer
REASON_FILLER: frozenset[str] = frozenset(
    "a an the this that it its s question is invalid because of due to reason code answer final".split())


@dataclass(frozen=True)
class ReasonAnswer:
    """A read answer that names one reason code (``code`` is one of ``REASON_CODES``)."""

    code: str

    def __str__(self) -> str:
        return self.code


# ------------------------------------------------------------------------- one committed answer
#: a superscript / subscript (digit, sign or letter) after a digit: "2²" is not 22
_SUPERSCRIPT_RE = re.compile(r"[0-9\uff10-\uff19]\s*[\u00b2\u00b3\u00b9\u2070-\u209f]")
_HYPHEN_RE = re.compile(r"(?<=\w)[\u2010-\u2015\u2212](?=\w)")
_OPS = "*\u00d7\u00b7\u22c5\u2219/\u00f7\u2044\u2215+=\u00b1"  # * × · ⋅ ∙ / ÷ ⁄ ∕ + = ±
_OP_WORDS = r"\b(?:x|times|by|cdot)\b"
_ARITH_RE = re.compile(
    rf"[0-9]\s*(?:(?:[{re.escape(_OPS)}^]|{_OP_WORDS})\s*)+[-+]?\.?[0-9]"
    rf"|[0-9]\s*[^\W\d_]{{1,12}}\s*(?:(?:[{re.escape(_OPS)}]|{_OP_WORDS})\s*)+[-+]?\.?[0-9]", re.I)
#: runs of digits, dots and commas that hold a dot or comma (pure digit runs are always one number)
_NUM_RUN_RE = re.compile(r"(?<![0-9])[0-9]*[.,][0-9.,]*")
_NUM_OK_RE = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+,[0-9]{1,2}|[0-9]+(?:\.[0-9]+)?|\.[0-9]+")
_NEG_RE = re.compile(
    r"\b(?:" + "|".join(NEGATION_WORDS + HEDGE_WORDS) + r")\b|n['\u2019\u02bc]t\b|\brather\s+than\b", re.I)
_REASON_KEYS: dict[str, str] = {_fold(c): c for c in REASON_CODES}
_REASON_RE = re.compile(r"\b(?:" + "|".join(re.escape(k) for k in sorted(_REASON_KEYS, key=len, reverse=True)) + r")\b")


def _malformed(span: str) -> bool:
    """A run of digits, dots and commas that is not one number ("2..5", "1.2.3", "1,2345")."""
    for m in _NUM_RUN_RE.finditer(span):
        core = m.group().rstrip(".,").lstrip(",")
        if core and not core.isdigit() and not _NUM_OK_RE.fullmatch(core):
            return True
    return False


def _answer_span(text: str) -> str | None:
    """The cleaned answer span (rules 1–3), or ``None`` when its numbers are malformed (rule 2:
    arithmetic is looked for before and after markdown / LaTeX cleaning, "2*1" and "2 \\times 1")."""
    raw = extract_answer(text)
    if _SUPERSCRIPT_RE.search(raw):
        return None
    s = _HYPHEN_RE.sub("-", unicodedata.normalize("NFKC", raw))
    if _ARITH_RE.search(s):
        return None
    span = _clean(s, prefix=True)
    return None if _ARITH_RE.search(span) or _malformed(span) else span


def _reason_of(span: str) -> ReasonAnswer | str | None:
    """Rule 4: ``None`` when ``span`` names no reason code, else a :class:`ReasonAnswer` or
    :data:`UNPARSABLE`."""
    folded = _fold(span)
    found = {m.group() for m in _REASON_RE.finditer(folded)}
    if not found:
        return None
    if len(found) > 1 or any(w not in REASON_FILLER for w in _REASON_RE.sub(" ", folded).split()):
        return UNPARSABLE
    return ReasonAnswer(_REASON_KEYS[found.pop()])


def _uncommitted(span: str, neither_ok: bool) -> bool:
    """Rule 5: a negation or hedge word anywhere ("neither"/"none"/"neither … nor" are fine when
    ``neither`` is an option)."""
    seen_neither = False
    for m in _NEG_RE.finditer(span):
        w = m.group().lower()
        if neither_ok and (w in ("neither", "none") or (w == "nor" and seen_neither)):
            seen_neither = seen_neither or w == "neither"
            continue
        return True
    return False


# -------------------------------------------------------------------------------- public API
def _neither_is_option(kind: str, options: Sequence[str] | None) -> bool:
    return kind == "choice" and bool(options) and "neither" in _option_table(_option_tuple(options))[0]


def read_answer(text: str, kind: str, *, unit: str | None = None, options: Sequence[str] | None = None) -> Any:
    """The one answer an output commits to (rules in the module docstring), read without the
    ground truth.

    Returns a value — a float (``number``, in ``unit``), an int or float (``integer``), the matching
    entry of ``options`` (``choice``; without options the normalised text), a frozenset of
    components (``direction``) —, a :class:`ReasonAnswer`, or :data:`UNPARSABLE`. Never raises on
    any ``text``; ``ValueError`` only for an unknown ``kind`` or ``unit`` (the caller's bug).
    """
    unit = _check(kind, unit)
    if not isinstance(text, str):
        return UNPARSABLE
    span = _answer_span(text)
    if span is None:
        return UNPARSABLE
    reason = _reason_of(span)
    if reason is not None:
        return reason
    if _uncommitted(span, _neither_is_option(kind, options)):
        return UNPARSABLE
    if kind in ("number", "integer"):
        return _parse_number(span, kind, unit)
    if kind == "choice":
        return _parse_choice(span, options)
    return _parse_direction(span)


def parse_answer(text: str, kind: str, *, unit: str | None = None, options: Sequence[str] | None = None) -> Any:
    """The value answer of ``text`` (:func:`read_answer`; a reason answer is :data:`UNPARSABLE` here).

    Returns a float (``number``, in ``unit``), an int or float (``integer``), the matching entry of
    ``options`` (``choice``; without options the normalised text), a frozenset of components
    (``direction``), or :data:`UNPARSABLE`. Never raises on any ``text``; ``ValueError`` only for an
    unknown ``kind`` or ``unit`` (the caller's bug).
    """
    answer = read_answer(text, kind, unit=unit, options=options)
    return UNPARSABLE if isinstance(answer, ReasonAnswer) else answer


def canonical_text(answer: Any) -> str:
    """Text that :func:`read_answer` reads back as ``answer`` (a value in the expected unit, without
    a unit; an option; ``front-left``; a reason code); ``""`` for :data:`UNPARSABLE`."""
    if isinstance(answer, ReasonAnswer):
        return answer.code
    if isinstance(answer, frozenset):
        return _join(answer)
    if isinstance(answer, bool):
        return ""
    if isinstance(answer, int):
        return str(answer)
    if isinstance(answer, float):
        return format(Decimal(repr(answer)), "f") if math.isfinite(answer) else ""
    return "" if answer == UNPARSABLE or not isinstance(answer, str) else answer


