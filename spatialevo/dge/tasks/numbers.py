"""Small numeric helpers of the tasks: uniform draws and the answers' roundings (scalar and array
forms with the same floating-point operations, so a batch rounds exactly as one question does)."""

from __future__ import annotations

from typing import Any

import numpy as np


def randint(rng: np.random.Generator, n: int) -> int:
    """A uniform integer in ``[0, n)`` from one ``rng.random()`` (about 3× faster than
    ``rng.integers(n)`` per call, which the draws of dataset generation make millions of; the
    bias, below ``n / 2**53``, is far beneath any count of draws)."""
    return min(int(rng.random() * n), n - 1)


def pick(rng: np.random.Generator, items: list[Any] | tuple[Any, ...], k: int = 1) -> list[Any]:
    """``k`` distinct items drawn uniformly without replacement, in draw order (uniform over ordered k-subsets)."""
    n = len(items)
    if k > n:
        raise ValueError(f"cannot pick {k} distinct items from {n}")
    if k == 1:
        return [items[randint(rng, n)]]
    chosen: list[int] = []
    while len(chosen) < k:
        i = randint(rng, n)
        if i not in chosen:
            chosen.append(i)
    return [items[i] for i in chosen]


def fmt1(x: float) -> str:
    """Canonical one-decimal text (``-0.0`` → ``0.0``)."""
    s = f"{x:.1f}"
    return "0.0" if s == "-0.0" else s


def round1(x: float) -> float:
    """Round half away from zero to one decimal (``2.25`` → ``2.3``), robust to binary representation."""
    return float(np.sign(x) * np.floor(abs(x) * 10.0 + 0.5 + 1e-9) / 10.0)


def round_int(x: float) -> int:
    """Round half away from zero to an integer."""
    return int(np.sign(x) * np.floor(abs(x) + 0.5 + 1e-9))


def round1_array(x: np.ndarray) -> np.ndarray:
    """:func:`round1` of every element of a float array: the same operations, so the same floats."""
    return np.sign(x) * np.floor(np.abs(x) * 10.0 + 0.5 + 1e-9) / 10.0


def round_int_array(x: np.ndarray) -> list[int]:
    """:func:`round_int` of every element of a float array, as Python ints."""
    return [int(v) for v in (np.sign(x) * np.floor(np.abs(x) + 0.5 + 1e-9)).tolist()]
