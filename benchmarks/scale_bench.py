"""Scale: distance questions on scenes with thousands of objects, and the scene cache over many scenes.

1. **Distances.** A scene of ``N`` solid boxes scattered over 60 m x 60 m (random sizes 0.1–1.5 m and
   yaws; 20 unique labels, the rest from 30 repeated ones), built fresh for each ``N``; timed: the
   first ``absolute_distance`` question (``DGE(scene)`` built inside the timing: the index and the
   pairs the question needs), then a ``relative_distance`` question, and sampling one question of
   each distance task; peak memory from ``tracemalloc`` (Python and numpy allocations) and the
   process's RSS growth, after a warm-up on a 30-object scene (no first-use import is timed). The
   whole matrix at once took 37–41 s and 12.4 GB at 1,000 objects before issue #16.
2. **Scene cache.** A self-play round (:class:`~spatialevo.selfplay.Round`) cycling through ``M``
   ScanNet-sized scenes (one scan-sized scene written once, under ``M`` names) with a cache of 8
   scenes: RSS after every ``M / 10`` scenes. A cache that kept every scene grows
   by the scene's size each step (the issue measured +48 MB per ScanNet-sized scene).

    .venv/bin/python benchmarks/scale_bench.py                 # N = 1,000 and 10,000; M = 100
    .venv/bin/python benchmarks/scale_bench.py --quick         # N = 1,000; M = 20
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np


def _rss_mb() -> float:
    """Current resident set size of this process, MB (Linux ``/proc``; peak RSS elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def big_scene(n: int, seed: int = 0) -> Any:
    """``n`` boxes over 60 m x 60 m; objects 0–19 carry unique labels (``unique0`` …)."""
    from spatialevo.scene.boxes import OrientedBox
    from spatialevo.scene.model import ObjectInstance, Scene

    rng = np.random.default_rng(seed)
    yaw = rng.uniform(0, 2 * np.pi, n)
    c, s = np.cos(yaw), np.sin(yaw)
    objs = []
    for k in range(n):
        rot = np.array([[c[k], -s[k], 0.0], [s[k], c[k], 0.0], [0.0, 0.0, 1.0]])
        box = OrientedBox(center=np.array([*rng.uniform(0, 60, 2), rng.uniform(0.2, 2.5)]), extents=rng.uniform(0.1, 1.5, 3), rotation=rot)
        label = f"unique{k}" if k < 20 else f"common{k % 30}"
        objs.append(ObjectInstance(id=k, label=label, box=box))
    floor = np.array([[0.0, 0.0], [60.0, 0.0], [60.0, 60.0], [0.0, 60.0]])
    return Scene(scene_id=f"big{n}", objects=objs, floor_polygon=floor)


def bench_distances(n: int) -> dict[str, Any]:
    from spatialevo.dge import DGE

    scene = big_scene(n)
    rss0 = _rss_mb()
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        dge = DGE(scene)
        v1 = dge.evaluate({"task": "absolute_distance", "objects": ["unique0", "unique1"]})
        t1 = time.perf_counter()
        v2 = dge.evaluate({"task": "relative_distance", "objects": ["unique2", "unique3", "unique4", "unique5"]})
        t2 = time.perf_counter()
        sampled = {}
        for task in ("absolute_distance", "relative_distance"):
            t = time.perf_counter()
            q = dge.sample(task, np.random.default_rng(1))
            sampled[task] = {"seconds": time.perf_counter() - t, "valid": dge.evaluate(q).valid}
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert v1.valid and v2.valid, (v1.reason, v2.reason)
    return {"objects": n, "first_distance_s": t1 - t0, "relative_distance_after_s": t2 - t1, "sample": sampled,
            "peak_traced_mb": peak / 1e6, "rss_growth_mb": _rss_mb() - rss0, "matrix_mb": n * n * 8 / 1e6}


def bench_cache(m: int, cache: int, tmp: Path) -> dict[str, Any]:
    """RSS while a round with a ``cache``-scene cache cycles through ``m`` ScanNet-sized scenes
    (one synthetic room with a 2-million-point cloud, ≈ 48 MB in memory like a ScanNet scan; the
    names are hard links to one file, each loaded on its own)."""
    import dataclasses

    from spatialevo.selfplay import Round, RoundConfig
    from spatialevo.synthetic import generate_room, room_config

    room = generate_room(3, room_config(n_frames=40, width=640, height=480, scene_id="scan"))
    lo, hi = room.bounds()
    pts = np.random.default_rng(0).uniform(lo, hi, (2_000_000, 3))
    room = dataclasses.replace(room, points=pts, point_colors=None)
    src = room.save(tmp / "scan.npz")
    folder = tmp / "scenes"
    folder.mkdir()
    for k in range(m):
        try:
            (folder / f"scene{k:05d}.npz").hardlink_to(src)
        except OSError:
            shutil.copyfile(src, folder / f"scene{k:05d}.npz")
    rnd = Round(str(folder), RoundConfig(cache=cache))
    rss, base = [], _rss_mb()
    t0 = time.perf_counter()
    for k, name in enumerate(rnd.names):
        v = rnd.dge(name).evaluate({"task": "object_counting", "objects": [rnd.scene(name).objects[0].label]})
        assert v.reason != "malformed"
        if (k + 1) % max(1, m // 10) == 0:
            rss.append(round(_rss_mb() - base, 1))
    return {"scenes": m, "cache": rnd.cache.size, "scene_file_mb": src.stat().st_size / 1e6, "rss_growth_mb": rss,
            "seconds": time.perf_counter() - t0}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--objects", default="1000,10000", help="object counts of the distance scenes")
    p.add_argument("--scenes", type=int, default=100, help="scenes the round cycles through")
    p.add_argument("--cache", type=int, default=8, help="scenes the round's cache keeps")
    p.add_argument("--quick", action="store_true", help="1,000 objects and 20 scenes")
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args(argv)
    sizes = [1000] if args.quick else [int(x) for x in args.objects.split(",")]
    bench_distances(30)  # first-use imports (the DGE, scipy) before anything is timed
    m = 20 if args.quick else args.scenes
    res: dict[str, Any] = {"distances": [bench_distances(n) for n in sizes]}
    with tempfile.TemporaryDirectory() as tmp:
        res["cache"] = bench_cache(m, args.cache, Path(tmp))
    print("| objects | first distance question | relative_distance after it | sample absolute / relative | peak traced | RSS growth | "
          "the N² matrix would be |\n|---|---|---|---|---|---|---|")
    for r in res["distances"]:
        s = r["sample"]
        print(f"| {r['objects']:,} | {r['first_distance_s']:.2f} s | {r['relative_distance_after_s'] * 1e3:.1f} ms | "
              f"{s['absolute_distance']['seconds'] * 1e3:.0f} / {s['relative_distance']['seconds'] * 1e3:.0f} ms | "
              f"{r['peak_traced_mb']:.0f} MB | {r['rss_growth_mb']:.0f} MB | {r['matrix_mb']:,.0f} MB |")
    c = res["cache"]
    print(f"\nscene cache: {c['scenes']} scenes of {c['scene_file_mb']:.1f} MB files, cache {c['cache']}, {c['seconds']:.1f} s; "
          f"RSS growth every {max(1, c['scenes'] // 10)} scenes (MB): {c['rss_growth_mb']}")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
