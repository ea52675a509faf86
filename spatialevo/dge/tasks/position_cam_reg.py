"""Task 14 — position_cam_reg (image pair): where a region lies in the reference camera's horizontal frame."""

from __future__ import annotations

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, randint
from spatialevo.dge.tasks.image_rules import draw_image_question, position_verdict, reference_pair
from spatialevo.dge.tasks.position_cam_cam import PositionTask
from spatialevo.dge.verdict import Verdict


class PositionCamReg(PositionTask):
    """``objects`` = the region's objects (1–4), ``frames`` = [image1, image2], ``params.reference``.

    The region is the floor area around one object (its footprint centre) or the group of several
    objects (mean of their box centres on the floor). Answer: 8-way direction of the region's
    centroid in the reference camera's egocentric horizontal frame. Every object must be unique in
    the scene and visible in at least one of the two images.
    """

    name = "position_cam_reg"
    n_objects = (1, 4)
    symmetric = slice(0, None)  # a region is a set of objects

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        T_ref, _, ref = reference_pair(index, r)
        idx = [inst[0] for inst in r.objects]
        centroid = index.centers[idx].mean(axis=0)
        what = f"the region around the {r.labels[0]}" if len(idx) == 1 else "the region of " + ", ".join(r.labels)
        return position_verdict(self, T_ref, centroid, what, {"reference": ref, "region_centroid": centroid.tolist()})

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return draw_image_question(self, index, rng, 1 + randint(rng, 4))
