"""What a verdict picture (:mod:`spatialevo.show`) draws on the top-down view, task by task.

Each drawer gets a :class:`Ctx` (the :class:`~spatialevo.scene.topdown.TopDown` being drawn, the
scene, the DGE's scene index, the question, its resolved references and the verdict) and returns
the caption lines that say what it drew. Numbers come from the verdict's evidence (what the DGE
computed); positions from the same geometry the DGE uses (:mod:`spatialevo.dge.geometry`): the
closest points of two solid boxes are the pair that attains the DGE's box–box distance
(:func:`closest_points`), a camera's view direction is :func:`~spatialevo.dge.geometry.camera_heading`.

World frame: metres, z up; the top-down view drops z.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spatialevo.dge.geometry import (
    BOX_EDGES,
    DIRECTIONS_8,
    box_box_distance,
    box_corners,
    camera_heading,
    point_box_distance,
    segment_segment_distance,
)
from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved
from spatialevo.dge.verdict import Verdict
from spatialevo.scene.model import Frame, ObjectInstance, Scene
from spatialevo.scene.topdown import TopDown

Color = tuple[int, int, int]
#: colours of the question's objects, by position (A, B, C, …)
ROLE_COLORS: tuple[Color, ...] = ((220, 40, 40), (30, 90, 220), (20, 150, 60), (140, 90, 20), (150, 40, 190), (0, 150, 170))
CAMERA_COLORS: tuple[Color, ...] = ((0, 0, 0), (120, 60, 160))
GREY: Color = (110, 110, 110)
#: arrows of a verdict's geometry (distinct from the trajectory's red)
ARROW: Color = (245, 130, 0)
#: subdivisions of the 1-D searches that locate the closest points of two box edges
_SEARCH = 65


@dataclass
class Ctx:
    """What a drawer needs: the top-down being drawn and the DGE's view of the question."""

    td: TopDown
    scene: Scene
    index: SceneIndex
    q: Question
    r: Resolved
    v: Verdict
    colors: dict[int, Color]

    def ev(self, key: str, default: Any = None) -> Any:
        return self.v.evidence.get(key, default)

    def obj(self, pos: int) -> ObjectInstance:
        return self.scene.objects[self.r.objects[pos][0]]

    def color(self, pos: int) -> Color:
        return self.colors.get(self.r.objects[pos][0], GREY)

    def frame(self, k: int) -> Frame:
        return self.index.frames[self.r.frames[k]]

    def box(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.index.centers[i], self.index.extents[i], self.index.rotations[i]


# -- geometry ---------------------------------------------------------------------------------
def closest_point_on_box(p: np.ndarray, center: np.ndarray, extents: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """(3,) point of the solid box nearest to ``p`` (world, metres): ``p`` clamped in the box frame
    (the point :func:`~spatialevo.dge.geometry.point_box_distance` measures to)."""
    local = np.clip((np.asarray(p, dtype=np.float64) - center) @ rotation, -0.5 * extents, 0.5 * extents)
    return center + rotation @ local


def _segment_search(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closest points of segments [a0, a1] and [b0, b1]: the distance from a point of the first to
    the second segment (:func:`segment_segment_distance` of a degenerate segment) is convex along
    the first, so a few refined 1-D grids find its minimiser (to ~1e-9 of the edge length); the
    point of the second segment is found the same way."""

    def argmin(f: Callable[[np.ndarray], np.ndarray]) -> float:
        lo, hi = 0.0, 1.0
        for _ in range(5):
            t = np.linspace(lo, hi, _SEARCH)
            k = int(np.argmin(f(t)))
            lo, hi = t[max(k - 1, 0)], t[min(k + 1, _SEARCH - 1)]
        return float((lo + hi) / 2)

    def on(p0: np.ndarray, p1: np.ndarray, t: np.ndarray) -> np.ndarray:
        return p0 + np.multiply.outer(np.atleast_1d(t), p1 - p0)

    s = argmin(lambda t: segment_segment_distance(on(a0, a1, t), on(a0, a1, t), b0, b1))
    p = on(a0, a1, s)[0]
    u = argmin(lambda t: np.linalg.norm(on(b0, b1, t) - p, axis=-1))
    return p, on(b0, b1, u)[0]


def closest_points(index: SceneIndex, i: int, j: int) -> tuple[np.ndarray, np.ndarray, float]:
    """``(point on box i, point on box j, distance)``: the pair of points (world, metres) whose
    distance is the DGE's solid-box distance (:func:`box_box_distance`: the minimum over the
    corner–box and edge–edge candidates, the minimising candidate located here); for boxes that
    intersect (distance 0) both points are the point of box ``i`` nearest to box ``j``'s centre."""
    c1, e1, r1 = index.centers[i], index.extents[i], index.rotations[i]
    c2, e2, r2 = index.centers[j], index.extents[j], index.rotations[j]
    d = float(box_box_distance(c1, e1, r1, c2, e2, r2))
    if d == 0.0:
        p = closest_point_on_box(c2, c1, e1, r1)
        return p, p, 0.0
    k1, k2 = box_corners(c1, e1, r1), box_corners(c2, e2, r2)
    d12, d21 = point_box_distance(k1, c2, e2, r2), point_box_distance(k2, c1, e1, r1)
    ee = segment_segment_distance(k1[BOX_EDGES[:, 0], None], k1[BOX_EDGES[:, 1], None], k2[None, BOX_EDGES[:, 0]], k2[None, BOX_EDGES[:, 1]])
    best = int(np.argmin([d12.min(), d21.min(), ee.min()]))
    if best == 0:
        p = k1[int(np.argmin(d12))]
        return p, closest_point_on_box(p, c2, e2, r2), d
    if best == 1:
        q = k2[int(np.argmin(d21))]
        return closest_point_on_box(q, c1, e1, r1), q, d
    a, b = np.unravel_index(int(np.argmin(ee)), ee.shape)
    p, q = _segment_search(k1[BOX_EDGES[a, 0]], k1[BOX_EDGES[a, 1]], k2[BOX_EDGES[b, 0]], k2[BOX_EDGES[b, 1]])
    return p, q, d


def longest_edge(index: SceneIndex, i: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(start, end, vertical?)`` of one longest edge of box ``i`` (world, metres): the edge along
    the box axis of the largest extent; ``vertical`` when it points within 30° of z (it projects to
    nearly a point on the floor)."""
    c, e, rot = index.centers[i], index.extents[i], index.rotations[i]
    a = int(np.argmax(e))
    offset = sum(-0.5 * e[k] * rot[:, k] for k in range(3) if k != a)
    half = 0.5 * e[a] * rot[:, a]
    return c + offset - half, c + offset + half, bool(abs(rot[2, a]) > math.cos(math.radians(30)))


def _dist(m: float) -> str:
    return f"{m:.2f} m"


# -- the drawers --------------------------------------------------------------------------------
def _highlight_all(c: Ctx, names: tuple[str, ...] = ()) -> None:
    for pos, inst in enumerate(c.r.objects):
        tag = names[pos] if pos < len(names) else ""
        c.td.highlight(c.scene.objects[inst[0]], c.color(pos), f"{tag}{c.scene.objects[inst[0]].ref}")


def _counting(c: Ctx) -> list[str]:
    inst = c.r.objects[0]
    for k, i in enumerate(inst):
        c.td.highlight(c.scene.objects[i], c.colors[i], f"{k + 1}: {c.scene.objects[i].ref}")
    return [f"Drawn: the {len(inst)} instance(s) of '{c.r.labels[0]}' outlined and numbered (count {c.ev('count', len(inst))})."]


def _edge_lines(c: Ctx, pos: int, cm: bool) -> str:
    i = c.r.objects[pos][0]
    p, q, vertical = longest_edge(c.index, i)
    length = float(c.index.longest[i])
    text = f"{round(length * 100)} cm" if cm else _dist(length)
    if vertical:
        c.td.marker(p, c.color(pos), f"{text} (vertical edge)")
    else:
        c.td.segment(p, q, c.color(pos), text, width=4)
    return f"{c.obj(pos).ref}: longest box edge {length:.3f} m" + (" (vertical: a dot on the top-down view)" if vertical else "")


def _size(c: Ctx) -> list[str]:
    c.td.highlight(c.obj(0), c.color(0))
    return ["Drawn: the object's footprint and its longest box edge; " + _edge_lines(c, 0, cm=True) + "."]


def _attribute(c: Ctx) -> list[str]:
    _highlight_all(c, ("A: ", "B: "))
    lines = [_edge_lines(c, k, cm=False) for k in range(2)]
    _cameras(c)
    return ["Drawn: both footprints, their longest edges and the two cameras; " + "; ".join(lines) + "."]


def _absolute(c: Ctx) -> list[str]:
    _highlight_all(c, ("A: ", "B: "))
    i, j = c.r.objects[0][0], c.r.objects[1][0]
    p, q, d = closest_points(c.index, i, j)
    c.td.segment(c.index.centers[i], c.index.centers[j], GREY, f"centres {_dist(c.ev('center_distance_m', 0.0))}", width=1,
                 dashed=True, ends=False)
    c.td.segment(p, q, (0, 0, 0), _dist(c.ev("distance_m", d)), width=3)
    c.td.legend("closest-point distance", (0, 0, 0))
    return [f"Drawn: the measured segment between the boxes' closest points ({_dist(d)}, solid black) and, dashed, the "
            f"centre distance ({_dist(c.ev('center_distance_m', 0.0))}) the task does not use."]


def _relative_distance(c: Ctx) -> list[str]:
    a = c.r.objects[0][0]
    c.td.highlight(c.obj(0), c.color(0), f"anchor: {c.obj(0).ref}")
    dists = c.ev("distances_m") or []
    parts = []
    for pos in range(1, len(c.r.objects)):
        inst = c.r.objects[pos]
        near = inst[int(np.argmin(c.index.distances_from(a, inst)))]
        obj, col = c.scene.objects[near], c.colors.get(inst[0], GREY)
        c.td.highlight(obj, col)
        p, q, d = closest_points(c.index, a, near)
        win = c.v.valid and c.r.labels[pos] == c.v.answer
        d = dists[pos - 1] if pos - 1 < len(dists) else d
        c.td.segment(p, q, col, f"{c.r.labels[pos]}: {_dist(d)}", width=4 if win else 2, dashed=not win)
        parts.append(f"{obj.ref} {_dist(d)}")
    return ["Drawn: the closest-point segment from the anchor to the nearest instance of each candidate "
            "(solid: the answer, dashed: the others): " + ", ".join(parts) + "."]


def _direction(c: Ctx) -> list[str]:
    _highlight_all(c, ("A stand: ", "B face: ", "C: "))
    a, b, q = (c.index.centers[c.r.objects[k][0]] for k in range(3))
    f = (b - a)[:2] / max(float(np.hypot(*(b - a)[:2])), 1e-9)
    left = np.array([-f[1], f[0]])
    reach = 0.6 * max(float(np.hypot(*(b - a)[:2])), float(np.hypot(*(q - a)[:2])))
    c.td.segment(a[:2] - reach * left, a[:2] + reach * left, GREY, None, width=1, dashed=True, ends=False, clip=True)
    c.td.segment(a[:2], a[:2] - reach * f, GREY, None, width=1, dashed=True, ends=False, clip=True)
    c.td.arrow(a, b, c.color(1), "facing", width=3)
    theta = c.ev("angle_deg")
    c.td.arrow(a, q, c.color(2), None if theta is None else f"theta {theta:+.0f} deg", width=3)
    c.td.label(a[:2] + 0.6 * reach * left, "left", color=GREY)
    c.td.legend("front/back line, behind-A line", GREY)
    return [f"Drawn: standing at A facing B (arrow), the arrow to C and, dashed, the line through A across the facing "
            f"direction (front/back) and behind A; theta = signed floor angle from A->B to A->C "
            f"({'n/a' if theta is None else f'{theta:+.1f} deg'}, positive = left), level {c.r.params.get('level')}."]


def _room(c: Ctx) -> list[str]:
    src = c.ev("source", "?")
    area = c.ev("area_m2")
    poly = c.scene.floor_polygon
    if poly is not None:
        c.td.polygon(poly, (220, 40, 40), width=5)
        c.td.label(poly.mean(0), f"floor {c.v.answer_text or f'{area:.2f}'} m2", color=(220, 40, 40))
        return [f"Drawn: the floor polygon (red outline) whose area is the answer ({area:.2f} m2)."] if area is not None else []
    return [f"The area comes from '{src}' (no floor polygon to draw)."]


def _cameras(c: Ctx, ref: int | None = None) -> list[Frame]:
    """The question's cameras drawn (``image 1``, ``image 2``), the reference one in black."""
    frames = [c.frame(k) for k in range(len(c.r.frames))]
    for k, fr in enumerate(frames):
        name = "image" if len(frames) == 1 else f"image {k + 1}"
        col = CAMERA_COLORS[0] if ref is None or k == ref else CAMERA_COLORS[1]
        c.td.camera(fr, col, f"{name}{' (reference)' if ref is not None and k == ref else ''}")
    return frames


def _sectors(c: Ctx, fr: Frame, target: np.ndarray) -> str:
    """The reference camera's 8 direction sectors (45°, centred on its heading) and the arrow to ``target``."""
    h, _ = camera_heading(fr.T_wc)
    o = fr.camera_center[:2]
    r = 1.1 * max(float(np.hypot(*(np.asarray(target)[:2] - o))), 0.8)
    base = math.atan2(h[1], h[0])
    for k in range(8):
        ang = base + math.radians(22.5 + 45 * k)
        c.td.segment(o, o + r * np.array([math.cos(ang), math.sin(ang)]), (150, 150, 150), None, width=1, dashed=True, ends=False, clip=True)
    ans = c.v.answer if c.v.valid and c.v.answer in DIRECTIONS_8 else None
    if ans is not None:
        ang = base + math.radians(45 * DIRECTIONS_8.index(ans))
        c.td.label(o + 0.75 * r * np.array([math.cos(ang), math.sin(ang)]), ans, color=(0, 0, 0))
    c.td.arrow(o, np.asarray(target)[:2], ARROW, None, width=4)
    c.td.legend("45 deg direction sectors", (150, 150, 150))
    theta = c.ev("angle_deg")
    return "" if theta is None else f"angle {theta:+.1f} deg from the heading, floor distance {_dist(c.ev('floor_distance_m', 0.0))}"


def _position(c: Ctx) -> list[str]:
    ref = int(c.r.params.get("reference", 1)) - 1
    frames = _cameras(c, ref)
    if c.q.task == "position_cam_cam":
        target, what = frames[1 - ref].camera_center, f"camera of image {2 - ref}"
    elif c.q.task == "position_cam_obj":
        c.td.highlight(c.obj(0), c.color(0))
        target, what = c.index.centers[c.r.objects[0][0]], c.obj(0).ref
    else:
        _highlight_all(c)
        target = np.asarray(c.ev("region_centroid") or c.index.centers[[inst[0] for inst in c.r.objects]].mean(0))
        c.td.marker(target, ARROW, "region centroid")
        what = "the region centroid"
    info = _sectors(c, frames[ref], target)
    return [f"Drawn: the reference camera (image {ref + 1}, black) with its view direction, field of view and 8 direction "
            f"sectors (dashed), the arrow to {what}; {info}."]


def _elevation(c: Ctx) -> list[str]:
    ref = int(c.r.params.get("reference", 1)) - 1
    frames = _cameras(c, ref)
    zs = [f"image {k + 1} z = {fr.camera_center[2]:.2f} m" for k, fr in enumerate(frames)]
    return [f"Drawn: the two cameras (reference: image {ref + 1}); heights {', '.join(zs)} "
            f"(difference {c.ev('height_difference_m', 0.0):+.2f} m)."]


def _motion(c: Ctx) -> list[str]:
    ref = int(c.r.params.get("reference", 1)) - 1
    frames = _cameras(c, ref)
    c.td.arrow(frames[ref].camera_center, frames[1 - ref].camera_center, ARROW, None, width=4)
    t = c.ev("translation_camera_m")
    yaw = c.ev("yaw_change_deg")
    extra = f", yaw change {yaw:+.1f} deg" if yaw is not None else ""
    tt = "" if t is None else f" (camera frame of the reference: right {t[0]:+.2f}, down {t[1]:+.2f}, forward {t[2]:+.2f} m)"
    return [f"Drawn: the camera moving from image {ref + 1} to image {2 - ref} (orange arrow), "
            f"{_dist(c.ev('translation_m', 0.0))}{tt}{extra}."]


def _visibility(c: Ctx) -> list[str]:
    c.td.highlight(c.obj(0), c.color(0))
    _cameras(c)
    vis = c.ev("visible") or []
    return [f"Drawn: the object and the two cameras; visible fractions {', '.join(f'image {k + 1} {x:.0%}' for k, x in enumerate(vis))}."]


def _single_direction(c: Ctx) -> list[str]:
    _highlight_all(c, ("A: ", "B: "))
    _cameras(c)
    a, b = (c.index.centers[c.r.objects[k][0]] for k in range(2))
    c.td.arrow(b, a, ARROW, None, width=4)
    d = c.ev("displacement_camera_m")
    txt = "" if d is None else f": right {d[0]:+.2f}, down {d[1]:+.2f}, farther {d[2]:+.2f} m in the camera frame"
    return [f"Drawn: the camera of the image and the arrow from B to A (where A is relative to B){txt}."]


def _distance_cam(c: Ctx) -> list[str]:
    _cameras(c)
    c.td.highlight(c.obj(0), c.color(0))
    cam = c.frame(0).camera_center
    p = closest_point_on_box(cam, *c.box(c.r.objects[0][0]))
    d = c.ev("distance_m", float(np.linalg.norm(p - cam)))
    c.td.segment(cam, p, ARROW, _dist(d), width=3)
    return [f"Drawn: the camera (black, view direction and field of view) and, orange, the segment from its centre to the "
            f"closest point of the box ({_dist(d)}, measured in 3D, drawn on the floor)."]


def _depth(c: Ctx) -> list[str]:
    _highlight_all(c, ("A: ", "B: "))
    _cameras(c)
    cam = c.frame(0).camera_center
    med = c.ev("median_depth_m") or [None, None]
    for k in range(2):
        z = med[k]
        c.td.segment(cam, c.index.centers[c.r.objects[k][0]], c.color(k), None if z is None else f"depth {_dist(z)}", width=2, dashed=True)
    return ["Drawn: the camera and dashed lines to both objects, labelled with the median depth of their visible surface "
            "(camera z, not the line's length)."]


#: task → its drawer (returns the caption lines of what it drew)
DRAWERS: dict[str, Callable[[Ctx], list[str]]] = {
    "object_counting": _counting, "object_size": _size, "absolute_distance": _absolute, "relative_distance": _relative_distance,
    "relative_direction_hard": _direction, "room_size": _room, "single_image_relative_direction": _single_direction,
    "distance_cam_obj": _distance_cam, "depth_order_obj_obj": _depth, "position_cam_cam": _position, "elevation_cam_cam": _elevation,
    "visibility_compare": _visibility, "position_cam_obj": _position, "position_cam_reg": _position, "motion_camera": _motion,
    "attribute_measurement": _attribute,
}
