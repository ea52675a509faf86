"""Task 13 — position_cam_obj (image pair): where an object lies in the reference camera's horizontal frame."""

from __future__ import annotations

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved
from spatialevo.dge.tasks.image_rules import draw_image_question, position_verdict, reference_pair
from spatialevo.dge.tasks.position_cam_cam import PositionTask
from spatialevo.dge.verdict import Verdict


class PositionCamObj(PositionTask):
    """``objects`` = [A], ``frames`` = [image1, image2], ``params.reference``. Answer: 8-way direction
    of A's box centre in the reference camera's egocentric horizontal frame. A must be unique in the
    scene and visible in at least one of the two images."""

    name = "position_cam_obj"
    n_objects = (1, 1)

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        T_ref, _, ref = reference_pair(index, r)
        return position_verdict(self, T_ref, index.centers[r.objects[0][0]], f"the {r.labels[0]}", {"reference": ref})

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return draw_image_question(self, index, rng, 1)
