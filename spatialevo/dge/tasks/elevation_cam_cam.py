"""Task 11 — elevation_cam_cam (image pair): is the other camera higher or lower than the reference camera."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task
from spatialevo.dge.tasks.image_rules import draw_image_question, frame_pair_candidates, reference_pair
from spatialevo.dge.verdict import Reason, Verdict

OPTIONS = ("higher", "lower")


@dataclass(frozen=True)
class ElevationConfig:
    """Attributes:
    min_height_difference_m: |Δz| below this is ``no_height_difference``.
    """

    min_height_difference_m: float = 0.1


class ElevationCamCam(Task):
    """``frames`` = [image1, image2], ``params.reference`` (default 1). Answer: ``higher`` / ``lower``
    — sign of the other camera's height (world z of its centre) minus the reference camera's."""

    name = "elevation_cam_cam"
    scope = "image_pair"
    answer_kind = "choice"
    n_frames = 2
    param_space = {"reference": ((1, 2), 1)}
    answer_options = OPTIONS
    config_cls = ElevationConfig

    def options_for(self, q: Question, r: Resolved) -> tuple[str, ...]:
        return OPTIONS

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        T_ref, T_other, ref = reference_pair(index, r)
        dz = float(T_other[2, 3] - T_ref[2, 3])
        ev = {"height_difference_m": dz, "reference": ref}
        if abs(dz) < self.config.min_height_difference_m:
            return self.bad(Reason.NO_HEIGHT_DIFFERENCE, f"the cameras' heights differ by {dz:+.3f} m only", ev)
        ans = "higher" if dz > 0 else "lower"
        return self.ok(ans, ans, ev, OPTIONS)

    def candidates(self, index: SceneIndex) -> Iterator[Question]:
        return frame_pair_candidates(self, index)

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return draw_image_question(self, index, rng, 0)
