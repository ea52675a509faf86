"""One self-play round: the questioner turn and the solver turn, judged once (SPEC §5–7).

The environment, dataset generation, the training stream and its rewards, and evaluation all build
their turns here, so one (scene, question) gives the same frames, prompt and verdict in all four:

* the frames come from :func:`~spatialevo.selfplay.evidence.evidence_frames` (a clip of
  ``clip_frames`` uniformly spaced frames for a scene task; the question's frames otherwise);
* the verdict is the DGE's judgement *for that evidence* (``not_in_evidence`` when a named object is
  visible in no shown frame); :meth:`Round.judge` computes it once per question and step and every
  reward reuses it (:meth:`Round.new_step` starts the next step);
* the question text is the question's template rendering, the template chosen by a hash of the
  scene name and the question itself (so every adapter writes the same words);
* the prompts are :mod:`~spatialevo.selfplay.prompts`' two functions; the questioner is told the
  labels it can ask about in its evidence (:func:`~spatialevo.selfplay.evidence.askable_labels`);
* images are the frames at the size the policy sees (:mod:`~spatialevo.selfplay.images`), cached
  with the scene (:class:`~spatialevo.selfplay.cache.SceneCache`, least recently used).

Nothing here imports gymnasium, torch or transformers.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.dge import DGE, SCENE_TASKS, TASKS, NoValidQuestionError, Question, Reason, TemplateError, Verdict, render
from spatialevo.dge.language import templates
from spatialevo.errors import SpatialEvoError
from spatialevo.scene.model import Scene
from spatialevo.selfplay.cache import SceneCache
from spatialevo.selfplay.evidence import CLIP_FRAMES, Askable, askable_labels, evidence_frames
from spatialevo.selfplay.images import FACTOR, MAX_PIXELS, MIN_PIXELS
from spatialevo.selfplay.prompts import ANSWER_FORMATS, questioner_prompt, read_question, solver_prompt
from spatialevo.selfplay.sources import DEFAULT_CACHE, SceneSource, make_source

ROLES = ("questioner", "solver")
#: how a solver turn's question came about
KINDS = ("asked", "sampled", "invalid", "given")
_MEMO = 8192  # verdicts kept per step (a GRPO group's completions share one)
#: draws an invalid question is sought with (most tasks' draws are invalid more often than not;
#: room_size never is, so a scene gives up quickly)
INVALID_TRIES = 256


@dataclass(frozen=True)
class RoundConfig:
    """How a round is shown and judged (the ``round:`` section of an evolve config; ``spatialevo
    generate`` options).

    Attributes:
        clip_frames: frames of a scene task's clip, uniformly spaced over the trajectory.
        min_visible: smallest visible fraction, in at least one shown frame, of an object a question
            names (``not_in_evidence`` below it).
        min_pixels, max_pixels: pixel budget of each image the policy sees (aspect kept; sides
            multiples of 28, the Qwen2.5-VL convention).
        invalid_rate: share of solver turns given an invalid question (the answer is its reason code).
        counting_min: counting is asked about labels with at least this many instances (the
            questioner's list, sampled and generated questions; public benchmarks use 2).
        trivial_weight: factor on the questioner reward of a valid question with a trivial answer
            (counting below ``counting_min``, which the prompt asks it not to write): 0.5 by
            default, like a repeat; 1 pays it in full, 0 nothing. Such questions never reach the solver.
        max_question_age: steps a questioner's question may wait before a solver answers it.
        cache: scenes kept with their DGEs and images (least recently used dropped first).
        sample_tries: candidate draws when a valid (or invalid) question is sampled for the evidence.
        labels: the label vocabulary scenes read from files are loaded in (``raw``, ``nyu40``,
            ``scannet200``, ``vsibench``; ``None``: as stored); objects outside it are never asked
            about (:mod:`spatialevo.scene.labels`).
        label_map: ScanNet's ``scannetv2-labels.combined.tsv`` (default: found next to each scan).
        answer_format: the solver's answer format (:data:`~spatialevo.selfplay.prompts.ANSWER_FORMATS`):
            ``direct`` (default: one ``<answer>…</answer>`` block) or ``reasoning`` (one
            ``<think>…</think>`` block, then one ``<answer>…</answer>`` block). It sets the solver
            prompt of every turn (env, dataset records, training) and which format the solver reward
            checks (:func:`~spatialevo.selfplay.rewards.solver_reward`); the questioner's is unchanged.
    """

    clip_frames: int = CLIP_FRAMES
    min_visible: float = 0.05
    min_pixels: int = MIN_PIXELS
    max_pixels: int = MAX_PIXELS
    invalid_rate: float = 0.1
    counting_min: int = 2
    trivial_weight: float = 0.5
    max_question_age: int = 1
    cache: int = DEFAULT_CACHE
    sample_tries: int = 2000
    labels: str | None = None
    label_map: str | None = None
    answer_format: str = "direct"

    def __post_init__(self) -> None:
        from spatialevo.scene.labels import VOCABULARIES

        if self.labels is not None and self.labels not in VOCABULARIES:
            raise SpatialEvoError(f"round.labels must be one of {', '.join(VOCABULARIES)}, got {self.labels!r}")
        if self.label_map is not None and (not isinstance(self.label_map, str) or not self.label_map.strip()):
            raise SpatialEvoError(f"round.label_map must be the path of ScanNet's label table, got {self.label_map!r}")
        if self.answer_format not in ANSWER_FORMATS:
            raise SpatialEvoError(f"round.answer_format must be one of {', '.join(ANSWER_FORMATS)}, got {self.answer_format!r}")
        checks = [
            ("clip_frames", 1 <= self.clip_frames <= 256, "between 1 and 256"),
            ("min_visible", 0.0 < self.min_visible <= 1.0, "in (0, 1]"),
            ("min_pixels", FACTOR * FACTOR <= self.min_pixels <= self.max_pixels, f"between {FACTOR * FACTOR} and max_pixels"),
            ("max_pixels", self.max_pixels <= 16_777_216, "at most 16,777,216"),
            ("invalid_rate", 0.0 <= self.invalid_rate <= 1.0, "in [0, 1]"),
            ("counting_min", 1 <= self.counting_min <= 1000, "between 1 and 1000"),
            ("trivial_weight", 0.0 <= self.trivial_weight <= 1.0, "in [0, 1]"),
            ("max_question_age", 0 <= self.max_question_age <= 1000, "between 0 and 1000"),
            ("cache", 1 <= self.cache <= 100_000, "between 1 and 100,000"),
            ("sample_tries", 1 <= self.sample_tries <= 1_000_000, "between 1 and 1,000,000"),
        ]
        whole = {"clip_frames", "min_pixels", "max_pixels", "counting_min", "max_question_age", "cache", "sample_tries"}
        for name, ok, want in checks:
            value = getattr(self, name)
            kinds = (int,) if name in whole else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds) or not ok:
                raise SpatialEvoError(f"round.{name} must be {'a whole number ' if name in whole else ''}{want}, got {value!r}")

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> RoundConfig:
        """A config from a mapping (an evolve config's ``round:``); an unknown key is named."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise SpatialEvoError(f"unknown round option(s) {unknown}; options: {sorted(cls.__dataclass_fields__)}")
        return cls(**values)


@dataclass(frozen=True)
class Turn:
    """What one role is shown, and the question it is about.

    Attributes:
        role: ``"questioner"`` or ``"solver"``.
        scene: the scene's unique name in the source; ``scene_id`` its id.
        task: the scheduled task (questioner) or the question's task (solver).
        frames: ids of the shown frames, in order.
        prompt: the role's instructions (text).
        question, question_text, verdict: the solver's question, its words and its verdict for
            these frames (``None`` / ``""`` for a questioner turn).
        images: the shown frames as (h, w, 3) uint8 arrays at the policy's size (empty when the
            turn was built without images).
        kind: how a solver turn's question came about (:data:`KINDS`); ``""`` for the questioner.
    """

    role: str
    scene: str
    scene_id: str
    task: str
    frames: tuple[str, ...]
    prompt: str
    question: Question | None = None
    question_text: str = ""
    verdict: Verdict | None = None
    images: tuple[np.ndarray, ...] = field(default=(), repr=False, compare=False)
    kind: str = ""

    @property
    def ground_truth(self) -> str:
        """The answer text, or the reason code of an invalid question (``""`` for a questioner turn)."""
        if self.verdict is None:
            return ""
        return self.verdict.answer_text if self.verdict.valid else self.verdict.reason.value


def _template_key(name: str, question: Question) -> int:
    """A 64-bit number from the scene name and the question: which template words the question."""
    return int.from_bytes(hashlib.blake2b(f"{name}\n{question.to_json()}".encode(), digest_size=8).digest(), "little")


class Round:
    """The self-play round over a scene source (module docstring).

    Args:
        scenes: ``"bundled"``, ``"synthetic"`` / ``"synthetic:N"``, a folder of scenes, a list of
            :class:`~spatialevo.scene.model.Scene`, or a :class:`~spatialevo.selfplay.sources.SceneSource`.
        config: :class:`RoundConfig`.
        dge_config: per-task threshold overrides for the DGEs.
    """

    def __init__(self, scenes: str | Path | Sequence[Scene] | SceneSource = "bundled", config: RoundConfig | None = None, *,
                 dge_config: dict[str, dict[str, Any]] | None = None):
        self.config = config if config is not None else RoundConfig()
        self.source = make_source(scenes, labels=self.config.labels, label_map=self.config.label_map)
        self.cache = SceneCache(self.source, self.config.cache, dge_config=dge_config)
        self._memo: OrderedDict[tuple, tuple[Verdict, Question | None]] = OrderedDict()

    @property
    def names(self) -> list[str]:
        """Unique scene names of the source, in order."""
        return self.source.names

    def dge(self, name: str) -> DGE:
        """The DGE of scene ``name`` (:class:`SpatialEvoError` when it cannot be loaded)."""
        return self.cache.require(name).dge

    def scene(self, name: str) -> Scene:
        return self.cache.require(name).scene

    # -- evidence and judgement -----------------------------------------------------------------
    def evidence(self, name: str, task: str, question: Question | None = None) -> tuple[str, ...]:
        """The frames shown with a question of ``task`` on scene ``name`` (:func:`evidence_frames`)."""
        return evidence_frames(self.scene(name), task, question, clip_frames=self.config.clip_frames)

    def judge(self, name: str, question: Question, frames: Sequence[str] | None = None) -> Verdict:
        """The verdict of ``question`` for the evidence ``frames`` (default: :meth:`evidence`), once
        per step: repeated calls return the stored verdict until :meth:`new_step`."""
        return self.judge_canonical(name, question, frames)[0]

    def judge_canonical(self, name: str, question: Question, frames: Sequence[str] | None = None, *,
                        memo: bool = True) -> tuple[Verdict, Question | None]:
        """``(verdict, canonical form)`` for the evidence (canonical form of a question whose task
        exists, valid or not; ``None`` for an unknown task). ``memo=False``: not stored, and the
        canonical form only of a valid question (a run that judges each question once and keeps the
        valid ones, such as dataset generation)."""
        shown = tuple(self.evidence(name, question.task, question) if frames is None and question.task in TASKS else frames or ())
        key = (name, question.key(), shown)
        hit = self._memo.get(key) if memo else None
        if hit is not None:
            return hit
        dge = self.dge(name)
        task = dge.tasks.get(question.task)
        if task is None:
            out: tuple[Verdict, Question | None] = (dge.evaluate(question), None)
        elif shown and set(shown) - set(dge.index.frames):
            out = (dge.evaluate(question, shown=shown), dge.canonical(question))
        else:
            v, canon = task.judge(dge.index, question, shown or None, self.config.min_visible)
            out = (v, canon if canon is not None or not memo else dge.canonical(question))
        if memo:
            self._memo[key] = out
            while len(self._memo) > _MEMO:
                self._memo.popitem(last=False)
        return out

    def new_step(self) -> None:
        """Forget the stored verdicts (the next training step judges its questions afresh)."""
        self._memo.clear()

    def trivial(self, verdict: Verdict | None) -> bool:
        """Whether a valid verdict's answer is trivial: a count below ``counting_min``."""
        return bool(verdict is not None and verdict.valid and verdict.task == "object_counting"
                    and int(verdict.answer) < self.config.counting_min)

    # -- drawing --------------------------------------------------------------------------------
    def draw(self, rng: np.random.Generator, task: str | None = None, scheduler: Any = None) -> tuple[str, str]:
        """``(scene name, task)``: a scene that loads, drawn uniformly, and ``task`` (or the
        scheduler's draw); a scene without frames gets a scene task."""
        name = self.names[self.source.draw_index(rng)]
        task = task or (scheduler.sample(rng) if scheduler is not None else SCENE_TASKS[int(rng.integers(len(SCENE_TASKS)))])
        if TASKS[task].scope != "scene" and not self.scene(name).frames:
            task = SCENE_TASKS[int(rng.integers(len(SCENE_TASKS)))]
        return name, task

    def sample(self, name: str, task: str, rng: np.random.Generator, *, valid: bool = True) -> Question | None:
        """A question of ``task`` on ``name`` judged valid (``valid=False``: invalid, not malformed)
        for its evidence; ``None`` when ``sample_tries`` draws find none."""
        dge = self.dge(name)
        t = dge.task(task)
        if valid and t.scope != "scene":
            try:  # an image task's evidence is its own frames: the DGE's sampler (with its feasibility check)
                return dge.sample(task, rng, max_tries=self.config.sample_tries)
            except NoValidQuestionError:
                return None
        if valid and t.feasible(dge.index) is False:
            return None
        shown = self.evidence(name, task) if t.scope == "scene" else None
        tries = self.config.sample_tries if valid else min(self.config.sample_tries, INVALID_TRIES)
        for _ in range(tries):
            q = t.draw(dge.index, rng)
            if q is None:
                continue
            v, _ = self.judge_canonical(name, q, shown if shown is not None else q.frames, memo=False)
            if v.valid == valid and (valid and not self.trivial(v) or not valid and v.reason is not Reason.MALFORMED):
                return q
        return None

    # -- turns ----------------------------------------------------------------------------------
    def images(self, name: str, frames: Sequence[str], box: tuple[int, int] | None = None) -> tuple[np.ndarray, ...]:
        """The frames as the policy sees them (:meth:`SceneCache.image`)."""
        c = self.config
        return tuple(self.cache.image(name, f, min_pixels=c.min_pixels, max_pixels=c.max_pixels, box=box) for f in frames)

    def text(self, name: str, question: Question) -> str:
        """The question in words: the template chosen by a hash of the scene name and the question
        (the same words in every adapter); its JSON where the task has no template for it."""
        try:
            n = len(templates(question.task, question.params))
            return render(question, template=_template_key(name, question) % n) if n else question.to_json()
        except TemplateError:
            return question.to_json()

    def questioner_turn(self, name: str, task: str, rng: np.random.Generator, *, images: bool = True,
                        box: tuple[int, int] | None = None) -> Turn:
        """The questioner's turn: the evidence of ``task`` (a scene task's clip; for an image task the
        frames of a DGE-sampled valid question, so one exists) and the prompt listing what it can
        ask about there."""
        scene = self.scene(name)
        q = self.sample(name, task, rng) if TASKS[task].scope != "scene" else None
        if TASKS[task].scope != "scene" and q is None:
            raise SpatialEvoError(f"scene {name!r} has no valid {task} question")
        frames = self.evidence(name, task, q)
        ask = self.askable(name, task, frames)
        return Turn("questioner", name, scene.scene_id, task, frames, questioner_prompt(task, ask, len(frames)),
                    images=self.images(name, frames, box) if images else ())

    def askable(self, name: str, task: str, frames: Sequence[str]) -> Askable:
        """What the questioner can ask about in ``frames`` (:func:`askable_labels`, with the round's
        visibility threshold for scene tasks and the task's own thresholds for image tasks)."""
        tcfg = self.dge(name).task(task).config
        vis = getattr(tcfg, "min_visible", self.config.min_visible) if TASKS[task].scope != "scene" else self.config.min_visible
        return askable_labels(self.dge(name).index, task, frames, min_visible=vis, counting_min=self.config.counting_min,
                              ambiguity=getattr(tcfg, "ambiguity_visible", None))

    def read(self, turn: Turn, output: Any) -> tuple[Question | None, str]:
        """The questioner's output as a question about ``turn``'s frames (``(None, error)`` if it is none)."""
        return read_question(output, turn.frames)

    def solver_turn(self, name: str, question: Question, *, frames: Sequence[str] | None = None, images: bool = True,
                    box: tuple[int, int] | None = None, kind: str = "given", verdict: Verdict | None = None) -> Turn:
        """The solver's turn for ``question`` on ``name``: an image task's question is shown its own
        frames, in its order (the words say "the first image"); a scene task's is shown ``frames``
        (the questioner's clip) or, by default, its evidence. Then the words and the verdict
        (``verdict``: the one this round already gave the question for these frames, e.g. when a
        dataset pool judged it; otherwise judged here, once per step)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        known = question.task in TASKS
        if known and TASKS[question.task].scope != "scene" and question.frames:
            shown = tuple(question.frames)  # an image task's frames, in the question's order ("the first image")
        else:
            shown = tuple(frames) if frames is not None else (self.evidence(name, question.task, question) if known else ())
        verdict = verdict if verdict is not None else self.judge(name, question, shown)
        text = self.text(name, question) if known else question.to_json()
        scene = self.scene(name)
        pictures = [f for f in shown if f in self.dge(name).index.frames]  # a frame the scene lacks: frame_missing, no image
        return Turn("solver", name, scene.scene_id, question.task, shown, solver_prompt(text, len(shown), self.config.answer_format),
                    question, text, verdict, self.images(name, pictures, box) if images else (), kind)

    def sampled_solver_turn(self, name: str, task: str, rng: np.random.Generator, *, invalid: bool = False, images: bool = True,
                            box: tuple[int, int] | None = None) -> Turn | None:
        """A solver turn with a DGE-sampled question of ``task`` (``invalid``: one judged invalid for
        its evidence, answered by its reason code); ``None`` when the scene has none."""
        q = self.sample(name, task, rng, valid=not invalid)
        if q is None:
            return None
        return self.solver_turn(name, q, images=images, box=box, kind="invalid" if invalid else "sampled")
