"""Camera trajectories for synthetic rooms: a person walking a loop and looking around.

World frame, metres, z up, floor at z = 0. Cameras are OpenCV pinholes (x right, y down,
z forward); poses are 4x4 camera-to-world matrices ``T_wc`` with no roll (the camera x axis is
horizontal) and a slight downward pitch.

The walkable area is the floor polygon shrunk by ``WALL_MARGIN`` minus every obstacle footprint
inflated by ``OBJECT_MARGIN``. Its largest connected part is rasterised on a 0.1 m grid; a few
spread-out waypoints are ordered into a loop around their centroid, joined by shortest grid paths
(8-connected, no corner cutting), smoothed where the smoothed points stay walkable, and resampled
at equal arc length. Every camera centre is checked to lie in the walkable area.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from scipy import ndimage
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import MultiPoint, Polygon
from shapely.ops import unary_union

from spatialevo.scene.boxes import OrientedBox

WALL_MARGIN = 0.3  #: minimum distance of a camera centre from the walls, metres
OBJECT_MARGIN = 0.2  #: inflation of obstacle footprints for the walkable area, metres


def intrinsics(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """(3, 3) pinhole K in pixels: square pixels, horizontal field of view ``hfov_deg`` degrees,
    principal point at the image centre ((W-1)/2, (H-1)/2) with pixel centres at integers."""
    f = (width / 2.0) / np.tan(np.deg2rad(hfov_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def pose_from_yaw_pitch(eye: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """(4, 4) camera-to-world pose at ``eye`` (world, metres) with the optical axis at heading
    ``yaw`` (radians from world +x, counter-clockwise) and elevation ``pitch`` (radians, < 0 looks
    down), no roll. Columns of the rotation: camera x (right), y (down), z (forward) in world."""
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    fwd = np.array([cp * cy, cp * sy, sp])
    right = np.array([sy, -cy, 0.0])
    down = np.cross(fwd, right)
    T = np.eye(4)
    T[:3, :3] = np.stack([right, down, fwd], axis=1)
    T[:3, 3] = eye
    return T


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(4, 4) camera-to-world pose at ``eye`` facing ``target`` (world, metres), no roll."""
    d = np.asarray(target, dtype=np.float64) - np.asarray(eye, dtype=np.float64)
    return pose_from_yaw_pitch(np.asarray(eye, dtype=np.float64), float(np.arctan2(d[1], d[0])), float(np.arctan2(d[2], np.hypot(d[0], d[1]))))


def footprint(box: OrientedBox) -> Polygon:
    """Floor-plane footprint (world xy, metres) of a box: the convex hull of its corners."""
    return MultiPoint(box.corners()[:, :2]).convex_hull


def free_space(floor: np.ndarray, footprints: Sequence[Polygon], wall_margin: float = WALL_MARGIN, object_margin: float = OBJECT_MARGIN) -> Polygon:
    """Walkable floor region (world xy, metres): ``wall_margin`` from the walls, ``object_margin``
    from every footprint."""
    room = Polygon(floor).buffer(-wall_margin, join_style="mitre")
    if footprints:
        room = room.difference(unary_union([f.buffer(object_margin) for f in footprints]))
    return room


