"""Environment and dataset-generation throughput.

Run: ``.venv/bin/python benchmarks/env_bench.py`` (``--quick``, ``--json PATH``). Reports, as
medians over repeats in one process: the time of one env ``step`` (solver mode: reset samples a
question for its evidence, the step scores an answer) without images and with the default 16 image
slots of 120x160 (frames resized once and cached), a ``reset`` + ``step`` round, and verified QA
records per second of ``spatialevo generate`` on the bundled scenes without image writes (median of
fresh runs, each loading the scenes and computing the visibility of the frames it shows) and with
them (one run: every shown frame written once as a PNG at the policy's size). Targets: step (no
images) < 1 ms; generation without image writes >= 500 QA/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from spatialevo.env import SpatialEvoEnv
from spatialevo.generate import GenerateConfig, generate


def time_env(images: bool, rounds: int) -> tuple[float, float]:
    env = SpatialEvoEnv(mode="solver", images=images)
    for seed in range(20):  # warm caches (DGE precompute, rendered frames)
        env.reset(seed=seed)
        env.step("<answer>1</answer>")
    steps, rounds_t = [], []
    for seed in range(rounds):
        t0 = time.perf_counter()
        env.reset(seed=seed)
        t1 = time.perf_counter()
        env.step("<answer>front-left</answer>")
        t2 = time.perf_counter()
        steps.append(t2 - t1)
        rounds_t.append(t2 - t0)
    return statistics.median(steps), statistics.median(rounds_t)


def time_generate(per_task: int, repeats: int, images: bool = False) -> tuple[float, float, int]:
    """Median verified QA/s over ``repeats`` fresh runs (scene loading, DGE precompute and
    visibility included), the share of records reusing a question, and the records of a run."""
    rates, reused, written = [], 0.0, 0
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = GenerateConfig(out=Path(tmp), per_task=per_task, images=images, chunk=256)
            t0 = time.perf_counter()
            res = generate(cfg, progress=False)
            rates.append(res["written"] / (time.perf_counter() - t0))
            reused, written = res["repeated"] / max(res["written"], 1), res["written"]
    return statistics.median(rates), reused, written


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rounds, per_task = (200, 20) if args.quick else (2000, 40)
    step_no, round_no = time_env(False, rounds)
    step_img, round_img = time_env(True, rounds)
    qa, reused, written = time_generate(per_task, 3 if args.quick else 5)
    qa_img, _, _ = time_generate(per_task, 1, images=True)
    out = {
        "step_no_images_ms": 1000 * step_no,
        "round_no_images_ms": 1000 * round_no,
        "step_images_ms": 1000 * step_img,
        "round_images_ms": 1000 * round_img,
        "generate_qa_per_s": qa,
        "generate_reused_share": reused,
        "generate_records": written,
        "generate_with_images_qa_per_s": qa_img,
        "targets": {"step_no_images_ms": 1.0, "generate_qa_per_s": 500},
    }
    print(f"env step, no images:     {out['step_no_images_ms']:.3f} ms (target < 1 ms)  reset+step {out['round_no_images_ms']:.2f} ms")
    print(f"env step, 16x120x160 RGB: {out['step_images_ms']:.3f} ms                reset+step {out['round_images_ms']:.2f} ms")
    print(f"generate (no image writes): {qa:,.0f} verified QA/s (target >= 500); {written} records, "
          f"{100 * reused:.0f} % reuse a question")
    print(f"generate (writing the images): {qa_img:,.0f} verified QA/s")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
