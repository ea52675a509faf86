"""Task 2 — object_size (scene): longest edge of the object's minimal oriented box, centimetres."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task, indices, pick, round_int, round_int_array, unique_labels
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

    def check_many(self, index: SceneIndex, qs: Sequence[Question], rs: Sequence[Resolved]) -> list[Verdict]:
        """:meth:`check` of many questions: the edges gathered and rounded in one pass."""
        idx = indices(rs, 0)
        edges = index.longest[idx]
        out = []
        for r, edge, cm, ext in zip(rs, edges.tolist(), round_int_array(edges * 100.0), index.extents[idx].tolist()):
            ev = {"longest_edge_m": edge, "extents_m": ext}
            if cm < self.config.min_size_cm:
                out.append(self.bad(Reason.TOO_CLOSE, f"the {r.labels[0]} is degenerate ({edge:.4f} m)", ev))
            else:
                out.append(self.ok(cm, str(cm), ev))
        return out

    def candidates(self, index: SceneIndex) -> Iterator[Question]:
        """Every label with one instance."""
        return (Question(self.name, (lab,)) for lab in unique_labels(index))

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return Question.trusted(self.name, tuple(pick(rng, index.label_list)))
