"""Scoring of model answers against DGE ground truth (SPEC §3, "Scoring").

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
  for the caller's bugs: an unknown ``kind``/``unit``, a ground truth that is not > 0 / a direction).

Design of :func:`parse_answer` (lenient, for rewards):

* It returns the typed value (float for numbers, int for integral counts, the matching option
  string, a frozenset of components) or the sentinel string :data:`UNPARSABLE`.
* The answer span is the content of the **last** ``<answer>…</answer>`` block; an unclosed
  ``<answer>`` uses the text after it; without tags, the whole text. Markdown (``**``, backticks),
  ``$``, ``\\boxed{}``/``\\text{}`` and leading phrases ("The answer is", "Answer:", "Option") go.
* The span is cut into clauses at sentence ends, ``; ! ? :``, brackets, newlines, em dashes, and
  before connectors ("…, because", "since", "which", …). The **first clause that holds a candidate**
  (a number, an option, a direction word) decides; trailing prose is ignored. A comma cuts only
  before a connector, so "2.5 m, 3 m" and "up, back and right" stay one clause.
* Numbers: ``2.5``, ``.5``, ``12,000`` (a comma followed by groups of three digits is a thousands
  separator), ``2,5`` (a comma followed by one or two digits is a decimal comma: the only
  unambiguous case); units m/cm/mm/km/ft/inch and m²/cm²/ft² (``m2``, ``m^2``, ``square meters``,
  ``sq m``) convert to the expected unit; no unit means the expected unit; a unit of the wrong
  dimension (an area for a distance, any unit for a count) is unparsable; with ``unit=None`` units
  are ignored. Numbers glued to letters (``3D``, ``2nd``, ``image1``) or after "image"/"frame"/
  "camera"/"#" are not answers. Several different values in the deciding clause ("2 or 3",
  "2-3 m") are unparsable; equal ones ("2.5 m or 250 cm") are fine. Counts also accept the words
  zero … twenty.
* Choices: a letter ("B", "B.", "(B)", "The answer is B") maps to ``options[1]``. Otherwise the
  options are matched as whole words after normalisation (case, ``_``/``-``, punctuation, articles,
  plural ``s``/``es``, synonyms such as "first image" → ``image1``, "both"/"equal" → ``same``,
  "none" → ``neither``, and with options higher/lower: "above"/"taller"/"up" → ``higher``). A
  longer option shadows one inside it ("coffee table" vs "table"). Two different options in the
  deciding clause are unparsable (negation is not understood: "lower, not higher" is unparsable).
  When every option is a pure direction (``front-left``, ``left``, …) the direction sets are
  compared. Without options the normalised clause itself is the answer.
* Directions: components from words (behind → back, ahead/forward → front, above → up, below/
  under → down, "turned left"/counter-clockwise → turn-left, clockwise → turn-right); other words
  are ignored; opposite components together (left and right) are unparsable.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from spatialevo.dge.verdict import REASON_CODES

__all__ = [
    "COMPONENT_ORDER",
    "KINDS",
    "MRA_THRESHOLDS",
    "UNPARSABLE",
    "choices_match",
    "direction_components",
    "extract_answer",
    "first_token_score",
    "mean_relative_accuracy",
    "normalize_choice",
    "parse_answer",
    "score",
    "score_reason",
]

KINDS: tuple[str, ...] = ("number", "integer", "choice", "direction")
#: the ten MRA thresholds 0.50, 0.55, …, 0.95 (public benchmark convention; pinned, not eleven)
MRA_THRESHOLDS: tuple[float, ...] = tuple(round(0.50 + 0.05 * i, 2) for i in range(10))
_MRA_EPS = 1e-9
#: canonical order of components in a compound direction (the DGE's answers use it too)
COMPONENT_ORDER: tuple[str, ...] = ("up", "down", "front", "back", "left", "right", "turn-left", "turn-right")
_OPPOSITE = (("up", "down"), ("front", "back"), ("left", "right"), ("turn-left", "turn-right"))
#: reason codes of invalid questions (used to reject answers naming several)
_KNOWN_REASONS = REASON_CODES
#: returned by :func:`parse_answer` when the answer cannot be read without guessing
UNPARSABLE = "unparsable"


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


# ----------------------------------------------------------------------------- text utilities
_OPEN_RE = re.compile(r"<\s*answer\s*>", re.I)
_CLOSE_RE = re.compile(r"<\s*/\s*answer\s*>", re.I)
_TAG_RE = re.compile(r"<\s*/?\s*[A-Za-z]+\s*>")
_LATEX_WRAP_RE = re.compile(r"\\(?:boxed|text|mathrm|textbf|mathbf|mbox)\s*\{([^{}]*)\}")
_PREFIX_RE = re.compile(
    r"^\s*(?:(?:so|thus|therefore|hence)\b\s*,?\s*)?(?:(?:the|my)\s+)?(?:final\s+|correct\s+|best\s+)?"
    r"(?:answer|option|choice)\b(?:\s+is\b)?\s*[:=\-]?\s*", re.I)
_CONNECTORS = ("because|since|as|so|which|that|given|due|based|but|though|although|while|whereas|considering"
               "|assuming|i|it|this|we|here|then|thus|hence|therefore")
_CLAUSE_RE = re.compile(
    r"\.(?=\s|$)|[!?;\n()\[\]]|:(?![0-9])|\u2014|,\s*(?=(?:" + _CONNECTORS + r")\b)"
    r"|\s(?=(?:because|since|whereas|although|due\s+to)\b)", re.I)


def _last(matches: Iterator[re.Match[str]]) -> re.Match[str] | None:
    last = deque(matches, maxlen=1)
    return last[0] if last else None


def extract_answer(text: str) -> str:
    """The answer span: the content of the last ``<answer>…</answer>`` block (an unclosed last
    ``<answer>``: the text after it; a lone ``</answer>``: the text before it), else ``text``."""
    if not isinstance(text, str):
        return ""
    close = _last(_CLOSE_RE.finditer(text))
    if close is not None:
        opening = _last(_OPEN_RE.finditer(text, 0, close.start()))
        span = text[opening.end() if opening else 0:close.start()]
    else:
        opening = _last(_OPEN_RE.finditer(text))
        span = text[opening.end():] if opening else text
    return _TAG_RE.sub(" ", span)


def _clean(text: str, *, prefix: bool = False) -> str:
    """NFKC (``m²`` → ``m2``, full-width digits), minus signs, LaTeX wrappers, markdown, underscores;
    with ``prefix`` also leading phrases ("The answer is", "Answer:", "Option")."""
    s = unicodedata.normalize("NFKC", text).replace("\u2212", "-")
    for _ in range(2):
        s = _LATEX_WRAP_RE.sub(r"\1", s)
    s = re.sub(r"\\[,;:! ]", " ", s)
    s = re.sub(r"[*`$\\]", "", s).replace("_", " ")
    for _ in range(3 if prefix else 0):
        s = _PREFIX_RE.sub("", s, count=1)
    return s.strip()


def _clauses(span: str) -> list[str]:
    return [c for c in (p.strip() for p in _CLAUSE_RE.split(span)) if c]


def _fold(text: str) -> str:
    """Case-folded words separated by single spaces (punctuation, ``-`` and ``_`` become spaces)."""
    return " ".join(re.sub(r"[\W_]+", " ", unicodedata.normalize("NFKC", text).casefold()).split())


# --------------------------------------------------------------------------------- directions
_TURN_RE = re.compile(
    r"\b(?:turn|turns|turned|turning|rotate|rotates|rotated|rotating|rotation|yaw|yaws|yawed|yawing|pan|pans|panned"
    r"|panning|spin|spins|spun|spinning)\s+(?:(?:to|towards|toward)\s+)?(?:(?:the|its|their)\s+)?(left|right)\b")
_TURN_AFTER_RE = re.compile(r"\b(left|right)\s+turn\b")
_CCW_RE = re.compile(r"\b(?:counter|anti)\s?clockwise\b")
_DIR_WORDS: dict[str, str] = {}
for _comp, _syns in {
    "up": "up upward upwards above higher upper", "down": "down downward downwards below under underneath beneath lower",
    "front": "front forward forwards ahead frontward frontwards", "back": "back backward backwards behind rear",
    "left": "left leftward leftwards", "right": "right rightward rightwards",
    "turn-left": "turnleft counterclockwise", "turn-right": "turnright clockwise",
}.items():
    for _w in _syns.split():
        _DIR_WORDS[_w] = _comp
_CANON_DIR_TOKENS = frozenset("up down front back left right turn".split())
_DIR_FILLER = frozenset("and to the of in on a an side".split())


def _direction_scan(text: str) -> tuple[frozenset[str], bool, int]:
    """(components, conflict, number of non-direction non-filler words) of a piece of text."""
    s = _TURN_RE.sub(lambda m: f" turn{m.group(1)} ", _fold(text))
    s = _TURN_AFTER_RE.sub(lambda m: f" turn{m.group(1)} ", s)
    s = _CCW_RE.sub(" counterclockwise ", s)
    comps: set[str] = set()
    other = 0
    for t in s.split():
        c = _DIR_WORDS.get(t)
        if c is not None:
            comps.add(c)
        elif t not in _DIR_FILLER:
            other += 1
    conflict = any(a in comps and b in comps for a, b in _OPPOSITE)
    return frozenset(comps), conflict, other


def direction_components(text: str) -> frozenset[str] | None:
    """The set of direction components named in ``text`` ("Left front" → {front, left}); other words
    are ignored. ``None`` when there is none, or when opposite components appear together."""
    if not isinstance(text, str):
        return None
    comps, conflict, _ = _direction_scan(text)
    return None if conflict or not comps else comps


def _pure_direction(text: str) -> frozenset[str] | None:
    comps, conflict, other = _direction_scan(text)
    return comps if comps and not conflict and other == 0 else None


def _join(comps: frozenset[str]) -> str:
    return "-".join(c for c in COMPONENT_ORDER if c in comps)


# ------------------------------------------------------------------------------------ choices
_ARTICLES = frozenset(("the", "a", "an"))
_PHRASES: dict[tuple[str, ...], str] = {("same",): "same", ("both",): "same", ("equal",): "same", ("equally",): "same",
                                        ("tie",): "same", ("identical",): "same", ("none",): "neither"}
for _n, _num, _ords in ((1, "one", ("first", "1st")), (2, "two", ("second", "2nd"))):
    for _noun in ("image", "img", "picture", "photo", "frame", "view"):
        _PHRASES[(_noun, str(_n))] = _PHRASES[(_noun, _num)] = _PHRASES[(_noun + str(_n),)] = f"image{_n}"
        for _o in _ords:
            _PHRASES[(_o, _noun)] = f"image{_n}"
_CONTEXT_SYNONYMS = {
    "higher": frozenset("above taller up upper high upward upwards elevated raised".split()),
    "lower": frozenset("below beneath under underneath down low downward downwards shorter".split()),
}
_LETTER_RE = re.compile(r"(?:(?:.*\s)?(?:is|answer|option|choice)\s+)?\(?([A-Z])\)?", re.S)


def _words(text: str) -> list[str]:
    """Normalised word tokens: folded, articles dropped, phrase synonyms applied, "neither X nor Y" → neither."""
    toks = [t for t in _fold(text).split() if t not in _ARTICLES]
    out: list[str] = []
    i = 0
    while i < len(toks):
        for n in (2, 1):
            canon = _PHRASES.get(tuple(toks[i:i + n])) if i + n <= len(toks) else None
            if canon is not None:
                out.append(canon)
                i += n
                break
        else:
            out.append(toks[i])
            i += 1
    if "neither" in out and "nor" in out[out.index("neither"):]:
        i, j = out.index("neither"), out.index("nor", out.index("neither"))
        out = out[:i + 1] + out[j + 2:]
    return out


def normalize_choice(text: str) -> str:
    """Canonical text of a choice: case-folded words without articles, punctuation, ``_`` or ``-``,
    with synonyms ("First image" → ``image1``, "the same"/"both" → ``same``, "none" → ``neither``).
    ``"  The  Front_Left "`` → ``"front left"``; direction sets are compared by :func:`choices_match`."""
    if not isinstance(text, str):
        return ""
    return " ".join(_words(_clean(text)))


def choices_match(a: str, b: str) -> bool:
    """Whether two choices are the same: equal :func:`normalize_choice` forms, or both pure direction
    phrases with equal component sets ("left front" = "front-left")."""
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    na, nb = normalize_choice(a), normalize_choice(b)
    if na and na == nb:
        return True
    da = _pure_direction(a)
    return da is not None and da == _pure_direction(b)


def _tok_eq(t: str, o: str) -> bool:
    return t == o or (len(o) >= 2 and (t == o + "s" or t == o + "es"))


def _match_labels(clauses: list[str], options: list[str]) -> str:
    """First clause naming an option decides; it must name exactly one (a longer option shadows a
    shorter one inside it). Returns the option's key or :data:`UNPARSABLE`."""
    ctx = {syn: key for key in options if key in _CONTEXT_SYNONYMS for syn in _CONTEXT_SYNONYMS[key]}
    split = [(key, key.split()) for key in options]
    for clause in clauses:
        w = [ctx.get(t, t) for t in _words(clause)]
        hits = [(i, i + len(ow), key) for key, ow in split for i in range(len(w) - len(ow) + 1)
                if all(_tok_eq(w[i + k], ow[k]) for k in range(len(ow)))]
        if hits:
            kept = {key for s, e, key in hits if not any(s2 <= s and e <= e2 and e2 - s2 > e - s for s2, e2, _ in hits)}
            return kept.pop() if len(kept) == 1 else UNPARSABLE
    return UNPARSABLE


