"""Base class and shared rules of the DGE tasks (reasoning-gym style: one module per task).

A task module defines a config dataclass (thresholds, loaded from ``tasks/<task>.yaml``) and a
:class:`Task` subclass with

* ``check(index, question, resolved)`` — the task's own rule: returns a :class:`Verdict`,
  valid with the exact answer or invalid with a reason;
* ``check_many(index, questions, resolved)`` (optional) — the same rule for many resolved questions
  at once (the geometry in one numpy pass; :meth:`Task.evaluate_many`); the verdicts must equal
  ``check``'s field for field, so both are written with the same floating-point operations (the
  numpy ufuncs of a scalar path applied to arrays, or Python's ``math`` in both);
* ``draw(index, rng)`` — one random candidate question (possibly invalid) from the task's whole
  question space; :meth:`Task.sample` keeps drawing until the DGE judges one valid, so samples follow
  the draw distribution restricted to the valid questions of that space (only when ``max_tries``
  draws find none does it fall back to a known valid candidate);
* ``candidates(index)`` (optional) — the questions that *could* be valid, in a fixed order, such that
  a valid question exists only if one of them is valid (e.g. only labels with one instance). The
  first :meth:`Task.sample` on a scene evaluates them (at most :data:`FEASIBILITY_BUDGET`) to decide
  whether the task is feasible at all, so an impossible task fails at once instead of after
  thousands of rejected draws; tasks without ``candidates`` (the object image tasks) rely on the
  draws;
* ``answer_kind`` / ``unit`` / ``options`` — how the answer is scored.

The shared rules run in :meth:`Task.evaluate` before ``check``, in this order: object count and
parameters (``malformed``); frames (``no_frames``, wrong count ``malformed``, ``frame_missing``, a
repeated frame ``same_object``); then each label in question order (``label_absent``, then
``ambiguous_label`` — or, in single-image tasks, ``ambiguous_label`` / ``not_visible`` in the
frame); then distinctness on the *resolved* objects: two references that share an instance
(``"sofa"`` and ``"sofa#3"`` for the only sofa, a label given twice) are ``same_object``; then
image-pair visibility (``not_visible``); then the task's own reasons; then, when the question is
judged for the evidence shown with it (``shown``: the frame ids a role sees, SPEC §7), the evidence
rule (``not_in_evidence``): an image task's frames must be among the shown ones, and every instance
a scene task's references resolve to (every instance of a counted label, of a relative_distance
candidate category) must be visible (fraction ≥ :data:`EVIDENCE_MIN_VISIBLE`) in at least one shown
frame. The first failing rule decides the reason.

:meth:`Task.canonical` gives a question's canonical form (SPEC §8): every reference resolved to
its instance (``"label#id"``; where a position names a category — counting, a relative_distance
candidate — the category's label, or the instance when one instance of several is named), parameters
normalised with their defaults filled in, the objects of symmetric positions
(:attr:`Task.symmetric`) sorted, and image-pair questions with ``reference`` 2 written with the
frames swapped and ``reference`` 1 (the same question), and the frames of tasks whose answer does not
depend on their order (:attr:`Task.frames_symmetric`) sorted. Novelty and de-duplication use it.

A valid verdict's options read differently: when two options have the same normalised form (the
labels ``trash-bin`` and ``trash bin``, a label ``tie`` beside the option ``same``), no answer
could tell them apart, so the question is ``ambiguous_label``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.numbers import fmt1, pick, randint, round1, round1_array, round_int, round_int_array
from spatialevo.dge.tasks.shared import ImageConfig, coerce_params, options_read_alike, shared_instance, unique_labels
from spatialevo.dge.verdict import Reason, Verdict
from spatialevo.errors import SpatialEvoError

#: candidate questions :meth:`Task.feasible` evaluates at most before it leaves the decision to sampling
FEASIBILITY_BUDGET = 4000
#: smallest visible fraction (in at least one shown frame) of an object a question names (SPEC §7)
EVIDENCE_MIN_VISIBLE = 0.05
#: valid candidates kept per scene and task, the fallback of :meth:`Task.sample`
_KEEP_VALID = 64


class NoValidQuestionError(SpatialEvoError, RuntimeError):
    """``sample`` found no valid question of a task in a scene (e.g. too few objects or frames)."""


@dataclass
class Resolved:
    """Question references resolved against the scene.

    Attributes:
        objects: per referenced label, the indices (into ``scene.objects``) of its instances in scope
            (exactly one for labels that must be unique).
        frames: the referenced frame ids, in question order.
        params: parameters with defaults filled in.
        labels: the normalised labels, in question order.
    """

    objects: list[list[int]]
    frames: list[str]
    params: dict[str, Any]
    labels: list[str]


class Task:
    """One task category. Subclasses set the class attributes and implement ``check`` and ``draw``."""

    name: ClassVar[str]
    scope: ClassVar[str]  # "scene" | "single_image" | "image_pair"
    answer_kind: ClassVar[str]  # "number" | "integer" | "choice" | "direction"
    unit: ClassVar[str | None] = None
    n_objects: ClassVar[tuple[int, int]] = (0, 0)
    n_frames: ClassVar[int] = 0
    #: parameter name → (allowed values, default)
    param_space: ClassVar[dict[str, tuple[tuple[Any, ...], Any]]] = {}
    #: "unique" (every label names one object in scope) or "nearest" (relative_distance candidates)
    label_rule: ClassVar[str] = "unique"
    #: single_image / image_pair: whether each object must be visible (in the frame / in one of the two)
    needs_visibility: ClassVar[bool] = True
    #: positions of ``objects`` whose order does not change the question (sorted in :meth:`canonical`)
    symmetric: ClassVar[slice | None] = None
    #: image-pair tasks whose answer does not depend on the order of the two frames (sorted in :meth:`canonical`)
    frames_symmetric: ClassVar[bool] = False
    #: the fixed options every answer is one of, which generated data is balanced over (``None``: open answers)
    answer_options: ClassVar[tuple[str, ...] | None] = None
    config_cls: ClassVar[type]

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.config_cls()
        #: checked parameters by the question's (all-string) parameter items (:meth:`_params`)
        self._param_memo: dict[tuple, dict[str, Any]] = {}

    # -- the task's own parts -------------------------------------------------------------------
    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        raise NotImplementedError

    def check_many(self, index: SceneIndex, qs: Sequence[Question], rs: Sequence[Resolved]) -> list[Verdict]:
        """:meth:`check` of each resolved question, in order (tasks override it with one vectorised pass)."""
        return [self.check(index, q, r) for q, r in zip(qs, rs)]

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        raise NotImplementedError

    def candidates(self, index: SceneIndex) -> Iterator[Question] | None:
        """The questions that could be valid, in a fixed order (module docstring); ``None`` when the
        task does not enumerate them. (A scene with fewer frames than the task shows, or fewer labels
        than it names, has none: that is decided before this is called.)"""
        return None

    def options_for(self, q: Question, r: Resolved) -> tuple[str, ...] | None:
        """Multiple-choice options of a question (``None`` for open answers)."""
        return None

    # -- a guess in the answer format (scripted agents, baselines) ------------------------------
    #: log-uniform ranges of a random numeric guess per unit
    GUESS_RANGES: ClassVar[dict[str, tuple[float, float]]] = {"m": (0.1, 10.0), "cm": (5.0, 300.0), "m2": (5.0, 80.0)}

    @classmethod
    def random_answer(cls, verdict: Verdict, rng: np.random.Generator) -> str:
        """A uniformly random answer in the format of this task's (valid) verdict: one of its
        options, an integer 1–5, a log-uniform number in the unit's :data:`GUESS_RANGES`; direction
        tasks override it. The scripted :class:`~spatialevo.selfplay.agents.RandomAnswerer` uses it."""
        if verdict.options:
            return verdict.options[int(rng.integers(len(verdict.options)))]
        if cls.answer_kind == "integer":
            return str(int(rng.integers(1, 6)))
        if cls.answer_kind == "number":
            lo, hi = cls.GUESS_RANGES.get(cls.unit or "m", (0.1, 10.0))
            value = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            return str(int(round(value))) if cls.unit == "cm" else f"{value:.1f}"
        return "unknown"

    # -- verdict helpers ------------------------------------------------------------------------
    def ok(self, answer: Any, text: str, evidence: dict[str, Any], options: tuple[str, ...] | None = None) -> Verdict:
        return Verdict.make(True, None, f"{self.name}: {text}", answer, text, options, evidence, self.name, self.answer_kind, self.unit)

    def bad(self, reason: Reason, message: str, evidence: dict[str, Any] | None = None) -> Verdict:
        return Verdict.make(False, reason, message, None, "", None, {} if evidence is None else evidence, self.name, self.answer_kind, self.unit)

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self, index: SceneIndex, q: Question, shown: Sequence[str] | None = None, min_visible: float = EVIDENCE_MIN_VISIBLE) -> Verdict:
        """Apply the shared rules, then the task's rule, then (with ``shown``) the evidence rule
        (see module docstring)."""
        return self._verdict(index, q, self.resolve(index, q), shown, min_visible)

    def evaluate_many(self, index: SceneIndex, qs: Sequence[Question]) -> list[Verdict]:
        """``[self.evaluate(index, q) for q in qs]`` (no ``shown``): every question resolved by the
        shared rules, then the task's rule applied to all the resolved ones at once
        (:meth:`check_many`), then the checks every valid verdict passes; the same verdicts, in order."""
        out: list[Any] = [self.resolve(index, q) for q in qs]  # the shared rules, per question (one implementation)
        todo = [k for k, r in enumerate(out) if not isinstance(r, Verdict)]
        if todo:
            checked = self.check_many(index, [qs[k] for k in todo], [out[k] for k in todo])
            post = self._post
            for k, v in zip(todo, checked):
                out[k] = post(v)
        return out

    def judge(self, index: SceneIndex, q: Question, shown: Sequence[str] | None = None,
              min_visible: float = EVIDENCE_MIN_VISIBLE) -> tuple[Verdict, Question | None]:
        """``(verdict, canonical form)`` of a question, resolving its references once (``shown``:
        as in :meth:`evaluate`); the canonical form only for a valid question (``None`` otherwise:
        :meth:`canonical` gives it)."""
        r = self.resolve(index, q)
        v = self._verdict(index, q, r, shown, min_visible)
        return v, self._canonical(index, q, r) if v.valid else None

    def _verdict(self, index: SceneIndex, q: Question, r: Resolved | Verdict, shown: Sequence[str] | None = None,
                 min_visible: float = EVIDENCE_MIN_VISIBLE) -> Verdict:
        if isinstance(r, Verdict):
            return r
        v = self._task_verdict(index, q, r)
        return v if shown is None or not v.valid else self._in_evidence(index, q, r, shown, min_visible, v)

    def _in_evidence(self, index: SceneIndex, q: Question, r: Resolved, shown: Sequence[str], min_visible: float, v: Verdict) -> Verdict:
        """The evidence rule (SPEC §7): an image task's frames must be shown; every instance a scene
        task's references resolve to (all instances of a counted label or of a relative_distance
        candidate category) must be visible, fraction ≥ ``min_visible``, in at least one shown frame."""
        missing = [f for f in q.frames if f not in shown]
        if missing:
            return self.bad(Reason.NOT_IN_EVIDENCE, f"frame {missing[0]!r} is not among the shown frames", {"frame": missing[0]})
        if self.scope != "scene" or not r.objects:
            return v
        seen = index.seen(shown)
        for lab, inst in zip(r.labels, r.objects):
            hidden = [i for i in inst if seen[i] < min_visible]
            if hidden:
                ref = index.scene.objects[hidden[0]].ref
                return self.bad(Reason.NOT_IN_EVIDENCE, f"{ref} ({lab}) is not visible in any of the {len(shown)} shown frame(s) "
                                f"(best visible fraction {float(seen[hidden[0]]):.2f} < {min_visible:g})",
                                {"object": ref, "visible": [round(float(seen[hidden[0]]), 4)], "hidden": len(hidden)})
        return v

    def _task_verdict(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        return self._post(self.check(index, q, r))

    def _post(self, v: Verdict) -> Verdict:
        """The checks every valid verdict of :meth:`check` passes: options that read alike, a finite answer."""
        if not v.valid:
            return v
        if v.options and options_read_alike(tuple(v.options)):
            # e.g. labels "trash-bin" and "trash bin", or a label "tie" beside the option "same": no answer could tell them apart
            return self.bad(Reason.AMBIGUOUS_LABEL, f"two answer options read alike ({', '.join(v.options)})", {"options": list(v.options)})
        a = v.answer
        if (type(a) is float and not math.isfinite(a)) or (isinstance(a, (float, int, np.number)) and type(a) not in (int, float, bool)
                                                            and not np.isfinite(a)):
            # unreachable for scenes within the loaders' physical bounds; never hand out inf / NaN
            return self.bad(Reason.MALFORMED, f"the scene's geometry gives a non-finite answer ({v.answer}); it is outside the physical bounds")
        return v

    def resolve(self, index: SceneIndex, q: Question) -> Resolved | Verdict:
        """The question's references resolved by the shared rules (module docstring), or the
        verdict of the first rule that fails."""
        lo, hi = self.n_objects
        if not lo <= len(q.objects) <= hi:
            want = str(lo) if lo == hi else f"{lo}–{hi}"
            return self.bad(Reason.MALFORMED, f"{self.name} takes {want} object label(s), got {len(q.objects)}")
        params = self._params(q)
        if isinstance(params, Verdict):
            return params
        frames = list(q.frames)
        if self.n_frames == 0 and frames:
            return self.bad(Reason.MALFORMED, f"{self.name} is a scene task and takes no frames, got {len(frames)}")
        if self.n_frames:
            if not index.frames:
                return self.bad(Reason.NO_FRAMES, f"{self.name} needs camera frames; scene {index.scene.scene_id} has none")
            if len(frames) != self.n_frames:
                return self.bad(Reason.MALFORMED, f"{self.name} takes {self.n_frames} frame id(s), got {len(frames)}")
            for fid in frames:
                if fid not in index.frames:
                    return self.bad(Reason.FRAME_MISSING, f"frame {fid!r} is not in scene {index.scene.scene_id}")
            if len(set(frames)) != len(frames):
                return self.bad(Reason.SAME_OBJECT, f"the two frames must differ, both are {frames[0]!r}")
        labels: list[str] = []
        for raw in q.objects:
            lab = index.norm(raw)
            if lab is None:
                return self.bad(Reason.MALFORMED, f"{raw!r} is not an object label")
            labels.append(lab)
        objects: list[list[int]] = []
        for pos, lab in enumerate(labels):
            inst = index.by_label.get(lab, [])
            if not inst and "#" in lab:  # an instance reference "label#id" (ObjectInstance.ref)
                ref = index.by_ref.get(lab)
                inst = [] if ref is None else [ref]
            if not inst:
                return self.bad(Reason.LABEL_ABSENT, f"there is no {lab} in scene {index.scene.scene_id}", {"label": lab})
            if self.scope == "single_image":
                res = self._resolve_in_frame(index, lab, inst, frames[0])
                if isinstance(res, Verdict):
                    return res
                objects.append(res)
                continue
            if len(inst) > 1 and not (self.label_rule == "nearest" and pos > 0):
                return self.bad(
                    Reason.AMBIGUOUS_LABEL, f"'{lab}' is ambiguous: the scene has {len(inst)} of them", {"label": lab, "count": len(inst)}
                )
            objects.append(list(inst))
        same = shared_instance(objects)
        if same is not None:
            a, b, obj = same
            what = f"'{labels[a]}' is referenced twice" if labels[a] == labels[b] else f"'{labels[a]}' and '{labels[b]}' are the same {index.labels[obj]}"
            return self.bad(Reason.SAME_OBJECT, f"{what}; the objects must be distinct", {"label": labels[b]})
        if self.scope == "image_pair" and self.needs_visibility:
            for lab, inst in zip(labels, objects):
                vis = [float(index.visible(f)[inst[0]]) for f in frames]
                if max(vis) < self.config.min_visible:
                    return self.bad(
                        Reason.NOT_VISIBLE,
                        f"the {lab} is not visible enough in either image (visible fractions {vis[0]:.2f}, {vis[1]:.2f} < {self.config.min_visible})",
                        {"label": lab, "visible": vis},
                    )
        return Resolved(objects, frames, params, labels)

    def canonical(self, index: SceneIndex, q: Question) -> Question:
        """The canonical form of ``q`` (module docstring); a question whose references do not resolve
        keeps its normalised labels. Equal canonical forms ask the same thing."""
        return self._canonical(index, q, self.resolve(index, q))

    def _canonical(self, index: SceneIndex, q: Question, r: Resolved | Verdict) -> Question:
        frames = tuple(q.frames)
        if isinstance(r, Verdict):
            objects = [index.norm(o) or o for o in q.objects]
            params = self._params(q)
            params = dict(q.params) if isinstance(params, Verdict) else params
        else:
            objects = [self._canonical_ref(index, pos, lab, inst) for pos, (lab, inst) in enumerate(zip(r.labels, r.objects))]
            params = r.params
        if self.symmetric is not None:
            objects[self.symmetric] = sorted(objects[self.symmetric])
        if len(frames) == 2 and params.get("reference") == 2:
            frames, params = frames[::-1], {**params, "reference": 1}
        if self.frames_symmetric:
            frames = tuple(sorted(frames))
        if isinstance(r, Verdict):  # the references as written (normalised where they could be): checked
            return Question(self.name, tuple(objects), frames, params)
        return Question.trusted(self.name, tuple(objects), frames, params)  # resolved references and params

    def _canonical_ref(self, index: SceneIndex, pos: int, label: str, inst: list[int]) -> str:
        """Canonical text of one resolved reference: ``"label#id"`` for a position naming one object;
        for a position naming a category (counting, relative_distance candidates) the category's
        label when the reference covers all its instances, else the instance."""
        category = self.label_rule == "count" or (self.label_rule == "nearest" and pos > 0)
        if not category:
            return index.scene.objects[inst[0]].ref
        name = index.labels[inst[0]]
        return name if sorted(index.by_label.get(name, [])) == sorted(inst) else index.scene.objects[inst[0]].ref

    def _resolve_in_frame(self, index: SceneIndex, lab: str, inst: list[int], fid: str) -> list[int] | Verdict:
        vis = index.visible(fid)
        v = vis[inst]
        seen = [i for i, x in zip(inst, v) if x >= self.config.min_visible]
        glimpsed = [i for i, x in zip(inst, v) if x >= self.config.ambiguity_visible]
        if len(glimpsed) > 1 and seen:
            return self.bad(
                Reason.AMBIGUOUS_LABEL,
                f"'{lab}' is ambiguous in frame {fid}: {len(glimpsed)} of them are visible",
                {"label": lab, "visible": [float(x) for x in v]},
            )
        if not seen:
            return self.bad(
                Reason.NOT_VISIBLE,
                f"the {lab} is not visible enough in frame {fid} (best visible fraction {float(v.max()):.2f} < {self.config.min_visible})",
                {"label": lab, "visible": [float(v.max())]},
            )
        return seen

    def _params(self, q: Question) -> dict[str, Any] | Verdict:
        """:func:`coerce_params` of the question's parameters (a new dict), or the ``malformed``
        verdict; parameters that are all strings are checked once per task (remembered)."""
        items: tuple | None = tuple(q.params.items())
        memo = self._param_memo
        for _, v in items:  # type: ignore[union-attr]
            if type(v) is not str:
                items = None  # 1, 1.0, True, -0.0 are equal keys but differ here
                break
        else:
            out = memo.get(items)
            if out is not None:
                return dict(out)
        try:
            out = coerce_params(self.name, self.param_space, q.params)
        except ValueError as exc:
            return self.bad(Reason.MALFORMED, str(exc))
        if items is not None and len(memo) < 1024 and sum(len(k) + len(v) for k, v in items) <= 256:
            memo[items] = dict(out)
        return out

    # -- sampling -------------------------------------------------------------------------------
    def _candidate_state(self, index: SceneIndex) -> _Candidates:
        """The scene's :class:`_Candidates` of this task (cached on the scene index)."""
        cache = index.__dict__.setdefault("_feasible", {})
        state = cache.get(self.name)
        if state is None:
            too_few = len(index.frames) < self.n_frames or len(index.by_label) < self.n_objects[0]
            state = cache[self.name] = _Candidates(iter(()) if too_few else self.candidates(index))  # e.g. no frames
        return state

    def feasible(self, index: SceneIndex) -> bool | None:
        """Whether the scene has a valid question of this task: ``True`` / ``False`` when decided by
        its :meth:`candidates` (evaluated up to the first valid one), ``None`` when undecided (no
        candidates, or :data:`FEASIBILITY_BUDGET` of them are invalid): sampling decides."""
        state = self._candidate_state(index)
        state.find(self, index, 1)
        return state.verdict()

    def sample(self, index: SceneIndex, rng: np.random.Generator, *, max_tries: int = 20_000) -> Question:
        """A valid question drawn uniformly from the task's valid questions (rejection sampling).

        Feasibility is decided first (:meth:`feasible`): an impossible task raises at once. When the
        draws find nothing although valid questions exist, one of the known valid candidates is
        returned (chosen with ``rng``).

        Raises:
            NoValidQuestionError: the scene has no valid question of the task (or none was found in
                ``max_tries`` draws and the task does not enumerate its candidates).
        """
        state = self._candidate_state(index)
        where = f"scene {index.scene.scene_id} ({len(index.scene.objects)} objects, {len(index.frames)} frames)"
        if self.feasible(index) is False:
            why = f"all {state.tried} questions it could ask are invalid" if state.tried else "it has no question to ask"
            if len(index.frames) < self.n_frames:
                why = f"the task shows {self.n_frames} frame(s), the scene has {len(index.frames)}"
            elif len(index.by_label) < self.n_objects[0]:
                why = f"the task names {self.n_objects[0]} object(s), the scene has {len(index.by_label)} label(s)"
            if self.scope == "scene" and self.n_objects[1] and self.label_rule != "count":
                why += f" (labels naming one object: {len(unique_labels(index))}; questions are drawn by label, not by instance reference)"
            raise NoValidQuestionError(f"{where} has no valid {self.name} question: {why}")
        for _ in range(max_tries):
            q = self.draw(index, rng)
            if q is not None and self.evaluate(index, q).valid:
                return q
        state.find(self, index, _KEEP_VALID)
        if state.valid:
            return state.valid[int(rng.integers(len(state.valid)))]
        raise NoValidQuestionError(f"no valid {self.name} question found in {where} after {max_tries} draws")


