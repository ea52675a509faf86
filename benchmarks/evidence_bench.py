"""What each record of a generated dataset shows: the share of records per task whose attached
frames show every object the question names (issue #13's acceptance measure).

Run: ``.venv/bin/python benchmarks/evidence_bench.py`` (``--per-task N``, ``--scenes S``,
``--json PATH``). It runs ``spatialevo generate`` (no image writes) and checks every record
independently of the generator: the instances the question's references resolve to (for counting
every instance of the label; for a relative_distance candidate category all its instances) must
each be visible (fraction ≥ 0.05, depth-tested surface samples) in at least one of the record's
frames. Questions that name no object (room size, camera tasks) count as covered;
visibility_compare records answered "neither" are, by their answer, about an object seen in
neither image and are reported apart. Also reports the share of counting answers that are 1 and
the records that repeat a question. The script uses only APIs that predate issue #13, so the same
file measures the code before the change (the "before" column of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from spatialevo.dge import DGE, TASK_NAMES, Question
from spatialevo.generate import GenerateConfig, generate, merge
from spatialevo.scene.visibility import visible_fractions

try:
    from spatialevo.selfplay.sources import make_source
except ImportError:  # the code before issue #13
    from spatialevo.sources import make_source  # type: ignore[no-redef]


def covered(scene, dge: DGE, rec: dict, min_visible: float = 0.05) -> bool | None:  # noqa: ANN001
    """Whether the record's frames show every instance its question names (``None``: a
    visibility_compare "neither" record)."""
    q = Question.from_dict(rec["question"])
    r = dge.task(q.task).resolve(dge.index, q)
    if not getattr(r, "objects", None):
        return True
    if q.task == "visibility_compare" and rec["answer_text"] == "neither":
        return None
    if not rec["frames"]:
        return False
    vis = np.max([visible_fractions(scene, f) for f in rec["frames"]], axis=0)
    return bool(all(vis[i] >= min_visible for inst in r.objects for i in inst))


def measure(scenes: str, per_task: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        generate(GenerateConfig(out=Path(tmp), scenes=scenes, per_task=per_task, images=False), progress=False)
        rows = [json.loads(x) for x in merge(Path(tmp)).read_text().splitlines()]
    source = make_source(scenes)
    by_name = {n: source.get(i) for i, n in enumerate(source.names)}
    dges = {n: DGE(s) for n, s in by_name.items()}
    stats: dict[str, dict[str, int]] = defaultdict(lambda: {"records": 0, "covered": 0, "neither": 0, "distinct": 0})
    distinct: dict[str, set] = defaultdict(set)
    for rec in rows:
        name = rec.get("scene", rec["scene_id"])
        c = covered(by_name[name], dges[name], rec)
        s = stats[rec["task"]]
        s["records"] += 1
        s["covered"] += bool(c)
        s["neither"] += c is None
        distinct[rec["task"]].add((name, json.dumps(rec["question"], sort_keys=True)))
    for t, s in stats.items():
        s["distinct"] = len(distinct[t])
    counts = [r["answer"] for r in rows if r["task"] == "object_counting"]
    return {"scenes": scenes, "per_task": per_task, "records": len(rows),
            "tasks": {t: dict(stats[t]) for t in TASK_NAMES if t in stats},
            "counting_answer_1_share": (sum(1 for c in counts if c == 1) / len(counts)) if counts else None}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenes", default="bundled,synthetic:8", help="comma-separated scene sources (default: %(default)s)")
    ap.add_argument("--per-task", type=int, default=100, help="questions per task and scene (default: %(default)s)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    out = {}
    for scenes in args.scenes.split(","):
        res = out[scenes] = measure(scenes, args.per_task)
        ones = res["counting_answer_1_share"]
        print(f"\n{scenes}: {res['records']} records, --per-task {args.per_task}; counting answers = 1: "
              + ("-" if ones is None else f"{100 * ones:.0f} %"))
        print(f"{'task':34s} {'records':>8s} {'shown':>8s} {'share':>7s} {'distinct':>9s}")
        for t, s in res["tasks"].items():
            n = s["records"] - s["neither"]
            print(f"{t:34s} {s['records']:8d} {s['covered']:8d} {100 * s['covered'] / max(n, 1):6.1f}% {s['distinct']:9d}"
                  + (f"  ({s['neither']} 'neither')" if s["neither"] else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
