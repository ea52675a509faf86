"""Furniture categories for synthetic rooms: realistic size ranges and trimesh-primitive builders.

Every builder returns meshes in the object's local frame: metres, x = width, y = depth, z up,
origin at the centre of the footprint on the floor, so the object spans
[-w/2, w/2] x [-d/2, d/2] x [0, h].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import trimesh


def _box(lo: tuple[float, float, float], hi: tuple[float, float, float]) -> trimesh.Trimesh:
    return trimesh.creation.box(bounds=np.array([lo, hi], dtype=np.float64))


def _cyl(radius: float, z0: float, z1: float, x: float = 0.0, y: float = 0.0, sections: int = 16) -> trimesh.Trimesh:
    m = trimesh.creation.cylinder(radius=radius, height=z1 - z0, sections=sections)
    m.apply_translation([x, y, (z0 + z1) / 2])
    return m


def _legs(w: float, d: float, h: float, t: float) -> list[trimesh.Trimesh]:
    xs, ys = (-w / 2, w / 2 - t), (-d / 2, d / 2 - t)
    return [_box((x, y, 0.0), (x + t, y + t, h)) for x in xs for y in ys]


def table(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    return [_box((-w / 2, -d / 2, h - 0.04), (w / 2, d / 2, h)), *_legs(w, d, h - 0.04, 0.05)]


def chair(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    seat = 0.45
    return [
        _box((-w / 2, -d / 2, seat - 0.04), (w / 2, d / 2, seat)),
        _box((-w / 2, d / 2 - 0.05, seat), (w / 2, d / 2, h)),
        *_legs(w, d, seat - 0.04, 0.04),
    ]


def sofa(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    return [
        _box((-w / 2, -d / 2, 0.0), (w / 2, d / 2, 0.42)),
        _box((-w / 2, d / 2 - 0.2, 0.42), (w / 2, d / 2, h)),
        _box((-w / 2, -d / 2, 0.42), (-w / 2 + 0.15, d / 2 - 0.2, 0.62)),
        _box((w / 2 - 0.15, -d / 2, 0.42), (w / 2, d / 2 - 0.2, 0.62)),
    ]


def bed(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    return [_box((-w / 2, -d / 2, 0.0), (w / 2, d / 2, 0.5)), _box((-w / 2, d / 2 - 0.08, 0.5), (w / 2, d / 2, h))]


def block(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    return [_box((-w / 2, -d / 2, 0.0), (w / 2, d / 2, h))]


def shelf(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    parts = [_box((-w / 2, -d / 2, 0.0), (-w / 2 + 0.03, d / 2, h)), _box((w / 2 - 0.03, -d / 2, 0.0), (w / 2, d / 2, h))]
    parts.append(_box((-w / 2, d / 2 - 0.02, 0.0), (w / 2, d / 2, h)))
    for z in np.linspace(0.0, h - 0.03, 5):
        parts.append(_box((-w / 2, -d / 2, z), (w / 2, d / 2, z + 0.03)))
    return parts


def desk(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    return [
        _box((-w / 2, -d / 2, h - 0.04), (w / 2, d / 2, h)),
        _box((-w / 2, -d / 2, 0.0), (-w / 2 + 0.4, d / 2, h - 0.04)),
        *_legs(w, d, h - 0.04, 0.05)[2:],
    ]


def lamp(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    r = min(w, d) / 2
    return [_cyl(r * 0.6, 0.0, 0.03), _cyl(0.015, 0.03, h * 0.7), _cyl(r, h * 0.7, h)]


def plant(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    r = min(w, d) / 2
    foliage = trimesh.creation.icosphere(subdivisions=1, radius=1.0)
    foliage.apply_scale([r, r, (h * 0.65) / 2])
    foliage.apply_translation([0, 0, h * 0.35 + h * 0.65 / 2])
    return [_cyl(r * 0.6, 0.0, h * 0.35), foliage]


def tv(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    return [_box((-w / 2, -0.03, 0.12), (w / 2, 0.03, h)), _box((-w / 6, -d / 2, 0.0), (w / 6, d / 2, 0.02)), _box((-0.03, -0.02, 0.02), (0.03, 0.02, 0.12))]


def stool(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    return [_cyl(min(w, d) / 2, h - 0.04, h), *_legs(w * 0.7, d * 0.7, h - 0.04, 0.03)]


def trash_bin(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    return [_cyl(min(w, d) / 2, 0.0, h)]


def toilet(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    return [_box((-0.15, -d / 2, 0.0), (0.15, d / 2 - 0.2, 0.4)), _box((-w / 2, -d / 2, 0.35), (w / 2, d / 2 - 0.2, 0.42)), _box((-w / 2, d / 2 - 0.2, 0.0), (w / 2, d / 2, h))]


def sink(w: float, d: float, h: float) -> list[trimesh.Trimesh]:
    return [_box((-w / 2, -d / 2, h - 0.15), (w / 2, d / 2, h)), _box((-0.06, -0.06, 0.0), (0.06, 0.06, h - 0.15))]


@dataclass(frozen=True)
class Category:
    """A furniture category: size ranges (metres) and how it is placed.

    Attributes:
        label: lower-case singular name.
        size_min / size_max: (width, depth, height) ranges, metres.
        build: builder returning trimesh parts in the local frame (see the module docstring).
        against_wall: placed with its back (+y side) to a wall.
        support: other objects may stand on it (its top is flat at its full height).
        on_top: stands on a support object instead of the floor.
        max_count: most instances in one room.
    """

    label: str
    size_min: tuple[float, float, float]
    size_max: tuple[float, float, float]
    build: Callable[[float, float, float], list[trimesh.Trimesh]]
    against_wall: bool = False
    support: bool = False
    on_top: bool = False
    max_count: int = 1


CATEGORIES: dict[str, Category] = {
    c.label: c
    for c in [
        Category("bed", (1.4, 1.9, 0.9), (1.8, 2.1, 1.1), bed, against_wall=True),
        Category("sofa", (1.6, 0.8, 0.8), (2.3, 1.0, 0.95), sofa, against_wall=True),
        Category("chair", (0.42, 0.45, 0.8), (0.55, 0.55, 1.0), chair, max_count=4),
        Category("table", (0.8, 0.7, 0.72), (1.6, 1.0, 0.78), table, support=True, max_count=2),
        Category("desk", (1.0, 0.55, 0.72), (1.6, 0.8, 0.78), desk, against_wall=True, support=True),
        Category("cabinet", (0.6, 0.4, 0.8), (1.2, 0.6, 1.2), block, against_wall=True, support=True, max_count=2),
        Category("shelf", (0.6, 0.3, 1.2), (1.2, 0.4, 2.0), shelf, against_wall=True, max_count=2),
        Category("nightstand", (0.4, 0.35, 0.45), (0.55, 0.45, 0.6), block, support=True, max_count=2),
        Category("refrigerator", (0.6, 0.6, 1.6), (0.8, 0.75, 1.9), block, against_wall=True),
        Category("toilet", (0.36, 0.6, 0.75), (0.42, 0.75, 0.85), toilet, against_wall=True),
        Category("sink", (0.45, 0.4, 0.8), (0.7, 0.55, 0.9), sink, against_wall=True),
        Category("stool", (0.3, 0.3, 0.45), (0.4, 0.4, 0.75), stool, max_count=3),
        Category("trash bin", (0.25, 0.25, 0.3), (0.4, 0.4, 0.6), trash_bin, max_count=2),
        Category("plant", (0.3, 0.3, 0.5), (0.6, 0.6, 1.4), plant, max_count=3),
        Category("lamp", (0.2, 0.2, 0.35), (0.35, 0.35, 0.6), lamp, on_top=True, max_count=2),
        Category("tv", (0.7, 0.2, 0.45), (1.2, 0.3, 0.75), tv, on_top=True),
        Category("monitor", (0.45, 0.18, 0.35), (0.65, 0.25, 0.5), tv, on_top=True),
        Category("armchair", (0.7, 0.7, 0.8), (0.95, 0.9, 1.0), sofa, max_count=2),
    ]
}
