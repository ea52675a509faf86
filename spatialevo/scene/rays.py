"""Exact first hits along rays from a camera centre: the rasteriser's arithmetic for arbitrary rays.

:func:`first_hit_depths` answers, for rays leaving the camera centre through given camera-frame
points, the question the rasteriser (:mod:`spatialevo.scene.raster`) answers for pixel centres:
the nearest triangle hit at t > 0 along ``d = (x/z, y/z, 1)``, whose ray parameter is the z-depth
(camera frame, metres). The tests are the same exact ones (float64 edge functions with a forward
error bound, exact signs by error-free transformations near an edge, the same tie rule), so a ray
is inside exactly the triangles it crosses and the depth is that of the exact hit, rounded once
per term: no float32 rounding of the rays, no Embree acceleration structure, no open3d.

The visibility test (:mod:`spatialevo.scene.visibility`) uses it for meshed scenes; open3d's ray
caster (:meth:`spatialevo.scene.render.Renderer.cast`) stays the reference the tests compare with.

Method: the rays are binned by the pixel of a virtual pinhole image (the frame's focal lengths,
its grid spanning the rays' pixels) that their direction falls in; the per-triangle setup of the
rasteriser bounds each triangle's pixels in that image (its error bounds valid one pixel beyond
the grid), and a numba kernel tests every ray of every row of those bounds.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from spatialevo.scene.exactsign import inside_exact
from spatialevo.scene.raster import setup_triangles

__all__ = ["MAX_RAY_PIXELS", "first_hit_depths"]
#: most pixels of the virtual image that bins the rays (its rows and the kernel's loops grow with
#: it): 64 M, 200 frames of 640 x 480; points that project wider than that are refused
MAX_RAY_PIXELS = 64 * 1024 * 1024
#: most pixels along either side of that image (its rows are an index array)
MAX_RAY_SIDE = 65_536


@njit(cache=True, nogil=True)
def _first_hits(
    coef: np.ndarray, P: np.ndarray, bounds: np.ndarray, xn: np.ndarray, yn: np.ndarray, px: np.ndarray,
    row_start: np.ndarray, order: np.ndarray, wbest: np.ndarray,
) -> None:
    """Largest inverse depth 1/z (1/metres; 0 = no hit) over the triangles each ray crosses.

    ``order`` lists the rays by (pixel row, pixel column); the rays of row ``v`` are
    ``order[row_start[v]:row_start[v + 1]]``, their columns ``px`` ascending. ``coef``, ``P`` and
    ``bounds`` come from :func:`~spatialevo.scene.raster.setup_triangles` (face order kept).
    """
    scratch = np.empty(20)
    for t in range(coef.shape[0]):
        X0, Y0, Z0, X1, Y1, Z1, X2, Y2, Z2 = coef[t, 0], coef[t, 1], coef[t, 2], coef[t, 3], coef[t, 4], coef[t, 5], coef[t, 6], coef[t, 7], coef[t, 8]
        inv, eb0, eb1, eb2, s = coef[t, 9], coef[t, 10], coef[t, 11], coef[t, 12], coef[t, 13]
        x0, x1 = bounds[t, 0], bounds[t, 1]
        for v in range(bounds[t, 2], bounds[t, 3] + 1):
            for j in range(row_start[v], row_start[v + 1]):
                r = order[j]
                if px[r] < x0:
                    continue
                if px[r] > x1:
                    break
                x, y = xn[r], yn[r]
                e0 = X0 * x + (Y0 * y + Z0)
                if e0 <= eb0 and (e0 < -eb0 or not inside_exact(P, t, 0, s, x, y, scratch)):
                    continue
                e1 = X1 * x + (Y1 * y + Z1)
                if e1 <= eb1 and (e1 < -eb1 or not inside_exact(P, t, 1, s, x, y, scratch)):
                    continue
                e2 = X2 * x + (Y2 * y + Z2)
                if e2 <= eb2 and (e2 < -eb2 or not inside_exact(P, t, 2, s, x, y, scratch)):
                    continue
                w = (e0 + e1 + e2) * inv
                if w > wbest[r]:
                    wbest[r] = w


def first_hit_depths(Vc: np.ndarray, faces: np.ndarray, K: np.ndarray, points_c: np.ndarray) -> np.ndarray:
    """z-depth of the first surface hit along the ray from the camera centre through each point.

    Args:
        Vc: (V, 3) float64 camera-frame mesh vertices (metres), e.g. from
            :func:`~spatialevo.scene.raster.camera_vertices`.
        faces: (F, 3) vertex indices.
        K: (3, 3) intrinsics (pixels; fx, fy, cx, cy bin the rays, skew ignored). Any K with
            positive focal lengths gives the same depths; the frame's keeps the bins pixel-sized.
        points_c: (N, 3) camera-frame points (metres) in front of the camera (z > 0).

    Returns:
        (N,) float64 z-depth (metres) of the nearest hit at t > 0 along ``(x/z, y/z, 1)``
        (``inf`` where the ray hits nothing). The distance along the ray is that depth times
        ``|p| / z``.

    Raises:
        ValueError: a point not in front of the camera, or points that project (through ``K``)
            over more than :data:`MAX_RAY_PIXELS` pixels (or :data:`MAX_RAY_SIDE` a side), or to
            no finite pixel: the work grows with that area, not with the number of points.
    """
    pts = np.asarray(points_c, dtype=np.float64).reshape(-1, 3)
    n = len(pts)
    if n == 0:
        return np.zeros(0)
    if not np.all(pts[:, 2] > 0.0):
        raise ValueError("first_hit_depths: every point must lie in front of the camera (z > 0)")
    with np.errstate(over="ignore"):
        xn, yn = pts[:, 0] / pts[:, 2], pts[:, 1] / pts[:, 2]
    fx, fy, cx, cy = float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])
    u, v = fx * xn + cx, fy * yn + cy
    if not (np.isfinite(u).all() and np.isfinite(v).all()):
        raise ValueError("first_hit_depths: a point projects to no finite pixel (it lies too close to the camera plane)")
    du, dv = float(u.max() - u.min()) + 2.0, float(v.max() - v.min()) + 2.0
    if du * dv > MAX_RAY_PIXELS or max(du, dv) > MAX_RAY_SIDE:
        raise ValueError(f"first_hit_depths: the points project over {du:.3g} x {dv:.3g} pixels (at most {MAX_RAY_PIXELS:,} pixels, "
                         f"{MAX_RAY_SIDE:,} a side); give points that lie in or near the image")
    # the virtual image: the pixels (centres at integers) of the rays' range, from (ox, oy)
    ox, oy = math.floor(u.min() + 0.5), math.floor(v.min() + 0.5)
    width, height = math.floor(u.max() + 0.5) - ox + 1, math.floor(v.max() + 0.5) - oy + 1
    px = np.clip(np.floor(u + 0.5).astype(np.int64) - ox, 0, width - 1)
    py = np.clip(np.floor(v + 0.5).astype(np.int64) - oy, 0, height - 1)
    order = np.lexsort((px, py))
    row_start = np.searchsorted(py[order], np.arange(height + 1)).astype(np.int64)
    coef, P, bounds, _ = setup_triangles(Vc, faces, fx, fy, cx - ox, cy - oy, width, height, margin=1.0)
    wbest = np.zeros(n)
    _first_hits(coef, P, bounds, xn, yn, px, row_start, order, wbest)
    out = np.full(n, np.inf)
    hit = wbest > 0.0
    out[hit] = 1.0 / wbest[hit]
    return out
