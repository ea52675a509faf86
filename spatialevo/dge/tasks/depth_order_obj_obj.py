"""Task 9 — depth_order_obj_obj (single image): which of two objects is closer to the camera."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import ImageConfig, Resolved, Task
from spatialevo.dge.tasks.image_rules import draw_image_question
from spatialevo.dge.verdict import Reason, Verdict


@dataclass(frozen=True)
class DepthOrderConfig(ImageConfig):
    """Attributes:
    same_band_m: median depths closer than this give the answer "same".
    tie_margin_m: differences in [same_band, same_band + tie_margin) are ``near_tie``.
    """

    same_band_m: float = 0.1
    tie_margin_m: float = 0.1


class DepthOrderObjObj(Task):
    """``objects`` = [A, B], ``frames`` = [image]. Answer: the label whose visible surface has the
    smaller median camera depth, or ``"same"`` inside the tie band."""

    name = "depth_order_obj_obj"
    scope = "single_image"
    answer_kind = "choice"
    n_objects = (2, 2)
    symmetric = slice(0, 2)
    n_frames = 1
    config_cls = DepthOrderConfig

    def options_for(self, q: Question, r: Resolved) -> tuple[str, ...]:
        return (r.labels[0], r.labels[1], "same")

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        fid = r.frames[0]
        za = float(np.median(index.visible_depths(fid, r.objects[0][0])))
        zb = float(np.median(index.visible_depths(fid, r.objects[1][0])))
        diff = abs(za - zb)
        ev = {"median_depth_m": [za, zb], "difference_m": diff}
        opts = self.options_for(q, r)
        cfg = self.config
        if diff < cfg.same_band_m:
            return self.ok("same", "same", ev, opts)
        if diff < cfg.same_band_m + cfg.tie_margin_m:
            return self.bad(Reason.NEAR_TIE, f"the depths differ by {diff:.2f} m, too close to the 'same' band of {cfg.same_band_m} m", ev)
        ans = opts[0] if za < zb else opts[1]
        return self.ok(ans, ans, ev, opts)

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return draw_image_question(self, index, rng, 2)
