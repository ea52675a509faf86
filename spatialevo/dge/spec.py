"""Declarative task specs: ``tasks/<task>.yaml`` (thresholds and language templates).

The folder is ``$SPATIALEVO_TASKS`` when set, else the repository's ``tasks/``. Each file has
exactly the keys :data:`SPEC_KEYS`: ``task`` (the name), ``description``, ``thresholds`` (the fields
of the task's config dataclass; metres, degrees, fractions) and ``templates`` (see
:mod:`spatialevo.dge.language`). What the task's code decides — scope, answer kind, unit and
rounding, parameter space — is stated once, by the task class (:mod:`spatialevo.dge.tasks`), so a
spec file that states it too (``scope``, ``answer``, ``params``) is refused rather than ignored.
"""

from __future__ import annotations

import dataclasses
import math
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from spatialevo.errors import SceneFileNotFoundError, SceneFormatError

#: the top-level keys of a task spec (``task`` required, the others optional)
SPEC_KEYS = ("task", "description", "thresholds", "templates")


def tasks_dir() -> Path:
    """Folder of the task specs (``$SPATIALEVO_TASKS``, the repository's ``tasks/``, or the copy in
    an installed wheel)."""
    from spatialevo.data_dirs import data_dir

    return data_dir("tasks")


@cache
def _load(path: str, mtime: float) -> dict[str, Any]:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SceneFormatError(f"not valid YAML: {exc}", path=p) from None
    if not isinstance(data, dict):
        raise SceneFormatError("a task spec must be a YAML mapping", path=p)
    return data


def load_spec(task: str, folder: Path | None = None) -> dict[str, Any]:
    """The parsed ``<folder>/<task>.yaml`` (cached while the file is unchanged).

    Raises:
        SceneFileNotFoundError: the file is missing.
        SceneFormatError: it is not a YAML mapping, names another task or has a key outside :data:`SPEC_KEYS`.
    """
    path = (folder or tasks_dir()) / f"{task}.yaml"
    if not path.is_file():
        raise SceneFileNotFoundError(path, field="task spec")
    data = _load(str(path), path.stat().st_mtime)
    if data.get("task") != task:
        raise SceneFormatError(f"names task {data.get('task')!r}, expected {task!r}", path=path, field="task")
    extra = sorted(str(k) for k in data if k not in SPEC_KEYS)
    if extra:
        raise SceneFormatError(
            f"unknown key(s) {extra} (a task spec has {list(SPEC_KEYS)}; scope, answer kind and unit and parameters "
            f"are stated by the task class in spatialevo/dge/tasks/)",
            path=path, field=extra[0],
        )
    return data


def build_config(cls: type, values: dict[str, Any] | None, *, source: str | Path = "config") -> Any:
    """Instance of the config dataclass ``cls`` from a mapping, checking names and types.

    Numeric thresholds must be finite and >= 0; a field whose metadata has ``"positive": True``
    (declared on the task's config dataclass, e.g. ``min_distance_m``) must be > 0.

    Raises:
        SceneFormatError: an unknown key or a value of the wrong type (naming ``source`` and the key).
    """
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    path = Path(source) if isinstance(source, Path) else None
    for key, value in values.items():
        if key not in fields:
            raise SceneFormatError(f"unknown threshold {key!r} (known: {sorted(fields)})", path=path, field=f"thresholds.{key}")
        default = getattr(cls, key, None) if not isinstance(fields[key].default, type(dataclasses.MISSING)) else None
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise SceneFormatError(f"must be a finite number >= 0, got {value!r}", path=path, field=f"thresholds.{key}")
            if fields[key].metadata.get("positive") and value <= 0:
                raise SceneFormatError(
                    f"must be > 0 (numeric answers are scored relative to the ground truth, which must not be 0), got {value!r}",
                    path=path,
                    field=f"thresholds.{key}",
                )
    return cls(**values)