class _Candidates:
    """A task's candidate questions in one scene, evaluated lazily: the valid ones found so far."""

    def __init__(self, it: Iterator[Question] | None):
        self.it, self.valid, self.tried = it, [], 0
        self.exhausted = it is None

    def find(self, task: Task, index: SceneIndex, want: int) -> None:
        """Evaluate candidates until ``want`` valid ones are known, they run out, or the budget is spent."""
        while len(self.valid) < want and not self.exhausted and self.tried < FEASIBILITY_BUDGET:
            q = next(self.it, None)  # type: ignore[arg-type]
            if q is None:
                self.exhausted = True
                break
            self.tried += 1
            if task.evaluate(index, q).valid:
                self.valid.append(q)

    def verdict(self) -> bool | None:
        """``True``: a valid candidate is known; ``False``: none of all the candidates is valid; ``None``: undecided."""
        if self.valid:
            return True
        return False if self.exhausted and self.it is not None else None


__all__ = ["EVIDENCE_MIN_VISIBLE", "FEASIBILITY_BUDGET", "ImageConfig", "NoValidQuestionError", "Resolved", "Task", "coerce_params",
           "fmt1", "indices", "pick", "randint", "round1", "round1_array", "round_int", "round_int_array", "unique_labels"]


def indices(rs: Sequence[Resolved], pos: int) -> np.ndarray:
    """(Q,) int64 indices of the first instance of reference ``pos`` of each resolved question."""
    return np.fromiter((r.objects[pos][0] for r in rs), dtype=np.int64, count=len(rs))
