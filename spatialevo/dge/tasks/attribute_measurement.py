"""Task 16 — attribute_measurement (image pair): which of two objects is larger."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task
from spatialevo.dge.tasks.image_rules import draw_image_question
from spatialevo.dge.verdict import Reason, Verdict


@dataclass(frozen=True)
class AttributeMeasurementConfig:
    """Attributes:
    tie_margin_m: the longest edges must differ by at least this, else ``near_tie``.
    min_visible: each object must be visible at least this much in one of the two images.
    """

    tie_margin_m: float = 0.05
    min_visible: float = 0.1


class AttributeMeasurement(Task):
    """``objects`` = [A, B], ``frames`` = [image1, image2]. Answer: the label with the larger longest
    box edge. Both objects unique in the scene and each visible in at least one image."""

    name = "attribute_measurement"
    scope = "image_pair"
    answer_kind = "choice"
    n_objects = (2, 2)
    symmetric = slice(0, 2)
    frames_symmetric = True  # the answer is an object, whichever image shows it first
    n_frames = 2
    config_cls = AttributeMeasurementConfig

    def options_for(self, q: Question, r: Resolved) -> tuple[str, ...]:
        return (r.labels[0], r.labels[1])

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        la, lb = (float(index.longest[inst[0]]) for inst in r.objects)
        ev = {"longest_edges_m": [la, lb]}
        if abs(la - lb) < self.config.tie_margin_m:
            return self.bad(Reason.NEAR_TIE, f"the {r.labels[0]} ({la:.2f} m) and the {r.labels[1]} ({lb:.2f} m) are about as large", ev)
        opts = self.options_for(q, r)
        ans = opts[0] if la > lb else opts[1]
        return self.ok(ans, ans, ev, opts)

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return draw_image_question(self, index, rng, 2)
