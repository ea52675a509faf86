"""Curriculum benchmark: episodes until a noisy-oracle learner reaches a target mean skill,
adaptive scheduler vs uniform sampling.

Run: ``.venv/bin/python benchmarks/curriculum_bench.py`` (``--seeds``, ``--target``, ``--json``).
The learner (:class:`~spatialevo.selfplay.agents.NoisyOracleSolver`) starts with uneven per-task skill
(drawn per seed in [0.05, 0.9]: a pretrained model already good at some tasks) and improves on a task only by practising it. Each episode the
scheduler picks a task, the learner answers a DGE-sampled question of that task on a bundled scene,
the answer is scored against the ground truth (exact canonical match) and the scheduler is updated.
Reported: episodes until the learner's mean true skill over the 16 tasks reaches ``--target``,
per seed, and the ratio uniform / adaptive (> 1 means the curriculum is faster).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics

import numpy as np

from spatialevo import DGE, load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.dge import TASK_NAMES, make_rng
from spatialevo.selfplay.agents import NoisyOracleSolver
from spatialevo.selfplay.curriculum import make_scheduler

_ANSWER = re.compile(r"<answer>(.*)</answer>", re.S)


def run(kind: str, seed: int, pools: dict, target: float, max_episodes: int) -> int:
    rng = np.random.default_rng(seed)
    start = rng.uniform(0.05, 0.9, len(TASK_NAMES))
    learner = NoisyOracleSolver(TASK_NAMES, skill=start, rate=0.02, max_skill=0.95, seed=seed)
    sched = make_scheduler(kind, TASK_NAMES)
    counters = dict.fromkeys(TASK_NAMES, 0)
    for episode in range(1, max_episodes + 1):
        task = sched.sample(rng)
        pool = pools[task]
        verdict = pool[counters[task] % len(pool)]
        counters[task] += 1
        m = _ANSWER.fullmatch(learner.answer(verdict))
        sched.update(task, float(m is not None and m.group(1) == verdict.answer_text))
        if learner.mean_skill() >= target:
            return episode
    return max_episodes


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=16, help="number of seeds (learners)")
    ap.add_argument("--target", type=float, default=0.8, help="target mean skill over all tasks")
    ap.add_argument("--max-episodes", type=int, default=20_000)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    dge = DGE(load_scene(bundled_scene_paths()[0]))
    pools = {t: dge.evaluate_many([dge.sample(t, make_rng(i, k)) for k in range(50)]) for i, t in enumerate(TASK_NAMES)}
    rows = []
    for seed in range(args.seeds):
        ad = run("adaptive", seed, pools, args.target, args.max_episodes)
        un = run("uniform", seed, pools, args.target, args.max_episodes)
        rows.append({"seed": seed, "adaptive": ad, "uniform": un, "ratio": un / ad})
        print(f"seed {seed}: adaptive {ad:6d} episodes, uniform {un:6d}, ratio {un / ad:.2f}")
    ratios = [r["ratio"] for r in rows]
    out = {"target": args.target, "rows": rows, "median_ratio": statistics.median(ratios), "min_ratio": min(ratios)}
    print(f"median ratio uniform/adaptive {out['median_ratio']:.2f} (min {out['min_ratio']:.2f}) over {args.seeds} seeds")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return out


if __name__ == "__main__":
    main()
