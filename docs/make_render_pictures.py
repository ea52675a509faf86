"""Regenerate the pictures of ``docs/rendering.md`` in ``docs/images/rendering/`` from the bundled scenes.

Every picture is one entry of :data:`PICTURES`: a file name, what it shows, and a function that
makes it from the bundled scenes (loaded once, by name). To add a picture (a top-down view, a
``spatialevo show`` verdict, an env render), append an entry. Deterministic: the same code and
libraries give the same pixels; ``--check`` compares decoded pixels with a small tolerance
(:func:`same_pixels`), not bytes, because fonts and the last bit of floating-point rendering may
differ between machines.

    .venv/bin/python docs/make_render_pictures.py            # write the pictures
    .venv/bin/python docs/make_render_pictures.py --check    # exit 1 when one is missing or out of date
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from spatialevo import load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.scene.model import Scene
from spatialevo.scene.pictures import depth_picture, frame_sheet, instance_picture

IMAGES = Path(__file__).resolve().parent / "images" / "rendering"
#: --check tolerance: mean absolute difference per channel (levels of 255), and the share of
#: pixels allowed to differ by more than BIG_DIFF in some channel (moved text, an edge pixel)
MEAN_TOL, BIG_DIFF, BIG_SHARE = 1.0, 48, 0.005


@cache
def scene(name: str) -> Scene:
    """The bundled scene ``name`` (``scenes/<name>.npz``), loaded once."""
    path = next((p for p in bundled_scene_paths() if p.stem == name), None)
    if path is None:
        raise SystemExit(f"no bundled scene named {name!r}")
    return load_scene(path)


@cache
def images(name: str, frame: str) -> dict[str, np.ndarray]:
    """Rendered rgb / depth / instance of one frame of a bundled scene (cached)."""
    return scene(name).frame_images(frame)


@dataclass(frozen=True)
class Picture:
    """One picture of the docs: ``IMAGES/<name>``, made by ``make()``."""

    name: str
    shows: str
    make: Callable[[], Image.Image]


def topdown() -> Image.Image:
    """The top-down picture of the crowded bundled room (labels placed without overlap)."""
    from spatialevo.scene.topdown import topdown_image

    return topdown_image(scene("l_dense"), size=760)


def verdict() -> Image.Image:
    """``spatialevo show`` of the first relative_direction_hard question drawn on l_shaped (256 colours)."""
    from spatialevo import DGE
    from spatialevo.dge import make_rng
    from spatialevo.show import verdict_picture

    dge = DGE(scene("l_shaped"))
    q = dge.sample("relative_direction_hard", make_rng(0, 0))
    return verdict_picture(dge.scene, q, dge.evaluate(q)).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def env_render() -> Image.Image:
    """``env.render()`` (render_mode="rgb_array") after ``reset(seed=0)`` of a solver episode on rect_small."""
    import gymnasium as gym

    env = gym.make("SpatialEvo-v0", mode="solver", scenes=[scene("rect_small")], task="object_size", image_size=(90, 120),
                   max_images=4, render_mode="rgb_array")
    env.reset(seed=0)
    try:
        return Image.fromarray(env.render())
    finally:
        env.close()


PICTURES: list[Picture] = [
    Picture("depth_color.png", "depth_picture: frame 000010 of l_shaped, viridis with a colour bar in metres",
            lambda: depth_picture(images("l_shaped", "000010")["depth"])),
    Picture("instance_color.png", "instance_picture: the same frame, one colour per object, structure in greys",
            lambda: instance_picture(images("l_shaped", "000010")["instance"], scene("l_shaped"))),
    Picture("instance_overlay.png", "instance_picture over the RGB, with the label#id of each object",
            lambda: instance_picture(images("l_shaped", "000010")["instance"], scene("l_shaped"),
                                     rgb=images("l_shaped", "000010")["rgb"], labels=True)),
    Picture("overview.png", "frame_sheet: every frame of rect_small, RGB | depth | instances",
            lambda: frame_sheet(scene("rect_small"), thumb=120)),
    Picture("topdown.png", "topdown_image: l_dense from above, metre ticks, legend, labels without overlap, frame ids and view directions",
            topdown),
    Picture("show.png", "verdict_picture (spatialevo show): a relative_direction_hard question on l_shaped", verdict),
    Picture("env_render.png", "SpatialEvo-v0 with render_mode='rgb_array': a solver turn's frames above its prompt", env_render),
]


def same_pixels(a: Image.Image, b: Image.Image) -> str | None:
    """``None`` when two pictures have the same size and nearly the same RGB pixels (tolerances
    above), else what differs."""
    if a.size != b.size:
        return f"size {a.size[0]}x{a.size[1]} != {b.size[0]}x{b.size[1]}"
    x = np.asarray(a.convert("RGB"), dtype=np.int16)
    y = np.asarray(b.convert("RGB"), dtype=np.int16)
    diff = np.abs(x - y)
    mean, big = float(diff.mean()), float((diff.max(axis=2) > BIG_DIFF).mean())
    if mean > MEAN_TOL or big > BIG_SHARE:
        return f"pixels differ (mean {mean:.2f} levels, {100 * big:.2f} % of pixels by more than {BIG_DIFF})"
    return None


def run(folder: Path, check: bool, pictures: Sequence[Picture] = PICTURES) -> list[str]:
    """Write (or with ``check`` compare) every picture in ``folder``; return the problems found."""
    problems = []
    if not check:
        folder.mkdir(parents=True, exist_ok=True)
    for pic in pictures:
        path = folder / pic.name
        fresh = pic.make()
        if check:
            if not path.is_file():
                problems.append(f"{path}: missing")
                continue
            with Image.open(path) as old:
                why = same_pixels(old, fresh)
            if why:
                problems.append(f"{path}: out of date, {why}")
        else:
            tmp = path.with_name(path.name + ".tmp")
            fresh.save(tmp, format="PNG", optimize=True)
            tmp.replace(path)
            print(f"{path.name} ({fresh.size[0]}x{fresh.size[1]}, {path.stat().st_size // 1024} KB): {pic.shows}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Regenerate (or check) the pictures of docs/rendering.md.")
    ap.add_argument("--check", action="store_true", help="compare with the stored pictures; exit 1 when one is missing or out of date")
    ap.add_argument("--dir", type=Path, default=IMAGES, help=f"pictures folder (default: {IMAGES})")
    args = ap.parse_args(argv)
    problems = run(args.dir, args.check)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} picture(s) out of date: run python docs/make_render_pictures.py", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
