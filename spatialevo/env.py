"""``SpatialEvo-v0``: the DGE as a Gymnasium environment (SPEC §5–6)."""

from __future__ import annotations

import copy
import functools
import logging
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import read_from_shared_memory

from spatialevo.curriculum import make_scheduler
from spatialevo.dge import DGE, SCENE_TASKS, TASK_NAMES, TASKS, NoValidQuestionError, Question, TemplateError, Verdict, render
from spatialevo.prompts import (
    MAX_OUTPUT_CHARS,
    PRINTABLE_CHARS,
    ROLE_QUESTIONER,
    ROLE_SOLVER,
    questioner_prompt,
    read_question,
    sanitize,
    solver_prompt,
)
from spatialevo.rewards import QuestionerReward, solver_reward
from spatialevo.scene.model import Scene
from spatialevo.sources import SceneSource, make_source

log = logging.getLogger(__name__)
MODES = ("selfplay", "solver", "questioner")


class PromptText(spaces.Text):
    """``Text`` over :data:`~spatialevo.prompts.PRINTABLE` (printable Unicode of the Basic
    Multilingual Plane) whose observations read back correctly from an ``AsyncVectorEnv``'s shared
    memory (gymnasium decodes a plain ``Text`` buffer once, when the vector env is built, so every
    later observation would read as that first, all-padding snapshot)."""


@functools.lru_cache(maxsize=8)
def _text_prototype(max_length: int) -> PromptText:
    return PromptText(max_length, charset=PRINTABLE_CHARS)


def text_space(max_length: int) -> PromptText:
    """A :class:`PromptText` of ``max_length`` characters (the 55k-character tables are built once per
    process and shared; each space gets its own random generator)."""
    space = copy.copy(_text_prototype(int(max_length)))
    space._np_random = None
    return space


class _SharedTexts(Sequence):
    """The texts of ``n`` environments in shared memory, decoded when read (a live view)."""

    def __init__(self, space: PromptText, buffer: Any, n: int):
        self._space, self._buffer, self._n = space, buffer, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return tuple(self[k] for k in range(*i.indices(self._n)))
        if not -self._n <= i < self._n:
            raise IndexError(i)
        data = np.frombuffer(self._buffer.get_obj(), dtype=np.int32).reshape(self._n, self._space.max_length)[i]
        chars = self._space.character_list
        return "".join(chars[v] for v in data[data < len(chars)])

    def __deepcopy__(self, memo: dict) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, Sequence) else other)

    def __repr__(self) -> str:
        return repr(tuple(self))


@read_from_shared_memory.register(PromptText)
def _read_prompt_text(space: PromptText, shared_memory: Any, n: int = 1) -> _SharedTexts:
    return _SharedTexts(space, shared_memory, n)


