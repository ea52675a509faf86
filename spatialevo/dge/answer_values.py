"""The value readers of answer reading: directions, choices and numbers (rules in
:mod:`spatialevo.dge.answers`, which applies the commitment rules before calling these)."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence

from spatialevo.dge.answer_text import _OPPOSITE, COMPONENT_ORDER, KINDS, UNPARSABLE, _clauses, _clean, _fold

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
_PHRASE_FIRSTS = frozenset(k[0] for k in _PHRASES if len(k) == 2)
_CONTEXT_SYNONYMS = {
    "higher": frozenset("above taller up upper high upward upwards elevated raised".split()),
    "lower": frozenset("below beneath under underneath down low downward downwards shorter".split()),
}
_LETTER_RE = re.compile(r"(?:(?:.*\s)?(?:is|answer|option|choice)\s+)?\(?([A-Z])\)?", re.S)


def _words(text: str) -> list[str]:
    """Normalised word tokens: folded, articles dropped, phrase synonyms applied, "neither X nor Y" → neither."""
    toks = [t for t in _fold(text).split() if t not in _ARTICLES]
    out: list[str] = []
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        canon = _PHRASES.get((t, toks[i + 1])) if t in _PHRASE_FIRSTS and i + 1 < n else None
        if canon is not None:
            out.append(canon)
            i += 2
            continue
        out.append(_PHRASES.get((t,), t))
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


def _bases(t: str) -> tuple[str, ...]:
    """The words ``o`` with ``_tok_eq(t, o)``: ``t`` and ``t`` without a plural ``s`` / ``es``."""
    if not t.endswith("s") or len(t) < 3:
        return (t,)
    return (t, t[:-1], t[:-2]) if t.endswith("es") and len(t) >= 4 else (t, t[:-1])


def _match_labels(clauses: list[str], options: list[str]) -> str:
    """First clause naming an option decides; it must name exactly one (a longer option shadows a
    shorter one inside it). Returns the option's key or :data:`UNPARSABLE`."""
    ctx = {syn: key for key in options if key in _CONTEXT_SYNONYMS for syn in _CONTEXT_SYNONYMS[key]}
    split = [(key, key.split()) for key in options]
    longest = max((len(ow) for _, ow in split), default=0)
    firsts: dict[str, list[tuple[str, list[str]]]] = {}
    for key, ow in split:
        if ow:
            firsts.setdefault(ow[0], []).append((key, ow))
    for clause in clauses:
        w = [ctx.get(t, t) for t in _words(clause)]
        hits = [(i, i + len(ow), key) for i, t in enumerate(w) for base in _bases(t) for key, ow in firsts.get(base, ())
                if i + len(ow) <= len(w) and all(_tok_eq(w[i + k], ow[k]) for k in range(1, len(ow)))]
        if hits:
            # a word that is exactly one option does not also name another through the plural rule
            # (options "book" and "books": "books" is the second)
            exact = {(s, e) for s, e, key in hits if w[s:e] == key.split()}
            hits = [(s, e, key) for s, e, key in hits if (s, e) not in exact or w[s:e] == key.split()]
            ends: dict[int, list[int]] = {}
            for s, e, _ in hits:
                ends.setdefault(s, []).append(e)
            # a hit is shadowed by a longer one that contains it; such a one starts at most `longest` words before
            kept = {key for s, e, key in hits
                    if not any(s2 <= s and e <= e2 and e2 - s2 > e - s
                               for s2 in range(max(0, s - longest), s + 1) for e2 in ends.get(s2, ()))}
            return kept.pop() if len(kept) == 1 else UNPARSABLE
    return UNPARSABLE


@functools.lru_cache(maxsize=512)
def _option_table(opts: tuple[str, ...]) -> tuple[dict[str, str], dict[str, frozenset[str]] | None]:
    """(normalised key → first option with it, key → direction set when every option is a pure
    direction else ``None``) of a tuple of options; cached, never mutated."""
    by_key: dict[str, str] = {}
    for o in opts:
        by_key.setdefault(normalize_choice(o), o)
    by_key.pop("", None)
    dirs = {key: _pure_direction(o) if set(key.split()) <= _CANON_DIR_TOKENS else None for key, o in by_key.items()}
    return by_key, ({k: d for k, d in dirs.items() if d} if by_key and all(dirs.values()) else None)


