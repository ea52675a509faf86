"""The self-play row stream: scheduled questioner rows interleaved with solver rows.

Row ``i`` is a pure function of the seed, ``i`` and the stream's state (scheduler weights and the
buffer of questions the DGE validated), so every rank of a multi-process run produces the same
rows as long as the state updates are the same on every rank: the reward functions gather their
results across ranks before they update it (:meth:`SelfPlayStream.add_questions`,
``scheduler.update``). Even rows are questioner rows (a task drawn from the scheduler, a scene,
the images the task needs); odd rows are solver rows, which take the oldest question validated
since the last one (the two-round loop) or, when the buffer is empty, a DGE-sampled question.

Columns: ``prompt`` (chat messages), ``images`` (PIL images, 1 or 2), ``role``, ``scene``,
``task``, ``frames`` (JSON list of the shown frame ids), ``question`` (structured question JSON;
empty for questioner rows), ``row``, ``poses`` (JSON: the shown frames' camera-to-world 4×4
matrices, world frame, metres; targets of the auxiliary pose head).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from spatialevo.curriculum import UniformScheduler
from spatialevo.dge import DGE, TASKS, NoValidQuestionError, Question, TemplateError, make_rng, render
from spatialevo.errors import SpatialEvoError
from spatialevo.prompts import questioner_prompt, solver_prompt
from spatialevo.sources import SceneSource


class SelfPlayStream:
    """Rows for the two roles (see module docstring).

    Args:
        source: the scenes.
        scheduler: task scheduler (its state is part of the stream's state).
        seed: run seed.
        image_size: side of the square images given to the policy, pixels.
        buffer_size: validated questions kept for solver rows (oldest dropped first).
        roles: the roles of consecutive rows, cycled (``("solver",)``: solver-only training).
        questions: a fixed question set ``(scene index, question JSON)`` for the solver rows, used
            in order and cycled (instead of the buffer and DGE sampling).
    """

    def __init__(
        self, source: SceneSource, scheduler: UniformScheduler, *, seed: int = 0, image_size: int = 224, buffer_size: int = 512,
        roles: Sequence[str] = ("questioner", "solver"), questions: Sequence[tuple[int, str]] | None = None,
    ):
        self.source, self.scheduler, self.seed, self.image_size = source, scheduler, int(seed), int(image_size)
        bad = [r for r in roles if r not in ("questioner", "solver")]
        if not roles or bad:
            raise SpatialEvoError(f"roles must be a non-empty list of 'questioner' / 'solver', got {list(roles)}")
        self.roles = tuple(roles)
        self.questions = list(questions) if questions else None
        self.buffer: deque[tuple[int, str]] = deque(maxlen=buffer_size)
        self.position = 0
        self.dge_seconds = 0.0  #: time spent sampling DGE questions for rows, for benchmarks
        self._dges: dict[int, DGE] = {}
        self._images: dict[tuple[int, str], Any] = {}
        self.usable = [i for i in range(len(source)) if self._scene(i) is not None and self._scene(i).frames]
        if not self.usable:
            raise SpatialEvoError("no scene with camera frames to train on")

    # -- scenes ---------------------------------------------------------------------------------
    def _scene(self, i: int):  # noqa: ANN202
        return self.source.get(i)

    def dge(self, scene: int) -> DGE:
        d = self._dges.get(scene)
        if d is None:
            d = self._dges[scene] = DGE(self.source.get(scene))
        return d

    def image(self, scene: int, frame_id: str):  # noqa: ANN201
        """The frame's RGB as a square PIL image of ``image_size`` pixels (cached)."""
        key = (scene, frame_id)
        img = self._images.get(key)
        if img is None:
            from spatialevo.train.solver import frame_image

            img = frame_image(self.source.get(scene), frame_id, self.image_size)
            if len(self._images) < 4096:
                self._images[key] = img
        return img

    def _frames_for(self, scene: int, task: str, rng: np.random.Generator) -> list[str]:
        ids = [f.id for f in self.source.get(scene).frames]
        n = max(1, TASKS[task].n_frames)
        n = min(n, len(ids))
        return [ids[i] for i in rng.choice(len(ids), size=n, replace=False)]

    # -- rows -----------------------------------------------------------------------------------
    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` given the current state."""
        rng = make_rng(self.seed, i)
        if self.roles[i % len(self.roles)] == "questioner":
            return self._questioner_row(i, rng)
        return self._solver_row(i, rng)

    def _questioner_row(self, i: int, rng: np.random.Generator) -> dict[str, Any]:
        task = self.scheduler.sample(rng)
        scene = self.usable[int(rng.integers(len(self.usable)))]
        frames = self._frames_for(scene, task, rng)
        labels = sorted(set(self.dge(scene).index.labels))
        text = questioner_prompt(task, labels, len(frames))
        return self._pack(i, "questioner", scene, task, frames, "", text)

    def _solver_row(self, i: int, rng: np.random.Generator) -> dict[str, Any]:
        q: Question | None = None
        scene = -1
        if self.questions:  # the n-th solver row takes question n
            n = (i // len(self.roles)) * self.roles.count("solver") + self.roles[: i % len(self.roles)].count("solver")
            scene, qjson = self.questions[n % len(self.questions)]
            q = Question.from_json(qjson)
        while self.buffer and q is None:
            scene, qjson = self.buffer.popleft()
            q = Question.from_json(qjson)
        if q is None:
            task = self.scheduler.sample(rng)
            t0 = time.perf_counter()
            order = rng.permutation(len(self.usable))
            for j in order:
                scene = self.usable[int(j)]
                try:
                    q = self.dge(scene).sample(task, rng, max_tries=2000)
                    break
                except NoValidQuestionError:
                    continue
            self.dge_seconds += time.perf_counter() - t0
            if q is None:
                raise SpatialEvoError(f"no scene has a valid {task} question")
        frames = list(q.frames) or self._frames_for(scene, q.task, rng)
        try:
            qtext = render(q, rng=rng)
        except TemplateError:
            qtext = q.to_json()
        return self._pack(i, "solver", scene, q.task, frames, q.to_json(), solver_prompt(qtext, len(frames)))

    def _pack(self, i: int, role: str, scene: int, task: str, frames: Sequence[str], question: str, text: str) -> dict[str, Any]:
        return {
            "prompt": [{"role": "user", "content": text}],
            "images": [self.image(scene, f) for f in frames],
            "role": role,
            "scene": scene,
            "task": task,
            "frames": json.dumps(list(frames)),
            "question": question,
            "row": i,
            # camera-to-world of the shown frames (world, metres), row-major 4x4: pose-head targets
            "poses": json.dumps([self.source.get(scene).frame(f).T_wc.reshape(-1).tolist() for f in frames]),
        }

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while True:
            i = self.position
            self.position += 1
            yield self.row(i)

    # -- state ----------------------------------------------------------------------------------
    def add_questions(self, items: Sequence[tuple[int, str]]) -> None:
        """Queue validated questions ``(scene index, question JSON)`` for solver rows (call with the
        same, rank-gathered list on every rank)."""
        for scene, qjson in items:
            self.buffer.append((int(scene), str(qjson)))

    def state_dict(self) -> dict[str, Any]:
        return {"position": self.position, "buffer": list(self.buffer), "scheduler": self.scheduler.state_dict(), "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state.get("seed", self.seed)) != self.seed:
            raise SpatialEvoError(f"checkpoint stream seed {state.get('seed')} differs from the config's seed {self.seed}")
        self.position = int(state["position"])
        self.buffer.clear()
        self.add_questions([tuple(x) for x in state["buffer"]])
        self.scheduler.load_state_dict(state["scheduler"])
