"""Task 12 — visibility_compare (image pair): which image shows more of an object."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task
from spatialevo.dge.tasks.image_rules import draw_image_question
from spatialevo.dge.verdict import Reason, Verdict

OPTIONS = ("image1", "image2", "same", "neither")


@dataclass(frozen=True)
class VisibilityCompareConfig:
    """Attributes:
    min_visible: below this visible fraction in both images the answer is "neither".
    visible_margin: ``near_tie`` when the larger fraction is within this of ``min_visible``.
    same_band: fractions closer than this give "same".
    tie_margin: differences in [same_band, same_band + tie_margin) are ``near_tie``.
    """

    min_visible: float = 0.1
    visible_margin: float = 0.03
    same_band: float = 0.05
    tie_margin: float = 0.05


class VisibilityCompare(Task):
    """``objects`` = [A] (unique in the scene), ``frames`` = [image1, image2]. Answer: ``image1`` /
    ``image2`` (larger visible fraction of depth-tested surface samples), ``same`` or ``neither``."""

    name = "visibility_compare"
    scope = "image_pair"
    answer_kind = "choice"
    n_objects = (1, 1)
    n_frames = 2
    needs_visibility = False
    answer_options = OPTIONS
    config_cls = VisibilityCompareConfig

    def options_for(self, q: Question, r: Resolved) -> tuple[str, ...]:
        return OPTIONS

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        i = r.objects[0][0]
        v1, v2 = (float(index.visible(f)[i]) for f in r.frames)
        ev = {"visible": [v1, v2]}
        cfg = self.config
        top = max(v1, v2)
        if abs(top - cfg.min_visible) < cfg.visible_margin:
            return self.bad(Reason.NEAR_TIE, f"the best visible fraction {top:.2f} is too close to the visibility threshold {cfg.min_visible}", ev)
        if top < cfg.min_visible:
            return self.ok("neither", "neither", ev, OPTIONS)
        diff = abs(v1 - v2)
        if diff < cfg.same_band:
            return self.ok("same", "same", ev, OPTIONS)
        if diff < cfg.same_band + cfg.tie_margin:
            return self.bad(Reason.NEAR_TIE, f"the visible fractions {v1:.2f} and {v2:.2f} are too close to call", ev)
        ans = "image1" if v1 > v2 else "image2"
        return self.ok(ans, ans, ev, OPTIONS)

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return draw_image_question(self, index, rng, 1)
