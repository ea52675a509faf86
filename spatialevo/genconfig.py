"""The arguments of ``spatialevo generate`` (:class:`GenerateConfig`), their checks, and what the
run's manifest records of them (see :mod:`spatialevo.generate`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spatialevo.dge import TASK_NAMES, TASKS
from spatialevo.errors import SpatialEvoError
from spatialevo.runfolder import FORMAT
from spatialevo.selfplay import RoundConfig

MAX_PER_TASK = 1_000_000
MAX_CHUNK = 1_000_000
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class GenerateConfig:
    """Arguments of :func:`generate` (see ``spatialevo generate --help``)."""

    out: Path
    scenes: str = "bundled"
    tasks: tuple[str, ...] = TASK_NAMES
    per_task: int = 50
    seed: int = 0
    shard: tuple[int, int] = (0, 1)
    chunk: int = 64
    images: bool = True
    #: candidate draws per record allowed when building a pool (rare answers stop being sought after that)
    draws_per_record: int = 60
    #: stop building a pool after this many draws that added nothing to it (a repeat, or an answer
    #: already held often enough) with no addition in between; new invalid draws do not count
    patience: int = 300
    #: largest share of a scene-task's records that may repeat a question when the scene has fewer
    #: distinct ones than ``per_task`` (0: never repeat; 1: always fill ``per_task``)
    max_repeat_share: float = 0.0
    #: share of each scene-task's records that are invalid questions (answered by their reason code)
    invalid_share: float = 0.0
    #: how questions are shown and judged: clip frames, visibility, pixel budget, counting minimum
    round: RoundConfig = field(default_factory=RoundConfig)


def run_manifest(cfg: GenerateConfig, names: Sequence[str], content: Sequence[str], chunks: int, units: int) -> dict[str, Any]:
    """What ``<out>/manifest.json`` holds for ``cfg`` (:data:`ARG_KEYS`, plus chunk and unit counts);
    ``content`` is the source's :meth:`~spatialevo.selfplay.sources.SceneSource.fingerprint` (other files under
    the same scene names are another run)."""
    return {"format": FORMAT, "seed": cfg.seed, "tasks": list(cfg.tasks), "per_task": cfg.per_task, "chunk": cfg.chunk,
            "images": cfg.images, "draws_per_record": cfg.draws_per_record, "patience": cfg.patience,
            "max_repeat_share": cfg.max_repeat_share, "invalid_share": cfg.invalid_share, "round": _round_manifest(cfg.round),
            "scenes": list(names), "scene_content": list(content), "chunks": chunks, "units": units}


def _round_manifest(rc: RoundConfig) -> dict[str, Any]:
    """The round options that change records (evidence, judgement, images, the solver prompt's
    answer format: kept only when not ``direct``, so folders written before it resume)."""
    keys = ("clip_frames", "min_visible", "min_pixels", "max_pixels", "counting_min", "sample_tries", "labels", "label_map")
    out = {k: getattr(rc, k) for k in keys}
    if rc.answer_format != "direct":
        out["answer_format"] = rc.answer_format
    return out


def check_config(cfg: GenerateConfig) -> None:
    """Raise :class:`SpatialEvoError` naming the first bad argument of ``cfg``."""
    if not cfg.tasks:
        raise SpatialEvoError(f"no task given (--tasks is empty); tasks: {','.join(TASK_NAMES)}")
    unknown = [t for t in cfg.tasks if t not in TASKS]
    if unknown:
        raise SpatialEvoError(f"unknown task(s) {unknown}; tasks: {list(TASK_NAMES)}")
    twice = sorted({t for t in cfg.tasks if cfg.tasks.count(t) > 1})
    if twice:
        raise SpatialEvoError(f"task(s) listed more than once in --tasks: {twice}")
    i, n = cfg.shard
    if not (n >= 1 and 0 <= i < n):
        raise SpatialEvoError(f"--shard must be i/n with 0 <= i < n, got {i}/{n}")
    for name, value, top in (("--per-task", cfg.per_task, MAX_PER_TASK), ("--chunk", cfg.chunk, MAX_CHUNK),
                             ("draws_per_record", cfg.draws_per_record, MAX_PER_TASK), ("patience", cfg.patience, MAX_PER_TASK)):
        if not 1 <= value <= top:
            raise SpatialEvoError(f"{name} must be between 1 and {top:,}, got {value}")
    if not 0.0 <= cfg.max_repeat_share <= 1.0:
        raise SpatialEvoError(f"--max-repeat-share must be between 0 and 1, got {cfg.max_repeat_share}")
    if not 0.0 <= cfg.invalid_share < 1.0:
        raise SpatialEvoError(f"--invalid-share must be at least 0 and below 1, got {cfg.invalid_share}")
    if not 0 <= cfg.seed <= MAX_SEED:
        raise SpatialEvoError(f"--seed must be between 0 and {MAX_SEED}, got {cfg.seed}")


def n_valid(cfg: GenerateConfig) -> int:
    """Valid-question units per scene and task: ``per_task`` less the ``invalid_share`` (rounded)."""
    return cfg.per_task - int(cfg.per_task * cfg.invalid_share + 0.5)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` → ``(i, n)`` (the range is checked by :func:`check_config`)."""
    try:
        a, b = text.split("/")
        return int(a), int(b)
    except ValueError:
        raise SpatialEvoError(f"--shard must look like 0/4, got {text!r}") from None
