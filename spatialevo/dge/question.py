"""Structured questions (SPEC §3): ``{"task", "objects", "frames", "params"}``.

Natural language is only a rendering of a :class:`Question` (see :mod:`spatialevo.dge.language`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spatialevo.errors import SpatialEvoError
from spatialevo.safejson import loads

_SCALARS = (str, int, float, bool)


class QuestionFormatError(SpatialEvoError, ValueError):
    """A question is not well-formed data (wrong type, missing ``task``, unknown key, ...).

    Attributes:
        field: the key that is wrong (``"task"``, ``"objects"``, ``"frames"``, ``"params.level"``, ...).
        problem: what is wrong with it.
    """

    def __init__(self, problem: str, *, field: str | None = None):
        self.field = field
        self.problem = problem
        super().__init__(f"question field '{field}': {problem}" if field else problem)


@dataclass(frozen=True)
class Question:
    """One structured question.

    Attributes:
        task: task category name (SPEC §4), e.g. ``"absolute_distance"``.
        objects: object category labels in the task's fixed order (SPEC §4), e.g. ``("sofa", "stove")``.
        frames: frame ids of the images the question is about (single-image and image-pair tasks).
        params: task parameters, e.g. ``{"level": "easy"}`` or ``{"reference": 2}``; JSON scalars only.
    """

    task: str
    objects: tuple[str, ...] = ()
    frames: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.task, str) or not self.task.strip():
            raise QuestionFormatError(f"must be a non-empty string, got {self.task!r}", field="task")
        object.__setattr__(self, "task", self.task.strip())
        object.__setattr__(self, "objects", _str_tuple(self.objects, "objects", allow_int=False))
        object.__setattr__(self, "frames", _str_tuple(self.frames, "frames", allow_int=True))
        if not isinstance(self.params, Mapping):
            raise QuestionFormatError(f"must be a mapping, got {type(self.params).__name__}", field="params")
        params: dict[str, Any] = {}
        for k, v in self.params.items():
            if not isinstance(k, str):
                raise QuestionFormatError(f"keys must be strings, got {k!r}", field="params")
            if v is not None and not isinstance(v, _SCALARS):
                raise QuestionFormatError(f"must be a JSON scalar, got {type(v).__name__}", field=f"params.{k}")
            if isinstance(v, float) and v != v:
                raise QuestionFormatError("must not be NaN", field=f"params.{k}")
            params[k] = v
        object.__setattr__(self, "params", dict(sorted(params.items())))

    @classmethod
    def trusted(cls, task: str, objects: tuple[str, ...] = (), frames: tuple[str, ...] = (), params: Mapping[str, Any] | None = None) -> Question:
        """A question built without the checks of the constructor, for the DGE's own draws and
        canonical forms (millions per dataset): ``task`` a task name, ``objects`` / ``frames``
        tuples of labels, references and frame ids the scene index holds (non-empty, stripped),
        ``params`` JSON scalars of the task's parameter space. Anything read from outside goes
        through :class:`Question` or :meth:`from_dict`."""
        q = object.__new__(cls)
        object.__setattr__(q, "task", task)
        object.__setattr__(q, "objects", objects)
        object.__setattr__(q, "frames", frames)
        object.__setattr__(q, "params", dict(sorted(params.items())) if params else {})
        return q

    # -- conversions ----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Question:
        """Question from a plain mapping; ``frames`` and ``params`` may be omitted.

        Raises:
            QuestionFormatError: naming the field when ``data`` is not a well-formed question.
        """
        if isinstance(data, Question):
            return data
        if not isinstance(data, Mapping):
            raise QuestionFormatError(f"a question must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(map(str, data)) - {"task", "objects", "frames", "params"})
        if unknown:
            raise QuestionFormatError(f"unknown key(s) {unknown}", field=unknown[0])
        if "task" not in data:
            raise QuestionFormatError("is missing", field="task")
        return cls(
            task=data["task"],
            objects=data.get("objects", ()),
            frames=data.get("frames", ()) or (),
            params=data.get("params", {}) or {},
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Question:
        """Question from JSON text (raises :class:`QuestionFormatError` on invalid or too deeply nested JSON)."""
        try:
            data = loads(text)
        except (ValueError, TypeError) as exc:
            raise QuestionFormatError(f"not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form; ``Question.from_dict(q.to_dict()) == q``."""
        return {"task": self.task, "objects": list(self.objects), "frames": list(self.frames), "params": dict(self.params)}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces); equal questions give equal strings."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def key(self) -> tuple:
        """Hashable identity of the question (for de-duplication and caches)."""
        return (self.task, self.objects, self.frames, tuple(self.params.items()))

    def __hash__(self) -> int:
        return hash(self.key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Question) and self.key() == other.key()

    def with_params(self, **params: Any) -> Question:
        """Copy with ``params`` updated."""
        return Question(self.task, self.objects, self.frames, {**self.params, **params})


def _str_tuple(value: Any, name: str, *, allow_int: bool) -> tuple[str, ...]:
    if value is None:
        return ()
    if type(value) is tuple and all(type(x) is str and x and not x[0].isspace() and not x[-1].isspace() for x in value):
        return value  # already clean (every question the DGE builds): no copy
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise QuestionFormatError(f"must be a list of strings, got {type(value).__name__}", field=name)
    out = []
    for i, item in enumerate(value):
        if allow_int and isinstance(item, int) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item.strip():
            raise QuestionFormatError(f"item {i} must be a non-empty string, got {item!r}", field=name)
        out.append(item.strip())
    return tuple(out)
