"""Task 15 — motion_camera (image pair): how the camera moved from the reference image to the other."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from spatialevo.dge.geometry import camera_heading, vector_angle
from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task
from spatialevo.dge.tasks.image_rules import (
    compound_direction,
    draw_image_question,
    frame_pair_candidates,
    random_components,
    reference_pair,
)
from spatialevo.dge.verdict import Reason, Verdict


@dataclass(frozen=True)
class MotionCameraConfig:
    """Attributes:
    min_translation_m: translations at least this long are answered by direction.
    translation_margin_m: ``near_boundary`` when |t| is within this of ``min_translation_m``.
    component_ratio, ratio_margin: compound-direction rule (as single_image_relative_direction).
    min_turn_deg: for small translations, yaw changes at least this give turn-left / turn-right.
    turn_margin_deg: ``near_boundary`` when |Δyaw| is within this of ``min_turn_deg``.
    min_heading_cos: both cameras need cos(pitch) at least this for the yaw rule.
    """

    min_translation_m: float = field(default=0.3, metadata={"positive": True})  # > 0 (checked by spec.build_config)
    translation_margin_m: float = 0.05
    component_ratio: float = 0.5
    ratio_margin: float = 0.1
    min_turn_deg: float = 15.0
    turn_margin_deg: float = 5.0
    min_heading_cos: float = 0.2


class MotionCamera(Task):
    """``frames`` = [image1, image2], ``params.reference`` (default 1: motion from image 1 to image 2).

    The translation between the camera centres is expressed in the reference camera's frame
    (left/right, up/down, front = forward along the optical axis / back). When it is shorter than
    ``min_translation_m`` the yaw change decides: ``turn-left`` (counter-clockwise seen from above)
    or ``turn-right``; neither → ``no_motion``.
    """

    name = "motion_camera"
    scope = "image_pair"
    answer_kind = "direction"

    @classmethod
    def random_answer(cls, verdict: Verdict, rng: np.random.Generator) -> str:
        """A turn (one time in five) or a random compound direction."""
        if rng.random() < 0.2:
            return ("turn-left", "turn-right")[int(rng.integers(2))]
        return random_components(rng)
    n_frames = 2
    param_space = {"reference": ((1, 2), 1)}
    config_cls = MotionCameraConfig

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        cfg = self.config
        T_ref, T_other, ref = reference_pair(index, r)
        t_cam = (T_other[:3, 3] - T_ref[:3, 3]) @ T_ref[:3, :3]
        dist = float(np.linalg.norm(t_cam))
        ev = {"translation_camera_m": t_cam.tolist(), "translation_m": dist, "reference": ref}
        if abs(dist - cfg.min_translation_m) < cfg.translation_margin_m:
            return self.bad(Reason.NEAR_BOUNDARY, f"the camera moved {dist:.2f} m, too close to the {cfg.min_translation_m} m threshold", ev)
        if dist >= cfg.min_translation_m:
            ans, ratios = compound_direction(t_cam, cfg.component_ratio, cfg.ratio_margin, forward="front")
            ev["component_ratios"] = ratios.tolist()
            if ans is None:
                return self.bad(Reason.NEAR_BOUNDARY, "a motion component is too close to the inclusion threshold", ev)
            return self.ok(ans, ans, ev)
        h1, c1 = camera_heading(T_ref)
        h2, c2 = camera_heading(T_other)
        if min(c1, c2) < cfg.min_heading_cos:
            return self.bad(Reason.NEAR_BOUNDARY, "a camera looks nearly straight up or down: its yaw is undefined", ev)
        yaw = float(vector_angle(h1, h2))
        ev["yaw_change_deg"] = yaw
        if abs(abs(yaw) - cfg.min_turn_deg) < cfg.turn_margin_deg:
            return self.bad(Reason.NEAR_BOUNDARY, f"the camera turned {yaw:.1f}°, too close to the {cfg.min_turn_deg}° threshold", ev)
        if abs(yaw) < cfg.min_turn_deg:
            return self.bad(Reason.NO_MOTION, f"the camera moved {dist:.2f} m and turned {yaw:.1f}° only", ev)
        ans = "turn-left" if yaw > 0 else "turn-right"
        return self.ok(ans, ans, ev)

    def candidates(self, index: SceneIndex) -> Iterator[Question]:
        return frame_pair_candidates(self, index)

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return draw_image_question(self, index, rng, 0)
