"""Furniture placement for synthetic rooms.

World frame, metres, z up, floor at z = 0. Objects are built in their local frame by the catalog
(front = local -y, back = local +y) and placed by a yaw rotation and a translation; each object's
box is the exact bounds of its local mesh moved the same way.

Rules (checked on the exact box footprints with shapely):
- floor objects lie inside the floor polygon and keep ``CLEARANCE`` from every other object whose
  height range overlaps theirs (doors get a 0.9 m deep keep-out zone in front of them);
- wall objects (bed, desk, cabinet, shelf, refrigerator, ...) stand with their back 1 cm from a
  wall, some snapped into a corner; others get a free or near-axis-aligned yaw;
- chairs go around tables and in front of desks, nightstands beside the bed, when they fit;
- objects on top (lamp, monitor, tv, small plant) stand exactly on the flat top of their
  support (bottom z = support top z), inside its footprint, 3 cm from other objects on it;
- the walkable area (floor at least ``trajectory.WALL_MARGIN`` from walls and
  ``trajectory.OBJECT_MARGIN`` from objects) keeps a connected part of at least ``min_walk`` m².
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import trimesh
from shapely.geometry import MultiPolygon, Polygon

from spatialevo.scene.boxes import OrientedBox
from spatialevo.synthetic.catalog import CATEGORIES, DOOR, WINDOW, Category
from spatialevo.synthetic.room import wall_edges
from spatialevo.synthetic.trajectory import OBJECT_MARGIN, free_space

CLEARANCE = 0.1  #: minimum gap between floor objects, metres
TOP_CLEARANCE = 0.03  #: minimum gap between objects on the same support, metres
WALL_GAP = 0.01  #: gap between a wall object's back and the wall, metres
KEEP_OUT = "keep-out"


@dataclass
class Placed:
    """A placed object: world-frame mesh (metres), exact box and footprint, height range."""

    label: str
    vertices: np.ndarray
    faces: np.ndarray
    box: OrientedBox
    foot: Polygon
    z0: float
    z1: float
    support: int | None = None

    @property
    def yaw(self) -> float:
        """Heading of the local x axis, radians."""
        return float(np.arctan2(self.box.rotation[1, 0], self.box.rotation[0, 0]))

    def to_trimesh(self) -> trimesh.Trimesh:
        """The object's world-frame mesh as a trimesh (no processing)."""
        return trimesh.Trimesh(self.vertices, self.faces, process=False)


def yaw_matrix(theta: float) -> np.ndarray:
    """(3, 3) rotation by ``theta`` radians about world z."""
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def yaw_facing(direction: np.ndarray) -> float:
    """Yaw (radians) that turns an object's front (local -y) towards the world xy ``direction``."""
    return float(np.arctan2(direction[0], -direction[1]))


@lru_cache(maxsize=512)
def _local_mesh_cached(cat: Category, w: float, d: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    parts = cat.build(w, d, h)
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts[:-1]])
    verts = np.concatenate([np.asarray(p.vertices, dtype=np.float64) for p in parts])
    faces = np.concatenate([np.asarray(p.faces, dtype=np.int64) + o for p, o in zip(parts, offsets)])
    verts.setflags(write=False)
    faces.setflags(write=False)
    return verts, faces


