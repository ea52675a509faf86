"""Verdicts: the DGE's judgement of one question (SPEC §3).

A verdict is either *valid* (with the typed ``answer``, its canonical ``answer_text`` and, for
multiple choice, the ``options``) or *invalid* with a :class:`Reason` code. An invalid question is
never given an answer. ``evidence`` holds the numbers the rule used (distances in metres, angles in
degrees, visible fractions), so a reader can check the decision.

A verdict is immutable: its fields are frozen and its evidence is a read-only dict of read-only
lists, so the DGE's caches hand one verdict object to every caller that asks the same question.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Reason(str, Enum):
    """Why a question is invalid. Stable codes; the value is the code string."""

    LABEL_ABSENT = "label_absent"
    """A referenced label has no instance in the scene (object_counting: fewer than its ``min_count``)."""
    AMBIGUOUS_LABEL = "ambiguous_label"
    """A label that must name one object has several instances in the scope."""
    SAME_OBJECT = "same_object"
    """Two references that must differ name the same object (or the same frame)."""
    NOT_VISIBLE = "not_visible"
    """An object of the scene is not visible enough in the frame(s) the question shows (default < 0.1)."""
    TOO_CLOSE = "too_close"
    """Objects / cameras are closer than the task's minimum separation, so the answer is unstable."""
    NEAR_BOUNDARY = "near_boundary"
    """A direction lies within the margin of a boundary between two answers."""
    NEAR_TIE = "near_tie"
    """Best and runner-up differ by less than the task's margin."""
    NO_HEIGHT_DIFFERENCE = "no_height_difference"
    """Two cameras are at (nearly) the same height."""
    NO_MOTION = "no_motion"
    """The camera neither moved nor turned enough between the two frames."""
    NO_FRAMES = "no_frames"
    """An image task was asked about a scene without camera frames (e.g. a box-list scene)."""
    FRAME_MISSING = "frame_missing"
    """A referenced frame id is not in the scene (a wrong number of frames is ``malformed``)."""
    ROOM_UNKNOWN = "room_unknown"
    """The floor extent is unknown: no floor polygon, no room size and no points to estimate it."""
    NOT_IN_EVIDENCE = "not_in_evidence"
    """An object the question names (for counting: an instance of the label) is not visible enough
    (default < 0.05) in any frame shown with the question (SPEC §7), so the shown evidence cannot
    answer it."""
    MALFORMED = "malformed"
    """The question is not well-formed: unknown task, wrong number of objects, bad parameter."""

    def __str__(self) -> str:
        return self.value


REASON_CODES: tuple[str, ...] = tuple(r.value for r in Reason)

#: Every evidence key a verdict may hold and its one type (``"float"``, ``"int"``, ``"str"``, or a
#: list of them: ``"floats"``, ``"strs"``), whatever the task or reason: a dataset stores the
#: evidence as one typed record with these fields (absent ones empty). A new key is added here.
EVIDENCE_FIELDS: dict[str, str] = {
    # lengths and distances (metres), areas (m²)
    "distance_m": "float", "center_distance_m": "float", "distances_m": "floats", "floor_distance_m": "float",
    "floor_distance_ab_m": "float", "floor_distance_ac_m": "float", "separation_m": "float", "translation_m": "float",
    "height_difference_m": "float", "difference_m": "float", "median_depth_m": "floats", "longest_edge_m": "float",
    "longest_edges_m": "floats", "extents_m": "floats", "area_m2": "float",
    # vectors (metres; world or camera frame as the name says) and ratios
    "displacement_camera_m": "floats", "translation_camera_m": "floats", "region_centroid": "floats", "component_ratios": "floats",
    # angles (degrees) and cosines
    "angle_deg": "float", "yaw_change_deg": "float", "heading_cos": "float",
    # visible fractions (per frame or per instance), counts
    "visible": "floats", "count": "int", "hidden": "int",
    # names
    "label": "str", "object": "str", "frame": "str", "options": "strs", "level": "str", "source": "str", "reference": "int",
}


