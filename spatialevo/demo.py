"""``make demo`` / ``spatialevo demo``: the main job on the bundled scenes.

For every bundled scene: load it, render all its frames (RGB, depth, instance ids), compute the
visible fraction of every object in every frame, and draw a top-down picture. Outputs go to
``<out>/<scene>/`` and a summary table to ``<out>/summary.json``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from spatialevo.bundled import bundled_scene_paths
from spatialevo.scene.loaders import load_scene
from spatialevo.scene.topdown import save_topdown


def run_demo(out: str | Path, every: int = 1) -> int:
    from spatialevo.cli.scene_cmd import render_scene_frames

    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in bundled_scene_paths():
        t0 = time.perf_counter()
        scene = load_scene(path)
        frames = scene.frames[::every]
        sdir = out / scene.scene_id
        vis = render_scene_frames(scene, sdir, frames, desc=scene.scene_id)
        top = save_topdown(scene, sdir / "topdown.png")
        seen = sorted({ref for per in vis.values() for ref, v in per.items() if v >= 0.1})
        rows.append(
            {
                "scene": scene.scene_id,
                "objects": len(scene.objects),
                "categories": len(scene.labels()),
                "frames_rendered": len(frames),
                "floor_m2": round(scene.floor_area or 0.0, 2),
                "objects_seen_>=10%": len(seen),
                "seconds": round(time.perf_counter() - t0, 2),
                "topdown": str(top),
            }
        )
    (out / "summary.json").write_text(json.dumps(rows, indent=2))
    print(f"\n{'scene':<16}{'objects':>8}{'labels':>8}{'frames':>8}{'floor m²':>10}{'seen':>6}{'s':>7}")
    for r in rows:
        print(
            f"{r['scene']:<16}{r['objects']:>8}{r['categories']:>8}{r['frames_rendered']:>8}"
            f"{r['floor_m2']:>10.2f}{r['objects_seen_>=10%']:>6}{r['seconds']:>7.2f}"
        )
    print(f"\noutputs in {out}/ (top-down pictures: {out}/<scene>/topdown.png)")
    return 0
