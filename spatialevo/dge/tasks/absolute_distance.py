"""Task 3 — absolute_distance (scene): minimal distance between two objects' solid boxes, metres."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task, fmt1, pick, round1, unique_labels
from spatialevo.dge.verdict import Reason, Verdict


@dataclass(frozen=True)
class AbsoluteDistanceConfig:
    """Attributes:
    min_distance_m: the rounded answer must be at least this (touching objects give 0 m, which
        relative accuracy cannot score): below it the question is ``too_close``.
    """

    min_distance_m: float = field(default=0.1, metadata={"positive": True})  # > 0 (checked by spec.build_config)


class AbsoluteDistance(Task):
    """Answer: closest-point distance between the solid boxes of A and B, metres, one decimal.

    Closest points, not centres ("Measuring from the closest point of each object"); 0 when the
    boxes intersect. Symmetric in A and B.
    """

    name = "absolute_distance"
    scope = "scene"
    answer_kind = "number"
    unit = "m"
    n_objects = (2, 2)
    symmetric = slice(0, 2)
    config_cls = AbsoluteDistanceConfig

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        i, j = r.objects[0][0], r.objects[1][0]
        d = float(index.distance_row(i)[j])
        ans = round1(d)
        ev = {"distance_m": d, "center_distance_m": float(np.linalg.norm(index.centers[i] - index.centers[j]))}
        if ans < self.config.min_distance_m - 1e-9:
            return self.bad(Reason.TOO_CLOSE, f"the {r.labels[0]} and the {r.labels[1]} are {d:.3f} m apart (touching)", ev)
        return self.ok(ans, fmt1(ans), ev)

    def candidates(self, index: SceneIndex) -> Iterator[Question]:
        """Every pair of labels with one instance each (the task is symmetric)."""
        return (Question(self.name, pair) for pair in combinations(unique_labels(index), 2))

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        labels = index.label_list
        if len(labels) < 2:
            return Question.trusted(self.name, tuple(labels * 2))
        return Question.trusted(self.name, tuple(pick(rng, labels, 2)))
