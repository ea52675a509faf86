"""Camera trajectories for synthetic rooms (OpenCV cameras, world metres, z up)."""

from __future__ import annotations

import numpy as np
from shapely.geometry import Point, Polygon
from shapely.ops import unary_union


def intrinsics(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """(3, 3) pinhole K in pixels: square pixels, principal point at the image centre."""
    f = (width / 2.0) / np.tan(np.deg2rad(hfov_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(4, 4) camera-to-world pose (OpenCV: x right, y down, z forward), no roll, at ``eye`` facing ``target``."""
    fwd = np.asarray(target, float) - eye
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    T = np.eye(4)
    T[:3, :3] = np.stack([right, down, fwd], axis=1)
    T[:3, 3] = eye
    return T


def free_space(floor: np.ndarray, footprints: list[Polygon], wall_margin: float = 0.35, object_margin: float = 0.25) -> Polygon:
    """Floor region (world xy, metres) where a camera may stand: away from walls and object footprints."""
    room = Polygon(floor).buffer(-wall_margin, join_style=2)
    if footprints:
        room = room.difference(unary_union([f.buffer(object_margin) for f in footprints]))
    return room


def camera_trajectory(
    floor: np.ndarray,
    footprints: list[Polygon],
    targets: np.ndarray,
    n_frames: int,
    rng: np.random.Generator,
    eye_height: tuple[float, float] = (1.2, 1.7),
    pitch_deg: tuple[float, float] = (-25.0, -5.0),
) -> list[np.ndarray]:
    """``n_frames`` camera-to-world poses of a walk through free space, looking around at targets.

    Standing points are drawn uniformly in the free space and ordered into a walk (greedy nearest
    neighbour from a random start). Each camera faces one of ``targets`` ((K, 3) world points,
    metres) with ±15° of yaw jitter, pitched down between ``pitch_deg`` (degrees), with no roll. The
    eye height is one person's height in ``eye_height`` ± 5 cm of bob.

    Raises:
        ValueError: when the room has no free space for a camera.
    """
    free = free_space(floor, footprints)
    if free.is_empty or free.area < 1e-3:
        free = free_space(floor, footprints, wall_margin=0.25, object_margin=0.1)
    if free.is_empty or free.area < 1e-3:
        raise ValueError("no free floor space for a camera in this room")
    lo, hi = np.asarray(free.bounds[:2]), np.asarray(free.bounds[2:])
    pts: list[np.ndarray] = []
    while len(pts) < n_frames:
        cand = rng.uniform(lo, hi, size=(4 * n_frames, 2))
        pts.extend(c for c in cand if free.contains(Point(c)))
    pts_a = np.array(pts[:n_frames])
    order = [int(rng.integers(n_frames))]
    left = set(range(n_frames)) - set(order)
    while left:
        rest = np.array(sorted(left))
        nxt = int(rest[np.argmin(np.linalg.norm(pts_a[rest] - pts_a[order[-1]], axis=1))])
        order.append(nxt)
        left.remove(nxt)
    base = rng.uniform(eye_height[0] + 0.05, eye_height[1] - 0.05)
    poses = []
    for i in order:
        eye = np.array([*pts_a[i], base + rng.uniform(-0.05, 0.05)])
        tgt = targets[int(rng.integers(len(targets)))] if len(targets) else np.array([*free.centroid.coords[0], 0.5])
        d = tgt[:2] - eye[:2]
        if np.linalg.norm(d) < 1e-6:
            d = np.array([1.0, 0.0])
        yaw = np.arctan2(d[1], d[0]) + np.deg2rad(rng.uniform(-15, 15))
        pitch = np.deg2rad(np.clip(np.rad2deg(np.arctan2(tgt[2] - eye[2], np.linalg.norm(d))), *pitch_deg))
        fwd = np.array([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)])
        poses.append(look_at(eye, eye + fwd))
    return poses
