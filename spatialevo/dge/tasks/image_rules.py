"""Rules shared by the image tasks: 8-way egocentric positions and compound camera-frame directions."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import permutations
from typing import Any

import numpy as np

from spatialevo.dge.geometry import DIRECTIONS_8, camera_heading, direction_8way, egocentric_angle
from spatialevo.dge.index import SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.scoring import COMPONENT_ORDER
from spatialevo.dge.tasks.base import Resolved, Task, pick, randint
from spatialevo.dge.verdict import Reason, Verdict

#: camera-frame axes (OpenCV: x right, y down, z forward) → (negative name, positive name)
AXIS_NAMES = ((0, "left", "right"), (1, "up", "down"), (2, "front", "back"))


def reference_pair(index: SceneIndex, r: Resolved) -> tuple[np.ndarray, np.ndarray, int]:
    """``(T_wc of the reference camera, T_wc of the other camera, reference number 1 or 2)``."""
    ref = int(r.params.get("reference", 1))
    f_ref = index.frames[r.frames[ref - 1]]
    f_other = index.frames[r.frames[2 - ref]]
    return f_ref.T_wc, f_other.T_wc, ref


def position_verdict(task: Task, T_ref: np.ndarray, point: np.ndarray, what: str, ev: dict[str, Any]) -> Verdict:
    """8-way direction of a world point (metres) in a camera's egocentric horizontal frame.

    Invalid when the camera looks (nearly) straight up or down (``config.min_heading_cos``), when the
    point is within ``config.min_separation_m`` of the camera on the floor plane (``too_close``) or
    within ``config.boundary_margin_deg`` of a sector boundary (``near_boundary``).
    """
    cfg = task.config
    _, cos_pitch = camera_heading(T_ref)
    ang, dist = egocentric_angle(T_ref, point)
    ang, dist = float(ang), float(dist)
    ev.update({"angle_deg": ang, "floor_distance_m": dist, "heading_cos": cos_pitch})
    if cos_pitch < cfg.min_heading_cos:
        return task.bad(Reason.NEAR_BOUNDARY, "the reference camera looks nearly straight up or down: its horizontal heading is undefined", ev)
    if dist < cfg.min_separation_m:
        return task.bad(Reason.TOO_CLOSE, f"{what} is {dist:.2f} m from the reference camera on the floor plane (< {cfg.min_separation_m} m)", ev)
    idx, margin = direction_8way(ang)
    if margin < cfg.boundary_margin_deg:
        return task.bad(Reason.NEAR_BOUNDARY, f"{what} lies at {ang:.1f}°, within {cfg.boundary_margin_deg}° of a sector boundary", ev)
    ans = DIRECTIONS_8[int(idx)]
    return task.ok(ans, ans, ev, DIRECTIONS_8)


def compound_direction(vec: np.ndarray, ratio: float, ratio_margin: float, *, forward: str = "back") -> tuple[str | None, np.ndarray]:
    """Compound direction of a camera-frame vector (metres; x right, y down, z forward).

    ``forward`` names +z: ``"back"`` for positions (farther from the camera is behind), ``"front"``
    for motion (moving along the optical axis is moving forward).

    A component is part of the answer when its magnitude is at least ``ratio`` times the largest
    one. Returns ``(answer, ratios)``; the answer is ``None`` when a component's ratio lies within
    ``ratio_margin`` of ``ratio`` (ambiguous whether it belongs).
    """
    mags = np.abs(vec)
    top = float(mags.max())
    ratios = mags / top if top > 0 else np.zeros(3)
    if np.any(np.abs(ratios - ratio) < ratio_margin):
        return None, ratios
    names = AXIS_NAMES if forward == "back" else (*AXIS_NAMES[:2], (2, "back", "front"))
    parts = {(neg if vec[axis] < 0 else pos) for axis, neg, pos in names if ratios[axis] >= ratio}
    return join_components(parts), ratios


def join_components(parts: set[str] | frozenset[str]) -> str:
    """Canonical compound text: components in ``COMPONENT_ORDER`` joined by ``-`` (``"up-front-left"``)."""
    return "-".join(p for p in COMPONENT_ORDER if p in parts)


def random_components(rng: np.random.Generator) -> str:
    """A random compound direction: each axis (up/down, front/back, left/right) one way, the other
    or neither with probability 1/3 each, redrawn until at least one component is set."""
    parts: set[str] = set()
    while not parts:
        for a, b in (("up", "down"), ("front", "back"), ("left", "right")):
            r = rng.random()
            if r < 1 / 3:
                parts.add(a)
            elif r < 2 / 3:
                parts.add(b)
    return join_components(parts)


def frame_pair_candidates(task: Task, index: SceneIndex) -> Iterator[Question]:
    """Every ordered pair of distinct frames with ``reference`` 1 (the pair swapped with reference 2
    is the same question): the candidates of the camera-only image-pair tasks."""
    return (Question(task.name, (), pair, {"reference": 1}) for pair in permutations(index.frames, 2))


def draw_frames(index: SceneIndex, rng: np.random.Generator, k: int) -> tuple[str, ...]:
    """``k`` distinct frame ids drawn uniformly (fewer frames than ``k``: all of them, repeated)."""
    ids = index.frame_ids
    if len(ids) < k:
        return tuple((ids * k)[:k]) if ids else tuple(["0"] * k)
    return tuple(pick(rng, ids, k))


def draw_labels(index: SceneIndex, rng: np.random.Generator, k: int) -> tuple[str, ...]:
    """``k`` distinct labels of the scene drawn uniformly (all of them when there are fewer)."""
    labels = index.label_list
    return tuple(pick(rng, labels, min(k, len(labels)))) if labels else ("object",) * k


def draw_image_question(task: Task, index: SceneIndex, rng: np.random.Generator, n_labels: int, params: dict[str, Any] | None = None) -> Question:
    """A random question of an image task: uniform frames, labels and parameters."""
    frames = draw_frames(index, rng, task.n_frames)
    labels = draw_labels(index, rng, n_labels) if n_labels else ()
    p = dict(params or {})
    for key, (allowed, _) in task.param_space.items():
        p.setdefault(key, allowed[randint(rng, len(allowed))])
    return Question.trusted(task.name, labels, frames, p)
