"""Learning signal of the self-evolution launcher on the tiny model (CPU).

Run: ``.venv/bin/python benchmarks/evolve_learning.py`` (``--steps``, ``--json PATH``). A
solver-only run (``roles: [solver]``) on a small fixed question set written by
``spatialevo generate`` from one bundled scene, with the tiny randomly initialised Qwen2.5-VL of
``configs/cpu-smoke.yaml``. Rewards come from the DGE only (the solver reward: format + the task's
scorer). Reports the mean solver reward per block of steps; the figure is the ratio of the last
block to the first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from spatialevo.generate import GenerateConfig, generate, merge
from spatialevo.train.config import load_config
from spatialevo.train.launcher import evolve

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--tasks", default="object_counting,elevation_cam_cam")
    ap.add_argument("--per-task", type=int, default=4)
    ap.add_argument("--block", type=int, default=25)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        gen = GenerateConfig(out=out / "qa", scenes=str(ROOT / "scenes" / "rect_small.npz"), tasks=tuple(args.tasks.split(",")),
                             per_task=args.per_task, images=False)
        generate(gen, progress=False)
        data = merge(out / "qa")
        cfg = load_config(ROOT / "configs" / "cpu-smoke.yaml", output_dir=str(out / "run"), max_steps=args.steps,
                          scenes=str(ROOT / "scenes" / "rect_small.npz"), roles=["solver"], questions=str(data), resume=False)
        cfg.grpo.update({"save_steps": 10**9, "learning_rate": args.lr, "num_generations": 8, "per_device_train_batch_size": 8,
                         "max_completion_length": 8, "report_to": "none"})
        t0 = time.perf_counter()
        res = evolve(cfg)
        secs = time.perf_counter() - t0
    rewards = [row["rewards/solver_reward/mean"] for row in res["log_history"] if "rewards/solver_reward/mean" in row]
    blocks = [statistics.fmean(rewards[i : i + args.block]) for i in range(0, len(rewards), args.block)]
    out = {"steps": args.steps, "seconds": secs, "block": args.block, "block_means": blocks,
           "first": blocks[0] if blocks else None, "last": blocks[-1] if blocks else None}
    print(f"{args.steps} solver-only steps in {secs:.0f} s; mean solver reward per {args.block} steps:")
    print("  " + " ".join(f"{b:.3f}" for b in blocks))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
