"""Oriented boxes and minimal oriented boxes of point sets.

All coordinates are in the world frame, metres, z up (SPEC §1).

:func:`minimal_oriented_box` is exact: by O'Rourke (1985) a minimal-volume box has two adjacent
faces each flush with an edge of the convex hull, and :mod:`spatialevo.scene.minbox` searches every
such edge-pair family with a branch and bound whose lower bounds are provable, so no box around the
points is smaller in any orientation (up to floating point, a relative 1e-10). Boxes within a
relative volume of 1e-9 count as equal and go to the smaller surface, then the smaller sorted
extents, so volume and extents are reproducible under rigid motions. Cost: about 10-60 ms per
object up to 200 hull vertices on a shared 2-core machine, 0.12 s at 400, 1.3 s at 2000
(``benchmarks/box_bench.py``). Sets too small, flat or collinear fall back to the z-aligned *yaw
box*: the minimal-area rectangle of the floor projection times the z range.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spatialevo.errors import SceneFormatError
from spatialevo.scene.validate import MAX_COORD_M, MAX_EXTENT_M, as_array, check_rotation

# Sign pattern of the 8 corners, in the box's local frame (units of half extents).
_CORNER_SIGNS = np.array(
    [[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64
)


@dataclass(frozen=True, eq=False)
class OrientedBox:
    """A solid oriented box in the world frame (metres).

    The centre lies within ``MAX_COORD_M`` of the origin and every extent in ``[0, MAX_EXTENT_M]``
    (:mod:`spatialevo.scene.validate`); other values raise :class:`SceneFormatError`.

    Attributes:
        center: (3,) box centre, world frame, metres.
        extents: (3,) full side lengths along the box axes, metres (>= 0).
        rotation: (3, 3) rotation whose *columns* are the box axes in world coordinates, so a
            world point ``p`` has local coordinates ``rotation.T @ (p - center)``.
    """

    center: np.ndarray
    extents: np.ndarray
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", as_array(self.center, (3,), "box.center", max_abs=MAX_COORD_M))
        ext = as_array(self.extents, (3,), "box.extents")
        if (ext < 0).any() or (ext > MAX_EXTENT_M).any():
            raise SceneFormatError(f"box extents must lie in [0, {MAX_EXTENT_M:g}] m, got {ext.tolist()}", field="box.extents")
        object.__setattr__(self, "extents", ext)
        object.__setattr__(self, "rotation", check_rotation(self.rotation, "box.rotation"))
        for name in ("center", "extents", "rotation"):
            getattr(self, name).setflags(write=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OrientedBox):
            return NotImplemented
        return bool(
            np.array_equal(self.center, other.center)
            and np.array_equal(self.extents, other.extents)
            and np.array_equal(self.rotation, other.rotation)
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def volume(self) -> float:
        """Volume in cubic metres."""
        return float(np.prod(self.extents))

    @property
    def longest_edge(self) -> float:
        """Longest side length, metres."""
        return float(self.extents.max())

    def corners(self) -> np.ndarray:
        """(8, 3) corner points, world frame, metres."""
        return self.center + (_CORNER_SIGNS * (self.extents / 2.0)) @ self.rotation.T

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points (metres) → (N, 3) coordinates in the box frame (metres)."""
        return (np.asarray(points, dtype=np.float64) - self.center) @ self.rotation

    def contains(self, points: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        """(N,) bool: which world points (metres) lie inside the solid box, with ``tol`` metres slack."""
        local = self.to_local(np.atleast_2d(points))
        return (np.abs(local) <= self.extents / 2.0 + tol).all(axis=1)

    def transformed(self, T: np.ndarray) -> OrientedBox:
        """The box moved by the rigid 4x4 transform ``T`` (world → world)."""
        T = np.asarray(T, dtype=np.float64)
        return OrientedBox(T[:3, :3] @ self.center + T[:3, 3], self.extents.copy(), T[:3, :3] @ self.rotation)

    @classmethod
    def from_axes(cls, center: object, axes_lengths: object, normalized_axes: object) -> OrientedBox:
        """Build from the box-list / ARKitScenes convention.

        Args:
            center: (3,) centroid, metres.
            axes_lengths: (3,) full lengths along each axis, metres.
            normalized_axes: (3, 3) (or 9 numbers, row-major) whose *rows* are the unit box axes.
        """
        axes = as_array(normalized_axes, None, "normalizedAxes")
        if axes.size != 9:
            raise SceneFormatError(f"expected 9 numbers (3x3), got shape {axes.shape}", field="normalizedAxes")
        axes = axes.reshape(3, 3)
        R = axes.T
        if np.linalg.det(R) < 0:  # a left-handed axis set describes the same box with one axis flipped
            R = R * np.array([1.0, 1.0, -1.0])
        return cls(center, axes_lengths, check_rotation(R, "normalizedAxes", tol=1e-3))

    @classmethod
    def from_points(cls, points: np.ndarray) -> OrientedBox:
        """Minimal oriented box of (N, 3) world points (metres); see the module docstring."""
        return minimal_oriented_box(points)


def _min_area_rect(pts2: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Exact minimal-area rectangle of (N, 2) points by rotating calipers.

    Returns (area, center (2,), size (2,), axis_u (2,)) where ``axis_u`` is the unit direction of
    the first side; the second side is ``axis_u`` rotated by +90°.
    """
    from scipy.spatial import ConvexHull, QhullError

    pts2 = np.unique(np.round(pts2, 12), axis=0)
    if len(pts2) >= 3:
        try:
            hull = pts2[ConvexHull(pts2).vertices]
        except QhullError:
            hull = pts2
    else:
        hull = pts2
    if len(hull) == 1:
        return 0.0, hull[0].copy(), np.zeros(2), np.array([1.0, 0.0])
    edges = np.roll(hull, -1, axis=0) - hull
    lengths = np.linalg.norm(edges, axis=1)
    keep = lengths > 1e-12
    u = edges[keep] / lengths[keep, None]  # (E, 2) candidate directions
    # fold directions into a half-plane so duplicate calipers compare equal
    u = np.where((u[:, :1] < 0) | ((u[:, :1] == 0) & (u[:, 1:] < 0)), -u, u)
    v = np.stack([-u[:, 1], u[:, 0]], axis=1)
    pu = hull @ u.T  # (H, E)
    pv = hull @ v.T
    w = pu.max(0) - pu.min(0)
    h = pv.max(0) - pv.min(0)
    area = w * h
    best = int(np.lexsort((w + h, area))[0]) if len(area) > 1 else 0
    # choose among near-equal areas the one with the smallest perimeter, then the first
    near = np.flatnonzero(area <= area[best] * (1 + 1e-12) + 1e-15)
    best = int(near[np.argmin((w + h)[near])])
    cu = (pu[:, best].max() + pu[:, best].min()) / 2
    cv = (pv[:, best].max() + pv[:, best].min()) / 2
    center = cu * u[best] + cv * v[best]
    return float(area[best]), center, np.array([w[best], h[best]]), u[best]


def yaw_box(points: np.ndarray) -> OrientedBox:
    """Z-aligned box of (N, 3) world points (metres): minimal-area floor rectangle × z range."""
    pts = as_array(points, (None, 3), "points")
    if len(pts) == 0:
        raise SceneFormatError("cannot fit a box to an empty point set", field="points")
    _, c2, size2, u = _min_area_rect(pts[:, :2])
    zmin, zmax = pts[:, 2].min(), pts[:, 2].max()
    R = np.array([[u[0], -u[1], 0.0], [u[1], u[0], 0.0], [0.0, 0.0, 1.0]])
    return OrientedBox(np.array([c2[0], c2[1], (zmin + zmax) / 2]), np.array([size2[0], size2[1], zmax - zmin]), R)


# Minimal oriented box (the module docstring describes the method). Vectors are (3, M) columns;
# polynomial coefficients are (degree + 1, M), ascending.


def minimal_oriented_box(points: np.ndarray, min_points: int = 8) -> OrientedBox:
    """Minimal-volume oriented box of (N, 3) world points (metres); see the module docstring.

    Falls back to :func:`yaw_box` when there are fewer than ``min_points`` points or the set is
    flat (qhull cannot build a 3D hull). Boxes within a relative volume of 1e-9 count as equal; the
    one with the smaller surface area, then the lexicographically smaller sorted extents, is returned.

    Raises:
        SceneFormatError: for an empty, wrongly shaped or non-finite point array.
    """
    from scipy.spatial import QhullError

    pts = as_array(points, (None, 3), "points")
    if len(pts) == 0:
        raise SceneFormatError("cannot fit a box to an empty point set", field="points")
    centroid = pts.mean(axis=0)
    local = pts - centroid
    scale = float(np.abs(local).max())
    if len(pts) < min_points or scale == 0.0:
        return yaw_box(pts)
    from spatialevo.scene.minbox import minimal_box_axes

    try:
        R = minimal_box_axes(local / scale)
    except QhullError:
        return yaw_box(pts)
    if R is None:
        return yaw_box(pts)
    R[:, 1] -= (R[:, 1] @ R[:, 0]) * R[:, 0]  # re-orthonormalise (the errors are ~1e-16)
    R[:, 1] /= np.linalg.norm(R[:, 1])
    R[:, 2] = np.cross(R[:, 0], R[:, 1])
    proj = local @ R
    lo, hi = proj.min(axis=0), proj.max(axis=0)
    return OrientedBox(centroid + ((lo + hi) / 2) @ R.T, hi - lo, R)