def _parse_choice(span: str, options: Sequence[str] | None) -> str:
    clauses = _clauses(span)
    if not clauses:
        return UNPARSABLE
    if not options:  # free text: the first clause, normalised
        return normalize_choice(clauses[0]) or UNPARSABLE
    opts = [o if isinstance(o, str) else "" for o in options]
    first = clauses[0].strip(" \t\"'")
    m = re.fullmatch(r"\(?([A-Za-z])\)?", first) or _LETTER_RE.fullmatch(first)
    if m:
        idx = ord(m.group(1).upper()) - ord("A")
        return opts[idx] if idx < len(opts) else UNPARSABLE
    by_key: dict[str, str] = {}
    for o in opts:
        by_key.setdefault(normalize_choice(o), o)
    by_key.pop("", None)
    if not by_key:
        return UNPARSABLE
    dirs = {key: _pure_direction(o) if set(key.split()) <= _CANON_DIR_TOKENS else None for key, o in by_key.items()}
    if all(dirs.values()):  # options written as directions ("front-left", "back"): compare component sets
        for clause in clauses:
            comps, conflict, _ = _direction_scan(clause)
            if conflict:
                return UNPARSABLE
            if comps:
                hit = [key for key, d in dirs.items() if d == comps]
                return by_key[hit[0]] if hit else UNPARSABLE
        return UNPARSABLE
    key = _match_labels(clauses, list(by_key))
    return UNPARSABLE if key == UNPARSABLE else by_key[key]