def _option_tuple(options: Sequence[str]) -> tuple[str, ...]:
    return tuple(o if isinstance(o, str) else "" for o in options)


def _parse_choice(span: str, options: Sequence[str] | None) -> str:
    clauses = _clauses(span)
    if not clauses:
        return UNPARSABLE
    if not options:  # free text: the first clause, normalised
        return normalize_choice(clauses[0]) or UNPARSABLE
    opts = _option_tuple(options)
    first = clauses[0].strip(" \t\"'")
    m = re.fullmatch(r"\(?([A-Za-z])\)?", first) or _LETTER_RE.fullmatch(first)
    if m:
        idx = ord(m.group(1).upper()) - ord("A")
        return opts[idx] if idx < len(opts) else UNPARSABLE
    by_key, dirs = _option_table(opts)
    if not by_key:
        return UNPARSABLE
    if dirs is not None:  # options written as directions ("front-left", "back"): compare component sets
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
    r"(?:(?:\s*|-)(?=[^\W\d_])(?P<unit>" + "|".join(f"(?:{p})" for _, p in _UNITS) + r")(?![^\W_]))?", re.I)
_SKIP_BEFORE_RE = re.compile(r"(?:\b(?:image|img|frame|view|picture|photo|camera|cam|step|option|choice|object|question"
                             r"|id|number|item|no\.)\s*|#)$", re.I)
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_WORD_RE = re.compile(r"\b[A-Za-z]+\b")
#: a deciding clause with more numbers than this is a list, not an answer (unparsable)
_MAX_VALUES = 8


def _skipped(clause: str, start: int) -> bool:
    """Whether the number at ``start`` follows "image", "frame", "#", … (an id, not an answer)."""
    return _SKIP_BEFORE_RE.search(clause[max(0, start - 16):start]) is not None


def _values_in(clause: str, kind: str, unit: str | None) -> list[float] | None:
    """Numbers of a clause in the expected unit (at most ``_MAX_VALUES + 1``: more are a list, not
    an answer); ``None`` when a unit has the wrong dimension."""
    out: list[float] = []
    for m in _NUM_RE.finditer(clause):
        if len(out) > _MAX_VALUES:
            return out
        if _skipped(clause, m.start()):
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
            if len(out) > _MAX_VALUES:
                break
            n = _NUMBER_WORDS.get(m.group().lower())
            if n is not None and not _skipped(clause, m.start()):
                out.append(float(n))
    return out


def _parse_number(span: str, kind: str, unit: str | None) -> float | int | str:
    for clause in _clauses(span):
        vals = _values_in(clause, kind, unit)
        if vals is None or len(vals) > _MAX_VALUES:
            return UNPARSABLE
        if not vals:
            continue
        v = vals[0]
        if not all(math.isfinite(x) for x in vals) or any(abs(x - v) > 1e-9 * max(abs(x), abs(v)) for x in vals[1:]):
            return UNPARSABLE  # overflow, or several different numbers ("2 or 3")
        return int(v) if kind == "integer" and v.is_integer() else v
    return UNPARSABLE


def _check(kind: str, unit: str | None) -> str | None:
    """Validate the caller's ``kind`` / ``unit``; returns the unit to convert to (numbers only)."""
    if kind not in KINDS:
        raise ValueError(f"unknown answer kind {kind!r} (expected one of {KINDS})")
    if kind != "number" or unit is None:
        return None
    if unit not in _UNIT_SIZE:
        raise ValueError(f"unknown unit {unit!r} (expected one of {sorted(_UNIT_SIZE)})")
    return unit


def _parse_direction(span: str) -> frozenset[str] | str:
    for clause in _clauses(span):
        comps, conflict, _ = _direction_scan(clause)
        if conflict:
            return UNPARSABLE
        if comps:
            return comps
    return UNPARSABLE

