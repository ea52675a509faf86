"""The bundled sample scenes: ``scenes/recipes.json`` → ``scenes/<name>.npz``.

A recipe names a synthetic room (seed, floor shape, number of frames, image size). The cache files
are committed, and ``spatialevo scene bundle --check`` (run by the tests) verifies that each one
is what its recipe generates today. ``SPATIALEVO_SCENES`` overrides the folder.

What the check promises (:func:`compare_scene`):

* on the same machine and library versions, generation is byte-identical (tested separately);
* on any machine, every stored array has the fresh one's name, dtype and shape; integer, boolean
  and text entries (labels, ids, frame ids in ``meta.json``) are equal exactly; floating-point
  entries and the numbers of ``meta.json`` are equal within ``|stored − fresh| <= ATOL + RTOL·|fresh|`` (:data:`ATOL` = :data:`RTOL` = 1e-9;
  other CPUs and BLAS builds differ in the last bit, about 1e-16 relative);
* every DGE verdict is identical: the same questions (sampled per task from the fresh scene) get the
  same validity, reason code and answer text from the stored and the fresh scene.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spatialevo import safejson
from spatialevo.errors import SceneFileNotFoundError, SceneFormatError
from spatialevo.scene.model import Scene

#: float tolerance of the bundled-scene check (absolute, metres or pixels, and relative)
ATOL = RTOL = 1e-9
#: questions sampled per task for the verdict comparison
CHECK_QUESTIONS = 6


def scenes_dir() -> Path:
    """The bundled scenes folder (``$SPATIALEVO_SCENES``, the repository's ``scenes/``, or the copy
    in an installed wheel)."""
    from spatialevo.data_dirs import data_dir

    return data_dir("scenes")


@dataclass(frozen=True)
class Recipe:
    """One bundled synthetic scene: ``generate_room(seed, shape, n_frames, width, height)``."""

    name: str
    seed: int
    shape: str
    frames: int
    width: int = 640
    height: int = 480

    def build(self) -> Scene:
        from spatialevo.synthetic import generate_room, room_config

        cfg = room_config(shape=self.shape, n_frames=self.frames, width=self.width, height=self.height, scene_id=self.name)
        return generate_room(self.seed, cfg)


def load_recipes(folder: Path | None = None) -> list[Recipe]:
    """Recipes from ``<folder>/recipes.json``, with errors naming the file and field."""
    path = (folder or scenes_dir()) / "recipes.json"
    if not path.is_file():
        raise SceneFileNotFoundError(path, field="recipes")
    try:
        rows = safejson.loads(path.read_bytes())["scenes"]
        recipes = [Recipe(**row) for row in rows]
    except (ValueError, UnicodeDecodeError, KeyError, TypeError) as exc:
        raise SceneFormatError(f"bad recipes ({exc})", path=path, field="scenes") from None
    for i, r in enumerate(recipes):
        if not (isinstance(r.name, str) and r.name.replace("_", "").replace("-", "").isalnum()):
            raise SceneFormatError(f"name must be letters, digits, '_' or '-', got {r.name!r}", path=path, field=f"scenes[{i}].name")
        for name in ("seed", "frames", "width", "height"):
            value = getattr(r, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "seed" else 1):
                raise SceneFormatError(f"must be a positive integer, got {value!r}", path=path, field=f"scenes[{i}].{name}")
        if r.shape not in ("rect", "L", "random"):
            raise SceneFormatError(f"must be 'rect', 'L' or 'random', got {r.shape!r}", path=path, field=f"scenes[{i}].shape")
    return recipes


def compare_arrays(stored: dict[str, np.ndarray], fresh: dict[str, np.ndarray]) -> list[str]:
    """Differences between two cache entry sets (see the module docstring for the tolerance)."""
    problems = []
    if set(stored) != set(fresh):
        problems.append(f"entries differ: missing {sorted(set(fresh) - set(stored))}, extra {sorted(set(stored) - set(fresh))}")
    for name in sorted(set(stored) & set(fresh)):
        a, b = stored[name], fresh[name]
        if name == "meta.json":  # JSON text: compared as data, its numbers within the tolerance
            if not _json_close(safejson.loads(a.tobytes()), json.loads(b.tobytes())):
                problems.append(f"{name}: the scene's metadata differs")
        elif a.dtype != b.dtype or a.shape != b.shape:
            problems.append(f"{name}: {a.dtype}{list(a.shape)} stored, {b.dtype}{list(b.shape)} generated")
        elif a.dtype.kind == "f":
            bad = ~np.isclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True)
            if bad.any():
                problems.append(f"{name}: {int(bad.sum())} value(s) differ by up to {float(np.abs(a - b)[bad].max()):.3g} (tolerance {ATOL:g} + {RTOL:g}·|x|)")
        elif not np.array_equal(a, b):
            problems.append(f"{name}: {int(np.sum(a != b)) if a.shape else 1} value(s) differ")
    return problems


def _json_close(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and bool(np.isclose(a, b, rtol=RTOL, atol=ATOL))
    return a == b and type(a) is type(b)


def compare_verdicts(stored: Scene, fresh: Scene, per_task: int = CHECK_QUESTIONS) -> list[str]:
    """Questions (``per_task`` sampled per task from ``fresh``) whose verdicts differ between the scenes."""
    from spatialevo.dge import DGE, TASK_NAMES, NoValidQuestionError, make_rng

    a, b = DGE(stored), DGE(fresh)
    problems = []
    for t, task in enumerate(TASK_NAMES):
        for k in range(per_task):
            try:
                q = b.sample(task, make_rng(t, k), max_tries=500)
            except NoValidQuestionError:
                break
            va, vb = a.evaluate(q), b.evaluate(q)
            if (va.valid, va.reason, va.answer_text) != (vb.valid, vb.reason, vb.answer_text):
                problems.append(f"{q.to_json()}: stored {va.answer_text or va.reason}, generated {vb.answer_text or vb.reason}")
    return problems


def compare_scene(path: Path, fresh: Scene) -> list[str]:
    """Differences between the cache file ``path`` and a freshly generated scene (module docstring)."""
    from spatialevo.scene.cache import load_cache, scene_to_arrays

    with np.load(path, allow_pickle=False) as npz:
        stored = {k: npz[k] for k in npz.files}
    problems = compare_arrays(stored, scene_to_arrays(fresh))
    return problems or compare_verdicts(load_cache(path), fresh)


def build_bundled(folder: Path | None = None, check: bool = False) -> list[str]:
    """Write (or with ``check`` verify, see :func:`compare_scene`) every bundled scene; returns a list
    of problems (empty = ok)."""
    folder = folder or scenes_dir()
    problems = []
    for recipe in load_recipes(folder):
        path = folder / f"{recipe.name}.npz"
        scene = recipe.build()
        if not check:
            scene.save(path)
        elif not path.is_file():
            problems.append(f"{path}: missing (run 'spatialevo scene bundle')")
        else:
            problems += [f"{path}: {p} (recipe '{recipe.name}')" for p in compare_scene(path, scene)]
    return problems


def bundled_scene_paths(build_missing: bool = True) -> list[Path]:
    """Paths of the bundled scenes, building missing ones from their recipes when asked."""
    folder = scenes_dir()
    recipes = load_recipes(folder)
    paths = []
    for r in recipes:
        p = folder / f"{r.name}.npz"
        if not p.is_file():
            if not build_missing:
                raise SceneFileNotFoundError(p, field=r.name, layout="bundled scene")
            r.build().save(p)
        paths.append(p)
    return paths
