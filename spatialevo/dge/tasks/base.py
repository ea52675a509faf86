"""Base class and shared rules of the DGE tasks (reasoning-gym style: one module per task).

A task module defines a config dataclass (thresholds, loaded from ``tasks/<task>.yaml``) and a
:class:`Task` subclass with

* ``check(index, question, resolved)`` — the task's own rule: returns a :class:`Verdict`,
  valid with the exact answer or invalid with a reason;
* ``draw(index, rng)`` — one random candidate question (possibly invalid) from the task's whole
  question space; :meth:`Task.sample` keeps drawing until the DGE judges one valid, so samples are
  uniform over the valid questions of that space;
* ``answer_kind`` / ``unit`` / ``options`` — how the answer is scored.

The shared rules run in :meth:`Task.evaluate` before ``check``, in this order: object count and
parameters (``malformed``); frames (``no_frames``, wrong count ``malformed``, ``frame_missing``, a
repeated frame ``same_object``); then each label in question order (``label_absent``, then
``ambiguous_label`` — or, in single-image tasks, ``ambiguous_label`` / ``not_visible`` in the
frame); then a repeated label (``same_object``); then image-pair visibility (``not_visible``);
then the task's own reasons. The first failing rule decides the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.verdict import Reason, Verdict
from spatialevo.errors import SpatialEvoError


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
    config_cls: ClassVar[type]

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.config_cls()

    # -- the task's own parts -------------------------------------------------------------------
    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        raise NotImplementedError

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        raise NotImplementedError

    def options_for(self, q: Question, r: Resolved) -> tuple[str, ...] | None:
        """Multiple-choice options of a question (``None`` for open answers)."""
        return None

    # -- verdict helpers ------------------------------------------------------------------------
    def ok(self, answer: Any, text: str, evidence: dict[str, Any], options: tuple[str, ...] | None = None) -> Verdict:
        return Verdict(
            True, None, f"{self.name}: {text}", answer, text, options, evidence, self.name, self.answer_kind, self.unit
        )

    def bad(self, reason: Reason, message: str, evidence: dict[str, Any] | None = None) -> Verdict:
        return Verdict(False, reason, message, None, "", None, dict(evidence or {}), self.name, self.answer_kind, self.unit)

    # -- evaluation -----------------------------------------------------------------------------
    def evaluate(self, index: SceneIndex, q: Question) -> Verdict:
        """Apply the shared rules, then the task's rule (see module docstring)."""
        r = self.resolve(index, q)
        return r if isinstance(r, Verdict) else self.check(index, q, r)

    def resolve(self, index: SceneIndex, q: Question) -> Resolved | Verdict:
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
        if len(set(labels)) != len(labels):
            dup = next(lab for lab in labels if labels.count(lab) > 1)
            return self.bad(Reason.SAME_OBJECT, f"'{dup}' is referenced twice; the objects must be distinct", {"label": dup})
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
                {"label": lab, "visible": float(v.max())},
            )
        return seen

    def _params(self, q: Question) -> dict[str, Any] | Verdict:
        out: dict[str, Any] = {}
        for key in q.params:
            if key not in self.param_space:
                known = sorted(self.param_space) or "none"
                return self.bad(Reason.MALFORMED, f"{self.name} has no parameter {key!r} (parameters: {known})")
        for key, (allowed, default) in self.param_space.items():
            value = q.params.get(key, default)
            if isinstance(value, str) and value.strip().isdigit() and any(isinstance(a, int) for a in allowed):
                value = int(value.strip())
            elif isinstance(value, str):
                value = value.strip().lower()
            if isinstance(value, bool) or value not in allowed:
                return self.bad(Reason.MALFORMED, f"parameter {key!r} must be one of {list(allowed)}, got {value!r}")
            out[key] = value
        return out

    # -- sampling -------------------------------------------------------------------------------
    def sample(self, index: SceneIndex, rng: np.random.Generator, *, max_tries: int = 20_000) -> Question:
        """A valid question drawn uniformly from the task's valid questions (rejection sampling).

        Raises:
            NoValidQuestionError: no valid question found in ``max_tries`` draws.
        """
        for _ in range(max_tries):
            q = self.draw(index, rng)
            if q is not None and self.evaluate(index, q).valid:
                return q
        raise NoValidQuestionError(
            f"no valid {self.name} question found in scene {index.scene.scene_id} after {max_tries} draws "
            f"({len(index.scene.objects)} objects, {len(index.frames)} frames)"
        )


def pick(rng: np.random.Generator, items: list[Any] | tuple[Any, ...], k: int = 1) -> list[Any]:
    """``k`` distinct items drawn uniformly without replacement, in draw order (uniform over ordered k-subsets)."""
    n = len(items)
    if k > n:
        raise ValueError(f"cannot pick {k} distinct items from {n}")
    if k == 1:
        return [items[int(rng.integers(n))]]
    chosen: list[int] = []
    while len(chosen) < k:
        i = int(rng.integers(n))
        if i not in chosen:
            chosen.append(i)
    return [items[i] for i in chosen]


def fmt1(x: float) -> str:
    """Canonical one-decimal text (``-0.0`` → ``0.0``)."""
    s = f"{x:.1f}"
    return "0.0" if s == "-0.0" else s


def round1(x: float) -> float:
    """Round half away from zero to one decimal (``2.25`` → ``2.3``), robust to binary representation."""
    return float(np.sign(x) * np.floor(abs(x) * 10.0 + 0.5 + 1e-9) / 10.0)


def round_int(x: float) -> int:
    """Round half away from zero to an integer."""
    return int(np.sign(x) * np.floor(abs(x) + 0.5 + 1e-9))


@dataclass(frozen=True)
class ImageConfig:
    """Visibility thresholds shared by the single-image and image-pair tasks.

    Attributes:
        min_visible: an object counts as visible in a frame from this visible fraction on.
        ambiguity_visible: single-image tasks: another instance of the same label visible at least
            this much makes the label ambiguous.
    """

    min_visible: float = 0.1
    ambiguity_visible: float = 0.02