# ------------------------------------------------------------------------------------ numbers
_UNITS: tuple[tuple[str, str], ...] = (
    ("cm2", r"(?:square|sq\.?)\s*(?:centimet(?:er|re)s?|cm)|(?:centimet(?:er|re)s?|cm)(?:\s*squared|\^\s*\{?\s*2\s*\}?|2)"),
    ("m2", r"(?:square|sq\.?)\s*(?:met(?:er|re)s?|m)|(?:met(?:er|re)s?|m)(?:\s*squared|\^\s*\{?\s*2\s*\}?|2)|sqm"),
    ("ft2", r"(?:square|sq\.?)\s*(?:feet|foot|ft)|ft(?:\^\s*\{?\s*2\s*\}?|2)"),
    ("mm", r"millimet(?:er|re)s?|mm"),
    ("cm", r"centimet(?:er|re)s?|cms?"),
    ("km", r"kilomet(?:er|re)s?|km"),
    ("m", r"met(?:er|re)s?|mtrs?|m"),
    ("ft", r"feet|foot|ft"),
    ("in", r"inch(?:es)?"),
)
_UNIT_FULL = [(name, re.compile(pat, re.I)) for name, pat in _UNITS]
#: unit → (dimension, size in mm or cm²); multiplying then dividing keeps 250 cm → 2.5 m exact
_UNIT_SIZE = {"mm": ("length", 1.0), "cm": ("length", 10.0), "m": ("length", 1000.0), "km": ("length", 1e6),
              "ft": ("length", 304.8), "in": ("length", 25.4), "cm2": ("area", 1.0), "m2": ("area", 1e4),
              "ft2": ("area", 929.0304)}
