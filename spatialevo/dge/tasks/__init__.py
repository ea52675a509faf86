"""The sixteen DGE task categories (SPEC §4), registered by name in SPEC order."""

from __future__ import annotations

from spatialevo.dge.tasks.absolute_distance import AbsoluteDistance
from spatialevo.dge.tasks.attribute_measurement import AttributeMeasurement
from spatialevo.dge.tasks.base import NoValidQuestionError, Resolved, Task
from spatialevo.dge.tasks.depth_order_obj_obj import DepthOrderObjObj
from spatialevo.dge.tasks.distance_cam_obj import DistanceCamObj
from spatialevo.dge.tasks.elevation_cam_cam import ElevationCamCam
from spatialevo.dge.tasks.motion_camera import MotionCamera
from spatialevo.dge.tasks.object_counting import ObjectCounting
from spatialevo.dge.tasks.object_size import ObjectSize
from spatialevo.dge.tasks.position_cam_cam import PositionCamCam
from spatialevo.dge.tasks.position_cam_obj import PositionCamObj
from spatialevo.dge.tasks.position_cam_reg import PositionCamReg
from spatialevo.dge.tasks.relative_direction_hard import RelativeDirection
from spatialevo.dge.tasks.relative_distance import RelativeDistance
from spatialevo.dge.tasks.room_size import RoomSize
from spatialevo.dge.tasks.single_image_relative_direction import SingleImageRelativeDirection
from spatialevo.dge.tasks.visibility_compare import VisibilityCompare

#: task name → task class, in SPEC §4 order
TASKS: dict[str, type[Task]] = {
    cls.name: cls
    for cls in (
        ObjectCounting,
        ObjectSize,
        AbsoluteDistance,
        RelativeDistance,
        RelativeDirection,
        RoomSize,
        SingleImageRelativeDirection,
        DistanceCamObj,
        DepthOrderObjObj,
        PositionCamCam,
        ElevationCamCam,
        VisibilityCompare,
        PositionCamObj,
        PositionCamReg,
        MotionCamera,
        AttributeMeasurement,
    )
}
TASK_NAMES: tuple[str, ...] = tuple(TASKS)
SCENE_TASKS: tuple[str, ...] = tuple(n for n, c in TASKS.items() if c.scope == "scene")
FRAME_TASKS: tuple[str, ...] = tuple(n for n, c in TASKS.items() if c.scope != "scene")

__all__ = ["FRAME_TASKS", "SCENE_TASKS", "TASKS", "TASK_NAMES", "NoValidQuestionError", "Resolved", "Task"]
