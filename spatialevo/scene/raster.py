"""Numba rasteriser: per-pixel first-hit triangle and inverse depth of a pinhole frame.

It answers the reference ray caster's question (:mod:`spatialevo.scene.render`): pixel (u, v) has
the camera-frame ray ``d = ((u - cx)/fx, (v - cy)/fy, 1)`` (pixel centres at integer coordinates,
skew ignored, as there) and shows the nearest triangle hit at t > 0; t is the z-depth in metres.

Method: *homogeneous* (2D-homogeneous, Olano & Greer 1997) rasterisation in float64. With
camera-frame vertices P0, P1, P2 (metres) and ``d = (xn, yn, 1)``, the edge functions
``E_i = d · (P_j × P_k)`` are affine in (xn, yn), and writing d = a P0 + b P1 + c P2 gives
``E = det · (a, b, c)`` with ``det = P0 · (P1 × P2)``. Hence, with s = sign(det), the ray hits the
triangle in front of the camera exactly when all three ``s · E_i >= 0``, and then
``1 / z = a + b + c = (s E_0 + s E_1 + s E_2) / |det|`` (perspective-correct inverse depth, affine
in screen space). This needs no near plane: triangles crossing the camera plane z = 0 (a floor under
the camera, a wall beside it) are rasterised exactly; the frustum clipping done for them only
bounds the rows and columns to visit. Nothing the ray caster can hit (t > 0) is dropped.

Exact inside test and fill rule: E is evaluated in float64 with a per-edge forward error bound;
when |E| is within the bound (the pixel centre is within ~1e-12 px of the edge) its sign is
recomputed exactly with error-free transformations (Dekker products, iterated TwoSum:
:mod:`spatialevo.scene.exactsign`). A pixel ray exactly on an edge belongs to the triangles for
which the ray nudged by (ε, ε², 0) is inside, i.e.
``s·Cx > 0 or (Cx == 0 and s·Cy > 0)`` for the edge's ``C = P_j × P_k`` (a top-left rule). Every
pixel ray, the same float64 direction for all triangles, is therefore inside exactly the triangles
it crosses: shared edges and vertices are neither doubled nor gapped, whatever the windings. Depth
ties (coplanar overlaps) keep the triangle with the lower face index. Triangles seen exactly
edge-on (|det| < 1e-12·|P0||P1||P2|: their plane passes through the camera centre) cover no pixel
and are skipped, as the ray caster misses them too.

The camera transform is vectorised numpy; per-triangle setup (outcode culling, frustum clipping,
coefficients; one pass instead of ~40 numpy temporaries, which cost ~1 µs per face on 80k-face
scans), the scanline loop and the per-pixel shading are numba ``@njit(cache=True, nogil=True)``
kernels, compiled once per machine into numba's on-disk cache (``__pycache__``; ``NUMBA_CACHE_DIR``
overrides). Rows are split into interleaved 8-row bands, one per worker thread (the kernels
release the GIL); each band keeps face order, so the output does not depend on the thread count.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from spatialevo.scene.exactsign import inside_exact

__all__ = ["camera_vertices", "default_threads", "inverse_depth_to_depth", "pixel_ray_norms", "rasterize", "setup_triangles", "shade_pixels",
           "warm_up"]

#: Triangles with |det| below this fraction of |P0||P1||P2| are seen edge-on (their plane passes
#: through the camera centre) and cover no pixel centre; they are skipped.
EDGE_ON_TOL = 1e-12
#: Rows per interleaved band of one worker thread.
BAND_ROWS = 8


def camera_vertices(vertices_w: np.ndarray, T_wc: np.ndarray) -> np.ndarray:
    """(V, 3) world-frame vertices (metres) → (V, 3) float64 camera-frame vertices (metres).

    Element-wise arithmetic (no BLAS kernel whose rounding could depend on the row), so equal input
    coordinates give bit-equal outputs: duplicated vertices still meet exactly at shared edges.
    """
    R, t = np.asarray(T_wc, np.float64)[:3, :3], np.asarray(T_wc, np.float64)[:3, 3]
    d = vertices_w - t
    out = np.empty_like(d)
    for k in range(3):
        col = d[:, 0] * R[0, k]
        col += d[:, 1] * R[1, k]
        col += d[:, 2] * R[2, k]
        out[:, k] = col
    return out


@njit(cache=True, nogil=True)
def _clip_bbox(
    tri: np.ndarray, fx: float, fy: float, cx: float, cy: float, width: int, height: int, buf_a: np.ndarray, buf_b: np.ndarray
) -> tuple[int, int, int, int]:
    """Pixel bounds ``x0, x1, y0, y1`` (inclusive) of a (3, 3) camera-frame triangle crossing z = 0.

    The triangle is clipped (Sutherland-Hodgman) against the four side planes of the frustum
    widened by one pixel; those planes pass through the camera centre and together imply z >= 0.
    Returns ``x0 > x1`` when nothing is left, and the whole image when a clipped vertex has z <= 0
    (only the camera centre itself can).
    """
    m = 3
    for i in range(3):
        for k in range(3):
            buf_a[i, k] = tri[i, k]
    src, dst = buf_a, buf_b
    for p in range(4):  # plane normals (nx, 0, nz) or (0, ny, nz)
        if p == 0:
            nx, ny, nz = fx, 0.0, cx + 1.0  # u >= -1
        elif p == 1:
            nx, ny, nz = -fx, 0.0, width - cx  # u <= W
        elif p == 2:
            nx, ny, nz = 0.0, fy, cy + 1.0  # v >= -1
        else:
            nx, ny, nz = 0.0, -fy, height - cy  # v <= H
        k_out = 0
        for i in range(m):
            j = (i + 1) % m
            di = nx * src[i, 0] + ny * src[i, 1] + nz * src[i, 2]
            dj = nx * src[j, 0] + ny * src[j, 1] + nz * src[j, 2]
            if di >= 0.0:
                for k in range(3):
                    dst[k_out, k] = src[i, k]
                k_out += 1
            if (di >= 0.0) != (dj >= 0.0):
                s = di / (di - dj)
                for k in range(3):
                    dst[k_out, k] = src[i, k] + s * (src[j, k] - src[i, k])
                k_out += 1
        m = k_out
        src, dst = dst, src
        if m == 0:
            return 1, 0, 1, 0
    umin, umax, vmin, vmax = math.inf, -math.inf, math.inf, -math.inf
    for i in range(m):
        z = src[i, 2]
        if z <= 0.0:
            return 0, width - 1, 0, height - 1
        u = fx * src[i, 0] / z + cx
        v = fy * src[i, 1] / z + cy
        umin, umax, vmin, vmax = min(umin, u), max(umax, u), min(vmin, v), max(vmax, v)
    return _pixel_box(umin, umax, vmin, vmax, width, height)


@njit(cache=True, nogil=True)
def _pixel_box(umin: float, umax: float, vmin: float, vmax: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Inclusive pixel bounds of a projected extent, one pixel of slack, clamped to the image."""
    wl, hl = width + 1.0, height + 1.0
    x0 = max(0, int(math.floor(min(max(umin, -2.0), wl))) - 1)
    x1 = min(width - 1, int(math.ceil(min(max(umax, -2.0), wl))) + 1)
    y0 = max(0, int(math.floor(min(max(vmin, -2.0), hl))) - 1)
    y1 = min(height - 1, int(math.ceil(min(max(vmax, -2.0), hl))) + 1)
    return x0, x1, y0, y1


