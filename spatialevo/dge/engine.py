"""The DGE entry point: ``DGE(scene).evaluate(question)``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question, QuestionFormatError
from spatialevo.dge.spec import build_config, load_spec, tasks_dir
from spatialevo.dge.tasks import TASKS, Task
from spatialevo.dge.tasks.base import EVIDENCE_MIN_VISIBLE
from spatialevo.dge.verdict import Reason, Verdict
from spatialevo.scene.model import Scene


def make_tasks(overrides: Mapping[str, Mapping[str, Any]] | None = None, folder: Path | None = None) -> dict[str, Task]:
    """One configured instance of every task: thresholds from ``<folder>/<task>.yaml``, then ``overrides``.

    Raises:
        SceneFormatError: a spec file is malformed or ``overrides`` names an unknown task / threshold.
    """
    from spatialevo.errors import SceneFormatError

    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(TASKS))
    if unknown:
        raise SceneFormatError(f"unknown task(s) {unknown} in threshold overrides (tasks: {list(TASKS)})", field="config")
    folder = folder or tasks_dir()
    out = {}
    for name, cls in TASKS.items():
        spec = load_spec(name, folder)
        values = {**(spec.get("thresholds") or {}), **dict(overrides.get(name, {}))}
        out[name] = cls(build_config(cls.config_cls, values, source=folder / f"{name}.yaml"))
    return out


def make_rng(seed: int, idx: int = 0) -> np.random.Generator:
    """The seeded generator of sample ``idx`` of a run with ``seed`` (reasoning-gym style)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(idx) & 0xFFFFFFFF])


class DGE:
    """Deterministic Geometric Environment of one scene.

    Args:
        scene: the scene (any layout; box-list scenes support the scene tasks, and image tasks
            return ``no_frames``).
        config: per-task threshold overrides, e.g. ``{"absolute_distance": {"min_distance_m": 0.05}}``
            (defaults: ``tasks/<task>.yaml``).
        tasks_folder: folder of the task specs (default :func:`~spatialevo.dge.spec.tasks_dir`).

    Per-scene work (pairwise box distances, per-frame visibility) is computed once on first use
    and shared by every question; :meth:`evaluate_many` warms what a batch needs up front.
    """

    def __init__(self, scene: Scene, *, config: Mapping[str, Mapping[str, Any]] | None = None, tasks_folder: Path | None = None):
        if not isinstance(scene, Scene):
            raise TypeError(f"DGE needs a spatialevo Scene, got {type(scene).__name__}")
        self.scene = scene
        self.index = SceneIndex(scene)
        self.tasks = make_tasks(config, tasks_folder)

    def task(self, name: str) -> Task:
        """The configured task ``name`` (KeyError listing the known tasks)."""
        try:
            return self.tasks[name]
        except KeyError:
            raise KeyError(f"unknown task {name!r}; tasks: {list(self.tasks)}") from None

    def evaluate(self, question: Question | Mapping[str, Any] | str, *, shown: Sequence[str] | None = None,
                 min_visible: float = EVIDENCE_MIN_VISIBLE) -> Verdict:
        """Judge one question (a :class:`Question`, a mapping, or JSON text); never raises on bad questions.

        ``shown``: the frame ids shown with the question (SPEC §7); the question is then also judged
        against that evidence: ``not_in_evidence`` when an object it names (for counting, an
        instance of the label) is visible (fraction ≥ ``min_visible``) in none of them, or an image
        task's frame is not shown. ``None`` (default): the scene as a whole is the evidence.

        Returns a valid :class:`Verdict` with the exact answer, or an invalid one with a reason code
        (``malformed`` for data that is not a well-formed question).
        """
        if not isinstance(question, Question):
            question = self._parse(question)
            if isinstance(question, Verdict):
                return question
        task = self.tasks.get(question.task)
        if task is None:
            return Verdict.invalid(Reason.MALFORMED, f"unknown task {question.task!r}; tasks: {', '.join(self.tasks)}", task=question.task)
        if shown is not None:
            shown = [str(f) for f in shown]
            unknown = [f for f in shown if f not in self.index.frames]
            if unknown:
                return Verdict.invalid(Reason.FRAME_MISSING, f"shown frame {unknown[0]!r} is not in scene {self.scene.scene_id}", task=question.task)
        return task.evaluate(self.index, question, shown, min_visible)

    def canonical(self, question: Question) -> Question:
        """The canonical form of a question (SPEC §8; :meth:`Task.canonical`): references resolved to
        instances, labels and parameters normalised, symmetric objects ordered. Re-worded repeats of
        one question (``"TV"`` / ``"tv#13"`` for the only tv, ``{"level": "HARD"}``, swapped objects of
        a symmetric task) have equal canonical forms. A question of an unknown task is returned as is."""
        task = self.tasks.get(question.task)
        return question if task is None else task.canonical(self.index, question)

    def evaluate_many(self, questions: Iterable[Question | Mapping[str, Any] | str]) -> list[Verdict]:
        """Judge a batch of questions about this scene (each as :meth:`evaluate` would), sharing the
        per-scene precomputation: a question that occurs several times in the batch (the completions
        of a GRPO group asking the same thing, the same JSON text) is parsed and judged once, and its
        copies get that one :class:`Verdict` object (treat verdicts as read-only)."""
        qs = list(questions)
        parsed: list[Question | Verdict] = []
        texts: dict[str | bytes, Question | Verdict] = {}
        for q in qs:
            if isinstance(q, (str, bytes)):
                hit = texts.get(q)
                if hit is None:
                    hit = texts[q] = self._parse(q)
                parsed.append(hit)
            else:
                parsed.append(q if isinstance(q, Question) else self._parse(q))
        frames = sorted({f for q in parsed if isinstance(q, Question) for f in q.frames if f in self.index.frames})
        self.index.warm(frames)
        judged: dict[tuple, Verdict] = {}
        out = []
        for q in parsed:
            if isinstance(q, Verdict):
                out.append(q)
                continue
            key = q.key()
            v = judged.get(key)
            if v is None:
                v = judged[key] = self.evaluate(q)
            out.append(v)
        return out

    @staticmethod
    def _parse(question: Mapping[str, Any] | str | bytes) -> Question | Verdict:
        """The question, or the ``malformed`` verdict :meth:`evaluate` would give it."""
        try:
            return Question.from_json(question) if isinstance(question, (str, bytes)) else Question.from_dict(question)
        except QuestionFormatError as exc:
            return Verdict.invalid(Reason.MALFORMED, str(exc))

    def sample(self, task: str, rng: np.random.Generator | int, *, max_tries: int = 20_000) -> Question:
        """A valid question of ``task`` drawn uniformly (``rng`` a Generator or an int seed).

        Raises:
            KeyError: unknown task.
            NoValidQuestionError: the scene has no valid question of this task.
        """
        gen = rng if isinstance(rng, np.random.Generator) else make_rng(int(rng))
        return self.task(task).sample(self.index, gen, max_tries=max_tries)
