"""Scene benchmarks: synthetic generation, rendering throughput (both backends), cache load time.

Run: ``.venv/bin/python benchmarks/scene_bench.py`` (``--quick`` for a short run). Prints a table
of medians and writes it as JSON with ``--json PATH``. Targets on a 2-core machine: ≥ 30 frames/s
rendered at 640x480 (RGB + depth + instance) with the default backend, cache load < 0.5 s for a
ScanNet-sized scene (~80k mesh vertices, 50 frames).

Rendering is timed after a warm-up call: the first call of the default (numba) rasteriser loads its
kernels from numba's on-disk cache, or compiles them when there is none; that first-call time is
reported on its own (``raster_first_call_s``, with ``raster_first_call_jit`` = whether it compiled),
and the full run also measures a cold compile in a subprocess with an empty cache
(``raster_cold_compile_s``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh
from _timing import median_seconds

from spatialevo.scene import Frame, ObjectInstance, OrientedBox, Scene, SceneMesh, raster
from spatialevo.scene.cache import load_cache, save_cache
from spatialevo.scene.render import Renderer, get_renderer, render_frame
from spatialevo.synthetic import generate_room, room_config
from spatialevo.synthetic.trajectory import pose_from_yaw_pitch


def scannet_sized_scene(n_vertices: int = 80_000, n_frames: int = 50, seed: int = 0) -> Scene:
    """A scene with the array sizes of a typical ScanNet scan: ~80k vertices, ~160k faces, 50 frames."""
    rng = np.random.default_rng(seed)
    sphere = trimesh.creation.icosphere(subdivisions=4)  # 2562 vertices per object
    n_objects = max(1, round(n_vertices / len(sphere.vertices)))
    verts, faces, ids, objects = [], [], [], []
    for i in range(n_objects):
        scale = rng.uniform(0.2, 1.0, 3)
        v = sphere.vertices * scale + [rng.uniform(0, 8), rng.uniform(0, 6), scale[2]]
        faces.append(sphere.faces + sum(len(x) for x in verts))
        verts.append(v)
        ids.append(np.full(len(sphere.faces), i))
        lo, hi = v.min(0), v.max(0)
        objects.append(ObjectInstance(i, f"thing {i % 12}", OrientedBox((lo + hi) / 2, hi - lo), v))
    V = np.concatenate(verts)
    mesh = SceneMesh(V, np.concatenate(faces), np.concatenate(ids), rng.integers(0, 255, (len(V), 3)).astype(np.uint8))
    K = np.array([[577.6, 0, 319.5], [0, 577.6, 239.5], [0, 0, 1]])
    frames = []
    for j in range(n_frames):
        T = np.eye(4)
        T[:3, 3] = [rng.uniform(0, 8), rng.uniform(0, 6), 1.5]
        frames.append(Frame(f"{j:06d}", K, T, 640, 480, rgb_path=f"color/{j}.jpg", depth_path=f"depth/{j}.png"))
    return Scene("scannet_sized", objects, frames, mesh, floor_polygon=[[0, 0], [8, 0], [8, 6], [0, 6]])


def _jit_misses() -> int:
    """Numba kernels of the rasteriser compiled in this process (not loaded from the on-disk cache)."""
    from numba.core.registry import CPUDispatcher

    return sum(sum(f.stats.cache_misses.values()) for f in vars(raster).values() if isinstance(f, CPUDispatcher))


def cold_compile_s() -> float:
    """Seconds of the first rasteriser call in a fresh process with an empty numba cache (a compile)."""
    code = "import time; from spatialevo.scene import raster; t = time.perf_counter(); raster.warm_up(); print(time.perf_counter() - t)"
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "NUMBA_CACHE_DIR": d},
                             capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def run(quick: bool = False) -> dict:
    res: dict[str, float | int | str] = {}
    cfg = room_config(shape="random", n_frames=24, width=640, height=480)
    seeds = range(3 if quick else 10)
    gen = [median_seconds(lambda s=s: generate_room(s, cfg), 1) for s in seeds]
    res["generate_room_median_s"] = statistics.median(gen)

    scene = generate_room(7, cfg)
    res["render_scene_faces"] = len(scene.mesh.faces)
    t0 = time.perf_counter()
    render_frame(scene, scene.frames[0])  # default backend: loads (or compiles) the numba kernels
    res["raster_first_call_s"] = time.perf_counter() - t0
    res["raster_first_call_jit"] = "compiled" if _jit_misses() else "cache load"
    renderer = get_renderer(scene)
    n = 8 if quick else len(scene.frames)
    frames = scene.frames[:n]
    for name, backend in (("", "raster"), ("raycast_", "raycast")):
        renderer.render(frames[0], backend=backend)  # the ray caster builds its BVH on first use
        per_frame = [median_seconds(lambda f=f, b=backend: renderer.render(f, backend=b), 3) for f in frames]
        res[f"render_{name}ms_per_frame_median"] = 1000 * statistics.median(per_frame)
        res[f"render_{name}fps_640x480"] = 1.0 / statistics.median(per_frame)
        depth_only = [median_seconds(lambda f=f, b=backend: renderer.render(f, ("depth",), backend=b), 3) for f in frames]
        res[f"render_{name}depth_only_ms_median"] = 1000 * statistics.median(depth_only)
    cast_only = []
    for f in frames:  # the open3d ray cast alone, same rays as a render
        dirs = renderer._camera_dirs(f.K, f.width, f.height)[0] @ f.T_wc[:3, :3].T.astype(np.float32)
        cast_only.append(median_seconds(lambda d=dirs, f=f: renderer.cast(f.camera_center, d), 3))
    res["raycast_only_ms_median"] = 1000 * statistics.median(cast_only)
    agree = [(renderer.render(f, ("instance",))["instance"] == renderer.render(f, ("instance",), backend="raycast")["instance"]).mean()
             for f in frames]
    res["raster_vs_raycast_id_agreement_min"] = float(min(agree))
    t0 = time.perf_counter()
    r = Renderer(scene.mesh)
    res["renderer_build_ms"] = 1000 * (time.perf_counter() - t0)
    t0 = time.perf_counter()
    r.raycasting_scene  # noqa: B018 (the open3d BVH, built on first ray cast)
    res["raycast_bvh_build_ms"] = 1000 * (time.perf_counter() - t0)

    big = scannet_sized_scene(n_frames=50)
    rng = np.random.default_rng(1)  # views into the ScanNet-sized scene (its own frames look straight up)
    views = [Frame(f"v{j}", big.frames[0].K, pose_from_yaw_pitch(np.array([rng.uniform(0, 8), rng.uniform(0, 6), 1.5]),
                                                                  rng.uniform(-np.pi, np.pi), -0.3), 640, 480)
             for j in range(4 if quick else 12)]
    res["big_render_faces"] = len(big.mesh.faces)
    big_r = Renderer(big.mesh)
    for name, backend in (("", "raster"), ("raycast_", "raycast")):
        big_r.render(views[0], backend=backend)
        res[f"big_render_{name}ms_median"] = 1000 * statistics.median(
            [median_seconds(lambda f=f, b=backend: big_r.render(f, backend=b), 3) for f in views])
    if not quick:
        res["raster_cold_compile_s"] = cold_compile_s()

    res["cache_scene_vertices"] = len(big.mesh.vertices)
    res["cache_scene_frames"] = len(big.frames)
    with tempfile.TemporaryDirectory() as d:
        path = save_cache(big, Path(d) / "big.npz")
        res["cache_size_mb"] = path.stat().st_size / 1e6
        res["cache_save_s_median"] = median_seconds(lambda: save_cache(big, Path(d) / "big2.npz"), 3)
        res["cache_load_s_median"] = median_seconds(lambda: load_cache(path), 3 if quick else 7)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = ap.parse_args()
    res = run(args.quick)
    width = max(len(k) for k in res)
    for k, v in res.items():
        fmt = ".6f" if k.endswith("agreement_min") else ".4g"
        print(f"{k:<{width}}  {v:{fmt}}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
