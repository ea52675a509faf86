"""Furniture categories for synthetic rooms: realistic size ranges and trimesh-primitive builders.

Every builder takes ``(w, d, h)`` in metres and returns trimesh parts in the object's *local*
frame: metres, x = width, y = depth, z up, origin at the centre of the footprint on the floor, so
the object spans [-w/2, w/2] x [-d/2, d/2] x [0, h]. The object's **front faces local -y** and its
back (the side put against a wall) is local +y. The exact oriented box of a placed object is the
bounds of its local mesh moved by the placement (never refit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import trimesh

Parts = list[trimesh.Trimesh]
Size = tuple[float, float, float]


def _box(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> trimesh.Trimesh:
    return trimesh.creation.box(bounds=np.array([lo, hi], dtype=np.float64))


def _cyl(radius: float, z0: float, z1: float, x: float = 0.0, y: float = 0.0, sections: int = 16) -> trimesh.Trimesh:
    """Vertical cylinder; with 16 sections its vertex bounds are exactly ±radius in x and y."""
    m = trimesh.creation.cylinder(radius=radius, height=z1 - z0, sections=sections)
    m.apply_translation([x, y, (z0 + z1) / 2])
    return m


def _legs(w: float, d: float, h: float, t: float) -> Parts:
    xs, ys = (-w / 2, w / 2 - t), (-d / 2, d / 2 - t)
    return [_box((x, y, 0.0), (x + t, y + t, h)) for x in xs for y in ys]


def table(w: float, d: float, h: float) -> Parts:
    """Top board + four legs."""
    return [_box((-w / 2, -d / 2, h - 0.04), (w / 2, d / 2, h)), *_legs(w, d, h - 0.04, 0.05)]


def desk(w: float, d: float, h: float) -> Parts:
    """Top board, a drawer pedestal on the left, two legs on the right."""
    return [
        _box((-w / 2, -d / 2, h - 0.04), (w / 2, d / 2, h)),
        _box((-w / 2, -d / 2 + 0.02, 0.0), (-w / 2 + 0.4, d / 2, h - 0.04)),
        *_legs(w, d, h - 0.04, 0.05)[2:],
    ]


def chair(w: float, d: float, h: float) -> Parts:
    """Seat at 0.45 m, backrest at the back (+y), four legs."""
    seat = min(0.46, h - 0.3)
    return [
        _box((-w / 2, -d / 2, seat - 0.04), (w / 2, d / 2, seat)),
        _box((-w / 2, d / 2 - 0.05, seat), (w / 2, d / 2, h)),
        *_legs(w, d, seat - 0.04, 0.04),
    ]


def stool(w: float, d: float, h: float) -> Parts:
    """Round seat on four legs."""
    r = min(w, d) / 2
    return [_cyl(r, h - 0.04, h), *_legs(r * 1.2, r * 1.2, h - 0.04, 0.03)]


def sofa(w: float, d: float, h: float) -> Parts:
    """Seat block, backrest at the back, two armrests."""
    arm = 0.15 if w > 1.2 else 0.12
    return [
        _box((-w / 2, -d / 2, 0.0), (w / 2, d / 2, 0.42)),
        _box((-w / 2, d / 2 - 0.2, 0.42), (w / 2, d / 2, h)),
        _box((-w / 2, -d / 2, 0.42), (-w / 2 + arm, d / 2 - 0.2, 0.64)),
        _box((w / 2 - arm, -d / 2, 0.42), (w / 2, d / 2 - 0.2, 0.64)),
    ]


def bed(w: float, d: float, h: float) -> Parts:
    """Mattress base, headboard at the back, two pillows."""
    pw = min(0.6, w / 2 - 0.1)
    return [
        _box((-w / 2, -d / 2, 0.0), (w / 2, d / 2, 0.5)),
        _box((-w / 2, d / 2 - 0.08, 0.5), (w / 2, d / 2, h)),
        _box((-w / 2 + 0.05, d / 2 - 0.5, 0.5), (-w / 2 + 0.05 + pw, d / 2 - 0.12, 0.62)),
        _box((w / 2 - 0.05 - pw, d / 2 - 0.5, 0.5), (w / 2 - 0.05, d / 2 - 0.12, 0.62)),
    ]


def cabinet(w: float, d: float, h: float) -> Parts:
    """Body on a plinth with two door panels and handles on the front (-y)."""
    return [
        _box((-w / 2 + 0.03, -d / 2 + 0.05, 0.0), (w / 2 - 0.03, d / 2, 0.08)),
        _box((-w / 2, -d / 2 + 0.02, 0.08), (w / 2, d / 2, h)),
        _box((-w / 2 + 0.01, -d / 2 + 0.005, 0.1), (-0.005, -d / 2 + 0.02, h - 0.02)),
        _box((0.005, -d / 2 + 0.005, 0.1), (w / 2 - 0.01, -d / 2 + 0.02, h - 0.02)),
        _box((-0.06, -d / 2, h * 0.6), (-0.04, -d / 2 + 0.005, h * 0.6 + 0.12)),
        _box((0.04, -d / 2, h * 0.6), (0.06, -d / 2 + 0.005, h * 0.6 + 0.12)),
    ]


def nightstand(w: float, d: float, h: float) -> Parts:
    """Body with a drawer front and knob."""
    return [
        _box((-w / 2, -d / 2 + 0.02, 0.0), (w / 2, d / 2, h)),
        _box((-w / 2 + 0.03, -d / 2 + 0.005, h * 0.55), (w / 2 - 0.03, -d / 2 + 0.02, h - 0.03)),
        _box((-0.02, -d / 2, h * 0.7), (0.02, -d / 2 + 0.005, h * 0.74)),
    ]


def shelf(w: float, d: float, h: float) -> Parts:
    """Bookshelf: two sides, a back panel and five boards (the top board is flat at ``h``)."""
    parts = [_box((-w / 2, -d / 2, 0.0), (-w / 2 + 0.03, d / 2, h)), _box((w / 2 - 0.03, -d / 2, 0.0), (w / 2, d / 2, h))]
    parts.append(_box((-w / 2, d / 2 - 0.02, 0.0), (w / 2, d / 2, h)))
    for z in np.linspace(0.0, h - 0.03, 5):
        parts.append(_box((-w / 2, -d / 2, z), (w / 2, d / 2, z + 0.03)))
    return parts


def refrigerator(w: float, d: float, h: float) -> Parts:
    """Body, freezer / fridge doors on the front and a vertical handle."""
    split = h * 0.68
    return [
        _box((-w / 2, -d / 2 + 0.04, 0.0), (w / 2, d / 2, h)),
        _box((-w / 2, -d / 2 + 0.02, 0.02), (w / 2, -d / 2 + 0.04, split - 0.01)),
        _box((-w / 2, -d / 2 + 0.02, split + 0.01), (w / 2, -d / 2 + 0.04, h - 0.01)),
        _box((w / 2 - 0.08, -d / 2, split - 0.45), (w / 2 - 0.06, -d / 2 + 0.02, split + 0.3)),
    ]


def lamp(w: float, d: float, h: float) -> Parts:
    """Table lamp: disc base, thin pole, cylindrical shade."""
    r = min(w, d) / 2
    return [_cyl(r * 0.6, 0.0, 0.03), _cyl(0.012, 0.03, h * 0.6), _cyl(r, h * 0.6, h)]


def plant(w: float, d: float, h: float) -> Parts:
    """Pot cylinder with an ellipsoidal (icosphere) foliage on top."""
    r = min(w, d) / 2
    foliage = trimesh.creation.icosphere(subdivisions=1, radius=1.0)
    foliage.apply_scale([r, r, (h * 0.65) / 2])
    foliage.apply_translation([0, 0, h * 0.35 + h * 0.65 / 2])
    return [_cyl(r * 0.6, 0.0, h * 0.35), foliage]


def tv(w: float, d: float, h: float) -> Parts:
    """Thin screen on a neck and a flat foot (used for tv and monitor)."""
    foot = min(0.02, h * 0.05)
    neck = max(0.08, h * 0.2)
    return [
        _box((-w / 2, -0.025, neck), (w / 2, 0.025, h)),
        _box((-w / 6, -d / 2, 0.0), (w / 6, d / 2, foot)),
        _box((-0.03, -0.02, foot), (0.03, 0.02, neck)),
    ]


def trash_bin(w: float, d: float, h: float) -> Parts:
    """Cylinder body with a rim."""
    r = min(w, d) / 2
    return [_cyl(r * 0.95, 0.0, h - 0.03), _cyl(r, h - 0.03, h)]


def toilet(w: float, d: float, h: float) -> Parts:
    """Pedestal, bowl and seat in front, cistern at the back."""
    bowl_d = d - 0.2
    r = min(w / 2, bowl_d / 2)
    yc = -d / 2 + r
    return [
        _box((-0.13, yc - 0.12, 0.0), (0.13, d / 2 - 0.2, 0.3)),
        _cyl(r, 0.3, 0.4, y=yc),
        _box((-w / 2, yc, 0.36), (w / 2, d / 2 - 0.2, 0.42)),
        _box((-w / 2, d / 2 - 0.2, 0.0), (w / 2, d / 2, h)),
    ]


def sink(w: float, d: float, h: float) -> Parts:
    """Basin block on a pedestal with a tap at the back."""
    return [
        _box((-w / 2, -d / 2, h - 0.15), (w / 2, d / 2 - 0.03, h - 0.02)),
        _box((-0.06, -0.06, 0.0), (0.06, 0.06, h - 0.15)),
        _box((-0.02, d / 2 - 0.1, h - 0.02), (0.02, d / 2 - 0.06, h)),
        _box((-w / 2, d / 2 - 0.03, h - 0.15), (w / 2, d / 2, h)),
    ]


def panel(w: float, d: float, h: float) -> Parts:
    """Thin flat panel (doors and windows)."""
    return [_box((-w / 2, -d / 2, 0.0), (w / 2, d / 2, h))]


@dataclass(frozen=True)
class Category:
    """A furniture category: size ranges (metres) and how it is placed.

    Attributes:
        label: lower-case singular name.
        size_min / size_max: (width, depth, height) ranges, metres, when standing on the floor.
        build: builder returning trimesh parts in the local frame (see the module docstring).
        color: RGB uint8 colour of the category's mesh.
        against_wall: placed with its back (local +y) to a wall.
        support: other objects may stand on it (its top is flat at its full height).
        on: labels of the supports it may stand on (empty: floor only).
        floor: whether it may stand on the floor.
        on_size: (min, max) size ranges, metres, when standing on a support (default: the floor ranges).
        max_count: most instances in one room.
        weight: relative frequency when drawing categories for a room.
    """

    label: str
    size_min: Size
    size_max: Size
    build: Callable[[float, float, float], Parts]
    color: tuple[int, int, int] = (128, 128, 128)
    against_wall: bool = False
    support: bool = False
    on: tuple[str, ...] = ()
    floor: bool = True
    on_size: tuple[Size, Size] | None = None
    max_count: int = 1
    weight: float = 1.0

    def sample_size(self, rng: np.random.Generator, on_top: bool = False) -> np.ndarray:
        """(3,) width, depth, height in metres, uniform in the ranges, rounded to millimetres."""
        lo, hi = self.on_size if (on_top and self.on_size is not None) else (self.size_min, self.size_max)
        return np.round(rng.uniform(lo, hi), 3)


_TOPS = ("table", "desk", "cabinet", "nightstand")

#: Every furniture category, by label (insertion order is the stable iteration order).
CATEGORIES: dict[str, Category] = {
    c.label: c
    for c in [
        Category("bed", (1.4, 1.9, 0.9), (1.8, 2.1, 1.1), bed, (200, 190, 220), against_wall=True),
        Category("sofa", (1.6, 0.8, 0.8), (2.3, 1.0, 0.95), sofa, (120, 90, 160), against_wall=True),
        Category("armchair", (0.7, 0.7, 0.8), (0.95, 0.9, 1.0), sofa, (150, 110, 90), max_count=2),
        Category("chair", (0.42, 0.45, 0.8), (0.55, 0.55, 1.0), chair, (200, 140, 60), max_count=4, weight=1.5),
        Category("stool", (0.3, 0.3, 0.45), (0.4, 0.4, 0.75), stool, (170, 120, 80), max_count=3),
        Category("table", (0.8, 0.7, 0.72), (1.6, 1.0, 0.78), table, (150, 100, 50), support=True, max_count=2),
        Category("desk", (1.0, 0.55, 0.72), (1.6, 0.8, 0.78), desk, (110, 80, 50), against_wall=True, support=True),
        Category("cabinet", (0.6, 0.4, 0.8), (1.2, 0.6, 1.2), cabinet, (180, 160, 130), against_wall=True, support=True, max_count=2),
        Category("nightstand", (0.4, 0.35, 0.45), (0.55, 0.45, 0.6), nightstand, (160, 120, 90), support=True, max_count=2),
        Category("shelf", (0.6, 0.3, 1.2), (1.2, 0.4, 2.0), shelf, (140, 90, 60), against_wall=True, support=True, max_count=2),
        Category("refrigerator", (0.6, 0.6, 1.6), (0.8, 0.75, 1.9), refrigerator, (225, 230, 235), against_wall=True),
        Category("toilet", (0.36, 0.6, 0.75), (0.42, 0.75, 0.85), toilet, (245, 245, 250), against_wall=True),
        Category("sink", (0.45, 0.4, 0.8), (0.7, 0.55, 0.9), sink, (210, 225, 235), against_wall=True),
        Category("trash bin", (0.25, 0.25, 0.3), (0.4, 0.4, 0.6), trash_bin, (90, 110, 90), max_count=2),
        Category(
            "plant", (0.3, 0.3, 0.5), (0.6, 0.6, 1.4), plant, (60, 150, 60), on=("shelf", *_TOPS),
            on_size=((0.15, 0.15, 0.2), (0.3, 0.3, 0.45)), max_count=3,
        ),
        Category("lamp", (0.2, 0.2, 0.35), (0.35, 0.35, 0.6), lamp, (250, 220, 120), on=("nightstand", "desk", "table", "cabinet"), floor=False, max_count=2),
        Category("tv", (0.7, 0.2, 0.45), (1.2, 0.3, 0.75), tv, (30, 30, 35), on=("cabinet", "table"), floor=False),
        Category("monitor", (0.45, 0.18, 0.35), (0.65, 0.25, 0.5), tv, (50, 50, 60), on=("desk", "table"), floor=False),
    ]
}

#: Openings on the walls (objects too, but placed by :mod:`spatialevo.synthetic.room`).
DOOR = Category("door", (0.8, 0.04, 2.0), (0.95, 0.04, 2.1), panel, (130, 85, 45))
WINDOW = Category("window", (0.8, 0.03, 1.0), (1.5, 0.03, 1.3), panel, (170, 210, 240))

#: Colours of the room shell (RGB uint8), by structure name.
STRUCTURE_COLORS: dict[str, tuple[int, int, int]] = {"floor": (170, 150, 120), "ceiling": (235, 235, 230), "wall": (205, 200, 190)}
