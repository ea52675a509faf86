"""End-to-end ``spatialevo generate`` on the bundled scenes: QA/s of whole CLI runs, and their imports.

Each run is a fresh process, ``python -m spatialevo.cli.main generate --out <fresh folder>
--per-task N --quiet`` (images written, Parquet shards and card included), so interpreter start,
imports and numba's first use are counted as a user pays them. Runs of several source trees
(``--trees``: the repository and, e.g., a ``git archive`` of an older commit, each run with
``PYTHONPATH`` on it) alternate, so a shared machine's load falls on all of them alike. Reported per
tree: median wall and CPU seconds (user + system of the child), verified QA/s on both, the records'
SHA-256 (equal across trees when the records are), the median wall time of ``python -c "import
spatialevo"``, and, from one extra run under ``-X importtime``, the seconds spent importing
modules (top-level imports' cumulative times, in every process of the run: a worker's own imports
count) and their share of that run's wall time. ``PATH;ARGS`` runs a tree with extra arguments
(``.;--workers 1``: this tree in one process).

Reproduce: ``.venv/bin/python benchmarks/generate_bench.py`` (``--trees``, ``--repeats``,
``--per-task``, ``--json``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "0"}


def _timed(cmd: list[str], tree: Path) -> tuple[float, float, str]:
    """(wall s, child CPU s, stderr) of one command run in ``tree``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=tree, env=_env(tree), capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed in {tree}:\n{out.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stderr


def _generate(tree: Path, out: Path, per_task: int, importtime: bool = False, extra: tuple[str, ...] = ()) -> tuple[float, float, str]:
    flags = ["-X", "importtime"] if importtime else []
    cmd = [sys.executable, *flags, "-m", "spatialevo.cli.main", "generate", "--out", str(out), "--per-task", str(per_task), "--quiet", *extra]
    return _timed(cmd, tree)


def parse_tree(spec: str) -> tuple[Path, tuple[str, ...]]:
    """``PATH`` or ``PATH;ARGS`` (extra generate arguments, e.g. ``.;--workers 1``)."""
    path, _, extra = spec.partition(";")
    return Path(path).resolve(), tuple(extra.split())


def import_seconds(importtime_log: str) -> float:
    """Seconds of top-level imports (their cumulative times) in a ``-X importtime`` log."""
    total = 0
    for line in importtime_log.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m:
            total += int(m.group(1))
    return total / 1e6


def records(out: Path) -> tuple[int, str]:
    data = (out / "data.jsonl").read_bytes()
    return data.count(b"\n"), hashlib.sha256(data).hexdigest()


def bench(specs: list[str], repeats: int, per_task: int) -> list[dict]:
    trees = [parse_tree(s) for s in specs]
    walls: dict[int, list[float]] = {k: [] for k in range(len(trees))}
    cpus: dict[int, list[float]] = {k: [] for k in range(len(trees))}
    imports: dict[int, list[float]] = {k: [] for k in range(len(trees))}
    rec: dict[int, tuple[int, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, (t, extra) in enumerate(trees):  # warm-up: numba's on-disk cache of each tree, the OS file cache
            _generate(t, Path(tmp) / f"warm-{k}", per_task, extra=extra)
        for i in range(repeats):
            for k, (t, extra) in enumerate(trees):
                out = Path(tmp) / f"run-{k}-{i}"
                wall, cpu, _ = _generate(t, out, per_task, extra=extra)
                walls[k].append(wall)
                cpus[k].append(cpu)
                rec[k] = records(out)
                imports[k].append(_timed([sys.executable, "-c", "import spatialevo"], t)[0])
        rows = []
        for k, (t, extra) in enumerate(trees):
            wall, _, log = _generate(t, Path(tmp) / f"imports-{k}", per_task, importtime=True, extra=extra)
            n, sha = rec[k]
            w, c = statistics.median(walls[k]), statistics.median(cpus[k])
            rows.append({"tree": " ".join([str(t), *extra]), "records": n, "sha256": sha, "wall_s": w, "cpu_s": c, "qa_per_s_wall": n / w,
                         "qa_per_s_cpu": n / c, "walls": walls[k], "cpus": cpus[k], "import_spatialevo_s": statistics.median(imports[k]),
                         "imports_s": import_seconds(log), "imports_share": import_seconds(log) / wall})
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--trees", nargs="*", default=[str(ROOT)],
                    help="source trees to compare, each run with PYTHONPATH on it (the first is the reference of the ratios); "
                         "PATH;ARGS adds generate arguments, e.g. '.;--workers 1'")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per tree (alternating trees), after one warm-up run each")
    ap.add_argument("--per-task", type=int, default=10, help="--per-task of each generate run (on the bundled scenes)")
    ap.add_argument("--json", default=None, help="also write the rows (every run's wall and CPU seconds) to this file")
    args = ap.parse_args(argv)
    rows = bench(list(args.trees), args.repeats, args.per_task)
    ref = rows[0]
    for r in rows:
        print(f"{r['tree']}: {r['records']} records (sha256 {r['sha256'][:12]}), median of {args.repeats}: "
              f"{r['wall_s']:.2f} s wall ({r['qa_per_s_wall']:.0f} QA/s, x{r['qa_per_s_wall'] / ref['qa_per_s_wall']:.2f}), "
              f"{r['cpu_s']:.2f} s CPU ({r['qa_per_s_cpu']:.0f} QA/s, x{r['qa_per_s_cpu'] / ref['qa_per_s_cpu']:.2f}); "
              f"imports {r['imports_s']:.2f} s ({100 * r['imports_share']:.0f} % of a run); "
              f"import spatialevo {r['import_spatialevo_s']:.3f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
