"""Exceptions raised by spatialevo for bad input.

Every error names the file (when there is one) and the field that is wrong, so a
user can fix the input without reading a numpy traceback.
"""

from __future__ import annotations

from pathlib import Path

#: Longest ``problem`` text kept in a :class:`SceneFormatError` (hostile values are shown truncated).
MAX_PROBLEM_CHARS = 400


def _one_line(text: str, limit: int) -> str:
    """``text`` on one line (line breaks become spaces), at most ``limit`` characters."""
    text = " ".join(str(text).splitlines())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SpatialEvoError(Exception):
    """Base class of every error spatialevo raises on purpose."""


class ServiceError(SpatialEvoError):
    """A service the command talks to (a model endpoint) failed: the environment, not the arguments
    (the CLI exits 1, as for other environment failures)."""


class SceneFormatError(SpatialEvoError, ValueError):
    """A scene file or value is malformed.

    The message is always one line (``file '...', field '...': problem``); a problem text longer
    than :data:`MAX_PROBLEM_CHARS` is truncated.

    Attributes:
        path: the offending file, or ``None`` for in-memory values.
        field: the field / key / array that is wrong (e.g. ``"T_wc"``, ``"axisAlignment"``).
        problem: what is wrong with it.
    """

    def __init__(self, problem: str, *, path: str | Path | None = None, field: str | None = None):
        self.path = None if path is None else Path(path)
        self.field = field
        self.problem = _one_line(problem, MAX_PROBLEM_CHARS)
        problem = self.problem
        where = []
        if self.path is not None:
            where.append(f"file '{self.path}'")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(_one_line(prefix, 10 * MAX_PROBLEM_CHARS) + problem)


class SceneFileNotFoundError(SceneFormatError, FileNotFoundError):
    """A file the scene layout requires is missing."""

    def __init__(self, path: str | Path, *, field: str | None = None, layout: str | None = None):
        what = f"required {layout} file is missing" if layout else "required file is missing"
        super().__init__(what, path=path, field=field)


class UnknownLayoutError(SpatialEvoError, ValueError):
    """``load_scene`` could not recognise the layout of a path."""

    def __init__(self, path: str | Path, detail: str = ""):
        self.path = Path(path)
        msg = (
            f"'{self.path}' is not a recognised scene layout (expected a ScanNet scene folder, "
            "a ScanNet++ scene folder, an ARKitScenes video folder, a Pointcept scene folder, "
            "a VoteNet/mmdetection3d '<scene>_vert.npy', a box-list JSON file, or a spatialevo cache '.npz')"
        )
        super().__init__(msg + (f": {detail}" if detail else ""))
