"""Reward functions for TRL's ``GRPOTrainer``, computed by the DGE only (SPEC §6).

:meth:`SelfPlayRewards.functions` returns ``[questioner_reward, solver_reward]``. TRL calls each with
``prompts``, ``completions``, ``completion_ids`` and the dataset columns (``role``, ``scene``,
``task``, ``frames``, ``question``, ``kind``, ``age``, ``row``) as keyword lists; each returns a float for the rows of its
role and ``None`` for the others (TRL then leaves those rows to the other function).

Every verdict comes from the round (:meth:`spatialevo.selfplay.Round.judge`): computed once per
question and step, for the frames the row showed, and shared by every reward function and every
completion of a GRPO group. The questioner's reward parts are computed once per batch
(:meth:`SelfPlayRewards.questioner_parts`) and passed to each reward function that needs them.

Rewards never write into the data stream: the results wait in :class:`SelfPlayRewards` until
:meth:`SelfPlayRewards.flush`, which the launcher's step-end callback calls; it gathers them across
ranks (``accelerate.utils.gather_object`` when a distributed run is initialised) and returns them,
and the callback hands them to the stream (:meth:`~spatialevo.train.stream.SelfPlayStream.advance`):
validated questions of the scheduled task for the next solver rows, solver scores for the task
scheduler. Metrics (per-task solver accuracy, the share of invalid questions the solver saw, the
age of the questioner's questions it answered, questioner reward parts) are logged through TRL's
``log_metric``.

The solver reward is ``0.1·format + 0.9·score`` in the round's answer format (``direct``: an
``<answer>`` block; ``reasoning``: one ``<think>`` block then one ``<answer>`` block, else 0).
The questioner reward is the environment's, ``novelty × (0.2·format + 0.5·valid + 0.3·match)``,
plus, when ``informativeness_weight > 0``, ``weight × novelty × informativeness`` (SPEC §6). For
informativeness, a solver group answers each valid on-task question right away: the current
policy generates that group. The term is ``1 − |2·accuracy − 1|``.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from spatialevo.dge import Question
from spatialevo.selfplay import Round
from spatialevo.selfplay.prompts import read_question
from spatialevo.selfplay.rewards import QUESTIONER_WEIGHTS, QuestionerReward, informativeness, questioner_total, solver_reward


def _text(completion: Any) -> str:
    """A TRL completion (a string, or a list of chat messages) → its text."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content", "")
        if isinstance(content, list):
            return "".join(c.get("text", "") for c in content if isinstance(c, dict))
        return str(content)
    return str(completion)


