"""Rewards of the two roles (SPEC §6), from the DGE and the task scorers — no LLM judge.

Questioner: ``novelty × (0.2·format + 0.5·valid + 0.3·task_match)`` (:data:`QUESTIONER_WEIGHTS`); format = the output is a
structured question at all, valid = the DGE judges it valid, task_match = it is of the scheduled
task, novelty = 0.5 when the same question was already asked on the same scene within the last
``memory`` questions, else 1. "The same question" is decided on the canonical form
(:meth:`spatialevo.dge.DGE.canonical`: references resolved to instances, labels and parameters
normalised, symmetric objects ordered), so re-wording a question does not make it new. The group-level *informativeness* term (how far the solvers'
accuracy on the question is from 0 and 1) needs several solver answers; :func:`informativeness`
computes it for the training launcher.

Solver: ``0.1·format + 0.9·score``; format = the output has a complete, non-empty
``<answer>…</answer>`` block (:func:`spatialevo.dge.scoring.answer_block`, the same block the scorer
reads; tags lenient about spaces and case), score = the task's scorer on the one answer the output
commits to (:func:`spatialevo.dge.scoring.read_answer`: a value, a reason code or unparsable, never
both): for a valid question :func:`~spatialevo.dge.scoring.score` (MRA for numbers, exact match
after normalisation for choices / directions; a reason code scores 0), for an invalid one
:func:`~spatialevo.dge.scoring.score_reason` (1 when the answer is exactly its reason code, with
only filler words such as "invalid" beside it; a value scores 0). Negated, hedged or multi-answer
outputs score 0. That is the ``direct`` answer format. In the ``reasoning`` format
(``RoundConfig.answer_format``) the output must be exactly one non-empty ``<think>…</think>`` block
followed by one non-empty ``<answer>…</answer>`` block (:func:`spatialevo.selfplay.prompts.reasoning_answer`);
format = 1 for such an output and the score is read from its answer block only; any other output
(no think block, an answer inside the think block, two answers, text after the answer, …) gets
format 0 *and* score 0: its structure does not say which answer it commits to, and the think block
(free text, hedges allowed) is never scored.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from spatialevo.dge import Question, Verdict
from spatialevo.dge.scoring import answer_block, score, score_reason
from spatialevo.selfplay.prompts import ANSWER_FORMATS, MAX_OUTPUT_CHARS, reasoning_answer

#: the questioner reward's parts and weights: reward = novelty × Σ weight · part (SPEC §6). A new
#: part is one entry here plus its value in :func:`questioner_parts`; the env, the trainer's reward
#: functions and GDPO's per-part split all read this table.
QUESTIONER_WEIGHTS: dict[str, float] = {"format": 0.2, "valid": 0.5, "task_match": 0.3}
W_FORMAT, W_VALID, W_MATCH = (QUESTIONER_WEIGHTS[k] for k in ("format", "valid", "task_match"))
W_SOLVER_FORMAT, W_SOLVER_SCORE = 0.1, 0.9
REPEAT_FACTOR = 0.5


def questioner_parts(canonical: Question | None, verdict: Verdict | None, task: str, *, repeated: bool, trivial: bool = False,
                     trivial_weight: float = 1.0) -> dict[str, float]:
    """The parts of the questioner reward of one output: every key of :data:`QUESTIONER_WEIGHTS`,
    plus ``novelty`` (1, or :data:`REPEAT_FACTOR` for a repeat; times ``trivial_weight`` for a valid
    question with a trivial answer, e.g. a count below the round's ``counting_min``)."""
    if canonical is None or verdict is None:
        return {"format": 0.0, "valid": 0.0, "task_match": 0.0, "novelty": 0.0}
    novelty = (REPEAT_FACTOR if repeated else 1.0) * (trivial_weight if trivial and verdict.valid else 1.0)
    return {"format": 1.0, "valid": float(verdict.valid), "task_match": float(canonical.task == task), "novelty": novelty}


def questioner_total(parts: dict[str, float]) -> float:
    """``novelty × Σ weight · part`` over :data:`QUESTIONER_WEIGHTS`."""
    return parts["novelty"] * sum(w * parts[k] for k, w in QUESTIONER_WEIGHTS.items())


class QuestionerReward:
    """Stateful questioner reward (remembers recent questions per scene for the novelty factor).

    Callers pass the question in its canonical form (``dge.canonical(question)``): the memory
    compares canonical JSON, so ``["TV"]``, ``["tv"]`` and ``["tv#13"]`` (the only tv) are one question.

    Args:
        memory: questions remembered (oldest dropped first).
        trivial_weight: factor on the reward of a valid question with a trivial answer (the caller
            says which are, :meth:`spatialevo.selfplay.Round.trivial`); 1 by default.
    """

    def __init__(self, memory: int = 1000, *, trivial_weight: float = 1.0):
        self.memory = int(memory)
        self.trivial_weight = float(trivial_weight)
        self._seen: OrderedDict[tuple, None] = OrderedDict()

    def __call__(
        self, scene_id: str, task: str, canonical: Question | None, verdict: Verdict | None, *, remember: bool = True,
        trivial: bool = False,
    ) -> tuple[float, dict[str, float]]:
        """``(reward, parts)`` of a question (its canonical form, ``None`` when the output was no
        question) on a scene; ``remember=False`` scores against the memory without adding the
        question (a batch scored alike in any order; add it later with :meth:`remember`)."""
        repeated = canonical is not None and (str(scene_id), canonical.to_json()) in self._seen
        if remember and canonical is not None and verdict is not None:
            self.remember(scene_id, canonical)
        parts = questioner_parts(canonical, verdict, task, repeated=repeated, trivial=trivial, trivial_weight=self.trivial_weight)
        return questioner_total(parts), parts

    def remember(self, scene_id: str, question: Question | str) -> None:
        """Add a canonical question (or its JSON) asked on a scene to the memory (oldest dropped first)."""
        key = (str(scene_id), question if isinstance(question, str) else question.to_json())
        self._seen[key] = None
        self._seen.move_to_end(key)
        while len(self._seen) > self.memory:
            self._seen.popitem(last=False)

    def state_dict(self) -> dict[str, Any]:
        return {"memory": self.memory, "seen": [list(k) for k in self._seen]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.memory = int(state["memory"])
        self._seen = OrderedDict((tuple(k), None) for k in state["seen"])


def solver_reward(output: Any, verdict: Verdict, answer_format: str = "direct") -> tuple[float, dict[str, float], str]:
    """``(reward, parts, error)`` of a solver output against the question's verdict (module docstring):
    ``direct``: format needs a complete ``<answer>…</answer>`` block with non-empty content;
    ``reasoning``: one ``<think>…</think>`` block then one ``<answer>…</answer>`` block, else 0."""
    return solver_reward_of(output, valid=verdict.valid, kind=verdict.answer_kind, gt=verdict.answer, unit=verdict.unit,
                            options=verdict.options, reason=verdict.reason.value if verdict.reason is not None else "",
                            answer_format=answer_format)


def solver_reward_of(output: Any, *, valid: bool, kind: str, gt: Any, unit: str | None = None, options: Sequence[str] | None = None,
                     reason: str = "", answer_format: str = "direct") -> tuple[float, dict[str, float], str]:
    """:func:`solver_reward` from the verdict's fields (as a QA record holds them)."""
    if answer_format not in ANSWER_FORMATS:
        raise ValueError(f"answer_format must be one of {ANSWER_FORMATS}, got {answer_format!r}")
    if not isinstance(output, str):
        return 0.0, {"format": 0.0, "score": 0.0}, f"the answer must be text, got {type(output).__name__}"
    if len(output) > MAX_OUTPUT_CHARS:
        return 0.0, {"format": 0.0, "score": 0.0}, f"the answer is {len(output)} characters long (limit {MAX_OUTPUT_CHARS})"
    if answer_format == "reasoning":
        answer, err = reasoning_answer(output)
        if answer is None:
            return 0.0, {"format": 0.0, "score": 0.0}, err
        s = answer_score(answer, valid=valid, kind=kind, gt=gt, unit=unit, options=options, reason=reason)
        return W_SOLVER_FORMAT + W_SOLVER_SCORE * s, {"format": 1.0, "score": s}, ""
    block = answer_block(output)
    fmt = 1.0 if block else 0.0
    err = "" if fmt else ("empty <answer></answer> block" if block == "" else "no <answer>...</answer> block")
    s = answer_score(output, valid=valid, kind=kind, gt=gt, unit=unit, options=options, reason=reason)
    return W_SOLVER_FORMAT * fmt + W_SOLVER_SCORE * s, {"format": fmt, "score": s}, err


def answer_score(output: str, *, valid: bool, kind: str, gt: Any, unit: str | None = None, options: Sequence[str] | None = None,
                 reason: str = "") -> float:
    """The solver's correctness in [0, 1] (the reward's ``score`` part, and
    :func:`spatialevo.score_answer`): the task's scorer for a valid question, naming ``reason`` for
    an invalid one."""
    if valid:
        return float(score(output, kind=kind, gt=gt, unit=unit, options=options))
    return float(score_reason(output, reason))


def informativeness(scores: Sequence[float]) -> float:
    """1 − |2·mean − 1| of a group of solver scores: 1 at 50 % accuracy, 0 at 0 % or 100 %."""
    if not scores:
        return 0.0
    m = sum(scores) / len(scores)
    return 1.0 - abs(2.0 * m - 1.0)
