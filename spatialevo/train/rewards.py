"""Reward functions for TRL's ``GRPOTrainer``, computed by the DGE only (SPEC §6).

:func:`make_reward_functions` returns ``[questioner_reward, solver_reward]``. TRL calls each with
``prompts``, ``completions``, ``completion_ids`` and the dataset columns (``role``, ``scene``,
``task``, ``frames``, ``question``) as keyword lists; each returns a float for the rows of its
role and ``None`` for the others (TRL then leaves those rows to the other function).

The results wait in :class:`SelfPlayRewards` until :meth:`SelfPlayRewards.flush`, which the
launcher's ``TrainerCallback`` calls at each step end: it gathers them across ranks
(``accelerate.utils.gather_object`` when a distributed run is initialised) and applies the same
updates on every rank: validated questions of the scheduled task go to the stream's buffer for
the next solver rows, solver scores update the task scheduler. Metrics (per-task solver accuracy, questioner validity rate,
reward parts) are logged through TRL's ``log_metric``.

The questioner reward is the environment's, ``novelty × (0.2·format + 0.5·valid + 0.3·match)``,
plus, when ``informativeness_weight > 0``, ``weight × novelty × informativeness`` (SPEC §6). For
informativeness, a solver group answers each valid on-task question right away: the current
policy generates that group. The term is ``1 − |2·accuracy − 1|``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from spatialevo.dge import Question
from spatialevo.prompts import read_question
from spatialevo.rewards import QuestionerReward, informativeness, solver_reward
from spatialevo.train.stream import SelfPlayStream


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
    """The two reward functions and the shared state they update (see module docstring)."""

    def __init__(self, stream: SelfPlayStream, *, informativeness_weight: float = 0.0):
        self.stream = stream
        self.questioner = QuestionerReward()
        self.informativeness_weight = float(informativeness_weight)
        #: answers ``generations`` solver completions per item ``(scene, question)`` or ``None`` (a pad
        #: item, so every rank runs the same number of generations); set by the launcher
        self.solve: Callable[[list[tuple[int, Question] | None]], list[list[str]]] | None = None
        self.history: list[dict[str, Any]] = []  # per call: role, task, reward, parts (for tests / logs)
        self.seconds = 0.0  #: time spent in the reward functions (parsing, DGE, scoring), for benchmarks
        self.pending_questions: list[tuple[int, str, str]] = []  # this rank's (scene, question, canonical JSON), until flush()
        self.pending_scores: list[tuple[str, float]] = []
        self.pending_asked: list[tuple[int, str]] = []  # every parsed question, for the novelty memory

    def flush(self) -> None:
        """Apply this step's results on every rank: gather them across ranks (a collective: every
        rank must call it, as the launcher's callback does at each step end), remember the asked
        questions for the novelty factor, queue the validated questions (de-duplicated, in rank
        order) and update the scheduler with the solver scores."""
        questions, scores, asked = _gather(self.pending_questions), _gather(self.pending_scores), _gather(self.pending_asked)
        self.pending_questions, self.pending_scores, self.pending_asked = [], [], []
        for scene, qjson in asked:  # the same novelty memory on every rank, whatever the world size
            self.questioner.remember(str(scene), qjson)
        seen: set[tuple[int, str]] = set()  # canonical forms: re-wordings of one question are queued once
        fresh = []
        for scene, qjson, canon in questions:
            key = (int(scene), canon)
            if key not in seen:
                seen.add(key)
                fresh.append((int(scene), qjson))
        self.stream.add_questions(fresh)
        for t, sc in scores:
            self.stream.scheduler.update(t, sc)

    def questioner_reward(self, prompts: Sequence[Any], completions: Sequence[Any], role: Sequence[str], scene: Sequence[int],
                          task: Sequence[str], frames: Sequence[str], log_metric: Callable | None = None, **_: Any) -> list[float | None]:
        t0 = time.perf_counter()
        out: list[float | None] = []
        valid: list[tuple[int, str, str]] = []
        parts_all: list[dict[str, float]] = []
        asked: list[tuple[int, int, Question]] = []  # (position in out, scene, question): valid and on task
        for comp, r, s, t, f in zip(completions, role, scene, task, frames):
            if r != "questioner":
                out.append(None)
                continue
            q, _err = read_question(_text(comp), json.loads(f))
            dge = self.stream.dge(int(s))
            v = dge.evaluate(q) if q is not None else None
            canon = dge.canonical(q) if q is not None else None
            reward, parts = self.questioner(str(s), t, canon, v, remember=False)  # memory updated in flush(), from all ranks
            parts["informativeness"] = 0.0
            if canon is not None:
                self.pending_asked.append((int(s), canon.to_json()))
            out.append(reward)
            parts_all.append(parts)
            if q is not None and v is not None and v.valid and q.task == t:
                valid.append((int(s), q.to_json(), canon.to_json()))
                asked.append((len(out) - 1, int(s), q))
        if self.informativeness_weight > 0:
            self._add_informativeness(out, parts_all, asked)
        self.pending_questions.extend(valid)
        if log_metric is not None and parts_all:
            for key in ("format", "valid", "task_match", "novelty", "informativeness"):
                log_metric(f"questioner/{key}", sum(p[key] for p in parts_all) / len(parts_all))
        self.history.append({"role": "questioner", "rewards": [x for x in out if x is not None], "parts": parts_all})
        self.seconds += time.perf_counter() - t0
        return out

    def _add_informativeness(self, out: list[float | None], parts_all: list[dict[str, float]], asked: list[tuple[int, int, Question]]) -> None:
        """SPEC §6 informativeness: the current policy answers each valid on-task question as a
        solver group (:attr:`solve`); ``1 − |2·accuracy − 1|`` (1 at 50 %, 0 at 0 or 100 %), times
        the novelty factor and ``informativeness_weight``, is added to the questioner reward.
        Every rank pads to the largest count so all ranks generate alike (ZeRO-3 needs that)."""
        n_max = max(_gather([len(asked)]))
        if n_max == 0 or self.solve is None:
            return
        items: list[tuple[int, Question] | None] = [(s, q) for _, s, q in asked] + [None] * (n_max - len(asked))
        answers = self.solve(items)
        pos_to_part = [i for i, x in enumerate(out) if x is not None]
        for (pos, s, q), group in zip(asked, answers):
            v = self.stream.dge(s).evaluate(q)
            scores = [solver_reward(a, v)[1]["score"] for a in group]
            info = informativeness(scores)
            parts = parts_all[pos_to_part.index(pos)]
            parts["informativeness"] = info
            out[pos] = float(out[pos]) + self.informativeness_weight * parts["novelty"] * info

    def solver_reward(self, prompts: Sequence[Any], completions: Sequence[Any], role: Sequence[str], scene: Sequence[int],
                      task: Sequence[str], question: Sequence[str], log_metric: Callable | None = None, **_: Any) -> list[float | None]:
        t0 = time.perf_counter()
        out: list[float | None] = []
        scores: list[tuple[str, float]] = []
        fmt: list[float] = []
        for comp, r, s, qjson in zip(completions, role, scene, question):
            if r != "solver":
                out.append(None)
                continue
            q = Question.from_json(qjson)
            v = self.stream.dge(int(s)).evaluate(q)
            reward, parts, _err = solver_reward(_text(comp), v)
            out.append(reward)
            scores.append((q.task, parts["score"]))
            fmt.append(parts["format"])
        self.pending_scores.extend(scores)
        if log_metric is not None and scores:
            log_metric("solver/format", sum(fmt) / len(fmt))
            log_metric("solver/accuracy", sum(s for _, s in scores) / len(scores))
            for t in sorted({t for t, _ in scores}):
                vals = [s for tt, s in scores if tt == t]
                log_metric(f"solver_acc/{t}", sum(vals) / len(vals))
            for t, prob in zip(self.stream.scheduler.tasks, self.stream.scheduler.probabilities()):
                log_metric(f"scheduler/{t}", float(prob))
        self.history.append({"role": "solver", "rewards": [x for x in out if x is not None], "scores": scores})
        self.seconds += time.perf_counter() - t0
        return out

    def functions(self, split: bool = False) -> tuple[list[Callable[..., list[float | None]]], list[float]]:
        """Reward functions for TRL and their weights.

        ``split=False``: ``[questioner_reward, solver_reward]`` with weights ``[1, 1]``.
        ``split=True`` (for decoupled per-reward normalisation, GDPO): the questioner reward's
        parts as separate functions ``questioner_format``, ``questioner_valid``,
        ``questioner_match`` (each times the novelty factor) with the weights 0.2 / 0.5 / 0.3,
        plus ``solver_reward``; the questioner's state updates happen once per batch.
        """

        def questioner_reward(**kw: Any) -> list[float | None]:
            return self.questioner_reward(**kw)

        def solver_reward_fn(**kw: Any) -> list[float | None]:
            return self.solver_reward(**kw)

        solver_reward_fn.__name__ = "solver_reward"
        if not split:
            return [questioner_reward, solver_reward_fn], [1.0, 1.0]
        cache: dict[str, Any] = {}

        def part(name: str, key: str) -> Callable[..., list[float | None]]:
            def fn(**kw: Any) -> list[float | None]:
                ident = (tuple(kw["row"]), tuple(_text(c) for c in kw["completions"]))
                if cache.get("ident") != ident:
                    self.questioner_reward(**kw)
                    cache["ident"], cache["parts"] = ident, list(self.history[-1]["parts"])
                parts = iter(cache["parts"])
                out: list[float | None] = []
                for r in kw["role"]:
                    if r != "questioner":
                        out.append(None)
                    else:
                        pt = next(parts)
                        out.append(pt[key] * pt["novelty"])
                return out

            fn.__name__ = name
            return fn

        from spatialevo.rewards import W_FORMAT, W_MATCH, W_VALID

        funcs = [part("questioner_format", "format"), part("questioner_valid", "valid"), part("questioner_match", "task_match")]
        weights = [W_FORMAT, W_VALID, W_MATCH]
        if self.informativeness_weight > 0:
            funcs.append(part("questioner_informativeness", "informativeness"))
            weights.append(self.informativeness_weight)
        return [*funcs, solver_reward_fn], [*weights, 1.0]
