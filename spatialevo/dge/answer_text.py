"""The answer span of a model output and the text utilities of answer reading (no scoring).

:func:`answer_block` is the one definition of the ``<answer>…</answer>`` block (the scorer's span
and the solver's format credit); :func:`extract_answer` adds the fallbacks for outputs without a
complete block. See :mod:`spatialevo.dge.answers` for the rules that read one committed answer.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import deque
from collections.abc import Iterator

KINDS: tuple[str, ...] = ("number", "integer", "choice", "direction")
#: canonical order of components in a compound direction (the DGE's answers use it too)
COMPONENT_ORDER: tuple[str, ...] = ("up", "down", "front", "back", "left", "right", "turn-left", "turn-right")
_OPPOSITE = (("up", "down"), ("front", "back"), ("left", "right"), ("turn-left", "turn-right"))
#: returned by :func:`parse_answer` when the answer cannot be read without guessing
UNPARSABLE = "unparsable"


# ------------------------------------------------------------------------------- answer block
_OPEN_RE = re.compile(r"<\s*answer\s*>", re.I)
_CLOSE_RE = re.compile(r"<\s*/\s*answer\s*>", re.I)
_TAG_RE = re.compile(r"<\s*(?:/\s*)?[A-Za-z]+\s*>")


def _last(matches: Iterator[re.Match[str]]) -> re.Match[str] | None:
    last = deque(matches, maxlen=1)
    return last[0] if last else None


def _untag(span: str) -> str:
    return _TAG_RE.sub(" ", span).strip()


def answer_block(text: str) -> str | None:
    """The content of the last complete ``<answer>…</answer>`` block (rule 1 of
    :mod:`spatialevo.dge.answers`), other tags removed and stripped; ``None`` when there is no complete block.

    The solver's format credit is ``bool(answer_block(text))``: a complete, non-empty block.
    """
    if not isinstance(text, str):
        return None
    close_starts = [m.start() for m in _CLOSE_RE.finditer(text)]
    if not close_starts:
        return None
    opening = None
    for m in _OPEN_RE.finditer(text):
        if m.end() > close_starts[-1]:
            break
        opening = m
    if opening is None:
        return None
    close = close_starts[bisect.bisect_left(close_starts, opening.end())]
    return _untag(text[opening.end():close])


def extract_answer(text: str) -> str:
    """The answer span: :func:`answer_block` when there is a complete block; else the text after an
    unclosed last ``<answer>``, else the text before a lone ``</answer>``, else ``text`` (tags
    removed, stripped)."""
    if not isinstance(text, str):
        return ""
    block = answer_block(text)
    if block is not None:
        return block
    opening = _last(_OPEN_RE.finditer(text))
    if opening is not None:
        return _untag(text[opening.end():])
    close = _last(_CLOSE_RE.finditer(text))
    return _untag(text[:close.start()] if close is not None else text)


# ----------------------------------------------------------------------------- text utilities
_LATEX_WRAP_RE = re.compile(r"\\(?:boxed|text|mathrm|textbf|mathbf|mbox)\s*\{([^{}]*)\}")
_PREFIX_RE = re.compile(
    r"^\s*(?:(?:so|thus|therefore|hence)\b\s*,?\s*)?(?:(?:the|my)\s+)?(?:final\s+|correct\s+|best\s+)?"
    r"(?:answer|option|choice)\b(?:\s+is\b)?\s*[:=\-]?\s*", re.I)
_CONNECTORS = ("because|since|as|so|which|that|given|due|based|but|though|although|while|whereas|considering"
               "|assuming|i|it|this|we|here|then|thus|hence|therefore")
_CLAUSE_RE = re.compile(
    r"\.(?=\s|$)|[!?;\n()\[\]]|:(?![0-9])|\u2014|,\s*(?=(?:" + _CONNECTORS + r")\b)"
    r"|\s(?=(?:because|since|whereas|although|due\s+to)\b)", re.I)


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

