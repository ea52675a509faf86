"""Memory of a self-play round that cycles through many scenes: the cache bound holds.

Run: ``.venv/bin/python benchmarks/selfplay_bench.py`` (``--scenes N``, ``--cache K``, ``--json PATH``).
A source of ``N`` scenes (default 1,000), each a fresh copy of a bundled scene with its frames,
mesh and points (loaded lazily, like a folder of scans), goes through
:class:`spatialevo.selfplay.Round` with a cache of ``K`` scenes (default 8): for every scene a
questioner turn of a scene task (its 12-frame clip: visibility of every frame, the images at the
policy's size) and a DGE-sampled solver turn of an image task. Reports the process's resident
memory (RSS) after 10 %, 50 % and 100 % of the scenes, the scenes alive (weak references), and the
time per scene.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import resource
import time
import weakref
from pathlib import Path

import numpy as np

from spatialevo.scene.model import Scene
from spatialevo.selfplay import Round, RoundConfig
from spatialevo.selfplay.sources import SceneSource, make_source


def rss_mb() -> float:
    """Resident memory now (MB), from /proc (Linux); the peak from getrusage elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Copies(SceneSource):
    """``n`` lazily loaded copies of one scene (each load a new object, as a folder of scans gives)."""

    def __init__(self, template: Scene, n: int):
        self.template, self.alive = template, weakref.WeakSet()
        super().__init__(names=[f"scan{i:05d}" for i in range(n)])

    def _load(self, i: int) -> Scene:
        scene = copy.deepcopy(self.template)
        self.alive.add(scene)
        return scene


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenes", type=int, default=1000, help="scenes to cycle through (default: %(default)s)")
    ap.add_argument("--cache", type=int, default=8, help="scenes the round keeps (default: %(default)s)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    template = make_source("bundled").get(0)
    source = Copies(template, args.scenes)
    rnd = Round(source, RoundConfig(cache=args.cache))
    rng = np.random.default_rng(0)
    marks = {max(1, args.scenes // 10), max(1, args.scenes // 2), args.scenes}
    out: dict = {"scenes": args.scenes, "cache": args.cache, "rss_mb": {}, "alive": {}}
    t0 = time.perf_counter()
    for i, name in enumerate(rnd.names, 1):
        rnd.questioner_turn(name, "absolute_distance", rng)
        rnd.sampled_solver_turn(name, "distance_cam_obj", rng)
        if i in marks:
            gc.collect()
            out["rss_mb"][i], out["alive"][i] = round(rss_mb(), 1), len(source.alive)
            print(f"after {i:5d} scenes: RSS {out['rss_mb'][i]:7.1f} MB, scenes alive {out['alive'][i]} (cache {args.cache})")
    out["seconds_per_scene"] = (time.perf_counter() - t0) / args.scenes
    print(f"{1000 * out['seconds_per_scene']:.1f} ms per scene (load, DGE, visibility of 12 frames, 12 images, two turns)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
