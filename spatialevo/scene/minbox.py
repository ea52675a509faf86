"""The exact minimal-volume box search behind :func:`spatialevo.scene.boxes.minimal_oriented_box`.

Points are in any frame (the caller centres and scales them: unitless here); the result is the
box's axes.

The search works on the convex hull (scipy / qhull). O'Rourke (1985, "Finding
minimal enclosing boxes"): a minimal-volume box has two adjacent faces each flush with a hull edge
(a face flush with a facet, the rotating-calipers case, is the special case). So every pair of hull
edges (e1, e2) spans a one-parameter family: face 1's normal n1(θ) runs over e1's normal arc (the
directions in which e1 supports the hull), face 2's is ±n1 × m2 normalised (m2 = e2's direction)
and must lie on e2's arc; pairs and their θ domains are screened from the arcs' end normals. Along
θ the volume is piecewise smooth, and a branch and bound over (pair, θ-interval) cells finds its
minimum: freezing the support vertices of a cell's centre bounds the volume from below by a
quartic ratio P(u) / D(u), u = tan(θ - θc); a cell whose bound exceeds the incumbent (Bernstein
test) is pruned, else the bound is minimised exactly (cell ends, or real roots of the degree-6
numerator of its derivative) and the cell is solved when the true box there meets the bound, or
cut where a frozen support is overtaken. Supports come from a scan (small hulls) or hill climbing
on the hull graph. Guarantee, up to floating point (bounds met to a relative 1e-10): no box around
the points is smaller, in any orientation. Boxes within a relative volume of 1e-9 count as equal and
go to the smaller surface, then the smaller sorted extents, so volume and extents are reproducible
under rigid motions. (An edge pair singular both ways - each edge along a face normal the other
allows - contributes that one frame for its 2e-7 rad neighbourhood.) Cost: O(E²) for the pair
screen (E ≈ 3 × hull vertices), then vectorised work per surviving pair over a few rounds; about
10-60 ms per object up to 200 hull vertices on a shared 2-core machine, 0.12 s at 400, 1.3 s at
2000 (``benchmarks/box_bench.py``; exactly symmetric meshes with many tied optima cost more).
"""

from __future__ import annotations

from math import comb
from typing import NamedTuple

import numpy as np

