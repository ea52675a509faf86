"""DGE throughput: questions evaluated per second for each task on a bundled scene, one process.

Run: ``.venv/bin/python benchmarks/dge_bench.py`` (``--quick`` for a short run, ``--scene NAME``,
``--json PATH``). For each task a pool of questions is drawn once: half DGE-sampled valid
questions (the full rule path) and half random draws of the task's question space (mostly
invalid, as a questioner's proposals are). The pool is evaluated ``--repeat`` times; the table
reports the median rate. Per-scene precomputation (pairwise box distances, visibility of every
frame) is timed separately and done before the rates are measured ("cached visibility").
Targets on the 2-core CI machine: >= 10,000 questions/s for the box-based scene tasks, >= 1,000/s
for the frame tasks.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from spatialevo import DGE, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import SCENE_TASKS, TASK_NAMES, make_rng

TARGETS = {"scene": 10_000, "frame": 1_000}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scene", default=None, help="bundled scene name (default: the first, rect_small)")
    ap.add_argument("--pool", type=int, default=400, help="questions per task (half valid samples, half random draws)")
    ap.add_argument("--repeat", type=int, default=7, help="timed passes over each pool; the median is reported")
    ap.add_argument("--quick", action="store_true", help="pool 100, repeat 3")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    if args.quick:
        args.pool, args.repeat = 100, 3
    paths = {p.stem: p for p in bundled_scene_paths()}
    name = args.scene or next(iter(paths))
    if name not in paths:
        ap.error(f"unknown scene {name!r}; bundled: {sorted(paths)}")
    scene = load_scene(paths[name])

    dge = DGE(scene)
    t0 = time.perf_counter()
    _ = dge.index.distances
    t_dist = time.perf_counter() - t0
    t0 = time.perf_counter()
    dge.index.warm()
    t_vis = time.perf_counter() - t0

    rows = []
    for t, task in enumerate(TASK_NAMES):
        half = args.pool // 2
        pool = [dge.sample(task, make_rng(t, i)) for i in range(half)]
        rng = make_rng(1000 + t)
        pool += [dge.task(task).draw(dge.index, rng) for _ in range(args.pool - half)]
        rates = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            for q in pool:
                dge.evaluate(q)
            rates.append(len(pool) / (time.perf_counter() - t0))
        kind = "scene" if task in SCENE_TASKS else "frame"
        rate = statistics.median(rates)
        rows.append({"task": task, "kind": kind, "questions_per_s": rate, "target": TARGETS[kind], "met": rate >= TARGETS[kind]})

    out = {
        "scene": name,
        "objects": len(scene.objects),
        "frames": len(scene.frames),
        "pairwise_distances_s": t_dist,
        "visibility_all_frames_s": t_vis,
        "visibility_per_frame_ms": 1000 * t_vis / max(1, len(scene.frames)),
        "tasks": rows,
    }
    print(f"scene {name}: {len(scene.objects)} objects, {len(scene.frames)} frames; pool {args.pool}, median of {args.repeat}")
    print(f"precompute: pairwise box distances {1000 * t_dist:.1f} ms, visibility {1000 * t_vis:.0f} ms ({out['visibility_per_frame_ms']:.1f} ms/frame)")
    print(f"{'task':34s} {'kind':6s} {'questions/s':>12s} {'target':>8s}  met")
    for r in rows:
        print(f"{r['task']:34s} {r['kind']:6s} {r['questions_per_s']:12,.0f} {r['target']:8,d}  {'yes' if r['met'] else 'NO'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return out


if __name__ == "__main__":
    main()
