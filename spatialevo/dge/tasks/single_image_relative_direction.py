"""Task 7 — single_image_relative_direction (single image): where is A relative to B, seen from the camera."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import ImageConfig, Resolved, Task
from spatialevo.dge.tasks.image_rules import compound_direction, draw_image_question, random_components
from spatialevo.dge.verdict import Reason, Verdict


@dataclass(frozen=True)
class SingleImageRelativeDirectionConfig(ImageConfig):
    """Attributes:
    min_separation_m: |centre(A) − centre(B)| must be at least this, else ``too_close``.
    component_ratio: a component belongs to the answer when it is at least this fraction of the largest.
    ratio_margin: ``near_boundary`` when a component's ratio is within this of ``component_ratio``.
    """

    min_separation_m: float = field(default=0.3, metadata={"positive": True})  # > 0 (checked by spec.build_config)
    component_ratio: float = 0.5
    ratio_margin: float = 0.1


class SingleImageRelativeDirection(Task):
    """``objects`` = [A, B], ``frames`` = [image]. Answer: compound of up/down, front/back, left/right.

    The displacement centre(A) − centre(B) is expressed in the camera frame: left/right along the
    image x axis, up/down along the image y axis, front = closer to the camera, back = farther.
    Both objects must be visible (fraction >= ``min_visible``) and their labels unique among the
    objects visible in the image.
    """

    name = "single_image_relative_direction"
    scope = "single_image"
    answer_kind = "direction"

    @classmethod
    def random_answer(cls, verdict: Verdict, rng: np.random.Generator) -> str:
        """A random compound direction (:func:`~spatialevo.dge.tasks.image_rules.random_components`)."""
        return random_components(rng)
    n_objects = (2, 2)
    n_frames = 1
    config_cls = SingleImageRelativeDirectionConfig

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        a, b = r.objects[0][0], r.objects[1][0]
        frame = index.frames[r.frames[0]]
        d_world = index.centers[a] - index.centers[b]
        d_cam = d_world @ frame.T_wc[:3, :3]
        sep = float(np.linalg.norm(d_cam))
        ev = {"displacement_camera_m": d_cam.tolist(), "separation_m": sep}
        if sep < self.config.min_separation_m:
            return self.bad(Reason.TOO_CLOSE, f"the {r.labels[0]} and the {r.labels[1]} are only {sep:.2f} m apart", ev)
        ans, ratios = compound_direction(d_cam, self.config.component_ratio, self.config.ratio_margin)
        ev["component_ratios"] = ratios.tolist()
        if ans is None:
            return self.bad(Reason.NEAR_BOUNDARY, "a direction component is too close to the inclusion threshold", ev)
        return self.ok(ans, ans, ev)

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return draw_image_question(self, index, rng, 2)
