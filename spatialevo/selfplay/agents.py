"""Scripted agents for tests, demos and curriculum benchmarks (no model).

* :class:`RandomAnswerer` — answers uniformly at random in the task's answer format.
* :class:`NoisyOracleSolver` — answers correctly with a per-task probability (its *skill*) that
  grows with practice on that task, else like the random answerer: a stand-in learner for
  measuring curricula.
* :class:`OracleQuestioner` — proposes DGE-sampled valid questions as JSON.

Solvers take the DGE :class:`~spatialevo.dge.Verdict` of the question (ground truth is what a
scripted stand-in may read) and return model-style text ``<answer>…</answer>``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from spatialevo.dge import DGE, TASKS, Question, Verdict


def random_answer_text(verdict: Verdict, rng: np.random.Generator) -> str:
    """A uniformly random answer in the format of a (valid) verdict's task (:meth:`Task.random_answer`)."""
    return TASKS[verdict.task].random_answer(verdict, rng)


def wrap(text: str) -> str:
    return f"<answer>{text}</answer>"


class RandomAnswerer:
    """Answers uniformly at random (see :func:`random_answer_text`)."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def answer(self, verdict: Verdict) -> str:
        """``<answer>…</answer>`` text; for an invalid question a random reason code."""
        if not verdict.valid:
            from spatialevo.dge import REASON_CODES

            return wrap(REASON_CODES[int(self.rng.integers(len(REASON_CODES)))])
        return wrap(random_answer_text(verdict, self.rng))


class NoisyOracleSolver:
    """Correct with probability ``skill[task]``, which improves with practice: after each answer on
    a task, ``skill ← skill + rate · (max_skill − skill)``.

    Args:
        tasks: task names.
        skill: starting skill (probability of a correct answer) per task, a number or a sequence.
        rate: learning rate per practised question, 0 < rate ≤ 1.
        max_skill: the skill approached with practice.
        seed: random seed.
    """

    def __init__(self, tasks: Sequence[str], *, skill: float | Sequence[float] = 0.1, rate: float = 0.02, max_skill: float = 0.95, seed: int = 0):
        self.tasks = list(tasks)
        s = np.broadcast_to(np.asarray(skill, dtype=np.float64), (len(self.tasks),)).copy()
        if np.any((s < 0) | (s > 1)) or not 0 < rate <= 1 or not 0 <= max_skill <= 1:
            raise ValueError("skill and max_skill must be in [0, 1] and rate in (0, 1]")
        self.skill = dict(zip(self.tasks, s.tolist()))
        self.rate, self.max_skill = float(rate), float(max_skill)
        self.rng = np.random.default_rng(seed)

    def answer(self, verdict: Verdict) -> str:
        task = verdict.task
        p = self.skill.get(task, 0.0)
        correct = self.rng.random() < p
        if task in self.skill:
            self.skill[task] = p + self.rate * (self.max_skill - p)
        if not verdict.valid:
            return wrap(verdict.reason.value if correct else "unsure")
        return wrap(verdict.answer_text if correct else random_answer_text(verdict, self.rng))

    def mean_skill(self) -> float:
        return float(np.mean(list(self.skill.values())))


class OracleQuestioner:
    """Proposes valid questions drawn by the DGE, written as the questioner's JSON."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def propose(self, dge: DGE, task: str, frames: Sequence[str] | None = None, max_tries: int = 5000) -> str:
        """JSON of a valid question of ``task``. With ``frames`` (the images shown: a questioner
        turn's frames), a question valid for that evidence (SPEC §7): an image task's about those
        images, written as image numbers 1, 2; a scene task's about objects visible in them (the
        last draw, possibly invalid, when none is found)."""
        if not frames:
            return dge.sample(task, self.rng).to_json()
        t = dge.task(task)
        n = t.n_frames
        q = None
        for _ in range(max_tries):
            d = t.draw(dge.index, self.rng)
            q = Question(d.task, d.objects, tuple(frames[:n]) if n else d.frames, d.params)
            if dge.evaluate(q, shown=frames).valid:
                break
        out = q.to_dict()
        if n:
            out["frames"] = list(range(1, n + 1))
        return json.dumps(out)
