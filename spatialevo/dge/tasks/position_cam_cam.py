"""Task 10 — position_cam_cam (image pair): where the other camera stands, seen from the reference camera."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from spatialevo.dge.geometry import DIRECTIONS_8
from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task
from spatialevo.dge.tasks.image_rules import draw_image_question, frame_pair_candidates, position_verdict, reference_pair
from spatialevo.dge.verdict import Verdict


@dataclass(frozen=True)
class PositionConfig:
    """Attributes:
    boundary_margin_deg: the direction must be at least this far from a 45° sector boundary.
    min_separation_m: floor distance from the reference camera must be at least this.
    min_heading_cos: the reference camera's horizontal heading needs cos(pitch) at least this.
    min_visible: objects must be visible at least this much in one of the two images.
    """

    boundary_margin_deg: float = 10.0
    min_separation_m: float = field(default=0.3, metadata={"positive": True})  # > 0 (checked by spec.build_config)
    min_heading_cos: float = 0.2
    min_visible: float = 0.1


class PositionTask(Task):
    """Shared shape of the image-pair position tasks: two frames, ``params.reference`` ∈ {1, 2}
    (default 1), answer one of the eight horizontal directions :data:`DIRECTIONS_8`."""

    scope = "image_pair"
    answer_kind = "choice"
    n_frames = 2
    param_space = {"reference": ((1, 2), 1)}
    answer_options = DIRECTIONS_8
    config_cls = PositionConfig

    def options_for(self, q: Question, r: Resolved) -> tuple[str, ...]:
        return DIRECTIONS_8


class PositionCamCam(PositionTask):
    """``frames`` = [image1, image2], ``params.reference`` ∈ {1, 2} (default 1). Answer: 8-way
    direction (front, front-left, left, …) of the other camera's centre in the reference camera's
    egocentric horizontal frame (heading = optical axis projected on the floor)."""

    name = "position_cam_cam"

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        T_ref, T_other, ref = reference_pair(index, r)
        return position_verdict(self, T_ref, T_other[:3, 3], f"camera {3 - ref}", {"reference": ref})

    def candidates(self, index: SceneIndex) -> Iterator[Question]:
        return frame_pair_candidates(self, index)

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return draw_image_question(self, index, rng, 0)
