"""Task 8 — distance_cam_obj (single image): distance from the camera to an object, metres."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spatialevo.dge.geometry import point_box_distance
from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import ImageConfig, Resolved, Task, fmt1, round1
from spatialevo.dge.tasks.image_rules import draw_image_question
from spatialevo.dge.verdict import Reason, Verdict


@dataclass(frozen=True)
class DistanceCamObjConfig(ImageConfig):
    """Attributes:
    min_distance_m: the rounded answer must be at least this, else ``too_close``.
    """

    min_distance_m: float = field(default=0.1, metadata={"positive": True})  # > 0 (checked by spec.build_config)


class DistanceCamObj(Task):
    """``objects`` = [A], ``frames`` = [image]. Answer: distance (m, one decimal) from the camera
    centre to the closest point of A's solid box."""

    name = "distance_cam_obj"
    scope = "single_image"
    answer_kind = "number"
    unit = "m"
    n_objects = (1, 1)
    n_frames = 1
    config_cls = DistanceCamObjConfig

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        i = r.objects[0][0]
        c = index.frames[r.frames[0]].camera_center
        d = float(point_box_distance(c[None], index.centers[i], index.extents[i], index.rotations[i])[0])
        ans = round1(d)
        ev = {"distance_m": d, "center_distance_m": float(np.linalg.norm(index.centers[i] - c))}
        if ans < self.config.min_distance_m - 1e-9:
            return self.bad(Reason.TOO_CLOSE, f"the camera is {d:.3f} m from the {r.labels[0]}", ev)
        return self.ok(ans, fmt1(ans), ev)

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return draw_image_question(self, index, rng, 1)
