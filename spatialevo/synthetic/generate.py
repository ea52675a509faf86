"""Seeded procedural rooms: shell, furniture placement, camera trajectory → :class:`Scene`.

World frame: metres, z up, floor at z = 0; the room interior is exactly ``floor_polygon`` × [0, h].
All randomness comes from ``numpy.random.default_rng(seed)``, so the same seed and config give
identical arrays (and byte-identical cache files).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from shapely.geometry import Polygon

from spatialevo.scene.boxes import OrientedBox
from spatialevo.scene.model import CEILING_ID, FLOOR_ID, WALL_ID, Frame, ObjectInstance, Scene, SceneMesh
from spatialevo.scene.render import label_color
from spatialevo.synthetic.catalog import CATEGORIES, Category

GENERATOR_VERSION = 1
WALL_T = 0.1  # wall / slab thickness, metres


@dataclass(frozen=True)
class RoomConfig:
    """Options of :func:`generate_room` (lengths in metres, angles in degrees).

    Attributes:
        shape: ``"rect"``, ``"L"`` or ``"random"`` (either, by the seed).
        side_range: range of the room's bounding-rectangle sides.
        height_range: range of the ceiling height.
        n_objects: (min, max) furniture objects (doors and windows come on top).
        n_frames: camera frames.
        width, height: image size in pixels.
        hfov_deg: horizontal field of view.
        eye_height: range of the camera height above the floor.
        scene_id: scene id (default ``synth_<seed>``).
    """

    shape: str = "random"
    side_range: tuple[float, float] = (3.5, 7.0)
    height_range: tuple[float, float] = (2.5, 3.0)
    n_objects: tuple[int, int] = (8, 16)
    n_frames: int = 24
    width: int = 640
    height: int = 480
    hfov_deg: float = 70.0
    eye_height: tuple[float, float] = (1.2, 1.7)
    scene_id: str | None = None

    def __post_init__(self) -> None:
        def rng_ok(name: str, lo: float, hi: float, lo_min: float) -> None:
            a, b = getattr(self, name)
            if not (lo_min <= a <= b) or not np.isfinite([a, b]).all():
                raise ValueError(f"RoomConfig.{name} must be an increasing range with values >= {lo_min}, got {(a, b)}")
            if b > hi:
                raise ValueError(f"RoomConfig.{name} must be at most {hi}, got {(a, b)}")

        if self.shape not in ("rect", "L", "random"):
            raise ValueError(f"RoomConfig.shape must be 'rect', 'L' or 'random', got {self.shape!r}")
        rng_ok("side_range", 3.0, 30.0, 3.0)
        rng_ok("height_range", 2.2, 6.0, 2.2)
        rng_ok("n_objects", 1, 40, 1)
        rng_ok("eye_height", 0.5, 2.0, 0.3)
        if self.eye_height[1] >= self.height_range[0] - 0.2:
            raise ValueError("RoomConfig.eye_height must stay at least 0.2 m below the lowest ceiling")
        if int(self.n_frames) < 1:
            raise ValueError(f"RoomConfig.n_frames must be >= 1, got {self.n_frames}")
        if int(self.width) < 8 or int(self.height) < 8:
            raise ValueError(f"RoomConfig.width/height must be >= 8 pixels, got {self.width}x{self.height}")
        if not 10.0 <= self.hfov_deg <= 150.0:
            raise ValueError(f"RoomConfig.hfov_deg must be in [10, 150], got {self.hfov_deg}")


def room_config(**kwargs: object) -> RoomConfig:
    """``RoomConfig(**kwargs)``, keeping defaults for options given as ``None``."""
    return RoomConfig(**{k: v for k, v in kwargs.items() if v is not None})


# -- room shell ------------------------------------------------------------------------------
def floor_polygon(shape: str, rng: np.random.Generator, sides: tuple[float, float]) -> np.ndarray:
    """(M, 2) counter-clockwise floor outline, world xy, metres; corner (0, 0)."""
    W, D = np.round(rng.uniform(*sides, size=2), 2)
    if shape == "rect":
        return np.array([[0, 0], [W, 0], [W, D], [0, D]], dtype=np.float64)
    a = np.round(rng.uniform(0.35, 0.5) * W, 2)
    b = np.round(rng.uniform(0.35, 0.5) * D, 2)
    return np.array([[0, 0], [W, 0], [W, D - b], [W - a, D - b], [W - a, D], [0, D]], dtype=np.float64)


def _rectangles(poly: np.ndarray) -> list[tuple[float, float, float, float]]:
    """Axis-aligned rectangles (x0, y0, x1, y1) tiling a rect or L polygon built by floor_polygon."""
    if len(poly) == 4:
        return [(0.0, 0.0, poly[2, 0], poly[2, 1])]
    W, yb, xa, D = poly[1, 0], poly[2, 1], poly[3, 0], poly[4, 1]
    return [(0.0, 0.0, xa, D), (xa, 0.0, W, yb)]


def shell_meshes(poly: np.ndarray, h: float) -> list[tuple[trimesh.Trimesh, int]]:
    """Floor, ceiling and wall slabs (outside the interior) with their structure ids."""
    out = []
    for x0, y0, x1, y1 in _rectangles(poly):
        out.append((trimesh.creation.box(bounds=[[x0, y0, -WALL_T], [x1, y1, 0.0]]), FLOOR_ID))
        out.append((trimesh.creation.box(bounds=[[x0, y0, h], [x1, y1, h + WALL_T]]), CEILING_ID))
    for p, q in zip(poly, np.roll(poly, -1, axis=0)):
        lo, hi = np.minimum(p, q), np.maximum(p, q)
        e = q - p
        n = np.array([e[1], -e[0]]) / np.linalg.norm(e)  # outward normal of a CCW polygon
        lo = lo - WALL_T * (n < 0) - WALL_T * (n == 0)
        hi = hi + WALL_T * (n > 0) + WALL_T * (n == 0)
        out.append((trimesh.creation.box(bounds=[[lo[0], lo[1], -WALL_T], [hi[0], hi[1], h + WALL_T]]), WALL_ID))
    return out


# -- placement ---------------------------------------------------------------------------------
@dataclass
class _Placed:
    cat: Category
    mesh: trimesh.Trimesh
    box: OrientedBox
    foot: Polygon
    z0: float
    z1: float
    on: int | None = None


def _yaw(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _instantiate(cat: Category, size: np.ndarray, xy: np.ndarray, z0: float, yaw: float) -> _Placed:
    local = trimesh.util.concatenate(cat.build(*size))
    lo, hi = local.vertices.min(axis=0), local.vertices.max(axis=0)
    R = _yaw(yaw)
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = [xy[0], xy[1], z0]
    mesh = local.copy()
    mesh.apply_transform(T)
    center = T[:3, :3] @ ((lo + hi) / 2) + T[:3, 3]
    box = OrientedBox(center, hi - lo, R)
    foot = Polygon(box.corners()[[0, 2, 6, 4], :2])
    return _Placed(cat, mesh, box, foot, z0 + lo[2], z0 + hi[2])


def _collides(p: _Placed, placed: list[_Placed], clearance: float) -> bool:
    grown = p.foot.buffer(clearance, join_style=2)
    return any(grown.intersects(o.foot) and p.z0 < o.z1 - 1e-6 and o.z0 < p.z1 - 1e-6 for o in placed)


def _choose_categories(rng: np.random.Generator, n: int) -> list[str]:
    floor = [c for c in sorted(CATEGORIES) if not CATEGORIES[c].on_top]
    top = [c for c in sorted(CATEGORIES) if CATEGORIES[c].on_top]
    labels = ["table"] + ["chair"] * int(rng.integers(2, 5))
    while len(labels) < n:
        pool = top if rng.random() < 0.2 else floor
        lab = pool[int(rng.integers(len(pool)))]
        if labels.count(lab) < CATEGORIES[lab].max_count:
            labels.append(lab)
    # floor objects first (supports before what stands on them), larger first
    return sorted(labels, key=lambda lab: (CATEGORIES[lab].on_top, -np.prod(CATEGORIES[lab].size_max)))


def _try_place(cat: Category, rng: np.random.Generator, room: Polygon, poly: np.ndarray, placed: list[_Placed], h: float) -> _Placed | None:
    size = np.round(rng.uniform(cat.size_min, cat.size_max), 3)
    if cat.on_top:
        supports = [i for i, o in enumerate(placed) if o.cat.support and o.on is None]
        for _ in range(20):
            if not supports:
                return None
            i = supports[int(rng.integers(len(supports)))]
            s = placed[i]
            yaw = float(np.arctan2(s.box.rotation[1, 0], s.box.rotation[0, 0]) + rng.choice([0.0, np.pi]))
            local = rng.uniform(-0.5, 0.5, 2) * np.maximum(s.box.extents[:2] - size[:2], 0.0)
            xy = s.box.center[:2] + s.box.rotation[:2, :2] @ local
            p = _instantiate(cat, size, xy, s.z1, yaw)
            if p.z1 < h - 0.1 and s.foot.buffer(1e-6).contains(p.foot) and not _collides(p, [o for o in placed if o.on == i], 0.02):
                p.on = i
                return p
        return None
    inner = room.buffer(-0.02, join_style=2)
    edges = [(p, q) for p, q in zip(poly, np.roll(poly, -1, axis=0))]
    lengths = np.array([np.linalg.norm(q - p) for p, q in edges])
    for _ in range(60):
        if cat.against_wall:
            k = int(rng.choice(len(edges), p=lengths / lengths.sum()))
            p0, q0 = edges[k]
            e = (q0 - p0) / lengths[k]
            n_in = np.array([-e[1], e[0]])
            t = rng.uniform(size[0] / 2 + 0.05, lengths[k] - size[0] / 2 - 0.05) if lengths[k] > size[0] + 0.1 else None
            if t is None:
                continue
            xy = p0 + t * e + n_in * (size[1] / 2 + 0.03)
            yaw = float(np.arctan2(-n_in[1], -n_in[0]) - np.pi / 2)  # local +y (the back) towards the wall
        else:
            lo, hi = poly.min(axis=0), poly.max(axis=0)
            xy = rng.uniform(lo, hi)
            yaw = float(rng.uniform(0, 2 * np.pi) if rng.random() < 0.5 else rng.integers(4) * np.pi / 2 + rng.normal(0, 0.1))
        cand = _instantiate(cat, size, xy, 0.0, yaw)
        if cand.z1 < h - 0.05 and inner.contains(cand.foot) and not _collides(cand, placed, 0.1):
            return cand
    return None


def _openings(rng: np.random.Generator, poly: np.ndarray, h: float) -> list[_Placed]:
    """A door and one or two windows as thin panels on the inside of the walls."""
    door = Category("door", (0.8, 0.04, 2.0), (0.95, 0.04, 2.1), lambda w, d, hh: [trimesh.creation.box(bounds=[[-w / 2, -d / 2, 0], [w / 2, d / 2, hh]])])
    window = Category("window", (0.8, 0.03, 1.0), (1.5, 0.03, 1.3), door.build)
    edges = [(p, q) for p, q in zip(poly, np.roll(poly, -1, axis=0))]
    order = rng.permutation(len(edges))
    out: list[_Placed] = []
    for j, cat in enumerate([door, window, window][: 2 + int(rng.integers(2))]):
        p0, q0 = edges[order[j % len(edges)]]
        L = np.linalg.norm(q0 - p0)
        size = np.round(rng.uniform(cat.size_min, cat.size_max), 3)
        if L < size[0] + 0.4:
            continue
        e = (q0 - p0) / L
        n_in = np.array([-e[1], e[0]])
        xy = p0 + rng.uniform(size[0] / 2 + 0.2, L - size[0] / 2 - 0.2) * e + n_in * size[1] / 2
        z0 = 0.0 if cat.label == "door" else float(np.round(rng.uniform(0.8, min(1.0, h - size[2] - 0.2)), 3))
        p = _instantiate(cat, size, xy, z0, float(np.arctan2(e[1], e[0])))
        if not _collides(p, out, 0.05):
            out.append(p)
            if cat.label == "door":  # keep the doorway free: a 0.9 m deep keep-out zone in front
                zone = _instantiate(cat, np.array([size[0], 0.9, size[2]]), xy + n_in * 0.45, 0.0, float(np.arctan2(e[1], e[0])))
                zone.cat = Category("keep-out", (0, 0, 0), (0, 0, 0), cat.build)
                out.append(zone)
    return out


# -- assembly ----------------------------------------------------------------------------------
def generate_room(seed: int, config: RoomConfig | None = None) -> Scene:
    """Generate a synthetic room (see the module docstring); same seed and config → same scene."""
    from spatialevo.synthetic.trajectory import camera_trajectory, intrinsics

    cfg = config or RoomConfig()
    rng = np.random.default_rng(int(seed))
    shape = cfg.shape if cfg.shape != "random" else ("rect", "L")[int(rng.integers(2))]
    poly = floor_polygon(shape, rng, cfg.side_range)
    h = float(np.round(rng.uniform(*cfg.height_range), 2))
    room = Polygon(poly)
    placed = _openings(rng, poly, h)
    n_target = int(rng.integers(cfg.n_objects[0], cfg.n_objects[1] + 1))
    for label in _choose_categories(rng, n_target):
        p = _try_place(CATEGORIES[label], rng, room, poly, placed, h)
        if p is not None:
            placed.append(p)
    placed = [p for p in placed if p.cat.label != "keep-out"]

    objects, parts, ids = [], [], []
    for i, p in enumerate(placed):
        n_pts = int(np.clip(p.mesh.area * 600, 200, 800))
        pts, _ = trimesh.sample.sample_surface(p.mesh, n_pts, seed=int(rng.integers(2**31)))
        objects.append(ObjectInstance(i, p.cat.label, p.box, np.asarray(pts, dtype=np.float64)))
        parts.append(p.mesh)
        ids.append(np.full(len(p.mesh.faces), i, dtype=np.int32))
    for m, sid in shell_meshes(poly, h):
        parts.append(m)
        ids.append(np.full(len(m.faces), sid, dtype=np.int32))
    colors = {i: label_color(o.label) for i, o in enumerate(objects)}
    colors.update({FLOOR_ID: np.array([170, 150, 120], np.uint8), CEILING_ID: np.array([235, 235, 230], np.uint8), WALL_ID: np.array([205, 200, 190], np.uint8)})
    offsets = np.cumsum([0] + [len(m.vertices) for m in parts[:-1]])
    vcol = np.concatenate([np.repeat(colors[int(i[0])][None], len(m.vertices), axis=0) for m, i in zip(parts, ids)])
    mesh = SceneMesh(
        np.concatenate([m.vertices for m in parts]),
        np.concatenate([m.faces + o for m, o in zip(parts, offsets)]),
        np.concatenate(ids),
        vcol,
    )
    floor_feet = [p.foot for p in placed if p.on is None and p.z0 < cfg.eye_height[1] + 0.3]
    targets = np.array([o.box.center for o in objects if o.label not in ("door", "window")]).reshape(-1, 3)
    K = intrinsics(cfg.width, cfg.height, cfg.hfov_deg)
    poses = camera_trajectory(poly, floor_feet, targets, int(cfg.n_frames), rng, cfg.eye_height)
    frames = [Frame(f"{j:06d}", K, T, cfg.width, cfg.height) for j, T in enumerate(poses)]
    meta = {"layout": "synthetic", "seed": int(seed), "room_shape": shape, "room_height": h, "generator_version": GENERATOR_VERSION}
    return Scene(cfg.scene_id or f"synth_{int(seed):05d}", objects, frames, mesh, floor_polygon=poly, meta=meta)