_NUM_RE = re.compile(
    r"(?<![\w.,])(?P<sign>[-+])?(?:(?P<grp>[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?)|(?P<dc>[0-9]+,[0-9]{1,2})"
    r"|(?P<plain>[0-9]+(?:\.[0-9]+)?|\.[0-9]+))(?![.,]?[0-9])"
    r"(?:(?:\s*|-)(?P<unit>" + "|".join(f"(?:{p})" for _, p in _UNITS) + r")(?![^\W_]))?", re.I)
_SKIP_BEFORE_RE = re.compile(r"(?:\b(?:image|img|frame|view|picture|photo|camera|cam|step|option|choice|object|question"
                             r"|id|number|item|no\.)\s*|#)$", re.I)
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_WORD_RE = re.compile(r"\b[A-Za-z]+\b")


def _values_in(clause: str, kind: str, unit: str | None) -> list[float] | None:
    """Numbers of a clause in the expected unit; ``None`` when a unit has the wrong dimension."""
    out: list[float] = []
    for m in _NUM_RE.finditer(clause):
        if _SKIP_BEFORE_RE.search(clause[max(0, m.start() - 16):m.start()]):
            continue
        if m.group("unit") is None and m.end() < len(clause) and clause[m.end()].isalpha():
            continue  # glued to a word: "3D", "2nd"
        raw = m.group("grp") or m.group("dc") or m.group("plain")
        v = float(raw.replace(",", "") if m.group("grp") else raw.replace(",", "."))
        v = -v if m.group("sign") == "-" else v
        if m.group("unit") is not None:
            if kind == "integer":
                return None  # a count has no unit
            if unit is not None:
                found = next((name for name, rx in _UNIT_FULL if rx.fullmatch(m.group("unit"))), unit)
                (dim, size), (want_dim, want_size) = _UNIT_SIZE[found], _UNIT_SIZE[unit]
                if dim != want_dim:
                    return None
                v = v * size / want_size
        out.append(v)
    if kind == "integer":
        for m in _WORD_RE.finditer(clause):
            n = _NUMBER_WORDS.get(m.group().lower())
            if n is not None and not _SKIP_BEFORE_RE.search(clause[max(0, m.start() - 16):m.start()]):
                out.append(float(n))
    return out