_TIE = 1e-9  # relative volume window inside which two boxes count as equally small
_CERT = 1e-10  # a cell is solved when the true box at its bound's minimiser is this close to the bound
_TAU = 0.05  # edge pairs with |m1 · m2| < _TAU are also searched in the swapped order (singular angles)
_FLOOR = 1e-11  # half-width (rad) below which a cell is evaluated and dropped
_SING_GAP = 2e-7  # half-width (rad) cut out around a singular angle (n1 ∥ m2), covered by the swapped pair
_SOLVE_HW = 0.01  # cells narrower than this (rad), or few cells, get the exact minimisation
_MAX_ROUNDS = 200
_CUBE_G = 16  # cube-map resolution of the support look-up used by the first screening
_BRUTE_H = 128  # hulls up to this many vertices find supports by scanning, larger ones by hill climbing


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _gram(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # (r, c) products, no BLAS (its threads stall on k = 3)
    return a[0][:, None] * b[0] + a[1][:, None] * b[1] + a[2][:, None] * b[2]


def _near(angle: np.ndarray, centre: np.ndarray) -> np.ndarray:  # the angle ≡ angle (mod π) nearest centre
    return centre + np.mod(angle - centre + np.pi / 2, np.pi) - np.pi / 2


def _cube_index(f: np.ndarray, g: int = _CUBE_G) -> np.ndarray:
    """Cube-map cell (face = dominant axis and sign, then a g × g grid) of each direction."""
    a0, a1, a2 = np.abs(f)
    x0 = (a0 >= a1) & (a0 >= a2)
    x2 = ~x0 & (a2 > a1)
    top = np.where(x0, f[0], np.where(x2, f[2], f[1]))
    k = (g / 2) / np.maximum(np.abs(top), 1e-300)
    i = np.minimum((np.where(x0, f[1], f[0]) * k + g / 2).astype(np.intp), g - 1)
    j = np.minimum((np.where(x2, f[1], f[2]) * k + g / 2).astype(np.intp), g - 1)
    return ((np.where(x0, 0, np.where(x2, 4, 2)) + (top > 0)) * g + i) * g + j


_CUBE = np.empty((3, 6 * _CUBE_G**2))  # unit directions at the cube-map cell centres, in _cube_index order
for _f, (_ax, _sign) in enumerate((ax, sign) for ax in range(3) for sign in (-1.0, 1.0)):
    _c = -1 + (2 * np.arange(_CUBE_G) + 1) / _CUBE_G
    _d = _CUBE[:, _f * _CUBE_G**2 : (_f + 1) * _CUBE_G**2]
    _d[_ax], _d[[k for k in range(3) if k != _ax]] = _sign, [x.ravel() for x in np.meshgrid(_c, _c, indexing="ij")]
    _d /= np.sqrt(_dot(_d, _d))
# power coefficients in v ∈ [-1, 1] → Bernstein coefficients on t ∈ [0, 1] (v = 2t - 1), degree 4
_BERNSTEIN = np.array([[comb(j, i) / comb(4, i) for i in range(5)] for j in range(5)]) @ np.array(
    [[comb(k, i) * 2.0**i * (-1.0) ** (k - i) for k in range(5)] for i in range(5)])


class _Hull(NamedTuple):
    """Convex hull in normalised coordinates; edge arrays are (3, E), one column per hull edge."""

    X: np.ndarray  # (h, 3) hull vertices
    XT: np.ndarray  # (3, h) the same, transposed
    a: np.ndarray  # outward normal of the edge's first facet (start of its normal arc)
    b: np.ndarray  # the second facet's normal (end of the arc)
    q: np.ndarray  # unit tangent of the arc at a, pointing towards b
    m: np.ndarray  # unit edge direction a × q
    th: np.ndarray  # (E,) arc length: the exterior dihedral angle
    sup: np.ndarray  # (2, 6 g²) argmax / argmin vertex along each cube-map direction
    adj: np.ndarray  # (h, d) neighbours of each vertex in the hull's triangulation, padded with itself


def _hull_model(pts: np.ndarray) -> _Hull:
    """Hull edges with a non-degenerate normal arc of (N, 3) normalised points; raises QhullError."""
    from scipy.spatial import ConvexHull

    hull = ConvexHull(pts)
    X = hull.points[hull.vertices]
    nf = hull.equations[:, :3] / np.linalg.norm(hull.equations[:, :3], axis=1, keepdims=True)
    fa, fb = np.tile(np.arange(len(nf)), 3), hull.neighbors.T.ravel()  # facet i, j-th edge: neighbors[i, j]
    a, b = nf[fa[fa < fb]].T, nf[fb[fa < fb]].T
    cs = _dot(a, b)
    qr = b - cs * a
    sn = np.sqrt(_dot(qr, qr))
    keep = sn > 1e-12  # coplanar triangles of one qhull facet share its normal: no arc
    a, b, q = a[:, keep], b[:, keep], qr[:, keep] / sn[keep]
    h = len(X)
    remap = np.zeros(len(hull.points), dtype=np.intp)
    remap[hull.vertices] = np.arange(h)
    tri = remap[hull.simplices]
    key = np.unique(np.concatenate([tri[:, [i, j]] for i in range(3) for j in range(3) if i != j]) @ [h, 1])
    src, rank = key // h, np.arange(len(key)) - np.searchsorted(key // h, key // h)
    adj = np.repeat(np.arange(h)[:, None], rank.max() + 1, axis=1)
    adj[src, rank] = key % h
    y = _gram(_CUBE, X.T)
    sup = np.stack([y.argmax(axis=1), y.argmin(axis=1)])
    return _Hull(X, np.ascontiguousarray(X.T), a, b, q, _cross(a, q), np.arctan2(sn[keep], cs[keep]), sup, adj)


def _families(hm: _Hull, rows: range, chunk: int = 128) -> tuple[np.ndarray, ...]:
    """Edge pairs (e1 in ``rows``, e2) two adjacent box faces can be flush with, and their θ domains.

    Face 1's normal is ``n1(θ) = cos θ a1 + sin θ q1``, θ ∈ [0, th1]; face 2 can be flush with e2 iff
    ``(n1 · a2)(n1 · b2) <= 0``: sinusoids with at most one zero on the arc, so their signs at the arc
    ends give the test and the domain. Pairs are unordered unless ``|m1 · m2| < _TAU`` (singular θ).
    """
    mid = hm.a + hm.b
    mid = (mid / np.sqrt(_dot(mid, mid))).astype(np.float32)
    reach = np.minimum(hm.th / 2, np.pi / 4)  # |mid1 · mid2| <= sin(r1 + r2) is necessary (r = th / 2)
    cr, sr, wide = np.cos(reach).astype(np.float32), np.sin(reach).astype(np.float32), hm.th > np.pi / 2
    parts = []
    for r0 in range(rows.start, rows.stop, chunk):  # upper triangle e1 <= e2 (float32, with a margin)
        r = np.arange(r0, min(rows.stop, r0 + chunk))
        near = np.abs(_gram(mid[:, r], mid[:, r0:])) <= sr[r, None] * cr[r0:] + cr[r, None] * sr[r0:] + 1e-5
        i, j = np.nonzero(near | wide[r, None] | wide[r0:])
        parts.append((r[i][j + r0 >= r[i]], j[j + r0 >= r[i]] + r0))
    e1, e2 = (np.concatenate(x) for x in zip(*parts))
    swap = (np.abs(_dot(np.take(hm.m, e1, axis=1), np.take(hm.m, e2, axis=1))) < _TAU) & (e1 != e2)
    e1, e2 = np.concatenate([e1, e2[swap]]), np.concatenate([e2, e1[swap]])
    a1, b1, a2, b2 = (np.take(x, e, axis=1) for x, e in ((hm.a, e1), (hm.b, e1), (hm.a, e2), (hm.b, e2)))
    ga0, ga1, gb0, gb1 = _dot(a1, a2), _dot(b1, a2), _dot(a1, b2), _dot(b1, b2)  # at θ = 0 and θ = th1
    ok = (ga0 * gb0 <= 0) | (ga1 * gb1 <= 0) | ((ga0 * ga1 <= 0) & (gb0 * gb1 <= 0))
    e1, e2, ga0, ga1, gb0, gb1 = (x[ok] for x in (e1, e2, ga0, ga1, gb0, gb1))
    th = hm.th[e1]
    start, end = np.full(len(e1), np.inf), np.full(len(e1), -np.inf)
    for g0, g1 in ((ga0, ga1), (gb0, gb1)):
        i = np.flatnonzero(g0 * g1 <= 0)  # one zero of g0 cos θ + (g1 - cos th1 g0) / sin th1 sin θ on the arc
        z = np.clip(_near(np.arctan2(-g0[i] * np.sin(th[i]), g1[i] - np.cos(th[i]) * g0[i]), th[i] / 2), 0, th[i])
        start[i], end[i] = np.minimum(start[i], z), np.maximum(end[i], z)
    start, end = np.where(ga0 * gb0 <= 0, 0.0, start), np.where(ga1 * gb1 <= 0, th, end)
    return e1[start <= end], e2[start <= end], start[start <= end], end[start <= end]


class _Frames(NamedTuple):
    """Family members at angles θ: box axes (n1, f2, f3) and helpers, (3, M) or (M,)."""

    n1: np.ndarray
    f2: np.ndarray
    f3: np.ndarray
    t1: np.ndarray  # d n1 / dθ
    A: np.ndarray  # n1 × m2 (f2 = A / |A|)
    B: np.ndarray  # t1 × m2
    N: np.ndarray  # |A|

    def take(self, k: np.ndarray) -> _Frames:
        return _Frames(*(x[..., k] for x in self))


def _frames(hm: _Hull, e1: np.ndarray, e2: np.ndarray, th: np.ndarray) -> _Frames:
    c, s = np.cos(th), np.sin(th)
    a, q, m = np.take(hm.a, e1, axis=1), np.take(hm.q, e1, axis=1), np.take(hm.m, e2, axis=1)
    n1, t1 = c * a + s * q, c * q - s * a
    A = _cross(n1, m)
    N = np.sqrt(_dot(A, A))
    f2 = A / np.maximum(N, 1e-300)
    return _Frames(n1, f2, _cross(n1, f2), t1, A, _cross(t1, m), N)


def _supports(hm: _Hull, fr: _Frames) -> tuple[np.ndarray, np.ndarray]:
    """Exact (3, M) argmax / argmin vertex along each box axis: a scan, or hill climbing on the hull
    graph from the cube-map vertex (on a convex polytope a vertex no neighbour beats is a maximum)."""
    M = fr.N.shape[0]
    d = np.concatenate(fr[:3], axis=1)
    if len(hm.X) <= _BRUTE_H:
        y = _gram(d, hm.XT)
        return y.argmax(axis=1).reshape(3, M), y.argmin(axis=1).reshape(3, M)
    cur = hm.sup[:, _cube_index(d)].ravel()  # argmax along d, then argmin (= argmax along -d)
    d = np.concatenate([d, -d], axis=1)
    act = np.arange(d.shape[1])
    while len(act):
        nb, da = hm.adj[cur[act]], d[:, act]
        val = hm.XT[0][nb] * da[0][:, None] + hm.XT[1][nb] * da[1][:, None] + hm.XT[2][nb] * da[2][:, None]
        j = val.argmax(axis=1)
        move = val[np.arange(len(act)), j] > _dot(np.take(hm.XT, cur[act], axis=1), da)
        cur[act[move]] = nb[move, j[move]]
        act = act[move]
    return cur[: 3 * M].reshape(3, M), cur[3 * M :].reshape(3, M)


def _pairs(hm: _Hull, hi: np.ndarray, lo: np.ndarray) -> list[np.ndarray]:
    return [np.take(hm.XT, hi[k], axis=1) - np.take(hm.XT, lo[k], axis=1) for k in range(3)]


def _boxes(hm: _Hull, fr: _Frames) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True supports (hi, lo) and (3, M) extents of the boxes with axes ``fr``."""
    hi, lo = _supports(hm, fr)
    return hi, lo, np.stack([_dot(c, f) for c, f in zip(_pairs(hm, hi, lo), fr)])


def _record(out: list, fr: _Frames, w: np.ndarray, exact: np.ndarray | bool) -> np.ndarray:
    """Append boxes as (volumes, (3, 3, M) axes, extents, exact flags); return the volumes (inf
    where |n1 × m2| ~ 0 leaves no frame)."""
    vol = np.where(fr.N > 1e-9, w.prod(axis=0), np.inf)
    k = np.isfinite(vol)
    out.append((vol[k], np.stack(fr[:3], axis=1)[..., k], w[:, k], np.broadcast_to(exact, k.shape)[k]))
    return vol


def _conv(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.zeros((len(x) + len(y) - 1, x.shape[1]))
    for i in range(len(x)):
        out[i : i + len(y)] += x[i] * y
    return out


def _horner(c: np.ndarray, u: np.ndarray) -> np.ndarray:
    r = np.zeros_like(u)
    for cj in c[::-1]:
        r = r * u + cj
    return r


def _bound(hm: _Hull, e2: np.ndarray, fr: _Frames, hi: np.ndarray, lo: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, ...]:
    """Lower bound P(u) / D(u) of the family volume on u = tan(θ - θc) ∈ [-s, s], supports frozen.

    For any vertex pairs c_k, ``|c_k · f_k|`` <= the width along axis k; the factors are L1/√(1+u²),
    L2/√Q and K/√((1+u²) Q) (L linear, K and Q = |A + u B|² quadratic), so P = L1 L2 K over
    D = (1 + u²) Q bounds the volume where Q > 0. Returns (P, D, ok: |n1 × m2| > 1e-7 on the cell).
    """
    m = np.take(hm.m, e2, axis=1)
    c1, c2, c3 = _pairs(hm, hi, lo)
    g, d = _dot(fr.n1, m), _dot(fr.t1, m)
    e, z, h = _dot(c3, fr.n1), _dot(c3, fr.t1), _dot(c3, m)
    L = _conv(np.stack([_dot(c1, fr.n1), _dot(c1, fr.t1)]), np.stack([_dot(c2, fr.A), _dot(c2, fr.B)]))
    Q = np.stack([fr.N * fr.N, 2 * _dot(fr.A, fr.B), _dot(fr.B, fr.B)])
    u = np.clip(-Q[1] / np.maximum(2 * Q[2], 1e-300), -s, s)  # min of |A + u B|, in vector form
    ok = _dot(fr.A + u * fr.B, fr.A + u * fr.B) > 1e-14
    D = np.stack([Q[0], Q[1], Q[0] + Q[2], Q[1], Q[2]])
    return _conv(L, np.stack([g * e - h, g * z + d * e, d * z - h])), D, ok


def _exceeds(P: np.ndarray, D: np.ndarray, thr: np.ndarray | float, s: np.ndarray) -> np.ndarray:
    """True where P / D > thr on all of [-s, s]: every Bernstein coefficient of P - thr D is > 0."""
    return (np.einsum("ij,jm->im", _BERNSTEIN, (P - thr * D) * s ** np.arange(5)[:, None]) > 0).all(axis=0)


def _bound_min(P: np.ndarray, D: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum (value, argmin u) of P / D on [-s, s]: at an end or a real root of P'D - PD', whose
    degree is <= 6 (the u⁷ terms cancel); roots are companion-matrix eigenvalues, in v = u / s.
    The value is -inf where a probe of the interval is lower (a root lost to rounding)."""
    M = P.shape[1]
    k = np.arange(1, 5)[:, None]
    R = (_conv(P[1:] * k, D) - _conv(P, D[1:] * k))[:7] * s ** np.arange(7)[:, None]
    R /= np.maximum(np.abs(R).max(axis=0), 1e-300)
    lead = np.where(np.abs(R[6]) < 1e-13, np.where(R[6] < 0, -1e-13, 1e-13), R[6])
    comp = np.zeros((M, 6, 6))
    comp[:, 1:, :-1] = np.eye(5)
    comp[:, :, -1] = -(R[:6] / lead).T
    roots = np.linalg.eigvals(comp).T
    real = (np.abs(roots.imag) <= 1e-6) & (np.abs(roots.real) <= 1)
    u = np.concatenate([np.where(real, roots.real, 1.0), -np.ones((1, M)), np.ones((1, M))]) * s
    val = _horner(P, u) / _horner(D, u)
    j = val.argmin(axis=0)
    lb = val[j, np.arange(M)]
    probe = np.linspace(-0.9, 0.9, 7)[:, None] * s  # a lower probe means a root was lost: no claim
    return np.where((_horner(P, probe) / _horner(D, probe)).min(axis=0) < lb * (1 - 1e-12), -np.inf, lb), u[j, np.arange(M)]


def _crossing(hm: _Hull, e2: np.ndarray, fr: _Frames, old: np.ndarray, new: np.ndarray, us: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Angle offset (0 if none) where a frozen support is first overtaken on the way to ``us``: the
    (6, M) supports ``old`` (centre) and ``new`` (at us) tie where d · f_k(u) = 0, linear in u for
    axes 1-2, quadratic for axis 3."""
    d = hm.XT[:, new] - hm.XT[:, old]  # (3, 6, M)
    m, n1, t1 = np.take(hm.m, e2, axis=1)[:, None], fr.n1[:, None], fr.t1[:, None]
    dn, dt, dm, g, dd = _dot(d, n1), _dot(d, t1), _dot(d, m), _dot(n1, m), _dot(t1, m)
    q0, q1, q2 = ((g * dn - dm)[[2, 5]], (g * dt + dd * dn)[[2, 5]], (dd * dt - dm)[[2, 5]])  # (n1·m2)(d·n1) = d·m2
    with np.errstate(divide="ignore", invalid="ignore"):
        lin = -np.concatenate([dn[[0, 3]] / dt[[0, 3]], _dot(d[:, [1, 4]], fr.A[:, None]) / _dot(d[:, [1, 4]], fr.B[:, None])])
        disc, flat = np.sqrt(np.maximum(q1 * q1 - 4 * q0 * q2, 0.0)), np.abs(q2) <= 1e-14 * np.abs(q1)
        quad = [np.where(flat, -q0 / q1, (-q1 + sg * disc) / (2 * q2)) for sg in (-1.0, 1.0)]
    roots = np.concatenate([lin, *quad])  # (8, M)
    ok = (new != old)[[0, 3, 1, 4, 2, 5, 2, 5]] & (roots >= np.minimum(us, 0)) & (roots <= np.maximum(us, 0)) & (np.abs(roots) < s)
    j = np.where(ok, np.abs(roots), np.inf).argmin(axis=0)
    r = np.arange(len(us))
    return np.arctan(np.where(ok[j, r], roots[j, r], 0.0))


def _solve(hm: _Hull, cells: tuple, fr: _Frames, sup: np.ndarray, P: np.ndarray, D: np.ndarray, eigen: np.ndarray, out: list) -> tuple:
    """Minimise the cells' frozen bound: at an end if P - v_end (1 - 1e-10) D stays positive, else
    (cells in ``eigen``) by :func:`_bound_min`; a cell is solved when the true box there meets the
    bound. Returns (lower bound, solved, cut offset for the unsolved, min volume)."""
    e1, e2, thm, s = cells
    ends = _horner(P, np.stack([-s, s])) / _horner(D, np.stack([-s, s]))
    j = ends.argmin(axis=0)
    ref = ends[j, np.arange(len(s))]  # the value the true box must meet
    at_end = _exceeds(P, D, ref * (1 - 1e-10), s)
    lb, us = np.where(at_end, ref * (1 - 1e-10), -np.inf), np.where(j == 0, -s, s)
    k = np.flatnonzero(~at_end & eigen)
    if len(k):
        lb[k], us[k] = _bound_min(P[:, k], D[:, k], s[k])
        ref[k] = lb[k]
    k = np.flatnonzero(np.isfinite(lb))
    fx = _frames(hm, e1[k], e2[k], thm[k] + np.arctan(us[k]))
    hx, lx, w = _boxes(hm, fx)
    solved = np.zeros(len(s), dtype=bool)
    solved[k] = w.prod(axis=0) <= ref[k] * (1 + _CERT)
    vol = _record(out, fx, w, solved[k])
    cut, u = np.zeros(len(s)), np.flatnonzero(~solved[k])
    if len(u):
        cut[k[u]] = _crossing(hm, e2[k[u]], fr.take(k[u]), sup[:, k[u]], np.concatenate([hx[:, u], lx[:, u]]), us[k[u]], s[k[u]])
    return lb, solved, cut, float(vol.min(initial=np.inf))


def _cuts(hm: _Hull, cells: tuple, cut: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cut each cell at its centre and centre + ``cut``; around a singular angle θs (n1 ∥ m2, where
    m2 meets e1's great circle) at θs ± _SING_GAP instead, the middle piece then being dropped."""
    e1, e2, tl, tr = cells
    thm = (tl + tr) / 2
    inner = np.stack([thm + cut, thm], axis=1)
    sing = np.flatnonzero(~ok)
    if len(sing):
        a, q, m = (np.take(x, y[sing], axis=1) for x, y in ((hm.a, e1), (hm.q, e1), (hm.m, e2)))
        ts = np.clip(_near(np.arctan2(_dot(m, q), _dot(m, a)), thm[sing]), tl[sing], tr[sing])
        inner[sing] = np.clip(ts[:, None] + [-_SING_GAP, _SING_GAP], tl[sing, None], tr[sing, None])
    cuts = np.sort(np.concatenate([tl[:, None], inner, tr[:, None]], axis=1), axis=1)
    nz = (cuts[:, 1:] > cuts[:, :-1]).ravel()
    return np.repeat(e1, 3)[nz], np.repeat(e2, 3)[nz], cuts[:, :-1].ravel()[nz], cuts[:, 1:].ravel()[nz]


def _refine(hm: _Hull, cells: tuple[np.ndarray, ...], best: float, out: list) -> None:
    """Branch and bound over cells (e1, e2, θ-interval) until each is pruned or solved: each round
    records the box at every cell's centre, prunes cells whose frozen bound exceeds the incumbent,
    minimises the others' bound (:func:`_solve`) and cuts the unsolved ones (:func:`_cuts`)."""
    for _ in range(_MAX_ROUNDS):
        e1, e2, tl, tr = cells
        if not len(e1):
            return
        thm, hw = (tl + tr) / 2, (tr - tl) / 2
        s = np.tan(hw)
        fr = _frames(hm, e1, e2, thm)
        hi, lo, w = _boxes(hm, fr)
        best = min(best, float(_record(out, fr, w, hw < _FLOOR).min()))
        P, D, ok = _bound(hm, e2, fr, hi, lo, s)
        live = ~(ok & _exceeds(P, D, best * (1 + 2 * _TIE), s))
        cut = np.zeros(len(e1))
        k = np.flatnonzero(live & ok)
        if len(k):
            eigen = (hw[k] < _SOLVE_HW) | (len(k) <= 256)
            sup = np.concatenate([hi[:, k], lo[:, k]])
            lb, solved, cut[k], vmin = _solve(hm, (e1[k], e2[k], thm[k], s[k]), fr.take(k), sup, P[:, k], D[:, k], eigen, out)
            best = min(best, vmin)
            live[k] = ~solved & (lb <= best * (1 + 2 * _TIE))
        tiny = live & (hw < np.where(ok, _FLOOR, _SING_GAP * (1 + 1e-6)))  # ok: the centre box is recorded
        if (tiny & ~ok).any():  # singular angle: the swapped pair covers it, except the doubly singular frame
            n1, m1 = fr.n1[:, tiny & ~ok], np.take(hm.m, e1[tiny & ~ok], axis=1)
            f2 = m1 - _dot(m1, n1) * n1
            f2 /= np.maximum(np.sqrt(_dot(f2, f2)), 1e-300)
            fd = _Frames(n1, f2, _cross(n1, f2), n1, n1, n1, np.sqrt(_dot(f2, f2)))
            _record(out, fd, _boxes(hm, fd)[2], True)
        k = np.flatnonzero(live & ~tiny)
        cells = _cuts(hm, tuple(x[k] for x in cells), cut[k], ok[k])
    fr = _frames(hm, cells[0], cells[1], (cells[2] + cells[3]) / 2)  # round limit, not reached in practice
    _record(out, fr, _boxes(hm, fr)[2], True)


def _screen(hm: _Hull, rows: range, best: float, out: list, n_seed: int = 16) -> tuple[float, tuple]:
    """Families of the edges ``rows`` whose bound over their domain may beat ``best``: first with
    cube-map supports (approximate, but any vertex pairs give a valid bound; the ``n_seed`` boxes of
    smallest approximate volume are evaluated), then with exact supports for those that pass."""
    e1, e2, tl, tr = _families(hm, rows)
    s = np.tan((tr - tl) / 2)
    fr = _frames(hm, e1, e2, (tl + tr) / 2)
    hi, lo = hm.sup[:, _cube_index(np.concatenate(fr[:3], axis=1))].reshape(2, 3, -1)
    P, D, ok = _bound(hm, e2, fr, hi, lo, s)
    approx = np.where((fr.N > 1e-9) & (P[0] > 0), P[0] / np.maximum(D[0], 1e-300), np.inf)  # bound at the centre
    seed = np.argpartition(approx, n_seed)[:n_seed] if len(approx) > n_seed else np.arange(len(approx))
    sub = fr.take(seed)
    best = min(best, float(_record(out, sub, _boxes(hm, sub)[2], False).min(initial=np.inf)))
    k = np.flatnonzero(~(ok & _exceeds(P, D, best * (1 + 2 * _TIE), s)))
    fr = fr.take(k)
    hi, lo, w = _boxes(hm, fr)
    best = min(best, float(np.where(fr.N > 1e-9, w.prod(axis=0), np.inf).min(initial=np.inf)))
    P, D, ok = _bound(hm, e2[k], fr, hi, lo, s[k])
    live = ~(ok & _exceeds(P, D, best * (1 + 2 * _TIE), s[k]))
    k = k[live]
    return best, (e1[k], e2[k], tl[k], tr[k], P[:, live], D[:, live], s[k], ok[live])


def _search(hm: _Hull) -> np.ndarray | None:
    """Axes (3, 3), one per column, of the minimal box of ``hm``: edges are screened in blocks
    (bounded memory on large hulls), the survivors refined together."""
    E = len(hm.th)
    step = max(16, (1 << 19) // max(E, 1))
    out: list = []
    best, cells = np.inf, []
    for r0 in range(0, E, step):
        best, c = _screen(hm, range(r0, min(E, r0 + step)), best, out)
        cells.append(c)
    e1, e2, tl, tr, P, D, s, ok = (np.concatenate(x, axis=-1) for x in zip(*cells))
    live = ~(ok & _exceeds(P, D, best * (1 + 2 * _TIE), s))  # again, with the final incumbent
    k = max(1, min(4, 1024 // max(1, int(live.sum()))))  # few survivors: start from finer cells
    t = tl[live][:, None] + (tr[live] - tl[live])[:, None] * np.arange(k + 1) / k
    _refine(hm, (np.repeat(e1[live], k), np.repeat(e2[live], k), t[:, :-1].ravel(), t[:, 1:].ravel()), best, out)
    vol, axes, ext, exact = (np.concatenate([o[i] for o in out], axis=-1) for i in range(4))
    if not len(vol):  # no family at all (not seen on any hull qhull accepts)
        return None
    exact = exact if exact.any() else np.ones_like(exact)
    near = np.flatnonzero(exact & (vol <= vol[exact].min() * (1 + _TIE)))  # then: surface, sorted extents
    ext = np.sort(ext[:, near], axis=0)
    surface = ext[0] * ext[1] + ext[2] * (ext[0] + ext[1])
    tied = np.flatnonzero(surface <= surface.min() * (1 + _TIE))
    return axes[..., near[tied[np.lexsort(ext[::-1, tied])[0]]]].copy()


def minimal_box_axes(points: np.ndarray) -> np.ndarray | None:
    """(3, 3) axes, one per column, of the minimal-volume box of (N, 3) points (centred and scaled
    to about unit size by the caller), or ``None`` when no edge-pair family exists.

    Raises:
        scipy.spatial.QhullError: the points span no 3D hull (flat, collinear, too few).
    """
    return _search(_hull_model(points))
