"""OFVL-MS reproduction on synthetic scenes: parameters and pose errors of five variants.

Run: ``.venv/bin/python benchmarks/pose_bench.py`` (``--quick`` for the reduced version the test
suite runs, ``--steps``, ``--json PATH``). All variants use the same scenes (synthetic rooms,
rendered), the same architecture (:class:`spatialevo.pose.PoseNet`), the same number of optimiser
steps and per-scene batch, and the same seed:

(a) ``separate``: one model per scene;
(b) ``shared``: one shared backbone with per-scene heads (plain gradient sum);
(c) ``adaptive``: layer-adaptive sharing + gradient normalisation + sparse score penalty;
(c−gn) ``adaptive`` without gradient normalisation; (c−pen) ``adaptive`` without the penalty.

Errors are on held-out frames (every 4th frame of each trajectory). Parameters are those stored
after training (closed gates store no scene-specific weights).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from spatialevo.pose import TrainConfig, evaluate, new_model, sharing_table, synthetic_pose_data, train

VARIANTS = (
    ("a", "one model per scene", "separate", {}),
    ("b", "shared backbone, per-scene heads", "shared", {"grad_norm": False}),
    ("c", "adaptive + grad-norm + penalty", "adaptive", {}),
    ("c-gn", "adaptive, no grad-norm", "adaptive", {"grad_norm": False}),
    ("c-pen", "adaptive, no penalty", "adaptive", {"penalty": 0.0}),
)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 small scenes, few steps (the test suite's version)")
    ap.add_argument("--scenes", default="0,1,2,3", help="synthetic room seeds")
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--size", default="96x72")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.quick:
        args.scenes, args.frames, args.size, args.steps, args.batch = "0,1", 48, "48x36", 30, 16
    torch.set_num_threads(max(1, torch.get_num_threads()))
    size = tuple(int(x) for x in args.size.split("x"))
    t0 = time.perf_counter()
    data = synthetic_pose_data([int(s) for s in args.scenes.split(",")], n_frames=args.frames, size=size)
    splits = [d.split(4) for d in data]
    tr, te = [a for a, _ in splits], [b for _, b in splits]
    print(f"{len(data)} scenes × {args.frames} frames at {args.size} rendered in {time.perf_counter() - t0:.1f} s; "
          f"{args.steps} steps, batch {args.batch} per scene")
    rows = []
    print(f"{'variant':6s} {'':34s} {'params':>9s} {'median cm':>10s} {'median deg':>11s} {'5cm/5deg':>9s} {'time':>6s}")
    for key, desc, mode, over in VARIANTS:
        cfg = TrainConfig(steps=args.steps, batch=args.batch, seed=args.seed, **over)
        model = new_model(mode, tr, seed=args.seed)
        t1 = time.perf_counter()
        train(model, tr, cfg)
        secs = time.perf_counter() - t1
        m = evaluate(model, te)
        row = {"variant": key, "description": desc, "mode": mode, "params": model.deployed_size(), "seconds": secs,
               "all": m["all"].to_dict(), "per_scene": {k: v.to_dict() for k, v in m.items() if k != "all"}}
        if mode == "adaptive":
            row["specific_layers"] = ["".join("S" if s else "." for s in layer) for layer in sharing_table(model)]
        rows.append(row)
        a = m["all"]
        print(f"{key:6s} {desc:34s} {row['params']:9,d} {a.median_t_cm:10.1f} {a.median_r_deg:11.2f} "
              f"{100 * a.within_5cm_5deg:8.1f}% {secs:5.0f}s", flush=True)
    out = {"scenes": [d.name for d in data], "frames": args.frames, "size": list(size), "steps": args.steps,
           "batch": args.batch, "seed": args.seed, "rows": rows, "total_seconds": time.perf_counter() - t0}
    by = {r["variant"]: r for r in rows}
    out["params_ratio_c_over_a"] = by["c"]["params"] / by["a"]["params"]
    print(f"(c) stores {100 * out['params_ratio_c_over_a']:.0f} % of (a)'s parameters; total {out['total_seconds']:.0f} s")
    if "specific_layers" in by["c"]:
        print("(c) scene-specific layers (rows: conv1..conv5, fc, head; columns: scenes):", by["c"]["specific_layers"])
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