def world_size() -> int:
    """Number of processes of an initialised torch.distributed run (1 otherwise)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _gather(items: list) -> list:
    """Concatenate ``items`` over all ranks (rank order); the identity in a single process."""
    if world_size() > 1:
        from accelerate.utils import gather_object

        return list(gather_object(items))
    return items


class SelfPlayRewards:
    """The reward functions of both roles over one :class:`~spatialevo.selfplay.Round` (module docstring).

    Args:
        round: the round whose judgement (once per question and step) every reward shares.
        informativeness_weight: weight of the questioner's informativeness term (0: off).
        scheduler: the curriculum, only to log its probabilities.
    """

    def __init__(self, round: Round, *, informativeness_weight: float = 0.0, scheduler: Any = None):
        self.round = round
        self.scheduler = scheduler
        self.questioner = QuestionerReward(trivial_weight=round.config.trivial_weight)
        self.informativeness_weight = float(informativeness_weight)
        #: answers ``generations`` solver completions per item ``(scene, question, frames)`` or ``None``
        #: (a pad item, so every rank runs the same number of generations); set by the launcher
        self.solve: Callable[[list[tuple[str, Question, tuple[str, ...]] | None]], list[list[str]]] | None = None
        self.history: deque[dict[str, Any]] = deque(maxlen=256)  # the last calls: role, rewards, parts / scores (tests, logs)
        self.seconds = 0.0  #: wall time inside the reward functions (parsing, DGE, scoring and the informativeness solver groups: model time too)
        self.pending_questions: list[tuple[str, str, tuple[str, ...], str]] = []  # (scene, question, frames, canonical), until flush()
        self.pending_scores: list[tuple[str, float]] = []
        self.pending_asked: list[tuple[str, str]] = []  # every parsed question (canonical JSON), for the novelty memory
        self._batch: tuple[Any, list[dict[str, float] | None]] | None = None

    def flush(self) -> dict[str, list]:
        """End a step on every rank: gather this step's results across ranks (a collective: every rank
        must call it, as the launcher's callback does at each step end), remember the asked questions
        for the novelty factor, and return what the stream needs (the same on every rank):
        ``{"questions": [(scene, question JSON, frames)], "scores": [(task, score)]}`` — the valid
        on-task questions de-duplicated on their canonical form, in rank order, and the solver scores.
        The caller passes them to :meth:`spatialevo.train.stream.SelfPlayStream.advance`."""
        questions, scores, asked = _gather(self.pending_questions), _gather(self.pending_scores), _gather(self.pending_asked)
        self.pending_questions, self.pending_scores, self.pending_asked = [], [], []
        for scene, qjson in asked:  # the same novelty memory on every rank, whatever the world size
            self.questioner.remember(str(scene), qjson)
        seen: set[tuple[str, str]] = set()  # canonical forms: re-wordings of one question are queued once
        fresh = []
        for scene, qjson, frames, canon in questions:
            if (scene, canon) not in seen:
                seen.add((scene, canon))
                fresh.append((scene, qjson, tuple(frames)))
        self._batch = None
        return {"questions": fresh, "scores": list(scores)}

    # -- questioner -------------------------------------------------------------------------------
    def questioner_parts(self, completions: Sequence[Any], role: Sequence[str], scene: Sequence[str], task: Sequence[str],
                         frames: Sequence[str], row: Sequence[int] | None = None, **_: Any) -> list[dict[str, float] | None]:
        """The reward parts of every questioner row of a batch (``None`` for solver rows), computed
        once per batch: every reward function of the questioner (the whole reward, or GDPO's
        per-part ones) reads them from here."""
        texts = [_text(c) for c in completions]
        ident = (tuple(row) if row is not None else None, tuple(texts), tuple(role), tuple(scene))
        if self._batch is not None and self._batch[0] == ident:
            return self._batch[1]
        out: list[dict[str, float] | None] = []
        asked: list[tuple[int, str, Question, tuple[str, ...]]] = []  # valid, on task: (position, scene, question, frames)
        for text, r, s, t, f in zip(texts, role, scene, task, frames):
            if r != "questioner":
                out.append(None)
                continue
            shown = tuple(json.loads(f))
            q, _err = read_question(text, shown)
            v, canon = self.round.judge_canonical(str(s), q, shown) if q is not None else (None, None)
            _, parts = self.questioner(str(s), t, canon, v, remember=False, trivial=self.round.trivial(v))  # memory: in flush()
            parts["informativeness"] = 0.0
            out.append(parts)
            if canon is not None:
                self.pending_asked.append((str(s), canon.to_json()))
            if v is not None and v.valid and q.task == t and not self.round.trivial(v):  # trivial counts: not for the solver
                self.pending_questions.append((str(s), q.to_json(), shown, canon.to_json()))
                asked.append((len(out) - 1, str(s), q, shown))
        if self.informativeness_weight > 0:
            self._add_informativeness(out, asked)
        self._batch = (ident, out)
        return out

    def questioner_reward(self, prompts: Sequence[Any], completions: Sequence[Any], log_metric: Callable | None = None,
                          **cols: Any) -> list[float | None]:
        t0 = time.perf_counter()
        parts_all = self.questioner_parts(completions, **cols)
        out: list[float | None] = [None if p is None else questioner_total(p) + self.informativeness_weight * p["novelty"] * p["informativeness"]
                                   for p in parts_all]
        mine = [p for p in parts_all if p is not None]
        if log_metric is not None and mine:
            for key in (*QUESTIONER_WEIGHTS, "novelty", "informativeness"):
                log_metric(f"questioner/{key}", sum(p[key] for p in mine) / len(mine))
        self.history.append({"role": "questioner", "rewards": [x for x in out if x is not None], "parts": mine})
        self.seconds += time.perf_counter() - t0
        return out

    def _add_informativeness(self, parts_all: list[dict[str, float] | None], asked: list[tuple[int, str, Question, tuple[str, ...]]]) -> None:
        """SPEC §6 informativeness: the current policy answers each valid on-task question as a
        solver group (:attr:`solve`: the rollouts' engine, vLLM with ``grpo.use_vllm``), shown the questioner's frames; ``1 − |2·accuracy − 1|`` (1 at
        50 %, 0 at 0 or 100 %) is the part (the reward adds ``weight × novelty ×`` it). Every rank
        pads to the largest count so all ranks generate alike (ZeRO-3 needs that)."""
        n_max = max(_gather([len(asked)]))
        if n_max == 0 or self.solve is None:
            return
        items: list[tuple[str, Question, tuple[str, ...]] | None] = [(s, q, f) for _, s, q, f in asked] + [None] * (n_max - len(asked))
        answers = self.solve(items)
        fmt = self.round.config.answer_format  # the group answered the round's solver prompt, in this format
        for (pos, s, q, f), group in zip(asked, answers):
            v = self.round.judge(s, q, f)  # the verdict of this step, computed once
            parts_all[pos]["informativeness"] = informativeness([solver_reward(a, v, fmt)[1]["score"] for a in group])

    # -- solver -----------------------------------------------------------------------------------
    def solver_reward(self, prompts: Sequence[Any], completions: Sequence[Any], role: Sequence[str], scene: Sequence[str],
                      task: Sequence[str], question: Sequence[str], frames: Sequence[str], log_metric: Callable | None = None,
                      kind: Sequence[str] | None = None, age: Sequence[int] | None = None, **_: Any) -> list[float | None]:
        """The solver reward of every solver row (``None`` for questioner rows): format + score in the
        round's answer format (``round.answer_format``: ``direct`` or ``reasoning``, the format the
        rows' prompts asked for; :func:`~spatialevo.selfplay.rewards.solver_reward`)."""
        t0 = time.perf_counter()
        out: list[float | None] = []
        scores: list[tuple[str, float]] = []
        fmt, invalid, ages = [], [], []
        kinds = kind if kind is not None else [""] * len(role)
        age_col = age if age is not None else [-1] * len(role)
        for comp, r, s, qjson, f, k, a in zip(completions, role, scene, question, frames, kinds, age_col):
            if r != "solver":
                out.append(None)
                continue
            q = Question.from_json(qjson)
            v = self.round.judge(str(s), q, tuple(json.loads(f)))  # once per question and step, shared by the group
            reward, parts, _err = solver_reward(_text(comp), v, self.round.config.answer_format)
            out.append(reward)
            fmt.append(parts["format"])
            invalid.append(0.0 if v.valid else 1.0)
            if k == "asked":
                ages.append(float(a))
            if v.valid:  # the curriculum follows the accuracy on answerable questions
                scores.append((q.task, parts["score"]))
        self.pending_scores.extend(scores)
        if log_metric is not None and fmt:
            log_metric("solver/format", sum(fmt) / len(fmt))
            log_metric("solver/invalid_share", sum(invalid) / len(invalid))
            log_metric("solver/asked_share", len(ages) / len(fmt))
            if ages:
                log_metric("solver/question_age", sum(ages) / len(ages))
            if scores:
                log_metric("solver/accuracy", sum(x for _, x in scores) / len(scores))
            for t in sorted({t for t, _ in scores}):
                vals = [x for tt, x in scores if tt == t]
                log_metric(f"solver_acc/{t}", sum(vals) / len(vals))
            if self.scheduler is not None:
                for t, prob in zip(self.scheduler.tasks, self.scheduler.probabilities()):
                    log_metric(f"scheduler/{t}", float(prob))
        self.history.append({"role": "solver", "rewards": [x for x in out if x is not None], "scores": scores})
        self.seconds += time.perf_counter() - t0
        return out

    def functions(self, split: bool = False) -> tuple[list[Callable[..., list[float | None]]], list[float]]:
        """Reward functions for TRL and their weights.

        ``split=False``: ``[questioner_reward, solver_reward]`` with weights ``[1, 1]``.
        ``split=True`` (for decoupled per-reward normalisation, GDPO): one function per questioner
        part of :data:`~spatialevo.selfplay.rewards.QUESTIONER_WEIGHTS` (``questioner_format``,
        ``questioner_valid``, ``questioner_task_match``; each times the novelty factor) with its
        weight, ``questioner_informativeness`` when on, plus ``solver_reward``. Every part function
        reads the batch's parts from :meth:`questioner_parts` (computed once per batch).
        """

        def questioner_reward(**kw: Any) -> list[float | None]:
            return self.questioner_reward(**kw)

        def solver_reward_fn(**kw: Any) -> list[float | None]:
            return self.solver_reward(**kw)

        solver_reward_fn.__name__ = "solver_reward"
        if not split:
            return [questioner_reward, solver_reward_fn], [1.0, 1.0]

        def part(key: str) -> Callable[..., list[float | None]]:
            def fn(prompts: Any = None, completions: Sequence[Any] = (), log_metric: Callable | None = None, **cols: Any) -> list[float | None]:
                return [None if p is None else p[key] * p["novelty"] for p in self.questioner_parts(completions, **cols)]

            fn.__name__ = f"questioner_{key}"
            return fn

        funcs = [part(k) for k in QUESTIONER_WEIGHTS]
        weights = list(QUESTIONER_WEIGHTS.values())
        if self.informativeness_weight > 0:
            funcs.append(part("informativeness"))
            weights.append(self.informativeness_weight)
        return [*funcs, solver_reward_fn], [*weights, 1.0]
