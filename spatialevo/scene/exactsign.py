"""Exact signs for the rasteriser's and the ray caster's edge tests (:mod:`spatialevo.scene.raster`).

Error-free transformations in float64 (Dekker's product with Veltkamp splitting, iterated TwoSum):
the signs are exact for finite inputs without overflow or underflow. numba
``@njit(cache=True, nogil=True)`` kernels, called from the scanline loops.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["inside_exact"]


@njit(cache=True, nogil=True)
def _two_prod(a: float, b: float) -> tuple[float, float]:
    """a·b = p + e exactly (Dekker's product with Veltkamp splitting)."""
    p = a * b
    c = 134217729.0 * a
    ah = c - (c - a)
    al = a - ah
    c = 134217729.0 * b
    bh = c - (c - b)
    bl = b - bh
    return p, al * bl - (((p - ah * bh) - al * bh) - ah * bl)


@njit(cache=True, nogil=True)
def _sign_of_sum(t: np.ndarray, n: int) -> int:
    """Exact sign of ``t[0] + ... + t[n-1]`` (float64 terms; ``t`` is overwritten)."""
    s = 0.0
    for _ in range(200):
        for i in range(1, n):  # VecSum: error-free TwoSum sweep, the running sum ends in t[n-1]
            a, b = t[i - 1], t[i]
            s = a + b
            bb = s - a
            t[i - 1] = (a - (s - bb)) + (b - bb)
            t[i] = s
        s = t[n - 1]
        err = 0.0
        for i in range(n - 1):
            err += abs(t[i])
        if err == 0.0 or abs(s) > 2.0 * err:
            break
    return 1 if s > 0.0 else (-1 if s < 0.0 else 0)


@njit(cache=True, nogil=True)
def _triple(x: float, f0: float, f1: float, t: np.ndarray, k: int) -> None:
    """x·f0·f1 exactly, as four float64 terms in ``t[k:k + 4]``."""
    p, e = _two_prod(f0, f1)
    t[k], t[k + 1] = _two_prod(x, p)
    t[k + 2], t[k + 3] = _two_prod(x, e)


@njit(cache=True, nogil=True)
def _exact_sign(a: np.ndarray, b: np.ndarray, xn: float, yn: float, t: np.ndarray) -> int:
    """Exact sign of ``(xn, yn, 1) · (a × b)`` for float64 3-vectors a, b (``t``: 20-float scratch)."""
    _triple(xn, a[1], b[2], t, 0)
    _triple(-xn, a[2], b[1], t, 4)
    _triple(yn, a[2], b[0], t, 8)
    _triple(-yn, a[0], b[2], t, 12)
    t[16], t[17] = _two_prod(a[0], b[1])
    p, e = _two_prod(a[1], b[0])
    t[18], t[19] = -p, -e
    return _sign_of_sum(t, 20)


@njit(cache=True, nogil=True)
def _exact_sign2(a0: float, a1: float, b0: float, b1: float, t: np.ndarray) -> int:
    """Exact sign of ``a0·a1 - b0·b1``."""
    t[0], t[1] = _two_prod(a0, a1)
    p, e = _two_prod(b0, b1)
    t[2], t[3] = -p, -e
    return _sign_of_sum(t, 4)


@njit(cache=True, nogil=True)
def inside_exact(P: np.ndarray, tri: int, edge: int, s: float, xn: float, yn: float, t: np.ndarray) -> bool:
    """Exact inside test of one edge for the ray (xn, yn, 1), ties by the (ε, ε², 0) nudge."""
    a, b = P[tri, (edge + 1) % 3], P[tri, (edge + 2) % 3]
    sg = _exact_sign(a, b, xn, yn, t)
    if sg != 0:
        return sg * s > 0.0
    sx = _exact_sign2(a[1], b[2], a[2], b[1], t)  # sign of (a × b)_x
    if sx != 0:
        return sx * s > 0.0
    return _exact_sign2(a[2], b[0], a[0], b[2], t) * s > 0.0  # sign of (a × b)_y
