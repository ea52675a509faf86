"""Helpers of the shared rules of :mod:`spatialevo.dge.tasks.base`: parameters checked against a
task's parameter space, distinctness of resolved objects, options that read alike, the labels a
scene task can name, and the visibility thresholds of the image tasks."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from spatialevo.dge.answers import normalize_choice
from spatialevo.dge.index import SceneIndex


def unique_labels(index: SceneIndex) -> list[str]:
    """Sorted labels with exactly one instance in the scene (the ones a scene task can name)."""
    return [lab for lab, inst in sorted(index.by_label.items()) if len(inst) == 1]


@functools.lru_cache(maxsize=4096)
def options_read_alike(options: tuple[str, ...]) -> bool:
    """Whether two options have the same normalised form (or one has none): no answer tells them apart."""
    return len({normalize_choice(o) for o in options} - {""}) < len(options)


def coerce_params(task: str, space: dict[str, tuple[tuple[Any, ...], Any]], params: Any) -> dict[str, Any]:
    """A question's parameters checked against a task's ``param_space`` and normalised: defaults
    filled in, strings stripped and lower-cased, a decimal-digit string or a whole float read as
    the allowed integer (``"2"``, ``2.0`` → 2), booleans refused. Each value is the allowed value
    itself, so equal parameters have equal JSON (``1.0`` is stored as ``1``).

    Raises:
        ValueError: an unknown parameter or a value outside the allowed ones (the message says which).
    """
    unknown = sorted(set(params) - set(space))
    if unknown:
        raise ValueError(f"{task} has no parameter {unknown[0]!r} (parameters: {sorted(space) or 'none'})")
    out: dict[str, Any] = {}
    for key, (allowed, default) in space.items():
        value = params.get(key, default)
        if isinstance(value, str):
            text = value.strip()
            value = int(text) if text.isascii() and text.isdecimal() and any(isinstance(a, int) for a in allowed) else text.lower()
        if isinstance(value, bool) or value not in allowed:
            raise ValueError(f"parameter {key!r} must be one of {list(allowed)}, got {value!r}")
        out[key] = allowed[allowed.index(value)]
    return out


def shared_instance(objects: list[list[int]]) -> tuple[int, int, int] | None:
    """``(first position, second position, instance)`` of the first instance two positions share."""
    owner: dict[int, int] = {}
    for pos, inst in enumerate(objects):
        for i in inst:
            if i in owner:
                return owner[i], pos, i
            owner[i] = pos
    return None


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