@dataclass(frozen=True)
class Verdict:
    """The DGE's decision on one question.

    Attributes:
        valid: whether the question has one exact, stable answer.
        reason: ``None`` when valid, else the :class:`Reason` code.
        message: human-readable explanation (names the offending label / frame / number).
        answer: typed answer (``int`` count or cm, ``float`` metres / m², ``str`` label or direction),
            ``None`` when invalid.
        answer_text: canonical text form of the answer (``"2.3"``, ``"front-left"``); ``""`` when invalid.
        options: choices for multiple-choice tasks (the answer is one of them), else ``None``.
        evidence: numbers used by the rule (metres, degrees, fractions), JSON-serialisable; a
            read-only :class:`Evidence`.
        task: the task name, for convenience.
        answer_kind: ``"number"``, ``"integer"``, ``"choice"`` or ``"direction"`` (see :mod:`~spatialevo.dge.scoring`).
        unit: unit of numeric answers (``"m"``, ``"cm"``, ``"m2"``) or ``None``.
    """

    valid: bool
    reason: Reason | None = None
    message: str = ""
    answer: Any = None
    answer_text: str = ""
    options: tuple[str, ...] | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    task: str = ""
    answer_kind: str = ""
    unit: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "evidence", freeze(self.evidence))
        if self.options is not None and type(self.options) is not tuple:
            object.__setattr__(self, "options", tuple(self.options))

    @classmethod
    def invalid(cls, reason: Reason, message: str, *, task: str = "", evidence: dict[str, Any] | None = None) -> Verdict:
        """An invalid verdict with a reason code and a message."""
        return cls(False, Reason(reason), message, task=task, evidence=evidence or {})

    @classmethod
    def make(cls, valid: bool, reason: Reason | None, message: str, answer: Any, answer_text: str, options: tuple[str, ...] | None,
             evidence: dict[str, Any], task: str, answer_kind: str, unit: str | None) -> Verdict:
        """A verdict from all ten fields, positionally, without the dataclass ``__init__`` (about 3×
        faster; the tasks build millions): the same object ``Verdict(...)`` gives. ``reason`` a
        :class:`Reason` or ``None``, ``options`` a tuple (or a sequence, made one), ``evidence`` a
        dict (frozen here: :func:`freeze`)."""
        if options is not None and type(options) is not tuple:
            options = tuple(options)
        v = object.__new__(cls)
        v.__dict__.update(valid=valid, reason=reason, message=message, answer=answer, answer_text=answer_text, options=options,
                          evidence=freeze(evidence), task=task, answer_kind=answer_kind, unit=unit)
        return v

    def copy(self) -> Verdict:
        """The verdict itself: a verdict is immutable (its fields are frozen, its ``evidence`` is a
        read-only :class:`Evidence`), so one object can be shared by every caller and cache."""
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (numpy numbers converted to Python floats / ints)."""
        return {
            "task": self.task,
            "valid": self.valid,
            "reason": None if self.reason is None else self.reason.value,
            "message": self.message,
            "answer": _plain(self.answer),
            "answer_text": self.answer_text,
            "options": None if self.options is None else list(self.options),
            "answer_kind": self.answer_kind,
            "unit": self.unit,
            "evidence": _plain(self.evidence),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)


_SCALAR_TYPES = frozenset((float, int, str, bool, type(None)))


def _read_only(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError("a verdict's evidence is read-only (verdicts are shared); dict(verdict.evidence) or list(value) is a mutable copy")


class FrozenList(list):
    """A read-only ``list`` in a verdict's evidence: equal to (and JSON like) the plain list."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = append = extend = insert = pop = remove = clear = sort = reverse = _read_only  # type: ignore[assignment]

    def __reduce__(self) -> tuple:  # pickle and copy build a new one from the items
        return (FrozenList, (list(self),))

    def __repr__(self) -> str:
        return list.__repr__(self)


class Evidence(dict):
    """A verdict's evidence: a read-only ``dict`` (JSON-serialisable, equal to the plain dict with
    the same items), made by :func:`freeze`: lists in it are :class:`FrozenList`, nested dicts
    ``Evidence``, numpy arrays read-only copies, so nothing in a verdict can change after it is
    made: the DGE's caches hand the same verdict to every caller. ``dict(v.evidence)`` (or
    ``v.evidence.copy()``) is a mutable copy."""

    __slots__ = ()

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _read_only  # type: ignore[assignment]

    def __reduce__(self) -> tuple:  # pickle and copy build a new one from the items (not item by item)
        return (Evidence, (dict(self),))

    def __repr__(self) -> str:
        return dict.__repr__(self)


def freeze(evidence: Any) -> Evidence:
    """``evidence`` (a mapping) as a new :class:`Evidence`: lists as :class:`FrozenList`, tuples
    kept (their items frozen), nested mappings frozen too, numpy arrays as read-only copies;
    scalars and values already frozen as they are."""
    ev = Evidence(evidence)
    for k, x in ev.items():
        t = type(x)
        if t in _SCALAR_TYPES:
            continue
        if t is list and _SCALAR_TYPES.issuperset(map(type, x)):  # the common case: a list of numbers
            dict.__setitem__(ev, k, FrozenList(x))
        else:
            dict.__setitem__(ev, k, _frozen(x))
    return ev


def _frozen(value: Any) -> Any:
    """An immutable form of one evidence value (:func:`freeze`)."""
    if isinstance(value, list):  # a list or a FrozenList
        if _SCALAR_TYPES.issuperset(map(type, value)):
            return value if type(value) is FrozenList else FrozenList(value)
        return FrozenList(map(_frozen, value))
    if isinstance(value, dict):
        return freeze(value)
    if isinstance(value, tuple):
        return tuple(map(_frozen, value))
    if hasattr(value, "shape") and hasattr(value, "setflags") and hasattr(value, "copy"):  # a numpy array: a copy of its own
        value = value.copy()  # (a read-only view would still change with its base)
        value.setflags(write=False)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
