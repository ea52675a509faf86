"""Hostile-input timings: the work a policy or a bad file can force stays bounded.

Run: ``.venv/bin/python benchmarks/integrity_bench.py`` (``--json PATH``). Medians of ``--repeats``
runs in one process, seconds:

* ``sample_infeasible``: ``DGE.sample`` of a task the scene cannot ask (absolute_distance and
  relative_direction_hard on a scene whose labels are all ambiguous but one, as in many ScanNet
  rooms; a fresh DGE each time, so feasibility is decided from scratch);
* ``room_size_stray_<d>``: the floor-area estimate of a bundled room's scan with one stray point
  ``d`` metres away, and without it;
* ``read_question_8kb``: the slowest of several 8 kB hostile questioner outputs;
* ``score_8kb``: the slowest of several 8 kB hostile solver outputs, scored on a valid and an
  invalid verdict;
* ``nested_json``: ``DGE.evaluate`` of 7.8 kB of nested JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _timing import median_seconds

from spatialevo import DGE, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import NoValidQuestionError, Reason, Verdict
from spatialevo.dge.floor import estimate_floor_area, scan_points
from spatialevo.scene.boxes import OrientedBox
from spatialevo.scene.model import ObjectInstance, Scene
from spatialevo.selfplay.prompts import read_question
from spatialevo.selfplay.rewards import solver_reward

NESTED = '{"a":' * 1300 + "1" + "}" * 1300
HOSTILE_8KB = ["{" * 8192, '{"' * 4096, "[" * 8192, "<" + " " * 8191, "<answer>" * 1024, "1." * 4096, "not " * 2048, "a\\" * 4096]


def ambiguous_scene(n: int = 40) -> Scene:
    labels = ["sofa"] + ["chair", "table", "lamp", "cabinet", "pillow"] * n
    objs = [ObjectInstance(i, lab, OrientedBox(np.array([0.5 * i, 0.3 * (i % 7), 0.5]), np.array([0.4, 0.4, 0.8])))
            for i, lab in enumerate(labels[:n])]
    return Scene("ambiguous", objs)


def sample_infeasible(scene: Scene) -> None:
    dge = DGE(scene)
    for task in ("absolute_distance", "relative_direction_hard"):
        try:
            dge.sample(task, 0)
        except NoValidQuestionError:
            pass
        else:
            raise AssertionError(f"{task} should be infeasible")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    out: dict[str, float] = {}
    amb = ambiguous_scene()
    out["sample_infeasible"] = median_seconds(lambda: sample_infeasible(amb), args.repeats)
    pts = scan_points(load_scene(bundled_scene_paths()[0]))
    out["room_size_no_stray"] = median_seconds(lambda: estimate_floor_area(pts), args.repeats)
    for d in (300, 2000, 1_000_000):
        stray = np.vstack([pts, [[d, -d, 0.3]]])
        out[f"room_size_stray_{d}"] = median_seconds(lambda s=stray: estimate_floor_area(s), args.repeats)
    out["read_question_8kb"] = max(median_seconds(lambda t=t: read_question(t, ["0", "1"]), args.repeats) for t in HOSTILE_8KB)
    valid = Verdict(True, None, "", 95, "95", None, {}, "object_size", "number", "cm")
    invalid = Verdict.invalid(Reason.AMBIGUOUS_LABEL, "x", task="object_size")
    out["score_8kb"] = max(median_seconds(lambda t=t: (solver_reward(t, valid), solver_reward(t, invalid)), args.repeats)
                           for t in HOSTILE_8KB)
    dge = DGE(amb)
    out["nested_json"] = median_seconds(lambda: dge.evaluate(NESTED), args.repeats)
    for k, v in out.items():
        print(f"{k:24s} {1000 * v:9.2f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
