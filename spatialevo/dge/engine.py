"""The DGE entry point: ``DGE(scene).evaluate(question)``."""

from __future__ import annotations

import gc
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

#: verdicts :meth:`DGE.evaluate_many` keeps per scene (least recently used dropped first)
VERDICT_CACHE = 8192
#: question texts (JSON) it keeps parsed per scene
TEXT_CACHE = 8192
#: a question text, or a question's labels, frame ids and parameters together, longer than this
#: (characters) is judged but not kept, so a kept entry is at most a few kB
CACHE_MAX_CHARS = 1024


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
        self._verdicts: dict[tuple, Verdict] = {}
        self._texts: dict[str | bytes, Question | Verdict] = {}
        self._cached_tasks = self._task_state()

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
        """Judge a batch of questions about this scene: the verdicts ``[self.evaluate(q) for q in
        questions]`` gives, in order, equal field for field.

        The batch is grouped by task and each task judges its questions together
        (:meth:`Task.evaluate_many`: the shared rules per question, the geometry of all of them in
        one numpy pass). Parsed question texts and verdicts are kept per scene across calls (at
        most :data:`TEXT_CACHE` / :data:`VERDICT_CACHE`, least recently used dropped; keyed by the
        text and by the question's exact fields), so a question asked by every completion of a GRPO
        group, or again in a later batch, is parsed and judged once. Verdicts are immutable, so the
        repeats of a question get the same verdict object; :meth:`clear_cache` empties the caches.

        Python's cyclic garbage collector is paused while the batch is judged and restored after
        (the verdicts are acyclic and freed by reference counting; without the pause its repeated
        passes over the thousands of new objects cost about a third of a batch's time).
        """
        if self._cached_tasks != self._task_state():  # a task or its thresholds replaced: its verdicts may differ
            self.clear_cache()
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            return self._evaluate_many(questions)
        finally:
            if paused:
                gc.enable()

    def _evaluate_many(self, questions: Iterable[Question | Mapping[str, Any] | str]) -> list[Verdict]:
        """:meth:`evaluate_many` without the collector pause."""
        cache = self._verdicts
        out: list[Any] = []
        pending: dict[tuple, list[int]] = {}
        groups: dict[str, list[tuple[tuple, Question]]] = {}
        for pos, q in enumerate(questions):
            if not isinstance(q, Question):
                q = self._parse_kept(q)
                if isinstance(q, Verdict):
                    out.append(q)
                    continue
            key = _cache_key(q)
            v = cache.get(key)
            if v is not None:
                cache[key] = cache.pop(key)  # most recently used
                out.append(v)
                continue
            out.append(None)
            where = pending.get(key)
            if where is None:
                pending[key] = [pos]
                groups.setdefault(q.task, []).append((key, q))
            else:
                where.append(pos)
        if groups:
            self._judge_groups(groups, pending, out)
        return out

    def _judge_groups(self, groups: dict[str, list[tuple[tuple, Question]]], pending: dict[tuple, list[int]], out: list[Any]) -> None:
        """Judge each task's group of new questions at once, keep the verdicts, fill ``out``."""
        frames = sorted({f for items in groups.values() for _, q in items for f in q.frames if f in self.index.frames})
        self.index.warm(frames)
        cache = self._verdicts
        for name, items in groups.items():
            task = self.tasks.get(name)
            qs = [q for _, q in items]
            verdicts = [self.evaluate(q) for q in qs] if task is None else task.evaluate_many(self.index, qs)
            for (key, q), v in zip(items, verdicts):
                for pos in pending[key]:
                    out[pos] = v
                if _small(q):
                    if len(cache) >= VERDICT_CACHE:
                        del cache[next(iter(cache))]
                    cache[key] = v

    def _task_state(self) -> dict[str, tuple[Task, Any]]:
        """Each task (compared as the same object) and its config (a frozen dataclass, by value)."""
        return {name: (task, task.config) for name, task in self.tasks.items()}

    def clear_cache(self) -> None:
        """Forget the parsed texts and verdicts :meth:`evaluate_many` keeps."""
        self._verdicts.clear()
        self._texts.clear()
        self._cached_tasks = self._task_state()

    def _parse_kept(self, question: Any) -> Question | Verdict:
        """:meth:`_parse`, a text parsed once while kept (:data:`TEXT_CACHE`); a verdict returned is the cache's."""
        if not isinstance(question, (str, bytes)) or len(question) > CACHE_MAX_CHARS:
            return self._parse(question)
        texts = self._texts
        hit = texts.get(question)
        if hit is None:
            hit = self._parse(question)
            if len(texts) >= TEXT_CACHE:
                del texts[next(iter(texts))]
        else:
            del texts[question]
        texts[question] = hit
        return hit

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


def _cache_key(q: Question) -> tuple:
    """A key equal only for questions with the same fields *and* parameter types and spellings:
    ``Question.key`` treats ``1``, ``1.0`` and ``True`` alike, which the rules do not."""
    items = tuple(q.params.items())
    for _, v in items:
        if type(v) is not str:
            items = tuple((k, type(v), repr(v)) for k, v in items)
            break
    return (q.task, q.objects, q.frames, items)


def _small(q: Question) -> bool:
    """Whether a question's text (labels, frame ids, parameters) is at most :data:`CACHE_MAX_CHARS`."""
    n = len(q.task) + sum(map(len, q.objects))
    if q.frames:
        n += sum(map(len, q.frames))
    for k, v in q.params.items():
        n += len(k) + (len(v) if isinstance(v, str) else v.bit_length() // 8 if isinstance(v, int) else 8)
    return n <= CACHE_MAX_CHARS
