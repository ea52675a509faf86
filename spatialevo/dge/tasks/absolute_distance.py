"""Task 3 — absolute_distance (scene): minimal distance between two objects' solid boxes, metres."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task, fmt1, indices, pick, round1, round1_array, unique_labels
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
        d = float(index.distances_from(i, [j])[0])
        dx, dy, dz = (index.centers[i] - index.centers[j]).tolist()
        return self._verdict_of(r, d, round1(d), math.sqrt(dx * dx + dy * dy + dz * dz))

    def check_many(self, index: SceneIndex, qs: Sequence[Question], rs: Sequence[Resolved]) -> list[Verdict]:
        """:meth:`check` of many questions: the distances gathered (:meth:`SceneIndex.pair_distances`),
        rounded, and the centre distances computed in one pass, with the scalar path's operations."""
        i, j = indices(rs, 0), indices(rs, 1)
        d = index.pair_distances(i, j)
        diff = index.centers[i] - index.centers[j]
        dx, dy, dz = diff[:, 0], diff[:, 1], diff[:, 2]
        centre = np.sqrt(dx * dx + dy * dy + dz * dz)
        return [self._verdict_of(r, *x) for r, x in zip(rs, zip(d.tolist(), round1_array(d).tolist(), centre.tolist()))]

    def _verdict_of(self, r: Resolved, d: float, ans: float, centre: float) -> Verdict:
        """The verdict of distance ``d`` (metres), its rounding ``ans`` and the centre distance."""
        ev = {"distance_m": d, "center_distance_m": centre}
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