@njit(cache=True, nogil=True)
def _setup(
    Vc: np.ndarray, faces: np.ndarray, fx: float, fy: float, cx: float, cy: float, width: int, height: int,
    margin: float, coef: np.ndarray, P: np.ndarray, bounds: np.ndarray, index: np.ndarray,
) -> int:
    """Per-triangle setup (see :func:`setup_triangles`); fills the first T rows of the outputs, returns T."""
    code = np.empty(Vc.shape[0], np.uint8)  # outcodes: behind the camera plane, outside a widened side plane
    for i in range(Vc.shape[0]):
        x, y, z = Vc[i, 0], Vc[i, 1], Vc[i, 2]
        c = 1 if z <= 0.0 else 0
        c |= 2 if fx * x + (cx + 1.0) * z < 0.0 else 0
        c |= 4 if -fx * x + (width - cx) * z < 0.0 else 0
        c |= 8 if fy * y + (cy + 1.0) * z < 0.0 else 0
        c |= 16 if -fy * y + (height - cy) * z < 0.0 else 0
        code[i] = c
    # |xn|, |yn| over the image bound the float64 evaluation error of E = xn·Cx + (yn·Cy + Cz)
    xmax = (max(abs(cx), abs(width - 1 - cx)) + margin) / fx
    ymax = (max(abs(cy), abs(height - 1 - cy)) + margin) / fy
    eps16 = 16.0 * 2.220446049250313e-16
    buf_a = np.empty((9, 3))
    buf_b = np.empty((9, 3))
    T = 0
    for f in range(faces.shape[0]):
        i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
        if code[i0] & code[i1] & code[i2]:
            continue  # all three vertices outside one plane: no pixel ray meets it at t > 0
        tri = P[T]
        sq = 1.0
        for k, vi in enumerate((i0, i1, i2)):
            tri[k, 0], tri[k, 1], tri[k, 2] = Vc[vi, 0], Vc[vi, 1], Vc[vi, 2]
            sq *= Vc[vi, 0] * Vc[vi, 0] + Vc[vi, 1] * Vc[vi, 1] + Vc[vi, 2] * Vc[vi, 2]
        ax, ay, az, bx, by, bz = tri[0, 0], tri[0, 1], tri[0, 2], tri[1, 0], tri[1, 1], tri[1, 2]
        det = ax * (by * tri[2, 2] - bz * tri[2, 1]) + ay * (bz * tri[2, 0] - bx * tri[2, 2]) + az * (bx * tri[2, 1] - by * tri[2, 0])
        if not abs(det) > EDGE_ON_TOL * math.sqrt(sq):
            continue  # seen edge-on
        if az > 0.0 and bz > 0.0 and tri[2, 2] > 0.0:
            umin, umax, vmin, vmax = math.inf, -math.inf, math.inf, -math.inf
            for k in range(3):
                u = tri[k, 0] / tri[k, 2] * fx + cx
                v = tri[k, 1] / tri[k, 2] * fy + cy
                umin, umax, vmin, vmax = min(umin, u), max(umax, u), min(vmin, v), max(vmax, v)
            x0, x1, y0, y1 = _pixel_box(umin, umax, vmin, vmax, width, height)
        else:
            x0, x1, y0, y1 = _clip_bbox(tri, fx, fy, cx, cy, width, height, buf_a, buf_b)
        if x0 > x1 or y0 > y1:
            continue
        s = -1.0 if det < 0.0 else 1.0
        for e in range(3):
            j, k = (e + 1) % 3, (e + 2) % 3
            px, py, pz, qx, qy, qz = tri[j, 0], tri[j, 1], tri[j, 2], tri[k, 0], tri[k, 1], tri[k, 2]
            # C = p × q in a fixed expression order: q × p is exactly -(p × q)
            coef[T, 3 * e] = s * (py * qz - pz * qy)
            coef[T, 3 * e + 1] = s * (pz * qx - px * qz)
            coef[T, 3 * e + 2] = s * (px * qy - py * qx)
            perm_x = abs(py * qz) + abs(pz * qy)
            perm_y = abs(pz * qx) + abs(px * qz)
            perm_z = abs(px * qy) + abs(py * qx)
            coef[T, 10 + e] = eps16 * (xmax * perm_x + ymax * perm_y + perm_z) + 1e-300
        coef[T, 9] = 1.0 / abs(det)
        coef[T, 13] = s
        bounds[T, 0], bounds[T, 1], bounds[T, 2], bounds[T, 3] = x0, x1, y0, y1
        index[T] = f
        T += 1
    return T


