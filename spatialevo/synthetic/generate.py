"""Seeded procedural rooms: shell, openings, furniture, surface points, cameras → :class:`Scene`.

World frame: metres, z up, floor at z = 0; the room interior is exactly ``floor_polygon`` x [0, h].

Determinism: every random draw comes from ``numpy.random.default_rng`` seeded with ``seed`` plus a
stream number (``[seed, 0]`` room shell and openings, ``[seed, 1, attempt]`` furniture layout,
``[seed, 2]`` surface points, ``[seed, 3]`` cameras), so the same seed and config give identical
arrays and byte-identical cache files, and changing e.g. ``n_frames`` does not move the furniture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from spatialevo.scene.model import CEILING_ID, FLOOR_ID, WALL_ID, Frame, ObjectInstance, Scene, SceneMesh
from spatialevo.synthetic.catalog import CATEGORIES, DOOR, STRUCTURE_COLORS, WINDOW
from spatialevo.synthetic.layout import Placed, layout_furniture
from spatialevo.synthetic.room import floor_polygon, opening_plan, shell_meshes
from spatialevo.synthetic.trajectory import camera_trajectory, intrinsics

GENERATOR_VERSION = 1
MIN_CATEGORIES = 6  #: distinct furniture labels a room must have (doors and windows not counted)
MAX_ATTEMPTS = 30  #: layout attempts before the best one is kept


def _range(value: object, name: str, lo_min: float, hi_max: float) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ValueError(f"RoomConfig.{name} must be a (min, max) pair of numbers, got {value!r}") from None
    if not (np.isfinite(a) and np.isfinite(b)) or not lo_min <= a <= b <= hi_max:
        raise ValueError(f"RoomConfig.{name} must satisfy {lo_min} <= min <= max <= {hi_max}, got {value!r}")
    return a, b


@dataclass(frozen=True)
class RoomConfig:
    """Options of :func:`generate_room` (lengths in metres, angles in degrees).

    Attributes:
        shape: ``"rect"``, ``"L"`` or ``"random"`` (either, chosen by the seed).
        side_range: range of the sides of the room's bounding rectangle, metres.
        height_range: range of the ceiling height, metres.
        n_objects: (min, max) furniture objects (doors and windows come on top of these).
        n_frames: camera frames (>= 1).
        width, height: image size in pixels.
        hfov_deg: horizontal field of view, degrees.
        eye_height: range of the camera height above the floor, metres.
        scene_id: scene id (default ``synth_<seed:05d>``).

    Raises:
        ValueError: naming the field, for a value out of its range.
    """

    shape: str = "random"
    side_range: tuple[float, float] = (3.0, 7.0)
    height_range: tuple[float, float] = (2.5, 3.0)
    n_objects: tuple[int, int] = (8, 18)
    n_frames: int = 24
    width: int = 640
    height: int = 480
    hfov_deg: float = 70.0
    eye_height: tuple[float, float] = (1.2, 1.7)
    scene_id: str | None = None

    def __post_init__(self) -> None:
        if self.shape not in ("rect", "L", "random"):
            raise ValueError(f"RoomConfig.shape must be 'rect', 'L' or 'random', got {self.shape!r}")
        _range(self.side_range, "side_range", 3.0, 30.0)
        _range(self.height_range, "height_range", 2.2, 6.0)
        lo, hi = _range(self.n_objects, "n_objects", 1, 40)
        if lo != int(lo) or hi != int(hi):
            raise ValueError(f"RoomConfig.n_objects must be integers, got {self.n_objects!r}")
        _range(self.eye_height, "eye_height", 0.3, 2.5)
        if self.eye_height[1] > self.height_range[0] - 0.2:
            raise ValueError(
                f"RoomConfig.eye_height {self.eye_height!r} must stay 0.2 m below the lowest ceiling ({self.height_range[0]} m)"
            )
        for name, minimum in (("n_frames", 1), ("width", 8), ("height", 8)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
                raise ValueError(f"RoomConfig.{name} must be an integer >= {minimum}, got {value!r}")
        if not isinstance(self.hfov_deg, (int, float)) or not 10.0 <= self.hfov_deg <= 150.0:
            raise ValueError(f"RoomConfig.hfov_deg must be in [10, 150] degrees, got {self.hfov_deg!r}")
        if self.scene_id is not None and (not isinstance(self.scene_id, str) or not self.scene_id.strip()):
            raise ValueError(f"RoomConfig.scene_id must be a non-empty string, got {self.scene_id!r}")


def room_config(**kwargs: object) -> RoomConfig:
    """``RoomConfig(**kwargs)``, keeping the defaults for options given as ``None``."""
    return RoomConfig(**{k: v for k, v in kwargs.items() if v is not None})  # type: ignore[arg-type]


def _score(objs: list[Placed]) -> tuple[bool, int, int]:
    labels = [o.label for o in objs if o.label not in (DOOR.label, WINDOW.label)]
    counts = {lab: labels.count(lab) for lab in set(labels)}
    ok = len(counts) >= MIN_CATEGORIES and max(counts.values(), default=0) >= 2
    return ok, len(counts), len(labels)


def _colors() -> dict[str, np.ndarray]:
    table = {lab: np.array(c.color, dtype=np.uint8) for lab, c in CATEGORIES.items()}
    table.update({c.label: np.array(c.color, dtype=np.uint8) for c in (DOOR, WINDOW)})
    table.update({k: np.array(v, dtype=np.uint8) for k, v in STRUCTURE_COLORS.items()})
    return table


def generate_room(seed: int, config: RoomConfig | None = None) -> Scene:
    """Generate a synthetic room; same ``seed`` and ``config`` → identical scene (see module docstring).

    The scene has a rect or L floor polygon (CCW, metres), a mesh (floor, ceiling, walls, objects;
    per-face object ids and per-label vertex colours), objects (furniture, doors, windows) with
    exact oriented boxes and 200–800 surface points each (world frame), and ``n_frames`` camera
    frames. ``meta``: layout, seed, room_shape, room_height (m), generator_version.

    Raises:
        ValueError: for a negative or non-integer seed.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    cfg = config or RoomConfig()
    rng = np.random.default_rng([seed, 0])
    shape = cfg.shape if cfg.shape != "random" else ("rect", "L")[int(rng.integers(2))]
    poly = floor_polygon(shape, rng, cfg.side_range)
    h = float(np.round(rng.uniform(*cfg.height_range), 2))
    openings = opening_plan(rng, poly, h)
    n_target = int(rng.integers(int(cfg.n_objects[0]), int(cfg.n_objects[1]) + 1))

    best: list[Placed] = []
    best_score = (False, -1, -1)
    for attempt in range(MAX_ATTEMPTS):
        objs = layout_furniture(poly, h, np.random.default_rng([seed, 1, attempt]), openings, n_target, attempt >= MAX_ATTEMPTS // 3)
        score = _score(objs)
        if score > best_score:
            best, best_score = objs, score
        if score[0]:
            break

    prng = np.random.default_rng([seed, 2])
    colors = _colors()
    objects, verts, faces, ids, vcols = [], [], [], [], []
    offset = 0
    for i, p in enumerate(best):
        mesh = p.to_trimesh()
        n_pts = int(np.clip(mesh.area * 600, 200, 800))
        pts, _ = trimesh.sample.sample_surface(mesh, n_pts, seed=prng)
        objects.append(ObjectInstance(i, p.label, p.box, np.asarray(pts, dtype=np.float64)))
        verts.append(p.vertices)
        faces.append(p.faces + offset)
        ids.append(np.full(len(p.faces), i, dtype=np.int32))
        vcols.append(np.repeat(colors[p.label][None], len(p.vertices), axis=0))
        offset += len(p.vertices)
    names = {FLOOR_ID: "floor", CEILING_ID: "ceiling", WALL_ID: "wall"}
    for m, sid in shell_meshes(poly, h):
        verts.append(np.asarray(m.vertices, dtype=np.float64))
        faces.append(np.asarray(m.faces, dtype=np.int64) + offset)
        ids.append(np.full(len(m.faces), sid, dtype=np.int32))
        vcols.append(np.repeat(colors[names[sid]][None], len(m.vertices), axis=0))
        offset += len(m.vertices)
    mesh = SceneMesh(np.concatenate(verts), np.concatenate(faces), np.concatenate(ids), np.concatenate(vcols))

    K = intrinsics(cfg.width, cfg.height, cfg.hfov_deg)
    targets = np.array([o.box.center for o in objects if o.label not in (DOOR.label, WINDOW.label)]).reshape(-1, 3)
    poses = camera_trajectory(
        poly, [o.box for o in objects], int(cfg.n_frames), np.random.default_rng([seed, 3]),
        eye_height=(float(cfg.eye_height[0]), float(cfg.eye_height[1])), targets=targets,
    )
    frames = [Frame(f"{j:06d}", K, T, cfg.width, cfg.height) for j, T in enumerate(poses)]
    meta = {"layout": "synthetic", "seed": seed, "room_shape": shape, "room_height": h, "generator_version": GENERATOR_VERSION}
    return Scene(cfg.scene_id or f"synth_{seed:05d}", objects, frames, mesh, floor_polygon=poly, meta=meta)
