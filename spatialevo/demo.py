"""``make demo`` / ``spatialevo demo``: the main job on the bundled scenes.

For every bundled scene: load it, render all its frames (RGB, depth, instance ids), compute the
visible fraction of every object in every frame, and draw a top-down picture. Outputs go to
``<out>/<scene>/`` and a summary table to ``<out>/summary.json``.

Then a short self-play loop in ``SpatialEvo-v0`` with scripted agents (an oracle questioner and a
noisy-oracle solver that improves with practice, tasks chosen by the adaptive curriculum) prints a
per-task accuracy table (``<out>/selfplay.json``), and ``spatialevo generate`` writes a small
verified dataset to ``<out>/qa/`` (records in ``data.jsonl``; typed Parquet shards and a dataset card,
so ``datasets.load_dataset("<out>/qa")`` reads it).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from spatialevo.bundled import bundled_scene_paths
from spatialevo.scene.loaders import load_scene
from spatialevo.scene.topdown import save_topdown


def run_demo(out: str | Path, every: int = 1, episodes: int = 400) -> int:
    from spatialevo.scene.export import render_scene_frames

    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in bundled_scene_paths():
        t0 = time.perf_counter()
        scene = load_scene(path)
        frames = scene.frames[::every]
        sdir = out / scene.scene_id
        vis = render_scene_frames(scene, sdir, frames, desc=scene.scene_id)
        top = save_topdown(scene, sdir / "topdown.png")
        seen = sorted({ref for per in vis.values() for ref, v in per.items() if v >= 0.1})
        rows.append(
            {
                "scene": scene.scene_id,
                "objects": len(scene.objects),
                "categories": len(scene.labels()),
                "frames_rendered": len(frames),
                "floor_m2": round(scene.floor_area or 0.0, 2),
                "objects_seen_>=10%": len(seen),
                "seconds": round(time.perf_counter() - t0, 2),
                "topdown": str(top),
            }
        )
    (out / "summary.json").write_text(json.dumps(rows, indent=2))
    print(f"\n{'scene':<16}{'objects':>8}{'labels':>8}{'frames':>8}{'floor m²':>10}{'seen':>6}{'s':>7}")
    for r in rows:
        print(
            f"{r['scene']:<16}{r['objects']:>8}{r['categories']:>8}{r['frames_rendered']:>8}"
            f"{r['floor_m2']:>10.2f}{r['objects_seen_>=10%']:>6}{r['seconds']:>7.2f}"
        )
    selfplay(out, episodes=episodes)
    from spatialevo.generate import GenerateConfig, generate, merge
    from spatialevo.hfdata import write_folder

    res = generate(GenerateConfig(out=out / "qa", per_task=2, chunk=32), progress=False)
    print(f"\ndataset: {res['records']} verified QA records in {merge(out / 'qa')} (images in {out / 'qa' / 'images'})")
    write_folder(out / "qa")
    print(f"  a Hugging Face dataset folder too: datasets.load_dataset({str(out / 'qa')!r}, split='train')")
    print(f"\noutputs in {out}/ (top-down pictures: {out}/<scene>/topdown.png)")
    return 0


def selfplay(out: Path, episodes: int = 400, seed: int = 0) -> dict:
    """Self-play with scripted agents; writes and prints per-task solver accuracy (first / second half)."""
    from spatialevo.dge import TASK_NAMES
    from spatialevo.env import SpatialEvoEnv
    from spatialevo.selfplay.agents import NoisyOracleSolver, OracleQuestioner

    env = SpatialEvoEnv(mode="selfplay", images=False)
    questioner = OracleQuestioner(seed)
    solver = NoisyOracleSolver(TASK_NAMES, skill=0.2, rate=0.05, seed=seed)
    stats = {t: [[0, 0.0], [0, 0.0]] for t in TASK_NAMES}
    q_reward = 0.0
    for ep in range(episodes):
        _, info = env.reset(seed=seed + ep)
        task = info["task"]
        _, rq, done, _, info = env.step(questioner.propose(env.dge_of(info["scene"]), task, info["frames"]))
        if done:  # the questioner found no valid question about the shown images
            continue
        _, _, _, _, info = env.step(solver.answer(info["verdict"]))
        half = stats[task][int(ep >= episodes // 2)]
        half[0] += 1
        half[1] += info["reward_parts"]["score"]
        q_reward += rq
    rows = {t: {"episodes": a[0] + b[0], "acc_first_half": a[1] / a[0] if a[0] else None, "acc_second_half": b[1] / b[0] if b[0] else None} for t, (a, b) in stats.items()}
    (out / "selfplay.json").write_text(json.dumps({"episodes": episodes, "mean_questioner_reward": q_reward / episodes, "tasks": rows}, indent=2))
    print(f"\nself-play, {episodes} episodes (oracle questioner, noisy-oracle solver, adaptive curriculum)")
    print(f"{'task':<34}{'episodes':>9}{'acc 1st half':>14}{'acc 2nd half':>14}")
    for t, r in rows.items():
        f = lambda x: "-" if x is None else f"{x:.2f}"  # noqa: E731
        print(f"{t:<34}{r['episodes']:>9}{f(r['acc_first_half']):>14}{f(r['acc_second_half']):>14}")
    return rows
