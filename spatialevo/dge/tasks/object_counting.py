"""Task 1 — object_counting (scene): how many instances of a category the scene holds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task, pick
from spatialevo.dge.verdict import Reason, Verdict


@dataclass(frozen=True)
class ObjectCountingConfig:
    """Attributes:
    min_count: smallest count asked (public benchmarks ask only for categories with >= 2).
    """

    min_count: int = field(default=1, metadata={"positive": True})  # > 0 (checked by spec.build_config)


class ObjectCounting(Task):
    """Answer: integer count of instances of ``objects[0]``; ``label_absent`` if there is none."""

    name = "object_counting"
    scope = "scene"
    answer_kind = "integer"
    n_objects = (1, 1)
    label_rule = "count"
    config_cls = ObjectCountingConfig

    def resolve(self, index: SceneIndex, q: Question) -> Resolved | Verdict:
        if len(q.objects) != 1 or q.frames or q.params:
            return super().resolve(index, q)  # reports the malformed part
        lab = index.norm(q.objects[0])
        if lab is None:
            return self.bad(Reason.MALFORMED, f"{q.objects[0]!r} is not an object label")
        inst = index.by_label.get(lab, [])
        if not inst:
            return self.bad(Reason.LABEL_ABSENT, f"there is no {lab} in scene {index.scene.scene_id}", {"label": lab})
        return Resolved([list(inst)], [], {}, [lab])

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        n = len(r.objects[0])
        if n < self.config.min_count:
            return self.bad(
                Reason.LABEL_ABSENT,
                f"only {n} {r.labels[0]} in the scene; counting asks for categories with at least {self.config.min_count}",
                {"count": n},
            )
        return self.ok(n, str(n), {"count": n})

    def candidates(self, index: SceneIndex) -> Iterator[Question]:
        """Every label with at least ``min_count`` instances."""
        return (Question(self.name, (lab,)) for lab, inst in sorted(index.by_label.items()) if len(inst) >= self.config.min_count)

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        return Question.trusted(self.name, tuple(pick(rng, index.label_list)))