def setup_triangles(
    Vc: np.ndarray, faces: np.ndarray, fx: float, fy: float, cx: float, cy: float, width: int, height: int,
    margin: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-triangle setup for :func:`rasterize` (one numba pass over the faces).

    Rejects faces whose three vertices lie outside one plane (the camera plane z <= 0 or a
    frustum side plane widened by one pixel) and faces seen edge-on; bounds faces in front of the
    camera by their projected vertices and faces crossing z = 0 by their frustum-clipped polygon.

    Args:
        Vc: (V, 3) float64 camera-frame vertices (metres), e.g. from :func:`camera_vertices`.
        faces: (F, 3) vertex indices.
        fx, fy, cx, cy: pinhole intrinsics (pixels).
        width, height: image size (pixels).
        margin: the error bounds hold for rays up to ``margin`` pixels outside the pixel centres'
            range (0: pixel centres only; :mod:`spatialevo.scene.rays` casts rays anywhere in the image).

    Returns:
        ``(coef, P, bounds, index)`` for the T triangles that can cover a pixel centre: (T, 14)
        float64 ``s·C_0, s·C_1, s·C_2`` (edge normals ``C_i = P_j × P_k``, 3 each), ``1/|det|``, the
        three edge functions' float64 error bounds and ``s``; (T, 3, 3) their camera-frame vertices;
        (T, 4) int64 inclusive pixel bounds ``x0, x1, y0, y1``; (T,) int32 face indices.
    """
    F = len(faces)
    coef, P = np.empty((F, 14)), np.empty((F, 3, 3))
    bounds, index = np.empty((F, 4), np.int64), np.empty(F, np.int32)
    n = _setup(np.ascontiguousarray(Vc, dtype=np.float64), np.ascontiguousarray(faces, dtype=np.int64),
               float(fx), float(fy), float(cx), float(cy), int(width), int(height), float(margin), coef, P, bounds, index)
    return coef[:n], P[:n], bounds[:n], index[:n]


@njit(cache=True, nogil=True)
def _span(X: float, r: float, eb: float, fx: float, cx: float, lo: float, hi: float) -> tuple[float, float]:
    """Narrow the column range [lo, hi] of a row to where the edge ``X·xn + r`` can be >= -eb.

    Outside the result every pixel has ``E < -eb`` (rejected without the exact test); ±2·eb and one
    pixel of slack absorb rounding, even when X ≈ 0.
    """
    if X > 0.0:
        return max(lo, cx - fx * (r + 2.0 * eb) / X - 1.0), hi
    if X < 0.0:
        return lo, min(hi, cx - fx * (r + 2.0 * eb) / X + 1.0)
    return (lo, hi) if r >= -eb else (1.0, 0.0)


@njit(cache=True, nogil=True)
def _raster_rows(
    coef: np.ndarray, P: np.ndarray, bounds: np.ndarray, index: np.ndarray, xs: np.ndarray, ys: np.ndarray,
    fx: float, cx: float, band: int, n_bands: int, wbuf: np.ndarray, prim: np.ndarray,
) -> None:
    """Scan-convert all triangles into the rows ``v`` with ``(v // BAND_ROWS) % n_bands == band``.

    ``xs`` (W,) and ``ys`` (H,) are the pixel rays' camera-frame ``xn = (u - cx)/fx`` and
    ``yn = (v - cy)/fy``. ``wbuf`` (H·W,) float64 holds the best inverse depth 1/z (1/metres,
    0 = nothing yet) and ``prim`` (H·W,) int32 the winning face index; a pixel is replaced only by
    a strictly larger 1/z.
    """
    width = xs.shape[0]
    scratch = np.empty(20)
    for t in range(coef.shape[0]):
        X0, Y0, Z0, X1, Y1, Z1, X2, Y2, Z2 = coef[t, 0], coef[t, 1], coef[t, 2], coef[t, 3], coef[t, 4], coef[t, 5], coef[t, 6], coef[t, 7], coef[t, 8]
        inv, eb0, eb1, eb2, s = coef[t, 9], coef[t, 10], coef[t, 11], coef[t, 12], coef[t, 13]
        fx0, fx1 = float(bounds[t, 0]), float(bounds[t, 1])
        face = index[t]
        y0, y1 = bounds[t, 2], bounds[t, 3]
        for v in range(y0, y1 + 1):
            if n_bands > 1 and (v // BAND_ROWS) % n_bands != band:
                continue
            yn = ys[v]
            r0 = Y0 * yn + Z0
            r1 = Y1 * yn + Z1
            r2 = Y2 * yn + Z2
            # conservative column span of this row; the exact test follows
            lo, hi = _span(X0, r0, eb0, fx, cx, fx0, fx1)
            lo, hi = _span(X1, r1, eb1, fx, cx, lo, hi)
            lo, hi = _span(X2, r2, eb2, fx, cx, lo, hi)
            if lo > hi:
                continue
            base = v * width
            for u in range(int(math.ceil(lo)), int(math.floor(hi)) + 1):
                xn = xs[u]
                e0 = X0 * xn + r0
                if e0 <= eb0 and (e0 < -eb0 or not inside_exact(P, t, 0, s, xn, yn, scratch)):
                    continue
                e1 = X1 * xn + r1
                if e1 <= eb1 and (e1 < -eb1 or not inside_exact(P, t, 1, s, xn, yn, scratch)):
                    continue
                e2 = X2 * xn + r2
                if e2 <= eb2 and (e2 < -eb2 or not inside_exact(P, t, 2, s, xn, yn, scratch)):
                    continue
                w = (e0 + e1 + e2) * inv
                i = base + u
                if w > wbuf[i]:
                    wbuf[i] = w
                    prim[i] = face


_POOL: dict[int, ThreadPoolExecutor] = {}  # worker threads by count; a forked child starts afresh
_POOL_LOCK = threading.Lock()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.clear)


def default_threads() -> int:
    """Worker threads used when ``threads=0``: the CPUs this process may run on
    (:func:`spatialevo.cpus.available_cpus`)."""
    from spatialevo.cpus import available_cpus

    return available_cpus()


def _pool(n: int) -> ThreadPoolExecutor:
    with _POOL_LOCK:
        if n not in _POOL:
            _POOL[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="spatialevo-raster")
        return _POOL[n]


def rasterize(
    Vc: np.ndarray, faces: np.ndarray, K: np.ndarray, width: int, height: int, no_hit: int, threads: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """First-hit face and inverse depth of every pixel.

    Args:
        Vc: (V, 3) float64 camera-frame vertices (metres), e.g. from :func:`camera_vertices`.
        faces: (F, 3) vertex indices.
        K: (3, 3) intrinsics (pixels); only fx, fy, cx, cy are used.
        width, height: image size (pixels).
        no_hit: the face index written where no face is hit (the renderer passes F).
        threads: worker threads (0 = all available CPUs); the result does not depend on it.

    Returns:
        ``(prim, inv_depth)``: (H·W,) int32 face indices and (H·W,) float64 1/z (1/metres, 0 where
        nothing is hit), pixels in row-major order.
    """
    fx, fy, cx, cy = float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])
    coef, Pk, bounds, index = setup_triangles(Vc, faces, fx, fy, cx, cy, width, height)
    xs = (np.arange(width, dtype=np.float64) - cx) / fx
    ys = (np.arange(height, dtype=np.float64) - cy) / fy
    wbuf = np.zeros(width * height, np.float64)
    prim = np.full(width * height, no_hit, np.int32)
    n = min(threads if threads > 0 else default_threads(), max(1, -(-height // BAND_ROWS)))
    args = (coef, Pk, bounds, index, xs, ys, fx, cx)
    if n == 1 or len(coef) == 0:
        _raster_rows(*args, 0, 1, wbuf, prim)
    else:
        jobs = [_pool(n).submit(_raster_rows, *args, b, n, wbuf, prim) for b in range(n)]
        for j in jobs:
            j.result()
    return prim, wbuf


@njit(cache=True, nogil=True)
def inverse_depth_to_depth(wbuf: np.ndarray) -> np.ndarray:
    """(N,) float64 inverse depth (1/metres, 0 = no hit) → (N,) float32 z-depth (metres, 0 = no hit)."""
    out = np.zeros(wbuf.shape[0], np.float32)
    for i in range(wbuf.shape[0]):
        if wbuf[i] > 0.0:
            out[i] = 1.0 / wbuf[i]
    return out


@njit(cache=True, nogil=True)
def pixel_ray_norms(width: int, height: int, K: np.ndarray) -> np.ndarray:
    """(H·W,) float64 length ``sqrt(xn² + yn² + 1)`` of every pixel's camera-frame ray (row-major;
    K float64, fx, fy, cx, cy used): the factor :func:`shade_pixels` divides by, the same floats."""
    out = np.empty(width * height)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    for v in range(height):
        yn = (v - cy) / fy
        for u in range(width):
            xn = (u - cx) / fx
            out[v * width + u] = math.sqrt(xn * xn + yn * yn + 1.0)
    return out


@njit(cache=True, nogil=True)
def shade_pixels(
    prim: np.ndarray,
    width: int,
    K: np.ndarray,
    R_wc: np.ndarray,
    ray_norms: np.ndarray,
    normals: np.ndarray,
    face_ids: np.ndarray,
    face_colors: np.ndarray,
    instance: np.ndarray,
    rgb: np.ndarray,
) -> None:
    """Instance ids and head-light shaded colours from per-pixel face indices (both backends).

    Args:
        prim: (N,) int32 face index per pixel (row-major), F = no hit.
        width: image width (pixels).
        K: (3, 3) float64 intrinsics (pixels; fx, fy, cx, cy used).
        R_wc: (3, 3) float64 camera-to-world rotation.
        ray_norms: (N,) :func:`pixel_ray_norms` of the frame (cached per intrinsics by the renderer).
        normals: (F + 1, 3) float64 unit face normals, world frame (row F zero).
        face_ids: (F + 1,) int32 object id per face (entry F = ``NO_HIT``).
        face_colors: (F + 1, 3) float32 face colours (row F black).
        instance: (N,) int32 output, or an empty array to skip it.
        rgb: (N, 3) uint8 output ``colour · (0.35 + 0.65·|n·d|)`` (d the unit ray direction, world
            frame; truncated to uint8), or an empty array to skip it.
    """
    n = prim.shape[0]
    if instance.shape[0] == n:
        for i in range(n):
            instance[i] = face_ids[prim[i]]
    if rgb.shape[0] != n:
        return
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    for v in range(n // width):
        yn = (v - cy) / fy
        # world-frame direction of (xn, yn, 1) is col0·xn + (col1·yn + col2)
        b0 = R_wc[0, 1] * yn + R_wc[0, 2]
        b1 = R_wc[1, 1] * yn + R_wc[1, 2]
        b2 = R_wc[2, 1] * yn + R_wc[2, 2]
        base = v * width
        for u in range(width):
            p = prim[base + u]
            xn = (u - cx) / fx
            dot = normals[p, 0] * (R_wc[0, 0] * xn + b0) + normals[p, 1] * (R_wc[1, 0] * xn + b1) + normals[p, 2] * (R_wc[2, 0] * xn + b2)
            c = abs(dot) / ray_norms[base + u]
            shade = np.float32(0.35) + np.float32(0.65) * np.float32(min(c, 1.0))
            for k in range(3):
                rgb[base + u, k] = np.uint8(face_colors[p, k] * shade)


def warm_up() -> None:
    """Load (or compile, the first time on a machine) the numba kernels by rendering a tiny frame."""
    Vc = np.array([[-1.0, -1.0, 2.0], [1.0, -1.0, 2.0], [0.0, 1.0, -1.0]])
    K = np.array([[4.0, 0.0, 3.5], [0.0, 4.0, 3.5], [0.0, 0.0, 1.0]])
    prim, inv_depth = rasterize(Vc, np.array([[0, 1, 2]]), K, 8, 8, 1, threads=1)
    inverse_depth_to_depth(inv_depth)
    shade_pixels(prim, 8, K, np.eye(3), pixel_ray_norms(8, 8, K), np.zeros((2, 3)), np.zeros(2, np.int32), np.zeros((2, 3), np.float32),
                 np.empty(64, np.int32), np.empty((64, 3), np.uint8))
