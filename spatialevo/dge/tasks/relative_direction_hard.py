"""Task 5 — relative_direction_hard (scene): standing at A facing B, where is C?

Levels (``params.level``): ``easy`` left / right; ``medium`` left / right / back; ``hard`` (default)
front-left / front-right / back-left / back-right.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import permutations

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task, indices, pick, randint, unique_labels
from spatialevo.dge.verdict import Reason, Verdict

LEVEL_OPTIONS = {
    "easy": ("left", "right"),
    "medium": ("left", "right", "back"),
    "hard": ("front-left", "front-right", "back-left", "back-right"),
}
#: answer boundaries (degrees) per level; the margin is measured to every one of them
LEVEL_BOUNDARIES = {"easy": (0.0, 180.0), "medium": (0.0, 135.0), "hard": (0.0, 90.0, 180.0)}


@dataclass(frozen=True)
class RelativeDirectionConfig:
    """Attributes:
    boundary_margin_deg: |θ| must be at least this far from every answer boundary, else ``near_boundary``.
    min_separation_m: floor distances A–B and A–C must be at least this, else ``too_close``.
    """

    boundary_margin_deg: float = 10.0
    min_separation_m: float = field(default=0.3, metadata={"positive": True})  # > 0 (checked by spec.build_config)


def direction_answer(theta: float, level: str) -> str:
    """Direction label of a signed floor angle θ (degrees, positive = left) at a level."""
    side = "left" if theta > 0 else "right"
    if level == "easy":
        return side
    if level == "medium":
        return "back" if abs(theta) >= 135.0 else side
    return ("front-" if abs(theta) < 90.0 else "back-") + side


def floor_angle(cross: float, dot: float) -> float:
    """Signed angle (degrees, (-180, 180]) of a floor-plane turn from its cross and dot products
    (as :func:`~spatialevo.dge.geometry.vector_angle`, with Python's ``math``: the scalar and the
    batch path of the task compute it alike)."""
    ang = math.degrees(math.atan2(cross, dot))
    return ang + 360.0 if ang <= -180.0 else ang


def boundary_distance(theta: float, level: str) -> float:
    """Angular distance (degrees) from |θ| to the nearest answer boundary of the level."""
    a = abs(theta)
    return min(abs(a - b) for b in LEVEL_BOUNDARIES[level])


class RelativeDirection(Task):
    """``objects`` = [standing_at A, facing B, queried C]; floor-plane centroids (z dropped).

    θ = signed angle from (B − A) to (C − A), counter-clockwise (seen from above) positive = left;
    front if |θ| < 90°; medium's back if |θ| ≥ 135°.
    """

    name = "relative_direction_hard"
    scope = "scene"
    answer_kind = "choice"
    n_objects = (3, 3)
    param_space = {"level": (("easy", "medium", "hard"), "hard")}
    config_cls = RelativeDirectionConfig

    def options_for(self, q: Question, r: Resolved) -> tuple[str, ...]:
        return LEVEL_OPTIONS[r.params["level"]]

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        a, b, c = (index.centers[r.objects[k][0]] for k in range(3))
        u, v = (b - a)[:2], (c - a)[:2]  # floor-plane offsets of B and C from A
        dab, dac = float(np.hypot(u[0], u[1])), float(np.hypot(v[0], v[1]))
        return self._verdict_of(q, r, dab, dac, float(u[0] * v[1] - u[1] * v[0]), float(u[0] * v[0] + u[1] * v[1]))

    def check_many(self, index: SceneIndex, qs: Sequence[Question], rs: Sequence[Resolved]) -> list[Verdict]:
        """:meth:`check` of many questions: the floor offsets, distances, cross and dot products of
        all of them in one numpy pass (the scalar path's operations, element by element)."""
        a, b, c = (index.centers[indices(rs, k)] for k in range(3))
        u, v = (b - a)[:, :2], (c - a)[:, :2]
        u0, u1, v0, v1 = u[:, 0], u[:, 1], v[:, 0], v[:, 1]
        cols = (np.hypot(u0, u1), np.hypot(v0, v1), u0 * v1 - u1 * v0, u0 * v0 + u1 * v1)
        return [self._verdict_of(q, r, *x) for q, r, x in zip(qs, rs, zip(*(col.tolist() for col in cols)))]

    def _verdict_of(self, q: Question, r: Resolved, dab: float, dac: float, cross: float, dot: float) -> Verdict:
        """The verdict of floor distances A–B, A–C (metres) and the cross / dot products of B − A, C − A."""
        level = r.params["level"]
        ev: dict = {"floor_distance_ab_m": dab, "floor_distance_ac_m": dac, "level": level}
        sep = self.config.min_separation_m
        if dab < sep or dac < sep:
            who = r.labels[1] if dab < sep else r.labels[2]
            return self.bad(Reason.TOO_CLOSE, f"the {who} is within {sep} m of the {r.labels[0]} on the floor plane", ev)
        theta = floor_angle(cross, dot)
        ev["angle_deg"] = theta
        margin = boundary_distance(theta, level)
        if margin < self.config.boundary_margin_deg:
            return self.bad(Reason.NEAR_BOUNDARY, f"θ = {theta:.1f}° is within {self.config.boundary_margin_deg}° of an answer boundary", ev)
        ans = direction_answer(theta, level)
        return self.ok(ans, ans, ev, self.options_for(q, r))

    def candidates(self, index: SceneIndex) -> Iterator[Question]:
        """Every ordered triple of labels with one instance each, at each level."""
        for triple in permutations(unique_labels(index), 3):
            for level in LEVEL_OPTIONS:
                yield Question(self.name, triple, (), {"level": level})

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        labels = index.label_list
        level = ("easy", "medium", "hard")[randint(rng, 3)]
        objs = tuple(pick(rng, labels, 3)) if len(labels) >= 3 else tuple(labels)
        return Question.trusted(self.name, tuple(objs), (), {"level": level})
