"""``spatialevo generate`` on Ray against ``--backend local``, on this machine (needs the ``ray`` extra).

Three runs of the same arguments into fresh folders, in one process: local (one process), Ray with a
local instance started by the run (its start-up counted), and Ray on an instance already running
(start-up not counted: the figure a cluster user sees per run). Prints QA/s, the ratio to local,
and whether each run's ``data.jsonl`` equals the local one byte for byte.

    .venv-ray/bin/python benchmarks/ray_bench.py --per-task 10 --workers 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any


def _run(out: Path, args: argparse.Namespace, ray: Any) -> tuple[float, int, str]:
    from spatialevo.generate import GenerateConfig, digest, generate, merge

    cfg = GenerateConfig(out=out, scenes=args.scenes, per_task=args.per_task, chunk=args.chunk, images=not args.no_images)
    t0 = time.perf_counter()
    res = generate(cfg, progress=False, ray=ray)
    merge(out)
    return time.perf_counter() - t0, res["records"], digest(out / "data.jsonl")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--scenes", default="bundled", help="scenes to generate from")
    p.add_argument("--per-task", type=int, default=10, help="records per task and scene")
    p.add_argument("--chunk", type=int, default=16, help="records per part (the unit a Ray worker makes)")
    p.add_argument("--workers", type=int, default=2, help="Ray workers (one CPU each)")
    p.add_argument("--no-images", action="store_true", help="do not write images")
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args(argv)
    import ray

    from spatialevo.raygen import RayOptions

    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t_local, n, ref = _run(Path(tmp) / "local", args, None)
        rows["local"] = {"seconds": t_local, "records": n, "same": True}
        t, n, d = _run(Path(tmp) / "ray-cold", args, RayOptions(workers=args.workers, num_cpus=args.workers))
        rows["ray, local instance started by the run"] = {"seconds": t, "records": n, "same": d == ref}
        t0 = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        start = time.perf_counter() - t0
        try:
            t, n, d = _run(Path(tmp) / "ray-warm", args, RayOptions(workers=args.workers))
        finally:
            ray.shutdown()
        rows["ray, instance already running"] = {"seconds": t, "records": n, "same": d == ref}
    print(f"generate --per-task {args.per_task} on {args.scenes}, chunk {args.chunk}, {args.workers} Ray workers "
          f"(ray.init of a local instance alone: {start:.1f} s)\n")
    print("| backend | seconds | QA/s | vs local | data.jsonl equal to local |\n|---|---|---|---|---|")
    for name, r in rows.items():
        r["qa_per_s"] = r["records"] / r["seconds"]
        print(f"| {name} | {r['seconds']:.1f} | {r['qa_per_s']:.0f} | ×{t_local / r['seconds']:.2f} | {'yes' if r['same'] else 'NO'} |")
    result = {"args": vars(args), "ray_init_s": start, "runs": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
