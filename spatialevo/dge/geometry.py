"""Geometry kernels of the DGE, vectorised numpy.

World frame: metres, right-handed, z up (SPEC §1). Cameras: OpenCV (x right, y down, z forward),
``T_wc`` camera-to-world. Boxes are solid oriented boxes given as ``center`` (…, 3) metres,
``extents`` (…, 3) full edge lengths in metres and ``rotation`` (…, 3, 3) whose columns are the box
axes in the world frame (as :class:`~spatialevo.scene.boxes.OrientedBox`).

Angles are in degrees; on the floor plane counter-clockwise (seen from above) is positive, which
is *left* for an observer looking along the reference direction.
"""

from __future__ import annotations

import numpy as np

_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
#: (12, 2) corner-index pairs of the box edges (corners in ``_SIGNS`` order, the order of
#: :meth:`OrientedBox.corners`, differ in one sign).
BOX_EDGES = np.array([(i, j) for i in range(8) for j in range(i + 1, 8) if np.sum(_SIGNS[i] != _SIGNS[j]) == 1])


def box_corners(center: np.ndarray, extents: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """(…, 8, 3) corners (world, metres) of boxes ``center`` (…, 3), ``extents`` (…, 3), ``rotation`` (…, 3, 3)."""
    local = _SIGNS * (0.5 * np.asarray(extents))[..., None, :]
    return np.asarray(center)[..., None, :] + np.einsum("...ij,...kj->...ki", rotation, local)


def point_box_distance(points: np.ndarray, center: np.ndarray, extents: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Euclidean distance (metres) from points to solid boxes; 0 inside.

    Args:
        points: (…, P, 3) world points, metres.
        center, extents: (…, 3) box centre and full edge lengths, metres.
        rotation: (…, 3, 3) box axes as columns (world frame).

    Returns:
        (…, P) distances, metres.
    """
    local = np.einsum("...pj,...jk->...pk", np.asarray(points) - np.asarray(center)[..., None, :], rotation)
    excess = np.maximum(np.abs(local) - 0.5 * np.asarray(extents)[..., None, :], 0.0)
    return np.sqrt(np.sum(excess * excess, axis=-1))


def segment_segment_distance(p1: np.ndarray, q1: np.ndarray, p2: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Minimal distance (metres) between segments [p1, q1] and [p2, q2], all (…, 3) world points.

    Closed-form clamped solution (Ericson, *Real-Time Collision Detection* §5.1.9), vectorised;
    parallel and degenerate segments are handled.
    """
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a = np.sum(d1 * d1, -1)
    e = np.sum(d2 * d2, -1)
    f = np.sum(d2 * r, -1)
    c = np.sum(d1 * r, -1)
    b = np.sum(d1 * d2, -1)
    denom = a * e - b * b
    eps = 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denom > eps * np.maximum(a * e, eps), np.clip((b * f - c * e) / denom, 0.0, 1.0), 0.0)
        s = np.where(a > eps, s, 0.0)
        t = np.where(e > eps, (b * s + f) / e, 0.0)
        s_low = np.where(a > eps, np.clip(-c / a, 0.0, 1.0), 0.0)
        s_high = np.where(a > eps, np.clip((b - c) / a, 0.0, 1.0), 0.0)
    s = np.where(t < 0.0, s_low, np.where(t > 1.0, s_high, s))
    t = np.clip(t, 0.0, 1.0)
    diff = (p1 + d1 * s[..., None]) - (p2 + d2 * t[..., None])
    return np.sqrt(np.sum(diff * diff, -1))


def boxes_overlap(c1: np.ndarray, e1: np.ndarray, R1: np.ndarray, c2: np.ndarray, e2: np.ndarray, R2: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """(…,) whether solid boxes intersect (touching counts), separating-axis test over all 15 axes."""
    a1 = np.swapaxes(R1, -1, -2)  # (…, 3, 3) rows = axes
    a2 = np.swapaxes(R2, -1, -2)
    cross = np.cross(a1[..., :, None, :], a2[..., None, :, :]).reshape(*a1.shape[:-2], 9, 3)
    axes = np.concatenate([a1, a2, cross], axis=-2)  # (…, 15, 3)
    norm = np.linalg.norm(axes, axis=-1)
    valid = norm > 1e-9
    axes = axes / np.where(valid, norm, 1.0)[..., None]
    h1 = 0.5 * np.asarray(e1)
    h2 = 0.5 * np.asarray(e2)
    r1 = np.sum(np.abs(np.einsum("...ak,...jk->...aj", axes, a1)) * h1[..., None, :], -1)
    r2 = np.sum(np.abs(np.einsum("...ak,...jk->...aj", axes, a2)) * h2[..., None, :], -1)
    dist = np.abs(np.einsum("...ak,...k->...a", axes, np.asarray(c2) - np.asarray(c1)))
    separated = valid & (dist > r1 + r2 + tol)
    return ~np.any(separated, axis=-1)


def box_box_distance(c1: np.ndarray, e1: np.ndarray, R1: np.ndarray, c2: np.ndarray, e2: np.ndarray, R2: np.ndarray) -> np.ndarray:
    """Exact minimal distance (metres) between solid oriented boxes; 0 when they intersect.

    For disjoint convex polytopes the closest pair is vertex–solid or edge–edge, so the distance is
    the minimum of the 8 + 8 corner-to-box distances and the 144 edge–edge distances.

    Args:
        c1, e1, R1: (…, 3), (…, 3), (…, 3, 3) first boxes (centre, full extents, axes as columns), world, metres.
        c2, e2, R2: second boxes, same shapes.

    Returns:
        (…,) distances, metres.
    """
    k1 = box_corners(c1, e1, R1)
    k2 = box_corners(c2, e2, R2)
    d = np.minimum(point_box_distance(k1, c2, e2, R2).min(-1), point_box_distance(k2, c1, e1, R1).min(-1))
    s1, t1 = k1[..., BOX_EDGES[:, 0], :], k1[..., BOX_EDGES[:, 1], :]
    s2, t2 = k2[..., BOX_EDGES[:, 0], :], k2[..., BOX_EDGES[:, 1], :]
    ee = segment_segment_distance(s1[..., :, None, :], t1[..., :, None, :], s2[..., None, :, :], t2[..., None, :, :])
    d = np.minimum(d, ee.reshape(*ee.shape[:-2], -1).min(-1))
    return np.where(boxes_overlap(c1, e1, R1, c2, e2, R2), 0.0, d)


#: box pairs per batch of :func:`box_box_distance` (about 25 kB of temporaries per pair: ~13 MB a
#: batch; larger batches are no faster, the numpy calls of one batch cost well under 1 % of its work)
PAIR_CHUNK = 512


def box_distances(i: np.ndarray, j: np.ndarray, centers: np.ndarray, extents: np.ndarray, rotations: np.ndarray,
                  chunk: int = PAIR_CHUNK) -> np.ndarray:
    """(P,) :func:`box_box_distance` of the box pairs ``(i[k], j[k])`` (metres), ``chunk`` pairs at a
    time, so memory is bounded by the chunk, not the number of pairs. Each pair is evaluated in
    (smaller index, larger index) order: d(i, j) and d(j, i) are the same float, wherever computed.

    Args:
        i, j: (P,) box indices; centers, extents, rotations: (N, 3), (N, 3), (N, 3, 3), world, metres.
    """
    i, j = np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    out = np.zeros(len(lo))
    for s in range(0, len(lo), chunk):
        a, b = lo[s : s + chunk], hi[s : s + chunk]
        out[s : s + chunk] = box_box_distance(centers[a], extents[a], rotations[a], centers[b], extents[b], rotations[b])
    out[lo == hi] = 0.0
    return out


def box_distance_row(i: int, centers: np.ndarray, extents: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """(N,) distances (metres) from box ``i`` to every box (0 to itself): one row of
    :func:`pairwise_box_distances`, equal to it float for float, in O(N) time and memory."""
    n = len(centers)
    return box_distances(np.full(n, int(i)), np.arange(n), centers, extents, rotations)


def pairwise_box_distances(centers: np.ndarray, extents: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """(N, N) symmetric matrix of :func:`box_box_distance` between N boxes (metres), zero diagonal;
    pairs are computed in chunks (:func:`box_distances`), so beyond the (N, N) result memory is bounded."""
    n = len(centers)
    out = np.zeros((n, n))
    if n < 2:
        return out
    i, j = np.triu_indices(n, 1)
    d = box_distances(i, j, centers, extents, rotations)
    out[i, j] = d
    out[j, i] = d
    return out


def signed_floor_angle(origin: np.ndarray, toward: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Signed floor-plane angle (degrees, (-180, 180]) from ``toward − origin`` to ``query − origin``.

    Points are (…, 2 or 3) world coordinates in metres; only x and y are used (projection onto the
    floor). Positive = counter-clockwise seen from above = *left* for an observer at ``origin``
    facing ``toward``.
    """
    u = np.asarray(toward, dtype=np.float64)[..., :2] - np.asarray(origin, dtype=np.float64)[..., :2]
    v = np.asarray(query, dtype=np.float64)[..., :2] - np.asarray(origin, dtype=np.float64)[..., :2]
    return vector_angle(u, v)


def vector_angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed angle (degrees, (-180, 180]) from 2D vectors ``u`` to ``v`` (…, 2), counter-clockwise positive."""
    cross = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    dot = u[..., 0] * v[..., 0] + u[..., 1] * v[..., 1]
    ang = np.degrees(np.arctan2(cross, dot))
    return np.where(ang <= -180.0, ang + 360.0, ang)


def camera_heading(T_wc: np.ndarray) -> tuple[np.ndarray, float]:
    """Horizontal heading of a camera: (unit (2,) forward direction on the floor plane, its norm before normalising).

    ``T_wc`` is the (4, 4) camera-to-world pose (OpenCV camera, optical axis = third column of the
    rotation). The norm is the cosine of the camera's pitch: near 0 when it looks straight up or
    down, where the horizontal heading is undefined.
    """
    f = np.asarray(T_wc, dtype=np.float64)[:2, 2]
    n = float(np.hypot(f[0], f[1]))
    return (f / n if n > 0 else np.array([1.0, 0.0])), n


def egocentric_angle(T_wc: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where world points lie in a camera's egocentric horizontal frame.

    Args:
        T_wc: (4, 4) camera-to-world pose.
        points: (…, 3) world points, metres.

    Returns:
        ``(angle, distance)``: (…,) signed angle in degrees from the camera's horizontal heading to
        the point (positive = left, ±180 = behind) and (…,) horizontal distance in metres.
    """
    heading, _ = camera_heading(T_wc)
    v = np.asarray(points, dtype=np.float64)[..., :2] - np.asarray(T_wc, dtype=np.float64)[:2, 3]
    return vector_angle(np.broadcast_to(heading, v.shape), v), np.hypot(v[..., 0], v[..., 1])


def standing_frame(standing: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """(2, 2) rows (forward, left) of the floor frame of an observer at ``standing`` facing ``facing``.

    Inputs are (2 or 3,) world points in metres (z ignored). Raises ``ValueError`` when they coincide
    on the floor plane.
    """
    f = np.asarray(facing, dtype=np.float64)[:2] - np.asarray(standing, dtype=np.float64)[:2]
    n = float(np.hypot(*f))
    if n == 0:
        raise ValueError("standing and facing points coincide on the floor plane")
    f = f / n
    return np.array([f, [-f[1], f[0]]])


#: 8-way horizontal direction names by sector, counter-clockwise from straight ahead.
DIRECTIONS_8 = ("front", "front-left", "left", "back-left", "back", "back-right", "right", "front-right")


def direction_8way(angle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-way direction of signed angles (degrees, positive = left).

    Sectors are 45° wide and centred on 0° (front), 45° (front-left), …; returns ``(index into
    DIRECTIONS_8, angular distance in degrees to the nearest sector boundary)``.
    """
    a = np.mod(np.asarray(angle, dtype=np.float64) + 22.5, 360.0)
    idx = np.floor(a / 45.0).astype(np.int64) % 8
    r = np.mod(a, 45.0)
    return idx, np.minimum(r, 45.0 - r)
