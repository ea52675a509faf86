"""``SpatialEvo-v0``: the DGE as a Gymnasium environment (SPEC §5–6)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import read_from_shared_memory

from spatialevo.dge import DGE, TASK_NAMES, TASKS, NoValidQuestionError, Question, Verdict
from spatialevo.errors import SpatialEvoError
from spatialevo.scene.model import Scene
from spatialevo.selfplay import Round, RoundConfig, Turn
from spatialevo.selfplay.curriculum import make_scheduler
from spatialevo.selfplay.evidence import CLIP_FRAMES
from spatialevo.selfplay.picture import observation_picture, observation_text
from spatialevo.selfplay.prompts import MAX_OUTPUT_CHARS, PRINTABLE_CHARS, ROLE_QUESTIONER, ROLE_SOLVER, sanitize
from spatialevo.selfplay.rewards import QuestionerReward, solver_reward
from spatialevo.selfplay.sources import SceneSource

log = logging.getLogger(__name__)
MODES = ("selfplay", "solver", "questioner")


class PromptText(spaces.Text):
    """``Text`` over :data:`~spatialevo.selfplay.prompts.PRINTABLE` (printable Unicode of the Basic
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
    """Self-play spatial question answering on 3D scenes, judged by the DGE: a thin adapter over
    :class:`spatialevo.selfplay.Round` (the same frames, prompts and verdicts as dataset generation,
    training and evaluation).

    One episode is one round on one scene. ``mode="selfplay"``: reset → questioner observation →
    ``step(question_text)`` → questioner reward → solver observation (same images, the question in
    words) → ``step(answer_text)`` → solver reward → terminated. ``mode="solver"``: a DGE-sampled
    question (invalid, answered by its reason code, at the round's ``invalid_rate``, default 10 %);
    one solver step. ``mode="questioner"``: one questioner step.

    **Evidence** (SPEC §7): a scene task shows a clip of ``min(clip_frames, max_images)`` frames
    uniformly spaced over the trajectory (default 16); an image task its frame(s). A question is
    valid only when every object it names is visible in a shown frame (else ``not_in_evidence``).
    The questioner's prompt lists the labels it can ask about in its images.

    **Observation** (``Dict``): ``role`` ``Discrete(2)`` (0 questioner, 1 solver); ``task``
    ``Discrete(16)`` (index into :data:`spatialevo.dge.TASK_NAMES` of the scheduled task);
    ``prompt`` ``Text(max_prompt_length)`` over printable Unicode (:class:`PromptText`: the Basic
    Multilingual Plane, so non-ASCII labels stay readable); ``images`` ``Box(0, 255,
    (max_images, H, W, 3), uint8)`` (the shown frames, each at the largest size of its aspect ratio
    that fits H × W, top-left; unused pixels and slots zero; left out when ``images=False``);
    ``image_count`` ``Discrete(max_images + 1)``.

    **Action**: ``Text(max_action_length)`` over the same characters: the questioner's JSON question
    (plus an optional sentence), or the solver's ``<answer>…</answer>``. Any other input (wrong
    type, empty, too long, not UTF-8, unparsable) earns a zero format reward, ``info["error"]``
    says why, and the episode moves on.

    **Rewards** (:mod:`spatialevo.selfplay.rewards`): questioner = novelty × (0.2 format + 0.5 valid +
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
    :meth:`dge_of`), ``scene_id``, ``frames``, ``task``, ``prompt``; after a self-play solver step
    also ``questioner_informativeness`` (1 − |2·score − 1|). Values keep one type per key, so
    ``make_vec`` can batch them.

    **Reset options**: ``mode``, ``task``; ``scene`` (a name of the source) and, in solver mode,
    ``question`` (a :class:`~spatialevo.dge.Question` or its dict) to pose a given question.

    **Rendering** (``metadata["render_modes"]``: ``"rgb_array"``, ``"ansi"``; ``render_fps`` 1, one
    turn a frame): :meth:`render` shows the current observation (after the last step: its images
    and ``"Episode over."``). ``"rgb_array"``: (H, W, 3) uint8 of a fixed size for the env's
    ``image_size`` and ``max_images`` (:func:`spatialevo.selfplay.picture.picture_size`): the
    ``image_count`` shown frames at their own size side by side (at most 8 a row; the other slots
    flat grey, no zero padding), above a caption strip with the role, the task and the prompt
    (wrapped, cut with an ellipsis after 11 lines). With ``images=False`` the frames are rendered
    when :meth:`render` asks for them (once per scene, frame and size; the observation still
    carries none). ``"ansi"``: a ``str``: ``role · task · N image(s)``, then the prompt. N counts
    the turn's frames (``len(info["frames"])``), with or without ``images``.
    ``render_mode=None`` (the default): :meth:`render` returns ``None``.

    Args:
        mode: ``"selfplay"``, ``"solver"`` or ``"questioner"`` (``reset(options={"mode": ...})`` too).
        scenes: ``"bundled"``, ``"synthetic"`` / ``"synthetic:N"`` (N rooms generated on first use,
            default 100), a folder of scenes in
            any loader layout (unreadable ones skipped and logged), or a list of :class:`Scene`.
        task: force one task (name); default: the scheduler picks.
        scheduler: ``"adaptive"`` or ``"uniform"`` (see :mod:`spatialevo.selfplay.curriculum`).
        images: include rendered frames in observations.
        image_size: ``(height, width)`` of the image slots.
        max_images: image slots per observation (at least 2; a scene task's clip has at most this many frames).
        max_prompt_length, max_action_length: Text space limits (characters).
        round_config: :class:`~spatialevo.selfplay.RoundConfig` (or its fields as a dict).
        render_mode: ``None``, ``"rgb_array"`` or ``"ansi"`` (see **Rendering**).
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 1}

    def __init__(
        self,
        mode: str = "selfplay",
        scenes: str | Path | Sequence[Scene] = "bundled",
        task: str | None = None,
        scheduler: str = "adaptive",
        images: bool = True,
        image_size: tuple[int, int] = (120, 160),
        max_images: int = CLIP_FRAMES,
        max_prompt_length: int = 4096,
        max_action_length: int = MAX_OUTPUT_CHARS,
        round_config: RoundConfig | dict[str, Any] | None = None,
        render_mode: str | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if task is not None and task not in TASKS:
            raise ValueError(f"unknown task {task!r}; tasks: {list(TASK_NAMES)}")
        if max_images < 2:
            raise ValueError("max_images must be at least 2 (image-pair tasks)")
        cfg = round_config if isinstance(round_config, RoundConfig) else RoundConfig.from_dict(round_config)
        if cfg.clip_frames > max_images:
            cfg = dataclasses.replace(cfg, clip_frames=int(max_images))
        self.mode, self.task, self.render_mode = mode, task, render_mode
        self.round = Round(scenes, cfg)
        self.source: SceneSource = self.round.source
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
        self._qreward = QuestionerReward(trivial_weight=cfg.trivial_weight)
        self._state: dict[str, Any] = {}

    # -- helpers --------------------------------------------------------------------------------
    def dge_of(self, scene: str) -> DGE:
        """The DGE of a scene by ``info["scene"]`` (its unique name in the source), e.g. for scripted agents."""
        return self.round.dge(scene)

    def _obs(self, turn: Turn, prompt: str | None = None) -> dict[str, Any]:
        obs: dict[str, Any] = {
            "role": ROLE_QUESTIONER if turn.role == "questioner" else ROLE_SOLVER,
            "task": TASK_NAMES.index(self._state["task"]),
            "prompt": sanitize(turn.prompt if prompt is None else prompt, self.max_prompt_length),
            "image_count": len(turn.frames) if self.images else 0,
        }
        if self.images:
            out = np.zeros((self.max_images, *self.image_size, 3), dtype=np.uint8)
            for k, img in enumerate(turn.images[: self.max_images]):
                out[k, : img.shape[0], : img.shape[1]] = img
            obs["images"] = out
        return obs

    def _turn(self, rng: np.random.Generator, mode: str, forced: str | None, options: dict[str, Any]) -> Turn:
        """The first turn of an episode: a scene, a task and the questioner's or the solver's turn."""
        box = self.image_size if self.images else None
        name = options.get("scene")
        if name is not None and name not in self.round.cache._index:
            raise ValueError(f"unknown scene {name!r}; the source holds {len(self.source)} scenes, e.g. {self.source.names[:3]}")
        if options.get("question") is not None:
            if mode != "solver" or name is None:
                raise ValueError("options['question'] needs mode 'solver' and options['scene']")
            q = options["question"]
            q = q if isinstance(q, Question) else Question.from_dict(q)
            if q.task not in TASKS:
                raise ValueError(f"options['question'] has an unknown task {q.task!r}; tasks: {list(TASK_NAMES)}")
            return self.round.solver_turn(name, q, images=self.images, box=box)
        for _ in range(64):
            scene, task = self.round.draw(rng, forced, self.scheduler) if name is None else (name, forced or self.scheduler.sample(rng))
            try:
                if mode == "solver":
                    invalid = bool(rng.random() < self.round.config.invalid_rate)
                    turn = self.round.sampled_solver_turn(scene, task, rng, invalid=invalid, images=self.images, box=box)
                    if turn is not None:
                        return turn
                    log.info("skipping: scene %s has no %s %s question", scene, "invalid" if invalid else "valid", task)
                else:
                    return self.round.questioner_turn(scene, task, rng, images=self.images, box=box)
            except SpatialEvoError as exc:
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
        turn = self._turn(self.np_random, mode, forced, options)
        self._state = {"mode": mode, "turn": turn, "task": turn.task, "done": False}
        info = self._base(turn)
        if turn.role == "solver":
            info.update(question=turn.question, question_text=turn.question_text, verdict=turn.verdict, ground_truth=turn.ground_truth)
        return self._obs(turn), info

    def _base(self, turn: Turn) -> dict[str, Any]:
        return {"scene": turn.scene, "scene_id": turn.scene_id, "task": self._state["task"], "frames": list(turn.frames),
                "mode": self._state["mode"], "prompt": turn.prompt}

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        st = self._state
        if not st:
            raise RuntimeError("call reset() before step()")
        if st.get("done"):
            raise RuntimeError("the episode has ended; call reset()")
        turn: Turn = st["turn"]
        base = self._base(turn)
        if turn.role == "questioner":
            q, err = self.round.read(turn, action)
            verdict, canon = self.round.judge_canonical(turn.scene, q, turn.frames) if q is not None else (None, None)
            reward, parts = self._qreward(turn.scene, st["task"], canon, verdict, trivial=self.round.trivial(verdict))
            info = {**base, "reward_parts": parts, "error": err, "question": q, "verdict": verdict}
            if st["mode"] == "questioner" or q is None:
                st["done"] = True
                return self._obs(turn, "Episode over."), reward, True, False, info
            solver = self.round.solver_turn(turn.scene, q, frames=turn.frames, images=self.images,
                                            box=self.image_size if self.images else None, kind="asked")
            st["turn"] = solver
            sinfo = {"question_text": solver.question_text, "ground_truth": solver.ground_truth, "prompt": solver.prompt}
            return self._obs(solver), reward, False, False, {**info, **sinfo}
        reward, parts, err = solver_reward(action, turn.verdict, self.round.config.answer_format)
        st["done"] = True
        info = {**base, "reward_parts": parts, "error": err, "question": turn.question, "verdict": turn.verdict,
                "ground_truth": turn.ground_truth}
        if st["mode"] == "selfplay":
            info["questioner_informativeness"] = 1.0 - abs(2.0 * parts["score"] - 1.0)
        if turn.verdict.valid:
            self.scheduler.update(st["task"], parts["score"])
        self.round.new_step()
        return self._obs(turn, "Episode over."), reward, True, False, info

    def render(self) -> np.ndarray | str | None:
        """The current observation as a picture (``"rgb_array"``) or text (``"ansi"``); ``None``
        without a render mode (see **Rendering** in the class docstring).

        Raises:
            RuntimeError: a render mode is set and :meth:`reset` was not called yet.
        """
        if self.render_mode is None:
            return None
        st = self._state
        if not st:
            raise RuntimeError("call reset() before render()")
        turn: Turn = st["turn"]
        prompt = sanitize("Episode over." if st["done"] else turn.prompt, self.max_prompt_length)
        count = len(turn.frames)
        if self.render_mode == "ansi":
            return observation_text(prompt, turn.role, st["task"], count)
        images = turn.images
        if not self.images:  # rendered on demand, as the observation would carry them
            known = self.round.dge(turn.scene).index.frames
            images = self.round.images(turn.scene, [f for f in turn.frames if f in known], self.image_size)
        return observation_picture(images[: self.max_images], count, prompt, turn.role, st["task"],
                                   slot_size=self.image_size, slots=self.max_images)


def _truth(verdict: Verdict) -> str:
    return verdict.answer_text if verdict.valid else verdict.reason.value