def _local_mesh(cat: Category, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local-frame (vertices, faces) of ``cat`` at ``size``; memoised (read-only arrays)."""
    return _local_mesh_cached(cat, float(size[0]), float(size[1]), float(size[2]))


def instantiate(cat: Category, size: np.ndarray, xy: np.ndarray, z0: float, yaw: float, label: str | None = None) -> Placed:
    """Build ``cat`` at ``size`` (w, d, h) with its local origin at (xy, z0) and heading ``yaw``."""
    verts, faces = _local_mesh(cat, size)
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    R = yaw_matrix(yaw)
    t = np.array([xy[0], xy[1], z0 - lo[2]])
    world = verts @ R.T + t
    box = OrientedBox(R @ ((lo + hi) / 2) + t, hi - lo, R)
    foot = Polygon(box.corners()[[0, 2, 6, 4], :2])
    return Placed(label or cat.label, world, faces, box, foot, float(z0), float(z0 - lo[2] + hi[2]))


def _largest_area(geom: Polygon | MultiPolygon) -> float:
    if geom.is_empty:
        return 0.0
    if isinstance(geom, Polygon):
        return float(geom.area)
    return max((float(g.area) for g in geom.geoms), default=0.0)


class Layout:
    """Greedy, seeded placement of furniture in a room (see the module docstring).

    Args:
        poly: (M, 2) CCW floor polygon, world xy, metres.
        height: ceiling height, metres.
        rng: the only source of randomness.
        openings: door / window placements from :func:`room.opening_plan`.
    """

    def __init__(self, poly: np.ndarray, height: float, rng: np.random.Generator, openings: list[dict]) -> None:
        self.poly = poly
        self.height = height
        self.rng = rng
        self.room = Polygon(poly)
        self.edges = wall_edges(poly)
        self.placed: list[Placed] = []
        self.walk = free_space(poly, [])
        self.min_walk = max(1.0, 0.12 * self.room.area)
        for op in openings:
            cat = DOOR if op["label"] == "door" else WINDOW
            p = instantiate(cat, op["size"], op["xy"], op["z0"], op["yaw"])
            if not self._collides(p, 0.05):
                self.placed.append(p)
                if cat is DOOR:  # keep the doorway free
                    zone = np.array([op["size"][0] + 0.2, 0.9, op["size"][2]])
                    self.placed.append(instantiate(cat, zone, op["xy"] + op["n_in"] * 0.47, 0.0, op["yaw"], KEEP_OUT))

    # -- checks -------------------------------------------------------------------------------
    def _collides(self, cand: Placed, clearance: float) -> bool:
        grown = cand.foot.buffer(clearance, join_style="mitre")
        return any(
            cand.z0 < o.z1 - 1e-6 and o.z0 < cand.z1 - 1e-6 and grown.intersects(o.foot) for o in self.placed
        )

    def _accept_floor(self, cand: Placed) -> bool:
        if cand.z1 > self.height - 0.05 or not self.room.contains(cand.foot):
            return False
        if self._collides(cand, CLEARANCE):
            return False
        walk = self.walk.difference(cand.foot.buffer(OBJECT_MARGIN))
        if _largest_area(walk) < self.min_walk:
            return False
        self.walk = walk
        self.placed.append(cand)
        return True

    # -- placement strategies -------------------------------------------------------------------
    def _against_wall(self, cat: Category, size: np.ndarray) -> Placed | None:
        lengths = np.array([e[3] for e in self.edges])
        k = int(self.rng.choice(len(self.edges), p=lengths / lengths.sum()))
        p0, e, n_in, length = self.edges[k]
        lo_s, hi_s = size[0] / 2 + WALL_GAP, length - size[0] / 2 - WALL_GAP
        if hi_s < lo_s:
            return None
        u = self.rng.random()
        s = lo_s if u < 0.15 else hi_s if u < 0.3 else float(self.rng.uniform(lo_s, hi_s))
        xy = p0 + s * e + n_in * (size[1] / 2 + WALL_GAP)
        return instantiate(cat, size, xy, 0.0, yaw_facing(n_in))

    def _free(self, cat: Category, size: np.ndarray) -> Placed:
        lo, hi = self.poly.min(axis=0), self.poly.max(axis=0)
        xy = self.rng.uniform(lo, hi)
        if self.rng.random() < 0.4:
            yaw = float(self.rng.uniform(0.0, 2 * np.pi))
        else:
            yaw = float(self.rng.integers(4) * np.pi / 2 + self.rng.normal(0.0, 0.08))
        return instantiate(cat, size, xy, 0.0, yaw)

    def _companion(self, cat: Category, size: np.ndarray) -> list[Placed]:
        """Candidate spots next to an anchor: chairs at tables / desks, nightstands beside beds."""
        out: list[Placed] = []
        if cat.label == "chair":
            for a in self.placed:
                if a.label not in ("table", "desk"):
                    continue
                R, c, ext = a.box.rotation[:2, :2], a.box.center[:2], a.box.extents
                if a.label == "desk":
                    slots = [(np.array([0.0, -1.0]), 0.0)]
                else:
                    slots = [(np.array([0.0, -1.0]), 0.0), (np.array([0.0, 1.0]), 0.0), (np.array([1.0, 0.0]), 0.0), (np.array([-1.0, 0.0]), 0.0)]
                    if ext[0] >= 1.2:  # two chairs per long side
                        q = ext[0] / 4
                        slots = [(np.array([0.0, s]), x) for s in (-1.0, 1.0) for x in (-q, q)] + slots[2:]
                for j in self.rng.permutation(len(slots)):
                    n, along = slots[int(j)]
                    gap = float(self.rng.uniform(CLEARANCE + 0.02, 0.25))
                    half = ext[1] / 2 if n[0] == 0 else ext[0] / 2
                    local = n * (half + gap + size[1] / 2) + np.array([along, 0.0])
                    n_w = R @ n
                    out.append(instantiate(cat, size, c + R @ local, 0.0, yaw_facing(-n_w) + float(self.rng.normal(0, 0.05))))
        elif cat.label == "nightstand":
            for a in self.placed:
                if a.label != "bed":
                    continue
                R, c, ext = a.box.rotation[:2, :2], a.box.center[:2], a.box.extents
                for side in self.rng.permutation([-1.0, 1.0]):
                    gap = float(self.rng.uniform(CLEARANCE + 0.02, 0.2))
                    local = np.array([side * (ext[0] / 2 + gap + size[0] / 2), ext[1] / 2 - size[1] / 2])
                    out.append(instantiate(cat, size, c + R @ local, 0.0, a.yaw))
        return out

    def place_floor(self, cat: Category, tries: int = 40) -> bool:
        """Place one instance of ``cat`` on the floor; False when no spot was found."""
        size = cat.sample_size(self.rng)
        for cand in self._companion(cat, size):
            if self._accept_floor(cand):
                return True
        for _ in range(tries):
            cand = self._against_wall(cat, size) if cat.against_wall else self._free(cat, size)
            if cand is not None and self._accept_floor(cand):
                return True
        return False

    def place_on_top(self, cat: Category, tries: int = 12) -> bool:
        """Place one instance of ``cat`` on a compatible support; False when none fits."""
        supports = [i for i, s in enumerate(self.placed) if s.label in cat.on and s.support is None]
        if not supports:
            return False
        for _ in range(tries):
            i = supports[int(self.rng.integers(len(supports)))]
            s = self.placed[i]
            size = cat.sample_size(self.rng, on_top=True)
            room = s.box.extents[:2] - size[:2] - 2 * TOP_CLEARANCE
            if (room < 0).any():
                continue
            local = self.rng.uniform(-0.5, 0.5, 2) * room
            if cat.label in ("tv", "monitor"):  # screens towards the back of the support
                local[1] = room[1] / 2 * float(self.rng.uniform(0.5, 1.0))
            flip = 0.0 if cat.label in ("tv", "monitor") else float(self.rng.integers(2) * np.pi)
            xy = s.box.center[:2] + s.box.rotation[:2, :2] @ local
            cand = instantiate(cat, size, xy, s.z1, s.yaw + flip)
            if cand.z1 > self.height - 0.1 or not s.foot.buffer(1e-9).contains(cand.foot):
                continue
            if self._collides(cand, TOP_CLEARANCE):
                continue
            cand.support = i
            self.placed.append(cand)
            return True
        return False

    def objects(self) -> list[Placed]:
        """The placed objects (keep-out zones removed), supports' indices remapped."""
        keep = [i for i, p in enumerate(self.placed) if p.label != KEEP_OUT]
        remap = {old: new for new, old in enumerate(keep)}
        out = []
        for i in keep:
            p = self.placed[i]
            if p.support is not None:
                p.support = remap[p.support]
            out.append(p)
        return out


def choose_plan(rng: np.random.Generator, n: int, compact: bool = False) -> list[tuple[str, bool]]:
    """(label, on_top) items for ``n`` furniture objects: a table with 2–4 chairs, then a weighted
    draw (already drawn categories are less likely, ``max_count`` respected), supports first.
    ``compact`` (for small rooms that failed before): two chairs and no object over 1 m³."""
    plan: list[tuple[str, bool]] = [("table", False)] + [("chair", False)] * (2 if compact else int(rng.integers(2, 5)))
    labels = [lab for lab in CATEGORIES if not compact or np.prod(CATEGORIES[lab].size_max) <= 1.0]
    base = np.array([CATEGORIES[lab].weight for lab in labels])
    for _ in range(400):
        if len(plan) >= n:
            break
        counts = np.array([sum(1 for p in plan if p[0] == lab) for lab in labels])
        w = base * np.where(counts > 0, 0.35, 1.0) * (counts < [CATEGORIES[lab].max_count for lab in labels])
        lab = labels[int(rng.choice(len(labels), p=w / w.sum()))]
        cat = CATEGORIES[lab]
        present = {p[0] for p in plan}
        can_top = bool(set(cat.on) & present)
        if not cat.floor and not can_top:
            continue
        on_top = not cat.floor or (can_top and rng.random() < 0.5)
        plan.append((lab, on_top))
    def vol(item: tuple[str, bool]) -> float:
        return -float(np.prod(CATEGORIES[item[0]].size_max))

    # anchors (tables, desks, beds: the larger objects) before their companions, tops last
    floor = sorted((p for p in plan[1:] if not p[1] and p[0] != "chair"), key=vol)
    big = [p for p in floor if -vol(p) >= 0.6]
    small = [p for p in floor if -vol(p) < 0.6]
    chairs = [p for p in plan if p[0] == "chair"]
    tops = [p for p in plan if p[1]]
    return [plan[0], *big, *chairs, *small, *tops]


def layout_furniture(
    poly: np.ndarray, height: float, rng: np.random.Generator, openings: list[dict], n: int, compact: bool = False
) -> list[Placed]:
    """One placement attempt: openings, then the plan of :func:`choose_plan` for ``n`` objects."""
    lay = Layout(poly, height, rng, openings)
    for label, on_top in choose_plan(rng, n, compact):
        cat = CATEGORIES[label]
        if on_top:
            lay.place_on_top(cat)
        else:
            lay.place_floor(cat)
    return lay.objects()
