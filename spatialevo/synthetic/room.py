"""Room shell of a synthetic room: floor outline, floor / ceiling / wall meshes, doors and windows.

World frame, metres, z up. The floor is the plane z = 0 and the interior is exactly
``floor_polygon`` x [0, height]: the floor and ceiling slabs lie below z = 0 and above z = height,
and every wall is a box on the *outside* of its polygon edge (thickness along the outward normal).
"""

from __future__ import annotations

import numpy as np
import trimesh

from spatialevo.scene.model import CEILING_ID, FLOOR_ID, WALL_ID

WALL_T = 0.1  #: wall / slab thickness, metres


def floor_polygon(shape: str, rng: np.random.Generator, sides: tuple[float, float]) -> np.ndarray:
    """(M, 2) counter-clockwise floor outline in the world xy plane, metres, one corner at (0, 0).

    ``"rect"``: W x D rectangle (4 vertices). ``"L"``: the W x D rectangle minus an a x b notch at
    the (W, D) corner (6 vertices), a in [0.35, 0.5] W and b in [0.35, 0.5] D. Sides are drawn in
    ``sides`` and rounded to centimetres, so the area is exact: W·D (rect) or W·D - a·b (L).
    """
    W, D = np.round(rng.uniform(*sides, size=2), 2)
    if shape == "rect":
        return np.array([[0, 0], [W, 0], [W, D], [0, D]], dtype=np.float64)
    if shape != "L":
        raise ValueError(f"shape must be 'rect' or 'L', got {shape!r}")
    a = np.round(rng.uniform(0.35, 0.5) * W, 2)
    b = np.round(rng.uniform(0.35, 0.5) * D, 2)
    return np.array([[0, 0], [W, 0], [W, D - b], [W - a, D - b], [W - a, D], [0, D]], dtype=np.float64)


def polygon_area(poly: np.ndarray) -> float:
    """Area (m²) of a simple polygon given as (M, 2) vertices (shoelace formula)."""
    x, y = poly[:, 0], poly[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))


def rectangles(poly: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Axis-aligned rectangles (x0, y0, x1, y1), metres, tiling a polygon made by :func:`floor_polygon`."""
    if len(poly) == 4:
        return [(0.0, 0.0, float(poly[2, 0]), float(poly[2, 1]))]
    W, yb, xa, D = poly[1, 0], poly[2, 1], poly[3, 0], poly[4, 1]
    return [(0.0, 0.0, float(xa), float(D)), (float(xa), 0.0, float(W), float(yb))]


def _convex(poly: np.ndarray) -> np.ndarray:
    """(M,) bool: whether each vertex of a CCW polygon is a convex corner."""
    prev, nxt = poly - np.roll(poly, 1, axis=0), np.roll(poly, -1, axis=0) - poly
    return (prev[:, 0] * nxt[:, 1] - prev[:, 1] * nxt[:, 0]) > 0


def shell_meshes(poly: np.ndarray, height: float) -> list[tuple[trimesh.Trimesh, int]]:
    """Floor, ceiling and wall boxes with their structure ids (``FLOOR_ID``, ``CEILING_ID``, ``WALL_ID``).

    The floor slab's top face (z = 0) and the ceiling slab's bottom face (z = height) are the
    polygon, triangulated by :func:`rectangles`. Walls are boxes of thickness ``WALL_T`` outside
    each edge; at convex corners they are extended by ``WALL_T`` to close the corner, at reflex
    corners (L rooms) they are not, so no wall reaches into the interior.
    """
    out: list[tuple[trimesh.Trimesh, int]] = []
    for x0, y0, x1, y1 in rectangles(poly):
        out.append((trimesh.creation.box(bounds=[[x0, y0, -WALL_T], [x1, y1, 0.0]]), FLOOR_ID))
        out.append((trimesh.creation.box(bounds=[[x0, y0, height], [x1, y1, height + WALL_T]]), CEILING_ID))
    convex = _convex(poly)
    m = len(poly)
    for i in range(m):
        p, q = poly[i], poly[(i + 1) % m]
        e = (q - p) / np.linalg.norm(q - p)
        n = np.array([e[1], -e[0]])  # outward normal of a CCW polygon
        a = p - e * WALL_T * convex[i]
        b = q + e * WALL_T * convex[(i + 1) % m]
        pts = np.array([a, b, a + n * WALL_T, b + n * WALL_T])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        out.append((trimesh.creation.box(bounds=[[lo[0], lo[1], -WALL_T], [hi[0], hi[1], height + WALL_T]]), WALL_ID))
    return out


def wall_edges(poly: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    """Per polygon edge: (start, unit direction, inward unit normal, length), world xy, metres."""
    out = []
    for p, q in zip(poly, np.roll(poly, -1, axis=0)):
        length = float(np.linalg.norm(q - p))
        e = (q - p) / length
        out.append((p.copy(), e, np.array([-e[1], e[0]]), length))
    return out


def opening_plan(rng: np.random.Generator, poly: np.ndarray, height: float) -> list[dict]:
    """Doors and windows as placements on the walls (world frame, metres).

    One door (0.8–0.95 m wide, 2.0–2.1 m tall, from the floor) and one or two windows (sill at
    0.8–1.0 m), each a thin panel flush with the inside of a wall (its back touches the wall, so it
    lies inside the floor polygon). Returns dicts with ``label``, ``size`` (w, d, h), ``xy`` (panel
    footprint centre), ``z0`` (bottom height) and ``yaw`` (radians; local +y points to the wall).
    Openings keep 0.2 m from the edge ends and 0.3 m from each other along a wall; an opening
    whose wall is too short moves to the next wall (the longest wall always takes the door).
    """
    from spatialevo.synthetic.catalog import DOOR, WINDOW

    edges = wall_edges(poly)
    order = [int(i) for i in rng.permutation(len(edges))]
    n_windows = 1 + int(rng.integers(2))
    plan: list[dict] = []
    used: dict[int, list[tuple[float, float]]] = {}
    for j, cat in enumerate([DOOR] + [WINDOW] * n_windows):
        size = cat.sample_size(rng)
        if cat is WINDOW:
            size[2] = min(size[2], round(height - 0.25 - 1.0, 3))
        t = float(rng.uniform(0.0, 1.0))
        z0 = 0.0 if cat is DOOR else float(np.round(rng.uniform(0.8, 1.0), 3))
        for r in range(len(order)):  # the j-th wall of the permutation, else the next that fits
            k = order[(j + r) % len(order)]
            p0, e, n_in, length = edges[k]
            lo_s, hi_s = size[0] / 2 + 0.2, length - size[0] / 2 - 0.2
            if hi_s < lo_s:
                continue
            s = lo_s + t * (hi_s - lo_s)
            if any(abs(s - s2) < (size[0] + w2) / 2 + 0.3 for s2, w2 in used.get(k, [])):
                continue
            used.setdefault(k, []).append((s, size[0]))
            yaw = float(np.arctan2(n_in[0], -n_in[1]))
            plan.append({"label": cat.label, "size": size, "xy": p0 + s * e + n_in * (size[1] / 2), "z0": z0, "yaw": yaw, "n_in": n_in})
            break
    return plan
