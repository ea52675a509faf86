"""Task 4 — relative_distance (scene): which candidate category is closest to the anchor object."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task, pick, randint, unique_labels
from spatialevo.dge.verdict import Reason, Verdict


@dataclass(frozen=True)
class RelativeDistanceConfig:
    """Attributes:
    tie_margin_m: the closest candidate must be closer than the runner-up by at least this, else ``near_tie``.
    """

    tie_margin_m: float = 0.15


class RelativeDistance(Task):
    """``objects`` = [anchor, candidate, candidate, …] (2–4 candidates). Answer: the candidate label.

    The anchor must be unique; a candidate category with several instances counts its nearest
    instance. Distances are closest-point distances between solid boxes.
    """

    name = "relative_distance"
    scope = "scene"
    answer_kind = "choice"
    n_objects = (3, 5)
    symmetric = slice(1, None)  # the candidates
    label_rule = "nearest"
    config_cls = RelativeDistanceConfig

    def options_for(self, q: Question, r: Resolved) -> tuple[str, ...]:
        return tuple(r.labels[1:])

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        a = r.objects[0][0]
        row = index.distance_row(a)
        dists = np.array([row[inst].min() for inst in r.objects[1:]])
        order = np.argsort(dists, kind="stable")
        best, second = int(order[0]), int(order[1])
        ev = {"distances_m": dists.tolist()}  # per candidate, in the order of the options
        options = self.options_for(q, r)
        if dists[second] - dists[best] < self.config.tie_margin_m:
            return self.bad(
                Reason.NEAR_TIE,
                f"the {options[best]} ({dists[best]:.2f} m) and the {options[second]} ({dists[second]:.2f} m) are about as close to the {r.labels[0]}",
                ev,
            )
        return self.ok(options[best], options[best], ev, options)

    def candidates(self, index: SceneIndex) -> Iterator[Question]:
        """Per anchor (a label with one instance): the nearest and the farthest other category. That
        pair has the anchor's largest distance gap, so it is valid whenever any question about the
        anchor is (a valid question's best and runner-up candidates form a valid pair)."""
        for anchor in unique_labels(index):
            a = index.by_label[anchor][0]
            others = [lab for lab in index.label_list if lab != anchor]
            if len(others) < 2:
                continue
            row = index.distance_row(a)
            d = np.array([row[index.by_label[lab]].min() for lab in others])
            near, far = int(np.argmin(d)), int(np.argmax(d))
            if near != far:
                yield Question(self.name, (anchor, others[near], others[far]))

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        labels = index.label_list
        k = 2 + randint(rng, 3)
        k = max(1, min(k, len(labels) - 1))
        return Question.trusted(self.name, tuple(pick(rng, labels, k + 1)) if len(labels) >= 2 else tuple(labels))
