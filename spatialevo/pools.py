"""The questions of a generate run: per scene and task a pool of distinct valid questions (answers
balanced), a pool of distinct invalid ones, and the record of each unit (see :mod:`spatialevo.generate`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from math import ceil
from typing import Any

import numpy as np

from spatialevo.dataset import qa_record
from spatialevo.dge import TASKS, Question, Verdict
from spatialevo.genconfig import GenerateConfig, n_valid
from spatialevo.selfplay import Round


def answer_options(task: str) -> tuple[str, ...] | None:
    """The fixed answer options a task is balanced over (``None``: open answers)."""
    return TASKS[task].answer_options


def _name_key(*parts: str) -> list[int]:
    """Stable 32-bit words from names (seed material independent of scene order and of Python's hash)."""
    h = hashlib.sha256("/".join(parts).encode()).digest()
    return [int.from_bytes(h[i : i + 4], "little") for i in range(0, 16, 4)]


def _first_time(key: tuple, seen: set[tuple]) -> bool:
    """Whether ``key`` is new to ``seen`` (and add it)."""
    new = key not in seen
    seen.add(key)
    return new


def build_pool(rnd: Round, scene_name: str, task: str, cfg: GenerateConfig) -> list[tuple[Question, Verdict]]:
    """Distinct questions of ``task`` in a scene that are valid for their evidence, with their
    verdicts, in record order.

    Candidates are drawn from the task's question space with a generator seeded by ``(cfg.seed,
    scene_name, task)`` and judged once each for the frames a record shows (the round's evidence,
    :meth:`~spatialevo.selfplay.Round.evidence`: a scene task's clip, so an object visible in none
    of its frames is ``not_in_evidence``); a valid one whose canonical form is already in the
    pool is not taken again (the objects of a symmetric task swapped, ``"tv"`` and ``"tv#13"``), nor
    one with a trivial answer (a count below the round's ``counting_min``). Drawing stops when every
    answer bucket holds ``ceil(per_task / |buckets|)`` questions, after ``draws_per_record *
    per_task`` draws, or after ``patience`` draws that brought a repeat or an answer already held
    often enough, with no addition in between (new invalid draws do not count). The result
    interleaves the buckets round-robin (empty buckets are skipped).
    """
    dge = rnd.dge(scene_name)
    t = dge.task(task)
    if t.feasible(dge.index) is False:  # decided from the scene's labels and geometry, no draws wasted
        return []
    rng = np.random.default_rng([int(cfg.seed) & 0xFFFFFFFF, *_name_key(scene_name, task)])
    opts = answer_options(task)
    buckets: dict[str | None, list[tuple[Question, Verdict]]] = {o: [] for o in opts} if opts else {None: []}
    want = ceil(n_valid(cfg) / len(buckets))
    open_buckets = len(buckets)
    scene_task = t.scope == "scene"
    clip = rnd.evidence(scene_name, task) or None if scene_task else None  # no frames (a box list): the whole scene
    min_visible = rnd.config.min_visible
    seen: set[tuple] = set()  # draws evaluated
    asked: set[tuple] = set()  # canonical forms of the valid ones: re-wordings of one question are one question
    stale = 0
    for _ in range(cfg.draws_per_record * n_valid(cfg)):
        q = t.draw(dge.index, rng)
        key = None if q is None else q.key()
        v = None
        if key is not None and key not in seen:
            seen.add(key)
            v, canon = t.judge(dge.index, q, clip if scene_task else q.frames, min_visible)  # an image task's evidence: its frames
            if v.valid and (rnd.trivial(v) or not _first_time(canon.key(), asked)):
                v = None
        if v is not None and not v.valid:
            continue  # a new question, invalid: the space is not exhausted yet (neither stale nor progress)
        bucket = buckets.get(v.answer_text if opts else None) if v is not None else None
        if bucket is None or len(bucket) >= want:  # a repeat, or an answer whose bucket is full
            stale += 1
            if stale >= cfg.patience:
                break
            continue
        stale = 0
        bucket.append((q, v))
        if len(bucket) == want:
            open_buckets -= 1
            if open_buckets == 0:
                break
    lists = [b for b in buckets.values() if b]
    return [b[j] for j in range(want) for b in lists if j < len(b)]


def build_invalid_pool(rnd: Round, scene_name: str, task: str, cfg: GenerateConfig) -> list[Question]:
    """Distinct questions of ``task`` in a scene that are invalid for their evidence (not malformed),
    for the units ``k >= n_valid``: drawn with a generator seeded by ``(seed, scene name, task,
    "invalid")``, distinct by canonical form; fewer when the scene has fewer."""
    want = cfg.per_task - n_valid(cfg)
    if want <= 0:
        return []
    dge = rnd.dge(scene_name)
    t = dge.task(task)
    rng = np.random.default_rng([int(cfg.seed) & 0xFFFFFFFF, *_name_key(scene_name, task, "invalid")])
    clip = rnd.evidence(scene_name, task) or None if t.scope == "scene" else None
    pool: list[Question] = []
    seen: set[tuple] = set()
    for _ in range(4 * want):  # each sample() already tries up to INVALID_TRIES draws
        q = rnd.sample(scene_name, task, rng, valid=False)
        if q is None:
            break
        _, canon = t.judge(dge.index, q, clip if clip is not None else q.frames, rnd.config.min_visible)
        if _first_time((canon or q).key(), seen):
            pool.append(q)
            if len(pool) == want:
                break
    return pool


def records_of(pool_size: int, cfg: GenerateConfig) -> int:
    """Valid-question records a scene-task with ``pool_size`` distinct questions gets: :func:`n_valid`,
    or fewer when the pool is smaller and repeats would exceed ``max_repeat_share`` of the records."""
    want = n_valid(cfg)
    if pool_size >= want or cfg.max_repeat_share >= 1.0:
        return want if pool_size else 0
    repeats = int(cfg.max_repeat_share * pool_size / (1.0 - cfg.max_repeat_share) + 1e-9)
    return min(want, pool_size + repeats)


def make_record(rnd: Round, scene_name: str, task: str, k: int, pool: list[tuple[Question, Verdict]], cfg: GenerateConfig,
                index: int = 0, invalid: Sequence[Question] = ()) -> dict[str, Any] | None:
    """The record of unit ``k`` of a scene and task (``index``: its unit number in the run): the
    round's solver turn of pool question ``k`` (its frames, words, prompt and verdict), or for ``k
    >= n_valid`` entry ``k - n_valid`` of the ``invalid`` pool (:func:`build_invalid_pool`).
    ``None`` when there is no such question or unit ``k`` would repeat one beyond ``max_repeat_share``."""
    if k >= n_valid(cfg):
        if k - n_valid(cfg) >= len(invalid):
            return None
        turn = rnd.solver_turn(scene_name, invalid[k - n_valid(cfg)], images=False, kind="invalid")
    elif not pool or k >= records_of(len(pool), cfg):
        return None
    else:
        q, v = pool[k % len(pool)]
        turn = rnd.solver_turn(scene_name, q, images=False, verdict=v)  # the pool's verdict, for the same frames
    images = [f"images/{scene_name}/{fid}.png" for fid in turn.frames] if cfg.images else []
    return qa_record(turn, f"{scene_name}-{task}-{k:06d}", images, index=index, seed=cfg.seed)
