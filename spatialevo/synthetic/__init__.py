"""Seeded synthetic rooms built from trimesh primitives, with camera trajectories.

World frame: metres, z up, floor at z = 0; cameras are OpenCV (x right, y down, z forward) with
camera-to-world poses. ``generate_room(seed, config)`` is deterministic in its arguments.
"""

from __future__ import annotations

from spatialevo.synthetic.catalog import CATEGORIES, Category
from spatialevo.synthetic.generate import RoomConfig, generate_room, room_config
from spatialevo.synthetic.trajectory import camera_trajectory, intrinsics, look_at

__all__ = ["CATEGORIES", "Category", "RoomConfig", "camera_trajectory", "generate_room", "intrinsics", "look_at", "room_config"]
