"""DGE throughput: questions evaluated per second for each task on a bundled scene, one process.

Run: ``.venv/bin/python benchmarks/dge_bench.py`` (``--quick`` for a short run, ``--scene NAME``,
``--json PATH``). For each task a pool of questions is drawn once: half DGE-sampled valid
questions (the full rule path) and half random draws of the task's question space (mostly
invalid, as a questioner's proposals are). The pool is evaluated ``--repeat`` times; the table
reports the median rate. Per-scene precomputation (pairwise box distances, visibility of every
frame) is timed separately and done before the rates are measured ("cached visibility").
Targets on the 2-core CI machine: >= 10,000 questions/s for the box-based scene tasks, >= 1,000/s
for the frame tasks.

``--batch``: ``DGE.evaluate_many`` against the one-by-one loop of ``evaluate`` on the scene tasks, in
one run, CPU time (median of ``--repeat``): (a) distinct questions (every question of the pool
different; the cross-call cache emptied before each timed batch, so nothing is reused), (b) GRPO
groups (each distinct question asked by 8 completions in a row, cache emptied too), (c) the same
groups again with the cache warm. Also where the time of one question goes (resolution by the
shared rules, the task's rule one by one and batched). Targets: >= 100,000 questions/s batched and
>= 2x the loop.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections.abc import Callable

from spatialevo import DGE, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import SCENE_TASKS, TASK_NAMES, Question, Verdict, make_rng
from spatialevo.dge.engine import _cache_key
from spatialevo.scene.model import Scene

TARGETS = {"scene": 10_000, "frame": 1_000}
BATCH_TARGET = 100_000
GROUP = 8


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scene", default=None, help="bundled scene name (default: the first, rect_small)")
    ap.add_argument("--pool", type=int, default=400, help="questions per task (half valid samples, half random draws)")
    ap.add_argument("--repeat", type=int, default=7, help="timed passes over each pool; the median is reported")
    ap.add_argument("--quick", action="store_true", help="pool 100, repeat 3")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    ap.add_argument("--batch", action="store_true", help="evaluate_many against the loop of evaluate on the scene tasks")
    args = ap.parse_args(argv)
    if args.quick:
        args.pool, args.repeat = 100, 3
    paths = {p.stem: p for p in bundled_scene_paths()}
    name = args.scene or next(iter(paths))
    if name not in paths:
        ap.error(f"unknown scene {name!r}; bundled: {sorted(paths)}")
    scene = load_scene(paths[name])
    if args.batch:
        out = batch_bench(scene, name, pool=args.pool * 5, repeat=args.repeat)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=2)
        return out

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


def distinct_pool(dge: DGE, per_task: int) -> list[Question]:
    """Up to ``per_task`` different questions of each scene task (valid samples and random draws,
    half each where the task has that many), shuffled together."""
    keys: dict[tuple, Question] = {}
    for t, task in enumerate(SCENE_TASKS):
        mine: dict[tuple, Question] = {}
        rng = make_rng(2000 + t)
        for k in range(per_task * 4):
            if len(mine) >= per_task:
                break
            q = dge.sample(task, make_rng(t, k)) if k % 2 == 0 else dge.task(task).draw(dge.index, rng)
            mine.setdefault(_cache_key(q), q)
        keys.update(mine)
    pool = list(keys.values())
    make_rng(7).shuffle(pool)  # type: ignore[arg-type]
    return pool


def _cpu(f: Callable[[], object], repeat: int, before: Callable[[], None] | None = None) -> float:
    """Median CPU seconds of ``f()`` over ``repeat`` runs (``before()`` untimed before each). The
    result is kept, as a caller keeps its verdicts, and the collector's pass over the young objects
    (which ``evaluate_many`` defers to its return) is timed with it."""
    times = []
    for _ in range(repeat):
        if before:
            before()
        t0 = time.process_time()
        kept = f()
        gc.collect(0)
        times.append(time.process_time() - t0)
        del kept
    return statistics.median(times)


def batch_bench(scene: Scene, name: str, *, pool: int, repeat: int) -> dict:
    """``evaluate_many`` against the loop on the scene tasks of ``scene`` (module docstring)."""
    dge = DGE(scene)
    dge.index.warm()
    distinct = distinct_pool(dge, pool)
    groups = [q for q in distinct for _ in range(GROUP)]
    dge.evaluate_many(distinct[:50])
    clear = dge.clear_cache
    rows = []
    for label, qs, cold in (("distinct", distinct, True), (f"groups of {GROUP}", groups, True), (f"groups of {GROUP}, warm cache", groups, False)):
        loop = _cpu(lambda qs=qs: [dge.evaluate(q) for q in qs], repeat)
        many = _cpu(lambda qs=qs: dge.evaluate_many(qs), repeat, clear if cold else None)
        rate = len(qs) / many
        rows.append({"case": label, "questions": len(qs), "loop_per_s": len(qs) / loop, "batch_per_s": rate, "speedup": loop / many,
                     "met": rate >= BATCH_TARGET and loop / many >= 2})
    profile = {}
    for task in SCENE_TASKS:
        t, qs = dge.task(task), [q for q in distinct if q.task == task]
        rs = [t.resolve(dge.index, q) for q in qs]
        ok = [(q, r) for q, r in zip(qs, rs) if not isinstance(r, Verdict)]
        us = 1e6 / max(1, len(qs))
        profile[task] = {
            "questions": len(qs), "resolved": len(ok),
            "resolve_us": us * _cpu(lambda t=t, qs=qs: [t.resolve(dge.index, q) for q in qs], repeat),
            "check_loop_us": us * _cpu(lambda t=t, ok=ok: [t.check(dge.index, q, r) for q, r in ok], repeat),
            "check_many_us": us * _cpu(lambda t=t, ok=ok: t.check_many(dge.index, [q for q, _ in ok], [r for _, r in ok]), repeat),
            "evaluate_us": us * _cpu(lambda qs=qs: [dge.evaluate(q) for q in qs], repeat),
            "evaluate_many_us": us * _cpu(lambda qs=qs: dge.evaluate_many(qs), repeat, clear),
        }
    out = {"scene": name, "objects": len(scene.objects), "labels": len(dge.index.by_label), "repeat": repeat, "cases": rows, "profile": profile,
           "target_per_s": BATCH_TARGET}
    print(f"scene {name}: {len(scene.objects)} objects, {len(dge.index.by_label)} labels; scene tasks; CPU time, median of {repeat}")
    print(f"{'case':28s} {'questions':>9s} {'loop q/s':>10s} {'batch q/s':>10s} {'speed-up':>8s}  met (>= {BATCH_TARGET:,} q/s, >= 2x)")
    for r in rows:
        print(f"{r['case']:28s} {r['questions']:9d} {r['loop_per_s']:10,.0f} {r['batch_per_s']:10,.0f} {r['speedup']:7.1f}x  {'yes' if r['met'] else 'NO'}")
    print("per question, µs (distinct pool; 'check' over the questions that pass the shared rules): ")
    print(f"{'task':26s} {'n':>5s} {'resolved':>8s} {'resolve':>8s} {'check':>7s} {'batched':>8s} {'evaluate':>9s} {'batch':>7s}")
    for task, p in profile.items():
        print(f"{task:26s} {p['questions']:5d} {p['resolved']:8d} {p['resolve_us']:8.1f} {p['check_loop_us'] * p['resolved'] / max(1, p['questions']):7.1f} "
              f"{p['check_many_us'] * p['resolved'] / max(1, p['questions']):8.1f} {p['evaluate_us']:9.1f} {p['evaluate_many_us']:7.1f}")
    return out


if __name__ == "__main__":
    main()