class SpatialEvoEnv(gym.Env):
    """Self-play spatial question answering on 3D scenes, judged by the DGE.

    One episode is one round on one scene. ``mode="selfplay"``: reset → questioner observation →
    ``step(question_text)`` → questioner reward → solver observation (same images, the question in
    words) → ``step(answer_text)`` → solver reward → terminated. ``mode="solver"``: the DGE samples
    a valid question; one solver step. ``mode="questioner"``: one questioner step.

    **Observation** (``Dict``): ``role`` ``Discrete(2)`` (0 questioner, 1 solver); ``task``
    ``Discrete(16)`` (index into :data:`spatialevo.dge.TASK_NAMES` of the scheduled task);
    ``prompt`` ``Text(max_prompt_length)`` over printable Unicode (:class:`PromptText`: the Basic
    Multilingual Plane, so non-ASCII labels stay readable); ``images`` ``Box(0, 255,
    (max_images, H, W, 3), uint8)`` (frames of the scene, unused slots zero; left out when
    ``images=False``); ``image_count`` ``Discrete(max_images + 1)``.

    **Action**: ``Text(max_action_length)`` over the same characters: the questioner's JSON question
    (plus an optional sentence), or the solver's ``<answer>…</answer>``. Any other input (wrong
    type, empty, too long, not UTF-8, unparsable) earns a zero format reward, ``info["error"]``
    says why, and the episode moves on.

    **Rewards** (:mod:`spatialevo.rewards`): questioner = novelty × (0.2 format + 0.5 valid +
    0.3 task match), novelty 0.5 for a question already asked on this scene in the last 1,000
    episodes; solver = 0.1 format + 0.9 score (the task's scorer: MRA or exact match; for an
    invalid question, naming its reason code scores 1).

    **Episode end**: ``terminated`` after the solver step, after a questioner step in
    ``questioner`` mode, or in ``selfplay`` when the questioner output is not a question at all.
    Never truncated.

    **info**: ``question`` (:class:`~spatialevo.dge.Question` or ``None``; ``.to_dict()`` for
    JSON), ``question_text``, ``verdict`` (:class:`~spatialevo.dge.Verdict` or ``None``),
    ``ground_truth`` (answer text, or the reason code of an invalid question), ``reward_parts``,
    ``error`` (``""`` when none), ``scene`` (the scene's unique name in the source: the key of
    :meth:`dge_of`), ``scene_id``, ``frames``, ``task``; after a self-play solver step
    also ``questioner_informativeness`` (1 − |2·score − 1|). Values keep one type per key, so
    ``make_vec`` can batch them.

    Args:
        mode: ``"selfplay"``, ``"solver"`` or ``"questioner"`` (``reset(options={"mode": ...})`` too).
        scenes: ``"bundled"``, ``"synthetic"`` / ``"synthetic:N"`` (N rooms generated on first use,
            default 100), a folder of scenes in
            any loader layout (unreadable ones skipped and logged), or a list of :class:`Scene`.
        task: force one task (name); default: the scheduler picks.
        scheduler: ``"adaptive"`` or ``"uniform"`` (see :mod:`spatialevo.curriculum`).
        images: include rendered frames in observations.
        image_size: ``(height, width)`` of observation images.
        max_images: image slots per observation.
        max_prompt_length, max_action_length: Text space limits (characters).
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        mode: str = "selfplay",
        scenes: str | Path | Sequence[Scene] = "bundled",
        task: str | None = None,
        scheduler: str = "adaptive",
        images: bool = True,
        image_size: tuple[int, int] = (120, 160),
        max_images: int = 2,
        max_prompt_length: int = 2048,
        max_action_length: int = MAX_OUTPUT_CHARS,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if task is not None and task not in TASKS:
            raise ValueError(f"unknown task {task!r}; tasks: {list(TASK_NAMES)}")
        if max_images < 2:
            raise ValueError("max_images must be at least 2 (image-pair tasks)")
        self.mode, self.task = mode, task
        self.source: SceneSource = make_source(scenes)
        self.scheduler = make_scheduler(scheduler, TASK_NAMES)
        self.images, self.image_size, self.max_images = bool(images), tuple(int(x) for x in image_size), int(max_images)
        self.max_prompt_length, self.max_action_length = int(max_prompt_length), int(max_action_length)
        obs = {
            "role": spaces.Discrete(2),
            "task": spaces.Discrete(len(TASK_NAMES)),
            "prompt": text_space(self.max_prompt_length),
            "image_count": spaces.Discrete(self.max_images + 1),
        }
        if self.images:
            obs["images"] = spaces.Box(0, 255, (self.max_images, *self.image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(obs)
        self.action_space = text_space(self.max_action_length)
        self._dges: OrderedDict[str, DGE] = OrderedDict()
        self._image_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._qreward = QuestionerReward()
        self._state: dict[str, Any] = {}

    # -- helpers --------------------------------------------------------------------------------
    def dge_of(self, scene: str) -> DGE:
        """The DGE of a scene this env has used, by ``info["scene"]`` (its unique name in the source),
        e.g. for scripted agents."""
        return self._dges[scene]

    def _dge(self, name: str, scene: Scene) -> DGE:
        """The DGE of the source's scene ``name`` (caches are keyed by the unique name, never by
        ``scene_id``, which two scans may share)."""
        dge = self._dges.get(name)
        if dge is None or dge.scene is not scene:
            dge = DGE(scene)
            self._dges[name] = dge
            while len(self._dges) > 16:
                self._dges.popitem(last=False)
        else:
            self._dges.move_to_end(name)
        return dge

    def _frame_images(self, name: str, scene: Scene, frames: Sequence[str]) -> np.ndarray:
        out = np.zeros((self.max_images, *self.image_size, 3), dtype=np.uint8)
        if not self.images:
            return out
        from PIL import Image

        for k, fid in enumerate(frames[: self.max_images]):
            key = (name, fid)
            img = self._image_cache.get(key)
            if img is None:
                rgb = scene.frame_images(fid, ("rgb",))["rgb"]
                h, w = self.image_size
                img = np.asarray(Image.fromarray(rgb).resize((w, h), Image.BILINEAR), dtype=np.uint8)
                self._image_cache[key] = img
                while len(self._image_cache) > 256:
                    self._image_cache.popitem(last=False)
            out[k] = img
        return out

    def _context_frames(self, scene: Scene, rng: np.random.Generator) -> list[str]:
        ids = [f.id for f in scene.frames]
        if not ids:
            return []
        n = min(self.max_images, len(ids))
        start = int(rng.integers(len(ids)))
        step = len(ids) / n
        return [ids[(start + int(k * step)) % len(ids)] for k in range(n)]

    def _obs(self, role: int, prompt: str) -> dict[str, Any]:
        st = self._state
        obs: dict[str, Any] = {
            "role": role,
            "task": TASK_NAMES.index(st["task"]),
            "prompt": sanitize(prompt, self.max_prompt_length),
            "image_count": len(st["frames"]) if self.images else 0,
        }
        if self.images:
            obs["images"] = self._frame_images(st["name"], st["scene"], st["frames"])
        return obs

    def _pick(self, rng: np.random.Generator, forced: str | None) -> tuple[str, Scene, str, Question]:
        """A scene (name, scene), a task and a valid question of it (frames a question can be asked about)."""
        for _ in range(64):
            i = self.source.draw_index(rng)
            name, scene = self.source.names[i], self.source.get(i)
            dge = self._dge(name, scene)
            task = forced or self.scheduler.sample(rng)
            if not scene.frames and task not in SCENE_TASKS:
                if forced:
                    continue
                task = SCENE_TASKS[int(rng.integers(len(SCENE_TASKS)))]
            try:
                return name, scene, task, dge.sample(task, rng, max_tries=2000)
            except NoValidQuestionError as exc:
                log.info("skipping: %s", exc)
        raise NoValidQuestionError(f"no scene of the source has a valid {forced or 'scheduled'} question after 64 tries")

    # -- gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        super().reset(seed=seed)
        options = dict(options or {})
        mode = options.get("mode", self.mode)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        forced = options.get("task", self.task)
        if forced is not None and forced not in TASKS:
            raise ValueError(f"unknown task {forced!r}; tasks: {list(TASK_NAMES)}")
        rng = self.np_random
        name, scene, task, question = self._pick(rng, forced)
        frames = list(question.frames) if question.frames else self._context_frames(scene, rng)
        self._state = {"mode": mode, "name": name, "scene": scene, "task": task, "frames": frames, "question": None, "verdict": None}
        info = {"scene": name, "scene_id": scene.scene_id, "task": task, "frames": list(frames), "mode": mode}
        if mode == "solver":
            return self._solver_turn(question, info)
        labels = sorted(scene.labels())
        self._state["role"] = ROLE_QUESTIONER
        return self._obs(ROLE_QUESTIONER, questioner_prompt(task, labels, len(frames))), info

    def _solver_turn(self, question: Question, info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        st = self._state
        verdict = self._dge(st["name"], st["scene"]).evaluate(question)
        try:
            text = render(question, rng=self.np_random)
        except TemplateError:
            text = question.to_json()
        st.update(role=ROLE_SOLVER, question=question, verdict=verdict)
        info = {**info, "question": question, "question_text": text, "verdict": verdict, "ground_truth": _truth(verdict)}
        return self._obs(ROLE_SOLVER, solver_prompt(text, len(st["frames"]))), info

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        st = self._state
        if not st:
            raise RuntimeError("call reset() before step()")
        if st.get("done"):
            raise RuntimeError("the episode has ended; call reset()")
        base = {"scene": st["name"], "scene_id": st["scene"].scene_id, "task": st["task"], "frames": list(st["frames"])}
        if st["role"] == ROLE_QUESTIONER:
            q, err = read_question(action, st["frames"])
            dge = self._dge(st["name"], st["scene"])
            verdict = dge.evaluate(q) if q is not None else None
            reward, parts = self._qreward(st["name"], st["task"], dge.canonical(q) if q is not None else None, verdict)
            info = {**base, "reward_parts": parts, "error": err, "question": q, "verdict": verdict}
            if st["mode"] == "questioner" or q is None:
                st["done"] = True
                return self._obs(ROLE_QUESTIONER, "Episode over."), reward, True, False, info
            obs, sinfo = self._solver_turn(q, base)
            return obs, reward, False, False, {**info, **sinfo, "reward_parts": parts, "error": err}
        reward, parts, err = solver_reward(action, st["verdict"])
        st["done"] = True
        info = {**base, "reward_parts": parts, "error": err, "question": st["question"], "verdict": st["verdict"], "ground_truth": _truth(st["verdict"])}
        if st["mode"] == "selfplay":
            info["questioner_informativeness"] = 1.0 - abs(2.0 * parts["score"] - 1.0)
        if st["mode"] in ("solver", "selfplay") and st["verdict"].valid:
            self.scheduler.update(st["task"], parts["score"])
        return self._obs(ROLE_SOLVER, "Episode over."), reward, True, False, info


def _truth(verdict: Verdict) -> str:
    return verdict.answer_text if verdict.valid else verdict.reason.value
