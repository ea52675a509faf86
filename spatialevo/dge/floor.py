"""Room floor area (m²) for ``room_size``: exact from the floor polygon, else a deterministic estimate.

Estimate from a point cloud (world frame, metres, z up), the documented method:

1. Floor height ``z_f`` = the 1st percentile of the points' z (robust to stray points below).
2. Keep points with ``z_f - 0.05 <= z <= z_f + max_height`` (floor, walls, furniture, ceiling).
3. Mark their xy positions on a grid of ``cell`` metres (origin at the points' minimum, so the
   result does not depend on where the scene sits in the world).
4. Morphological closing with a disc of radius ``close_radius`` bridges unobserved gaps (doorways,
   strips hidden behind furniture); holes enclosed by the result are filled.
5. Area = (filled cells − ½ boundary cells) · cell². Points on the interior face of a wall land in
   cells that straddle the true outline, so counting boundary cells as half removes the half-cell
   bias along the perimeter.

No randomness anywhere: the same points give the same area, and a rigid motion about z changes the
estimate only by grid quantisation (≈ perimeter · cell / 2 at worst). On synthetic rectangular and
L-shaped rooms the estimate is within 3 % of the polygon area (tested).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from spatialevo.scene.model import Scene


def estimate_floor_area(
    points: np.ndarray,
    *,
    cell: float = 0.05,
    close_radius: float = 0.5,
    max_height: float = 3.5,
) -> float:
    """Deterministic floor-area estimate (m²) from (N, 3) world points in metres (see module docstring).

    Returns 0.0 for fewer than 3 finite points.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) < 3:
        return 0.0
    zf = float(np.percentile(pts[:, 2], 1.0))
    keep = (pts[:, 2] >= zf - 0.05) & (pts[:, 2] <= zf + max_height)
    xy = pts[keep, :2]
    r = max(1, int(np.ceil(close_radius / cell)))
    pad = r + 2
    ij = np.floor((xy - xy.min(axis=0)) / cell).astype(np.int64) + pad
    shape = tuple(ij.max(axis=0) + pad + 1)
    grid = np.zeros(shape, dtype=bool)
    grid[ij[:, 0], ij[:, 1]] = True
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disc = (xx * xx + yy * yy) <= r * r
    filled = ndimage.binary_erosion(ndimage.binary_fill_holes(ndimage.binary_dilation(grid, structure=disc)), structure=disc)
    filled |= grid
    interior = ndimage.binary_erosion(filled, structure=ndimage.generate_binary_structure(2, 1), border_value=0)
    boundary = int(filled.sum() - interior.sum())
    return float((filled.sum() - 0.5 * boundary) * cell * cell)


def room_points(scene: Scene) -> np.ndarray | None:
    """Points to estimate the floor from: the scene's point cloud, else its mesh vertices, else ``None``."""
    if scene.points is not None and len(scene.points) >= 3:
        return scene.points
    if scene.mesh is not None and len(scene.mesh.vertices) >= 3:
        return scene.mesh.vertices
    return None


def scan_points(scene: Scene, *, origins: np.ndarray | None = None, n_dirs: int = 20000) -> np.ndarray:
    """(N, 3) world points (metres) an omnidirectional depth scanner records in a meshed scene.

    From each origin ((M, 3) world, metres; default: the camera centres of the scene's frames)
    ``n_dirs`` rays on a Fibonacci sphere are cast against the mesh; the hit points form a point
    cloud of the surfaces *seen* from inside, as a real room scan has. Deterministic.

    Raises:
        ValueError: when the scene has no mesh or no origins.
    """
    if scene.mesh is None:
        raise ValueError(f"scene {scene.scene_id} has no mesh to scan")
    if origins is None:
        origins = np.array([f.camera_center for f in scene.frames]).reshape(-1, 3)
    origins = np.asarray(origins, dtype=np.float64).reshape(-1, 3)
    if len(origins) == 0:
        raise ValueError("no scan origins (the scene has no frames)")
    from spatialevo.scene.render import get_renderer

    k = np.arange(n_dirs) + 0.5
    z = 1.0 - 2.0 * k / n_dirs
    phi = np.pi * (1.0 + 5.0**0.5) * k
    rxy = np.sqrt(1.0 - z * z)
    dirs = np.stack([rxy * np.cos(phi), rxy * np.sin(phi), z], axis=1)
    o = np.repeat(origins, n_dirs, axis=0)
    d = np.tile(dirs, (len(origins), 1))
    t = get_renderer(scene).cast(o, d)["t_hit"]
    ok = np.isfinite(t)
    return o[ok] + d[ok] * t[ok, None]