def _grid_loop(free: Polygon, rng: np.random.Generator, step: float) -> np.ndarray:
    """Closed walk (K, 2) through the largest connected part of ``free`` (see the module docstring)."""
    minx, miny, maxx, maxy = free.bounds
    xs, ys = np.arange(minx + step / 2, maxx, step), np.arange(miny + step / 2, maxy, step)
    X, Y = np.meshgrid(xs, ys)
    mask = shapely.contains_xy(free, X, Y)
    if not mask.any():
        return np.array([free.representative_point().coords[0]])
    lab, nl = ndimage.label(mask)
    sizes = np.bincount(lab.ravel(), minlength=nl + 1)[1:]
    comp = lab == int(np.argmax(sizes)) + 1
    node = np.full(comp.shape, -1, dtype=np.int64)
    node[comp] = np.arange(int(comp.sum()))
    pts = np.stack([X[comp], Y[comp]], axis=1)
    rows, cols, wts = [], [], []
    pad = np.pad(node, 1, constant_values=-1)
    core = pad[1:-1, 1:-1]
    for di, dj in ((0, 1), (1, 0), (1, 1), (1, -1)):
        nb = pad[1 + di : 1 + di + core.shape[0], 1 + dj : 1 + dj + core.shape[1]]
        ok = (core >= 0) & (nb >= 0)
        if di and dj:  # diagonal moves only when both orthogonal neighbours are free
            a = pad[1 + di : 1 + di + core.shape[0], 1 : 1 + core.shape[1]]
            b = pad[1 : 1 + core.shape[0], 1 + dj : 1 + dj + core.shape[1]]
            ok &= (a >= 0) & (b >= 0)
        rows.append(core[ok])
        cols.append(nb[ok])
        wts.append(np.full(int(ok.sum()), np.hypot(di, dj) * step))
    n = len(pts)
    graph = csr_matrix((np.concatenate(wts), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    # spread-out waypoints: random first, then farthest-point sampling among near-farthest ones
    m = int(np.clip(round(n * step * step / 2.0) + 3, 3, 8))
    m = min(m, n)
    chosen = [int(rng.integers(n))]
    dist = np.linalg.norm(pts - pts[chosen[0]], axis=1)
    while len(chosen) < m:
        cand = np.flatnonzero(dist >= 0.7 * dist.max())
        k = int(cand[int(rng.integers(len(cand)))])
        chosen.append(k)
        dist = np.minimum(dist, np.linalg.norm(pts - pts[k], axis=1))
    wp = np.array(chosen)
    centre = pts[wp].mean(axis=0)
    wp = wp[np.argsort(np.arctan2(pts[wp, 1] - centre[1], pts[wp, 0] - centre[0]), kind="stable")]
    wp = np.roll(wp, -int(rng.integers(len(wp))))
    if len(wp) < 2:
        return pts[wp]
    _, pred = dijkstra(graph, directed=False, indices=wp, return_predecessors=True)
    path: list[int] = []
    for a in range(len(wp)):
        src, dst = a, wp[(a + 1) % len(wp)]
        seg = [int(dst)]
        while seg[-1] != wp[src] and seg[-1] >= 0:
            seg.append(int(pred[src, seg[-1]]))
        path.extend(seg[::-1][:-1])  # wp[src] ... up to (excluding) dst
    loop = pts[np.array(path)]
    for _ in range(4):  # smoothing that never leaves the walkable area
        sm = (np.roll(loop, 1, axis=0) + 2 * loop + np.roll(loop, -1, axis=0)) / 4
        ok = shapely.contains_xy(free, sm[:, 0], sm[:, 1])
        loop = np.where(ok[:, None], sm, loop)
    return loop


def camera_trajectory(
    floor_polygon: np.ndarray,
    obstacles: Sequence[OrientedBox],
    n_frames: int,
    rng: np.random.Generator,
    *,
    eye_height: tuple[float, float] = (1.2, 1.7),
    pitch_deg: tuple[float, float] = (-25.0, -5.0),
    targets: np.ndarray | None = None,
    step: float = 0.1,
) -> list[np.ndarray]:
    """``n_frames`` camera-to-world poses (4x4, world metres, OpenCV camera) of a walk in the room.

    Args:
        floor_polygon: (M, 2) CCW floor outline, world xy, metres.
        obstacles: boxes the walk avoids (their footprints inflated by ``OBJECT_MARGIN``).
        n_frames: number of poses (>= 1).
        rng: the only source of randomness.
        eye_height: range of the eye height above the floor, metres.
        pitch_deg: range of the optical axis elevation, degrees (negative = looking down).
        targets: (K, 3) points the walker glances at (default: the obstacle centres).
        step: grid resolution of the walkable area, metres.

    The walker's heading follows the loop; the gaze sways ±30–60° around it and locks onto the
    target nearest in angle (within 45°, at least 0.6 m away), pitched towards it within
    ``pitch_deg``. The eye height is one person's height, raised and lowered by up to ±0.2 m as a handheld
    scanner sweeps (within ``eye_height``), plus a ±2 cm walking bob.

    Raises:
        ValueError: for ``n_frames < 1`` or when the room has no walkable area at all.
    """
    if int(n_frames) < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    feet = [footprint(b) for b in obstacles]
    free = free_space(floor_polygon, feet)
    for margin in (OBJECT_MARGIN / 2, 0.0):
        if free.area >= 1e-3:
            break
        free = free_space(floor_polygon, feet, WALL_MARGIN, margin)
    if free.area < 1e-4:
        raise ValueError("no walkable floor area for a camera in this room")
    loop = _grid_loop(free, rng, step)
    s, xy, heading = _walk(free, loop, n_frames, rng)
    z, gaze = _height_and_gaze(s, heading, eye_height, rng)
    tg = np.array([b.center for b in obstacles]) if targets is None else np.asarray(targets, dtype=np.float64)
    return _glances(xy, z, gaze, tg.reshape(-1, 3), pitch_deg, rng)


def _walk(free: shapely.Geometry, loop: np.ndarray, n_frames: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s, xy, heading)``: arc length along the loop (metres), floor position (world xy, metres)
    and walking direction (radians) of each of ``n_frames`` evenly spaced poses on the closed walk
    ``loop`` ((M, 2) world xy), starting at a random point; positions outside ``free`` are moved
    back to their segment's start."""
    closed = np.vstack([loop, loop[:1]])
    seg = np.diff(closed, axis=0)
    seg_len = np.linalg.norm(seg, axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    total = float(cum[-1])
    if total <= 1e-9:  # a walk of one point: turn on the spot
        heading = np.full(n_frames, float(rng.uniform(-np.pi, np.pi))) + np.arange(n_frames) * 2 * np.pi / n_frames
        return np.zeros(n_frames), np.repeat(loop[:1], n_frames, axis=0), heading
    s = (float(rng.uniform(0.0, total)) + np.arange(n_frames) * total / n_frames) % total
    k = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(seg) - 1)
    frac = (s - cum[k]) / np.where(seg_len[k] > 0, seg_len[k], 1.0)
    xy = closed[k] + frac[:, None] * seg[k]
    heading = np.arctan2(seg[k, 1], seg[k, 0])
    bad = ~shapely.contains_xy(free, xy[:, 0], xy[:, 1])
    xy[bad] = closed[k[bad]]
    return s, xy, heading


def _height_and_gaze(s: np.ndarray, heading: np.ndarray, eye_height: tuple[float, float],
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(z, gaze)``: eye height (world z, metres, within ``eye_height``) and gaze yaw (radians)
    at arc lengths ``s`` (metres): one person's height raised and lowered by a handheld sweep of up
    to ±0.2 m plus a ±2 cm bob; the gaze swaying ±30–60° around ``heading``."""
    lo, hi = float(eye_height[0]), float(eye_height[1])
    base = float(rng.uniform(lo + 0.03, hi - 0.03)) if hi - lo > 0.06 else (lo + hi) / 2
    amp, period, phase = np.deg2rad(rng.uniform(30, 60)), float(rng.uniform(2.0, 4.0)), float(rng.uniform(0, 2 * np.pi))
    # handheld sweep: the scanner rises and dips by up to ±0.2 m along the walk, plus a ±2 cm bob
    lift = min(float(rng.uniform(0.1, 0.2)), max(0.0, (hi - lo) / 2 - 0.03))
    lift_period, lift_phase = float(rng.uniform(3.0, 6.0)), float(rng.uniform(0, 2 * np.pi))
    base = float(np.clip(base, lo + lift + 0.02, hi - lift - 0.02)) if hi - lo > 2 * lift + 0.04 else (lo + hi) / 2
    z = np.clip(base + lift * np.sin(2 * np.pi * s / lift_period + lift_phase) + 0.02 * np.sin(2 * np.pi * s / 0.7), lo, hi)
    return z, heading + amp * np.sin(2 * np.pi * s / period + phase)


def _glances(xy: np.ndarray, z: np.ndarray, gaze: np.ndarray, tg: np.ndarray, pitch_deg: tuple[float, float],
             rng: np.random.Generator) -> list[np.ndarray]:
    """Camera-to-world poses (4x4, world metres) at floor positions ``xy`` (F, 2) and heights ``z``
    (F,) looking along ``gaze`` (F,) radians, locked onto the target of ``tg`` ((K, 3) world
    points) nearest in angle (within 45°, at least 0.6 m away) and pitched towards it within
    ``pitch_deg`` (degrees)."""
    p_lo, p_hi = np.deg2rad(pitch_deg[0]), np.deg2rad(pitch_deg[1])
    poses = []
    for i in range(len(xy)):
        eye = np.array([xy[i, 0], xy[i, 1], z[i]])
        yaw, pitch = float(gaze[i]), float(rng.uniform(p_lo + 0.3 * (p_hi - p_lo), p_lo + 0.8 * (p_hi - p_lo)))
        if len(tg):
            d = tg[:, :2] - eye[:2]
            dist = np.linalg.norm(d, axis=1)
            diff = (np.arctan2(d[:, 1], d[:, 0]) - yaw + np.pi) % (2 * np.pi) - np.pi
            score = np.where(dist >= 0.6, np.abs(diff), np.inf)
            j = int(np.argmin(score))
            if score[j] <= np.deg2rad(45):
                yaw = float(yaw + diff[j] + np.deg2rad(rng.uniform(-8, 8)))
                pitch = float(np.arctan2(tg[j, 2] - eye[2], dist[j]))
        poses.append(pose_from_yaw_pitch(eye, yaw, float(np.clip(pitch, p_lo, p_hi))))
    return poses
