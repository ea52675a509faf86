"""The bundled sample scenes: ``scenes/recipes.json`` → ``scenes/<name>.npz``.

A recipe names a synthetic room (seed, floor shape, number of frames, image size). The cache files
are committed, and ``spatialevo scene bundle --check`` (run by the tests) verifies that each one
is exactly what its recipe generates today. ``SPATIALEVO_SCENES`` overrides the folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from spatialevo.errors import SceneFileNotFoundError, SceneFormatError
from spatialevo.scene.model import Scene


def scenes_dir() -> Path:
    """The bundled scenes folder (``$SPATIALEVO_SCENES``, the repository's ``scenes/``, or the copy
    in an installed wheel)."""
    from spatialevo.resources import data_dir

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
        rows = json.loads(path.read_text())["scenes"]
        recipes = [Recipe(**row) for row in rows]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
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


def build_bundled(folder: Path | None = None, check: bool = False) -> list[str]:
    """Write (or with ``check`` verify) every bundled scene; returns a list of problems (empty = ok)."""
    folder = folder or scenes_dir()
    problems = []
    for recipe in load_recipes(folder):
        path = folder / f"{recipe.name}.npz"
        scene = recipe.build()
        if check:
            tmp = folder / f".{recipe.name}.check.npz"
            try:
                fresh = scene.save(tmp).read_bytes()
            finally:
                tmp.unlink(missing_ok=True)
            if not path.is_file():
                problems.append(f"{path}: missing (run 'spatialevo scene bundle')")
            elif path.read_bytes() != fresh:
                problems.append(f"{path}: differs from what recipe '{recipe.name}' generates")
        else:
            scene.save(path)
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
