"""Box-list JSON files: per label a list of oriented boxes (the layout public benchmark meta-info uses).

Accepted shape (liberal)::

    {"scene_id"?: str, "room_size"?: float (m²), "objects"?: {label: [box, ...]}, label: [box, ...]}
    box = {"centroid": [3], "axesLengths": [3], "normalizedAxes": [9]}

Labels are read from ``objects`` when that key holds a dict, else from the top level; keys whose
value is not a list of dicts (``room_size``, ``scene_id``, ``room_center``, ``video_path``,
``dataset``, ...) are skipped. Coordinates are world frame, metres, z up; the rows of the row-major
3x3 ``normalizedAxes`` are the unit box axes. Object ids are assigned 0, 1, ... in order of the
*sorted raw label* and then list order. The scene id is ``scene_id`` when given, else the file stem;
``room_size`` (m², in (0, ``MAX_ROOM_SIZE_M2``]) goes to ``scene.meta['room_size']``. The scene has no
mesh, points or frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spatialevo import safejson
from spatialevo.errors import SceneFormatError
from spatialevo.scene.loaders.common import box_from_obb, read_json
from spatialevo.scene.model import ObjectInstance, Scene
from spatialevo.scene.validate import MAX_ROOM_SIZE_M2, bounded_number

LAYOUT = "box-list JSON"
#: Top-level keys that are scene metadata, never labels.
META_KEYS = frozenset({"scene_id", "scene_name", "room_size", "room_center", "video_path", "dataset", "objects"})
#: Largest file :func:`detect` will parse (bytes).
DETECT_MAX_BYTES = 64 * 1024 * 1024


def _is_box_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0 and all(isinstance(v, dict) for v in value) and any("centroid" in v for v in value)


def _label_dict(data: dict[str, Any]) -> dict[str, Any]:
    objs = data.get("objects")
    return objs if isinstance(objs, dict) else data


def detect(path: Path) -> bool:
    """True for a ``.json`` file whose top level (or ``objects``) maps a label to a list of dicts with ``centroid``.

    Reads and parses the file (at most :data:`DETECT_MAX_BYTES`, nesting depth bounded by
    :mod:`spatialevo.safejson`); never raises.
    """
    try:
        path = Path(path)
        if not path.is_file() or path.suffix.lower() != ".json" or path.stat().st_size > DETECT_MAX_BYTES:
            return False
        data = safejson.load_file(path)
        if not isinstance(data, dict):
            return False
        return any(_is_box_list(v) for k, v in _label_dict(data).items() if k not in META_KEYS)
    except (OSError, ValueError, RecursionError, MemoryError):  # ValueError covers JSONDepthError
        return False


def load(path: Path) -> Scene:
    """Load a box-list JSON file into a boxes-only :class:`Scene` (world frame, metres, z up).

    Raises:
        SceneFileNotFoundError: the file is missing.
        SceneFormatError: malformed JSON or boxes (naming the file and e.g. ``chair[1].centroid``).
    """
    path = Path(path).absolute()
    data = read_json(path, field="objects", layout=LAYOUT)
    if not isinstance(data, dict):
        raise SceneFormatError(f"expected a JSON object of label → box list, got {type(data).__name__}", path=path, field="objects")
    labels = _label_dict(data)
    objects: list[ObjectInstance] = []
    skipped_keys = []
    for label in sorted(labels):
        boxes = labels[label]
        if label in META_KEYS or not isinstance(boxes, list) or (boxes and not any(isinstance(b, dict) for b in boxes)):
            skipped_keys.append(label)
            continue
        for j, b in enumerate(boxes):
            if not isinstance(b, dict):
                raise SceneFormatError(f"expected a box object, got {type(b).__name__}", path=path, field=f"{label}[{j}]")
            box = box_from_obb(b, path=path, field=f"{label}[{j}]")
            try:
                objects.append(ObjectInstance(len(objects), label, box))
            except SceneFormatError as exc:
                raise SceneFormatError(exc.problem, path=path, field=f"{label} (label)") from None
    meta: dict[str, Any] = {"layout": "boxlist", "skipped_keys": skipped_keys}
    if "room_size" in data:
        meta["room_size"] = bounded_number(data["room_size"], "room_size", lo=0.0, hi=MAX_ROOM_SIZE_M2, lo_open=True, path=path)
    sid = data.get("scene_id", data.get("scene_name"))
    usable = (isinstance(sid, str) and sid.strip()) or (isinstance(sid, int) and not isinstance(sid, bool))
    return Scene(str(sid) if usable else path.stem, objects, [], None, meta=meta)
