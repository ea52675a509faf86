"""Pictures and exports (issue #18): what each costs, measured in one run on the bundled scenes.

CPU time (``time.process_time``), medians of ``--repeat`` after one warm-up call each:

- ``scene render`` (:func:`spatialevo.scene.export.render_scene_frames`) with the pictures
  (``depth_color/``, ``instance_color/``, ``overview.png``) and without (``pictures=False``),
  alternating, per bundled scene, and the ratio;
- one top-down picture (:func:`spatialevo.scene.topdown.topdown_image`, 900 px);
- a verdict picture (:func:`spatialevo.show.verdict_picture`) of a sampled question per task
  kind, with the scene's renders and visibility warm;
- ``env.render()`` (``render_mode="rgb_array"``, the default 16 slots of 120×160);
- PLY and GLB export (:func:`spatialevo.scene.meshexport.export_scene`) and the file sizes;
- label placement (:func:`spatialevo.scene.labelplace.place_labels`) for 300 / 1,000 labels,
  half of them anchored on one point.

Reproduce: ``.venv/bin/python benchmarks/picture_bench.py`` (``--quick``: one scene, 4 frames rendered, 1 repeat, 300 labels placed once;
``--json PATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars between the figures

from _timing import median_seconds

from spatialevo import DGE, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import make_rng


def cpu(fn: Callable[[], Any], repeat: int) -> float:
    """Median CPU seconds of ``fn()`` over ``repeat`` calls (after one warm-up call)."""
    return median_seconds(fn, repeat, clock=time.process_time, warm_up=True)


def render_rows(paths: list[Path], repeat: int, max_frames: int | None = None) -> list[dict]:
    from spatialevo.scene.export import render_scene_frames

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for p in paths:
            scene = load_scene(p)
            frames = scene.frames[:max_frames]
            with_p, without = [], []
            render_scene_frames(scene, Path(tmp) / "warm", frames, pictures=True)
            for i in range(repeat):  # alternating, so the machine's load falls on both alike
                for pictures, into in ((True, with_p), (False, without)):
                    t = time.process_time()
                    render_scene_frames(scene, Path(tmp) / f"{p.stem}-{i}-{pictures}", frames, pictures=pictures)
                    into.append(time.process_time() - t)
            a, b = statistics.median(with_p), statistics.median(without)
            rows.append({"figure": f"scene render, {p.stem} ({len(frames)} frames, {scene.frames[0].width}x{scene.frames[0].height})",
                         "with_pictures_s": a, "without_s": b, "ratio": a / b})
    return rows


def picture_rows(paths: list[Path], repeat: int) -> list[dict]:
    from spatialevo.scene.topdown import topdown_image
    from spatialevo.show import verdict_picture

    scene = load_scene(paths[0])
    dge = DGE(scene)
    rows = [{"figure": f"top-down picture, {paths[0].stem} ({len(scene.objects)} labels, 900 px)",
             "cpu_s": cpu(lambda: topdown_image(scene, 900), repeat)}]
    for task in ("absolute_distance", "relative_direction_hard", "position_cam_cam", "object_counting"):
        q = dge.sample(task, make_rng(0, 0))
        v = dge.evaluate(q)
        img = verdict_picture(scene, q, v)
        rows.append({"figure": f"verdict picture, {task} on {paths[0].stem} ({img.size[0]}x{img.size[1]}, warm scene)",
                     "cpu_s": cpu(lambda q=q, v=v: verdict_picture(scene, q, v), repeat)})
    return rows


def env_row(repeat: int) -> dict:
    import gymnasium as gym

    env = gym.make("SpatialEvo-v0", mode="solver", render_mode="rgb_array")
    env.reset(seed=0)
    shape = env.render().shape
    t = cpu(env.render, repeat)
    env.close()
    return {"figure": f"env.render() rgb_array, 16 slots of 120x160 ({shape[1]}x{shape[0]})", "cpu_s": t}


def export_rows(paths: list[Path], repeat: int) -> list[dict]:
    from spatialevo.scene.meshexport import export_scene

    scene = load_scene(paths[0])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("ply", "glb"):
            out = Path(tmp) / f"scene.{fmt}"
            t = cpu(lambda out=out: export_scene(scene, out), repeat)
            rows.append({"figure": f"export {fmt.upper()}, {paths[0].stem} (mesh {len(scene.mesh.vertices)} vertices, "
                                   f"{len(scene.objects)} boxes, {len(scene.frames)} cameras)",
                         "cpu_s": t, "bytes": out.stat().st_size})
    return rows


def label_rows(repeat: int, quick: bool = False) -> list[dict]:
    from spatialevo.scene.labelplace import place_labels

    rows = []
    for n, size in ((300, (600.0, 400.0)),) + (() if quick else ((1000, (1200.0, 900.0)),)):
        rng = np.random.default_rng(0)
        anchors = rng.uniform([0, 0], size, (n, 2))
        anchors[: n // 2] = np.array(size) / 2  # half of them on one point
        sizes = np.column_stack([rng.integers(30, 80, n), np.full(n, 14)]).astype(float)
        placed = place_labels(anchors, sizes, size)
        rows.append({"figure": f"place_labels, {n} labels in {int(size[0])}x{int(size[1])} px (half on one point)",
                     "cpu_s": cpu(lambda a=anchors, s=sizes, z=size: place_labels(a, s, z), max(1, repeat // 2)) if not quick else 0.0,
                     "placed": int(placed.placed.sum())})
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per figure (median)")
    ap.add_argument("--quick", action="store_true", help="one scene, 4 frames rendered, one repeat")
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    args = ap.parse_args(argv)
    paths = bundled_scene_paths()[:1] if args.quick else bundled_scene_paths()
    repeat = 1 if args.quick else args.repeat
    rows = render_rows(paths, repeat, 4 if args.quick else None) + picture_rows(paths, repeat) + [env_row(repeat)] + export_rows(paths, repeat) + label_rows(repeat, args.quick)
    for r in rows:
        rest = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items() if k != "figure")
        print(f"{r['figure']}: {rest}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
