"""Task 2 — object_size (scene): longest edge of the object's minimal oriented box, centimetres."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task, pick, round_int, unique_labels
from spatialevo.dge.verdict import Reason, Verdict


@dataclass(frozen=True)
class ObjectSizeConfig:
    """Attributes:
    min_size_cm: smallest answer asked (a degenerate box below it is ``too_close`` to zero).
    """

    min_size_cm: int = field(default=1, metadata={"positive": True})  # > 0 (checked by spec.build_config)


class ObjectSize(Task):
    """Answer: ``round(100 · longest box edge)`` as an integer number of cm (VSI-Bench convention)."""

    name = "object_size"
    scope = "scene"
    answer_kind = "number"
    unit = "cm"
    n_objects = (1, 1)
    config_cls = ObjectSizeConfig

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        i = r.objects[0][0]
        edge = float(index.longest[i])
        cm = round_int(edge * 100.0)
        ev = {"longest_edge_m": edge, "extents_m": index.extents[i].tolist()}
        if cm < self.config.min_size_cm:
            return self.bad(Reason.TOO_CLOSE, f"the {r.labels[0]} is degenerate ({edge:.4f} m)", ev)
        return self.ok(cm, str(cm), ev)

    def candidates(self, index: SceneIndex) -> Iterator[Question]:
        """Every label with one instance."""
        return (Question(self.name, (lab,)) for lab in unique_labels(index))

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return Question.trusted(self.name, tuple(pick(rng, index.label_list)))