def _parse_number(span: str, kind: str, unit: str | None) -> float | int | str:
    for clause in _clauses(span):
        vals = _values_in(clause, kind, unit)
        if vals is None:
            return UNPARSABLE
        if not vals:
            continue
        v = vals[0]
        if not all(math.isfinite(x) for x in vals) or any(abs(x - v) > 1e-9 * max(abs(x), abs(v)) for x in vals[1:]):
            return UNPARSABLE  # overflow, or several different numbers ("2 or 3")
        return int(v) if kind == "integer" and v.is_integer() else v
    return UNPARSABLE


# -------------------------------------------------------------------------------- public API
def _check(kind: str, unit: str | None) -> str | None:
    """Validate the caller's ``kind`` / ``unit``; returns the unit to convert to (numbers only)."""
    if kind not in KINDS:
        raise ValueError(f"unknown answer kind {kind!r} (expected one of {KINDS})")
    if kind != "number" or unit is None:
        return None
    if unit not in _UNIT_SIZE:
        raise ValueError(f"unknown unit {unit!r} (expected one of {sorted(_UNIT_SIZE)})")
    return unit


def parse_answer(text: str, kind: str, *, unit: str | None = None, options: Sequence[str] | None = None) -> Any:
    """Read a model's answer (rules in the module docstring).

    Returns a float (``number``, in ``unit``), an int or float (``integer``), the matching entry of
    ``options`` (``choice``; without options the normalised text), a frozenset of components
    (``direction``), or :data:`UNPARSABLE`. Never raises on any ``text``; ``ValueError`` only for an
    unknown ``kind`` or ``unit`` (the caller's bug).
    """
    unit = _check(kind, unit)
    if not isinstance(text, str):
        return UNPARSABLE
    span = _clean(extract_answer(text), prefix=True)
    if kind in ("number", "integer"):
        return _parse_number(span, kind, unit)
    if kind == "choice":
        return _parse_choice(span, options)
    for clause in _clauses(span):
        comps, conflict, _ = _direction_scan(clause)
        if conflict:
            return UNPARSABLE
        if comps:
            return comps
    return UNPARSABLE


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
    return float(parsed != UNPARSABLE and choices_match(str(parsed), str(gt)))


def score(prediction: str, *, kind: str, gt: Any, unit: str | None = None, options: Sequence[str] | None = None) -> float:
    """Score in [0, 1] of ``prediction`` against the ground truth ``gt`` (an answer of ``kind``).

    number / integer: MRA; choice: 1.0 on a match after normalisation (direction options as sets);
    direction: 1.0 when the component sets are equal; unparsable: 0.0. Never raises on
    ``prediction``; a bad ``gt`` (not a positive number, not a direction) raises ``ValueError``.
    """
    return _score_parsed(parse_answer(prediction, kind, unit=unit, options=options), kind, gt)


def score_reason(prediction: str, reason: str) -> float:
    """1.0 when the answer span names the reason code ``reason`` ("near_tie" = "Near tie" =
    "near-tie", also inside a sentence such as "invalid: near tie") and no other known code; else 0.0."""
    if not isinstance(prediction, str) or not isinstance(reason, str):
        return 0.0
    key = _fold(reason)
    text = f" {_fold(extract_answer(prediction))} "
    if not key or f" {key} " not in text:
        return 0.0
    return 0.0 if any(_fold(r) != key and f" {_fold(r)} " in text for r in _KNOWN_REASONS) else 1.0


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
