"""Hand-built scenes with known answers for the DGE tests (world frame, metres, z up).

Objects are axis-aligned boxes (no mesh, so visibility is the frustum test of every box-surface
sample); cameras are 640x480 with a 90° horizontal field of view, no roll.
"""

from __future__ import annotations

import numpy as np

from spatialevo.scene.boxes import OrientedBox
from spatialevo.scene.model import Frame, ObjectInstance, Scene
from spatialevo.synthetic.trajectory import intrinsics, pose_from_yaw_pitch

#: label, centre, extents (axis-aligned)
OBJECTS = [
    ("sofa", (0.0, 0.0, 0.4), (2.0, 1.0, 0.8)),
    ("table", (3.0, 2.0, 0.4), (1.0, 1.0, 0.8)),
    ("chair", (0.0, 3.0, 0.5), (0.5, 0.5, 1.0)),
    ("chair", (3.0, 4.0, 0.5), (0.5, 0.5, 1.0)),
    ("lamp", (0.0, -3.0, 0.75), (0.4, 0.4, 1.5)),
    ("tv", (-3.0, 0.0, 1.0), (1.2, 0.1, 0.7)),
    ("pillow", (0.0, 0.0, 0.9), (0.4, 0.4, 0.2)),
    ("stool", (0.0, -2.0, 0.25), (0.4, 0.4, 0.5)),
    ("plant", (-2.0, 0.15, 0.5), (0.3, 0.3, 1.0)),
    ("bookshelf", (6.0, 4.0, 1.0), (0.4, 0.8, 2.0)),
    ("cabinet", (0.0, -9.0, 0.5), (0.6, 0.6, 1.0)),
    ("remote", (0.2, 0.0, 0.6), (0.1, 0.1, 0.05)),
]

S = np.sin(np.deg2rad(22.5))
C = np.cos(np.deg2rad(22.5))
#: frame id → (eye, yaw degrees from +x counter-clockwise, pitch degrees)
FRAMES = {
    "f0": ((0.0, -6.0, 1.5), 90.0, 0.0),
    "f1": ((4.0, -6.0, 1.5), 90.0, 0.0),
    "f2": ((0.0, -6.0, 1.0), 90.0, 0.0),
    "f3": ((0.0, -6.0, 1.52), 120.0, 0.0),
    "f4": ((0.0, -6.0, 1.5), 95.0, 0.0),
    "f5": ((0.0, -6.0, 1.5), 90.0, -90.0),
    "f6": ((2.0, -4.0, 1.5), 90.0, 0.0),
    "f7": ((-2.0 * S, -6.0 + 2.0 * C, 1.5), 90.0, 0.0),
}


def make_frame(fid: str, eye: tuple[float, float, float], yaw: float, pitch: float) -> Frame:
    return Frame(fid, intrinsics(640, 480, 90.0), pose_from_yaw_pitch(np.array(eye), np.deg2rad(yaw), np.deg2rad(pitch)), 640, 480)


def analytic_scene(with_frames: bool = True, with_floor: bool = True) -> Scene:
    objects = [ObjectInstance(i, lab, OrientedBox(c, e)) for i, (lab, c, e) in enumerate(OBJECTS)]
    frames = [make_frame(fid, *spec) for fid, spec in FRAMES.items()] if with_frames else []
    floor = np.array([[-5.0, -10.0], [7.0, -10.0], [7.0, 6.0], [-5.0, 6.0]]) if with_floor else None
    return Scene("analytic", objects, frames, floor_polygon=floor)
