"""Seeded synthetic rooms (trimesh primitives) with camera trajectories, rendered by open3d."""

from __future__ import annotations

from spatialevo.synthetic.catalog import CATEGORIES, Category
from spatialevo.synthetic.generate import RoomConfig, generate_room, room_config
from spatialevo.synthetic.trajectory import camera_trajectory, intrinsics, look_at

__all__ = ["CATEGORIES", "Category", "RoomConfig", "camera_trajectory", "generate_room", "intrinsics", "look_at", "room_config"]
