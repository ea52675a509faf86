"""Which frames go with a question, and what the questioner can ask about in them (SPEC §7).

One function, :func:`evidence_frames`, decides the frames every role is shown:

* **scene tasks** (counting, size, absolute / relative distance, relative direction, room size):
  a clip of ``clip_frames`` frames (default 16) uniformly spaced over the scene's trajectory
  (:func:`clip`: frame indices ``round(linspace(0, n − 1, K))``, all frames when the scene has at
  most K), the way VSI-Bench shows a room as a video; a scene without camera frames (a box list)
  is shown as text only (no frames) and the whole scene is the evidence;
* **single-image and image-pair tasks**: the question's own frame(s).

A question is then judged for that evidence (:meth:`spatialevo.dge.DGE.evaluate` with ``shown``):
valid only when every object it names — for counting every instance of the label — is visible
(fraction ≥ ``min_visible``, default 0.05) in at least one shown frame; otherwise invalid with the
reason ``not_in_evidence``.

:func:`askable_labels` lists what the questioner can ask about in its evidence, per task: the labels
visible in the shown frames, split into those that name one object where the task needs it
(unique) and those with several instances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spatialevo.dge import TASKS, Question
from spatialevo.dge.index import SceneIndex
from spatialevo.scene.model import Scene

#: frames of a scene task's clip (VSI-Bench / the SpatialEvo paper: 16 uniformly sampled frames)
CLIP_FRAMES = 16


def clip(scene: Scene, k: int = CLIP_FRAMES) -> tuple[str, ...]:
    """Ids of ``k`` frames uniformly spaced over the trajectory (``scene.frames`` order): indices
    ``round(linspace(0, n − 1, k))``; every frame when ``n ≤ k``; none for a scene without frames."""
    n = len(scene.frames)
    if n == 0 or k <= 0:
        return ()
    if n <= k:
        return tuple(f.id for f in scene.frames)
    idx = np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))
    return tuple(scene.frames[int(i)].id for i in idx)


def evidence_frames(scene: Scene, task: str, question: Question | None = None, *, clip_frames: int = CLIP_FRAMES) -> tuple[str, ...]:
    """The frames shown with a question of ``task`` (module docstring): the clip for a scene task,
    the question's frames for an image task (``question`` needed; ``()`` without one)."""
    if TASKS[task].scope == "scene":
        return clip(scene, clip_frames)
    return tuple(question.frames) if question is not None else ()


@dataclass(frozen=True)
class Askable:
    """What the questioner may ask about in its evidence.

    Attributes:
        unique: labels whose use the task accepts (one visible instance in scope; for counting, a
            label with at least ``counting_min`` instances, all visible).
        several: other visible labels (several instances: asking about them is ``ambiguous_label``;
            for counting, labels with too few instances or some hidden).
    """

    unique: tuple[str, ...]
    several: tuple[str, ...]


def askable_labels(index: SceneIndex, task: str, frames: Sequence[str], *, min_visible: float = 0.05,
                   counting_min: int = 2, ambiguity: float | None = None) -> Askable:
    """The labels visible in ``frames`` (fraction ≥ ``min_visible`` in at least one: the round's
    threshold for scene tasks, the task's own for image tasks), split for ``task``
    (:class:`Askable`); for a single-image task a label with another instance glimpsed in the frame
    (fraction ≥ ``ambiguity``, the task's ``ambiguity_visible``) is not unique. Without frames (a
    box-list scene) every label counts as visible."""
    cls = TASKS[task]
    frames = [f for f in frames if f in index.frames]
    scope_frames = frames[:1] if cls.scope == "single_image" else frames
    if scope_frames:
        frac = index.seen(scope_frames)
        seen = frac >= min_visible
        glimpsed = frac >= (ambiguity if ambiguity is not None else min_visible)
    else:
        seen = glimpsed = np.ones(len(index.labels), dtype=bool)
    unique, several = [], []
    for lab, inst in sorted(index.by_label.items()):
        vis = [i for i in inst if seen[i]]
        if not vis:
            continue
        if cls.label_rule == "count":
            ok = len(inst) >= counting_min and len(vis) == len(inst)
        elif cls.scope == "single_image":
            ok = len(vis) == 1 and sum(bool(glimpsed[i]) for i in inst) == 1  # one instance in view, no other glimpsed
        elif cls.label_rule == "nearest":
            ok = len(vis) == len(inst)  # a candidate category may have several instances, all of them shown
        else:
            ok = len(inst) == 1
        (unique if ok else several).append(lab)
    return Askable(tuple(unique), tuple(several))
