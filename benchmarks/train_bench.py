"""Throughput of the self-evolution launcher on the CPU smoke config.

Run: ``.venv/bin/python benchmarks/train_bench.py`` (``--steps``, ``--json PATH``). Trains the tiny
Qwen2.5-VL of ``configs/cpu-smoke.yaml`` for ``--steps`` steps (both roles) and reports rollouts
(completions) per second and the share of the step time spent in the DGE: the reward functions
(parsing, DGE verdicts, scoring) plus DGE question sampling for solver rows. Target: DGE < 5 %.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from spatialevo.train.config import load_config
from spatialevo.train.launcher import build

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(ROOT / "configs" / "cpu-smoke.yaml", output_dir=tmp, max_steps=args.steps, resume=False)
        cfg.grpo.update({"save_steps": 10**9, "report_to": "none"})
        trainer, stream, rewards, _ = build(cfg)
        t0 = time.perf_counter()
        trainer.train()
        secs = time.perf_counter() - t0
    completions = args.steps * int(cfg.grpo["per_device_train_batch_size"])
    dge = rewards.seconds + stream.dge_seconds
    out = {"steps": args.steps, "seconds": secs, "rollouts_per_s": completions / secs, "step_s": secs / args.steps,
           "dge_seconds": dge, "dge_share": dge / secs, "target_dge_share": 0.05}
    print(f"{args.steps} steps, {completions} rollouts in {secs:.1f} s: {out['rollouts_per_s']:.1f} rollouts/s, "
          f"{1000 * out['step_s']:.0f} ms/step; DGE {1000 * dge:.0f} ms = {100 * out['dge_share']:.2f} % of the time (target < 5 %)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
