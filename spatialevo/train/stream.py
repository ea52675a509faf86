"""The self-play row stream: questioner rows and solver rows, built by the round.

A thin adapter over :class:`spatialevo.selfplay.Round`: every row is a :class:`~spatialevo.selfplay.Turn`
(the same frames, prompt and verdict as the env, dataset generation and evaluation) packed as
TRL columns. Row ``i`` is a pure function of the seed, ``i`` and the stream's state (scheduler
weights, the questions the questioner asked and the step count), so every rank of a multi-process
run produces the same rows while the state updates are the same on every rank: the launcher's
step-end callback gathers the reward results across ranks and applies them with :meth:`advance`.

Roles cycle through ``roles`` (default ``questioner, solver``). A **questioner row** has a task
drawn from the scheduler, a scene with frames, the task's evidence and the prompt listing what the
questioner can ask about there. A **solver row** takes, in this order:

1. with probability ``invalid_rate`` (the round's, default 10 %), a DGE-drawn *invalid* question
   for its evidence (the correct answer is the reason code);
2. else a question the questioner asked at most ``max_question_age`` steps ago (default 1), newest
   first, with the questioner's frames; its ``age`` (steps) is in the row;
3. else a DGE-sampled valid question of a scheduled task.

The trainer builds solver rows *when it generates* (:meth:`resolve`), not when the data loader
fetched them (the loader reads one batch ahead), so a question asked in step ``s`` is answered in
step ``s + 1``. A fixed question set (``questions``) replaces 1–3: the n-th solver row takes
question n.

Columns: ``prompt`` (chat messages; a solver row's asks for the round's ``answer_format``), ``images`` (PIL images at the policy's size), ``role``,
``scene`` (the scene's unique name), ``task``, ``frames`` (JSON list of the shown frame ids),
``question`` (structured question JSON; empty for questioner rows), ``kind`` (how a solver row's
question came about: asked / sampled / invalid / given; empty for questioner rows), ``age`` (steps
an asked question waited; −1 otherwise), ``row``, ``poses`` (JSON: the shown frames' camera-to-world
4×4 matrices, world frame, metres; targets of the auxiliary pose head).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from spatialevo.dge import TASKS, Question, make_rng
from spatialevo.errors import SpatialEvoError
from spatialevo.selfplay import Round, Turn
from spatialevo.selfplay.curriculum import UniformScheduler
from spatialevo.selfplay.prompts import chat
from spatialevo.train.solver import pil_images

#: questioner questions kept for the solver (the newest; older ones beyond the age limit go first)
BUFFER_SIZE = 4096


class SelfPlayStream:
    """Rows for the two roles (see module docstring).

    Args:
        round: the self-play round (scenes, evidence, prompts, judgement).
        scheduler: task scheduler (its state is part of the stream's state).
        seed: run seed.
        roles: the roles of consecutive rows, cycled (``("solver",)``: solver-only training).
        questions: a fixed question set ``(scene name, question JSON)`` for the solver rows, used
            in order and cycled.
    """

    def __init__(self, round: Round, scheduler: UniformScheduler, *, seed: int = 0,
                 roles: Sequence[str] = ("questioner", "solver"), questions: Sequence[tuple[str, str]] | None = None):
        self.round, self.scheduler, self.seed = round, scheduler, int(seed)
        bad = [r for r in roles if r not in ("questioner", "solver")]
        if not roles or bad:
            raise SpatialEvoError(f"roles must be a non-empty list of 'questioner' / 'solver', got {list(roles)}")
        self.roles = tuple(roles)
        self.questions = list(questions) if questions else None
        #: questions the questioner asked: (scene, question JSON, frames, step asked), oldest first
        self.buffer: list[tuple[str, str, tuple[str, ...], int]] = []
        self.step = 0  #: steps completed (:meth:`advance` calls)
        self.position = 0
        self.dge_seconds = 0.0  #: time spent sampling DGE questions for solver rows (benchmarks/train_bench.py splits DGE, project and model time)
        self.usable = [n for n in round.names if round.cache.entry(n) is not None and round.scene(n).frames]
        if not self.usable:
            raise SpatialEvoError("no scene with camera frames to train on")

    # -- rows -----------------------------------------------------------------------------------
    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` given the current state."""
        rng = make_rng(self.seed, i)
        if self.roles[i % len(self.roles)] == "questioner":
            return self._pack(i, self._questioner_turn(rng))
        turn, age = self._solver_turn(i, rng)
        return self._pack(i, turn, age)

    def resolve(self, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` with every solver row rebuilt from the current state (the trainer calls this when
        it generates, so the freshest questions are answered); rows of one GRPO group (same ``row``)
        stay identical. Questioner rows and fixed-question rows are returned as they are."""
        if self.questions:
            return list(rows)
        built: dict[int, dict[str, Any]] = {}
        out = []
        for r in rows:
            if r.get("role") != "solver":
                out.append(r)
                continue
            i = int(r["row"])
            if i not in built:
                built[i] = self.row(i)
            out.append(built[i])
        return out

    def _usable_scene(self, rng: np.random.Generator) -> str:
        return self.usable[int(rng.integers(len(self.usable)))]

    def _questioner_turn(self, rng: np.random.Generator) -> Turn:
        task = self.scheduler.sample(rng)
        last: Exception | None = None
        for _ in range(16):
            try:
                return self.round.questioner_turn(self._usable_scene(rng), task, rng)
            except SpatialEvoError as exc:  # no valid question of an image task in that scene
                last = exc
        raise SpatialEvoError(f"no scene has a valid {task} question to show the questioner ({last})")

    def _solver_ordinal(self, i: int) -> int:
        """How many solver rows come before row ``i``."""
        n = len(self.roles)
        return (i // n) * self.roles.count("solver") + self.roles[: i % n].count("solver")

    def fresh(self) -> list[tuple[str, str, tuple[str, ...], int]]:
        """The questioner's questions young enough for the solver, newest first."""
        oldest = self.step - self.round.config.max_question_age
        return [b for b in reversed(self.buffer) if b[3] >= oldest]

    def _solver_turn(self, i: int, rng: np.random.Generator) -> tuple[Turn, int]:
        n = self._solver_ordinal(i)
        if self.questions:
            scene, qjson = self.questions[n % len(self.questions)]
            return self.round.solver_turn(scene, Question.from_json(qjson), kind="given"), -1
        if rng.random() < self.round.config.invalid_rate:
            turn = self._sampled(rng, invalid=True)
            if turn is not None:
                return turn, -1
        fresh = self.fresh()
        if fresh:
            scene, qjson, frames, asked = fresh[n % len(fresh)]
            return self.round.solver_turn(scene, Question.from_json(qjson), frames=frames, kind="asked"), self.step - asked
        turn = self._sampled(rng, invalid=False)
        if turn is None:
            raise SpatialEvoError("no scene has a valid question of the scheduled tasks")
        return turn, -1

    def _sampled(self, rng: np.random.Generator, *, invalid: bool) -> Turn | None:
        """A solver turn with a DGE-sampled question (valid, or invalid for its evidence) of a scheduled task."""
        task = self.scheduler.sample(rng)
        for j in rng.permutation(len(self.usable))[:16]:
            scene = self.usable[int(j)]
            t0 = time.perf_counter()
            q = self.round.sample(scene, task, rng, valid=not invalid)
            self.dge_seconds += time.perf_counter() - t0
            if q is not None:
                return self.round.solver_turn(scene, q, kind="invalid" if invalid else "sampled")
        return None

    def _pack(self, i: int, turn: Turn, age: int = -1) -> dict[str, Any]:
        scene = self.round.scene(turn.scene)
        return {
            "prompt": chat(turn.prompt),
            "images": pil_images(turn.images),
            "role": turn.role,
            "scene": turn.scene,
            "task": turn.task,
            "frames": json.dumps(list(turn.frames)),
            "question": turn.question.to_json() if turn.question is not None else "",
            "kind": turn.kind,
            "age": int(age),
            "row": i,
            # camera-to-world of the shown frames (world, metres), row-major 4x4: pose-head targets
            "poses": json.dumps([scene.frame(f).T_wc.reshape(-1).tolist() for f in turn.frames]),
        }

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            i = self.position
            self.position += 1
            yield self.row(i)

    # -- state ----------------------------------------------------------------------------------
    def advance(self, questions: Sequence[tuple[str, str, Sequence[str]]] = (), scores: Sequence[tuple[str, float]] = ()) -> None:
        """End a step (call with the same, rank-gathered lists on every rank): queue the questions the
        questioner asked ``(scene, question JSON, shown frames)`` for the next solver rows, update the
        scheduler with the solver ``(task, score)`` pairs, drop questions past the age limit, and
        forget the step's stored verdicts."""
        for scene, qjson, frames in questions:
            self.buffer.append((str(scene), str(qjson), tuple(str(f) for f in frames), self.step))
        for task, score in scores:
            if task in TASKS:
                self.scheduler.update(task, float(score))
        self.step += 1
        oldest = self.step - self.round.config.max_question_age
        self.buffer = [b for b in self.buffer if b[3] >= oldest][-BUFFER_SIZE:]
        self.round.new_step()

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position, "step": self.step, "buffer": [[s, q, list(f), a] for s, q, f, a in self.buffer],
                "scheduler": self.scheduler.state_dict(), "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state.get("seed", self.seed)) != self.seed:
            raise SpatialEvoError(f"checkpoint stream seed {state.get('seed')} differs from the config's seed {self.seed}")
        self.position = int(state["position"])
        self.step = int(state.get("step", 0))
        try:
            self.buffer = [(str(s), str(q), tuple(str(x) for x in f), int(a)) for s, q, f, a in state["buffer"]]
        except (TypeError, ValueError):
            raise SpatialEvoError("the checkpoint's question buffer is from an older spatialevo version; start a new output_dir") from None
        self.scheduler.load_state_dict(state["scheduler"])
