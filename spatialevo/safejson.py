"""JSON from untrusted sources with a bounded nesting depth (no ``RecursionError``, linear time).

Python's ``json`` recurses once per nesting level, so a few kilobytes of ``[[[[…`` raise
``RecursionError`` (or worse, pass ~900 levels on to code that recurses again). Every JSON that
spatialevo reads from a model output or a scene file goes through :func:`loads` / :func:`load_file`:
the nesting depth is measured first with a vectorised scan (numpy, linear in the size), and text
nested deeper than :data:`MAX_DEPTH` levels is refused with :class:`JSONDepthError`, a
``ValueError`` (so ``except ValueError`` around ``json.loads`` keeps working).

The scan is exact for valid JSON: a quote opens or closes a string unless an odd number of
backslashes precedes it, and brackets inside strings do not count. Non-ASCII text is scanned as
UTF-8, whose multi-byte sequences never contain the bytes of ``"``, ``\\``, ``[``, ``]``, ``{`` or ``}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MAX_DEPTH", "JSONDepthError", "json_depth", "load_file", "loads", "too_deep"]

#: deepest nesting accepted (the deepest format spatialevo reads is about 6 levels)
MAX_DEPTH = 64
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1
_KIND = np.abs(_OPEN)
_KIND[[_QUOTE, _BACKSLASH]] = 1


class JSONDepthError(ValueError):
    """JSON text nested deeper than the limit."""


def json_depth(data: str | bytes) -> int:
    """Deepest bracket nesting of JSON text outside strings (0 for a scalar); linear time.

    Only the bytes ``" \\ [ ] { }`` are looked at (one vectorised pass over their positions).
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    b = np.frombuffer(raw, dtype=np.uint8)
    pos = np.flatnonzero(_KIND[b] != 0)
    if pos.size == 0:
        return 0
    c = b[pos]
    k = np.arange(pos.size)
    bs = c == _BACKSLASH
    # a backslash directly before the next interesting byte in the text
    adj = bs[:-1] & (np.diff(pos) == 1)
    start = np.maximum.accumulate(np.where(bs & ~np.concatenate(([False], adj)), k, 0))
    run_at = np.where(bs, k - start + 1, 0)  # length of the backslash run ending at this element
    before = np.concatenate(([0], np.where(adj, run_at[:-1], 0)))  # backslashes right before it
    quote = (c == _QUOTE) & (before % 2 == 0)
    inside = (np.cumsum(quote) - quote) % 2 == 1  # an odd number of string quotes before it
    step = np.where(inside | quote, 0, _OPEN[c]).astype(np.int64)
    return int(max(0, np.cumsum(step).max()))


def too_deep(raw: bytes, max_depth: int = MAX_DEPTH) -> int:
    """The nesting depth of ``raw`` when it exceeds ``max_depth``, else 0 (a bracket count first)."""
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return 0
    depth = json_depth(raw)
    return depth if depth > max_depth else 0


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses text nested deeper than ``max_depth`` levels.

    Raises:
        JSONDepthError: nested too deeply (a ``ValueError``).
        json.JSONDecodeError: not valid JSON (a ``ValueError``).
    """
    depth = too_deep(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data), max_depth)
    if depth:
        raise JSONDepthError(f"JSON nested {depth} levels deep (at most {max_depth} are accepted)")
    try:
        return json.loads(data)
    except RecursionError:  # unreachable after the depth check; kept as a guarantee
        raise JSONDepthError(f"JSON nested too deeply (at most {max_depth} levels are accepted)") from None


def load_file(path: str | Path, *, max_depth: int = MAX_DEPTH) -> Any:
    """:func:`loads` of a UTF-8 file (``UnicodeDecodeError`` for other bytes, ``OSError`` as ``open``)."""
    raw = Path(path).read_bytes()
    return loads(raw.decode("utf-8"), max_depth=max_depth)
